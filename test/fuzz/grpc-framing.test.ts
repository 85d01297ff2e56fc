/**
 * The gRPC framing of src/grpc/: the Deframer against a reference parse of the whole byte string
 * (whatever the bytes, however the stream cuts them into chunks), and the running server fed
 * arbitrary DATA on a Check stream, which must always answer with a gRPC status and stay up.
 */
import assert from 'node:assert/strict';
import { connect, type ClientHttp2Session } from 'node:http2';
import { after, before, test } from 'node:test';
import * as fc from 'fast-check';
import { Deframer, PREFIX_BYTES, type FramingFault } from '../../src/grpc/framing';
import { httpStatusOf } from '../support/envoy-client';
import { startHarness, type Harness } from '../support/harness';
import { holds } from './support/property';

/**
 * What a stream of `bytes` holds, read in one piece: the messages, then a fault or the bytes of an
 * unfinished frame.
 */
function referenceParse(
  bytes: Buffer,
  limit: number,
): { messages: Buffer[]; fault: FramingFault | undefined; pending: number } {
  const messages: Buffer[] = [];
  let offset = 0;
  while (bytes.length - offset >= PREFIX_BYTES) {
    const flag = bytes[offset] ?? 0;
    const length = bytes.readUInt32BE(offset + 1);
    if (length > limit) return { messages, fault: { fault: 'too_large', length }, pending: 0 };
    if (offset + PREFIX_BYTES + length > bytes.length) break;
    if (flag !== 0) return { messages, fault: { fault: 'flagged', flag }, pending: 0 };
    messages.push(bytes.subarray(offset + PREFIX_BYTES, offset + PREFIX_BYTES + length));
    offset += PREFIX_BYTES + length;
  }
  return { messages, fault: undefined, pending: bytes.length - offset };
}

function framed(message: Uint8Array, flag: number, lie: number): Buffer {
  const prefix = Buffer.alloc(PREFIX_BYTES);
  prefix[0] = flag;
  prefix.writeUInt32BE(Math.max(0, message.length + lie), 1);
  return Buffer.concat([prefix, message]);
}

const LIMIT = 64;
/** Mostly well-formed frames, some flagged, some whose length lies (short, long, past the limit). */
const frameBytes = fc
  .tuple(
    fc.uint8Array({ maxLength: 80 }),
    fc.constantFrom(0, 0, 0, 0, 1, 0x80),
    fc.constantFrom(0, 0, 0, -1, 1, 1_000, 2 ** 31),
  )
  .map(([message, flag, lie]) => framed(message, flag, lie));
const streamBytes = fc.oneof(
  fc.array(frameBytes, { maxLength: 6 }).map((frames) => Buffer.concat(frames)),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
);
/** Cut points for a byte string: where the stream's chunks end. */
const cuts = fc.array(fc.nat(), { maxLength: 12 });

function chunked(bytes: Buffer, at: number[]): Buffer[] {
  const points = [...new Set(at.map((point) => (bytes.length === 0 ? 0 : point % bytes.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

test('the Deframer reads any bytes, cut anywhere, as one parse of the whole stream does', async (t) => {
  await holds(
    t,
    fc.property(streamBytes, cuts, (bytes, at) => {
      const expected = referenceParse(bytes, LIMIT);
      const deframer = new Deframer(LIMIT);
      const messages: Buffer[] = [];
      let fault: FramingFault | undefined;
      for (const chunk of chunked(bytes, at)) {
        fault = deframer.push(chunk, (message) => messages.push(Buffer.from(message)));
        if (fault) break;
      }
      assert.deepEqual(
        messages.map((m) => m.toString('hex')),
        expected.messages.map((m) => m.toString('hex')),
        bytes.toString('hex'),
      );
      assert.deepEqual(fault, expected.fault, bytes.toString('hex'));
      if (!fault) assert.equal(deframer.pending, expected.pending);
    }),
    5_000,
  );
});

let h: Harness;
before(async () => {
  h = await startHarness({ config: { log: { level: 'warn' } } });
});
after(() => h.close());

/** Arbitrary bytes as the DATA of a Check stream: resolves its grpc-status (trailers-only or trailers). */
function rawCheck(session: ClientHttp2Session, chunks: Buffer[]): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/envoy.service.auth.v3.Authorization/Check',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let status: string | undefined;
    stream.on('response', (headers) => (status = headers['grpc-status']?.toString() ?? status));
    stream.on('trailers', (trailers) => (status = trailers['grpc-status']?.toString() ?? status));
    stream.on('data', () => undefined).on('error', reject);
    stream.on('close', () => resolve(status));
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
  });
}

test('any DATA on a Check stream gets a gRPC status: OK for one message, else INTERNAL, UNIMPLEMENTED or RESOURCE_EXHAUSTED; the server stays up', async (t) => {
  const session = connect(`http://127.0.0.1:${h.service.grpcPort}`);
  session.on('error', () => undefined);
  try {
    await holds(
      t,
      fc.asyncProperty(streamBytes, cuts, async (bytes, at) => {
        const status = await rawCheck(session, chunked(bytes, at));
        const expected = referenceParse(bytes, 10 * 1024 * 1024);
        const one = expected.fault === undefined && expected.pending === 0 && expected.messages.length === 1;
        if (one) assert.equal(status, '0', bytes.toString('hex'));
        else assert.ok(['12', '13', '8'].includes(status ?? ''), `${status} for ${bytes.toString('hex')}`);
      }),
      500,
    );
  } finally {
    session.close();
  }
  assert.equal(httpStatusOf(await h.client.check({ path: '/' })), 401);
});
