import { Reader } from 'protobufjs';
import { PREFIX_BYTES } from './framing';
import type { UnaryMethod } from './server';
import { GrpcError, GrpcStatus } from './status';

/** grpc.health.v1.HealthCheckResponse.ServingStatus, as far as this server reports. */
const SERVING_STATUS = { SERVING: 1, NOT_SERVING: 2 } as const;
export type ServingStatus = keyof typeof SERVING_STATUS;

export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';

/**
 * grpc.health.v1.Health/Check, as the kubelet's gRPC probe and Envoy's gRPC health check call
 * it: the status of a named service, NOT_FOUND for a name never set. Watch is not served (no
 * caller of this service streams it): it is answered UNIMPLEMENTED, as any unknown method.
 */
export class HealthStatuses {
  private readonly statuses: Map<string, ServingStatus>;

  constructor(initial: Readonly<Record<string, ServingStatus>>) {
    this.statuses = new Map(Object.entries(initial));
  }

  set(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
  }

  readonly check: UnaryMethod = {
    answer: async (message) => {
      const service = serviceOf(message);
      const status = this.statuses.get(service);
      if (status === undefined) throw new GrpcError(GrpcStatus.NOT_FOUND, `unknown service ${JSON.stringify(service)}`);
      // HealthCheckResponse { status = 1 (enum) }: a tag and a one-byte varint.
      const framed = Buffer.alloc(PREFIX_BYTES + 2);
      framed[PREFIX_BYTES] = 0x08;
      framed[PREFIX_BYTES + 1] = SERVING_STATUS[status];
      return framed;
    },
  };
}

/** HealthCheckRequest { string service = 1 }; bytes that are not one are a caller's error. */
function serviceOf(message: Buffer): string {
  const reader = Reader.create(message);
  let service = '';
  try {
    while (reader.pos < reader.len) {
      const key = reader.uint32();
      if (key === 0x0a) service = reader.string();
      else reader.skipType(key & 7);
    }
  } catch {
    throw new GrpcError(GrpcStatus.INTERNAL, 'the HealthCheckRequest cannot be read');
  }
  return service;
}
