/**
 * The host the proxy routed on must be the host the authorizer decided about (issue 18,
 * finding 2). Each proxy runs a two-virtual-host config derived from its shipped example:
 * `admin.example.com` in front of one app, every other host in front of another, and the
 * authorizer has a rule for `admin.example.com`. Every request below disagrees with itself about
 * its host (request line against Host, Host against `:authority`, case, a trailing dot, ports);
 * whichever app the proxy serves it from, the authorizer must have applied that app's rule — or
 * the request was refused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { http1Raw, http2Get, type RawAnswer } from '../../e2e/raw-http';
import { startHarness, type Harness } from '../../support/harness';
import { startEchoUpstream, type EchoUpstream } from './echo-upstream';
import { freePort, skipUnlessInstalled, type ProxyProcess } from './proxy-process';

export const ADMIN_HOST = 'admin.example.com';
const APP_HOST = 'app.example.com';

/** The ports a routed-host proxy config is rendered with. */
export interface RoutedPorts {
  proxy: number;
  /** The HTTP front doors' listener (nginx, Caddy, Envoy http_service). */
  authzHttp: number;
  /** The gRPC listener (Envoy ext_authz grpc_service). */
  authzGrpc: number;
  /** The app served for ADMIN_HOST. */
  admin: number;
  /** The app served for every other host. */
  app: number;
}

export interface RoutedProxy {
  name: string;
  unavailable(): string | undefined;
  start(ports: RoutedPorts, dir: string): Promise<ProxyProcess>;
  /** Whether the proxy speaks cleartext HTTP/2 (prior knowledge) on its listener. */
  http2: boolean;
}

type Send = (base: string, token: string) => Promise<RawAnswer>;

interface Variant {
  name: string;
  send: Send;
  /** The app a plain request must reach: the suite is not vacuous. */
  reaches?: 'admin' | 'app';
}

const http1 =
  (target: string, hosts: readonly string[]): Send =>
  (base, token) =>
    http1Raw(base, 'GET', target, [
      ...hosts.map((host): [string, string] => ['host', host]),
      ['x-session-token', token],
    ]);

const http2 =
  (authority: string, host: string): Send =>
  (base, token) =>
    http2Get(base, '/users', { ':authority': authority, host, 'x-session-token': token }, []);

const HTTP1_VARIANTS: readonly Variant[] = [
  { name: `origin-form, Host ${ADMIN_HOST}`, send: http1('/users', [ADMIN_HOST]), reaches: 'admin' },
  { name: `origin-form, Host ${APP_HOST}`, send: http1('/users', [APP_HOST]), reaches: 'app' },
  // The finding: nginx picked the admin server block from the request line, the authorizer
  // decided on Host.
  { name: `absolute-form ${ADMIN_HOST}, Host ${APP_HOST}`, send: http1(`http://${ADMIN_HOST}/users`, [APP_HOST]) },
  { name: `absolute-form ${APP_HOST}, Host ${ADMIN_HOST}`, send: http1(`http://${APP_HOST}/users`, [ADMIN_HOST]) },
  {
    name: `absolute-form ${ADMIN_HOST}:1, Host ${APP_HOST}:1`,
    send: http1(`http://${ADMIN_HOST}:1/users`, [`${APP_HOST}:1`]),
  },
  {
    name: `absolute-form https://${ADMIN_HOST}, Host ${APP_HOST}`,
    send: http1(`https://${ADMIN_HOST}/users`, [APP_HOST]),
  },
  {
    name: `absolute-form ADMIN.Example.com. (case, trailing dot), Host ${APP_HOST}`,
    send: http1('http://ADMIN.Example.com./users', [APP_HOST]),
  },
  {
    name: `absolute-form ${APP_HOST}@${ADMIN_HOST}, Host ${APP_HOST}`,
    send: http1(`http://${APP_HOST}@${ADMIN_HOST}/users`, [APP_HOST]),
  },
  { name: `absolute-form ${ADMIN_HOST}, no Host`, send: http1(`http://${ADMIN_HOST}/users`, []) },
  // Finding 3: the port is the client's to write, and selects no rule.
  { name: `Host ${ADMIN_HOST}:1`, send: http1('/users', [`${ADMIN_HOST}:1`]) },
  { name: `Host ${ADMIN_HOST}:38443`, send: http1('/users', [`${ADMIN_HOST}:38443`]) },
  { name: 'Host ADMIN.Example.COM.', send: http1('/users', ['ADMIN.Example.COM.']) },
  { name: `Host ${ADMIN_HOST}.:8443`, send: http1('/users', [`${ADMIN_HOST}.:8443`]) },
  { name: `Host ${APP_HOST} then Host ${ADMIN_HOST}`, send: http1('/users', [APP_HOST, ADMIN_HOST]) },
  { name: `Host ${ADMIN_HOST} then Host ${APP_HOST}`, send: http1('/users', [ADMIN_HOST, APP_HOST]) },
];

const HTTP2_VARIANTS: readonly Variant[] = [
  { name: `HTTP/2 :authority ${ADMIN_HOST}, host ${APP_HOST}`, send: http2(ADMIN_HOST, APP_HOST) },
  { name: `HTTP/2 :authority ${APP_HOST}, host ${ADMIN_HOST}`, send: http2(APP_HOST, ADMIN_HOST) },
  { name: `HTTP/2 :authority ${ADMIN_HOST}:1, host ${APP_HOST}`, send: http2(`${ADMIN_HOST}:1`, APP_HOST) },
];

/** The rule each app's requests must be decided by. */
const RULE_OF = { admin: 'admin', app: 'default' } as const;

export function routedHostSuite(proxy: RoutedProxy): void {
  const missing = proxy.unavailable();
  if (missing !== undefined) {
    test(
      `${proxy.name}: the host it routed on is the host the authorizer decided about`,
      { skip: skipUnlessInstalled(missing) },
      () => assert.fail(missing),
    );
    return;
  }

  describe(`${proxy.name}: the host it routed on is the host the authorizer decided about`, () => {
    let harness: Harness;
    let apps: Record<'admin' | 'app', EchoUpstream>;
    let running: ProxyProcess;
    let dir: string;
    let base: string;
    let token: string;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), `kratos-ext-authz-routed-${proxy.name.replace(/[^a-z0-9.]+/gi, '-')}-`));
      harness = await startHarness({
        config: { policy: { rules: [{ name: 'admin', hosts: [ADMIN_HOST], token: 'aal1' }] } },
      });
      apps = { admin: await startEchoUpstream(), app: await startEchoUpstream() };
      assert.ok(harness.service.httpAuthzPort);
      const port = await freePort();
      const ports = {
        proxy: port,
        authzHttp: harness.service.httpAuthzPort,
        authzGrpc: harness.service.grpcPort,
        admin: apps.admin.port,
        app: apps.app.port,
      };
      running = await proxy.start(ports, dir);
      base = `http://127.0.0.1:${port}`;
      token = harness.newSession(harness.emulator.addIdentity()).token;
    });

    after(async () => {
      await running?.stop();
      await apps?.admin.stop();
      await apps?.app.stop();
      await harness?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const checkLines = () => harness.logs.filter((line) => line.msg === 'check');

    for (const variant of [...HTTP1_VARIANTS, ...(proxy.http2 ? HTTP2_VARIANTS : [])]) {
      test(variant.name, async (t) => {
        const counts = { admin: apps.admin.count(), app: apps.app.count() };
        const checked = checkLines().length;
        const answer = await variant.send(base, token);
        const reached = (['admin', 'app'] as const).filter((app) => apps[app].count() > counts[app]);
        const decided = checkLines().slice(checked);
        // What the proxy did with it: the README's counts of served and refused requests.
        t.diagnostic(
          `${answer.status}, ${reached.length === 0 ? 'refused' : `${reached.join(' and ')} app`}, rule ${decided.map((line) => String(line.policy)).join(', ') || 'none'}`,
        );
        if (variant.reaches)
          assert.deepEqual(reached, [variant.reaches], `${answer.status}: ${answer.body.slice(0, 200)}`);
        if (reached.length === 0) {
          assert.ok(answer.status >= 400, `refused, not ${answer.status}`);
          return;
        }
        assert.equal(answer.status, 200);
        const [app, ...more] = reached;
        assert.ok(app && more.length === 0, `one app reached, not ${reached.join(' and ')}`);
        assert.equal(decided.length, 1, 'one check for the request the proxy served');
        assert.equal(
          decided[0]?.policy,
          RULE_OF[app],
          `served by the ${app} app, decided for host ${String(decided[0]?.host)}`,
        );
      });
    }
  });
}
