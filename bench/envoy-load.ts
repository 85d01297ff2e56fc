/**
 * The requests sent through Envoy, and the h2load fleet that sends them. h2load gives every
 * request of a process the same headers, so each credential gets its own process with one
 * connection and one stream: no two requests with the same credential are ever in flight at
 * once, which keeps the service's single-flight from coalescing misses (every check of
 * envoy-miss calls Kratos). Half the processes are browser navigations with the Kratos cookie
 * among other cookies, half API calls with a session token.
 */
import { join } from 'node:path';
import { browserHeaders } from './bodies';
import { runH2load } from './h2load';
import type { SessionCredentials } from './kratos-process';
import { concatDurations } from './stats';

export type RequestKind = 'browser' | 'api';

const BROWSER_PATH = '/projects/42/settings?tab=members';
const API_PATH = '/api/v1/projects/42/members?page=2';

/** The path and `name: value` headers h2load sends for one request kind and credential. */
export function requestOf(
  kind: RequestKind,
  credentials: SessionCredentials,
  index: number,
): { path: string; headers: string[] } {
  if (kind === 'browser')
    return {
      path: BROWSER_PATH,
      headers: browserHeaders(credentials.cookie, index).map(([name, value]) => `${name}: ${value}`),
    };
  return {
    path: API_PATH,
    headers: [
      'accept: application/json',
      'user-agent: example-mobile/3.2.1 (Android 14)',
      `authorization: Bearer ${credentials.token}`,
      `x-request-id: 7c1e0b2a-api-${String(index).padStart(8, '0')}`,
    ],
  };
}

/** How the fleet runs: a fixed number of requests (warm-up), saturating for a time, or at a fixed total rate. */
export interface TimedShape {
  processes: number;
  seconds: number;
  /** Requests/s of the whole fleet; saturating when undefined. */
  totalRate?: number;
}
export type FleetShape = { processes: number; requestsPerProcess: number } | TimedShape;

export interface FleetResult {
  checksPerSecond: number;
  durationsUs: Float64Array;
  non200: number;
  processes: number;
}

/**
 * h2load's --rps clocks each client at most every 10 ms, so more than 100 req/s per process
 * would go out in bursts; this many processes keep each at ≤ 100/s, one request per tick.
 */
export function processesForRate(rate: number): number {
  return Math.max(2, 2 * Math.ceil(rate / 200));
}

/** Runs `shape.processes` h2load processes at once; process i uses credential ⌊i/2⌋, browser if i is even. */
export async function runFleet(
  baseUrl: string,
  credentials: readonly SessionCredentials[],
  shape: FleetShape,
  workdir: string,
): Promise<FleetResult> {
  if (credentials.length * 2 < shape.processes)
    throw new Error(
      `${shape.processes} h2load processes need ${Math.ceil(shape.processes / 2)} sessions, have ${credentials.length}`,
    );
  const runs = Array.from({ length: shape.processes }, (_, i) => {
    const request = requestOf(i % 2 === 0 ? 'browser' : 'api', credentials[i >> 1] as SessionCredentials, i);
    const timing =
      'requestsPerProcess' in shape
        ? { requests: shape.requestsPerProcess }
        : {
            durationSeconds: shape.seconds,
            ratePerClient:
              shape.totalRate === undefined ? undefined : Math.round((shape.totalRate / shape.processes) * 100) / 100,
          };
    return runH2load({
      url: `${baseUrl}${request.path}`,
      headers: request.headers,
      logFile: join(workdir, `fleet-${i}.log`),
      clients: 1,
      streams: 1,
      ...timing,
    });
  });
  const results = await Promise.all(runs);
  return {
    checksPerSecond: results.reduce((sum, result) => sum + result.requestsPerSecond, 0),
    durationsUs: concatDurations(results.map((result) => result.durationsUs)),
    non200: results.reduce((sum, result) => sum + result.non200, 0),
    processes: shape.processes,
  };
}
