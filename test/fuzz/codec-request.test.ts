/**
 * Differential fuzzing of the hand-written CheckRequest decoder (src/envoy/codec.ts) against
 * protobufjs with Envoy's official schema: on every valid message they must decode the same
 * fields; on mutated bytes the codec must decode what a spec parser keeps (framing.ts) or throw,
 * never read past its buffer and never allocate more than the bytes warrant.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { decodeCheckRequest } from '../../src/envoy/codec';
import { official, projectRequest, type RequestLike } from '../support/official-schema';
import { checkRequestFields } from './support/check-request-arbitrary';
import { keepReadFields } from './support/framing';
import { holds } from './support/property';
import { encodeFields } from './support/wire';

const OfficialRequest = official.lookupType('envoy.service.auth.v3.CheckRequest');

/** grpc-js hands the deserializer a Buffer; the tests do the same, so the same UTF-8 path runs. */
const validMessage = checkRequestFields.map((fields) => Buffer.from(encodeFields(fields)));

function officialProjection(bytes: Uint8Array): unknown {
  return projectRequest(OfficialRequest.decode(bytes) as unknown as RequestLike);
}

/** The codec's projection, or 'rejected' when it throws (it must throw an Error, nothing else). */
function codecProjection(bytes: Buffer): unknown {
  try {
    return projectRequest(decodeCheckRequest(bytes));
  } catch (error) {
    assert.ok(error instanceof Error, `the codec threw a non-Error: ${String(error)}`);
    return 'rejected';
  }
}

function oracleProjection(bytes: Buffer): unknown {
  try {
    return officialProjection(keepReadFields(bytes));
  } catch {
    return 'rejected';
  }
}

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'remove'; at: number; count: number };

/** Bytes that lie: a length or tag that claims far more than follows, or a varint that never ends. */
const lies = fc.constantFrom([0xff, 0xff, 0xff, 0xff, 0x0f], [0x80, 0x80, 0x80, 0x80, 0x80, 0x80], [0x7f], [0xff, 0x01], [0x0a, 0xff, 0x7f], [0x0b], [0x0c], [0x0f]).map((bytes) => Uint8Array.from(bytes));

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.oneof(lies, fc.uint8Array({ minLength: 1, maxLength: 4 })) }),
  fc.record({ kind: fc.constant('remove' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 3 }) }),
);

function mutate(bytes: Buffer, mutations: readonly Mutation[]): Buffer {
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

/** Characters and bytes the decoded request holds: never more than the message had bytes. */
function decodedSize(projection: unknown): number {
  return JSON.stringify(projection).length;
}

describe('CheckRequest decoding, codec against protobufjs with the official schema', () => {
  test('valid messages: every field the codec reads decodes the same', async (t) => {
    await holds(
      t,
      fc.property(validMessage, (bytes) => {
        assert.deepEqual(codecProjection(bytes), officialProjection(bytes));
      }),
      400,
    );
  });

  test('mutated messages: the codec decodes what a spec parser keeps, or rejects them', async (t) => {
    await holds(
      t,
      fc.property(validMessage, fc.array(mutation, { minLength: 1, maxLength: 4 }), (valid, mutations) => {
        const bytes = mutate(valid, mutations);
        assert.deepEqual(codecProjection(bytes), oracleProjection(bytes));
      }),
      1500,
    );
  });

  test('a message read from inside a larger buffer reads nothing past its end', async (t) => {
    await holds(
      t,
      fc.property(validMessage, fc.array(mutation, { maxLength: 2 }), fc.uint8Array({ minLength: 1, maxLength: 16 }), (valid, mutations, after) => {
        const bytes = mutate(valid, mutations);
        const inside = Buffer.concat([bytes, after]).subarray(0, bytes.length);
        assert.deepEqual(codecProjection(inside), codecProjection(Buffer.from(bytes)));
      }),
      300,
    );
  });

  test('short random bytes allocate no more than they warrant', async (t) => {
    await holds(
      t,
      fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 6 }), lies), { maxLength: 4 }), (parts) => {
        const bytes = Buffer.concat(parts);
        const before = process.memoryUsage();
        const projection = codecProjection(bytes);
        const after = process.memoryUsage();
        // Only growth counts (a collection in between only shrinks the figures); a decoder that
        // trusted a lying length would allocate it before failing.
        assert.ok(after.arrayBuffers - before.arrayBuffers < 64 * 1024, `arrayBuffers grew ${after.arrayBuffers - before.arrayBuffers} bytes for ${bytes.toString('hex')}`);
        assert.ok(after.heapUsed - before.heapUsed < 1024 * 1024, `the heap grew ${after.heapUsed - before.heapUsed} bytes for ${bytes.toString('hex')}`);
        if (projection !== 'rejected') assert.ok(decodedSize(projection) <= 400 + 8 * bytes.length, bytes.toString('hex'));
      }),
      2000,
    );
  });
});
