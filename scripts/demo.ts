/**
 * `make demo`: the real service beside the Kratos emulator, deciding a dozen Envoy-shaped
 * requests sent with Envoy's official protos, printed as a table.
 */
import { parseConfig } from '../src/config/load';
import { createLogger } from '../src/observability/logger';
import { startService } from '../src/server/service';
import {
  deniedHeader,
  EnvoyClient,
  httpStatusOf,
  metadataOf,
  upstreamHeaders,
  type CheckSpec,
  type OfficialCheckResponse,
} from '../test/support/envoy-client';
import { KratosEmulator } from '../test/support/kratos-emulator';

const NAVIGATE = {
  'sec-fetch-mode': 'navigate',
  'sec-fetch-dest': 'document',
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
};
const XHR = { 'sec-fetch-mode': 'cors', accept: 'application/json' };
const TOTP = {
  password: { identifiers: ['bob@example.com'] },
  totp: { totp_url: 'otpauth://totp/demo:bob?secret=JBSWY3DPEHPK3PXP&issuer=demo' },
};
const AAL1 = [{ method: 'password', aal: 'aal1' as const }];
const AAL2 = [...AAL1, { method: 'totp', aal: 'aal2' as const }];

interface Scenario {
  what: string;
  spec: CheckSpec;
  before?: () => void;
}

function outcome(response: OfficialCheckResponse): string {
  const status = httpStatusOf(response);
  if (status === 200) {
    const headers = upstreamHeaders(response);
    return headers['x-kratos-identity-id']
      ? `identity ${headers['x-kratos-identity-id'].slice(0, 8)}… at ${headers['x-kratos-aal']}`
      : 'anonymous (x-kratos-* removed)';
  }
  const location = deniedHeader(response, 'location');
  if (location)
    return `→ ${new URL(location).pathname}${new URL(location).search.replace(/return_to=[^&]+/, 'return_to=…')}`;
  try {
    const body = JSON.parse(response.denied_response?.body ?? '') as { error?: { id?: string } };
    return `JSON error.id=${body.error?.id}`;
  } catch {
    return '';
  }
}

async function main(): Promise<void> {
  const kratos = await KratosEmulator.start();
  const config = parseConfig(
    {
      server: { grpc_address: '127.0.0.1:0', http_address: '127.0.0.1:0', http_authz_address: '127.0.0.1:0' },
      kratos: { public_url: kratos.publicUrl, admin_url: kratos.adminUrl, browser_url: 'https://id.example.com' },
      policy: {
        rules: [
          { name: 'public', paths: ['/', '/assets/*'], anonymous: true },
          { name: 'internal', paths: ['/internal/*'], deny: true },
        ],
      },
      return_to: { allowed_hosts: ['app.example.com'] },
      log: { level: 'silent' },
    },
    process.env,
  );
  const service = await startService(config, createLogger(config.log));
  const client = new EnvoyClient(service.grpcPort);

  const aliceId = kratos.addIdentity({ traits: { email: 'alice@example.com' } });
  const alice = kratos.createSession(aliceId, { methods: AAL1 });
  const aliceLaptop = kratos.createSession(aliceId, { methods: AAL1 });
  const bob = kratos.addIdentity({ traits: { email: 'bob@example.com' }, credentials: TOTP });
  const bobAal1 = kratos.createSession(bob, { methods: AAL1 });
  const bobAal2 = kratos.createSession(bob, { methods: AAL2 });
  const bobApp = kratos.createSession(bob, { methods: AAL1 });
  const expired = kratos.createSession(kratos.addIdentity(), { methods: AAL1 });
  kratos.expireSession(expired.id);
  const cookie = (session: typeof alice) => `theme=dark; ${kratos.cookieHeaderFor(session)}; _ga=GA1.2.3`;

  const scenarios: Scenario[] = [
    { what: 'browser, no session', spec: { path: '/orders', headers: NAVIGATE } },
    {
      what: 'browser, cookie aal1, no 2FA enrolled',
      spec: { path: '/orders', headers: { ...NAVIGATE, cookie: cookie(alice) } },
    },
    {
      what: 'browser, cookie aal1, TOTP enrolled',
      spec: { path: '/orders', headers: { ...NAVIGATE, cookie: cookie(bobAal1) } },
    },
    {
      what: 'browser, cookie aal2, TOTP enrolled',
      spec: { path: '/orders', encoding: 'raw', headers: { ...NAVIGATE, cookie: cookie(bobAal2) } },
    },
    {
      what: 'XHR, cookie aal1, TOTP enrolled',
      spec: { path: '/api/orders', headers: { ...XHR, cookie: cookie(bobAal1) } },
    },
    {
      what: 'mobile app, token aal1, TOTP enrolled',
      spec: { path: '/api/orders', headers: { authorization: `Bearer ${bobApp.token}` } },
    },
    {
      what: 'API, forged x-kratos-identity-id',
      spec: { path: '/api/orders', headers: { 'x-session-token': bobApp.token, 'x-kratos-identity-id': 'admin' } },
    },
    {
      what: 'API, unknown token',
      spec: { path: '/api/orders', headers: { 'x-session-token': 'ory_st_forgedforgedforgedforged00' } },
    },
    { what: 'XHR, expired cookie', spec: { path: '/api/orders', headers: { ...XHR, cookie: cookie(expired) } } },
    {
      what: 'form POST, expired cookie',
      spec: { method: 'POST', path: '/checkout', headers: { ...NAVIGATE, cookie: cookie(expired) } },
    },
    {
      what: 'CORS preflight',
      spec: {
        method: 'OPTIONS',
        path: '/api/orders',
        headers: { origin: 'https://spa.example.com', 'access-control-request-method': 'POST' },
      },
    },
    { what: 'public page, no session', spec: { path: '/assets/app.js', headers: { accept: '*/*' } } },
    {
      what: 'rule deny /internal/*',
      spec: { path: '/internal/../internal/metrics', headers: { 'x-session-token': bobApp.token } },
    },
    {
      what: 'Kratos down, session cached',
      spec: { path: '/orders', headers: { ...NAVIGATE, cookie: cookie(alice) } },
      before: () => kratos.fail('whoami', { mode: 'reset', count: 1 }),
    },
    {
      what: 'Kratos down, new session',
      spec: { path: '/orders', headers: { ...NAVIGATE, cookie: cookie(aliceLaptop) } },
    },
  ];

  const rows: string[][] = [['#', 'request', 'HTTP', 'gRPC', 'decision / reason', 'details']];
  for (const [index, scenario] of scenarios.entries()) {
    scenario.before?.();
    const response = await client.check({ host: 'app.example.com', ...scenario.spec });
    const metadata = metadataOf(response);
    rows.push([
      String(index + 1),
      `${scenario.spec.method ?? 'GET'} ${scenario.what}`,
      String(httpStatusOf(response)),
      String(response.status?.code ?? 0),
      `${metadata.decision} / ${metadata.reason}`,
      outcome(response),
    ]);
  }
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  const line = (row: string[]) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ');
  process.stdout.write(
    `kratos-ext-authz demo: gRPC on 127.0.0.1:${service.grpcPort}, Kratos emulator at ${kratos.publicUrl}\n`,
  );
  process.stdout.write(
    `policy: cookie=${config.policy.cookie}, token=${config.policy.token}; Kratos whoami runs required_aal: aal1\n\n`,
  );
  process.stdout.write(`${line(rows[0] ?? [])}\n${widths.map((width) => '-'.repeat(width)).join('  ')}\n`);
  for (const row of rows.slice(1)) process.stdout.write(`${line(row)}\n`);
  process.stdout.write(
    `\nKratos saw ${kratos.count('whoami')} whoami and ${kratos.count('identity')} admin identity calls (the session cache answered the rest).\n`,
  );

  client.close();
  await service.shutdown();
  await kratos.stop();
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
