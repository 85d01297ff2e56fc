/**
 * Every reader runs in time linear in its input: a header or path made of one short unit
 * repeated to 128 KiB (a run of spaces, of "%2e", of ";") is read in well under a second. A
 * quadratic step (a regular expression that retries every start of a run) takes minutes here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fc from 'fast-check';
import { decodeCheckRequest, MAX_REQUEST_HEAD_BYTES, RequestHeadTooLarge } from '../../src/envoy/codec';
import { readCheckRequest } from '../../src/envoy/check-request';
import { preferredMediaType } from '../../src/request/navigation';
import { pathReadings } from '../../src/request/path';
import { hostOfAuthority } from '../../src/request/authority';
import { kratosCredentialExtractor } from '../../src/request/credentials';
import { checkFrameWithHeader } from '../chaos/grpc-abuse';
import { holds } from './support/property';
import { checkRequestOf, SESSION_COOKIE } from './support/request-arbitrary';

const SIZE = 128 * 1024;
const BUDGET_MS = 1000;

// White space is weighted up: a run of it inside a value is where trims and splits go wrong.
const unitPart = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(' ', '\t') },
  { weight: 2, arbitrary: fc.constantFrom('.', '/', '\\', '%', '2e', ';', ',', '=', '"', 'a', '1', ':', 'q=1', '*/*') },
);
const unit = fc.array(unitPart, { minLength: 1, maxLength: 2 }).map((parts) => parts.join(''));
/** `unit` repeated to SIZE between a prefix and a suffix that keep the run from being trimmed away. */
const longText = fc
  .tuple(
    fc.constantFrom('', 'a', `${SESSION_COOKIE}=`, '/'),
    unit,
    fc.constantFrom('', 'b', '!', `; ${SESSION_COOKIE}=x`),
  )
  .map(([prefix, repeated, suffix]) => prefix + repeated.repeat(Math.ceil(SIZE / repeated.length)) + suffix);

const extract = kratosCredentialExtractor(SESSION_COOKIE);

function timed(name: string, read: () => unknown): void {
  const started = performance.now();
  read();
  const ms = performance.now() - started;
  assert.ok(ms < BUDGET_MS, `${name} took ${Math.round(ms)} ms on ${SIZE / 1024} KiB`);
}

test(`every reader reads ${SIZE / 1024} KiB of one repeated unit in linear time`, async (t) => {
  await holds(
    t,
    fc.property(longText, (text) => {
      timed('pathReadings', () => pathReadings(text));
      timed('hostOfAuthority', () => hostOfAuthority(text));
      timed('preferredMediaType', () => preferredMediaType(text));
      for (const encoding of ['raw', 'joined'] as const) {
        const request = checkRequestOf(
          [
            ['cookie', text],
            ['x-session-token', text],
            ['authorization', `Bearer ${text}`],
            ['accept', text],
          ],
          encoding,
          { path: text },
        );
        timed(`readCheckRequest (${encoding})`, () => {
          const read = readCheckRequest(request);
          if (read.ok) extract(read.view.headers);
        });
        timed(`extract (${encoding}, cookie only)`, () => {
          const read = readCheckRequest(checkRequestOf([['cookie', text]], encoding));
          if (read.ok) extract(read.view.headers);
        });
      }
      timed('decodeCheckRequest', () => {
        try {
          decodeCheckRequest(Buffer.from(text, 'latin1'));
        } catch {
          // Refusing is fine; only the time counts.
        }
      });
    }),
    60,
    { shrink: false },
  );
});

// Issue 18: Kratos reads at most 1 MiB of request headers; a larger head is refused before any
// of it is decoded, so no reader ever sees an 8 MiB header.
test('a CheckRequest whose headers are over 1 MiB is refused before they are decoded', () => {
  const message = (valueBytes: number) =>
    checkFrameWithHeader('cookie', 'ory_kratos_session=x'.padEnd(valueBytes, ';')).subarray(5);
  const started = performance.now();
  assert.throws(() => decodeCheckRequest(message(8 * 1024 * 1024)), RequestHeadTooLarge);
  assert.throws(() => decodeCheckRequest(message(MAX_REQUEST_HEAD_BYTES)), RequestHeadTooLarge);
  assert.ok(performance.now() - started < BUDGET_MS, `${Math.round(performance.now() - started)} ms`);
  const cookie = decodeCheckRequest(message(MAX_REQUEST_HEAD_BYTES - 64)).attributes?.request?.http?.headers?.cookie;
  assert.equal(cookie?.length, MAX_REQUEST_HEAD_BYTES - 64);
});
