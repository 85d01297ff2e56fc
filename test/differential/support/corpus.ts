/**
 * The variants that once found something (test/differential/corpus.json), replayed before the
 * seeded ones on every run, each with a note of what it found. A run with DIFFERENTIAL_RECORD=1
 * appends the new variants that found something, for a person to write their note.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../../stack/project-root';
import type { Variant } from './variants';

export interface CorpusEntry {
  /** What the variant found, through which proxy and framework, and the finding it is. */
  note: string;
  variant: Variant;
}

const PATH = join(projectRoot, 'test', 'differential', 'corpus.json');

export function readCorpus(): CorpusEntry[] {
  return JSON.parse(readFileSync(PATH, 'utf8')) as CorpusEntry[];
}

export const recording = process.env.DIFFERENTIAL_RECORD === '1';

/** Adds the entries whose variant the corpus does not hold yet. */
export function recordFindings(found: readonly CorpusEntry[]): number {
  const corpus = readCorpus();
  const known = new Set(corpus.map((entry) => JSON.stringify(entry.variant)));
  const added = found.filter((entry) => {
    const key = JSON.stringify(entry.variant);
    if (known.has(key)) return false;
    known.add(key);
    return true;
  });
  if (added.length > 0) writeFileSync(PATH, `${JSON.stringify([...corpus, ...added], null, 2)}\n`);
  return added.length;
}
