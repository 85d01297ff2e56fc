// The real stack as local processes: Ory Kratos (SQLite file, migrated first), the echo upstream,
// kratos-ext-authz (dist/src/main.js) and Envoy, all on 127.0.0.1 and free ports unless given.
// Used by the e2e suite (test/e2e) and by `npm run stack`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  envoyConfig,
  kratosConfig,
  serviceConfig,
  toYaml,
  type JsonObject,
  type PublicHost,
  type StackPorts,
} from './configs';
import { freePorts } from './ports';
import { Children } from './processes';
import { projectRoot } from './project-root';
import type { Binary } from './versions';

export interface LocalStackOptions {
  envoy: Binary;
  kratos: Binary;
  /** Fixed ports (e.g. for a person's stack); the others are free ports. */
  ports?: Partial<StackPorts>;
  /** Changes to the Envoy configuration generated from envoy/envoy.yaml (a test variant). */
  adjustEnvoy?: (config: JsonObject) => void;
  /** Merged into the service configuration generated from envoy/config.yaml. */
  serviceOverrides?: JsonObject;
  /** Merged into the Kratos configuration generated from envoy/kratos/kratos.yml. */
  kratosOverrides?: JsonObject;
  /** The host of every browser URL (default 127.0.0.1). */
  publicHost?: PublicHost;
  /** Kratos configuration by environment variable (e.g. SESSION_LIFESPAN). */
  kratosEnv?: Record<string, string>;
  /** Extra `kratos serve` flags (e.g. --watch-courier). */
  kratosServeFlags?: string[];
  /** Where Kratos's public API is reached by the service and Envoy, if not directly (a proxy). */
  kratosPublicPortForClients?: number;
  onLine?: (name: string, line: string) => void;
  envoyLogLevel?: string;
}

export interface LocalStack {
  ports: StackPorts;
  /** Envoy's listener: the app (and Kratos's public API on the same origin). */
  baseUrl: string;
  kratosAdminUrl: string;
  kratosPublicUrl: string;
  envoyAdminUrl: string;
  children: Children;
  /** Where the generated configuration files are (removed by stop). */
  workDir: string;
  envoyConfigPath: string;
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 60_000;

/** Child names, as they appear in logs. */
export const KRATOS = 'kratos';
export const UPSTREAM = 'upstream';
export const EXT_AUTHZ = 'ext-authz';
export const ENVOY = 'envoy';
export const UI = 'ui';

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const free = await freePorts(8);
  const take = (): number => free.shift() ?? 0;
  const ports: StackPorts = {
    envoy: options.ports?.envoy ?? take(),
    envoyAdmin: options.ports?.envoyAdmin ?? take(),
    kratosPublic: options.ports?.kratosPublic ?? take(),
    kratosAdmin: options.ports?.kratosAdmin ?? take(),
    extAuthzGrpc: options.ports?.extAuthzGrpc ?? take(),
    extAuthzHttp: options.ports?.extAuthzHttp ?? take(),
    upstream: options.ports?.upstream ?? take(),
    ui: options.ports?.ui ?? take(),
  };
  // The service and Envoy may reach Kratos's public API through something in front of it.
  const clientPorts: StackPorts = { ...ports, kratosPublic: options.kratosPublicPortForClients ?? ports.kratosPublic };
  const workDir = mkdtempSync(join(tmpdir(), 'kratos-ext-authz-stack-'));
  const children = new Children(options.onLine);
  const stop = async (): Promise<void> => {
    await children.stopAll();
    rmSync(workDir, { recursive: true, force: true });
  };

  try {
    const kratosFile = join(workDir, 'kratos.yml');
    const serviceFile = join(workDir, 'config.yaml');
    const envoyFile = join(workDir, 'envoy.yaml');
    writeFileSync(kratosFile, toYaml(kratosConfig(ports, options.kratosOverrides, options.publicHost)));
    writeFileSync(serviceFile, toYaml(serviceConfig(clientPorts, options.serviceOverrides, options.publicHost)));
    writeFileSync(envoyFile, toYaml(envoyConfig(clientPorts, options.adjustEnvoy, options.publicHost)));

    // A file, not DSN=memory: Kratos can be stopped and started again mid-run and keep its sessions.
    const kratosEnv = { DSN: `sqlite://${join(workDir, 'kratos.sqlite')}?_fk=true&mode=rwc`, ...options.kratosEnv };
    children.start({
      name: 'kratos-migrate',
      command: options.kratos.path,
      args: ['migrate', 'sql', '-e', '--yes', '-c', kratosFile],
      env: kratosEnv,
    });
    const migrated = await children.exited('kratos-migrate');
    if (migrated.code !== 0) throw new Error(`kratos migrate sql exited ${String(migrated.code ?? migrated.signal)}`);
    children.start({
      name: KRATOS,
      command: options.kratos.path,
      args: ['serve', '-c', kratosFile, '--dev', ...(options.kratosServeFlags ?? [])],
      env: kratosEnv,
    });
    children.start({
      name: UPSTREAM,
      command: process.execPath,
      args: [join(projectRoot, 'envoy', 'echo', 'server.js')],
      env: { PORT: String(ports.upstream) },
    });
    children.start({
      name: UI,
      command: process.execPath,
      args: [join(projectRoot, 'envoy', 'ui', 'server.js')],
      env: { PORT: String(ports.ui), KRATOS_PUBLIC_URL: `http://127.0.0.1:${ports.kratosPublic}` },
    });
    // The public port: on the admin port /health/ready is a 307 to /admin/health/ready.
    await waitUntilOk(`http://127.0.0.1:${ports.kratosPublic}/health/ready`, children, KRATOS);

    children.start({
      name: EXT_AUTHZ,
      command: process.execPath,
      args: [join(projectRoot, 'dist', 'src', 'main.js'), '--config', serviceFile],
    });
    // /readyz: both servers listen and Kratos answered /health/ready.
    await waitUntilOk(`http://127.0.0.1:${ports.extAuthzHttp}/readyz`, children, EXT_AUTHZ);

    children.start({
      name: ENVOY,
      command: options.envoy.path,
      // The access log is a buffered file flushed every 10s by default: flush often, so a
      // person (and a test) sees each request's line right away.
      args: [
        '-c',
        envoyFile,
        '--use-dynamic-base-id',
        '--concurrency',
        '1',
        '--file-flush-interval-msec',
        '200',
        '--log-level',
        options.envoyLogLevel ?? 'warn',
      ],
    });
    await waitUntilOk(`http://127.0.0.1:${ports.envoyAdmin}/ready`, children, ENVOY);
    const baseUrl = `http://${options.publicHost ?? '127.0.0.1'}:${ports.envoy}`;
    // Both paths through Envoy: a Kratos route (no ext_authz) and an anonymous app route.
    await waitUntilOk(`${baseUrl}/self-service/login/api`, children, ENVOY);
    await waitUntilOk(`${baseUrl}/health`, children, ENVOY);

    return {
      ports,
      baseUrl,
      kratosAdminUrl: `http://127.0.0.1:${ports.kratosAdmin}`,
      kratosPublicUrl: `http://127.0.0.1:${ports.kratosPublic}`,
      envoyAdminUrl: `http://127.0.0.1:${ports.envoyAdmin}`,
      children,
      workDir,
      envoyConfigPath: envoyFile,
      stop,
    };
  } catch (error) {
    const logs = new Map(children.logs);
    await stop();
    throw Object.assign(error instanceof Error ? error : new Error(String(error)), { stackLogs: logs });
  }
}

/** Polls `url` until it answers 200; fails early when the child it depends on has exited. */
export function waitUntilOk(
  url: string,
  children: Children,
  child: string,
  timeoutMs = STARTUP_TIMEOUT_MS,
): Promise<void> {
  return pollUntilOk(url, timeoutMs, () => {
    if (!children.isRunning(child)) throw new Error(`${child} exited while waiting for ${url}`);
  });
}

/** Polls `url` every `intervalMs` until it answers 200; `stillUp` throws when waiting is pointless. */
export async function pollUntilOk(
  url: string,
  timeoutMs: number,
  stillUp: () => void = () => {},
  intervalMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    stillUp();
    try {
      const response = await fetch(url, {
        headers: { accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(5_000),
      });
      await response.body?.cancel();
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs}ms (last: ${last})`);
}
