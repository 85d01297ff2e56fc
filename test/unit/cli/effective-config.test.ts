/** check-config's output loads again to the same config, max_age in the long form included. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { effectiveConfig } from '../../../src/cli/effective-config';
import { parseConfig } from '../../../src/config/load';

test('max_age is written back as a duration, and the short form stays short', () => {
  const config = parseConfig(
    {
      policy: {
        cookie: { aal: 'highest_available', max_age: '5m' },
        token: 'aal1',
        rules: [{ name: 'r', token: { aal: 'aal1', max_age: '90s' } }],
      },
    },
    {},
  );
  const shown = effectiveConfig(config);
  assert.deepEqual(shown.policy?.cookie, { aal: 'highest_available', max_age: '5m' });
  assert.equal(shown.policy?.token, 'aal1');
  assert.deepEqual((shown.policy?.rules as Array<Record<string, unknown>>)[0]?.token, { aal: 'aal1', max_age: '90s' });
  assert.deepEqual(parseConfig(shown, {}), config);
});
