// A TCP proxy in front of Kratos (on 127.0.0.1, or where containers reach this machine) that
// injects network faults, as the service and
// Envoy see them, without touching Kratos: latency with jitter on what the client sends, a slow
// drip of what Kratos answers, resets (RST) of every connection, and a black hole that accepts
// connections and swallows every byte. The fault can be switched at any time; bytes already
// queued keep their order when it changes.
import { connect, createServer, type Server, type Socket } from 'node:net';

export type Fault =
  | { kind: 'none' }
  /** Each chunk towards Kratos waits `ms` plus up to `jitterMs` (order kept). */
  | { kind: 'latency'; ms: number; jitterMs: number }
  /** Open connections are reset, new ones reset on accept. */
  | { kind: 'reset' }
  /** Connections are accepted; nothing passes in either direction (the bytes are lost). */
  | { kind: 'blackhole' }
  /** Kratos's answers trickle back `bytes` every `everyMs`. */
  | { kind: 'drip'; bytes: number; everyMs: number };

export const NO_FAULT: Fault = { kind: 'none' };

export function latency(ms: number, jitterMs = 0): Fault {
  return { kind: 'latency', ms, jitterMs };
}

export function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case 'none':
    case 'reset':
    case 'blackhole':
      return fault.kind;
    case 'latency':
      return `latency ${fault.ms}ms+${fault.jitterMs}ms jitter`;
    case 'drip':
      return `drip ${fault.bytes}B/${fault.everyMs}ms`;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One direction of one connection. Every chunk goes through a promise chain, so a delayed or
 * dripped chunk is never overtaken by a later one, whatever the fault is when the later arrives.
 */
class Direction {
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly to: Socket,
    private readonly faultNow: () => Fault,
    private readonly side: 'toKratos' | 'toClient',
  ) {}

  push(chunk: Buffer): void {
    if (this.faultNow().kind === 'blackhole') return;
    const wait = this.delayFor();
    this.tail = this.tail.then(async () => {
      if (wait > 0) await sleep(wait);
      await this.deliver(chunk);
    });
  }

  private delayFor(): number {
    const fault = this.faultNow();
    if (fault.kind !== 'latency' || this.side !== 'toKratos') return 0;
    return fault.ms + Math.random() * fault.jitterMs;
  }

  private async deliver(chunk: Buffer): Promise<void> {
    let rest = chunk;
    while (rest.length > 0 && this.to.writable) {
      const fault = this.faultNow();
      if (fault.kind !== 'drip' || this.side !== 'toClient') {
        this.to.write(rest);
        return;
      }
      this.to.write(rest.subarray(0, fault.bytes));
      rest = rest.subarray(fault.bytes);
      await sleep(fault.everyMs);
    }
  }
}

export class DelayProxy {
  private current: Fault = NO_FAULT;
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  get fault(): Fault {
    return this.current;
  }

  /** Switches the fault; a reset takes every open connection down at once. */
  set fault(fault: Fault) {
    this.current = fault;
    if (fault.kind === 'reset') for (const socket of this.sockets) socket.resetAndDestroy();
  }

  /** Listens on `listenHost`:`listenPort`, forwards to Kratos on 127.0.0.1:`targetPort`. */
  static async start(listenPort: number, targetPort: number, listenHost = '127.0.0.1'): Promise<DelayProxy> {
    let proxy: DelayProxy | undefined;
    const faultNow = (): Fault => proxy?.current ?? NO_FAULT;
    const server = createServer((client) => {
      if (faultNow().kind === 'reset') {
        client.resetAndDestroy();
        return;
      }
      const upstream = connect(targetPort, '127.0.0.1');
      proxy?.track(client, upstream);
      const toKratos = new Direction(upstream, faultNow, 'toKratos');
      const toClient = new Direction(client, faultNow, 'toClient');
      client.on('data', (chunk: Buffer) => toKratos.push(chunk));
      upstream.on('data', (chunk: Buffer) => toClient.push(chunk));
      const close = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    proxy = new DelayProxy(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, listenHost, resolve);
    });
    return proxy;
  }

  private track(...sockets: Socket[]): void {
    for (const socket of sockets) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    }
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
