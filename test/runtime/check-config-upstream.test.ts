/**
 * check-config on identity_headers and upstream_jwt: every problem a line naming its key; a good
 * config printed loadable.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load';
import { runBin as run } from '../support/executable';
import { writeKeyFile, writeSigningKey } from '../support/jwt';

const dir = mkdtempSync(join(tmpdir(), 'kratos-ext-authz-check-upstream-'));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

test('check-config names each bad header name and claim name, then each bad key file, and prints no key material', async () => {
  const good = writeSigningKey('EdDSA');
  const notAKey = writeKeyFile('cert.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const problemsOf = async (name: string, lines: string[]) => {
    const result = await run(['check-config', '--config', file(name, lines.join('\n'))]);
    assert.equal(result.code, 2);
    assert.doesNotMatch(result.stderr, /BEGIN|MIIB/);
    return result.stderr
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.trim())
      .sort();
  };
  const keys = `keys: ["${good}", "${notAKey}", "${good}"]`;
  // The key files are read once the rest is valid: they are read by the signer's builder, not the schema.
  assert.deepEqual(
    await problemsOf('bad.yaml', [
      'identity_headers: {X-User: traits.email, x-kratos-email: traits.email, x-ok: email}',
      `upstream_jwt: {header: cookie, issuer: i, audience: a, ${keys}, claims: {sub: traits.email}}`,
    ]),
    [
      'identity_headers.X-User: "X-User" must be a lower-case HTTP header name (letters, digits and "-"; no "_")',
      'identity_headers.x-kratos-email: "x-kratos-email" is in the x-kratos-* namespace this service keeps for its own headers',
      "identity_headers.x-ok: must be a dot path into the identity's traits, e.g. traits.email or traits.name.first",
      'upstream_jwt.claims.sub: "sub" is a claim upstream_jwt always sets (iss sub aud exp nbf iat jti sid aal amr)',
      'upstream_jwt.header: "cookie" is a header that defines the request itself or where it came from',
    ],
  );
  assert.deepEqual(await problemsOf('bad-keys.yaml', [`upstream_jwt: {issuer: i, audience: a, ${keys}}`]), [
    `upstream_jwt.keys[1]: ${notAKey} is not an unencrypted PEM private key (PKCS#8, SEC1 or PKCS#1)`,
    'upstream_jwt.keys[2]: is the same key as upstream_jwt.keys[0]',
  ]);
});

test('check-config prints a valid upstream_jwt with its key files and ttl as written, loadable again', async () => {
  const key = writeSigningKey('RS256');
  const config = file(
    'good.yaml',
    `identity_headers: {x-user-email: traits.email}\nupstream_jwt: {header: authorization, issuer: i, audience: [a, b], ttl: 90s, keys: ["${key}"], claims: {email: traits.email}}\n`,
  );
  const result = await run(['check-config', '--config', config]);
  assert.equal(result.code, 0, result.stderr);
  const printed = parse(result.stdout) as { upstream_jwt: Record<string, unknown> };
  assert.deepEqual(printed.upstream_jwt, {
    header: 'authorization',
    issuer: 'i',
    audience: ['a', 'b'],
    ttl: '90s',
    keys: [key],
    claims: { email: 'traits.email' },
  });
  assert.doesNotMatch(result.stdout, /PRIVATE KEY/);
  assert.equal(
    JSON.stringify(parseConfig(printed, {})),
    JSON.stringify(
      parseConfig(
        parse(
          `identity_headers: {x-user-email: traits.email}\nupstream_jwt: {header: authorization, issuer: i, audience: [a, b], ttl: 90s, keys: ["${key}"], claims: {email: traits.email}}\n`,
        ),
        {},
      ),
    ),
  );
});
