/**
 * Code MFA under both Kratos rules (src/kratos/code-mfa-rule.ts): the service reads the version
 * from the emulator's /admin/version and must agree with the emulator's own whoami at
 * required_aal: highest_available, for identities with and without a code address.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { httpStatusOf } from '../support/envoy-client';
import { withHarness } from '../support/harness';
import type { EmulatedKratosVersion, EmulatorCredentials } from '../support/kratos-emulator';
import { AAL1, XHR } from '../support/fixtures';

const IDENTITIES: ReadonlyArray<[string, EmulatorCredentials]> = [
  [
    'with a code address',
    {
      password: { identifiers: ['a@example.com'] },
      code: { addresses: [{ channel: 'email', address: 'a@example.com' }] },
    },
  ],
  ['without a code address', { password: { identifiers: ['u-1'] } }],
];

describe('the code-MFA rule follows the Kratos version', () => {
  for (const version of ['v1.3.1', 'v26.2.0'] as const satisfies readonly EmulatedKratosVersion[]) {
    for (const codeMfa of [true, false]) {
      test(`Kratos ${version}, code MFA ${codeMfa ? 'on' : 'off'}: the service allows an aal1 cookie exactly when Kratos's highest_available whoami does`, async () => {
        await withHarness(
          {
            emulator: { kratosVersion: version, codeMfaEnabled: codeMfa },
            config: { kratos: { code_mfa_enabled: codeMfa } },
          },
          async (h) => {
            const started = h.logs.find((line) => typeof line.code_mfa_rule === 'string');
            assert.equal(started?.kratos_version, version, 'the start-up log names the version read');
            assert.equal(started?.code_mfa_rule, version === 'v1.3.1' ? 'every_identity' : 'code_address');
            for (const [name, credentials] of IDENTITIES) {
              const session = h.newSession(h.emulator.addIdentity({ credentials }), { methods: AAL1 });
              h.emulator.setRequiredAal('highest_available');
              const kratosSays = await fetch(`${h.emulator.publicUrl}/sessions/whoami`, {
                headers: { 'x-session-token': session.token },
              });
              await kratosSays.body?.cancel();
              h.emulator.setRequiredAal('aal1');
              const serviceSays = httpStatusOf(
                await h.client.check({ headers: { ...XHR, cookie: h.emulator.cookieHeaderFor(session) } }),
              );
              assert.equal(
                serviceSays === 200,
                kratosSays.status === 200,
                `${name}: Kratos whoami ${kratosSays.status}, service ${serviceSays}`,
              );
            }
          },
        );
      });
    }
  }

  test('a Kratos that reports no release version ("master"): the stricter rule, a warning, and kratos.version when set', async () => {
    const credentials = IDENTITIES[1]?.[1];
    await withHarness(
      { emulator: { kratosVersion: 'master', codeMfaEnabled: true }, config: { kratos: { code_mfa_enabled: true } } },
      async (h) => {
        const warning = h.logs.find((line) => line.code_mfa_rule !== undefined);
        assert.equal(warning?.level, 40);
        assert.equal(warning?.kratos_version, 'unknown');
        assert.match(
          String(warning?.msg),
          /^Kratos version unknown \(the admin API reported "master", not a release version, and kratos.version is not set\): the stricter rule; code MFA rule every_identity/,
        );
        // Kratos (current code) would let this aal1 cookie through; the service asks for the step-up.
        const session = h.newSession(h.emulator.addIdentity({ credentials }), { methods: AAL1 });
        assert.equal(
          httpStatusOf(await h.client.check({ headers: { ...XHR, cookie: h.emulator.cookieHeaderFor(session) } })),
          403,
        );
      },
    );
    await withHarness(
      {
        emulator: { kratosVersion: 'master', codeMfaEnabled: true },
        config: { kratos: { code_mfa_enabled: true, version: 'v26.2.0' } },
      },
      async (h) => {
        const started = h.logs.find((line) => line.code_mfa_rule !== undefined);
        assert.deepEqual(
          [started?.level, started?.kratos_version, started?.code_mfa_rule],
          [30, 'v26.2.0', 'code_address'],
        );
        const session = h.newSession(h.emulator.addIdentity({ credentials }), { methods: AAL1 });
        assert.equal(
          httpStatusOf(await h.client.check({ headers: { ...XHR, cookie: h.emulator.cookieHeaderFor(session) } })),
          200,
        );
      },
    );
  });
});
