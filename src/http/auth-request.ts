import type { Answer } from '../answer/answer';
import { hostOfAuthority } from '../request/authority';
import type { RequestLine, ViewResult } from '../request/view';
import {
  describingHeaders,
  replyStatingCredentials,
  viewOfDescribed,
  type HttpFrontDoor,
  type HttpReply,
} from './front-door';

// scheme "://" authority, then the request-target (possibly empty).
const ABSOLUTE_URL = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s;

/**
 * `/auth-request`: nginx `auth_request` (and ingress-nginx `auth-url`). The checked request is
 * X-Original-Method with X-Original-URL (`$scheme://$host…$request_uri`), or X-Original-URI
 * with the subrequest's Host and X-Forwarded-Proto. X-Original-Host, when sent, is the host
 * nginx routed on (`$host`): a URL naming another host is refused, for configs whose
 * X-Original-URL is built from the client's Host (ingress-nginx's, which routes on the request
 * line's host first). nginx only understands 2xx, 401 and 403 from here (anything else becomes
 * its 500), so a login redirect is answered 401 with the Location: the shipped nginx config
 * turns that into a 302 for browsers (examples/nginx/nginx.conf).
 */
export const authRequest: HttpFrontDoor = {
  name: 'auth_request',
  read: ({ headers }): ViewResult => {
    const described = describingHeaders(headers, [
      'x-original-method',
      'x-original-url',
      'x-original-uri',
      'x-original-host',
      'host',
      'x-forwarded-proto',
    ]);
    if (!described.ok) return described;
    const { 'x-original-method': method, 'x-original-url': url, 'x-original-host': routed } = described.values;
    if (!method) return { ok: false, detail: 'X-Original-Method is required' };
    const target = url === undefined ? fromUriAndHost(described.values) : fromAbsoluteUrl(url);
    if (!target.ok) return target;
    if (routed !== undefined && !sameHost(routed, target.line.authority))
      return { ok: false, detail: 'the checked URL names another host than X-Original-Host' };
    return viewOfDescribed({ method, ...target.line }, headers);
  },
  reply: (answer: Answer): HttpReply => {
    // nginx sets each credential header from the 200 (empty: not sent), so the 200 states them all.
    const reply = replyStatingCredentials(answer);
    return isRedirect(reply) ? { ...reply, status: 401 } : reply;
  },
};

type Target = { ok: true; line: Omit<RequestLine, 'method'> } | { ok: false; detail: string };

function fromAbsoluteUrl(url: string): Target {
  const match = ABSOLUTE_URL.exec(url);
  if (!match) return { ok: false, detail: 'X-Original-URL is not an absolute URL' };
  const [, scheme = '', authority = '', path = ''] = match;
  return { ok: true, line: { scheme, authority, path } };
}

function fromUriAndHost(values: { 'x-original-uri'?: string; host?: string; 'x-forwarded-proto'?: string }): Target {
  const { 'x-original-uri': path, host: authority, 'x-forwarded-proto': scheme } = values;
  if (!path || !authority) return { ok: false, detail: 'X-Original-URL, or X-Original-URI with Host, is required' };
  return { ok: true, line: { scheme: scheme ?? '', authority, path } };
}

/** Both name one host (ports aside: they select no rule); an unreadable one names none. */
function sameHost(routed: string, authority: string): boolean {
  const host = hostOfAuthority(routed);
  return host !== undefined && host === hostOfAuthority(authority);
}

function isRedirect(reply: HttpReply): boolean {
  return (reply.status === 302 || reply.status === 303) && reply.headers.some(([name]) => name === 'location');
}
