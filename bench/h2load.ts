/** Runs h2load (nghttp2) pinned to the load core and reads its per-request log. */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { CHECK_PATH } from './bodies';
import { LOAD_CORE, pinned } from './processes';

export const H2LOAD_INSTALL_HINT =
  'h2load not found. Install it (Debian/Ubuntu: sudo apt-get install -y nghttp2-client; macOS: brew install nghttp2) and run again.';

/** h2load's version line, or undefined when it is not installed. */
export function h2loadVersion(): string | undefined {
  const probe = spawnSync('h2load', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return undefined;
  return probe.stdout.trim();
}

export interface H2loadRun {
  /** Every request goes to this URL with these headers (`name: value`). */
  url: string;
  headers: readonly string[];
  /** The request body (a POST); none for a GET. */
  dataFile?: string;
  logFile: string;
  clients: number;
  streams: number;
  /** Timing-based run (-D); otherwise `requests` (-n). */
  durationSeconds?: number;
  requests?: number;
  /** Fixed rate per client (--rps); total rate is clients × this. */
  ratePerClient?: number;
}

export interface H2loadResult {
  /** h2load's own figure for the measured period. */
  requestsPerSecond: number;
  /** Per-request durations (µs) of requests answered with HTTP 200. */
  durationsUs: Float64Array;
  /** Rows of the log that were not HTTP 200 (failed streams are status -1). */
  non200: number;
  summary: string;
}

// Envoy's gRPC client sends these; grpc-timeout is Envoy's ext_authz timeout (default 200 ms).
const GRPC_HEADERS = ['content-type: application/grpc', 'te: trailers', 'grpc-timeout: 200m'];

/** What Envoy sends the authorization server: a Check call with `dataFile` as its framed body. */
export function grpcCheckTarget(port: number, dataFile: string): Pick<H2loadRun, 'url' | 'headers' | 'dataFile'> {
  return { url: `http://127.0.0.1:${port}${CHECK_PATH}`, headers: GRPC_HEADERS, dataFile };
}

function h2loadArguments(run: H2loadRun): string[] {
  const args = ['-c', String(run.clients), '-m', String(run.streams), '--log-file', run.logFile];
  if (run.dataFile !== undefined) args.push('-d', run.dataFile);
  for (const header of run.headers) args.push('-H', header);
  if (run.durationSeconds !== undefined) args.push('-D', String(run.durationSeconds));
  else args.push('-n', String(run.requests ?? 1));
  if (run.ratePerClient !== undefined) args.push('--rps', String(run.ratePerClient));
  args.push(run.url);
  return args;
}

function execute(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Log columns: start time (µs since epoch), HTTP status (-1 = failed stream), duration (µs). */
function readLog(path: string): { durationsUs: Float64Array; non200: number } {
  const lines = readFileSync(path, 'utf8').split('\n');
  const durations = new Float64Array(lines.length);
  let count = 0;
  let non200 = 0;
  for (const line of lines) {
    if (line === '') continue;
    const [, status, duration] = line.split('\t');
    if (status === '200') durations[count++] = Number(duration);
    else non200++;
  }
  return { durationsUs: durations.subarray(0, count), non200 };
}

export async function runH2load(run: H2loadRun): Promise<H2loadResult> {
  // h2load appends to an existing log file.
  rmSync(run.logFile, { force: true });
  const [command, args] = pinned(LOAD_CORE, 'h2load', h2loadArguments(run));
  const { code, stdout, stderr } = await execute(command, args);
  if (code !== 0) throw new Error(`h2load exited with ${code}: ${stderr || stdout}`);
  const finished = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(stdout);
  if (!finished) throw new Error(`cannot read h2load's summary:\n${stdout}`);
  const { durationsUs, non200 } = readLog(run.logFile);
  return { requestsPerSecond: Number(finished[1]), durationsUs, non200, summary: stdout };
}
