/**
 * Fuzzed bytes as the CheckRequest message of a real RPC to the running service, sent by grpc-js
 * and as raw HTTP/2 frames by node:http2: whatever the bytes, the call succeeds with an answer
 * (a decision, or a 400 denial when they are not a CheckRequest), never a gRPC error, which
 * Envoy with failure_mode_allow would let through.
 */
import assert from 'node:assert/strict';
import { connect, type ClientHttp2Session } from 'node:http2';
import { after, before, test } from 'node:test';
import * as fc from 'fast-check';
import { decodeCheckRequest } from '../../src/envoy/codec';
import { MAX_CHECK_REQUEST_BYTES } from '../../src/envoy/proto';
import { deniedJson, httpStatusOf, metadataOf } from '../support/envoy-client';
import { startHarness, type Harness } from '../support/harness';
import { official } from '../support/official-schema';
import { checkRequestBytes, envoyShapedBytes } from './support/check-request-arbitrary';
import { mutate, mutation } from './support/mutation';
import { holds } from './support/property';
import { varint } from './support/wire';

let h: Harness;
before(async () => {
  h = await startHarness({ config: { policy: { rules: [{ name: 'open', paths: ['/open/*'], anonymous: true }] } } });
});
after(() => h.close());

function decodes(bytes: Buffer): boolean {
  try {
    decodeCheckRequest(bytes);
    return true;
  } catch {
    return false;
  }
}

const anyBytes = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
  fc
    .tuple(fc.oneof(checkRequestBytes, envoyShapedBytes), fc.array(mutation, { minLength: 1, maxLength: 3 }))
    .map(([bytes, mutations]) => mutate(bytes, mutations)),
  checkRequestBytes,
);

test('every byte string gets a successful RPC: a decision, or a 400 denial when it is not a CheckRequest', async (t) => {
  await holds(
    t,
    fc.asyncProperty(anyBytes, async (bytes) => {
      const response = await h.client.sendBytes(bytes);
      const status = httpStatusOf(response);
      if (!decodes(bytes)) {
        assert.equal(status, 400, bytes.toString('hex'));
        assert.equal(metadataOf(response).reason, 'bad_request');
      }
      // Nothing here carries a session: no answer may be an OK outside the anonymous rule.
      if (status === 200)
        assert.ok(['anonymous', 'cors_preflight'].includes(metadataOf(response).reason ?? ''), bytes.toString('hex'));
    }),
    2000,
  );
});

/** One Check call written as raw HTTP/2 frames (no gRPC library): the status, grpc-status and the message. */
function rawCheck(
  session: ClientHttp2Session,
  message: Buffer,
): Promise<{ status: number; grpcStatus: string | undefined; message: Buffer }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': CHECK_PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(message.length, 1);
    const chunks: Buffer[] = [];
    let status = 0;
    let grpcStatus: string | undefined;
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
      grpcStatus = headers['grpc-status']?.toString();
    });
    stream.on('trailers', (trailers) => {
      grpcStatus = trailers['grpc-status']?.toString() ?? grpcStatus;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', reject);
    stream.on('close', () => resolve({ status, grpcStatus, message: Buffer.concat(chunks).subarray(5) }));
    stream.end(Buffer.concat([prefix, message]));
  });
}

const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';
const OfficialResponse = official.lookupType('envoy.service.auth.v3.CheckResponse');

test('the same bytes in raw HTTP/2 frames get grpc-status 0 and a CheckResponse', async (t) => {
  const session = connect(`http://127.0.0.1:${h.service.grpcPort}`);
  try {
    await holds(
      t,
      fc.asyncProperty(anyBytes, async (bytes) => {
        const answer = await rawCheck(session, bytes);
        assert.equal(answer.status, 200);
        assert.equal(answer.grpcStatus, '0', bytes.toString('hex'));
        const response = OfficialResponse.toObject(OfficialResponse.decode(answer.message), { defaults: true }) as {
          status: { code: number };
        };
        if (!decodes(bytes)) assert.equal(response.status.code, 3, bytes.toString('hex'));
      }),
      300,
    );
  } finally {
    session.close();
  }
});

/** attributes { request { http { method GET, path /, header_map { `count` empty headers } } } }. */
function manyEmptyHeaderLines(count: number): Buffer {
  const field = (tag: number, body: Buffer) =>
    Buffer.concat([Buffer.from([tag]), Buffer.from(varint(BigInt(body.length))), body]);
  const http = Buffer.concat([
    field(0x12, Buffer.from('GET')),
    field(0x22, Buffer.from('/')),
    field(0x6a, Buffer.alloc(2 * count, Buffer.from([0x0a, 0x00]))),
  ]);
  return field(0x0a, field(0x22, field(0x12, http)));
}

// Found by measuring the decoder's allocation: four million 2-byte entries (8 MiB, under the
// 8 MiB request limit) took ~220 MB of heap, past the service's 160 MiB, so one such request
// crashed the process and failed every check in flight.
test('8 MiB of empty header lines is refused with a 400 before it is held in memory', async () => {
  const bytes = manyEmptyHeaderLines(4_000_000 - 16);
  assert.ok(bytes.length <= MAX_CHECK_REQUEST_BYTES);
  const response = await h.client.sendBytes(bytes, 30_000);
  assert.equal(httpStatusOf(response), 400);
  assert.match((deniedJson(response).error as { message: string }).message, /more than 10000/);
});
