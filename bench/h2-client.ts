/**
 * A minimal HTTP/2 (h2c) unary-gRPC load client over a raw socket, for scenarios where every
 * request needs a different body: h2load sends one --data file for all requests, and
 * node:http2's per-stream objects cap a Node client below what the floor server serves.
 *
 * Requests are pre-framed (one constant HPACK header block + the gRPC-framed body), so each
 * costs two frame headers and a buffer copy. Responses are not HPACK-decoded: a stream that
 * carried a DATA frame (the CheckResponse) before its END_STREAM trailers answered; one that
 * ended without DATA (a trailers-only gRPC error) or was reset failed. The server's own
 * counters then say which decision each answer was.
 */
import net from 'node:net';
import { CHECK_PATH } from './bodies';

export interface LoadPlan {
  port: number;
  /** Pre-framed gRPC bodies; `order[i]` picks the body of the i-th request. */
  bodies: readonly Buffer[];
  order: ArrayLike<number>;
  connections: number;
  /** Requests in flight per connection (the cap, in open-loop runs). */
  streamsPerConnection: number;
  /** Run for this long, cycling through `order`, then wait for the answers; otherwise send `order` once. */
  durationSeconds?: number;
  /** Open loop: start this many requests per second (needs durationSeconds). */
  ratePerSecond?: number;
}

export interface LoadResult {
  /** Durations in microseconds of the requests that succeeded. */
  durationsUs: Float64Array;
  succeeded: number;
  failed: number;
  elapsedSeconds: number;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8 } as const;
const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
const SETTING = { ENABLE_PUSH: 0x2, MAX_CONCURRENT_STREAMS: 0x3, INITIAL_WINDOW_SIZE: 0x4 } as const;
const MAX_WINDOW = 2 ** 31 - 1;
const DEFAULT_WINDOW = 65_535;

function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const header = Buffer.allocUnsafe(9);
  header.writeUIntBE(length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(streamId, 5);
  return header;
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInteger(value: number, prefixBits: number, firstByteFlags: number): number[] {
  const limit = (1 << prefixBits) - 1;
  if (value < limit) return [firstByteFlags | value];
  const bytes = [firstByteFlags | limit];
  let rest = value - limit;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}

function hpackString(text: string): number[] {
  const bytes = [...Buffer.from(text, 'latin1')];
  return [...hpackInteger(bytes.length, 7, 0), ...bytes];
}

/**
 * The request header block, encoded once: static-table `:method POST` and `:scheme http`,
 * everything else as literals without indexing, so it never depends on the peer's dynamic table.
 */
function requestHeaderBlock(port: number): Buffer {
  const bytes: number[] = [0x83, 0x86]; // :method POST, :scheme http
  bytes.push(...hpackInteger(4, 4, 0), ...hpackString(CHECK_PATH)); // :path (static name 4)
  bytes.push(...hpackInteger(1, 4, 0), ...hpackString(`127.0.0.1:${port}`)); // :authority (static name 1)
  for (const [name, value] of [
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
    ['grpc-timeout', '200m'],
  ] as const) {
    bytes.push(0x00, ...hpackString(name), ...hpackString(value));
  }
  return Buffer.from(bytes);
}

interface Pending {
  started: bigint;
  sawData: boolean;
}

/** One h2c connection that runs requests handed to it and reports each completion. */
class Connection {
  private readonly pending = new Map<number, Pending>();
  private readonly headerBlock: Buffer;
  private nextStreamId = 1;
  private sendWindow = DEFAULT_WINDOW;
  private peerStreamWindow = DEFAULT_WINDOW;
  private inbox: Buffer = Buffer.alloc(0);
  private outbox: Buffer[] = [];
  private flushScheduled = false;
  private readonly waitingForWindow: Array<() => void> = [];
  maxStreams = Number.POSITIVE_INFINITY;

  constructor(
    private readonly socket: net.Socket,
    port: number,
    private readonly onDone: (ok: boolean, micros: number) => void,
    private readonly onFatal: (error: Error) => void,
  ) {
    this.headerBlock = requestHeaderBlock(port);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.onFatal(error));
    socket.on(
      'close',
      () => this.pending.size > 0 && this.onFatal(new Error('connection closed with requests in flight')),
    );
    // Our receive windows are made as large as HTTP/2 allows, so the server never waits on us.
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(SETTING.ENABLE_PUSH, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(SETTING.INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(MAX_WINDOW, 8);
    const increment = Buffer.alloc(4);
    increment.writeUInt32BE(MAX_WINDOW - DEFAULT_WINDOW, 0);
    this.queue(
      PREFACE,
      frameHeader(12, FRAME.SETTINGS, 0, 0),
      settings,
      frameHeader(4, FRAME.WINDOW_UPDATE, 0, 0),
      increment,
    );
  }

  /** Requests started or waiting for flow-control window. */
  get inFlight(): number {
    return this.pending.size + this.waitingForWindow.length;
  }

  /**
   * Starts one request now, or as soon as the connection's flow-control window allows; its
   * latency counts from this call either way, as h2load's does.
   */
  send(body: Buffer, issuedAt = process.hrtime.bigint()): void {
    if (body.length > this.peerStreamWindow)
      throw new Error(`request body of ${body.length} bytes exceeds the server's stream window`);
    if (body.length > this.sendWindow) {
      this.waitingForWindow.push(() => this.send(body, issuedAt));
      return;
    }
    this.sendWindow -= body.length;
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    this.pending.set(id, { started: issuedAt, sawData: false });
    this.queue(
      frameHeader(this.headerBlock.length, FRAME.HEADERS, FLAG.END_HEADERS, id),
      this.headerBlock,
      frameHeader(body.length, FRAME.DATA, FLAG.END_STREAM, id),
      body,
    );
  }

  close(): void {
    this.socket.end();
  }

  /** Writes are batched per event-loop turn: one syscall for many frames. */
  private queue(...parts: Buffer[]): void {
    this.outbox.push(...parts);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const parts = this.outbox;
      this.outbox = [];
      this.socket.write(Buffer.concat(parts));
    });
  }

  private receive(chunk: Buffer): void {
    this.inbox = this.inbox.length === 0 ? chunk : Buffer.concat([this.inbox, chunk]);
    let offset = 0;
    while (this.inbox.length - offset >= 9) {
      const length = this.inbox.readUIntBE(offset, 3);
      if (this.inbox.length - offset < 9 + length) break;
      const type = this.inbox.readUInt8(offset + 3);
      const flags = this.inbox.readUInt8(offset + 4);
      const streamId = this.inbox.readUInt32BE(offset + 5) & 0x7fffffff;
      this.handleFrame(type, flags, streamId, this.inbox.subarray(offset + 9, offset + 9 + length));
      offset += 9 + length;
    }
    this.inbox = this.inbox.subarray(offset);
  }

  private handleFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    switch (type) {
      case FRAME.DATA:
        this.markData(streamId);
        if (flags & FLAG.END_STREAM) this.finish(streamId, true);
        return;
      case FRAME.HEADERS:
        if (flags & FLAG.END_STREAM) this.finish(streamId, this.pending.get(streamId)?.sawData ?? false);
        return;
      case FRAME.RST_STREAM:
        return this.finish(streamId, false);
      case FRAME.SETTINGS:
        if (!(flags & FLAG.ACK)) this.applySettings(payload);
        return;
      case FRAME.PING:
        if (!(flags & FLAG.ACK)) this.queue(frameHeader(8, FRAME.PING, FLAG.ACK, 0), Buffer.from(payload));
        return;
      case FRAME.GOAWAY:
        return this.onFatal(new Error(`server sent GOAWAY (error code ${payload.readUInt32BE(4)})`));
      case FRAME.WINDOW_UPDATE:
        if (streamId === 0) this.growWindow(payload.readUInt32BE(0) & 0x7fffffff);
        return;
    }
  }

  private applySettings(payload: Buffer): void {
    for (let offset = 0; offset + 6 <= payload.length; offset += 6) {
      const id = payload.readUInt16BE(offset);
      const value = payload.readUInt32BE(offset + 2);
      if (id === SETTING.MAX_CONCURRENT_STREAMS) this.maxStreams = value;
      if (id === SETTING.INITIAL_WINDOW_SIZE) this.peerStreamWindow = value;
    }
    this.queue(frameHeader(0, FRAME.SETTINGS, FLAG.ACK, 0));
  }

  private growWindow(increment: number): void {
    this.sendWindow += increment;
    const waiting = this.waitingForWindow.splice(0);
    for (const resume of waiting) resume();
  }

  private markData(streamId: number): void {
    const pending = this.pending.get(streamId);
    if (pending) pending.sawData = true;
  }

  private finish(streamId: number, ok: boolean): void {
    const pending = this.pending.get(streamId);
    if (!pending) return;
    this.pending.delete(streamId);
    this.onDone(ok, Number(process.hrtime.bigint() - pending.started) / 1000);
  }
}

function openSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * Drives the plan's connections: closed loop (each completion starts the next request, keeping
 * `connections × streamsPerConnection` in flight) or, with `ratePerSecond`, open loop (requests
 * start on a clock, whatever the answers do, up to the same in-flight cap).
 */
class LoadRun {
  private readonly connections: Connection[] = [];
  private readonly durationsUs: number[] = [];
  private next = 0;
  private done = 0;
  private succeeded = 0;
  private stopIssuing = false;
  private settled = false;
  private readonly started = process.hrtime.bigint();
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly plan: LoadPlan,
    private readonly finish: (result: LoadResult) => void,
    private readonly fail: (error: Error) => void,
  ) {}

  start(sockets: net.Socket[]): void {
    for (const socket of sockets) {
      const connection: Connection = new Connection(
        socket,
        this.plan.port,
        (ok, micros) => this.completed(connection, ok, micros),
        (error) => this.abort(error),
      );
      this.connections.push(connection);
    }
    if (this.plan.durationSeconds !== undefined) setTimeout(() => this.stop(), this.plan.durationSeconds * 1000);
    if (this.plan.ratePerSecond !== undefined) this.ticker = setInterval(() => this.tick(), 1);
    else for (const connection of this.connections) this.refill(connection);
    this.settleIfDone();
  }

  /** A count-based plan sends `order` once; a timed plan cycles through it until the time is up. */
  private hasNext(): boolean {
    if (this.stopIssuing) return false;
    return this.plan.durationSeconds !== undefined || this.next < this.plan.order.length;
  }

  private issue(connection: Connection): void {
    const index = this.plan.order[this.next++ % this.plan.order.length] as number;
    connection.send(this.plan.bodies[index] as Buffer);
  }

  private limit(connection: Connection): number {
    return Math.min(this.plan.streamsPerConnection, connection.maxStreams);
  }

  private refill(connection: Connection): void {
    while (this.hasNext() && connection.inFlight < this.limit(connection)) this.issue(connection);
  }

  /** Open loop: start as many requests as the clock says are due, round-robin over connections. */
  private tick(): void {
    const elapsed = Number(process.hrtime.bigint() - this.started) / 1e9;
    const due = Math.floor(elapsed * (this.plan.ratePerSecond as number));
    while (this.hasNext() && this.next < due) {
      const connection = this.connections[this.next % this.connections.length] as Connection;
      if (connection.inFlight >= this.limit(connection)) break; // saturated: the backlog waits
      this.issue(connection);
    }
  }

  private completed(connection: Connection, ok: boolean, micros: number): void {
    this.done++;
    if (ok) {
      this.succeeded++;
      this.durationsUs.push(micros);
    }
    if (this.plan.ratePerSecond === undefined) this.refill(connection);
    this.settleIfDone();
  }

  private stop(): void {
    this.stopIssuing = true;
    if (this.ticker) clearInterval(this.ticker);
    this.settleIfDone();
  }

  private settleIfDone(): void {
    if (this.settled || this.hasNext() || this.done < this.next) return;
    this.settled = true;
    if (this.ticker) clearInterval(this.ticker);
    for (const connection of this.connections) connection.close();
    const elapsedSeconds = Number(process.hrtime.bigint() - this.started) / 1e9;
    this.finish({
      durationsUs: Float64Array.from(this.durationsUs),
      succeeded: this.succeeded,
      failed: this.done - this.succeeded,
      elapsedSeconds,
    });
  }

  private abort(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    if (this.ticker) clearInterval(this.ticker);
    this.stopIssuing = true;
    for (const connection of this.connections) connection.close();
    this.fail(error);
  }
}

export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  if (plan.order.length === 0) throw new Error('a load plan needs at least one request in its order');
  const sockets = await Promise.all(Array.from({ length: plan.connections }, () => openSocket(plan.port)));
  return new Promise<LoadResult>((resolve, reject) => new LoadRun(plan, resolve, reject).start(sockets));
}
