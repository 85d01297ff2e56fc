import type { CheckFunction } from '../envoy/check';
import { encodeCheckResponse } from '../envoy/codec';
import type { CheckRequest, CheckResponse, UnreadableCheckRequest } from '../envoy/messages';
import { AUTHORIZATION_SERVICE_NAME, CHECK_PATH, MAX_CHECK_REQUEST_BYTES, readCheckRequestBytes } from '../envoy/proto';
import { PREFIX_BYTES } from '../grpc/framing';
import { HEALTH_CHECK_PATH, HealthStatuses } from '../grpc/health';
import { GrpcServer, type CallContext, type UnaryMethod } from '../grpc/server';
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
 * The largest message the server buffers for a call: what Envoy sends for request headers at
 * their 8 MiB ceiling (max_request_headers_kb), with room for its framing. Such a request reaches
 * the handler and gets a denial (413 past 1 MiB of headers) rather than the RESOURCE_EXHAUSTED a
 * larger message is refused with before any handler runs, which Envoy counts as an error (let
 * through under failure_mode_allow). Only a request body sent with with_request_body can go past
 * it: this service reads none, leave it off.
 */
export const MAX_RECEIVE_MESSAGE_BYTES = MAX_CHECK_REQUEST_BYTES + 2 * 1024 * 1024;

/**
 * Calls receiving a message larger than one stream window at once. Each holds at most
 * MAX_RECEIVE_MESSAGE_BYTES (10 MiB; half as much again while its buffer doubles): the four take
 * at most 60 MiB, beside a service near 100 MiB, within the shipped limit. Envoy's messages for ordinary requests
 * are far smaller and need no slot; see ReceiveSlots.
 */
const RECEIVE_SLOTS = 4;

/** Half the slots: a connection that fills its share leaves the other half to the rest. */
const RECEIVE_SLOTS_PER_CONNECTION = 2;

/** How long a call's message may take to arrive, from its HEADERS or, for a large one, from its slot. */
const RECEIVE_MS = 250;

/**
 * Streams one connection may have open. A stream waiting for a receive slot holds at most the
 * 64 KiB HTTP/2 window its peer may send ahead: 16 MiB a connection. Envoy does not open another
 * connection when one is full (envoyproxy/envoy#13933): past 256 checks in flight on one worker,
 * it queues them.
 */
export const MAX_CONCURRENT_STREAMS = 256;

/** The Check and health methods on one gRPC server; `health` is what service.ts flips on drain. */
export function createGrpcServer(check: CheckFunction, health: HealthStatuses, logger: Logger): GrpcServer {
  const logUnexpected = (error: unknown) =>
    logger.error({ err: error instanceof Error ? error.message : String(error) }, 'check failed unexpectedly');
  // Nothing can fail past this: an encoding fault too is a denial, never an RPC error.
  const answerCheck = async (request: CheckRequest | UnreadableCheckRequest, call: CallContext): Promise<Buffer> => {
    try {
      // The call itself carries the trace headers: nothing is built for tracing per check.
      return encodeFramed(await check(request, call.deadline, call));
    } catch (error) {
      logUnexpected(error);
      return encodeFramed(LAST_RESORT);
    }
  };
  const checkMethod: UnaryMethod = {
    answer: (message, call) => answerCheck(readCheckRequestBytes(message), call),
    // A Check whose message did not come in time is still answered, with a denial.
    answerStalled: (call) => answerCheck(NOT_RECEIVED, call),
  };
  const methods = new Map([
    [CHECK_PATH, checkMethod],
    [HEALTH_CHECK_PATH, health.check],
  ]);
  return new GrpcServer(methods, {
    maxReceiveMessageBytes: MAX_RECEIVE_MESSAGE_BYTES,
    maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
    receiveSlots: RECEIVE_SLOTS,
    receiveSlotsPerConnection: RECEIVE_SLOTS_PER_CONNECTION,
    receiveMs: RECEIVE_MS,
    onUnexpectedError: logUnexpected,
  });
}

const NOT_RECEIVED: UnreadableCheckRequest = {
  unreadable: 'not_received',
  detail: `the CheckRequest did not arrive within ${RECEIVE_MS} ms or before the deadline`,
};

function encodeFramed(response: CheckResponse): Buffer {
  return encodeCheckResponse(response, PREFIX_BYTES);
}
