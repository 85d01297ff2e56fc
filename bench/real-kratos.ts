/**
 * The real Ory Kratos for envoy-miss-real: the binary `npm run stack:install` built, with the
 * demo's kratos.yml for 127.0.0.1 (stack/configs.ts), a fresh SQLite file, migrated, `--dev`,
 * on the load core. Sessions are made through its public API flows exactly as the e2e suite does
 * (test/e2e/kratos.ts): a native registration gives the token, a browser login the cookie.
 */
import { join } from 'node:path';
import { kratosConfig, toYaml } from '../stack/configs';
import { waitUntilOk } from '../stack/local-stack';
import { freePorts } from '../stack/ports';
import { Children } from '../stack/processes';
import type { Binary } from '../stack/versions';
import { writeFileSync } from 'node:fs';
import { CookieJar } from '../test/e2e/http';
import { browserPasswordLogin, registerWithPassword } from '../test/e2e/kratos';
import type { SessionCredentials } from './kratos-process';
import { LOAD_CORE, pinned } from './processes';

const COOKIE_NAME = 'ory_kratos_session';
const PASSWORD = 'bench-Kratos-password-7431';

export interface RealKratos {
  readonly version: string;
  /** The `kratos serve` process, for its CPU time. */
  readonly pid: number;
  readonly publicUrl: string;
  readonly adminUrl: string;
  /** `count` password-only identities, each with an API session (token) and a browser session (cookie). */
  newSessions(count: number): Promise<SessionCredentials[]>;
  stop(): Promise<void>;
}

/**
 * `name` keeps each instance's config and database apart; `core` is where it runs (the load core
 * unless it is the authorization process measured).
 */
export async function startRealKratos(
  kratos: Binary,
  workdir: string,
  name = 'kratos',
  core = LOAD_CORE,
): Promise<RealKratos> {
  const [publicPort, adminPort, unused] = (await freePorts(3)) as [number, number, number];
  // Only Kratos's own ports matter here; the others place the demo's browser URLs, never visited.
  const ports = {
    envoy: unused,
    envoyAdmin: unused,
    kratosPublic: publicPort,
    kratosAdmin: adminPort,
    extAuthzGrpc: unused,
    extAuthzHttp: unused,
    upstream: unused,
    ui: unused,
  };
  const configFile = join(workdir, `${name}.yml`);
  writeFileSync(configFile, toYaml(kratosConfig(ports)));
  // Warnings only: Kratos logs every request at info, which would cost its core under load.
  const env = { DSN: `sqlite://${join(workdir, `${name}.sqlite`)}?_fk=true&mode=rwc`, LOG_LEVEL: 'warning' };
  const children = new Children();
  const run = (name: string, args: string[]): void => {
    const [command, argv] = pinned(core, kratos.path, args);
    children.start({ name, command, args: argv, env });
  };
  run('kratos-migrate', ['migrate', 'sql', '-e', '--yes', '-c', configFile]);
  const migrated = await children.exited('kratos-migrate');
  if (migrated.code !== 0)
    throw new Error(
      `kratos migrate sql exited ${String(migrated.code ?? migrated.signal)}:\n${(children.logs.get('kratos-migrate') ?? []).join('\n')}`,
    );
  run('kratos', ['serve', '-c', configFile, '--dev']);
  const publicUrl = `http://127.0.0.1:${publicPort}`;
  try {
    await waitUntilOk(`${publicUrl}/health/ready`, children, 'kratos');
  } catch (error) {
    await children.stopAll();
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}\n${(children.logs.get('kratos') ?? []).slice(-20).join('\n')}`,
    );
  }
  let made = 0;
  const pid = children.pid('kratos');
  if (pid === undefined) throw new Error('kratos serve has no pid');
  return {
    version: kratos.version,
    pid,
    publicUrl,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    newSessions: async (count) => {
      const sessions: SessionCredentials[] = [];
      for (let i = 0; i < count; i++) {
        const email = `bench-${made++}@example.com`;
        const { token } = await registerWithPassword(publicUrl, email, PASSWORD);
        const jar = new CookieJar();
        await browserPasswordLogin(publicUrl, jar, email, PASSWORD);
        const cookie = jar.get(COOKIE_NAME);
        if (cookie === undefined) throw new Error(`Kratos set no ${COOKIE_NAME} cookie on a browser login`);
        sessions.push({ cookie: `${COOKIE_NAME}=${cookie}`, token });
      }
      return sessions;
    },
    stop: () => children.stopAll(),
  };
}
