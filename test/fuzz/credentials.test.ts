/**
 * The credential the service forwards is the one Kratos would choose from the same request:
 * X-Session-Token, else every session cookie Kratos would try (in order), else a Bearer token;
 * checked against an oracle written from Go's net/http and Kratos's extractToken.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fc from 'fast-check';
import { readCheckRequest } from '../../src/envoy/check-request';
import { kratosCredentialExtractor } from '../../src/request/credentials';
import { kratosChoice, readCookies, type HeaderLine, type KratosChoice } from './support/kratos-oracle';
import { holds } from './support/property';
import { checkRequestOf, headerLines, SESSION_COOKIE, type Encoding } from './support/request-arbitrary';

const extract = kratosCredentialExtractor(SESSION_COOKIE);

/**
 * What the service chose. A well-formed cookie credential is read back the way Kratos reads the
 * forwarded header; an ill-formed one is never forwarded (the request is refused as
 * unauthenticated), so its values are taken as the service listed them.
 */
function serviceChoice(lines: readonly HeaderLine[], encoding: Encoding): KratosChoice {
  const read = readCheckRequest(checkRequestOf(lines, encoding));
  assert.ok(read.ok, read.ok ? '' : read.detail);
  const credential = extract(read.view.headers);
  if (!credential) return undefined;
  if (credential.source !== 'cookie') return { source: credential.source, token: credential.value };
  const values = credential.wellFormed
    ? readCookies([credential.value], SESSION_COOKIE)
    : credential.value.split('; ').map((pair) => pair.slice(SESSION_COOKIE.length + 1));
  return { source: 'cookie', values };
}

for (const encoding of ['raw', 'joined'] as const) {
  test(`${encoding} headers: the forwarded credential is the one Kratos would choose`, async (t) => {
    await holds(
      t,
      fc.property(headerLines(encoding), (lines) => {
        assert.deepEqual(serviceChoice(lines, encoding), kratosChoice(lines, SESSION_COOKIE));
      }),
      4000,
    );
  });
}
