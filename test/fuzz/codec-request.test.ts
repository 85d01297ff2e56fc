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
import { checkRequestBytes, envoyShapedBytes } from './support/check-request-arbitrary';
import { keepReadFields } from './support/framing';
import { holds } from './support/property';
import { lies, mutate, mutation } from './support/mutation';

const OfficialRequest = official.lookupType('envoy.service.auth.v3.CheckRequest');

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

/** The decoded fields as JSON: a few characters per byte of the message at most (a raw byte prints as up to four). */
function decodedSize(projection: unknown): number {
  return JSON.stringify(projection).length;
}

describe('CheckRequest decoding, codec against protobufjs with the official schema', () => {
  test('valid messages: every field the codec reads decodes the same', async (t) => {
    await holds(
      t,
      fc.property(checkRequestBytes, (bytes) => {
        assert.deepEqual(codecProjection(bytes), officialProjection(bytes));
      }),
      800,
    );
  });

  test('mutated messages: the codec decodes what a spec parser keeps, or rejects them', async (t) => {
    await holds(
      t,
      fc.property(
        fc.oneof(checkRequestBytes, envoyShapedBytes),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (valid, mutations) => {
          const bytes = mutate(valid, mutations);
          assert.deepEqual(codecProjection(bytes), oracleProjection(bytes));
        },
      ),
      3000,
    );
  });

  test('a message read from inside a larger buffer reads nothing past its end', async (t) => {
    await holds(
      t,
      fc.property(
        checkRequestBytes,
        fc.array(mutation, { maxLength: 2 }),
        fc.uint8Array({ minLength: 1, maxLength: 16 }),
        (valid, mutations, after) => {
          const bytes = mutate(valid, mutations);
          const inside = Buffer.concat([bytes, after]).subarray(0, bytes.length);
          assert.deepEqual(codecProjection(inside), codecProjection(Buffer.from(bytes)));
        },
      ),
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
        assert.ok(
          after.arrayBuffers - before.arrayBuffers < 64 * 1024,
          `arrayBuffers grew ${after.arrayBuffers - before.arrayBuffers} bytes for ${bytes.toString('hex')}`,
        );
        assert.ok(
          after.heapUsed - before.heapUsed < 1024 * 1024,
          `the heap grew ${after.heapUsed - before.heapUsed} bytes for ${bytes.toString('hex')}`,
        );
        if (projection !== 'rejected')
          assert.ok(decodedSize(projection) <= 400 + 8 * bytes.length, bytes.toString('hex'));
      }),
      2000,
    );
  });
});
