import type { HeaderBag } from './headers';
import { literalPath, normalisePath } from './path';

/** What the decision core knows about a request, independent of how it arrived. */
export interface RequestView {
  method: string;
  scheme: string;
  /** `:authority` as received (may carry a port). */
  authority: string;
  /** Lower-cased host name without port or trailing dot, for rule and allow-list matching. */
  host: string;
  /** `:path` as received: query string included, not decoded. */
  path: string;
  /** The two readings rules match on; see path.ts. Usually the same string. */
  normalisedPath: string;
  literalPath: string;
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

export function buildRequestView(line: RequestLine, headers: HeaderBag, contextExtensions: Readonly<Record<string, string>>): RequestView {
  // Spelled out: a leading object spread is a slow path in V8 and this runs on every check.
  return {
    method: line.method,
    scheme: line.scheme,
    authority: line.authority,
    path: line.path,
    host: hostOf(line.authority),
    normalisedPath: normalisePath(line.path),
    literalPath: literalPath(line.path),
    headers,
    contextExtensions,
    requestId: headers.first('x-request-id'),
  };
}

function hostOf(authority: string): string {
  const lower = authority.toLowerCase();
  const withoutPort = lower.startsWith('[') ? lower.slice(0, lower.indexOf(']') + 1) : lower.replace(/:\d*$/, '');
  return withoutPort.replace(/\.$/, '');
}
