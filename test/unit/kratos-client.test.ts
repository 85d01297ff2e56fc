/** How KratosClient reads answers the emulator never gives (it always sends a valid identity state). */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load';
import { KratosClient } from '../../src/kratos/client';

const CONTEXT = { requestId: undefined, deadline: Infinity };
const ID = '6f2d3b7a-8a4c-4f0e-9d55-0c1b2a3d4e5f';

let server: http.Server;
let answer: Record<string, unknown> = {};
let client: KratosClient;

before(async () => {
  server = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
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
