#!/usr/bin/env node
// The import rule of src/ (README, "Layout"): every import runs down the layers below, or stays
// in its folder, and no files import each other in a loop. Reads the import lines of every
// src/**/*.ts (type-only ones too: a type import is still a dependency of the design) and exits
// 1 with one line per back-arrow and per loop. Run by `npm run lint` and so by CI.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * Lowest first. A folder may import its own files and any folder of a lower layer; folders of
 * one layer do not import each other. `.` is a file directly in src/.
 */
const LAYERS = [
  ['request'], // reading an HTTP request: headers, cookies, credentials, path, method, view
  ['config'], // the configuration document and its validation: knows nothing above it
  ['kratos', 'policy'], // talking to Kratos; the rules
  ['cache', 'upstream', 'decision'], // remembering Kratos's answers; what goes upstream; deciding
  ['answer', 'observability'], // shaping the decision into an answer; logs and metrics of a check
  ['authorize'], // read, decide, answer, observe: one check, transport-agnostic
  ['grpc'], // a gRPC server of unary methods over node:http2: framing, deadlines, limits, health
  ['envoy', 'http'], // the doors: Envoy's gRPC messages, the HTTP front doors
  ['server', 'cli'], // listeners, lifecycle and reload; the operator commands
  ['.'], // main.ts and serve.ts
];

const root = resolve(process.argv[2] ?? 'src');
const rank = new Map(LAYERS.flatMap((folders, index) => folders.map((folder) => [folder, index])));

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** A file's folder under src/; a file directly in src/ is its own (authorize.ts) or `.` (main, serve). */
function folderOf(file) {
  const parts = relative(root, file).split('/');
  if (parts.length > 1) return parts[0];
  const name = parts[0].replace(/\.ts$/, '');
  return rank.has(name) ? name : '.';
}

// `import … from './x'`, `export … from './x'`, `import './x'`, `import('./x')`, over several lines.
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)'(\.{1,2}\/[^']+)'/g;

const files = sourceFiles(root);
const known = new Set(files);
const edges = new Map(
  files.map((file) => {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(IMPORT)]
      .map((match) => resolve(dirname(file), `${match[1]}.ts`))
      .filter((target) => known.has(target));
    return [file, [...new Set(targets)]];
  }),
);

const problems = [];
for (const [file, targets] of edges) {
  const from = folderOf(file);
  if (!rank.has(from))
    problems.push(`${relative(root, file)}: folder "${from}" has no layer in scripts/check-layers.mjs`);
  for (const target of targets) {
    const to = folderOf(target);
    if (from === to || !rank.has(from) || !rank.has(to)) continue;
    if (rank.get(to) >= rank.get(from))
      problems.push(
        `${relative(root, file)} -> ${relative(root, target)}: ${from} (layer ${rank.get(from)}) imports ${to} (layer ${rank.get(to)})`,
      );
  }
}

// Loops between files: depth-first search, reporting each loop once by its smallest member.
const state = new Map();
const reported = new Set();
function visit(file, path) {
  state.set(file, 'open');
  path.push(file);
  for (const target of edges.get(file)) {
    if (state.get(target) === 'open') {
      const loop = path.slice(path.indexOf(target)).map((member) => relative(root, member));
      const key = [...loop].sort().join(' ');
      if (!reported.has(key)) {
        reported.add(key);
        problems.push(`loop: ${[...loop, loop[0]].join(' -> ')}`);
      }
    } else if (!state.has(target)) {
      visit(target, path);
    }
  }
  path.pop();
  state.set(file, 'done');
}
for (const file of files) if (!state.has(file)) visit(file, []);

if (problems.length > 0) {
  process.stderr.write(
    `${problems.join('\n')}\ncheck-layers: ${problems.length} problem(s) in ${relative(process.cwd(), root) || '.'}\n`,
  );
  process.exit(1);
}
process.stdout.write(`check-layers: ${files.length} files, every import runs down ${LAYERS.length} layers, no loops\n`);
