/** Real Caddy, built from its pinned Go module (scripts/install-proxies.sh caddy), running examples/caddy/Caddyfile. */
import { caddyUnavailable, startCaddy } from './support/launch';
import { renderExample } from './support/proxy-process';
import { spellingStory } from './support/spelling-story';
import { proxyStory, type ProxyUnderTest } from './support/story';

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
  unavailable: caddyUnavailable,
  start: (ports, dir) => startCaddy(renderConfig(ports), ports.proxy, dir),
};

proxyStory(caddy);
spellingStory({ ...caddy, underscores: 'passed on, deleted by the request_header lines', refusesUnderscores: false });
