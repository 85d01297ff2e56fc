// Requests that fetch and node:http's URL handling cannot send: a path exactly as written (no
// dot-segment removal), several header lines of one name over HTTP/1.1, and HTTP/2 cleartext
// (prior knowledge), where cookies travel as separate header fields.
import { connect as connectHttp2, constants } from 'node:http2';
import { connect as connectTcp } from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One HTTP/1.1 request written byte for byte; `headerLines` may repeat a name. */
export function http1Raw(
  base: string,
  method: string,
  path: string,
  headerLines: readonly (readonly [string, string])[],
): Promise<RawAnswer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connectTcp(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    socket.setTimeout(15_000, () => socket.destroy(new Error(`${method} ${path}: no answer within 15s`)));
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      try {
        resolve(parseHttp1(Buffer.concat(chunks).toString('utf8')));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    // A caller's own host line replaces the default one (to send a forged or odd Host).
    const host = headerLines.some(([name]) => name.toLowerCase() === 'host') ? [] : [`host: ${url.host}`];
    const head = [
      `${method} ${path} HTTP/1.1`,
      ...host,
      ...headerLines.map(([n, v]) => `${n}: ${v}`),
      'connection: close',
      '',
      '',
    ].join('\r\n');
    socket.write(head);
  });
}

function parseHttp1(text: string): RawAnswer {
  const split = text.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`not an HTTP answer: ${text.slice(0, 200)}`);
  const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = text.slice(split + 4);
  // Enough chunked decoding for the small bodies of these tests.
  if ((headers['transfer-encoding'] ?? '').includes('chunked')) {
    let decoded = '';
    for (let rest = body; ;) {
      const end = rest.indexOf('\r\n');
      const size = parseInt(rest.slice(0, end), 16);
      if (!size) break;
      decoded += rest.slice(end + 2, end + 2 + size);
      rest = rest.slice(end + 2 + size + 2);
    }
    body = decoded;
  }
  return { status, headers, body };
}

/** One HTTP/2 cleartext request; `cookies` are sent as separate `cookie` fields (RFC 9113 §8.2.3). */
export function http2Get(
  base: string,
  path: string,
  headers: Record<string, string>,
  cookies: readonly string[],
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(base);
    session.on('error', reject);
    const request = session.request({ [constants.HTTP2_HEADER_PATH]: path, ...headers, cookie: [...cookies] });
    const chunks: Buffer[] = [];
    let status = 0;
    const answer: Record<string, string> = {};
    request.setTimeout(15_000, () => request.close());
    request.on('response', (h) => {
      status = Number(h[':status']);
      for (const [name, value] of Object.entries(h))
        if (!name.startsWith(':') && value !== undefined) answer[name] = String(value);
    });
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      session.close();
      resolve({ status, headers: answer, body: Buffer.concat(chunks).toString('utf8') });
    });
    request.on('error', (error) => {
      session.close();
      reject(error);
    });
    request.end();
  });
}
