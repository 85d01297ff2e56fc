/**
 * upstream_jwt key rotation through SIGHUP on the running executable: add the new key second
 * (both published, the old one signs), make it first (it signs), and a bad key file on reload
 * is rejected whole while the running keys stay. Key files are re-read on every reload.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EnvoyClient, upstreamHeaders } from '../support/envoy-client';
import { BIN, serveBin, type Serving } from '../support/executable';
import { fetchJwks, verifyJwt, writeSigningKey } from '../support/jwt';
import { KratosEmulator } from '../support/kratos-emulator';

const dir = mkdtempSync(join(tmpdir(), 'kratos-ext-authz-rotation-'));
let kratos: KratosEmulator;
before(async () => {
  kratos = await KratosEmulator.start();
});
after(() => kratos.stop());

function configText(keys: string[]): string {
  return [
    'server: {grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0", http_authz_address: "", shutdown_timeout: 5s}',
    `kratos: {public_url: "${kratos.publicUrl}", admin_url: "${kratos.adminUrl}", timeout: 2s}`,
    'identity_headers: {x-user-email: traits.email}',
    `upstream_jwt: {issuer: "https://authz.test", audience: app, ttl: 1m, keys: [${keys.map((key) => JSON.stringify(key)).join(', ')}]}`,
  ].join('\n');
}

async function reload(
  serving: Serving,
  path: string,
  keys: string[],
  expect: 'configuration reloaded' | 'rejected',
): Promise<void> {
  const from = serving.logs.length;
  writeFileSync(path, configText(keys));
  serving.child.kill('SIGHUP');
  await serving.waitForLog(
    (line) =>
      serving.logs.indexOf(line) >= from &&
      (expect === 'rejected' ? String(line.msg).startsWith('configuration reload rejected') : line.msg === expect),
  );
}

test('SIGHUP rotation: add second, publish, make first; a bad key file keeps the running keys', async () => {
  const oldKey = writeSigningKey('RS256');
  const newKey = join(dir, 'new.pem');
  copyFileSync(writeSigningKey('ES256'), newKey);
  const path = join(dir, 'config.yaml');
  writeFileSync(path, configText([oldKey]));
  const serving = await serveBin(process.execPath, [BIN, '--config', path]);
  const client = new EnvoyClient(serving.grpcPort);
  try {
    const identity = kratos.addIdentity({ traits: { email: 'rotation@example.com' } });
    const check = { headers: { 'x-session-token': kratos.createSession(identity).token } };
    const tokenNow = async () => upstreamHeaders(await client.check(check))['x-kratos-jwt'] ?? '';
    const start = await fetchJwks(serving.httpPort);
    assert.equal(start.keys.length, 1);
    const oldKid = start.keys[0]?.kid;
    assert.equal(verifyJwt(await tokenNow(), start.keys).header.kid, oldKid);

    await reload(serving, path, [oldKey, newKey], 'configuration reloaded');
    const published = await fetchJwks(serving.httpPort);
    assert.deepEqual(
      published.keys.map((key) => key.alg),
      ['RS256', 'ES256'],
      'both published, in order',
    );
    assert.equal(verifyJwt(await tokenNow(), published.keys).header.kid, oldKid, 'the old key still signs');

    await reload(serving, path, [newKey, oldKey], 'configuration reloaded');
    const swapped = await fetchJwks(serving.httpPort);
    const signed = verifyJwt(await tokenNow(), swapped.keys);
    assert.equal(signed.header.kid, published.keys[1]?.kid, 'the new key signs once it is first');
    assert.equal(signed.header.alg, 'ES256');

    // The file the config names now holds no key: the reload is refused, the running keys stay.
    writeFileSync(newKey, 'garbage');
    await reload(serving, path, [newKey, oldKey], 'rejected');
    const rejection = serving.logs.find((line) => String(line.problem ?? '').startsWith('upstream_jwt.keys[0]:'));
    assert.equal(
      rejection?.problem,
      `upstream_jwt.keys[0]: ${newKey} is not an unencrypted PEM private key (PKCS#8, SEC1 or PKCS#1)`,
    );
    assert.deepEqual((await fetchJwks(serving.httpPort)).keys, swapped.keys);
    assert.equal(verifyJwt(await tokenNow(), swapped.keys).header.alg, 'ES256');

    // Dropping the old key after the verifiers' caches moved on: only the new one is published.
    copyFileSync(writeSigningKey('EdDSA'), newKey);
    await reload(serving, path, [newKey], 'configuration reloaded');
    const last = await fetchJwks(serving.httpPort);
    assert.equal(last.keys.length, 1);
    assert.equal(last.keys[0]?.alg, 'EdDSA', 'a key file replaced in place is read again on SIGHUP');
    assert.equal(verifyJwt(await tokenNow(), last.keys).header.alg, 'EdDSA');
    assert.equal(
      serving.logs.some((line) => JSON.stringify(line).includes('PRIVATE KEY')),
      false,
      'no key material in the log',
    );
  } finally {
    client.close();
    serving.child.kill('SIGTERM');
    assert.equal(await serving.exited, 0);
  }
});
