/**
 * `npm run stack` / `make stack`: the real stack for a person, on this machine's loopback:
 * Ory Kratos, the echo upstream, kratos-ext-authz and Envoy (binaries from `npm run
 * stack:install`, configs generated from envoy/). Prints the app URL and the Kratos admin URL,
 * then one line per request from Envoy's access log; Ctrl-C stops every child and exits 0.
 *
 *   npm run stack -- [--port 8080] [--kratos-admin-port 4434] [--envoy <version>] [--kratos <version>]
 *
 * The newest pinned Envoy and Kratos unless --envoy / --kratos name another (stack/versions.json).
 */
import { startLocalStack, ENVOY, type LocalStack } from '../stack/local-stack';
import { installBinaries, pinnedVersions } from '../stack/versions';
import { freePorts } from '../stack/ports';

interface Options {
  port: number | undefined;
  kratosAdminPort: number | undefined;
  envoyVersion: string;
  kratosVersion: string;
}

function parseOptions(argv: string[]): Options {
  const pinned = pinnedVersions();
  const versions = pinned.envoy;
  const usage = `usage: npm run stack -- [--port N] [--kratos-admin-port N] [--envoy ${versions.join('|')}] [--kratos ${pinned.kratos.join('|')}]`;
  const options: Options = {
    port: undefined,
    kratosAdminPort: undefined,
    envoyVersion: versions.at(-1) ?? '',
    kratosVersion: pinned.kratos.at(-1) ?? '',
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    const port = (): number => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 65_535) fail(`${flag} needs a port number`);
      i++;
      return n;
    };
    if (flag === '--port') options.port = port();
    else if (flag === '--kratos-admin-port') options.kratosAdminPort = port();
    else if (flag === '--envoy') {
      if (!value || !versions.includes(value)) fail(`--envoy takes one of ${versions.join(', ')}`);
      options.envoyVersion = value;
      i++;
    } else if (flag === '--kratos') {
      if (!value || !pinned.kratos.includes(value)) fail(`--kratos takes one of ${pinned.kratos.join(', ')}`);
      options.kratosVersion = value;
      i++;
    } else fail(`unknown argument ${String(flag)}; ${usage}`);
  }
  return options;
}

function fail(message: string): never {
  process.stderr.write(`stack: ${message}\n`);
  process.exit(2);
}

/** 8080 (the demo's port, which kratos.yml's return URLs name) when free, else any free port. */
async function appPort(requested: number | undefined): Promise<number> {
  if (requested !== undefined) return requested;
  const { createServer } = await import('node:net');
  const free = await new Promise<boolean>((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(8080, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
  return free ? 8080 : ((await freePorts(1))[0] ?? 0);
}

function text(value: unknown): string {
  return typeof value === 'string' && value !== '' ? value : '-';
}

/** One short line per Envoy access-log entry: method, path, status, the authorizer's verdict. */
export function accessLine(line: string): string | undefined {
  if (!line.startsWith('{')) return undefined;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const authz = typeof entry.authz === 'object' && entry.authz !== null ? (entry.authz as Record<string, unknown>) : {};
  const verdict =
    authz.decision === undefined
      ? 'no check'
      : `${text(authz.decision)} ${text(authz.reason)} policy=${text(authz.policy)}`;
  const who =
    typeof authz.identity_id === 'string' ? ` identity=${authz.identity_id.slice(0, 8)} ${text(authz.aal)}` : '';
  return `${text(entry.method)} ${text(entry.path)} -> ${String(entry.status)} (${verdict}${who}) ${String(entry.duration_ms)}ms ${text(entry.upstream_cluster)}`;
}

/** Lines worth a person's attention from the other children: warnings and errors. */
function isProblem(line: string): boolean {
  return /"level":\s*("(warn|warning|error|fatal|panic)"|[45]\d)\b/.test(line) || /\]\[(error|critical)\]/.test(line);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const outcome = installBinaries();
  if (!outcome.installed) {
    for (const line of outcome.missing) process.stderr.write(`stack: missing ${line}\n`);
    process.exit(2);
  }
  const envoy = outcome.binaries.envoy.find((b) => b.version === options.envoyVersion);
  if (!envoy) fail(`envoy ${options.envoyVersion} is not installed`);
  const kratos = outcome.binaries.kratosVersions.find((b) => b.version === options.kratosVersion);
  if (!kratos) fail(`kratos ${options.kratosVersion} is not installed`);
  const stack: LocalStack = await startLocalStack({
    envoy,
    kratos,
    ports: {
      envoy: await appPort(options.port),
      ...(options.kratosAdminPort ? { kratosAdmin: options.kratosAdminPort } : {}),
    },
    onLine: (name, line) => {
      const access = name === ENVOY ? accessLine(line) : undefined;
      if (access) process.stdout.write(`${access}\n`);
      else if (isProblem(line)) process.stdout.write(`[${name}] ${line}\n`);
    },
  }).catch((error: unknown) => {
    const logs = (error as { stackLogs?: Map<string, string[]> }).stackLogs;
    for (const [name, lines] of logs ?? []) process.stderr.write(`--- ${name}\n${lines.slice(-20).join('\n')}\n`);
    throw error;
  });

  process.stdout.write(
    [
      `envoy ${envoy.version}, kratos ${kratos.version}, kratos-ext-authz (dist/src/main.js)`,
      `app:          ${stack.baseUrl}/  (anonymous: /, /health, /ui/*; everything else needs a Kratos session)`,
      `kratos API:   ${stack.baseUrl}/self-service/...  (same origin as the app)`,
      `kratos admin: ${stack.kratosAdminUrl}/admin/identities`,
      `envoy admin:  ${stack.envoyAdminUrl}/stats?filter=ext_authz`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('stopping...\n');
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  // A child that dies on its own ends the stack: a half stack would only mislead.
  const watch = setInterval(() => {
    for (const name of stack.children.logs.keys()) {
      if (name !== 'kratos-migrate' && !stack.children.isRunning(name) && !stopping) {
        process.stderr.write(`stack: ${name} exited; stopping\n`);
        void stack.stop().then(() => process.exit(1));
        clearInterval(watch);
        stopping = true;
        return;
      }
    }
  }, 500);
}

main().catch((error: unknown) => {
  process.stderr.write(`stack: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
