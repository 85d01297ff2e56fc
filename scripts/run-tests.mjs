// Runs compiled *.test.js files with `node --test`, listing them itself: Node 20's --test has no
// globbing, and from Node 22 on a directory argument is no longer searched (it is loaded as a
// module and fails), so neither `node --test dir/` nor a glob works on every supported Node.
//
//   node scripts/run-tests.mjs [--test flags]             every test under dist/test except the
//        end-to-end, real-proxy, differential, fault and container suites (their own commands:
//        `npm run test:e2e`, `npm run test:proxies`, `npm run test:differential`, `npm run test:chaos`,
//        `npm run test:containers`)
//   node scripts/run-tests.mjs [--test flags] <dir>...    every test under each <dir>
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = 'dist/test';
const skipDirs = new Set(['e2e', 'proxies', 'chaos', 'differential', 'containers']);
const args = process.argv.slice(2);
const dirs = args.filter((arg) => !arg.startsWith('-') && existsSync(arg) && statSync(arg).isDirectory());
const flags = args.filter((arg) => !dirs.includes(arg));

function collect(dir, skip) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    // Only the top-level folders are separate suites: test/unit/e2e is a unit test folder.
    if (entry.isDirectory()) return skip.has(entry.name) ? [] : collect(path, new Set());
    return entry.name.endsWith('.test.js') ? [path] : [];
  });
}

const files = (dirs.length > 0 ? dirs.flatMap((dir) => collect(dir, new Set())) : collect(root, skipDirs)).sort();
if (files.length === 0) {
  console.error(`no test files under ${dirs.length > 0 ? dirs.join(', ') : root}: did the build run?`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', ...flags, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
