/**
 * Trait values on random input, against oracles that share no code with the reader: a value
 * passed into a header is one Node's own header validation accepts and that no proxy trims or
 * splits (visible ASCII, inner spaces, ≤ 1 KiB); a value passed into a claim has no control
 * character and survives JSON unchanged; any other present value is left out, never altered.
 */
import assert from 'node:assert/strict';
import { validateHeaderValue } from 'node:http';
import { test } from 'node:test';
import * as fc from 'fast-check';
import { headerReading, readTraits } from '../../src/kratos/traits';
import { holds } from './support/property';

const interesting = fc.constantFrom(
  'a',
  'Z',
  '0',
  ' ',
  '\t',
  '\r',
  '\n',
  '\u0000',
  '\u007f',
  '\u0085',
  'é',
  'Ł',
  '😀',
  '@',
  '"',
  ',',
  ';',
  '\\',
);
const value = fc.oneof(
  fc.array(interesting, { maxLength: 12 }).map((chars) => chars.join('')),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc
    .integer({ min: 1000, max: 1100 })
    .chain((length) => fc.constantFrom('a', 'é', ' ').map((char) => 'x'.repeat(length - 1) + char)),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 2 }),
);

function nodeAcceptsHeader(text: string): boolean {
  try {
    validateHeaderValue('x-user', text);
    return true;
  } catch {
    return false;
  }
}

test('a trait reaches a header only as text Node accepts and proxies keep; a claim only without control characters; never altered', async (t) => {
  await holds(
    t,
    fc.property(value, (raw) => {
      const reading = readTraits({ v: raw }, ['traits.v']).get('traits.v');
      if (raw === null) return assert.equal(reading, undefined, 'null is absent');
      assert.ok(reading);
      if ('text' in reading) {
        assert.ok(
          typeof raw === 'string' || (typeof raw === 'number' && Number.isFinite(raw)),
          'only strings and finite numbers',
        );
        assert.equal(reading.text, String(raw));
        assert.ok(Buffer.byteLength(reading.text) <= 1024);
        assert.doesNotMatch(reading.text, /[\u0000-\u001f\u007f-\u009f]/);
        assert.equal(JSON.parse(JSON.stringify({ claim: reading.text })).claim, reading.text);
      }
      const header = headerReading(reading);
      if ('text' in header) {
        assert.ok(nodeAcceptsHeader(header.text), `Node refuses ${JSON.stringify(header.text)}`);
        assert.equal(header.text, header.text.trim(), 'no outer whitespace a proxy would trim');
        assert.match(header.text, /^[\x20-\x7e]+$/);
      }
    }),
    3000,
  );
});
