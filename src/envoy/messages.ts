/**
 * The CheckRequest / CheckResponse fields a check reads and writes, as codec.ts decodes and encodes
 * them (Envoy's snake_case names).
 */

export interface HeaderValue {
  key?: string;
  value?: string;
  raw_value?: Buffer;
}

export interface HttpRequestAttributes {
  id?: string;
  method?: string;
  headers?: Record<string, string>;
  header_map?: { headers?: HeaderValue[] };
  path?: string;
  host?: string;
  scheme?: string;
}

export interface CheckRequest {
  attributes?: {
    request?: { http?: HttpRequestAttributes };
    context_extensions?: Record<string, string>;
  };
}

/**
 * What the server's deserializer hands over instead of a CheckRequest when the bytes are not
 * one: the check must still be answered with a denial, never failed as an RPC (which
 * failure_mode_allow would let through).
 */
export interface UnreadableCheckRequest {
  /** `not_received`: the message did not arrive whole in time (a receive slot's time, or before the deadline). */
  unreadable: 'too_large' | 'undecodable' | 'not_received';
  detail: string;
}

export interface HeaderValueOption {
  header: { key: string; value: string };
  append: { value: boolean };
}

/**
 * google.protobuf.Value. protobufjs defines the well-known types itself with camelCase field
 * names, whatever keepCase says; a snake_case key here would be dropped silently.
 */
export type StructValue = { stringValue: string };

export interface CheckResponse {
  status: { code: number; message?: string };
  /** `response_headers_to_add` (OkHttpResponse field 6): added to the client's response. */
  ok_response?: {
    headers: HeaderValueOption[];
    headers_to_remove: readonly string[];
    response_headers_to_add: HeaderValueOption[];
  };
  denied_response?: { status: { code: number }; headers: HeaderValueOption[]; body: string };
  dynamic_metadata: { fields: Record<string, StructValue> };
}
