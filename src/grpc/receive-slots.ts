/** Gives a slot back: once, when its call has read its message or stopped reading. */
export type Release = () => void;

/** Takes the slot given to a waiting call. */
export type Admit = (release: Release) => void;

/**
 * How many large messages are received at once, across every connection. A call whose message is
 * larger than one HTTP/2 stream window reads no more of it before it has a slot (flow control
 * holds the sender to that window), then reads it into one buffer, up to the receive limit: so
 * the memory large messages in flight take is bounded by the slots, not by how many connections
 * and streams a peer opens. Smaller messages (every one Envoy
 * sends for ordinary requests) need no slot: a peer may make the server hold a window a stream
 * whatever it does, so waiting would bound nothing and would let whoever holds the slots stall
 * every check.
 *
 * Calls wait in turn with the other connections' calls (round robin by connection), and one
 * connection holds at most `perConnection` slots: a peer's queue of large messages delays another
 * connection's by one message at most, and never takes every slot itself.
 */
export class ReceiveSlots {
  private free: number;
  /** Slots each connection holds; a connection holding none has no entry. */
  private readonly held = new Map<string, number>();
  /** Per connection, its calls waiting for a slot; Map order is the round robin's turn. */
  private readonly waiting = new Map<string, Set<Admit>>();

  constructor(
    slots: number,
    private readonly perConnection: number,
  ) {
    this.free = slots;
  }

  /** Calls `admit` once a slot is taken for it; the returned function withdraws a call still waiting. */
  take(connection: string, admit: Admit): () => void {
    if (this.free > 0 && this.heldBy(connection) < this.perConnection) {
      this.free--;
      admit(this.grant(connection));
      return nothingToWithdraw;
    }
    const queue = this.waiting.get(connection) ?? new Set<Admit>();
    queue.add(admit);
    this.waiting.set(connection, queue);
    return () => {
      queue.delete(admit);
      if (queue.size === 0 && this.waiting.get(connection) === queue) this.waiting.delete(connection);
    };
  }

  private heldBy(connection: string): number {
    return this.held.get(connection) ?? 0;
  }

  private grant(connection: string): Release {
    this.held.set(connection, this.heldBy(connection) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.heldBy(connection) - 1;
      if (left > 0) this.held.set(connection, left);
      else this.held.delete(connection);
      this.handOn();
    };
  }

  /** Gives the freed slot to the next waiting call whose connection may hold one more, or keeps it free. */
  private handOn(): void {
    for (const [connection, queue] of this.waiting) {
      if (this.heldBy(connection) >= this.perConnection) continue;
      const [admit] = queue;
      // Its turn is used: the connection goes to the back of the round robin.
      this.waiting.delete(connection);
      if (admit) queue.delete(admit);
      if (queue.size > 0) this.waiting.set(connection, queue);
      if (!admit) continue;
      const release = this.grant(connection);
      // On the loop's next turn, not now: handing slots on from call to call in one go would
      // read a whole queue of messages without letting any other input (Kratos's answers) in.
      setImmediate(() => admit(release));
      return;
    }
    this.free++;
  }
}

/** An admitted call is no longer waiting: one shared function, not one per call. */
function nothingToWithdraw(): void {}
