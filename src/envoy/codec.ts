import { Reader } from 'protobufjs';
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

/**
 * Narrows the reader's limit to the message ending at `end`, as protobufjs does, so a field
 * running past its message throws instead of being read from the bytes that follow it; returns
 * the enclosing limit, for `reader.len = outer` once the message is read.
 */
function enter(reader: Reader, end: number): number {
  const outer = reader.len;
  if (end > outer) throw new RangeError(`a message ending at ${end} runs past its enclosing one (${outer})`);
  reader.len = end;
  return outer;
}

/** Calls `read` for each field of the message ending at `end`; `read` returns false to skip it. */
function eachField(reader: Reader, end: number, read: (field: number, wireType: number) => boolean): void {
  const outer = enter(reader, end);
  while (reader.pos < end) {
    const key = reader.uint32();
    if (!read(key >>> 3, key & 7)) reader.skipType(key & 7);
  }
  reader.len = outer;
}

/**
 * A string field. protobufjs's Buffer reader cuts a string whose length runs past the message
 * short instead of failing, so a lying length would be read as a shorter value: check it first.
 */
function readString(reader: Reader): string {
  const start = reader.pos;
  const length = reader.uint32();
  if (reader.pos + length > reader.len)
    throw new RangeError(`a string of ${length} bytes at ${start} runs past its message (${reader.len})`);
  reader.pos = start;
  return reader.string();
}

function endOf(reader: Reader): number {
  return reader.uint32() + reader.pos;
}

/**
 * Envoy sends at most max_headers_count header lines (100 unless raised). A decoded entry costs
 * some 40 times its smallest encoding (two bytes become an object), so the 8 MiB a CheckRequest
 * may have would hold ~200 MB of empty entries, past the service's heap: a request with more
 * entries than this (headers, header_map and context_extensions together) is refused instead.
 */
export const MAX_CHECK_REQUEST_ENTRIES = 10_000;

/**
 * Go's net/http (and so Kratos) refuses a request whose head is over 1 MiB (DefaultMaxHeaderBytes),
 * so no larger one can carry a credential Kratos would accept. The head counted here: the method,
 * scheme, host and path, and every `headers` / `header_map` entry (context_extensions too, which
 * Envoy's configuration sets), each entry as encoded and before it is decoded. Past this nothing
 * more is read and the request is refused as too large, so what a check does with its headers
 * (cookies, tokens, Accept) is bounded by 1 MiB, not by the message.
 */
export const MAX_REQUEST_HEAD_BYTES = 1024 * 1024;

/** Thrown when the request's head is over MAX_REQUEST_HEAD_BYTES: refused as too large, not as malformed. */
export class RequestHeadTooLarge extends RangeError {
  constructor() {
    super(`the request headers are over ${MAX_REQUEST_HEAD_BYTES} bytes`);
  }
}

class RequestBudget {
  private entriesLeft = MAX_CHECK_REQUEST_ENTRIES;
  private headBytesLeft = MAX_REQUEST_HEAD_BYTES;

  takeEntry(): void {
    if (--this.entriesLeft < 0)
      throw new RangeError(`more than ${MAX_CHECK_REQUEST_ENTRIES} header and context_extensions entries`);
  }

  /** Counts bytes whose length was already checked against their message (a lying length is malformed, not large). */
  takeHeadBytes(count: number): void {
    this.headBytesLeft -= count;
    if (this.headBytesLeft < 0) throw new RequestHeadTooLarge();
  }
}

// The two readers below run once per header (15 or more a check): written as loops rather than
// eachField callbacks, so a header costs no closure.

/** A string of the request's head (method, scheme, host, path), counted once its length is checked. */
function readHeadString(reader: Reader, budget: RequestBudget): string {
  const start = reader.pos;
  const text = readString(reader);
  budget.takeHeadBytes(reader.pos - start);
  return text;
}

/** A map<string, string> entry: key = 1, value = 2. */
function readMapEntry(reader: Reader, into: Record<string, string>, budget: RequestBudget): void {
  budget.takeEntry();
  const end = endOf(reader);
  const outer = enter(reader, end);
  budget.takeHeadBytes(end - reader.pos);
  let key = '';
  let value = '';
  while (reader.pos < end) {
    const fieldKey = reader.uint32();
    if (fieldKey === tag(1, LEN)) key = readString(reader);
    else if (fieldKey === tag(2, LEN)) value = readString(reader);
    else reader.skipType(fieldKey & 7);
  }
  reader.len = outer;
  into[key] = value;
}

function readHeaderValue(reader: Reader, budget: RequestBudget): HeaderValue {
  budget.takeEntry();
  const end = endOf(reader);
  const outer = enter(reader, end);
  budget.takeHeadBytes(end - reader.pos);
  const header: HeaderValue = {};
  while (reader.pos < end) {
    const fieldKey = reader.uint32();
    if (fieldKey === tag(1, LEN)) header.key = readString(reader);
    else if (fieldKey === tag(2, LEN)) header.value = readString(reader);
    else if (fieldKey === tag(3, LEN)) header.raw_value = reader.bytes() as Buffer;
    else reader.skipType(fieldKey & 7);
  }
  reader.len = outer;
  return header;
}

function readHttp(reader: Reader, budget: RequestBudget): HttpRequestAttributes {
  const http: HttpRequestAttributes = {};
  eachField(reader, endOf(reader), (field, wireType) => {
    if (wireType !== LEN) return false;
    switch (field) {
      case 2:
        http.method = readHeadString(reader, budget);
        return true;
      case 3:
        readMapEntry(reader, (http.headers ??= Object.create(null) as Record<string, string>), budget);
        return true;
      case 4:
        http.path = readHeadString(reader, budget);
        return true;
      case 5:
        http.host = readHeadString(reader, budget);
        return true;
      case 6:
        http.scheme = readHeadString(reader, budget);
        return true;
      case 13: {
        const headers: HeaderValue[] = [];
        eachField(reader, endOf(reader), (mapField, mapWireType) => {
          if (mapField !== 1 || mapWireType !== LEN) return false;
          headers.push(readHeaderValue(reader, budget));
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
  const budget = new RequestBudget();
  const request: CheckRequest = {};
  eachField(reader, reader.len, (field, wireType) => {
    if (field !== 1 || wireType !== LEN) return false;
    // A singular message sent twice: the last one replaces the first (not merged into it), at
    // every level, as protobufjs decodes it and proto-loader did before this codec.
    const attributes: NonNullable<CheckRequest['attributes']> = (request.attributes = {});
    eachField(reader, endOf(reader), (attributeField, attributeWireType) => {
      if (attributeWireType !== LEN) return false;
      if (attributeField === 4) {
        const requestAttributes: NonNullable<typeof attributes.request> = (attributes.request = {});
        eachField(reader, endOf(reader), (requestField, requestWireType) => {
          if (requestField !== 2 || requestWireType !== LEN) return false;
          requestAttributes.http = readHttp(reader, budget);
          return true;
        });
        return true;
      }
      if (attributeField === 10) {
        readMapEntry(reader, (attributes.context_extensions ??= Object.create(null) as Record<string, string>), budget);
        return true;
      }
      return false;
    });
    return true;
  });
  return request;
}

// ---- response --------------------------------------------------------------------------------
// Sizes first, then one exactly-sized buffer: no per-message fork/ldelim allocations.

function varintSize(value: number): number {
  let size = 1;
  for (let rest = value >>> 7; rest !== 0; rest >>>= 7) size++;
  return size;
}

/** A length-delimited field of `size` bytes (every field number here is below 16: 1-byte tags). */
function lenFieldSize(size: number): number {
  return 1 + varintSize(size) + size;
}

function stringFieldSize(value: string | undefined): number {
  return value ? lenFieldSize(Buffer.byteLength(value)) : 0;
}

/** An int32 field that is written even when 0, as protobufjs does for a set field. */
function int32FieldSize(value: number): number {
  return 1 + (value < 0 ? 10 : varintSize(value));
}

function headerValueSize(option: HeaderValueOption): number {
  return stringFieldSize(option.header.key) + stringFieldSize(option.header.value);
}

// BoolValue, present and explicit even when false: Envoy <= 1.36 reads only this flag.
const BOOL_VALUE_SIZE = 2;

function headerOptionSize(option: HeaderValueOption): number {
  return lenFieldSize(headerValueSize(option)) + lenFieldSize(BOOL_VALUE_SIZE);
}

function metadataEntrySize(key: string, value: string): number {
  return stringFieldSize(key) + lenFieldSize(lenFieldSize(Buffer.byteLength(value)));
}

class ExactWriter {
  constructor(
    readonly buffer: Buffer,
    private position = 0,
  ) {}

  varint(value: number): this {
    let rest = value >>> 0;
    while (rest > 0x7f) {
      this.buffer[this.position++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    this.buffer[this.position++] = rest;
    return this;
  }

  int32(field: number, value: number): this {
    this.varint(tag(field, VARINT));
    if (value >= 0) return this.varint(value);
    // Negative int32s are ten-byte two's-complement varints on the wire.
    let low = value >>> 0;
    let high = 0xffffffff;
    for (let index = 0; index < 9; index++) {
      this.buffer[this.position++] = (low & 0x7f) | 0x80;
      low = (low >>> 7) | ((high & 0x7f) << 25);
      high >>>= 7;
    }
    this.buffer[this.position++] = 0x01;
    return this;
  }

  lenField(field: number, size: number): this {
    return this.varint(tag(field, LEN)).varint(size);
  }

  bytes(encoded: Buffer): this {
    encoded.copy(this.buffer, this.position);
    this.position += encoded.length;
    return this;
  }

  stringField(field: number, value: string | undefined, always = false): this {
    if (!value && !always) return this;
    const text = value ?? '';
    this.lenField(field, Buffer.byteLength(text));
    this.position += this.buffer.write(text, this.position, 'utf8');
    return this;
  }

  headerOption(field: number, option: HeaderValueOption): this {
    this.lenField(field, headerOptionSize(option));
    this.lenField(1, headerValueSize(option)).stringField(1, option.header.key).stringField(2, option.header.value);
    this.lenField(2, BOOL_VALUE_SIZE)
      .varint(tag(1, VARINT))
      .varint(option.append.value ? 1 : 0);
    return this;
  }
}

// headers_to_remove names every spelling of the identity headers (headers-to-remove.ts): some
// sixty names on every allow, which hands out the same few frozen lists. Their encoded fields
// are kept, by list, so an allow copies them instead of writing each name again.
const encodedRemovals = new WeakMap<readonly string[], Buffer>();

/** headers_to_remove's fields (5), encoded. A repeated field: an empty element is still an element, and is written. */
function removalFields(names: readonly string[]): Buffer {
  let encoded = encodedRemovals.get(names);
  if (encoded === undefined) {
    let size = 0;
    for (const name of names) size += lenFieldSize(Buffer.byteLength(name));
    const writer = new ExactWriter(Buffer.allocUnsafe(size));
    for (const name of names) writer.stringField(5, name, true);
    encoded = writer.buffer;
    // Only a frozen list cannot change after its bytes are kept.
    if (Object.isFrozen(names)) encodedRemovals.set(names, encoded);
  }
  return encoded;
}

/**
 * CheckResponse → bytes, byte for byte what protobufjs writes for this shape with proto/, except
 * that an empty singular string is left out where protobufjs writes it as a zero-length field
 * (the same proto3 message; a redirect's empty body is one). `leading` bytes are left free before
 * the message, for a transport's frame prefix: the message is written once, into its frame.
 */
export function encodeCheckResponse(response: CheckResponse, leading = 0): Buffer {
  const statusSize = int32FieldSize(response.status.code) + stringFieldSize(response.status.message);
  const denied = response.denied_response;
  let deniedSize = 0;
  if (denied) {
    deniedSize = lenFieldSize(int32FieldSize(denied.status.code)) + stringFieldSize(denied.body);
    for (const option of denied.headers) deniedSize += lenFieldSize(headerOptionSize(option));
  }
  const ok = response.ok_response;
  // Once per message: a list that is not frozen (one that adds the stripped credentials) is encoded anew.
  const removals = ok && removalFields(ok.headers_to_remove);
  let okSize = 0;
  if (ok && removals) {
    for (const option of ok.headers) okSize += lenFieldSize(headerOptionSize(option));
    okSize += removals.length;
    for (const option of ok.response_headers_to_add) okSize += lenFieldSize(headerOptionSize(option));
  }
  const entries = Object.entries(response.dynamic_metadata.fields);
  let metadataSize = 0;
  for (const [key, value] of entries) metadataSize += lenFieldSize(metadataEntrySize(key, value.stringValue));

  const total =
    lenFieldSize(statusSize) +
    (denied ? lenFieldSize(deniedSize) : 0) +
    (ok ? lenFieldSize(okSize) : 0) +
    lenFieldSize(metadataSize);
  const writer = new ExactWriter(Buffer.allocUnsafe(leading + total), leading);
  writer.lenField(1, statusSize).int32(1, response.status.code).stringField(2, response.status.message);
  if (denied) {
    writer.lenField(2, deniedSize).lenField(1, int32FieldSize(denied.status.code)).int32(1, denied.status.code);
    for (const option of denied.headers) writer.headerOption(2, option);
    writer.stringField(3, denied.body);
  }
  if (ok && removals) {
    writer.lenField(3, okSize);
    for (const option of ok.headers) writer.headerOption(2, option);
    writer.bytes(removals);
    // response_headers_to_add: for the client's response (the renewed session cookie).
    for (const option of ok.response_headers_to_add) writer.headerOption(6, option);
  }
  // Struct { fields = 1: map entry { key = 1, value = 2: Value { string_value = 3 } } }
  writer.lenField(4, metadataSize);
  for (const [key, value] of entries) {
    writer.lenField(1, metadataEntrySize(key, value.stringValue)).stringField(1, key);
    writer.lenField(2, lenFieldSize(Buffer.byteLength(value.stringValue))).stringField(3, value.stringValue, true);
  }
  return writer.buffer;
}
