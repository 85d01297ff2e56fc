/**
 * Random CheckRequests on the wire, shaped by Envoy's official schema. The fields the codec reads
 * are written field by field (any order, repeated, explicit defaults, padded varints, both header
 * encodings, binary and 8 KiB values); the fields it skips are real official sub-messages encoded
 * by protobufjs, or unknown fields of every wire type. Every message here is valid protobuf.
 */
import * as fc from 'fast-check';
import { checkRequest, type CheckSpec } from '../../support/envoy-client';
import { official } from '../../support/official-schema';
import { encodeFields, type WireField, type WireValue } from './wire';

const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

/** Tag and length padding: mostly canonical, sometimes up to the five- or ten-byte forms. */
const padding = fc.oneof(
  { weight: 6, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 9 }) },
);

function field(number: number, value: fc.Arbitrary<WireValue>): fc.Arbitrary<WireField> {
  return fc.record({ field: fc.constant(number), value, tagPadding: padding });
}

/** Bytes of a string field: text (any code point), raw bytes (not UTF-8), or an 8 KiB value. */
const textBytes = fc.oneof(
  { weight: 20, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }).map(utf8) },
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 24 }) },
  { weight: 4, arbitrary: fc.constantFrom('', 'GET', 'POST', '/', '/admin/x', 'app.example.com', 'https').map(utf8) },
  // Rare, as a message has many string fields; its contents matter less than its length.
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 8192, maxLength: 8192 }) },
);

const bytesValue = (bytes: fc.Arbitrary<Uint8Array>): fc.Arbitrary<WireValue> =>
  fc.record({ type: fc.constant('bytes' as const), bytes, padding });
const text = bytesValue(textBytes);

function message(fields: fc.Arbitrary<WireField>, maxLength: number, minLength = 0): fc.Arbitrary<WireValue> {
  return fc.record({
    type: fc.constant('message' as const),
    fields: fc.array(fields, { minLength, maxLength }),
    padding,
  });
}

/** An official message type encoded by protobufjs from a random object, as an opaque LEN value. */
function officialMessage(typeName: string, object: fc.Arbitrary<object>): fc.Arbitrary<WireValue> {
  const type = official.lookupType(typeName);
  return bytesValue(object.map((value) => type.encode(type.fromObject(value)).finish()));
}

const shortText = fc.string({ maxLength: 8 });

/** Unknown fields of every wire type, with groups nested in groups. */
const unknownField: fc.Arbitrary<WireField> = fc.letrec<{ field: WireField; value: WireValue }>((tie) => ({
  field: fc.record({ field: fc.integer({ min: 20, max: (1 << 29) - 1 }), value: tie('value'), tagPadding: padding }),
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ type: fc.constant('varint' as const), value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), padding }),
    fc.record({ type: fc.constant('fixed64' as const), bytes: fc.uint8Array({ minLength: 8, maxLength: 8 }) }),
    fc.record({ type: fc.constant('fixed32' as const), bytes: fc.uint8Array({ minLength: 4, maxLength: 4 }) }),
    bytesValue(fc.uint8Array({ maxLength: 16 })),
    fc.record({ type: fc.constant('group' as const), fields: fc.array(tie('field'), { maxLength: 3 }) }),
  ),
})).field;

/** A map<string, string> entry, fields in any order, either missing, repeated or unknown beside. */
const mapEntry = message(fc.oneof(field(1, text), field(2, text), unknownField), 4);

const headerName = fc.oneof(
  fc.constantFrom(
    'cookie',
    'x-session-token',
    'authorization',
    ':path',
    ':authority',
    'x-request-id',
    '__proto__',
    'constructor',
    'hasOwnProperty',
    '',
  ),
  fc.string({ maxLength: 12 }),
);
const headerValue = message(
  fc.oneof(field(1, bytesValue(headerName.map(utf8))), field(2, text), field(3, text), unknownField),
  5,
);
const headerMap = message(
  fc.oneof({ weight: 4, arbitrary: field(1, headerValue) }, { weight: 1, arbitrary: unknownField }),
  8,
);

const httpRequestFields = fc.oneof(
  ...[2, 4, 5, 6].map((number) => ({ weight: 2, arbitrary: field(number, text) })),
  { weight: 3, arbitrary: field(3, mapEntry) },
  { weight: 2, arbitrary: field(13, headerMap) },
  // Fields the codec skips, with their official types.
  ...[1, 7, 8, 10, 11, 12].map((number) => field(number, text)),
  field(
    9,
    fc.record({ type: fc.constant('varint' as const), value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), padding }),
  ),
  unknownField,
);

const timestamp = officialMessage(
  'google.protobuf.Timestamp',
  fc.record({ seconds: fc.integer({ min: 0 }).map(String), nanos: fc.nat(999_999_999) }),
);
const peer = officialMessage(
  'envoy.service.auth.v3.AttributeContext.Peer',
  fc.record({
    address: fc.record({ socket_address: fc.record({ address: fc.ipV4(), port_value: fc.nat(65535) }) }),
    principal: shortText,
    labels: fc.dictionary(shortText, shortText, { maxKeys: 2 }),
  }),
);
const metadata = officialMessage(
  'envoy.config.core.v3.Metadata',
  fc.record({
    filter_metadata: fc.dictionary(
      shortText,
      fc.record({ fields: fc.dictionary(shortText, fc.record({ stringValue: shortText }), { maxKeys: 2 }) }),
      { maxKeys: 2 },
    ),
  }),
);
const tlsSession = officialMessage('envoy.service.auth.v3.AttributeContext.TLSSession', fc.record({ sni: shortText }));

/** attributes.request.http, sometimes written canonically by protobufjs from a random object. */
const httpRequest = fc.oneof(
  { weight: 3, arbitrary: message(httpRequestFields, 12) },
  officialMessage(
    'envoy.service.auth.v3.AttributeContext.HttpRequest',
    fc.record(
      {
        method: shortText,
        path: shortText,
        host: shortText,
        scheme: shortText,
        headers: fc.dictionary(headerName, shortText, { maxKeys: 4 }),
        header_map: fc.record({
          headers: fc.array(
            fc.record(
              { key: headerName, value: shortText, raw_value: fc.uint8Array({ maxLength: 12 }) },
              { requiredKeys: [] },
            ),
            { maxLength: 4 },
          ),
        }),
        id: shortText,
        size: fc.nat().map(String),
      },
      { requiredKeys: [] },
    ),
  ),
);

const requestFields = fc.oneof({ weight: 6, arbitrary: field(2, httpRequest) }, field(1, timestamp), unknownField);
const attributeFields = fc.oneof(
  { weight: 6, arbitrary: field(4, message(requestFields, 3, 1)) },
  { weight: 2, arbitrary: field(10, mapEntry) },
  field(1, peer),
  field(2, peer),
  field(11, metadata),
  field(13, metadata),
  field(12, tlsSession),
  unknownField,
);

/** CheckRequest: attributes = 1, everything else unknown to the schema. */
export const checkRequestFields: fc.Arbitrary<WireField[]> = fc.array(
  fc.oneof({ weight: 6, arbitrary: field(1, message(attributeFields, 6, 1)) }, unknownField),
  {
    minLength: 1,
    maxLength: 3,
  },
);

/** The bytes, as a Buffer: grpc-js hands the deserializer one, so the same UTF-8 path runs. */
export const checkRequestBytes: fc.Arbitrary<Buffer> = checkRequestFields.map((fields) =>
  Buffer.from(encodeFields(fields)),
);

/**
 * CheckRequests as Envoy sends them (test/support/envoy-client.ts fills in what Envoy fills in),
 * encoded canonically by protobufjs: the seeds from which mutations start closest to real traffic.
 */
const ENVOY_SHAPED: CheckSpec[] = [
  {},
  {
    method: 'POST',
    path: '/admin/x?y=1',
    headers: { cookie: 'a=1; ory_kratos_session=MTY4NTk2', accept: 'text/html', 'x-request-id': 'r-1' },
  },
  {
    encoding: 'raw',
    headers: [
      ['cookie', 'ory_kratos_session=a'],
      ['cookie', 'b=2'],
      ['x-bin', Buffer.from([0xff, 0x00, 0x41])],
    ],
  },
  {
    headers: { 'x-session-token': 'ory_st_abc', authorization: 'Bearer ory_st_def' },
    contextExtensions: { policy: 'admin' },
  },
  {
    encoding: 'raw',
    host: 'admin.example.com:8443',
    headers: [
      ['authorization', 'Bearer ory_st_x'],
      ['x-large', 'v'.repeat(8192)],
    ],
  },
];
const OfficialRequest = official.lookupType('envoy.service.auth.v3.CheckRequest');
export const envoyShapedBytes: fc.Arbitrary<Buffer> = fc.constantFrom(
  ...ENVOY_SHAPED.map((spec) =>
    Buffer.from(OfficialRequest.encode(OfficialRequest.fromObject(checkRequest(spec))).finish()),
  ),
);
