/** Real Caddy, built from its pinned Go module (scripts/install-proxies.sh caddy), running examples/caddy/Caddyfile. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../../stack/versions';
import { renderExample, startProxy } from './support/proxy-process';
import { spellingStory } from './support/spelling-story';
import { proxyStory, type ProxyUnderTest } from './support/story';

const ROOT = join(__dirname, '..', '..', '..');

/** Where scripts/install-proxies.sh puts the binary for the version go.mod pins (or $CADDY). */
function caddyBinary(): string {
  if (process.env.CADDY) return process.env.CADDY;
  const goMod = readFileSync(join(ROOT, 'test', 'proxies', 'caddy-build', 'go.mod'), 'utf8');
  const version = /^require github\.com\/caddyserver\/caddy\/v2 (v[\d.]+)$/m.exec(goMod)?.[1] ?? 'unknown';
  return join(cacheRoot, `caddy-${version}`, 'caddy');
}

function renderConfig(ports: { authz: number; app: number; proxy: number }): string {
  return renderExample('examples/caddy/Caddyfile', [
    ['forward_auth 127.0.0.1:9193 {', `forward_auth 127.0.0.1:${ports.authz} {`],
    ['reverse_proxy 127.0.0.1:3000', `reverse_proxy 127.0.0.1:${ports.app}`],
    [':8080 {', `:${ports.proxy} {`],
  ]);
}

const caddy: ProxyUnderTest = {
  name: 'caddy',
  authorizerUnreachable: 502,
  kratosDownStatus: 503,
  passesRenewedCookie: { allowed: false, denied: true },
  passesDenialBodies: true,
  unavailable: () => (existsSync(caddyBinary()) ? undefined : `Caddy is not built at ${caddyBinary()} (scripts/install-proxies.sh caddy)`),
  start: async (ports, dir) => {
    mkdirSync(dir, { recursive: true });
    const config = join(dir, 'Caddyfile');
    writeFileSync(config, renderConfig(ports));
    // Caddy keeps state under XDG dirs: keep this run's apart from the user's.
    const env = { ...process.env, XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data') };
    return startProxy(caddyBinary(), ['run', '--config', config, '--adapter', 'caddyfile'], ports.proxy, env);
  },
};

proxyStory(caddy);
spellingStory({ ...caddy, underscores: 'passed on, deleted by the request_header lines', refusesUnderscores: false });
