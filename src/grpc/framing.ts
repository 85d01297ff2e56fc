/**
 * gRPC's length-prefixed messages (PROTOCOL-HTTP2.md): a compressed flag byte, a 4-byte
 * big-endian length, the message. Only the prefix is trusted to decide how much to hold: a
 * length over the limit is refused from the prefix alone, before its bytes are buffered.
 */
export const PREFIX_BYTES = 5;

/**
 * Why a stream's bytes are not messages this server takes: a length over the limit, or a flag
 * other than 0 (uncompressed). This server accepts only the identity encoding, so a set flag is
 * a message it cannot read.
 */
export type FramingFault = { fault: 'too_large'; length: number } | { fault: 'flagged'; flag: number };

/**
 * Cuts a stream's DATA into messages. In the usual case (a whole frame in one chunk, as Envoy
 * writes it) the message is a view of that chunk, not a copy. A frame that spans chunks is
 * copied into one buffer as its pieces come, grown by doubling up to the frame's length: the
 * pieces are not kept, so a peer sending a frame a byte per DATA frame costs its bytes, not a
 * Buffer object each (65 535 of them within one stream window), and a length prefix alone
 * reserves nothing.
 */
export class Deframer {
  /** The frame begun: its first `filled` bytes. */
  private partial: Buffer = EMPTY;
  private filled = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes of a frame begun but not finished. */
  get pending(): number {
    return this.filled;
  }

  /** The whole length (prefix and message) of the frame begun, once its prefix is in; 0 before. */
  get frameBytes(): number {
    return this.filled < PREFIX_BYTES ? 0 : PREFIX_BYTES + this.partial.readUInt32BE(1);
  }

  /** Lets go of a frame begun: a call that stops reading keeps none of its bytes. */
  drop(): void {
    this.partial = EMPTY;
    this.filled = 0;
  }

  /** Adds `chunk`; each message it completes goes to `onMessage`. Stops at the first fault and returns it. */
  push(chunk: Buffer, onMessage: (message: Buffer) => void): FramingFault | undefined {
    let offset = 0;
    if (this.filled > 0) {
      offset = this.append(chunk, 0, PREFIX_BYTES - this.filled);
      if (this.filled < PREFIX_BYTES) return undefined;
      const length = this.partial.readUInt32BE(1);
      if (length > this.maxMessageBytes) return { fault: 'too_large', length };
      offset = this.append(chunk, offset, PREFIX_BYTES + length - this.filled);
      if (this.filled < PREFIX_BYTES + length) return undefined;
      const frame = this.partial;
      this.drop();
      const fault = deliver(frame, 0, onMessage);
      if (fault) return fault;
    }
    while (chunk.length - offset >= PREFIX_BYTES) {
      const length = chunk.readUInt32BE(offset + 1);
      if (length > this.maxMessageBytes) return { fault: 'too_large', length };
      if (offset + PREFIX_BYTES + length > chunk.length) break;
      const fault = deliver(chunk, offset, onMessage);
      if (fault) return fault;
      offset += PREFIX_BYTES + length;
    }
    this.append(chunk, offset, chunk.length - offset);
    return undefined;
  }

  /** Copies up to `count` bytes of `chunk` from `from` onto the frame begun; returns the offset after them. */
  private append(chunk: Buffer, from: number, count: number): number {
    const end = Math.min(chunk.length, from + Math.max(0, count));
    const needed = this.filled + end - from;
    if (needed > this.partial.length) {
      // Doubling keeps the copies linear in the frame's bytes; never past what the prefix announced.
      const frame = this.filled >= PREFIX_BYTES ? PREFIX_BYTES + this.partial.readUInt32BE(1) : needed;
      const grown = Buffer.allocUnsafe(Math.max(needed, Math.min(2 * this.partial.length, frame)));
      this.partial.copy(grown, 0, 0, this.filled);
      this.partial = grown;
    }
    chunk.copy(this.partial, this.filled, from, end);
    this.filled = needed;
    return end;
  }
}

const EMPTY = Buffer.alloc(0);

/** The message of the whole frame at `offset` to `onMessage`, unless its flag says compressed. */
function deliver(bytes: Buffer, offset: number, onMessage: (message: Buffer) => void): FramingFault | undefined {
  const flag = bytes[offset] ?? 0;
  if (flag !== 0) return { fault: 'flagged', flag };
  const start = offset + PREFIX_BYTES;
  onMessage(bytes.subarray(start, start + bytes.readUInt32BE(offset + 1)));
  return undefined;
}

/** One message in a frame, its prefix written into the first PREFIX_BYTES of `framed`. */
export function writePrefix(framed: Buffer): Buffer {
  framed[0] = 0;
  framed.writeUInt32BE(framed.length - PREFIX_BYTES, 1);
  return framed;
}
