import http from 'node:http';
import type { Duplex } from 'node:stream';
import { errorAnswer, type Answer } from '../answer/answer';
import { authorize, refusal, type AuthorizeDependencies, type Reading } from '../authorize';
import type { Logger } from '../observability/logger';
import { authRequest } from './auth-request';
import { ENVOY_PATH_PREFIX, envoyHttp } from './envoy-http';
import { forwardAuth } from './forward-auth';
import { headerLinesOf, plainReply, type HttpFrontDoor, type HttpReply } from './front-door';

/**
 * Above Envoy's default max_request_headers_kb (60 KiB), so a request a proxy let through is
 * not refused here for its size; beyond it the call is answered 431 JSON.
 */
const MAX_HEADER_BYTES = 64 * 1024;
/** No door reads a body; this bounds what Envoy's with_request_body or Traefik's forwardBody may send. */
export const MAX_BODY_BYTES = 64 * 1024;
/**
 * Proxies keep idle connections to the authorizer far longer than Node's 5 s default (nginx
 * upstream keepalive 60 s, Go's default transport 90 s, Caddy 2 min): closing first races
 * their next request on the connection into an error.
 */
const KEEP_ALIVE_MS = 125_000;

/** What a call is decided under, taken once when it starts: a live reload swaps it whole. */
export interface HttpAuthzSettings {
  authorize: AuthorizeDependencies;
  isTrustedProxy: (peer: string | undefined) => boolean;
}

export interface HttpAuthzOptions {
  /** Runs `use` under the configuration current when the call starts. */
  underCurrentConfig: <T>(use: (settings: HttpAuthzSettings) => Promise<T>) => Promise<T>;
  /** http_authz.request_timeout: headers and body must have arrived by then; also the decision's deadline. */
  requestTimeout: number;
  logger: Logger;
  /** Counts calls refused before any door saw them (malformed, too large, too slow), by status. */
  onClientError: (status: number) => void;
}

// Sent when even building a denial failed, shaped by the door like any answer: never a 2xx,
// and on the Envoy door not a 5xx either, so no proxy lets the request through.
const LAST_RESORT: Answer = errorAnswer(
  500,
  'internal_error',
  'Internal Server Error',
  'The request could not be authorized.',
);
const NOT_FOUND: HttpReply = plainReply(
  errorAnswer(404, 'not_found', 'Not Found', 'Use /forward-auth, /auth-request or /ext-authz/<path>.'),
);

/** The HTTP authorization listener: one check per call, whichever door it came in by. */
export function createHttpAuthzServer(options: HttpAuthzOptions): http.Server {
  const server = http.createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      requestTimeout: options.requestTimeout,
      headersTimeout: options.requestTimeout,
      // Node checks the two timeouts on this interval (30 s by default, far past them).
      connectionsCheckingInterval: Math.min(1000, Math.ceil(options.requestTimeout / 4)),
      keepAliveTimeout: KEEP_ALIVE_MS,
    },
    (request, response) => {
      const door = doorOf(request.url ?? '');
      if (!door) return send(response, NOT_FOUND);
      // send() is inside the chain too: a reply Node refuses to write (a header value it
      // rejects) must still end in an answer, not an unhandled rejection and a hung call.
      handle(door, request, options)
        .then((reply) => send(response, reply))
        .catch((error: unknown) => {
          options.logger.error(
            { err: error instanceof Error ? error.message : String(error) },
            'http authorization failed unexpectedly',
          );
          send(response, door.reply(LAST_RESORT));
        });
    },
  );
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) =>
    answerClientError(error, socket, options.onClientError),
  );
  return server;
}

function doorOf(target: string): HttpFrontDoor | undefined {
  const path = target.split('?', 1)[0];
  if (path === '/forward-auth') return forwardAuth;
  if (path === '/auth-request') return authRequest;
  if (target.startsWith(`${ENVOY_PATH_PREFIX}/`)) return envoyHttp;
  return undefined;
}

/** undefined when the client went away: there is nobody left to answer. */
async function handle(
  door: HttpFrontDoor,
  request: http.IncomingMessage,
  options: HttpAuthzOptions,
): Promise<HttpReply | undefined> {
  const started = performance.now();
  const body = await bodyWithin(request, MAX_BODY_BYTES);
  if (body === 'gone') return undefined;
  const { answer } = await options.underCurrentConfig(({ authorize: deps, isTrustedProxy }) =>
    authorize(
      door.name,
      readingOf(door, request, body === 'too_large', isTrustedProxy),
      Date.now() + options.requestTimeout,
      deps,
      request,
      started,
    ),
  );
  const reply = door.reply(answer);
  // The rest of an oversized body is not read: the connection cannot carry another call.
  return body === 'too_large' ? { ...reply, headers: [...reply.headers, ['connection', 'close']] } : reply;
}

function readingOf(
  door: HttpFrontDoor,
  request: http.IncomingMessage,
  bodyTooLarge: boolean,
  isTrustedProxy: (peer: string | undefined) => boolean,
): Reading {
  const peer = request.socket.remoteAddress;
  // Checked first: an untrusted peer learns nothing about how its request would be read.
  if (!isTrustedProxy(peer))
    return refusal('untrusted_proxy', `peer ${peer ?? 'unknown'} is not in http_authz.trusted_proxies`);
  if (bodyTooLarge) return refusal('request_too_large', `the body is over ${MAX_BODY_BYTES} bytes`);
  const read = door.read({
    method: request.method ?? '',
    target: request.url ?? '',
    headers: headerLinesOf(request.rawHeaders),
  });
  return read.ok ? read : refusal('bad_request', read.detail);
}

/** Reads and drops the body, up to `limit` bytes. */
function bodyWithin(request: http.IncomingMessage, limit: number): Promise<'read' | 'too_large' | 'gone'> {
  if (request.complete) return Promise.resolve('read');
  return new Promise((resolve) => {
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return;
      request.off('data', onData);
      request.pause();
      resolve('too_large');
    };
    request.on('data', onData);
    request.once('end', () => resolve('read'));
    request.once('close', () => resolve(request.complete ? 'read' : 'gone'));
  });
}

function send(response: http.ServerResponse, reply: HttpReply | undefined): void {
  if (reply === undefined || response.headersSent || response.destroyed) return;
  // Every reply is whole in memory: say its length rather than chunk it.
  response.writeHead(reply.status, [...reply.headers.flat(), 'content-length', String(Buffer.byteLength(reply.body))]);
  response.end(reply.body);
}

const CLIENT_ERRORS: Readonly<Record<string, HttpReply>> = {
  HPE_HEADER_OVERFLOW: plainReply(
    errorAnswer(
      431,
      'request_too_large',
      'Request Header Fields Too Large',
      `The request headers are over ${MAX_HEADER_BYTES} bytes.`,
    ),
  ),
  ERR_HTTP_REQUEST_TIMEOUT: plainReply(
    errorAnswer(
      408,
      'request_timeout',
      'Request Timeout',
      'The request did not arrive within http_authz.request_timeout.',
    ),
  ),
};
const MALFORMED = plainReply(errorAnswer(400, 'bad_request', 'Bad Request', 'Malformed HTTP request.'));

/**
 * Node's parser refused the call before any door saw it: answer in JSON like every other
 * refusal (Node's default is a bare status line), then close, as the stream is out of step.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex, count: (status: number) => void): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const reply = CLIENT_ERRORS[error.code ?? ''] ?? MALFORMED;
  count(reply.status);
  const head = [
    `HTTP/1.1 ${reply.status} ${http.STATUS_CODES[reply.status] ?? ''}`,
    ...reply.headers.map(([name, value]) => `${name}: ${value}`),
    `content-length: ${Buffer.byteLength(reply.body)}`,
    'connection: close',
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${reply.body}`);
}
