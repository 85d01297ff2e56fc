// Runs every compiled *.test.js under dist/test except the Docker end-to-end suite, the
// real-proxy suites, the differential suite and the fault tests (their own commands: `npm run test:e2e`,
// `npm run test:proxies`, `npm run test:differential`, `npm run test:chaos`). Node 20's --test has no globbing.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = 'dist/test';
const skipDirs = new Set(['e2e', 'proxies', 'chaos', 'differential']);

function collect(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return skipDirs.has(entry.name) ? [] : collect(path);
    return entry.name.endsWith('.test.js') ? [path] : [];
  });
}

const files = collect(root).sort();
if (files.length === 0) {
  console.error(`no test files under ${root}: did the build run?`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', ...process.argv.slice(2), ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
