import {
  constants,
  createServer,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
  type ServerOptions,
} from 'node:http2';
import { DeferredTimers, type DeferredTimer } from './deferred-timers';
import { Deframer, type FramingFault, writePrefix } from './framing';
import { answerMarginMs } from '../request/deadline';
import { ReceiveSlots, type Release } from './receive-slots';
import { encodeGrpcMessage, GrpcError, GrpcStatus, type GrpcStatusCode } from './status';
import { parseGrpcTimeout } from './timeout';

export interface CallContext {
  /** The call's request headers (its metadata) as node:http2 read them. */
  readonly headers: Readonly<IncomingHttpHeaders>;
  /** When the caller gives up, in Date.now() milliseconds; Infinity when it sent no grpc-timeout. */
  readonly deadline: number;
}

/**
 * A unary method. Its answer is the encoded response with PREFIX_BYTES left free at its start,
 * where the server writes the frame prefix: the message is written once, never copied into a
 * frame. A rejection with a GrpcError ends the call with that status; anything else is INTERNAL.
 */
export interface UnaryMethod {
  answer(message: Buffer, call: CallContext): Promise<Buffer>;
  /** Answers a call whose message did not arrive in time (see `receiveMs`); without it, RESOURCE_EXHAUSTED. */
  answerStalled?(call: CallContext): Promise<Buffer>;
}

export interface GrpcServerOptions {
  /** A message whose prefix says more is refused with RESOURCE_EXHAUSTED before it is read. */
  maxReceiveMessageBytes: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS: a connection's streams past it are refused by HTTP/2 itself. */
  maxConcurrentStreams: number;
  /** Calls receiving a message larger than one stream window at once, across connections (see ReceiveSlots). */
  receiveSlots: number;
  /** Of those, how many one connection may hold. */
  receiveSlotsPerConnection: number;
  /**
   * How long a call's message may take to arrive: from its HEADERS, or from its slot for a large
   * one. A call is answered sooner when its deadline comes first, waiting for a slot included.
   */
  receiveMs: number;
  /** A method failed with something other than a GrpcError: a bug, answered INTERNAL. */
  onUnexpectedError(error: unknown, path: string): void;
}

/**
 * What a peer may send on a stream before the server reads it (SETTINGS_INITIAL_WINDOW_SIZE, the
 * HTTP/2 default, set explicitly): a message framed within it is read without a receive slot.
 */
const STREAM_WINDOW_BYTES = 65_535;

// A headers object, not a raw header list: Node 20, still supported, takes no raw list in
// respond() (the answer failed and the stream was reset, code 0, with no grpc-status).
const RESPONSE_HEADERS = {
  [constants.HTTP2_HEADER_STATUS]: 200,
  [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
  'grpc-accept-encoding': 'identity',
};
const OK_TRAILERS = { 'grpc-status': '0' };
const WAIT_FOR_TRAILERS = { waitForTrailers: true };

/** One listener for every answer's trailers, not a closure per call: `this` is the stream. */
function sendOkTrailers(this: ServerHttp2Stream): void {
  this.sendTrailers(OK_TRAILERS);
}
const END_STREAM = { endStream: true };

/**
 * The flood defences node:http2 offers, set explicitly so they are visible and the same on every
 * Node this runs on. A session that passes one is destroyed (ENHANCE_YOUR_CALM), its streams
 * with it. Pings need no option: nghttp2 answers them and ends a session whose unsent replies
 * pile up, as it does for SETTINGS acknowledgements and RST_STREAM replies.
 */
function http2Options(options: GrpcServerOptions): ServerOptions {
  return {
    settings: { maxConcurrentStreams: options.maxConcurrentStreams, initialWindowSize: STREAM_WINDOW_BYTES },
    // Malformed frames, and streams opened past maxConcurrentStreams, a peer may send.
    maxSessionInvalidFrames: 1_000,
    maxSessionRejectedStreams: 100,
    // Entries in one SETTINGS frame.
    maxSettings: 32,
    // Rapid reset (CVE-2023-44487): Node 24 takes these; Node 20 applies nghttp2's own limit.
    streamResetBurst: 1_000,
    streamResetRate: 33,
    // What nghttp2 may hold for a session (outbound frames, header tables) in MB. A stream that
    // waits for a receive slot holds nothing here: its bytes stay with the peer (flow control).
    maxSessionMemory: 64,
    // A connection that never says HTTP/2 is closed after this.
    unknownProtocolTimeout: 10_000,
  };
}

/**
 * A gRPC server of unary methods over node:http2: routing by path, grpc-timeout, message framing
 * with a receive limit and receive slots, trailers-only errors, GOAWAY drain. What it does not
 * do (compression, streaming methods) it refuses with the status the gRPC protocol asks for.
 */
export class GrpcServer {
  /** The listener: its `listen` and `address` are net.Server's. */
  readonly listener: Http2Server;
  private readonly sessions = new Set<Http2Session>();
  /** Where a connection's calls take receive slots, made once per connection rather than per call. */
  private readonly slotSources = new WeakMap<Http2Session, SlotSource>();
  private readonly slots: ReceiveSlots;
  private readonly receiveTimers = new DeferredTimers();

  constructor(
    private readonly methods: ReadonlyMap<string, UnaryMethod>,
    private readonly options: GrpcServerOptions,
  ) {
    this.slots = new ReceiveSlots(options.receiveSlots, options.receiveSlotsPerConnection);
    this.listener = createServer(http2Options(options));
    this.listener.on('session', (session: Http2Session) => {
      this.sessions.add(session);
      this.slotSources.set(session, {
        slots: this.slots,
        connection: `${session.socket.remoteAddress ?? ''}:${session.socket.remotePort ?? ''}`,
      });
      session.on('close', () => this.sessions.delete(session));
      // A peer's protocol error ends its session; it is not this process's error.
      session.on('error', ignore);
    });
    this.listener.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) =>
      this.serve(stream, headers),
    );
  }

  /**
   * Stops taking connections and sends every connection GOAWAY: calls in flight finish, new
   * streams are refused. Resolves true once all connections are gone, or false when `timeoutMs`
   * passes first and the rest were cut.
   */
  close(timeoutMs: number): Promise<boolean> {
    this.listener.close();
    for (const session of this.sessions) session.close();
    if (this.sessions.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const force = setTimeout(() => {
        for (const session of this.sessions) session.destroy();
        resolve(false);
      }, timeoutMs);
      const settle = () => {
        if (this.sessions.size > 0) return;
        clearTimeout(force);
        resolve(true);
      };
      for (const session of this.sessions) session.once('close', () => setImmediate(settle));
    });
  }

  private serve(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', ignore);
    const contentType = headers[constants.HTTP2_HEADER_CONTENT_TYPE];
    if (
      headers[constants.HTTP2_HEADER_METHOD] !== 'POST' ||
      typeof contentType !== 'string' ||
      !contentType.startsWith('application/grpc')
    ) {
      // Not a gRPC call: an HTTP answer, as the protocol asks for a wrong content-type.
      return respondQuietly(stream, { [constants.HTTP2_HEADER_STATUS]: 415 }, END_STREAM);
    }
    const path = singleValue(headers[constants.HTTP2_HEADER_PATH]) ?? '';
    const method = this.methods.get(path);
    if (!method) return endWithStatus(stream, GrpcStatus.UNIMPLEMENTED, `${path} is not served here`);
    const encoding = headers['grpc-encoding'];
    if (encoding !== undefined && encoding !== 'identity')
      return endWithStatus(
        stream,
        GrpcStatus.UNIMPLEMENTED,
        `grpc-encoding ${String(encoding)} is not accepted, only identity`,
      );
    const timeout = parseGrpcTimeout(singleValue(headers['grpc-timeout']));
    if (!timeout.ok) return endWithStatus(stream, GrpcStatus.INTERNAL, 'grpc-timeout is malformed');
    const slotSource = this.slotSources.get(stream.session as Http2Session) ?? { slots: this.slots, connection: '' };
    new UnaryCall(
      stream,
      method,
      path,
      { headers, deadline: Date.now() + timeout.ms },
      slotSource,
      this.options,
      this.receiveTimers,
    );
  }
}

/** Where a call takes a receive slot, should its message need one. */
interface SlotSource {
  readonly slots: ReceiveSlots;
  readonly connection: string;
}

type Phase =
  /** Reading a message framed within one stream window, or whose prefix is not in yet: no slot. */
  | { name: 'receiving'; timer: NodeJS.Timeout | undefined }
  /** Paused: a larger message waits for a slot, until shortly before its deadline at most. */
  | { name: 'waiting'; withdraw: () => void; timer: NodeJS.Timeout | undefined }
  /** Reading a larger message in its slot. */
  | { name: 'reading'; release: Release; timer: NodeJS.Timeout }
  /** The message (and the end of the stream) came: the method is answering. */
  | { name: 'answering' }
  | { name: 'done' };

const ANSWERING: Phase = { name: 'answering' };
const DONE: Phase = { name: 'done' };

class UnaryCall implements DeferredTimer {
  private phase: Phase;
  private message: Buffer | undefined;
  private messages = 0;
  private readonly deframer: Deframer;
  /** When a message not yet read is given up and the call answered: before the caller gives up. */
  private readonly answerBy: number;
  /** When its HEADERS came: the receive window counts from here until the message needs a slot. */
  private readonly begun: number;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly method: UnaryMethod,
    private readonly path: string,
    private readonly context: CallContext,
    private readonly slotSource: SlotSource,
    private readonly options: GrpcServerOptions,
    receiveTimers: DeferredTimers,
  ) {
    this.deframer = new Deframer(options.maxReceiveMessageBytes);
    this.begun = Date.now();
    const left = context.deadline - this.begun;
    this.answerBy = left === Infinity ? Infinity : context.deadline - answerMarginMs(left);
    this.phase = { name: 'receiving', timer: undefined };
    receiveTimers.defer(this);
    // Shared listeners that find the call on its stream, not closures over it, so the call is
    // let go of when its stream closes (see `callStreamClosed`). A stream ends and closes once:
    // `on`, as `once` would wrap each listener again per call.
    (stream as CallStream)[CALL] = this;
    stream.on('data', callReceived);
    stream.on('end', callEnded);
    stream.on('close', callStreamClosed);
  }

  received(chunk: Buffer): void {
    const phase = this.phase;
    if (phase.name !== 'receiving' && phase.name !== 'reading') return;
    const fault = this.deframer.push(chunk, (message) => {
      this.messages++;
      this.message ??= message;
    });
    if (fault) return this.refuse(fault);
    if (this.message !== undefined && (this.messages > 1 || this.deframer.pending > 0)) {
      this.stopReading();
      return endWithStatus(
        this.stream,
        GrpcStatus.UNIMPLEMENTED,
        `${this.path} is unary: a second request message was sent`,
      );
    }
    if (phase.name === 'receiving' && this.deframer.frameBytes > STREAM_WINDOW_BYTES) this.waitForSlot(phase);
  }

  /** The rest of a message larger than one stream window is read only in a receive slot. */
  private waitForSlot(receiving: Extract<Phase, { name: 'receiving' }>): void {
    const withdraw = this.slotSource.slots.take(this.slotSource.connection, (release) => this.admitted(release));
    // Admitted at once, `admitted` has moved on from here.
    if (this.phase !== receiving) return;
    clearTimeout(receiving.timer);
    this.stream.pause();
    const left = this.answerBy - Date.now();
    this.phase = {
      name: 'waiting',
      withdraw,
      timer: left === Infinity ? undefined : setTimeout(() => this.stalled(), Math.max(0, left)),
    };
  }

  /** Its slot is taken: the rest of the message is read from now on. */
  private admitted(release: Release): void {
    const phase = this.phase;
    // Answered or closed while the slot was on its way: it goes to the next call.
    if (phase.name !== 'receiving' && phase.name !== 'waiting') return release();
    clearTimeout(phase.timer);
    this.phase = { name: 'reading', release, timer: this.receiveTimer(Date.now()) };
    this.stream.resume();
  }

  /** The receive timer of a call whose message is still not in once the turn that began it is over. */
  arm(): void {
    const phase = this.phase;
    if (phase.name === 'receiving' && phase.timer === undefined) phase.timer = this.receiveTimer(this.begun);
  }

  /** Stalled `receiveMs` after `from`, or at `answerBy` if that comes first. */
  private receiveTimer(from: number): NodeJS.Timeout {
    const ms = Math.min(from + this.options.receiveMs, this.answerBy) - Date.now();
    return setTimeout(() => this.stalled(), Math.max(0, ms));
  }

  ended(): void {
    if (this.phase.name !== 'receiving' && this.phase.name !== 'reading') return;
    const cutShort = this.deframer.pending > 0;
    this.stopReading();
    const message = this.message;
    if (cutShort) return endWithStatus(this.stream, GrpcStatus.INTERNAL, 'the stream ended inside a message');
    if (message === undefined)
      return endWithStatus(this.stream, GrpcStatus.INTERNAL, 'the stream ended without a request message');
    this.phase = ANSWERING;
    this.settle(this.method.answer(message, this.context));
  }

  /** The message did not come whole in time: the method's stand-in answer, or RESOURCE_EXHAUSTED. */
  private stalled(): void {
    if (this.phase === ANSWERING || this.phase === DONE) return;
    this.stopReading();
    if (!this.method.answerStalled)
      return endWithStatus(this.stream, GrpcStatus.RESOURCE_EXHAUSTED, 'the request message stalled');
    this.phase = ANSWERING;
    this.settle(this.method.answerStalled(this.context));
  }

  private refuse(fault: FramingFault): void {
    this.stopReading();
    if (fault.fault === 'too_large') {
      return endWithStatus(
        this.stream,
        GrpcStatus.RESOURCE_EXHAUSTED,
        `a message of ${fault.length} bytes is over the limit of ${this.options.maxReceiveMessageBytes}`,
      );
    }
    // Only identity is accepted: a set flag without an accepted grpc-encoding is a protocol error.
    endWithStatus(
      this.stream,
      GrpcStatus.INTERNAL,
      `a message with flag ${fault.flag} was sent without an accepted grpc-encoding`,
    );
  }

  private settle(answer: Promise<Buffer>): void {
    answer.then(
      (framed) => this.respond(framed),
      (error: unknown) => this.failed(error),
    );
  }

  private respond(framed: Buffer): void {
    if (this.stream.closed || this.stream.destroyed) return;
    // Past its deadline the caller has given up: the answer is not for it any more.
    if (Date.now() > this.context.deadline)
      return endWithStatus(this.stream, GrpcStatus.DEADLINE_EXCEEDED, 'the deadline passed before the answer');
    this.phase = DONE;
    try {
      this.stream.respond(RESPONSE_HEADERS, WAIT_FOR_TRAILERS);
      // Asked for once, after the message: `on`, as `once` would wrap the listener per call.
      this.stream.on('wantTrailers', sendOkTrailers);
      this.stream.end(writePrefix(framed));
    } catch {
      // The stream closed under the answer (a reset, a destroyed session): nobody is listening.
      this.stream.destroy();
    }
  }

  private failed(error: unknown): void {
    if (error instanceof GrpcError) return endWithStatus(this.stream, error.code, error.message);
    this.options.onUnexpectedError(error, this.path);
    endWithStatus(this.stream, GrpcStatus.INTERNAL, 'internal error');
  }

  /**
   * Gives the slot back (or the place in its queue), stops the timer, drops a partial message, and
   * lets the stream flow again: what the caller still sends is dropped (see `received`), where a
   * paused stream would hold a caller still sending on flow control for ever.
   */
  private stopReading(): void {
    this.deframer.drop();
    const phase = this.phase;
    if (phase.name === 'receiving') {
      clearTimeout(phase.timer);
    } else if (phase.name === 'reading') {
      clearTimeout(phase.timer);
      phase.release();
    } else if (phase.name === 'waiting') {
      clearTimeout(phase.timer);
      phase.withdraw();
      this.stream.resume();
    }
    this.phase = DONE;
  }

  /** The stream closed: reset by the caller, or answered. */
  cancelled(): void {
    if (this.phase !== ANSWERING) this.stopReading();
  }
}

/**
 * A stream's call, set for as long as the stream is open. node:http2 keeps a closed stream's
 * object reachable until a full collection (its native handle is a root to every scavenge), so
 * whatever the stream still points to is promoted to old space with it: the call, its message,
 * its headers and the answer's promises. Cleared when the stream closes, a finished call is
 * young garbage.
 */
const CALL = Symbol('call');
type CallStream = ServerHttp2Stream & { [CALL]?: UnaryCall | undefined };

function callReceived(this: CallStream, chunk: Buffer): void {
  this[CALL]?.received(chunk);
}

function callEnded(this: CallStream): void {
  this[CALL]?.ended();
}

function callStreamClosed(this: CallStream): void {
  const call = this[CALL];
  this[CALL] = undefined;
  call?.cancelled();
}

/** A trailers-only answer: HEADERS with the status, END_STREAM, no message. */
function endWithStatus(stream: ServerHttp2Stream, code: GrpcStatusCode, message: string): void {
  respondQuietly(
    stream,
    {
      [constants.HTTP2_HEADER_STATUS]: 200,
      [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      'grpc-accept-encoding': 'identity',
      'grpc-status': String(code),
      'grpc-message': encodeGrpcMessage(message),
    },
    END_STREAM,
  );
}

function respondQuietly(
  stream: ServerHttp2Stream,
  headers: Record<string, string | number>,
  options: typeof END_STREAM,
): void {
  if (stream.closed || stream.destroyed || stream.headersSent) return;
  try {
    stream.respond(headers, options);
  } catch {
    stream.destroy();
    return;
  }
  // Refused before the caller finished sending: RST_STREAM NO_ERROR after the answer tells it to
  // stop (RFC 9113 §8.1), so the stream does not stay open until the caller gives up.
  if (!stream.readableEnded) stream.close(constants.NGHTTP2_NO_ERROR);
}

/** Repeated lines of a header node:http2 does not join arrive as an array: such a value is not one value. */
function singleValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? '' : value;
}

function ignore(): void {}
