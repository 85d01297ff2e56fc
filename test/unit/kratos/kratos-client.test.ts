/** How KratosClient reads answers the emulator never gives (it always sends a valid identity state). */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../../src/config/load';
import { KratosClient } from '../../../src/kratos/client';

const CONTEXT = { requestId: undefined, deadline: Infinity };
const ID = '6f2d3b7a-8a4c-4f0e-9d55-0c1b2a3d4e5f';

let server: http.Server;
let answer: Record<string, unknown> = {};
let setCookie: string[] = [];
let client: KratosClient;

before(async () => {
  server = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    if (setCookie.length > 0) res.setHeader('set-cookie', setCookie);
    res.end(JSON.stringify(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = new KratosClient(parseConfig({ kratos: { public_url: url, admin_url: url } }, {}).kratos);
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('KratosClient.availableAal: the identity state', () => {
  test('state: inactive → identity_inactive, whatever its credentials', async () => {
    answer = { id: ID, state: 'inactive', credentials: { totp: { type: 'totp' } } };
    assert.deepEqual(await client.availableAal(ID, CONTEXT), { kind: 'identity_inactive' });
  });

  test('state: active → the available AAL', async () => {
    answer = { id: ID, state: 'active', credentials: { totp: { type: 'totp' } } };
    assert.deepEqual(await client.availableAal(ID, CONTEXT), { kind: 'known', aal: 'aal2' });
  });

  test('a missing or unknown state is not trusted (fail closed: unavailable)', async () => {
    for (const state of [undefined, 'suspended']) {
      answer = { id: ID, state, credentials: {} };
      assert.equal((await client.availableAal(ID, CONTEXT)).kind, 'unavailable', `state ${String(state)}`);
    }
  });
});

describe('KratosClient.whoami: the renewed session cookie', () => {
  const session = {
    id: 's',
    active: true,
    expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    authenticator_assurance_level: 'aal1',
    identity: { id: ID },
  };
  const cookie = { kind: 'cookie', source: 'cookie', value: 'ory_kratos_session=old', wellFormed: true } as const;
  const renewed = 'ory_kratos_session=new; Path=/; Expires=Wed, 02 Dec 2026 11:40:58 GMT; HttpOnly';

  test('a cookie check gets the session cookie lines whoami set, and only those', async () => {
    answer = session;
    setCookie = ['other=1; Path=/', renewed];
    const outcome = await client.whoami(cookie, CONTEXT);
    assert.equal(outcome.kind, 'active');
    assert.deepEqual(outcome.kind === 'active' && outcome.refreshedCookie, [renewed]);
  });

  test('a token check never carries one on, whatever whoami sent; nor does a cookie check without one', async () => {
    answer = session;
    setCookie = [renewed];
    const byToken = await client.whoami(
      { kind: 'token', source: 'x-session-token', value: 't', wellFormed: true },
      CONTEXT,
    );
    assert.equal(byToken.kind === 'active' && 'refreshedCookie' in byToken, false);
    setCookie = ['other=1'];
    const byCookie = await client.whoami(cookie, CONTEXT);
    assert.equal(byCookie.kind === 'active' && 'refreshedCookie' in byCookie, false);
  });

  test('a Set-Cookie on an answer that is no live session is dropped with it', async () => {
    answer = { ...session, active: false };
    setCookie = [renewed];
    assert.deepEqual(await client.whoami(cookie, CONTEXT), { kind: 'unauthenticated' });
    setCookie = [];
  });
});
