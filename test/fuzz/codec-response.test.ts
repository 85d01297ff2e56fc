/**
 * The hand-written CheckResponse encoder (src/envoy/codec.ts) on random responses: Envoy's
 * official schema decodes from its bytes exactly the response it was given, and the bytes are
 * protobufjs's for the same message.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fc from 'fast-check';
import { encodeCheckResponse } from '../../src/envoy/codec';
import type { CheckResponse, HeaderValueOption } from '../../src/envoy/messages';
import { official, ours } from '../support/official-schema';
import { holds } from './support/property';

const OfficialResponse = official.lookupType('envoy.service.auth.v3.CheckResponse');
const OurResponse = ours.lookupType('envoy.service.auth.v3.CheckResponse');

// Every code point (no lone surrogates: every string here came from UTF-8 or from the service),
// and long values whose lengths take two- and three-byte varints.
const text = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
  { weight: 2, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(8192), 'é'.repeat(5000), '✓'.repeat(6000)) },
);
const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const headerOption: fc.Arbitrary<HeaderValueOption> = fc.record({
  header: fc.record({ key: text, value: text }),
  append: fc.record({ value: fc.boolean() }),
});
const headers = fc.array(headerOption, { maxLength: 4 });

/** An OK, a denial, or (as no answer of the service is) neither: http_response is a oneof. */
const httpResponse = fc.oneof(
  fc.record({
    ok_response: fc.record({
      headers,
      headers_to_remove: fc.array(text, { maxLength: 4 }),
      response_headers_to_add: headers,
    }),
  }),
  fc.record({ denied_response: fc.record({ status: fc.record({ code: int32 }), headers, body: text }) }),
  fc.constant({}),
);

const response: fc.Arbitrary<CheckResponse> = fc
  .tuple(
    fc.record({
      status: fc.record({ code: int32, message: text }, { requiredKeys: ['code'] }),
      dynamic_metadata: fc.record({ fields: fc.dictionary(text, fc.record({ stringValue: text }), { maxKeys: 4 }) }),
    }),
    httpResponse,
  )
  .map(([base, http]) => ({ ...base, ...http }));

interface Decoded {
  status?: { code?: number; message?: string };
  ok_response?: {
    headers?: Decoded['headers'];
    headers_to_remove?: string[];
    response_headers_to_add?: Decoded['headers'];
  };
  denied_response?: { status?: { code?: number }; headers?: Decoded['headers']; body?: string };
  headers?: Array<{ header?: { key?: string; value?: string }; append?: { value?: boolean } }>;
  dynamic_metadata?: { fields?: Record<string, { stringValue?: string }> };
}

/** The response as the official schema decodes it, proto3 defaults filled in. */
function decodeOfficially(bytes: Uint8Array): unknown {
  const decoded = OfficialResponse.toObject(OfficialResponse.decode(bytes), {
    defaults: true,
    enums: Number,
    longs: Number,
  }) as Decoded;
  const options = (list: Decoded['headers']) =>
    (list ?? []).map((option) => [option.header?.key, option.header?.value, option.append?.value]);
  return {
    status: [decoded.status?.code, decoded.status?.message],
    ok: decoded.ok_response && [
      options(decoded.ok_response.headers),
      decoded.ok_response.headers_to_remove,
      options(decoded.ok_response.response_headers_to_add),
    ],
    denied: decoded.denied_response && [
      decoded.denied_response.status?.code,
      options(decoded.denied_response.headers),
      decoded.denied_response.body,
    ],
    metadata: Object.entries(decoded.dynamic_metadata?.fields ?? {}).map(([key, value]) => [key, value.stringValue]),
  };
}

/** What the official decoding must give back for `given`. */
function expected(given: CheckResponse): unknown {
  const options = (list: readonly HeaderValueOption[]) =>
    list.map((option) => [option.header.key, option.header.value, option.append.value]);
  return {
    status: [given.status.code, given.status.message ?? ''],
    ok: given.ok_response && [
      options(given.ok_response.headers),
      given.ok_response.headers_to_remove,
      options(given.ok_response.response_headers_to_add),
    ],
    denied: given.denied_response && [
      given.denied_response.status.code,
      options(given.denied_response.headers),
      given.denied_response.body,
    ],
    metadata: Object.entries(given.dynamic_metadata.fields).map(([key, value]) => [key, value.stringValue]),
  };
}

/**
 * protobufjs writes a set empty singular string as a zero-length field, the codec leaves it out:
 * the same proto3 message. List elements stay (an empty one is still an element), and so do
 * Struct values (string_value is a oneof member, present even when empty).
 */
function withoutEmptyStrings(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((element) => (element === '' ? element : withoutEmptyStrings(element)));
  if (typeof value !== 'object' || value === null || 'stringValue' in value) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, inner]) => inner !== '')
      .map(([key, inner]) => [key, withoutEmptyStrings(inner)]),
  );
}

/** protobufjs writes a map entry's key even when empty, which no normalisation can take back. */
const withNamedMetadata = response.filter((given) => !Object.hasOwn(given.dynamic_metadata.fields, ''));

test('the official schema decodes every response the codec encodes to that response', async (t) => {
  await holds(
    t,
    fc.property(response, (given) => {
      assert.deepEqual(decodeOfficially(encodeCheckResponse(given)), expected(given));
    }),
    1000,
  );
});

test("the codec writes protobufjs's bytes, empty strings left out", async (t) => {
  await holds(
    t,
    fc.property(withNamedMetadata, (given) => {
      const reference = Buffer.from(
        OurResponse.encode(OurResponse.fromObject(withoutEmptyStrings(given) as Record<string, unknown>)).finish(),
      );
      assert.equal(encodeCheckResponse(given).toString('hex'), reference.toString('hex'));
    }),
    1000,
  );
});
