// The service's own gRPC transport (src/grpc/) held to the gRPC protocol (PROTOCOL-HTTP2.md)
// from outside: grpc-js's client is the oracle where it has an opinion (status codes, health),
// raw node:http2 frames where the wire itself is the point (trailers-only answers, SETTINGS,
// GOAWAY, floods).
import assert from 'node:assert/strict';
import {
  connect,
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
} from 'node:http2';
import { connect as connectTcp, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { GrpcServer } from '../../src/grpc/server';
import { MAX_CONCURRENT_STREAMS, MAX_RECEIVE_MESSAGE_BYTES } from '../../src/server/grpc-server';
import { checkRequest, EnvoyClient, httpStatusOf, metadataOf } from '../support/envoy-client';
import { startHarness, type Harness } from '../support/harness';
import { healthStatus } from '../support/health-client';
import { official } from '../support/official-schema';

const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';
const CheckRequest = official.lookupType('envoy.service.auth.v3.CheckRequest');
const CheckResponse = official.lookupType('envoy.service.auth.v3.CheckResponse');

let h: Harness;
before(async () => {
  h = await startHarness({ config: { kratos: { timeout: '1500ms' } } });
});
after(() => h.close());

function frame(message: Buffer, flag = 0): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = flag;
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

function encodedCheck(headers: Record<string, string> = {}): Buffer {
  return Buffer.from(CheckRequest.encode(CheckRequest.fromObject(checkRequest({ headers }))).finish());
}

interface RawAnswer {
  headers: IncomingHttpHeaders;
  /** The response HEADERS ended the stream: a trailers-only answer. */
  trailersOnly: boolean;
  trailers: IncomingHttpHeaders | undefined;
  body: Buffer;
  /** performance.now() when the response HEADERS came. */
  respondedAt: number;
}

/** A Check call's stream, as gRPC clients open it; `headers` add to or replace its request headers. */
function checkStream(session: ClientHttp2Session, headers: Record<string, string> = {}): ClientHttp2Stream {
  return session.request({
    ':method': 'POST',
    ':path': CHECK_PATH,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...headers,
  });
}

/**
 * One request on `session`, its body written as given (`bodyAfterMs` after its headers); resolves
 * what came back once the stream closes.
 */
function rawCall(
  session: ClientHttp2Session,
  headers: Record<string, string>,
  body: Buffer | undefined,
  bodyAfterMs = 0,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const stream = checkStream(session, headers);
    const answer: RawAnswer = {
      headers: {},
      trailersOnly: false,
      trailers: undefined,
      body: Buffer.alloc(0),
      respondedAt: NaN,
    };
    const chunks: Buffer[] = [];
    stream.on('response', (responseHeaders, flags) => {
      answer.respondedAt = performance.now();
      answer.headers = responseHeaders;
      answer.trailersOnly = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    });
    stream.on('trailers', (trailers) => (answer.trailers = trailers));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', reject);
    stream.on('close', () => resolve({ ...answer, body: Buffer.concat(chunks) }));
    const send = () => (body ? stream.end(body) : stream.end());
    if (bodyAfterMs > 0) setTimeout(send, bodyAfterMs);
    else send();
  });
}

function openSession(port = h.service.grpcPort): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://127.0.0.1:${port}`);
    session.once('remoteSettings', () => resolve(session)).once('error', reject);
  });
}

async function withSession<T>(use: (session: ClientHttp2Session) => Promise<T>): Promise<T> {
  const session = await openSession();
  try {
    return await use(session);
  } finally {
    session.close();
  }
}

function assertTrailersOnly(answer: RawAnswer, grpcStatus: number, message: RegExp): void {
  assert.equal(answer.headers[':status'], 200);
  assert.equal(answer.trailersOnly, true, 'the status comes in the response HEADERS, which end the stream');
  assert.equal(answer.headers['grpc-status'], String(grpcStatus));
  assert.match(decodeURIComponent(String(answer.headers['grpc-message'])), message);
  assert.equal(answer.body.length, 0);
}

/** A grpc-js call of any method path, its message as raw bytes: resolves the status code. */
function grpcJsStatus(path: string, message: Buffer, options: grpc.ChannelOptions = {}): Promise<number> {
  const client = new grpc.Client(`127.0.0.1:${h.service.grpcPort}`, grpc.credentials.createInsecure(), options);
  return new Promise<number>((resolve) => {
    client.makeUnaryRequest(
      path,
      (bytes: Buffer) => bytes,
      (bytes: Buffer) => bytes,
      message,
      { deadline: Date.now() + 5_000 },
      (error) => resolve(error ? error.code : grpc.status.OK),
    );
  }).finally(() => client.close());
}

describe('methods', () => {
  test('a Check answered by the service is read by grpc-js as the official CheckResponse', async () => {
    const response = await h.client.check({ path: '/' });
    assert.equal(httpStatusOf(response), 401);
    assert.equal(metadataOf(response).decision, 'deny');
  });

  test('an unknown method of a known service, and an unknown service, are UNIMPLEMENTED (grpc-js)', async () => {
    assert.equal(
      await grpcJsStatus('/envoy.service.auth.v3.Authorization/Nope', Buffer.alloc(0)),
      grpc.status.UNIMPLEMENTED,
    );
    assert.equal(await grpcJsStatus('/no.such.Service/Check', Buffer.alloc(0)), grpc.status.UNIMPLEMENTED);
  });

  test('an unknown method is a trailers-only answer', async () => {
    const answer = await withSession((session) =>
      rawCall(session, { ':path': '/no.such.Service/Check' }, frame(Buffer.alloc(0))),
    );
    assertTrailersOnly(answer, grpc.status.UNIMPLEMENTED, /no\.such\.Service\/Check is not served/);
  });

  test('grpc.health.v1 Check: SERVING for "" and the Authorization service, NOT_FOUND for another name; Watch is UNIMPLEMENTED', async () => {
    assert.equal(await healthStatus(h.service.grpcPort, ''), 'SERVING');
    assert.equal(await healthStatus(h.service.grpcPort, 'envoy.service.auth.v3.Authorization'), 'SERVING');
    await assert.rejects(
      healthStatus(h.service.grpcPort, 'other'),
      (error: grpc.ServiceError) => error.code === grpc.status.NOT_FOUND,
    );
    assert.equal(await grpcJsStatus('/grpc.health.v1.Health/Watch', Buffer.alloc(0)), grpc.status.UNIMPLEMENTED);
  });

  test('a request that is not gRPC (no application/grpc content-type) gets HTTP 415', async () => {
    const answer = await withSession((session) =>
      rawCall(session, { 'content-type': 'application/json' }, Buffer.from('{}')),
    );
    assert.equal(answer.headers[':status'], 415);
  });
});

describe('framing', () => {
  test('a message split across many DATA frames is read whole', async () => {
    const bytes = frame(encodedCheck({ 'x-padding': 'p'.repeat(100_000) }));
    const answer = await withSession(
      (session) =>
        new Promise<RawAnswer>((resolve, reject) => {
          const stream = checkStream(session);
          const chunks: Buffer[] = [];
          let trailers: IncomingHttpHeaders | undefined;
          stream
            .on('trailers', (t) => (trailers = t))
            .on('data', (chunk: Buffer) => chunks.push(chunk))
            .on('error', reject);
          stream.on('close', () =>
            resolve({ headers: {}, trailersOnly: false, trailers, body: Buffer.concat(chunks), respondedAt: NaN }),
          );
          // 1, 2, 3, ... byte pieces first, so the prefix itself arrives split.
          let offset = 0;
          for (let size = 1; offset < 64; size++, offset += size - 1)
            stream.write(bytes.subarray(offset, offset + size));
          stream.end(bytes.subarray(offset));
        }),
    );
    assert.equal(answer.trailers?.['grpc-status'], '0');
    assert.equal(answer.body.readUInt32BE(1), answer.body.length - 5);
    const response = CheckResponse.toObject(CheckResponse.decode(answer.body.subarray(5)), { defaults: true }) as {
      denied_response: { status: { code: number } };
    };
    assert.equal(response.denied_response.status.code, 401);
  });

  test('a prefix announcing more than the receive limit is RESOURCE_EXHAUSTED at once, before the bytes come', async () => {
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(MAX_RECEIVE_MESSAGE_BYTES + 1, 1);
    const answer = await withSession(
      (session) =>
        new Promise<RawAnswer>((resolve, reject) => {
          const stream = checkStream(session);
          stream.on('response', (headers, flags) =>
            resolve({
              headers,
              trailersOnly: (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0,
              trailers: undefined,
              body: Buffer.alloc(0),
              respondedAt: performance.now(),
            }),
          );
          stream.on('error', reject);
          // The prefix and nothing else, the stream left open: the answer cannot wait for the rest.
          stream.write(prefix);
        }),
    );
    assertTrailersOnly(
      answer,
      grpc.status.RESOURCE_EXHAUSTED,
      new RegExp(`${MAX_RECEIVE_MESSAGE_BYTES + 1} bytes is over the limit`),
    );
  });

  test('a message at the receive limit is read and answered with a denial, not an RPC error', async () => {
    // A header filling the message to exactly the limit (its length varints grow with it, hence
    // the second pass): over 1 MiB of headers, so a 413.
    const sized = (length: number) => encodedCheck({ 'x-big': 'b'.repeat(length) });
    const first = MAX_RECEIVE_MESSAGE_BYTES - encodedCheck({ 'x-big': '' }).length;
    const bytes = sized(first - (sized(first).length - MAX_RECEIVE_MESSAGE_BYTES));
    assert.equal(bytes.length, MAX_RECEIVE_MESSAGE_BYTES);
    const client = new EnvoyClient(h.service.grpcPort);
    try {
      assert.equal(httpStatusOf(await client.sendBytes(bytes, 30_000)), 413);
    } finally {
      client.close();
    }
  });

  test('the compressed flag without grpc-encoding is INTERNAL; a grpc-encoding other than identity is UNIMPLEMENTED', async () => {
    const flagged = await withSession((session) => rawCall(session, {}, frame(encodedCheck(), 1)));
    assertTrailersOnly(flagged, grpc.status.INTERNAL, /flag 1 was sent without an accepted grpc-encoding/);
    const gzip = await withSession((session) =>
      rawCall(session, { 'grpc-encoding': 'gzip' }, frame(encodedCheck(), 1)),
    );
    assertTrailersOnly(gzip, grpc.status.UNIMPLEMENTED, /grpc-encoding gzip is not accepted/);
    assert.equal(gzip.headers['grpc-accept-encoding'], 'identity');
  });

  test('grpc-js set to compress with gzip is refused UNIMPLEMENTED, never answered from bytes it cannot read', async () => {
    const status = await grpcJsStatus(CHECK_PATH, encodedCheck(), { 'grpc.default_compression_algorithm': 2 });
    // grpc-js compresses only after the server said it takes gzip; told identity, it sends plain bytes.
    assert.ok(status === grpc.status.UNIMPLEMENTED || status === grpc.status.OK, `status ${status}`);
  });

  test('two messages on a unary call are UNIMPLEMENTED; a stream ending inside a message, or with none, is INTERNAL', async () => {
    const two = await withSession((session) =>
      rawCall(session, {}, Buffer.concat([frame(encodedCheck()), frame(encodedCheck())])),
    );
    assertTrailersOnly(two, grpc.status.UNIMPLEMENTED, /a second request message/);
    const cut = await withSession((session) => rawCall(session, {}, frame(encodedCheck()).subarray(0, 12)));
    assertTrailersOnly(cut, grpc.status.INTERNAL, /ended inside a message/);
    const none = await withSession((session) => rawCall(session, {}, undefined));
    assertTrailersOnly(none, grpc.status.INTERNAL, /without a request message/);
  });
});

describe('grpc-timeout', () => {
  // kratos.timeout is 1.5 s: a deadline below it cuts the whoami call to fit (a 503 denial within
  // the deadline), one above it leaves the call its 1.5 s. The logged cut shows the parsed value.
  // Each with the deadline it means in ms; Infinity: past kratos.timeout.
  const deadlines: Readonly<Record<string, number>> = {
    '600m': 600,
    '600000u': 600,
    '90000000n': 90,
    '1S': 1_000,
    '1M': Infinity,
    '1H': Infinity,
  };
  const TRANSIT_MS = 50;
  for (const [timeout, deadlineMs] of Object.entries(deadlines)) {
    test(`grpc-timeout ${timeout}: the whoami call is ${deadlineMs < Infinity ? 'cut to the deadline' : 'given its whole kratos.timeout'}, the answer a 503 denial`, async () => {
      const session = h.newSession(h.emulator.addIdentity());
      h.emulator.fail('whoami', { mode: 'hang', count: 1 });
      const logsBefore = h.logs.length;
      let elapsed = 0;
      const answer = await withSession(async (s) => {
        const started = Date.now();
        const answered = await rawCall(
          s,
          { 'grpc-timeout': timeout },
          frame(encodedCheck({ 'x-session-token': session.token })),
        );
        elapsed = Date.now() - started;
        return answered;
      });
      assert.equal(answer.trailers?.['grpc-status'], '0');
      const response = CheckResponse.toObject(CheckResponse.decode(answer.body.subarray(5)), { defaults: true }) as {
        denied_response: { status: { code: number } };
      };
      assert.equal(response.denied_response.status.code, 503);
      const detail = String(h.logs.slice(logsBefore).find((line) => line.reason === 'kratos_unavailable')?.detail);
      const cutTo = Number(/^whoami timeout after (\d+)ms$/.exec(detail)?.[1]);
      if (deadlineMs < Infinity) {
        // The cut leaves an answer margin of a tenth of the deadline, less what the call took to arrive.
        // A misread unit is off by a factor of 1000 or more: these bounds tell the units apart
        // without timing the cut itself (a loaded machine cut a 1 S deadline's call at ~550 ms).
        assert.ok(cutTo < deadlineMs && cutTo >= deadlineMs / 4, detail);
        // The deadline runs from the server's reading of the headers; the client's clock also
        // counts the loopback hops and its own event loop (up to tens of ms on a loaded machine).
        assert.ok(elapsed < deadlineMs + TRANSIT_MS, `answered after ${elapsed} ms`);
      } else {
        assert.ok(cutTo >= 1_500 && cutTo < 1_600, detail);
      }
    });
  }

  for (const malformed of ['1x', '123456789S', '', '-1S', '1.5S', 'S']) {
    test(`a malformed grpc-timeout (${JSON.stringify(malformed)}) is INTERNAL, not a call without a deadline`, async () => {
      const answer = await withSession((session) =>
        rawCall(session, { 'grpc-timeout': malformed }, frame(encodedCheck())),
      );
      assertTrailersOnly(answer, grpc.status.INTERNAL, /grpc-timeout is malformed/);
    });
  }

  test('a message not in shortly before the deadline is a 408 denial sent in time, never an RPC error', async () => {
    // A 30 ms deadline and a message that comes 200 ms after the call's headers.
    const started = performance.now();
    const answer = await withSession((session) =>
      rawCall(session, { 'grpc-timeout': '30m' }, frame(encodedCheck()), 200),
    );
    const answeredAfter = answer.respondedAt - started;
    assert.ok(answeredAfter < 30 + 20, `answered after ${Math.round(answeredAfter)} ms`);
    assert.equal(answer.trailers?.['grpc-status'], '0');
    const response = CheckResponse.toObject(CheckResponse.decode(answer.body.subarray(5)), { defaults: true }) as {
      status: { code: number };
      denied_response: { status: { code: number } };
    };
    assert.equal(response.denied_response.status.code, 408);
    assert.equal(response.status.code, grpc.status.DEADLINE_EXCEEDED);
  });

  test('an answer ready after the deadline is DEADLINE_EXCEEDED, not delivered late', async () => {
    // A method that takes 50 ms, called with a 5 ms deadline.
    const server = new GrpcServer(new Map([['/slow/Call', { answer: () => sleep(50).then(() => Buffer.alloc(5)) }]]), {
      maxReceiveMessageBytes: 1024,
      maxConcurrentStreams: 8,
      receiveSlots: 1,
      receiveSlotsPerConnection: 1,
      receiveMs: 250,
      onUnexpectedError: () => undefined,
    });
    await new Promise<void>((resolve) => server.listener.listen(0, '127.0.0.1', resolve));
    const { port } = server.listener.address() as AddressInfo;
    try {
      const session = await openSession(port);
      try {
        const answer = await rawCall(session, { ':path': '/slow/Call', 'grpc-timeout': '5m' }, frame(Buffer.alloc(0)));
        assertTrailersOnly(answer, grpc.status.DEADLINE_EXCEEDED, /deadline passed/);
      } finally {
        session.close();
      }
    } finally {
      await server.close(1_000);
    }
  });
});

describe('HTTP/2', () => {
  test(`the server announces SETTINGS_MAX_CONCURRENT_STREAMS ${MAX_CONCURRENT_STREAMS}`, async () => {
    const settings = await withSession(async (session) => session.remoteSettings);
    assert.equal(settings.maxConcurrentStreams, MAX_CONCURRENT_STREAMS);
  });

  test(
    'rapid reset (HEADERS then RST_STREAM, over and over) ends that connection with a GOAWAY; others are served',
    { timeout: 30_000 },
    async () => {
      const socket = await rawSocket(h.service.grpcPort);
      const goaway = readGoaway(socket);
      const headerBlock = literalHeaders([
        [':method', 'POST'],
        [':scheme', 'http'],
        [':path', CHECK_PATH],
        [':authority', 'localhost'],
        ['content-type', 'application/grpc'],
      ]);
      const frames: Buffer[] = [];
      for (let id = 1; id < 2 * 20_000; id += 2)
        frames.push(h2Frame(0x1, 0x4, id, headerBlock), h2Frame(0x3, 0, id, u32(0x8)));
      socket.write(Buffer.concat(frames));
      // nghttp2's reset rate limit (Node 20's built-in, Node 24's streamResetBurst/Rate) answers
      // INTERNAL_ERROR; Node's own limits answer ENHANCE_YOUR_CALM.
      assert.ok(
        [constants.NGHTTP2_INTERNAL_ERROR, constants.NGHTTP2_ENHANCE_YOUR_CALM].includes(await goaway),
        'a GOAWAY with an error',
      );
      socket.destroy();
      assert.equal(httpStatusOf(await h.client.check({ path: '/' })), 401);
    },
  );

  test(`a SETTINGS frame with more entries than maxSettings ends the connection`, { timeout: 30_000 }, async () => {
    const socket = await rawSocket(h.service.grpcPort);
    const closed = readGoaway(socket);
    const entries = Buffer.concat(Array.from({ length: 40 }, () => Buffer.concat([u16(0x4), u32(65_535)])));
    socket.write(h2Frame(0x4, 0, 0, entries));
    assert.notEqual(await closed, 0, 'a GOAWAY with an error, or the connection closed');
    socket.destroy();
  });

  test(
    'a PING flood from a peer that never reads ends that connection; others are served',
    { timeout: 30_000 },
    async () => {
      const socket = await rawSocket(h.service.grpcPort);
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.pause();
      const pings = Buffer.concat(Array.from({ length: 10_000 }, (_, i) => h2Frame(0x6, 0, 0, Buffer.alloc(8, i))));
      const written = async () => {
        for (let i = 0; i < 200 && !socket.destroyed; i++)
          if (!socket.write(pings)) await new Promise((resolve) => setTimeout(resolve, 10));
      };
      await written();
      socket.resume();
      socket.on('data', () => undefined);
      await closed;
      assert.equal(httpStatusOf(await h.client.check({ path: '/' })), 401);
    },
  );
});

test(
  'shutdown: GOAWAY to open connections, the check in flight answered, new streams and connections refused',
  { timeout: 30_000 },
  async () => {
    const own = await startHarness({
      config: { server: { shutdown_timeout: '5s', drain_delay: '0s' }, kratos: { timeout: '3s' } },
    });
    try {
      const session = await openSession(own.service.grpcPort);
      const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
      const patient = own.newSession(own.emulator.addIdentity());
      own.emulator.setLatency('whoami', 500);
      const inFlight = rawCall(session, {}, frame(encodedCheck({ 'x-session-token': patient.token })));
      await new Promise((resolve) => setTimeout(resolve, 150));
      const stopped = own.service.shutdown();
      assert.equal(await goaway, constants.NGHTTP2_NO_ERROR);
      const answer = await inFlight;
      assert.equal(answer.trailers?.['grpc-status'], '0', 'the check in flight got its answer');
      const response = CheckResponse.toObject(CheckResponse.decode(answer.body.subarray(5)), { defaults: true }) as {
        status: { code: number };
      };
      assert.equal(response.status.code, 0, 'and it is the allow its session earns');
      // Node 20 throws at once, Node 24 fails the stream: either way no stream is opened.
      const refused = await new Promise<Error>((resolve) => {
        try {
          session.request({ ':method': 'POST', ':path': CHECK_PATH }).once('error', resolve);
        } catch (error) {
          resolve(error as Error);
        }
      });
      assert.match(refused.message, /after receiving a GOAWAY/, 'no new stream on a connection told to go away');
      await stopped;
      await assert.rejects(openSession(own.service.grpcPort), /ECONNREFUSED/);
    } finally {
      await own.close().catch(() => undefined);
    }
  },
);

// ---- raw HTTP/2, for what no client library will send ------------------------------------------

function u16(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value);
  return bytes;
}

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

function h2Frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK literal header fields without indexing, new names, no Huffman (each under 127 bytes). */
function literalHeaders(headers: Array<[string, string]>): Buffer {
  return Buffer.concat(
    headers.map(([name, value]) =>
      Buffer.concat([
        Buffer.from([0x00, name.length]),
        Buffer.from(name),
        Buffer.from([value.length]),
        Buffer.from(value),
      ]),
    ),
  );
}

/** A TCP connection that has sent the HTTP/2 preface and an empty SETTINGS frame. */
function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1', () => {
      socket.write(
        Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), h2Frame(0x4, 0, 0, Buffer.alloc(0))]),
      );
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Resolves the error code of the first GOAWAY the server sends, or -1 if it closes without one. */
function readGoaway(socket: Socket): Promise<number> {
  return new Promise((resolve) => {
    let buffered = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) return;
        if (buffered[3] === 0x7) return resolve(buffered.readUInt32BE(9 + 4));
        buffered = buffered.subarray(9 + length);
      }
    });
    socket.once('close', () => resolve(-1));
  });
}
