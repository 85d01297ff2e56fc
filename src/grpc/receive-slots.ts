/** A slot's release: how long it was held decides whether its connection counts as quick. */
export type Release = () => void;

/**
 * How many calls may receive their message at once, across every connection. The server reads
 * nothing of a call before it has a slot (HTTP/2 flow control holds the sender to the 64 KiB
 * stream window), then buffers its message whole, up to the receive limit, and copies it once
 * more to join the pieces: so the memory messages in flight can take is bounded by the
 * slots, not by how many connections and streams a peer opens.
 *
 * A call waits for a slot in turn with the other connections' calls (round robin by connection):
 * one peer's queue of large messages holds another connection's calls behind one message a
 * connection, not all of them. One slot more is kept for quick connections, those whose last
 * message was read within QUICK_MS of its slot, or that have sent none yet: Envoy's messages are
 * small and written whole, so its connections stay quick and find that slot free while large
 * messages fill the others, and a connection that sends a large one loses its place there.
 */
export class ReceiveSlots {
  private free: number;
  private quickFree = 1;
  /** Per connection, its calls waiting for a slot; Map order is the round robin's turn. */
  private readonly waiting = new Map<string, Set<(release: Release) => void>>();
  /** Connections whose last message was not read quickly; oldest first, so the set stays bounded. */
  private readonly slow = new Set<string>();

  constructor(slots: number) {
    this.free = slots;
  }

  /** Calls `admit` once a slot is taken for it; the returned function withdraws a call still waiting. */
  take(connection: string, admit: (release: Release) => void): () => void {
    if (this.free > 0) {
      this.free--;
      admit(this.releaser(connection, 'any'));
      return nothingToWithdraw;
    }
    if (this.quickFree > 0 && !this.slow.has(connection)) {
      this.quickFree--;
      admit(this.releaser(connection, 'quick'));
      return nothingToWithdraw;
    }
    const queue = this.waiting.get(connection) ?? new Set<(release: Release) => void>();
    queue.add(admit);
    this.waiting.set(connection, queue);
    return () => {
      queue.delete(admit);
      if (queue.size === 0 && this.waiting.get(connection) === queue) this.waiting.delete(connection);
    };
  }

  private releaser(connection: string, kind: 'any' | 'quick'): Release {
    const taken = performance.now();
    return () => {
      this.remember(connection, performance.now() - taken < QUICK_MS);
      this.handOn(kind);
    };
  }

  private remember(connection: string, wasQuick: boolean): void {
    this.slow.delete(connection);
    if (wasQuick) return;
    this.slow.add(connection);
    if (this.slow.size > MAX_SLOW_CONNECTIONS) this.slow.delete(this.slow.values().next().value ?? '');
  }

  /** Gives the slot to the next waiting call that may have it, or frees it. */
  private handOn(kind: 'any' | 'quick'): void {
    for (const [connection, queue] of this.waiting) {
      if (kind === 'quick' && this.slow.has(connection)) continue;
      const [admit] = queue;
      // Its turn is used: the connection goes to the back of the round robin.
      this.waiting.delete(connection);
      if (admit) queue.delete(admit);
      if (queue.size > 0) this.waiting.set(connection, queue);
      // On the loop's next turn, not now: handing slots on from call to call in one go would
      // read a whole queue of messages without letting any other input (Kratos's answers) in.
      if (admit) setImmediate(() => admit(this.releaser(connection, kind)));
      return;
    }
    if (kind === 'quick') this.quickFree++;
    else this.free++;
  }
}

/** A message read this soon after its slot was taken was already there: a small one. */
const QUICK_MS = 5;
/** Forgetting the oldest makes a connection quick again: it loses that place at its next large message. */
const MAX_SLOW_CONNECTIONS = 4096;

/** An admitted call is no longer waiting: one shared function, not one per call. */
function nothingToWithdraw(): void {}
