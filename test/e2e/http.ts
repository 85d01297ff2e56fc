// Plain fetch with a manual cookie jar: the e2e tests act as a browser (cookies, no automatic
// redirects) or as an API client (X-Session-Token), always through Envoy.

import { request as httpRequest } from 'node:http';

export type HeaderMap = Record<string, string>;

/** Cookies for one site: enough for Kratos's csrf_token_* and session cookies. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  /** Applies a response's Set-Cookie lines (expired or Max-Age<=0 cookies are removed). */
  storeSetCookies(lines: readonly string[]): void {
    for (const line of lines) {
      const [pair = '', ...attributes] = line.split(';');
      const equals = pair.indexOf('=');
      if (equals <= 0) continue;
      const name = pair.slice(0, equals).trim();
      const value = pair.slice(equals + 1).trim();
      if (value === '' || isExpired(attributes)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  set(name: string, value: string): void {
    this.cookies.set(name, value);
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

function isExpired(attributes: string[]): boolean {
  for (const attribute of attributes) {
    const [rawName = '', ...rest] = attribute.split('=');
    const name = rawName.trim().toLowerCase();
    const value = rest.join('=').trim();
    if (name === 'max-age' && Number(value) <= 0) return true;
    if (name === 'expires' && Date.parse(value) <= Date.now()) return true;
  }
  return false;
}

export interface Sent {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface RequestOptions {
  method?: string;
  headers?: HeaderMap;
  body?: unknown;
  jar?: CookieJar;
}

/**
 * One request, never following redirects; cookies come from and go to `jar`. node:http rather
 * than fetch: Node's fetch replaces a caller's `sec-fetch-mode` with "cors" (observed against
 * the echo upstream), so a fetch() can never look like a browser navigation.
 */
export async function send(url: string, options: RequestOptions = {}): Promise<Sent> {
  const headers: HeaderMap = { ...options.headers };
  const cookie = options.jar?.header();
  if (cookie) headers.cookie = cookie;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  const method = options.method ?? (body === undefined ? 'GET' : 'POST');
  const { status, rawHeaders, text } = await new Promise<{ status: number; rawHeaders: string[]; text: string }>(
    (resolve, reject) => {
      const request = httpRequest(url, { method, headers, timeout: 15_000 }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            rawHeaders: response.rawHeaders,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      });
      request.on('timeout', () => request.destroy(new Error(`${method} ${url}: no answer within 15s`)));
      request.on('error', reject);
      request.end(body);
    },
  );
  const responseHeaders = new Headers();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2)
    responseHeaders.append(rawHeaders[i] as string, rawHeaders[i + 1] as string);
  options.jar?.storeSetCookies(responseHeaders.getSetCookie());
  let json: unknown;
  try {
    json = text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    json = undefined;
  }
  return { status, headers: responseHeaders, text, json };
}

/** A top-level browser navigation (what the service redirects to the login page). */
export const NAVIGATION: HeaderMap = {
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'sec-fetch-mode': 'navigate',
  'sec-fetch-dest': 'document',
  'sec-fetch-site': 'none',
};

/** A fetch()/XHR call from page script (answered with JSON, never redirected). */
export const XHR: HeaderMap = {
  accept: 'application/json',
  'sec-fetch-mode': 'cors',
  'sec-fetch-dest': 'empty',
  'sec-fetch-site': 'same-origin',
  'x-requested-with': 'XMLHttpRequest',
};

export const API: HeaderMap = { accept: 'application/json' };

/** Retries `attempt` until `done` accepts its result or `timeoutMs` passes; returns the last result. */
export async function eventually<T>(
  attempt: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 15_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let value: T | undefined;
    let failure: unknown;
    try {
      value = await attempt();
    } catch (error) {
      failure = error;
    }
    if (failure === undefined && done(value as T)) return value as T;
    if (Date.now() >= deadline) {
      if (failure !== undefined) throw failure;
      return value as T;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a nested property: field(json, 'session', 'identity', 'id'). */
export function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) current = isRecord(current) ? current[key] : undefined;
  return current;
}

export function stringField(value: unknown, ...path: string[]): string {
  const found = field(value, ...path);
  if (typeof found !== 'string')
    throw new Error(`expected a string at ${path.join('.')} in ${JSON.stringify(value)?.slice(0, 2000)}`);
  return found;
}
