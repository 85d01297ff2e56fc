/**
 * The framing oracle for mutated bytes. protobufjs reads a known field by number whatever its
 * wire type, where the protobuf spec (and Envoy's C++ parser) treats a wrong wire type as an
 * unknown field; so mutated bytes are first rewritten to what a spec parser keeps of the fields
 * the codec reads, each sub-message read within its own length, and only then decoded by
 * protobufjs. The result is what the codec must decode, or must reject when this throws.
 */
import { Reader, Writer } from 'protobufjs';

const LEN = 2;

/** A length-delimited field the codec reads: a string or bytes leaf, or a message of such fields. */
type Shape = 'leaf' | { readonly [field: number]: Shape };

const MAP_ENTRY: Shape = { 1: 'leaf', 2: 'leaf' };
const HEADER_VALUE: Shape = { 1: 'leaf', 2: 'leaf', 3: 'leaf' };
const HTTP_REQUEST: Shape = { 2: 'leaf', 3: MAP_ENTRY, 4: 'leaf', 5: 'leaf', 6: 'leaf', 13: { 1: HEADER_VALUE } };
/** CheckRequest.attributes { request = 4 { http = 2 }, context_extensions = 10 }. */
export const READ_FIELDS: Shape = { 1: { 4: { 2: HTTP_REQUEST }, 10: MAP_ENTRY } };

/**
 * Keeps the fields of `shape` that carry the LEN wire type, canonically re-encoded, and skips
 * every other field the way protobufjs skips unknown ones. Throws where a spec parser fails: a
 * truncated field, a length past the enclosing message, an invalid wire type.
 */
export function keepReadFields(bytes: Uint8Array, shape: Shape = READ_FIELDS): Uint8Array {
  const writer = Writer.create();
  copyFields(Reader.create(bytes), shape, writer);
  return writer.finish();
}

function copyFields(reader: Reader, shape: Shape, writer: Writer): void {
  while (reader.pos < reader.len) {
    const key = reader.uint32();
    const field = key >>> 3;
    const inner = typeof shape === 'object' ? shape[field] : undefined;
    if (inner === undefined || (key & 7) !== LEN) {
      reader.skipType(key & 7);
      continue;
    }
    // A sub-reader over exactly the field's bytes: nothing inside can read past them.
    const value = reader.bytes();
    writer.uint32((field << 3) | LEN);
    if (inner === 'leaf') {
      writer.bytes(value);
    } else {
      writer.fork();
      copyFields(Reader.create(value), inner, writer);
      writer.ldelim();
    }
  }
}
