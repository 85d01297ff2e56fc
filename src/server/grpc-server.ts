import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { CheckFunction } from '../envoy/check';
import type { CheckRequest, CheckResponse, UnreadableCheckRequest } from '../envoy/messages';
import { AUTHORIZATION_SERVICE_NAME, loadAuthorizationServiceForServer, MAX_CHECK_REQUEST_BYTES } from '../envoy/proto';
import type { Logger } from '../observability/logger';

// Sent when even building a denial failed: still a successful RPC, still not OK, so Envoy
// denies instead of applying failure_mode_allow.
const LAST_RESORT: CheckResponse = {
  status: { code: 13, message: 'internal error' },
  denied_response: { status: { code: 500 }, headers: [], body: '' },
  dynamic_metadata: { fields: { decision: { stringValue: 'error' }, reason: { stringValue: 'internal_error' } } },
};

export const HEALTH_SERVICES = ['', AUTHORIZATION_SERVICE_NAME] as const;

/**
 * Envoy keeps one long-lived HTTP/2 connection per worker: keep it healthy, not recycled.
 * grpc-js refuses a message over its receive limit with RESOURCE_EXHAUSTED before any handler
 * runs, and Envoy counts that as an error (let through under failure_mode_allow): the limit sits
 * far above what the handler denies itself (MAX_CHECK_REQUEST_BYTES), so oversized requests get
 * a 413 denial. Only a request body over 56 MiB (with_request_body) could still reach it.
 */
export const GRPC_SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  'grpc.max_receive_message_length': 8 * MAX_CHECK_REQUEST_BYTES,
};

export function createGrpcServer(check: CheckFunction, health: HealthImplementation, logger: Logger): grpc.Server {
  const server = new grpc.Server(GRPC_SERVER_OPTIONS);
  server.addService(loadAuthorizationServiceForServer(), {
    Check(call: grpc.ServerUnaryCall<CheckRequest | UnreadableCheckRequest, CheckResponse>, callback: grpc.sendUnaryData<CheckResponse>) {
      check(call.request, deadlineOf(call)).then(
        (response) => callback(null, response),
        (error: unknown) => {
          logger.error({ err: error instanceof Error ? error.message : String(error) }, 'check failed unexpectedly');
          callback(null, LAST_RESORT);
        },
      );
    },
  });
  health.addToServer(server);
  return server;
}

/** Envoy sends its filter timeout as grpc-timeout; Infinity when the caller set none. */
function deadlineOf(call: grpc.ServerUnaryCall<CheckRequest | UnreadableCheckRequest, CheckResponse>): number {
  const deadline = call.getDeadline();
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

export function bindGrpc(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port)));
  });
}
