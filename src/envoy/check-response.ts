import type { Answer } from '../answer/answer';
import type { CheckResponse, HeaderValueOption, StructValue } from './messages';

/** Flat string facts for Envoy's dynamic metadata (namespace envoy.filters.http.ext_authz). */
export type Metadata = Readonly<Record<string, string | undefined>>;

/** Answer → CheckResponse. A denial is a successful RPC with a non-zero status, never a gRPC error. */
export function toCheckResponse(answer: Answer, metadata: Metadata): CheckResponse {
  const dynamic_metadata = { fields: structFields(metadata) };
  if (answer.kind === 'allow') {
    return {
      status: { code: 0 },
      ok_response: { headers: answer.setHeaders.map(([name, value]) => headerOption(name, value)), headers_to_remove: [...answer.removeHeaders] },
      dynamic_metadata,
    };
  }
  return {
    status: { code: answer.grpcCode },
    denied_response: { status: { code: answer.status }, headers: answer.headers.map(([name, value]) => headerOption(name, value)), body: answer.body },
    dynamic_metadata,
  };
}

/**
 * `append` is set explicitly: Envoy <= 1.36 only reads this deprecated flag (false = overwrite
 * what the client sent), and newer Envoy would default to appending when neither is set.
 */
function headerOption(key: string, value: string): HeaderValueOption {
  return { header: { key, value }, append: { value: false } };
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
