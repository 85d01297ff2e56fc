/**
 * policy.strip_credentials through every front door: what each door tells its proxy the
 * upstream gets of Cookie, X-Session-Token and Authorization. gRPC and /ext-authz overwrite
 * (`cookie` with append false / as an allowed upstream header) and remove; /forward-auth and
 * /auth-request state every credential header the upstream is to get, as their proxies delete
 * a copied header the 200 lacks. The real proxies' side is test/proxies/support/story.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { httpStatusOf, type CheckSpec, type OfficialCheckResponse } from '../support/envoy-client';
import { startHarness, type Harness } from '../support/harness';
import { HTTP_DOORS, type HttpDoor } from '../support/http-client';
import { AAL1 } from '../support/fixtures';

type Door = 'grpc' | HttpDoor;
const DOORS: readonly Door[] = ['grpc', ...HTTP_DOORS];
const CREDENTIAL_HEADERS = ['cookie', 'x-session-token', 'authorization'] as const;

let h: Harness;
before(async () => {
  h = await startHarness({
    config: {
      policy: {
        rules: [
          { name: 'public', paths: ['/public/*'], anonymous: true },
          { name: 'account-ui', paths: ['/account/*'], strip_credentials: false },
          { name: 'internal', paths: ['/internal/*'], deny: true },
        ],
      },
    },
  });
});
after(() => h.close());

function session(): { token: string; cookieHeader: string } {
  const created = h.newSession(h.emulator.addIdentity(), { methods: AAL1 });
  return { token: created.token, cookieHeader: h.emulator.cookieHeaderFor(created) };
}

/**
 * What the door tells its proxy about the credential headers on an allow: `set` (overwrite
 * with this value), `remove`, or nothing (leave as sent) for gRPC and /ext-authz; for the
 * stating doors, the value each header is to have, absent when the upstream gets none.
 */
type Told =
  { style: 'edit'; set: Record<string, string>; remove: string[] } | { style: 'state'; stated: Record<string, string> };

function credentialPart(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => (CREDENTIAL_HEADERS as readonly string[]).includes(name)),
  );
}

function toldByGrpcOf(response: OfficialCheckResponse): Told {
  assert.equal(httpStatusOf(response), 200);
  const options = response.ok_response?.headers ?? [];
  for (const option of options)
    assert.equal(option.append?.value, false, `${option.header.key} overwrites what the client sent`);
  const set = credentialPart(Object.fromEntries(options.map((option) => [option.header.key, option.header.value])));
  return {
    style: 'edit',
    set,
    remove: (response.ok_response?.headers_to_remove ?? []).filter((name) =>
      (CREDENTIAL_HEADERS as readonly string[]).includes(name),
    ),
  };
}

async function told(door: Door, spec: CheckSpec): Promise<Told> {
  if (door === 'grpc') return toldByGrpcOf(await h.client.check(spec));
  assert.ok(h.http);
  const answer = await h.http.check(door, spec);
  assert.equal(answer.status, 200);
  if (door !== 'envoy_http') return { style: 'state', stated: credentialPart(answer.headers) };
  const removal = (answer.headers['x-envoy-auth-headers-to-remove'] ?? '').split(',');
  return {
    style: 'edit',
    set: credentialPart(answer.headers),
    remove: removal.filter((name) => (CREDENTIAL_HEADERS as readonly string[]).includes(name)),
  };
}

/**
 * What the upstream ends up with per door, from the client's credential headers (one value
 * each here) and what the door said: the README's semantics of each proxy, applied.
 */
function upstreamGets(sent: Record<string, string>, answer: Told): Record<string, string> {
  if (answer.style === 'state') return answer.stated;
  const result = { ...credentialPart(sent), ...answer.set };
  for (const name of answer.remove) delete result[name];
  return result;
}

interface Case {
  name: string;
  path?: string;
  headers: (s: ReturnType<typeof session>) => Record<string, string>;
  upstream: (s: ReturnType<typeof session>) => Record<string, string>;
}

const cases: Case[] = [
  {
    name: 'the session cookie is taken out, the other cookies stay byte for byte and in order',
    headers: (s) => ({ cookie: `theme=dark; ${s.cookieHeader};  csrf_token_abc="q=1"; lang=en` }),
    upstream: () => ({ cookie: 'theme=dark;  csrf_token_abc="q=1"; lang=en' }),
  },
  {
    name: 'the session cookie alone: no Cookie at all',
    headers: (s) => ({ cookie: s.cookieHeader }),
    upstream: () => ({}),
  },
  {
    name: "X-Session-Token is taken out; an Authorization Kratos did not read is the app's own and stays",
    headers: (s) => ({ 'x-session-token': s.token, authorization: 'Bearer app-own-token' }),
    upstream: () => ({ authorization: 'Bearer app-own-token' }),
  },
  {
    name: 'Authorization: Bearer <the Kratos token> is taken out',
    headers: (s) => ({ authorization: `Bearer ${s.token}`, cookie: 'theme=dark' }),
    upstream: () => ({ cookie: 'theme=dark' }),
  },
  {
    name: 'a cookie named like the session cookie but longer stays',
    headers: (s) => ({ cookie: `${s.cookieHeader}; my_ory_kratos_session=1; ory_kratos_session_hint=2` }),
    upstream: () => ({ cookie: 'my_ory_kratos_session=1; ory_kratos_session_hint=2' }),
  },
  {
    name: 'anonymous rule: a valid credential is stripped as well',
    path: '/public/page',
    headers: (s) => ({ cookie: `${s.cookieHeader}; theme=dark`, 'x-session-token': s.token }),
    upstream: () => ({ cookie: 'theme=dark' }),
  },
  {
    name: 'anonymous rule: an invalid credential is stripped as well',
    path: '/public/page',
    headers: () => ({
      'x-session-token': h.remember('ory_st_notasessionnotasession0000'),
      authorization: `Bearer ${h.remember('ory_st_notasessionnotasession0001')}`,
    }),
    upstream: () => ({ authorization: `Bearer ory_st_notasessionnotasession0001` }),
  },
  {
    name: 'a rule with strip_credentials: false passes every credential as sent',
    path: '/account/settings',
    headers: (s) => ({ cookie: `theme=dark; ${s.cookieHeader}`, authorization: 'Bearer app-own-token' }),
    upstream: (s) => ({ cookie: `theme=dark; ${s.cookieHeader}`, authorization: 'Bearer app-own-token' }),
  },
];

describe('what the upstream gets of the credential headers, through every front door', () => {
  for (const row of cases) {
    describe(row.name, () => {
      for (const door of DOORS) {
        test(door, async () => {
          const s = session();
          const sent = row.headers(s);
          const spec: CheckSpec = { path: row.path ?? '/orders', headers: { accept: 'application/json', ...sent } };
          assert.deepEqual(upstreamGets(sent, await told(door, spec)), row.upstream(s));
        });
      }
    });
  }
});

describe('repeated Cookie lines (HTTP/1) and crumbs (HTTP/2)', () => {
  test('header_map: one line per cookie line; the rest joined with "; "', async () => {
    const s = session();
    const response = await h.client.check({
      encoding: 'raw',
      headers: [
        ['cookie', 'a=1'],
        ['cookie', `${s.cookieHeader}; b=2`],
        ['cookie', 'c=x,y'],
      ],
    });
    assert.deepEqual(toldByGrpcOf(response), { style: 'edit', set: { cookie: 'a=1; b=2; c=x,y' }, remove: [] });
  });

  test('the joined headers map: "," is where Envoy joined two lines', async () => {
    const s = session();
    const response = await h.client.check({
      encoding: 'map',
      headers: [
        ['cookie', 'a=1'],
        ['cookie', `${s.cookieHeader}; b=2`],
      ],
    });
    assert.deepEqual(toldByGrpcOf(response), { style: 'edit', set: { cookie: 'a=1; b=2' }, remove: [] });
  });

  test('an HTTP door reads each Cookie line as sent', async () => {
    assert.ok(h.http);
    const s = session();
    const answer = await h.http.check('forward_auth', {
      headers: [
        ['cookie', 'a=1'],
        ['cookie', `${s.cookieHeader}; b=2`],
      ],
    });
    assert.equal(answer.headers.cookie, 'a=1; b=2');
  });
});

describe('nothing to strip, nothing said', () => {
  test('no credential headers: gRPC and /ext-authz name none, the stating doors state none', async () => {
    for (const door of DOORS) assert.deepEqual(upstreamGets({}, await told(door, { path: '/public/x' })), {}, door);
  });

  test('cookies without the session cookie are left as sent by gRPC (no rewrite of the lines)', async () => {
    const s = session();
    const answer = toldByGrpcOf(
      await h.client.check({
        encoding: 'raw',
        headers: [
          ['x-session-token', s.token],
          ['cookie', 'a=1'],
          ['cookie', 'b=2'],
        ],
      }),
    );
    assert.deepEqual(answer, { style: 'edit', set: {}, remove: ['x-session-token'] });
  });

  test('a denial carries no credential header for any door', async () => {
    const s = session();
    const response = await h.client.check({ path: '/internal/x', headers: { cookie: `${s.cookieHeader}; a=1` } });
    assert.equal(httpStatusOf(response), 403);
    assert.deepEqual(
      credentialPart(
        Object.fromEntries(
          (response.denied_response?.headers ?? []).map((option) => [option.header.key, option.header.value]),
        ),
      ),
      {},
    );
    assert.ok(h.http);
    for (const door of HTTP_DOORS) {
      const answer = await h.http.check(door, { path: '/internal/x', headers: { cookie: `${s.cookieHeader}; a=1` } });
      assert.equal(answer.status, 403);
      assert.deepEqual(credentialPart(answer.headers), {}, door);
    }
  });
});

describe('a CORS preflight let through by policy.cors_preflight', () => {
  test('follows the rule it falls under: stripped by default, kept where the rule passes credentials', async () => {
    const own = await startHarness({
      config: {
        policy: {
          cors_preflight: true,
          rules: [{ name: 'account-ui', paths: ['/account/*'], strip_credentials: false }],
        },
      },
    });
    try {
      const preflight = (path: string) => ({
        method: 'OPTIONS',
        path,
        headers: {
          origin: 'https://app.example.com',
          'access-control-request-method': 'POST',
          cookie: 'ory_kratos_session=forged; a=1',
        },
      });
      const stripped = toldByGrpcOf(await own.client.check(preflight('/orders')));
      assert.deepEqual(stripped, { style: 'edit', set: { cookie: 'a=1' }, remove: [] });
      assert.deepEqual(toldByGrpcOf(await own.client.check(preflight('/account/x'))), {
        style: 'edit',
        set: {},
        remove: [],
      });
    } finally {
      await own.close();
    }
  });
});
