import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../../src/config/load';

test('server.workers: 1 by default; a whole number from 1 to 64 as given; "auto" is one per usable CPU', () => {
  assert.equal(parseConfig({}, {}).server.workers, 1);
  assert.equal(parseConfig({ server: { workers: 64 } }, {}).server.workers, 64);
  assert.equal(parseConfig({ server: { workers: 'auto' } }, {}).server.workers, Math.min(availableParallelism(), 64));
});

test('server.workers refuses 0, 65, fractions, other strings and numbers as strings, with one message', () => {
  for (const workers of [0, -1, 65, 1.5, 'two', '2', true, null]) {
    assert.throws(
      () => parseConfig({ server: { workers } }, {}),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.length === 1 &&
        error.problems[0] ===
          'server.workers: must be a whole number from 1 to 64, or "auto" (one per CPU this process may use)',
      String(workers),
    );
  }
});
