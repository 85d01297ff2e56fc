import { HeaderLines, JoinedHeaders, type HeaderBag } from '../request/headers';
import { buildRequestView, type ViewResult } from '../request/view';
import type { CheckRequest, HttpRequestAttributes } from './messages';

/** CheckRequest → RequestView, accepting both of Envoy's header encodings. */
export function readCheckRequest(request: CheckRequest): ViewResult {
  const http = request.attributes?.request?.http;
  if (!http) return { ok: false, detail: 'attributes.request.http is missing' };
  const headers = readHeaders(http);
  // The attribute fields are always filled by Envoy; the pseudo-headers are a fallback for
  // callers that only send headers.
  const method = http.method || headers.first(':method');
  const path = http.path || headers.first(':path');
  if (!method || !path) return { ok: false, detail: 'the request has no method or path' };
  const line = {
    method,
    path,
    authority: http.host || headers.first(':authority') || headers.first('host') || '',
    scheme: http.scheme || headers.first(':scheme') || '',
  };
  return buildRequestView(line, headers, request.attributes?.context_extensions ?? {});
}

/**
 * header_map (encode_raw_headers) has one entry per header line with the bytes in raw_value;
 * the headers map has one comma-joined value per name. Envoy fills one of them; when a caller
 * sends both, header_map is the more faithful and wins.
 */
function readHeaders(http: HttpRequestAttributes): HeaderBag {
  const raw = http.header_map?.headers;
  if (raw && raw.length > 0) {
    const bag = new HeaderLines();
    for (const entry of raw) {
      if (!entry.key) continue;
      // latin1 maps each byte to one code unit, so no byte is lost or turned into U+FFFD;
      // credential checks then reject anything outside visible ASCII.
      const value =
        entry.raw_value && entry.raw_value.length > 0 ? entry.raw_value.toString('latin1') : (entry.value ?? '');
      bag.add(entry.key, value);
    }
    return bag;
  }
  return new JoinedHeaders(http.headers ?? {});
}
