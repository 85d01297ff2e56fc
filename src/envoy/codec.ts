import { Reader, Writer } from 'protobufjs';
import type { CheckRequest, CheckResponse, HeaderValue, HeaderValueOption, HttpRequestAttributes } from './messages';

/**
 * Hand-written protobuf codec for the Check hot path. proto-loader decodes every field into a
 * message object and then converts it again; a check needs six fields of the request, so this
 * reads only those (skipping the rest on the wire) and writes the response in one pass.
 * Field numbers are Envoy's, as in proto/; test/proto-compat.test.ts holds both directions
 * to the official protos.
 */

const VARINT = 0;
const LEN = 2;
const tag = (field: number, wireType: number) => (field << 3) | wireType;

// ---- request ---------------------------------------------------------------------------------

/** Calls `read` for each field of the message ending at `end`; `read` returns false to skip it. */
function eachField(reader: Reader, end: number, read: (field: number, wireType: number) => boolean): void {
  while (reader.pos < end) {
    const key = reader.uint32();
    if (!read(key >>> 3, key & 7)) reader.skipType(key & 7);
  }
}

function endOf(reader: Reader): number {
  return reader.uint32() + reader.pos;
}

/** A map<string, string> entry: key = 1, value = 2. */
function readMapEntry(reader: Reader, into: Record<string, string>): void {
  let key = '';
  let value = '';
  eachField(reader, endOf(reader), (field, wireType) => {
    if (wireType !== LEN) return false;
    if (field === 1) key = reader.string();
    else if (field === 2) value = reader.string();
    else return false;
    return true;
  });
  into[key] = value;
}

function readHeaderValue(reader: Reader): HeaderValue {
  const header: HeaderValue = {};
  eachField(reader, endOf(reader), (field, wireType) => {
    if (wireType !== LEN) return false;
    if (field === 1) header.key = reader.string();
    else if (field === 2) header.value = reader.string();
    else if (field === 3) header.raw_value = reader.bytes() as Buffer;
    else return false;
    return true;
  });
  return header;
}

function readHttp(reader: Reader): HttpRequestAttributes {
  const http: HttpRequestAttributes = {};
  eachField(reader, endOf(reader), (field, wireType) => {
    if (wireType !== LEN) return false;
    switch (field) {
      case 2:
        http.method = reader.string();
        return true;
      case 3:
        readMapEntry(reader, (http.headers ??= Object.create(null) as Record<string, string>));
        return true;
      case 4:
        http.path = reader.string();
        return true;
      case 5:
        http.host = reader.string();
        return true;
      case 6:
        http.scheme = reader.string();
        return true;
      case 13: {
        const headers: HeaderValue[] = [];
        eachField(reader, endOf(reader), (mapField, mapWireType) => {
          if (mapField !== 1 || mapWireType !== LEN) return false;
          headers.push(readHeaderValue(reader));
          return true;
        });
        http.header_map = { headers };
        return true;
      }
      default:
        return false;
    }
  });
  return http;
}

/** CheckRequest bytes → the fields a check reads (attributes.request.http, context_extensions). */
export function decodeCheckRequest(bytes: Uint8Array): CheckRequest {
  const reader = Reader.create(bytes);
  const request: CheckRequest = {};
  eachField(reader, reader.len, (field, wireType) => {
    if (field !== 1 || wireType !== LEN) return false;
    const attributes: NonNullable<CheckRequest['attributes']> = (request.attributes ??= {});
    eachField(reader, endOf(reader), (attributeField, attributeWireType) => {
      if (attributeWireType !== LEN) return false;
      if (attributeField === 4) {
        const requestAttributes = (attributes.request ??= {});
        eachField(reader, endOf(reader), (requestField, requestWireType) => {
          if (requestField !== 2 || requestWireType !== LEN) return false;
          requestAttributes.http = readHttp(reader);
          return true;
        });
        return true;
      }
      if (attributeField === 10) {
        readMapEntry(reader, (attributes.context_extensions ??= Object.create(null) as Record<string, string>));
        return true;
      }
      return false;
    });
    return true;
  });
  return request;
}

// ---- response --------------------------------------------------------------------------------

function writeString(writer: Writer, field: number, value: string | undefined): void {
  if (value) writer.uint32(tag(field, LEN)).string(value);
}

function writeHeaderOption(writer: Writer, field: number, option: HeaderValueOption): void {
  writer.uint32(tag(field, LEN)).fork();
  writer.uint32(tag(1, LEN)).fork();
  writeString(writer, 1, option.header.key);
  writeString(writer, 2, option.header.value);
  writer.ldelim();
  // BoolValue, present and explicit even when false: Envoy <= 1.36 reads only this flag.
  writer.uint32(tag(2, LEN)).fork().uint32(tag(1, VARINT)).bool(option.append.value).ldelim();
  writer.ldelim();
}

/** CheckResponse → bytes, byte for byte what protobufjs writes for this shape with proto/. */
export function encodeCheckResponse(response: CheckResponse): Uint8Array {
  const writer = Writer.create();
  // status.code is written even when 0 (OK), as protobufjs does for a set field.
  writer.uint32(tag(1, LEN)).fork().uint32(tag(1, VARINT)).int32(response.status.code);
  writeString(writer, 2, response.status.message);
  writer.ldelim();
  const denied = response.denied_response;
  if (denied) {
    writer.uint32(tag(2, LEN)).fork();
    writer.uint32(tag(1, LEN)).fork().uint32(tag(1, VARINT)).int32(denied.status.code).ldelim();
    for (const option of denied.headers) writeHeaderOption(writer, 2, option);
    writeString(writer, 3, denied.body);
    writer.ldelim();
  }
  const ok = response.ok_response;
  if (ok) {
    writer.uint32(tag(3, LEN)).fork();
    for (const option of ok.headers) writeHeaderOption(writer, 2, option);
    for (const name of ok.headers_to_remove) writeString(writer, 5, name);
    writer.ldelim();
  }
  writer.uint32(tag(4, LEN)).fork();
  for (const [key, value] of Object.entries(response.dynamic_metadata.fields)) {
    // Struct.fields entry { key = 1, value = 2: Value { string_value = 3 } }
    writer.uint32(tag(1, LEN)).fork();
    writeString(writer, 1, key);
    writer.uint32(tag(2, LEN)).fork();
    writer.uint32(tag(3, LEN)).string(value.stringValue);
    writer.ldelim();
    writer.ldelim();
  }
  writer.ldelim();
  return writer.finish();
}
