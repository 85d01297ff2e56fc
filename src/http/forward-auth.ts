import type { ViewResult } from '../request/view';
import { describingHeaders, replyStatingCredentials, viewOfDescribed, type HttpFrontDoor } from './front-door';

/**
 * `/forward-auth`: Traefik `forwardAuth`, Caddy `forward_auth` and their family. The proxy calls
 * with the client's own headers (credentials, Accept, Sec-Fetch-*) and describes the checked
 * request in X-Forwarded-Method, -Proto, -Host and -Uri. Host and Uri are required: falling back
 * to the call's own Host or path would decide about the authorizer's address, not the app's.
 * Traefik's authResponseHeaders and Caddy's copy_headers delete a listed header the 200 lacks:
 * the 200 states the credential headers the upstream is to get (replyStatingCredentials).
 */
export const forwardAuth: HttpFrontDoor = {
  name: 'forward_auth',
  read: ({ headers }): ViewResult => {
    const described = describingHeaders(headers, [
      'x-forwarded-method',
      'x-forwarded-proto',
      'x-forwarded-host',
      'x-forwarded-uri',
    ]);
    if (!described.ok) return described;
    const {
      'x-forwarded-method': method,
      'x-forwarded-proto': scheme,
      'x-forwarded-host': authority,
      'x-forwarded-uri': path,
    } = described.values;
    if (!method || !authority || !path)
      return { ok: false, detail: 'X-Forwarded-Method, X-Forwarded-Host and X-Forwarded-Uri are required' };
    // Without X-Forwarded-Proto the scheme is unknown: the login link then carries no return_to.
    return viewOfDescribed({ method, scheme: scheme ?? '', authority, path }, headers);
  },
  reply: replyStatingCredentials,
};
