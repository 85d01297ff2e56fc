// Runs the fast-check suites under dist/test/fuzz with more cases than `npm test` and a fresh
// seed: `node scripts/fuzz.mjs SCALE` multiplies every property's run count by SCALE. The seed
// is printed first (and by any failure), so a run is replayed with FUZZ_SEED=<seed>.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const dir = 'dist/test/fuzz';
const scale = process.argv[2] ?? '1';
const seed = process.env.FUZZ_SEED || String(Math.floor(Math.random() * 0x7fffffff));
const files = readdirSync(dir)
  .filter((name) => name.endsWith('.test.js'))
  .sort()
  .map((name) => join(dir, name));
console.log(`fuzzing ${files.length} suites with FUZZ_SEED=${seed} FUZZ_SCALE=${scale}`);
const started = Date.now();
const result = spawnSync(process.execPath, ['--test', ...files], {
  stdio: 'inherit',
  env: { ...process.env, FUZZ_SEED: seed, FUZZ_SCALE: scale },
});
console.log(
  `FUZZ_SEED=${seed} FUZZ_SCALE=${scale}: ${result.status === 0 ? 'no disagreement' : 'FAILED'} in ${Math.round((Date.now() - started) / 1000)} s`,
);
process.exit(result.status ?? 1);
