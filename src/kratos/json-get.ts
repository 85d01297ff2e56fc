import { Pool } from 'undici';

/** A Kratos answer: its status and its body parsed as JSON (undefined when it is not JSON). */
export interface JsonAnswer {
  status: number;
  body: unknown;
  /** Its `Set-Cookie` lines, one entry per line as sent (whoami renews the session cookie with one). */
  setCookie: readonly string[];
}

export type JsonGetResult = JsonAnswer | { failure: string };

// Kratos answers in a few KB; a larger body is not a Kratos answer and must not fill memory.
const MAX_BODY_BYTES = 1024 * 1024;
// Bounds memory and sockets while Kratos is slow; far above what one core of checks keeps busy.
const MAX_CONNECTIONS = 512;

/**
 * Keep-alive GETs of JSON from one Kratos base URL (public or admin) over an undici Pool: the
 * miss path's transport, kept this small because it runs for every uncached check. undici reads
 * no HTTP(S)_PROXY variables (Kratos is internal), follows no redirects, and caps the body.
 */
export class JsonGet {
  private readonly pool: Pool;
  private readonly basePath: string;
  /** The API's base URL, parsed once (a call's span names the server it went to). */
  readonly base: URL;

  constructor(baseUrl: string) {
    this.base = new URL(baseUrl);
    this.pool = new Pool(this.base.origin, { connections: MAX_CONNECTIONS, maxResponseSize: MAX_BODY_BYTES });
    this.basePath = this.base.pathname.replace(/\/+$/, '');
  }

  /** Never throws: a transport failure is a short, credential-free word in `failure`. */
  async get(path: string, headers: Record<string, string>, budgetMs: number): Promise<JsonGetResult> {
    try {
      const response = await this.pool.request({
        method: 'GET',
        path: this.basePath + path,
        headers,
        headersTimeout: budgetMs,
        bodyTimeout: budgetMs,
        signal: AbortSignal.timeout(budgetMs),
      });
      const text = await response.body.text();
      return { status: response.statusCode, body: parseJson(text), setCookie: linesOf(response.headers['set-cookie']) };
    } catch (error) {
      return { failure: failureWord(error) };
    }
  }

  /** Idempotent: a service shut down twice (a signal, then its caller) closes once. */
  async close(): Promise<void> {
    if (!this.pool.closed && !this.pool.destroyed) await this.pool.close();
  }

  /** Cuts requests still waiting for an answer too (close waits for them, up to kratos.timeout). */
  async destroy(): Promise<void> {
    if (!this.pool.destroyed) await this.pool.destroy();
  }
}

// undici keeps repeated header lines apart: a string for one line, an array for several.
function linesOf(header: string | string[] | undefined): readonly string[] {
  if (header === undefined) return [];
  return typeof header === 'string' ? [header] : header;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const TIMEOUTS = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_ABORTED',
  'ETIMEDOUT',
]);

function failureWord(error: unknown): string {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  if (name === 'TimeoutError' || name === 'AbortError' || (typeof code === 'string' && TIMEOUTS.has(code)))
    return 'timeout';
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return 'oversized';
  if (code === 'UND_ERR_SOCKET') return 'socket';
  if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code.toLowerCase();
  return 'error';
}
