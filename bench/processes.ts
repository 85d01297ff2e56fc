/**
 * The processes under test, pinned so the server owns one core and everything else (driver,
 * Kratos emulator, load generator) shares the other.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const SERVER_CORE = 0;
export const LOAD_CORE = 1;

let pinning: boolean | undefined;

/** taskset exists and there are two cores to split; otherwise everything runs unpinned. */
export function canPin(): boolean {
  if (pinning === undefined) {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
      pinning = cpus().length >= 2;
    } catch {
      pinning = false;
    }
  }
  return pinning;
}

/** Both cores: the peer phase's 2-core configuration (the authorization process shares the load core). */
export const BOTH_CORES = [SERVER_CORE, LOAD_CORE] as const;

/** The command line that runs `command` on `cores` (taskset execs it, so the pid stays the same). */
export function pinned(
  cores: number | readonly number[],
  command: string,
  args: readonly string[],
): [string, string[]] {
  return canPin() ? ['taskset', ['-c', [cores].flat().join(','), command, ...args]] : [command, [...args]];
}

/** Moves the driver, and every thread and child it starts later, onto the load core. */
export function pinSelfToLoadCore(): void {
  if (canPin())
    execFileSync('taskset', ['-a', '-p', '-c', String(LOAD_CORE), String(process.pid)], { stdio: 'ignore' });
}

/** Resident set size of a process in bytes, from /proc (Linux). */
export function rssBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

const CLOCK_TICKS_PER_SECOND = Number(execFileSyncOr('getconf', ['CLK_TCK'], '100'));

function execFileSyncOr(command: string, args: string[], fallback: string): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8' }).trim() || fallback;
  } catch {
    return fallback;
  }
}

/**
 * CPU time (user + system, all threads) a process has used, in ms, from /proc (Linux). Unlike
 * throughput, CPU per check barely moves when other processes compete for the core.
 */
export function cpuTimeMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

export interface ServerProcess {
  readonly pid: number;
  readonly grpcPort: number;
  /** The service's /metrics port; undefined for the floor server. */
  readonly httpPort: number | undefined;
  /** The service's HTTP authorization door (Envoy http_service at /ext-authz); undefined for the floor. */
  readonly httpAuthzPort: number | undefined;
  /** V8's heap_size_limit the service logged at start (its own sizing or an explicit flag); undefined for the floor. */
  readonly heapSizeLimitBytes: number | undefined;
  /** Warning and error log lines written since the last call (at most a few). */
  takeWarnings(): string[];
  /** Asks the floor server for its answer count (SIGUSR2 → one JSON line). */
  floorChecks(): Promise<number>;
  stop(): Promise<void>;
}

const DIST = join(__dirname, '..');
const START_TIMEOUT_MS = 20_000;
const MAX_WARNINGS = 5;

/**
 * Starts a Node server pinned to the server core and waits for its first JSON stdout line with
 * a grpc_port (the service logs it with msg "serving", the floor prints it bare).
 */
async function startNodeServer(
  script: string,
  args: string[],
  nodeFlags: string[],
  cores: number | readonly number[] = SERVER_CORE,
): Promise<ServerProcess> {
  const [command, argv] = pinned(cores, process.execPath, [...nodeFlags, script, ...args]);
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const jsonLines: Array<Record<string, unknown>> = [];
  const warnings: string[] = [];
  const waiters: Array<() => void> = [];
  lines.on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return; // not ours to read
    }
    // pino levels: 40 warn, 50 error. Kept (bounded) to explain a run that went wrong.
    if (typeof line['level'] === 'number' && line['level'] >= 40 && warnings.length < MAX_WARNINGS) warnings.push(text);
    if (!('grpc_port' in line) && !('checks' in line)) return;
    jsonLines.push(line);
    for (const wake of waiters.splice(0)) wake();
  });
  // An exit wakes every waiter too, so none waits for a line that will never come.
  child.once('exit', () => {
    for (const wake of waiters.splice(0)) wake();
  });
  const nextLine = (
    predicate: (line: Record<string, unknown>) => boolean,
    what: string,
  ): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${script}: no ${what} within ${START_TIMEOUT_MS} ms\n${stderr}`)),
        START_TIMEOUT_MS,
      );
      const look = (): void => {
        const index = jsonLines.findIndex(predicate);
        if (index >= 0) {
          clearTimeout(timer);
          resolve(jsonLines.splice(index, 1)[0] as Record<string, unknown>);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer);
          reject(new Error(`${script} exited with ${child.exitCode}\n${stderr}`));
        } else {
          waiters.push(look);
        }
      };
      look();
    });
  const ready = await nextLine((line) => typeof line['grpc_port'] === 'number', 'grpc_port line');
  return {
    pid: child.pid as number,
    grpcPort: ready['grpc_port'] as number,
    httpPort: typeof ready['http_port'] === 'number' ? ready['http_port'] : undefined,
    httpAuthzPort: typeof ready['http_authz_port'] === 'number' ? ready['http_authz_port'] : undefined,
    heapSizeLimitBytes: typeof ready['heap_size_limit_bytes'] === 'number' ? ready['heap_size_limit_bytes'] : undefined,
    takeWarnings: () => warnings.splice(0),
    floorChecks: async () => {
      const answer = nextLine((line) => typeof line['checks'] === 'number', 'checks line');
      child.kill('SIGUSR2');
      return (await answer)['checks'] as number;
    },
    stop: () => stopChild(child),
  };
}

/** SIGTERM (the service drains and exits; --cpu-prof writes its profile), SIGKILL after 15 s. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export function startFloorServer(): Promise<ServerProcess> {
  return startNodeServer(join(DIST, 'bench', 'floor-server.js'), ['0'], []);
}

export function startService(
  configPath: string,
  nodeFlags: string[] = [],
  cores: number | readonly number[] = SERVER_CORE,
): Promise<ServerProcess> {
  return startNodeServer(join(DIST, 'src', 'main.js'), ['--config', configPath], nodeFlags, cores);
}
