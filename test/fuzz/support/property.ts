/**
 * How the fuzz suites run fast-check: a fixed seed by default, so `npm test` and CI are
 * reproducible, FUZZ_SEED to replay a failure or `FUZZ_SEED=random` to explore, and FUZZ_SCALE
 * to multiply every property's run count for the longer runs (scripts/fuzz.mjs). A failure
 * names the seed and the command that replays it; a pass says how many cases it tried.
 */
import type { TestContext } from 'node:test';
import * as fc from 'fast-check';

const FIXED_SEED = 20_261_201;

function seedFromEnvironment(): number {
  const given = process.env['FUZZ_SEED'];
  if (given === undefined || given === '') return FIXED_SEED;
  if (given === 'random') return Math.floor(Math.random() * 0x7fffffff);
  const seed = Number(given);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer or "random", not ${given}`);
  return seed;
}

function scaleFromEnvironment(): number {
  const scale = Number(process.env['FUZZ_SCALE'] ?? '1');
  if (!(scale > 0)) throw new Error(`FUZZ_SCALE must be a positive number, not ${process.env['FUZZ_SCALE']}`);
  return scale;
}

/** One seed for the whole process: every property of a run is replayed by the same FUZZ_SEED. */
export const FUZZ_SEED = seedFromEnvironment();
const FUZZ_SCALE = scaleFromEnvironment();

/**
 * Checks `property` over `runs` cases (times FUZZ_SCALE). On failure the test fails with
 * fast-check's counterexample, shrunk unless `shrink: false` (where every try of a failing case
 * is slow), and the replay command; on success it reports
 * "N cases, 0 disagreements" as a test diagnostic.
 */
export async function holds<Ts>(
  t: TestContext,
  property: fc.IRawProperty<Ts>,
  runs: number,
  options: { shrink?: boolean } = {},
): Promise<void> {
  const numRuns = Math.max(1, Math.round(runs * FUZZ_SCALE));
  const details = await fc.check(property, { seed: FUZZ_SEED, numRuns, endOnFailure: options.shrink === false });
  if (details.failed) {
    throw new Error(
      `${shortened(fc.defaultReportMessage(details) ?? 'property failed')}\nreplay: FUZZ_SEED=${FUZZ_SEED} node --test ${process.argv[1] ?? ''}`,
    );
  }
  t.diagnostic(`${details.numRuns} cases, 0 disagreements (seed ${FUZZ_SEED})`);
}

/** A counterexample holding 8 KiB values prints as tens of kilobytes; the seed replays it whole. */
function shortened(report: string, limit = 6000): string {
  return report.length <= limit
    ? report
    : `${report.slice(0, limit / 2)}\n… ${report.length - limit} characters left out …\n${report.slice(-limit / 2)}`;
}
