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
 * writes it) the message is a view of that chunk, not a copy.
 */
export class Deframer {
  private held: Buffer[] = [];
  private heldBytes = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes of a frame begun but not finished. */
  get pending(): number {
    return this.heldBytes;
  }

  /** The whole length (prefix and message) of the frame begun, once its prefix is in; 0 before. */
  get frameBytes(): number {
    const [first] = this.held;
    if (!first || this.heldBytes < PREFIX_BYTES) return 0;
    const prefix = first.length >= PREFIX_BYTES ? first : Buffer.concat(this.held, PREFIX_BYTES);
    return PREFIX_BYTES + prefix.readUInt32BE(1);
  }

  /** Lets go of a frame begun: a call that stops reading keeps none of its bytes. */
  drop(): void {
    this.held = [];
    this.heldBytes = 0;
  }

  /** Adds `chunk`; each message it completes goes to `onMessage`. Stops at the first fault and returns it. */
  push(chunk: Buffer, onMessage: (message: Buffer) => void): FramingFault | undefined {
    let bytes = chunk;
    if (this.heldBytes > 0) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      // Only join once the prefix is there, and again only when the whole frame is.
      if (this.heldBytes < PREFIX_BYTES) return undefined;
      const length =
        this.held[0] && this.held[0].length >= PREFIX_BYTES
          ? this.held[0].readUInt32BE(1)
          : Buffer.concat(this.held, PREFIX_BYTES).readUInt32BE(1);
      if (length > this.maxMessageBytes) return { fault: 'too_large', length };
      if (this.heldBytes < PREFIX_BYTES + length) return undefined;
      bytes = Buffer.concat(this.held, this.heldBytes);
      this.held = [];
      this.heldBytes = 0;
    }
    let offset = 0;
    while (bytes.length - offset >= PREFIX_BYTES) {
      const length = bytes.readUInt32BE(offset + 1);
      if (length > this.maxMessageBytes) return { fault: 'too_large', length };
      const end = offset + PREFIX_BYTES + length;
      if (end > bytes.length) break;
      const flag = bytes[offset] ?? 0;
      if (flag !== 0) return { fault: 'flagged', flag };
      onMessage(bytes.subarray(offset + PREFIX_BYTES, end));
      offset = end;
    }
    if (offset < bytes.length) {
      this.held = [bytes.subarray(offset)];
      this.heldBytes = bytes.length - offset;
    }
    return undefined;
  }
}

/** One message in a frame, its prefix written into the first PREFIX_BYTES of `framed`. */
export function writePrefix(framed: Buffer): Buffer {
  framed[0] = 0;
  framed.writeUInt32BE(framed.length - PREFIX_BYTES, 1);
  return framed;
}
