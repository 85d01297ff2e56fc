import type { Answer } from '../answer/answer';
import { credentialsToSet } from '../upstream/upstream-credentials';
import { upstreamRemovals } from '../answer/headers-to-remove';
import type { CheckResponse, HeaderValueOption, StructValue } from './messages';

/** Flat string facts for Envoy's dynamic metadata (namespace envoy.filters.http.ext_authz). */
export type Metadata = Readonly<Record<string, string | undefined>>;

/** Answer → CheckResponse. A denial is a successful RPC with a non-zero status, never a gRPC error. */
export function toCheckResponse(answer: Answer, metadata: Metadata): CheckResponse {
  const dynamic_metadata = { fields: structFields(metadata) };
  if (answer.kind === 'allow') {
    return {
      status: { code: 0 },
      ok_response: {
        // append false overwrites every line the client sent (a stripped Cookie's rest is one line).
        headers: [...answer.identityHeaders, ...credentialsToSet(answer.upstreamCredentials)].map(([name, value]) =>
          headerOption(name, value),
        ),
        headers_to_remove: upstreamRemovals(answer),
        response_headers_to_add: answer.clientHeaders.map(([name, value]) => headerOption(name, value, true)),
      },
      dynamic_metadata,
    };
  }
  return {
    status: { code: grpcCodeOf(answer.status) },
    denied_response: {
      status: { code: answer.status },
      headers: answer.headers.map(([name, value]) => headerOption(name, value)),
      body: answer.body,
    },
    dynamic_metadata,
  };
}

// google.rpc.Code values Envoy sees in CheckResponse.status (its value does not change the
// HTTP answer, but access logs and tracing show it), one per status an Answer can have.
const GRPC_CODE_OF_STATUS: Readonly<Record<number, number>> = {
  302: 16, // unauthenticated: a login redirect
  303: 16,
  401: 16,
  403: 7, // permission denied
  400: 3, // invalid argument
  408: 4, // deadline exceeded
  413: 8, // resource exhausted
  503: 14, // unavailable
  500: 13, // internal
};

export function grpcCodeOf(status: number): number {
  return GRPC_CODE_OF_STATUS[status] ?? 13;
}

/**
 * `append` is set explicitly: Envoy <= 1.36 only reads this deprecated flag (false = overwrite
 * what the client sent), and newer Envoy would default to appending when neither is set. A
 * header for the client's response is appended (`true`): Envoy adds it as a line of its own
 * beside the upstream's, so a renewed session cookie never replaces the app's own Set-Cookie
 * (`false` does replace it). A denial's headers stay `false`: 1.36.4 and 1.40.0 keep several
 * set-cookie lines of a denial apart with it, and drop them all with `true` (both seen).
 */
function headerOption(key: string, value: string, append = false): HeaderValueOption {
  return { header: { key, value }, append: { value: append } };
}

/** google.protobuf.Struct in its wire shape: proto-loader does not convert plain objects. */
function structFields(metadata: Metadata): Record<string, StructValue> {
  const fields: Record<string, StructValue> = {};
  for (const [key, value] of Object.entries(metadata)) {
    // Absent facts are left out, so access logs print "-" rather than an empty string.
    if (value !== undefined) fields[key] = { stringValue: value };
  }
  return fields;
}
