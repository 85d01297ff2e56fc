import * as grpc from '@grpc/grpc-js';

type Listener = Parameters<grpc.ServerInterceptingCallInterface['start']>[0];

/** Why a call's message was not read: no receive slot was free for it, or it stalled in one. */
export type Refusal = 'no_slot' | 'stalled';

/**
 * What a method's handler is given in place of a message that was not read, so that it answers
 * (a Check must be a denial, never an RPC error); a method without one ends with
 * RESOURCE_EXHAUSTED.
 */
export type Substitutes = ReadonlyMap<string, (refusal: Refusal) => unknown>;

export interface ReceiveTiming {
  /** How long a message may take to arrive before it counts as large and needs a slot. */
  graceMs: number;
  /** How long a message may take to arrive once it holds a slot. */
  slotMs: number;
}

/**
 * Bounds the memory messages in flight can take, whatever the number of connections and
 * streams. grpc-js reads nothing of a call until it starts reading (HTTP/2 flow control holds
 * the sender to the 64 KiB stream window), then buffers the message whole, up to
 * max_receive_message_length, and copies it once more to join its pieces.
 *
 * Envoy's messages are small and written whole: one is read within microseconds of the call
 * starting to read, from what already arrived, and takes nothing here. A message still arriving
 * after `graceMs` is large, and holds one of `slots` until it is read; with none free, or when
 * it stalls for `slotMs` in one, it is not read and the handler answers with the method's
 * substitute. So a peer sending junk can make large messages wait or fail, never small ones.
 */
export class ReceiveSlots {
  private free: number;

  constructor(readonly slots: number) {
    this.free = slots;
  }

  tryTake(): boolean {
    if (this.free === 0) return false;
    this.free--;
    return true;
  }

  release(): void {
    this.free++;
  }
}

export function receiveSlotsInterceptor(slots: ReceiveSlots, timing: ReceiveTiming, substitutes: Substitutes): grpc.ServerInterceptor {
  return (method, call) => new SlottedCall(call, slots, timing, substitutes.get(method.path));
}

type Phase =
  | { name: 'before' }
  /** Reading, not yet known to be large. */
  | { name: 'arriving'; timer: NodeJS.Timeout }
  | { name: 'in_slot'; timer: NodeJS.Timeout }
  /** The handler got the substitute: what the stream still delivers is dropped. */
  | { name: 'substituted' }
  | { name: 'read' };

class SlottedCall extends grpc.ServerInterceptingCall {
  private phase: Phase = { name: 'before' };
  private listener: Listener | undefined;

  constructor(
    private readonly call: grpc.ServerInterceptingCallInterface,
    private readonly slots: ReceiveSlots,
    private readonly timing: ReceiveTiming,
    private readonly substitute: ((refusal: Refusal) => unknown) | undefined,
  ) {
    super(call);
  }

  override start(listener: Listener): void {
    this.listener = listener;
    this.call.start({
      onReceiveMetadata: (metadata) => listener.onReceiveMetadata(metadata),
      onReceiveMessage: (message) => {
        if (this.phase.name === 'substituted') return;
        this.finishReading();
        listener.onReceiveMessage(message);
      },
      onReceiveHalfClose: () => {
        if (this.phase.name === 'substituted') return;
        this.finishReading();
        listener.onReceiveHalfClose();
      },
      onCancel: () => {
        this.finishReading();
        listener.onCancel();
      },
    });
  }

  /** The first read is the request message; a later one (the half-close) reads nothing. */
  override startRead(): void {
    switch (this.phase.name) {
      case 'before':
        this.phase = { name: 'arriving', timer: setTimeout(() => this.needsSlot(), this.timing.graceMs) };
        this.call.startRead();
        return;
      case 'substituted':
        // The substitute stands for the whole request: its half-close follows.
        process.nextTick(() => this.listener?.onReceiveHalfClose());
        return;
      default:
        this.call.startRead();
    }
  }

  private needsSlot(): void {
    if (this.slots.tryTake()) this.phase = { name: 'in_slot', timer: setTimeout(() => this.refuse('stalled'), this.timing.slotMs) };
    else this.refuse('no_slot');
  }

  private refuse(refusal: Refusal): void {
    this.finishReading();
    if (this.substitute && this.listener) {
      this.phase = { name: 'substituted' };
      this.listener.onReceiveMessage(this.substitute(refusal));
    } else {
      this.call.sendStatus({ code: grpc.status.RESOURCE_EXHAUSTED, details: refusal === 'no_slot' ? 'the server is receiving as many large messages as it can' : 'the request message stalled' });
    }
  }

  private finishReading(): void {
    if (this.phase.name === 'arriving' || this.phase.name === 'in_slot') clearTimeout(this.phase.timer);
    if (this.phase.name === 'in_slot') this.slots.release();
    if (this.phase.name !== 'substituted') this.phase = { name: 'read' };
  }
}
