/**
 * Byte-level mutations of valid messages: bit flips, overwritten bytes, truncation, inserted
 * bytes (among them lengths and tags that lie) and removed ones.
 */
import * as fc from 'fast-check';

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'remove'; at: number; count: number };

/** Bytes that lie: a length or tag that claims far more than follows, or a varint that never ends. */
export const lies = fc
  .constantFrom(
    [0xff, 0xff, 0xff, 0xff, 0x0f],
    [0x80, 0x80, 0x80, 0x80, 0x80, 0x80],
    [0x7f],
    [0xff, 0x01],
    [0x0a, 0xff, 0x7f],
    [0x0b],
    [0x0c],
    [0x0f],
  )
  .map((bytes) => Uint8Array.from(bytes));

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.oneof(lies, fc.uint8Array({ minLength: 1, maxLength: 4 })),
  }),
  fc.record({ kind: fc.constant('remove' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 3 }) }),
);

export function mutate(bytes: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const change of mutations) {
    const at = out.length === 0 ? 0 : change.at % (out.length + 1);
    switch (change.kind) {
      case 'flip':
        if (at < out.length) out[at] = (out[at] ?? 0) ^ (1 << change.bit);
        break;
      case 'set':
        if (at < out.length) out[at] = change.byte;
        break;
      case 'truncate':
        out = out.subarray(0, at);
        break;
      case 'insert':
        out = Buffer.concat([out.subarray(0, at), change.bytes, out.subarray(at)]);
        break;
      case 'remove':
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + change.count)]);
        break;
    }
  }
  return out;
}
