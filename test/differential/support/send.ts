/**
 * Sends a variant to a proxy exactly as written: HTTP/1.1 byte for byte over a socket (any
 * request-line form, repeated or missing Host, any header spelling), HTTP/2 in cleartext with
 * prior knowledge (:authority beside a disagreeing host field). Only the status is read: what
 * the app served, the app itself reports.
 */
import { connect as connectHttp2 } from 'node:http2';
import { connect as connectTcp } from 'node:net';
import { MARKER_HEADER } from './policy';
import type { Variant } from './variants';

// Every answer here takes milliseconds; a stall is a refusal, and the run stays bounded.
const TIMEOUT_MS = 2_000;

/** The status the proxy answered, or 0 when it closed or stalled without one. */
export type Status = number;

/** The variant's path with its marker as the last segment (before any query). */
function markedPath(path: string, marker: string): string {
  const query = path.search(/[?#]/);
  const [head, tail] = query === -1 ? [path, ''] : [path.slice(0, query), path.slice(query)];
  return `${head}${head.endsWith('/') ? '' : '/'}${marker}${tail}`;
}

export function send(
  port: number,
  variant: Variant,
  marker: string,
  credential: ReadonlyArray<[string, string]>,
): Promise<Status> {
  const headers: Array<[string, string]> = [
    ...variant.headers,
    ...credential,
    [MARKER_HEADER, marker],
    ['accept', 'application/json'],
  ];
  return variant.protocol === 'http2'
    ? sendHttp2(port, variant, marker, headers)
    : sendHttp1(port, variant, marker, headers);
}

function requestTarget(variant: Variant, marker: string): string {
  const { line } = variant;
  if (line.form === 'authority') return line.host;
  if (line.form === 'asterisk') return '*';
  const path = markedPath(variant.path, marker);
  return line.form === 'absolute' ? `http://${line.host}${path}` : path;
}

function sendHttp1(
  port: number,
  variant: Variant,
  marker: string,
  headers: ReadonlyArray<[string, string]>,
): Promise<Status> {
  const lines = [
    `${variant.method} ${requestTarget(variant, marker)} HTTP/1.1`,
    ...variant.hosts.map((host) => `Host: ${host}`),
    ...headers.map(([name, value]) => `${name}: ${value}`),
    'Connection: close',
    '',
    '',
  ];
  return new Promise((resolve) => {
    const socket = connectTcp(port, '127.0.0.1');
    let head = '';
    const done = (status: Status) => {
      socket.destroy();
      resolve(status);
    };
    socket.setTimeout(TIMEOUT_MS, () => done(0));
    socket.on('error', () => done(statusOf(head)));
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (head.includes('\r\n')) done(statusOf(head));
    });
    socket.on('end', () => done(statusOf(head)));
    socket.write(lines.join('\r\n'), 'latin1');
  });
}

function statusOf(head: string): Status {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  return match ? Number(match[1]) : 0;
}

function sendHttp2(
  port: number,
  variant: Variant,
  marker: string,
  headers: ReadonlyArray<[string, string]>,
): Promise<Status> {
  const fields: Record<string, string | string[]> = {
    ':method': variant.method,
    ':path': markedPath(variant.path, marker),
    ':scheme': 'http',
  };
  const [authority, ...hostFields] = variant.hosts;
  if (authority !== undefined) fields[':authority'] = authority;
  for (const [name, value] of [...hostFields.map((host): [string, string] => ['host', host]), ...headers]) {
    const lower = name.toLowerCase();
    const present = fields[lower];
    fields[lower] = present === undefined ? value : [...(Array.isArray(present) ? present : [present]), value];
  }
  return new Promise((resolve) => {
    const session = connectHttp2(`http://127.0.0.1:${port}`);
    const done = (status: Status) => {
      session.destroy();
      resolve(status);
    };
    const timer = setTimeout(() => done(0), TIMEOUT_MS);
    for (const event of ['error', 'goaway']) session.on(event, () => done(0));
    try {
      const request = session.request(fields, { endStream: true });
      request.on('response', (answer) => {
        clearTimeout(timer);
        done(Number(answer[':status']));
      });
      // A stream the proxy reset, or one node:http2 would not send, closes without a response.
      for (const event of ['error', 'close']) {
        request.on(event, () => {
          clearTimeout(timer);
          done(0);
        });
      }
    } catch {
      // node:http2 refuses to send some fields (a Host it deems invalid): nothing reached the proxy.
      clearTimeout(timer);
      done(0);
    }
  });
}
