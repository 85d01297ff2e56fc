/**
 * Heimdall v0.17.18, the peer of the peer phase: built (once, cached) by
 * scripts/install-heimdall.sh from the shared source archive, run in decision mode with its Envoy
 * gRPC door (`--envoy-grpc`) on the committed bench/heimdall/heimdall.yaml and rules.yaml.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts } from '../stack/ports';
import { pollUntilOk } from '../stack/local-stack';
import { pinned, stopChild } from './processes';

const REPO = join(__dirname, '..', '..');
const CONFIG_DIR = join(REPO, 'bench', 'heimdall');

/** Builds Heimdall unless cached (tens of minutes the first time) and returns its binary's path. */
export function installHeimdall(): string {
  const result = spawnSync(join(REPO, 'scripts', 'install-heimdall.sh'), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const path = result.stdout.trim().split('\n').at(-1);
  if (result.status !== 0 || !path) throw new Error(`scripts/install-heimdall.sh exited ${String(result.status)}`);
  return path;
}

export interface HeimdallOptions {
  binary: string;
  kratosPublicUrl: string;
  /** Its per-request access log (two lines a request), on by default in Heimdall. */
  accessLog: boolean;
  /** Go duration, e.g. `300s`: how long a whoami answer is cached. */
  cacheTtl: string;
  /** The cores it runs on; GOMAXPROCS is their count. */
  cores: readonly number[];
  /**
   * Where its stdout and stderr go (the access log): a file, as a log shipper would read it, not a
   * pipe into the driver.
   */
  logFile: string;
}

export interface RunningHeimdall {
  pid: number;
  grpcPort: number;
  stop(): Promise<void>;
}

export async function startHeimdall(options: HeimdallOptions): Promise<RunningHeimdall> {
  const [port, management] = (await freePorts(2)) as [number, number];
  const env = {
    HEIMDALL_PORT: String(port),
    HEIMDALL_MANAGEMENT_PORT: String(management),
    HEIMDALL_ACCESS_LOG: String(options.accessLog),
    HEIMDALL_CACHE_TTL: options.cacheTtl,
    HEIMDALL_RULES: join(CONFIG_DIR, 'rules.yaml'),
    KRATOS_PUBLIC_URL: options.kratosPublicUrl,
    GOMAXPROCS: String(options.cores.length),
  };
  // --insecure: plain loopback HTTP to Kratos and from Envoy, as the service is run here.
  const [command, args] = pinned(options.cores, options.binary, [
    'serve',
    'decision',
    '--envoy-grpc',
    '--insecure',
    '-c',
    join(CONFIG_DIR, 'heimdall.yaml'),
  ]);
  const log = openSync(options.logFile, 'w');
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
  closeSync(log);
  const stop = (): Promise<void> => stopChild(child);
  try {
    await pollUntilOk(`http://127.0.0.1:${management}/.well-known/health`, 20_000, () => {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`heimdall exited with ${String(child.exitCode ?? child.signalCode)}`);
    });
  } catch (error) {
    await stop();
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}\n${readFileSync(options.logFile, 'utf8').slice(-4000)}`,
    );
  }
  return { pid: child.pid as number, grpcPort: port, stop };
}
