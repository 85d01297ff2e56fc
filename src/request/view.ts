import { hostOfAuthority } from './authority';
import type { HeaderBag } from './headers';
import { methodReadings } from './method';
import { pathReadings } from './path';

/** What the decision core knows about a request, independent of how it arrived. */
export interface RequestView {
  method: string;
  /** The method and every method an override header or `_method` names (see method.ts); usually just one. */
  methodReadings: readonly string[];
  scheme: string;
  /** `:authority` as received: always a plain `host[:port]` (see authority.ts). */
  authority: string;
  /** Lower-cased host name without port, for rule and allow-list matching. */
  host: string;
  /** `:path` as received: query string included, not decoded. */
  path: string;
  /** The distinct readings rules match on (see path.ts); usually just one. */
  pathReadings: readonly string[];
  headers: HeaderBag;
  /** Envoy's per-route `context_extensions`. */
  contextExtensions: Readonly<Record<string, string>>;
  /** `x-request-id`, passed on to Kratos and written to logs. */
  requestId: string | undefined;
}

export interface RequestLine {
  method: string;
  scheme: string;
  authority: string;
  path: string;
}

export type ViewResult = { ok: true; view: RequestView } | { ok: false; detail: string };

/** A view of the request, or why it cannot be decided at all (refused with 400 before any rule runs). */
export function buildRequestView(
  line: RequestLine,
  headers: HeaderBag,
  contextExtensions: Readonly<Record<string, string>>,
): ViewResult {
  // Methods are case-sensitive (RFC 9110 §9.1): `get` is not GET to a rule, but some upstreams
  // would treat it as one. Every standard and registered method is upper-case.
  if (line.method !== line.method.toUpperCase()) return { ok: false, detail: 'the method is not upper-case' };
  const host = hostOfAuthority(line.authority);
  if (host === undefined) return { ok: false, detail: 'the authority is not a plain host[:port]' };
  const methods = methodReadings(line.method, line.path, headers);
  if (methods === undefined) return { ok: false, detail: 'the method override headers name too many methods' };
  // Spelled out: a leading object spread is a slow path in V8 and this runs on every check.
  const view: RequestView = {
    method: line.method,
    methodReadings: methods,
    scheme: line.scheme,
    authority: line.authority,
    path: line.path,
    host,
    pathReadings: pathReadings(line.path),
    headers,
    contextExtensions,
    requestId: headers.first('x-request-id'),
  };
  return { ok: true, view };
}
