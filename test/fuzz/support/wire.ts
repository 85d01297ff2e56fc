/**
 * Protobuf messages written field by field, for what no schema encoder writes but a parser must
 * still read: fields in any order, repeated singular fields, explicit defaults, unknown fields
 * of every wire type, nested groups, and non-canonical (padded, up to ten-byte) varints.
 */

export type WireValue =
  | { type: 'varint'; value: bigint; padding: number }
  | { type: 'fixed64'; bytes: Uint8Array }
  | { type: 'fixed32'; bytes: Uint8Array }
  | { type: 'bytes'; bytes: Uint8Array; padding: number }
  | { type: 'message'; fields: readonly WireField[]; padding: number }
  | { type: 'group'; fields: readonly WireField[] };

export interface WireField {
  field: number;
  value: WireValue;
  /** Extra bytes the tag's varint is padded with (0 = canonical). */
  tagPadding: number;
}

const WIRE_TYPE: Record<WireValue['type'], number> = {
  varint: 0,
  fixed64: 1,
  bytes: 2,
  message: 2,
  group: 3,
  fixed32: 5,
};

/**
 * A varint with `padding` extra continuation bytes. protobufjs reads a 32-bit varint (tags,
 * lengths) as up to five bytes, or as ten when the fifth continues, so padding only ever makes
 * one of those lengths; a wider value is simply written in full.
 */
export function varint(value: bigint, padding = 0): number[] {
  const bytes: number[] = [];
  let rest = value;
  do {
    bytes.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  } while (rest > 0n);
  const length = bytes.length + padding;
  const target = length > 5 ? Math.max(bytes.length, 10) : length;
  while (bytes.length < target) bytes.push(0x80);
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) & 0x7f;
  return bytes;
}

export function encodeFields(fields: readonly WireField[]): Uint8Array {
  const out: number[] = [];
  // A loop, not push(...bytes): a message of many 8 KiB values is past what one call may spread.
  const append = (bytes: Iterable<number>) => {
    for (const byte of bytes) out.push(byte);
  };
  const write = (list: readonly WireField[]) => {
    for (const { field, value, tagPadding } of list) {
      append(varint(BigInt((field << 3) | WIRE_TYPE[value.type]) & 0xffffffffn, tagPadding));
      switch (value.type) {
        case 'varint':
          append(varint(value.value, value.padding));
          break;
        case 'fixed64':
        case 'fixed32':
          append(value.bytes);
          break;
        case 'bytes':
          append(varint(BigInt(value.bytes.length), value.padding));
          append(value.bytes);
          break;
        case 'message': {
          const body = encodeFields(value.fields);
          append(varint(BigInt(body.length), value.padding));
          append(body);
          break;
        }
        case 'group':
          write(value.fields);
          append(varint(BigInt((field << 3) | 4) & 0xffffffffn));
          break;
      }
    }
  };
  write(fields);
  return Uint8Array.from(out);
}
