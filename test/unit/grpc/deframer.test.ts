import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Deframer, PREFIX_BYTES } from '../../../src/grpc/framing';

const MESSAGE_BYTES = 65_535 - PREFIX_BYTES;

function frameOf(message: Buffer): Buffer {
  const prefix = Buffer.alloc(PREFIX_BYTES);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

// One stream window of a frame, a byte per DATA frame: node:http2 hands each over as a Buffer of
// its own. Kept as pieces, they took ≈ 100 bytes of heap each (6 MiB a stream, 1.6 GiB for one
// connection's 256 streams, for 17 MB of a peer's traffic), and reading the prefix again over
// every piece held made each byte cost more than the last: these eight frames had taken over
// ten minutes of CPU, the event loop blocked, when the old reader was stopped.
test(
  'a frame sent a byte at a time is read whole, in linear time, holding its bytes and not a Buffer a piece',
  { timeout: 20_000 },
  () => {
    setFlagsFromString('--expose-gc');
    const collect = runInNewContext('gc') as () => void;
    const message = Buffer.alloc(MESSAGE_BYTES, 0x61);
    const frame = frameOf(message);
    const deframers = Array.from({ length: 8 }, () => new Deframer(1024 * 1024));
    collect();
    const before = process.memoryUsage().heapUsed;
    for (const deframer of deframers) {
      for (let index = 0; index < frame.length - 1; index++) {
        assert.equal(
          deframer.push(frame.subarray(index, index + 1), () => assert.fail('not whole yet')),
          undefined,
        );
      }
      assert.equal(deframer.pending, frame.length - 1);
      assert.equal(deframer.frameBytes, frame.length);
    }
    collect();
    const heldMiB = (process.memoryUsage().heapUsed - before) / 1024 / 1024;
    assert.ok(heldMiB < 2, `8 frames begun held ${heldMiB.toFixed(1)} MiB of heap`);
    for (const deframer of deframers) {
      const read: Buffer[] = [];
      deframer.push(frame.subarray(frame.length - 1), (whole) => read.push(whole));
      assert.deepEqual(read, [message]);
      assert.equal(deframer.pending, 0);
    }
  },
);

test('a prefix and part of a frame in one chunk, the rest in another, reads as one message and a view of the next', () => {
  const first = Buffer.from('first message');
  const second = Buffer.from('second');
  const bytes = Buffer.concat([frameOf(first), frameOf(second)]);
  const deframer = new Deframer(1024);
  const read: string[] = [];
  assert.equal(
    deframer.push(bytes.subarray(0, 3), (m) => read.push(m.toString())),
    undefined,
  );
  assert.equal(deframer.frameBytes, 0, 'the prefix is not in yet');
  deframer.push(bytes.subarray(3), (m) => read.push(m.toString()));
  assert.deepEqual(read, ['first message', 'second']);
  assert.equal(deframer.pending, 0);
});

test('a prefix announcing more than the limit is refused from the prefix alone, even split', () => {
  const deframer = new Deframer(100);
  const prefix = Buffer.alloc(PREFIX_BYTES);
  prefix.writeUInt32BE(101, 1);
  assert.equal(
    deframer.push(Buffer.concat([Buffer.from('x'), prefix.subarray(0, 2)]).subarray(1), () => {}),
    undefined,
  );
  assert.deepEqual(
    deframer.push(prefix.subarray(2), () => {}),
    { fault: 'too_large', length: 101 },
  );
});
