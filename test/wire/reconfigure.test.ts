/** RunningService.reconfigure: checks in flight finish under their configuration, later ones use the new one. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../src/config/load';
import { httpStatusOf, metadataOf, upstreamHeaders } from '../support/envoy-client';
import { startHarness, type Harness } from '../support/harness';
import { KratosEmulator } from '../support/kratos-emulator';

let harness: Harness;
let other: KratosEmulator;
before(async () => {
  harness = await startHarness({
    config: { kratos: { timeout: '2s' }, policy: { rules: [{ name: 'before', paths: ['/*'], token: 'aal1' }] } },
  });
  other = await KratosEmulator.start();
});
after(async () => {
  await harness.close();
  await other.stop();
});

test('a check waiting on the old Kratos when the config changes is answered by the old config; the next by the new', async () => {
  const identity = harness.emulator.addIdentity();
  const session = harness.newSession(identity);
  harness.emulator.setLatency('whoami', 300);
  const whoamis = harness.emulator.count('whoami');
  const inFlight = harness.client.check({ headers: { 'x-session-token': session.token } });
  while (harness.emulator.count('whoami') === whoamis) await new Promise((resolve) => setTimeout(resolve, 5));

  const next = parseConfig(
    {
      ...harness.config,
      server: {},
      cache: {},
      http_authz: {},
      kratos: { public_url: other.publicUrl, admin_url: other.adminUrl },
      policy: { rules: [{ name: 'after', paths: ['/*'], token: 'aal1' }] },
    },
    {},
  );
  harness.service.reconfigure({ ...next, server: harness.config.server });

  const late = await harness.client.check({ headers: { 'x-session-token': session.token } });
  assert.equal(metadataOf(late).policy, 'after');
  assert.equal(httpStatusOf(late), 401, 'the new Kratos does not know the session');
  assert.equal(other.count('whoami'), 1);

  const early = await inFlight;
  assert.equal(httpStatusOf(early), 200);
  assert.equal(metadataOf(early).policy, 'before');
  assert.equal(upstreamHeaders(early)['x-kratos-identity-id'], identity);
  harness.emulator.setLatency('whoami', 0);
});
