/** The HTTP listener's last line of defence, with the decision's dependencies stubbed to fail. */
import { NO_TRACING } from '../../../src/observability/tracing';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { parseConfig } from '../../../src/config/load';
import type { SessionSource } from '../../../src/kratos/sources';
import { createHttpAuthzServer, type HttpAuthzSettings } from '../../../src/http/server';
import { createLogger } from '../../../src/observability/logger';
import { compilePolicy } from '../../../src/policy/policy';
import { kratosCredentialExtractor } from '../../../src/request/credentials';
import { upstreamCredentialsReader } from '../../../src/upstream/upstream-credentials';
import { listenHttp } from '../../../src/server/ops-server';
import { AuthzHttpClient } from '../../support/http-client';

async function serverWith(
  sessions: SessionSource,
  run: (client: AuthzHttpClient, logs: string[]) => Promise<void>,
): Promise<void> {
  const config = parseConfig({}, {});
  const logs: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (logs.push(chunk.toString('utf8')), done()) });
  const settings: HttpAuthzSettings = {
    authorize: {
      decision: {
        policy: compilePolicy(config.policy),
        extractCredential: kratosCredentialExtractor(config.kratos.session_cookie),
        sessions,
        identities: { availableAal: async () => ({ kind: 'known', aal: 'aal1' }) },
        whoamiEnforcesHighestAvailable: false,
        onKratosStricterThanPolicy: () => undefined,
      },
      loginUrl: { browserUrl: 'https://auth.example.com', allowedHosts: [] },
      upstream: undefined,
      upstreamCredentials: upstreamCredentialsReader(config.kratos.session_cookie),
      observe: () => undefined,
      tracing: NO_TRACING,
    },
    isTrustedProxy: () => true,
  };
  const server = createHttpAuthzServer({
    underCurrentConfig: (use) => use(settings),
    requestTimeout: 2_000,
    logger: createLogger({ level: 'error', pretty: false }, sink),
    onClientError: () => undefined,
  });
  const client = new AuthzHttpClient(await listenHttp(server, '127.0.0.1:0'));
  try {
    await run(client, logs);
  } finally {
    client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

const TOKEN = { headers: { 'x-session-token': 'ory_st_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' } };

test('an allow Node cannot write (an identity id that is no header value) becomes a denial (500; 403 for Envoy), not a hung call or a crash', async () => {
  const sessions: SessionSource = {
    whoami: async () => ({
      kind: 'active',
      session: {
        id: 's-1',
        identityId: 'snowman-\u2603',
        aal: 'aal2',
        expiresAt: Date.now() + 60_000,
        methods: [],
        traits: new Map(),
      },
    }),
  };
  await serverWith(sessions, async (client, logs) => {
    for (const [door, status] of [
      ['forward_auth', 500],
      ['auth_request', 500],
      ['envoy_http', 403],
    ] as const) {
      const answer = await client.check(door, TOKEN);
      assert.equal(answer.status, status, door);
      assert.equal((JSON.parse(answer.body) as { error: { id: string } }).error.id, 'internal_error');
    }
    assert.ok(logs.some((line) => line.includes('http authorization failed unexpectedly')));
  });
});

test('a throwing session source is a 500 denial (never an allow), on every door', async () => {
  const sessions: SessionSource = {
    whoami: async () => {
      throw new Error('bug');
    },
  };
  await serverWith(sessions, async (client) => {
    // 500 where the proxy passes it; Envoy's http_service would take a 5xx for its own failure.
    assert.deepEqual(
      await Promise.all(
        (['forward_auth', 'auth_request', 'envoy_http'] as const).map(
          async (door) => (await client.check(door, TOKEN)).status,
        ),
      ),
      [500, 500, 403],
    );
  });
});
