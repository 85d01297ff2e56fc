/** identity_headers and upstream_jwt: what the config accepts, and every refusal naming its key. */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { ConfigError, parseConfig } from '../../../src/config/load';
import { traitPathsOf } from '../../../src/config/schema';
import { loadSigningKeys } from '../../../src/upstream/signing-key';
import { writeKeyFile, writeSigningKey } from '../../support/jwt';

function problemsOf(document: unknown): string[] {
  return problemsOfRunning(() => parseConfig(document, {}));
}

function keyProblemsOf(files: string[]): string[] {
  return problemsOfRunning(() => loadSigningKeys(files));
}

function problemsOfRunning(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

const KEY = writeSigningKey('ES256');
const jwt = (extra: Record<string, unknown> = {}) => ({
  upstream_jwt: { issuer: 'https://authz.example.com', audience: 'app', keys: [KEY], ...extra },
});

describe('identity_headers', () => {
  test('header name → trait path; off (empty) by default', () => {
    assert.deepEqual(parseConfig({}, {}).identity_headers, {});
    assert.equal(parseConfig({}, {}).upstream_jwt, undefined, 'upstream_jwt is off by default');
    const config = parseConfig(
      { identity_headers: { 'x-user-email': 'traits.email', 'x-user-name': 'traits.name.first' } },
      {},
    );
    assert.deepEqual(config.identity_headers, { 'x-user-email': 'traits.email', 'x-user-name': 'traits.name.first' });
  });

  const refused: ReadonlyArray<[name: string, problem: RegExp]> = [
    ['X-User-Email', /lower-case HTTP header name/],
    ['x_user_email', /no "_"/],
    ['x user', /lower-case HTTP header name/],
    ['x-a-b-c-d-e', /more than 4 "-"/],
    [':authority', /pseudo-header/],
    ['x-kratos-identity-id', /x-kratos-\* identity headers/],
    ['x-kratos-email', /x-kratos-\* namespace/],
    ['x-kratos-jwt', /x-kratos-\* namespace/],
    ['cookie', /defines the request itself/],
    ['host', /defines the request itself/],
    ['authorization', /upstream_jwt\.header only/],
    ['content-length', /defines the request itself/],
    ['content-type', /defines the request itself/],
    ['x-session-token', /defines the request itself/],
    ['set-cookie', /answer to the client/],
    ['location', /answer to the client/],
    ['x-forwarded-for', /where it came from/],
    ['x-real-ip', /where it came from/],
    ['x-original-url', /where it came from/],
    ['x-request-id', /defines the request itself/],
    ['sec-fetch-mode', /defines the request itself/],
    ['forwarded', /defines the request itself/],
    ['connection', /hop-by-hop/],
    ['transfer-encoding', /hop-by-hop/],
    ['te', /hop-by-hop/],
    ['x-envoy-original-path', /x-envoy-\*/],
  ];
  for (const [name, problem] of refused) {
    test(`refuses the header name "${name}"`, () => {
      const problems = problemsOf({ identity_headers: { [name]: 'traits.email' } });
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.ok(problems[0]?.startsWith(`identity_headers.${name}: "${name}" `), problems[0]);
      assert.match(problems[0] ?? '', problem);
    });
  }

  test('refuses the JWT header as a trait header', () => {
    assert.deepEqual(
      problemsOf({ identity_headers: { 'x-user-jwt': 'traits.email' }, ...jwt({ header: 'x-user-jwt' }) }),
      ['identity_headers.x-user-jwt: "x-user-jwt" is upstream_jwt.header'],
    );
  });

  for (const path of [
    'email',
    'identity.traits.email',
    'traits',
    'traits.',
    'traits..email',
    'traits.name[0]',
    'metadata_public.x',
  ]) {
    test(`refuses the trait path "${path}"`, () => {
      const problems = problemsOf({ identity_headers: { 'x-user': path } });
      assert.deepEqual(problems, [
        "identity_headers.x-user: must be a dot path into the identity's traits, e.g. traits.email or traits.name.first",
      ]);
    });
  }
});

describe('upstream_jwt', () => {
  test('defaults: header x-kratos-jwt, ttl 5m, no trait claims; keys kept as file names (check-config output loads again)', () => {
    const config = parseConfig(jwt(), {});
    assert.equal(config.upstream_jwt?.header, 'x-kratos-jwt');
    assert.equal(config.upstream_jwt?.ttl, 300_000);
    assert.deepEqual(config.upstream_jwt?.claims, {});
    assert.deepEqual(config.upstream_jwt?.keys, [KEY]);
  });

  test('keys are loaded with their algorithm and kid (RFC 7638 thumbprint)', () => {
    const [key] = loadSigningKeys([KEY]);
    assert.equal(key?.alg, 'ES256');
    assert.match(key?.kid ?? '', /^[A-Za-z0-9_-]{43}$/);
  });

  test('authorization is allowed as its header', () => {
    assert.equal(parseConfig(jwt({ header: 'authorization' }), {}).upstream_jwt?.header, 'authorization');
  });

  test('traitPathsOf: every path identity_headers and the claims read, once', () => {
    const config = parseConfig(
      {
        identity_headers: { 'x-user-email': 'traits.email' },
        ...jwt({ claims: { email: 'traits.email', team: 'traits.team' } }),
      },
      {},
    );
    assert.deepEqual(traitPathsOf(config), ['traits.email', 'traits.team']);
  });

  test('issuer, audience and keys are required', () => {
    assert.deepEqual(problemsOf({ upstream_jwt: {} }).sort(), [
      'upstream_jwt.audience: must be a non-empty string or list of strings (the aud claim)',
      'upstream_jwt.issuer: Invalid input: expected string, received undefined',
      'upstream_jwt.keys: Invalid input: expected array, received undefined',
    ]);
    assert.deepEqual(problemsOf(jwt({ keys: [] })), [
      'upstream_jwt.keys: must list at least one PEM private key file (the first signs)',
    ]);
    assert.deepEqual(problemsOf(jwt({ audience: [] })), [
      'upstream_jwt.audience: must be a non-empty string or list of strings (the aud claim)',
    ]);
    assert.deepEqual(problemsOf(jwt({ ttl: '500ms' })), ['upstream_jwt.ttl: must be at least 1s']);
  });

  const badKeys: ReadonlyArray<[what: string, file: () => string, problem: RegExp]> = [
    ['a missing file', () => '/nonexistent/key.pem', /^cannot read \/nonexistent\/key\.pem \(ENOENT\)$/],
    ['a file that is no PEM', () => writeKeyFile('garbage.pem', 'not a key'), /is not an unencrypted PEM private key/],
    [
      'a public key',
      () =>
        writeKeyFile(
          'public.pem',
          generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }),
        ),
      /is not an unencrypted PEM private key/,
    ],
    [
      'an encrypted private key',
      () =>
        writeKeyFile(
          'encrypted.pem',
          generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
            format: 'pem',
            type: 'pkcs8',
            cipher: 'aes-256-cbc',
            passphrase: 'pw',
          }),
        ),
      /is not an unencrypted PEM private key/,
    ],
    [
      'a P-384 key',
      () =>
        writeKeyFile(
          'p384.pem',
          generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'pem', type: 'pkcs8' }),
        ),
      /EC key on secp384r1: only P-256 \(ES256\)/,
    ],
    [
      'a 1024-bit RSA key',
      () =>
        writeKeyFile(
          'rsa1024.pem',
          generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }),
        ),
      /1024-bit RSA key: at least 2048 bits/,
    ],
    [
      'an Ed448 key',
      () => writeKeyFile('ed448.pem', generateKeyPairSync('ed448').privateKey.export({ format: 'pem', type: 'pkcs8' })),
      /ed448 key: only EC P-256 \(ES256\), Ed25519 \(EdDSA\) and RSA \(RS256\)/,
    ],
    [
      'a DH-less X25519 key',
      () =>
        writeKeyFile('x25519.pem', generateKeyPairSync('x25519').privateKey.export({ format: 'pem', type: 'pkcs8' })),
      /x25519 key: only/,
    ],
  ];
  for (const [what, file, problem] of badKeys) {
    test(`refuses ${what} as a key, naming upstream_jwt.keys[i]`, () => {
      const problems = keyProblemsOf([KEY, file()]);
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.ok(problems[0]?.startsWith('upstream_jwt.keys[1]: '), problems[0]);
      assert.match(problems[0]?.slice('upstream_jwt.keys[1]: '.length) ?? '', problem);
    });
  }

  test('refuses the same key listed twice', () => {
    assert.deepEqual(keyProblemsOf([KEY, KEY, KEY]), [
      'upstream_jwt.keys[1]: is the same key as upstream_jwt.keys[0]',
      'upstream_jwt.keys[2]: is the same key as upstream_jwt.keys[0]',
    ]);
  });

  for (const header of ['cookie', 'host', 'x-kratos-aal', 'Authorization', 'upgrade', ':path']) {
    test(`refuses the JWT header "${header}"`, () => {
      const problems = problemsOf(jwt({ header }));
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.ok(problems[0]?.startsWith(`upstream_jwt.header: "${header}" `), problems[0]);
    });
  }

  for (const claim of ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'sid', 'aal', 'amr']) {
    test(`refuses a trait claim named like the registered claim "${claim}"`, () => {
      assert.deepEqual(problemsOf(jwt({ claims: { [claim]: 'traits.email' } })), [
        `upstream_jwt.claims.${claim}: "${claim}" is a claim upstream_jwt always sets (iss sub aud exp nbf iat jti sid aal amr)`,
      ]);
    });
  }

  test('refuses odd claim names and trait paths that leave traits', () => {
    assert.equal(problemsOf(jwt({ claims: { 'has space': 'traits.email' } })).length, 1);
    assert.equal(problemsOf(jwt({ claims: { __proto__x: 'traits.email', ok: 'traits.a' } })).length, 0);
    assert.deepEqual(problemsOf(jwt({ claims: { email: 'identity.id' } })), [
      "upstream_jwt.claims.email: must be a dot path into the identity's traits, e.g. traits.email or traits.name.first",
    ]);
  });
});
