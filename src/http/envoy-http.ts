import type { Answer } from '../answer/answer';
import { upstreamRemovals } from '../answer/headers-to-remove';
import { credentialsToSet } from '../upstream/upstream-credentials';
import type { ViewResult } from '../request/view';
import { describingHeaders, plainReply, viewOfDescribed, type HttpFrontDoor, type HttpReply } from './front-door';

export const ENVOY_PATH_PREFIX = '/ext-authz';

/**
 * `/ext-authz/*`: Envoy's ext_authz `http_service` with `path_prefix: /ext-authz`. Envoy calls
 * with the checked request's own method, its path after the prefix, its Host, and the headers
 * `allowed_headers` lets through (add cookie, x-session-token, accept, sec-fetch-mode and
 * x-forwarded-proto). On a 200 Envoy copies the `allowed_upstream_headers` upstream and strips
 * the headers named in `x-envoy-auth-headers-to-remove`: the same removal the gRPC door asks for.
 * A header the 200 does not name is left as the client sent it, so a stripped Cookie's rest is
 * answered as `cookie` (in `allowed_upstream_headers`, which overwrites) and only an emptied
 * one, X-Session-Token or the Bearer is named for removal.
 *
 * Envoy counts every 5xx from an HTTP authorizer as the authorizer failing, not as a denial: it
 * drops the body, answers status_on_error, and under failure_mode_allow: true lets the request
 * through. So "Kratos unavailable" and internal errors are answered 403 here, with the same
 * JSON body (its id and code say what happened) and Retry-After, and stay denials whatever
 * Envoy's failure mode (as the gRPC door's denials are successful RPCs for the same reason).
 */
export const envoyHttp: HttpFrontDoor = {
  name: 'envoy_http',
  read: ({ method, target, headers }): ViewResult => {
    const described = describingHeaders(headers, ['host', 'x-forwarded-proto']);
    if (!described.ok) return described;
    const { host: authority, 'x-forwarded-proto': scheme } = described.values;
    if (!authority) return { ok: false, detail: 'the call has no Host' };
    return viewOfDescribed(
      { method, scheme: scheme ?? '', authority, path: target.slice(ENVOY_PATH_PREFIX.length) },
      headers,
    );
  },
  reply: (answer: Answer): HttpReply => {
    const reply = plainReply(answer);
    if (answer.kind !== 'allow') return reply.status >= 500 ? { ...reply, status: 403 } : reply;
    return {
      ...reply,
      headers: [
        ...reply.headers,
        ...credentialsToSet(answer.upstreamCredentials),
        ['x-envoy-auth-headers-to-remove', upstreamRemovals(answer).join(',')],
      ],
    };
  },
};
