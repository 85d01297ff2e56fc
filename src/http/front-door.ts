import type { Answer } from '../answer/answer';
import type { HeaderList } from '../request/headers';
import { credentialsAsStated } from '../upstream/upstream-credentials';
import type { FrontDoor } from '../observability/check-observer';
import { HeaderLines, type HeaderBag } from '../request/headers';
import { buildRequestView, type RequestLine, type ViewResult } from '../request/view';

/** The authorization request as it reached us: the proxy's call, not yet the checked request. */
export interface AuthzCall {
  method: string;
  /** The request-target of the call, e.g. `/forward-auth` or `/ext-authz/orders?id=7`. */
  target: string;
  headers: HeaderBag;
}

/** An HTTP answer to the proxy's call. */
export interface HttpReply {
  status: number;
  headers: HeaderList;
  body: string;
}

/** One proxy dialect: how it describes the checked request, and how it must be answered. */
export interface HttpFrontDoor {
  name: Exclude<FrontDoor, 'grpc'>;
  read(call: AuthzCall): ViewResult;
  reply(answer: Answer): HttpReply;
}

/**
 * Node's rawHeaders, one entry per line as received (names in any case, values latin1-decoded
 * by Node's parser, so no byte is lost): unlike `request.headers`, repeated lines are never
 * joined, so a `,` inside a value never looks like a line boundary.
 */
export function headerLinesOf(rawHeaders: readonly string[]): HeaderLines {
  const bag = new HeaderLines();
  for (let index = 0; index + 1 < rawHeaders.length; index += 2)
    bag.add(rawHeaders[index] as string, rawHeaders[index + 1] as string);
  return bag;
}

/**
 * The headers that describe the checked request (`X-Forwarded-Host`, `X-Original-URL`, …), each
 * one line or none. Two lines mean two proxies disagree, or a client smuggled one past its
 * proxy: which one the upstream believes is unknowable, so the request is refused, not guessed.
 */
export function describingHeaders<Name extends string>(
  headers: HeaderBag,
  names: readonly Name[],
): { ok: true; values: Partial<Record<Name, string>> } | { ok: false; detail: string } {
  const values: Partial<Record<Name, string>> = {};
  for (const name of names) {
    const lines = headers.all(name);
    if (lines.length > 1) return { ok: false, detail: `${name} appears ${lines.length} times` };
    if (lines[0] !== undefined) values[name] = lines[0];
  }
  return { ok: true, values };
}

// RFC 9110 §9.1: a method is a token. A header can hold anything, e.g. "GET, POST".
const METHOD_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * buildRequestView for a request line a proxy described in headers. The method must be a
 * token, and the path origin-form (`/…`): an absolute-form or `*` target would be matched
 * against path rules it does not read as, while the upstream routes something else.
 */
export function viewOfDescribed(line: RequestLine, headers: HeaderBag): ViewResult {
  if (!METHOD_TOKEN.test(line.method)) return { ok: false, detail: 'the checked method is not an HTTP method' };
  if (!line.path.startsWith('/')) return { ok: false, detail: 'the checked path does not start with "/"' };
  return buildRequestView(line, headers, {});
}

/**
 * allow → 200 with the identity headers for the proxy to copy upstream, and the client's headers
 * (a renewed session cookie's `set-cookie` lines) for a proxy that can hand them to the client;
 * a denial as it is.
 */
export function plainReply(answer: Answer): HttpReply {
  if (answer.kind === 'allow')
    return {
      status: 200,
      headers: [...answer.identityHeaders, ...answer.clientHeaders, ['cache-control', 'no-store']],
      body: '',
    };
  return { status: answer.status, headers: answer.headers, body: answer.body };
}

/**
 * plainReply, and on an allow every credential header the upstream is to get with what it is to
 * get (credentialsAsStated): for proxies that copy a listed header from the 200 and delete it
 * when the 200 has none (Caddy, Traefik, nginx), so a stripped credential is simply left out.
 */
export function replyStatingCredentials(answer: Answer): HttpReply {
  const reply = plainReply(answer);
  return answer.kind === 'allow'
    ? { ...reply, headers: [...reply.headers, ...credentialsAsStated(answer.upstreamCredentials)] }
    : reply;
}
