// Abusive clients of the service's gRPC port, bypassing Envoy: what a compromised pod next to
// the service could do. Each returns what it saw so the test can say what was tried.
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { readFileSync } from 'node:fs';
import { EnvoyClient, httpStatusOf, type OfficialCheckResponse } from '../support/envoy-client';
import { official } from '../support/official-schema';

const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';
/** A gRPC message frame holding an empty CheckRequest: valid on the wire, cheap to send. */
const EMPTY_CHECK = Buffer.from([0, 0, 0, 0, 0]);
const MiB = 1024 * 1024;

/** The process's resident set, from /proc (Linux), in MiB. */
export function rssMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match?.[1]) throw new Error(`no VmRSS for ${pid}`);
  return Math.round(Number(match[1]) / 1024);
}

/** Samples `pid`'s RSS every 100 ms until stopped; the peak is what a memory limit would see. */
export class RssSampler {
  peak = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), 100);
    this.sample();
  }
  private sample(): void {
    this.peak = Math.max(this.peak, rssMiB(this.pid));
  }
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

/** `count` Checks at once on one connection; resolves how many got a response. */
export async function concurrentStreams(port: number, count: number): Promise<number> {
  const client = new EnvoyClient(port);
  try {
    const results = await Promise.allSettled(
      Array.from({ length: count }, (_, i) => client.check({ path: `/abuse/${i}` }, 20_000)),
    );
    return results.filter((r) => r.status === 'fulfilled').length;
  } finally {
    client.close();
  }
}

export interface Oversized {
  /** HTTP statuses of the denials for messages over the handler's limit. */
  denied: number[];
  /** gRPC codes of messages over grpc-js's receive limit (RESOURCE_EXHAUSTED = 8). */
  refused: number[];
}

/** `count` requests with a header of `mib` MiB at once, then one over the receive limit. */
export async function oversizedMessages(
  port: number,
  count: number,
  mib: number,
  overLimitMib: number,
): Promise<Oversized> {
  const client = new EnvoyClient(port);
  try {
    const big = 'a'.repeat(mib * MiB);
    const answers = await Promise.all(
      Array.from({ length: count }, () => client.check({ headers: { 'x-big': big } }, 20_000)),
    );
    const denied = answers.map((a) => a.denied_response?.status?.code ?? 200);
    const refused: number[] = [];
    await client.check({ headers: { 'x-big': 'a'.repeat(overLimitMib * MiB) } }, 20_000).then(
      () => refused.push(0),
      (error: { code?: number }) => refused.push(error.code ?? -1),
    );
    return { denied, refused };
  } finally {
    client.close();
  }
}

function session(port: number, settings: { initialWindowSize?: number } = {}): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    // Node refuses new streams once a session has 10 MB queued to send (maxSessionMemory): a
    // client writing 10 MiB messages needs more.
    const s = connect(`http://127.0.0.1:${port}`, { settings, maxSessionMemory: 64 });
    s.once('connect', () => resolve(s)).once('error', reject);
  });
}

function checkStream(s: ClientHttp2Session): ReturnType<ClientHttp2Session['request']> {
  const stream = s.request({
    [constants.HTTP2_HEADER_METHOD]: 'POST',
    [constants.HTTP2_HEADER_PATH]: CHECK_PATH,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.end(EMPTY_CHECK);
  return stream;
}

/**
 * A client that opens `count` Check streams and never reads: its flow-control window is zero,
 * so no answer can be delivered and the server must hold them, for `holdMs`.
 */
export async function neverReads(port: number, count: number, holdMs: number): Promise<number> {
  const s = await session(port, { initialWindowSize: 0 });
  let opened = 0;
  for (let i = 0; i < count; i++) {
    const stream = checkStream(s);
    stream.on('error', () => undefined);
    opened++;
  }
  await new Promise((resolve) => setTimeout(resolve, holdMs));
  s.destroy();
  return opened;
}

/** `count` new HTTP/2 connections at once, each with one Check; resolves how many were answered. */
export async function connectionBurst(port: number, count: number): Promise<number> {
  const one = async (): Promise<boolean> => {
    const s = await session(port);
    try {
      return await new Promise<boolean>((resolve) => {
        const stream = checkStream(s);
        stream.on('response', () => undefined).on('data', () => undefined);
        stream.on('trailers', (trailers) => resolve(trailers['grpc-status'] === '0'));
        stream.on('error', () => resolve(false));
        stream.setTimeout(20_000, () => resolve(false));
      });
    } finally {
      s.destroy();
    }
  };
  const results = await Promise.allSettled(Array.from({ length: count }, one));
  return results.filter((r) => r.status === 'fulfilled' && r.value).length;
}

/** A length-delimited protobuf field (field numbers below 16). */
function lengthDelimited(field: number, body: Buffer): Buffer {
  const length: number[] = [];
  for (let rest = body.length; ; rest >>>= 7) {
    if (rest < 0x80) {
      length.push(rest);
      break;
    }
    length.push((rest & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from([(field << 3) | 2, ...length]), body]);
}

/**
 * A gRPC message frame holding a CheckRequest for GET https://app.example.com/ with one extra
 * header line (and a request body if given), encoded by hand: an 8 MiB value costs a copy, not a
 * protobuf library's walk.
 */
export function checkFrameWithHeader(name: string, value: string, body = ''): Buffer {
  const entry = Buffer.concat([
    lengthDelimited(1, Buffer.from(name)),
    lengthDelimited(2, Buffer.from(value, 'latin1')),
  ]);
  const http = Buffer.concat([
    lengthDelimited(2, Buffer.from('GET')),
    lengthDelimited(4, Buffer.from('/')),
    lengthDelimited(5, Buffer.from('app.example.com')),
    lengthDelimited(6, Buffer.from('https')),
    lengthDelimited(3, entry),
    // with_request_body's body (field 11), which the service skips unread.
    ...(body ? [lengthDelimited(11, Buffer.from(body, 'latin1'))] : []),
  ]);
  const message = lengthDelimited(1, lengthDelimited(4, lengthDelimited(2, http)));
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** `count` HTTP/2 connections to the service. */
export function connections(port: number, count: number): Promise<ClientHttp2Session[]> {
  return Promise.all(Array.from({ length: count }, () => session(port).then((s) => s.on('error', () => undefined))));
}

export interface RawAnswer {
  /** The grpc-status, or 'reset' when the stream ended without one. */
  grpcStatus: string;
  /** The HTTP status Envoy would answer with, when a CheckResponse came back. */
  httpStatus?: number;
}

const CheckResponse = official.lookupType('envoy.service.auth.v3.CheckResponse');

/**
 * One Check with `frame` as its message, or only its first `stallAfter` bytes and then nothing
 * more; `metadata` adds request headers (a grpc-timeout).
 */
export function sendFrame(
  s: ClientHttp2Session,
  frame: Buffer,
  stallAfter?: number,
  metadata: Readonly<Record<string, string>> = {},
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const stream = s.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: CHECK_PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...metadata,
    });
    const answer: RawAnswer = { grpcStatus: 'reset' };
    const chunks: Buffer[] = [];
    stream.on('response', () => undefined).on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('trailers', (trailers) => {
      answer.grpcStatus = String(trailers['grpc-status']);
      const message = Buffer.concat(chunks).subarray(5);
      if (message.length > 0) {
        answer.httpStatus = httpStatusOf(
          CheckResponse.toObject(CheckResponse.decode(message), { defaults: true }) as OfficialCheckResponse,
        );
      }
      // A stalled sender's stream stays half open until it gives up; this one gives up on its answer.
      if (stallAfter !== undefined) stream.close();
    });
    stream.on('error', () => undefined);
    stream.on('close', () => resolve(answer));
    if (stallAfter === undefined) stream.end(frame);
    else stream.write(frame.subarray(0, stallAfter));
  });
}

/**
 * Sends `frame` again and again on each connection, one call at a time each, until `until`; counts
 * the grpc-statuses.
 */
export async function flood(
  sessions: readonly ClientHttp2Session[],
  frame: Buffer,
  until: number,
): Promise<Record<string, number>> {
  const statuses: Record<string, number> = {};
  await Promise.all(
    sessions.map(async (s) => {
      while (Date.now() < until && !s.destroyed) {
        const { grpcStatus } = await sendFrame(s, frame);
        statuses[grpcStatus] = (statuses[grpcStatus] ?? 0) + 1;
      }
    }),
  );
  return statuses;
}

export interface Probed {
  /** Checks answered within their deadline. */
  answered: number;
  /** Checks that failed, most often DEADLINE_EXCEEDED. */
  failed: number;
  slowestMs: number;
}

/** A legitimate check every `everyMs` until `until`, each with `deadlineMs`, as Envoy would send it. */
export async function probe(port: number, until: number, deadlineMs: number, everyMs = 20): Promise<Probed> {
  const client = new EnvoyClient(port);
  const probed: Probed = { answered: 0, failed: 0, slowestMs: 0 };
  try {
    while (Date.now() < until) {
      const started = performance.now();
      await client.check({ path: '/probe' }, deadlineMs).then(
        () => probed.answered++,
        () => probed.failed++,
      );
      probed.slowestMs = Math.max(probed.slowestMs, Math.round(performance.now() - started));
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  } finally {
    client.close();
  }
  return probed;
}
