// Abusive clients of the service's gRPC port, bypassing Envoy: what a compromised pod next to
// the service could do. Each returns what it saw so the test can say what was tried.
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { readFileSync } from 'node:fs';
import { EnvoyClient } from '../support/envoy-client';

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
    const results = await Promise.allSettled(Array.from({ length: count }, (_, i) => client.check({ path: `/abuse/${i}` }, 20_000)));
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
export async function oversizedMessages(port: number, count: number, mib: number, overLimitMib: number): Promise<Oversized> {
  const client = new EnvoyClient(port);
  try {
    const big = 'a'.repeat(mib * MiB);
    const answers = await Promise.all(Array.from({ length: count }, () => client.check({ headers: { 'x-big': big } }, 20_000)));
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
    const s = connect(`http://127.0.0.1:${port}`, { settings });
    s.once('connect', () => resolve(s)).once('error', reject);
  });
}

function checkStream(s: ClientHttp2Session): ReturnType<ClientHttp2Session['request']> {
  const stream = s.request({ [constants.HTTP2_HEADER_METHOD]: 'POST', [constants.HTTP2_HEADER_PATH]: CHECK_PATH, 'content-type': 'application/grpc', te: 'trailers' });
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
