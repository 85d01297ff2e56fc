import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { CheckFunction } from '../envoy/check';
import type { CheckRequest, CheckResponse, UnreadableCheckRequest } from '../envoy/messages';
import { AUTHORIZATION_SERVICE_NAME, loadAuthorizationServiceForServer, MAX_CHECK_REQUEST_BYTES } from '../envoy/proto';
import type { Logger } from '../observability/logger';
import { ReceiveSlots, receiveSlotsInterceptor } from './receive-slots';

// Sent when even building a denial failed: still a successful RPC, still not OK, so Envoy
// denies instead of applying failure_mode_allow.
const LAST_RESORT: CheckResponse = {
  status: { code: 13, message: 'internal error' },
  denied_response: { status: { code: 500 }, headers: [], body: '' },
  dynamic_metadata: { fields: { decision: { stringValue: 'error' }, reason: { stringValue: 'internal_error' } } },
};

export const HEALTH_SERVICES = ['', AUTHORIZATION_SERVICE_NAME] as const;

/**
 * The largest message grpc-js buffers for a call: what Envoy sends for request headers at their
 * 8 MiB ceiling (max_request_headers_kb), with room for its framing. Such a request reaches the
 * handler and gets a denial (413 past 1 MiB of headers) rather than the RESOURCE_EXHAUSTED
 * grpc-js answers larger messages with before any handler runs, which Envoy counts as an error
 * (let through under failure_mode_allow). Only a request body sent with with_request_body can go
 * past it: this service reads none, leave it off.
 */
export const MAX_RECEIVE_MESSAGE_BYTES = MAX_CHECK_REQUEST_BYTES + 2 * 1024 * 1024;

/**
 * Calls receiving their message at once, besides the one slot kept for quick connections. Each
 * may hold MAX_RECEIVE_MESSAGE_BYTES and its joined copy (20 MiB): the four take at most 80 MiB,
 * beside a service near 100 MiB, within the shipped 256Mi limit. Envoy's messages are small and
 * arrive whole, so a slot is free again within microseconds; see ReceiveSlots.
 */
export const RECEIVE_SLOTS = 3;

/** How long a call that has its slot may take to send its message. */
export const RECEIVE_SLOT_MS = 250;

/**
 * Streams one connection may have open. A stream waiting for a receive slot holds at most the
 * 64 KiB HTTP/2 window its peer may send ahead: 16 MiB a connection. Envoy does not open another
 * connection when one is full (envoyproxy/envoy#13933): past 256 checks in flight on one worker,
 * it queues them.
 */
export const MAX_CONCURRENT_STREAMS = 256;

/** Envoy keeps one long-lived HTTP/2 connection per worker: keep it healthy, not recycled. */
export const GRPC_SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES,
  'grpc.max_concurrent_streams': MAX_CONCURRENT_STREAMS,
};

export function createGrpcServer(check: CheckFunction, health: HealthImplementation, logger: Logger): grpc.Server {
  const service = loadAuthorizationServiceForServer();
  const substitutes = new Map([[`/${AUTHORIZATION_SERVICE_NAME}/Check`, unreadCheckRequest]]);
  const receiving = receiveSlotsInterceptor(new ReceiveSlots(RECEIVE_SLOTS), RECEIVE_SLOT_MS, substitutes);
  const server = new grpc.Server({ ...GRPC_SERVER_OPTIONS, interceptors: [receiving] });
  server.addService(service, {
    Check(call: grpc.ServerUnaryCall<CheckRequest | UnreadableCheckRequest, CheckResponse>, callback: grpc.sendUnaryData<CheckResponse>) {
      check(call.request, deadlineOf(call), (name) => firstText(call.metadata.get(name))).then(
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

/** A Check whose message stalled in its slot is still answered, with a denial. */
function unreadCheckRequest(): UnreadableCheckRequest {
  return { unreadable: 'undecodable', detail: `the CheckRequest did not arrive within ${RECEIVE_SLOT_MS} ms` };
}

/** A text metadata value (binary `-bin` ones are Buffers, and no trace header is one). */
function firstText(values: grpc.MetadataValue[]): string | undefined {
  const [first] = values;
  return typeof first === 'string' ? first : undefined;
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
