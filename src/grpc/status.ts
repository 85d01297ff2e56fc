/** The gRPC status codes this server ends a call with besides OK (grpc/doc/statuscodes.md). */
export const GrpcStatus = {
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
} as const;

export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/** A call that ends with a status other than OK, and no message. */
export class GrpcError extends Error {
  constructor(
    readonly code: GrpcStatusCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * grpc-message is percent-encoded (PROTOCOL-HTTP2.md): every byte outside printable ASCII, and
 * `%` itself, so a detail can never break the trailer it travels in.
 */
export function encodeGrpcMessage(message: string): string {
  return /^[\x20-\x24\x26-\x7e]*$/.test(message) ? message : encodeURIComponent(message);
}
