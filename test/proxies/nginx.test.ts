/** Real nginx (Debian's, with auth_request) running the shipped examples/nginx/nginx.conf. */
import { nginxUnavailable, startNginx } from './support/launch';
import { renderExample } from './support/proxy-process';
import { spellingStory } from './support/spelling-story';
import { proxyStory, type ProxyUnderTest } from './support/story';

/** The example with its three addresses pointed at this run's ports. */
function renderConfig(ports: { authz: number; app: number; proxy: number }): string {
  return renderExample('examples/nginx/nginx.conf', [
    ['server 127.0.0.1:9193;', `server 127.0.0.1:${ports.authz};`],
    ['server 127.0.0.1:3000;', `server 127.0.0.1:${ports.app};`],
    ['listen 8080;', `listen 127.0.0.1:${ports.proxy};`],
  ]);
}

const nginx: ProxyUnderTest = {
  name: 'nginx',
  authorizerUnreachable: 500,
  kratosDownStatus: 503,
  passesRenewedCookie: { allowed: true, denied: true },
  passesDenialBodies: false,
  unavailable: nginxUnavailable,
  start: (ports, dir) => startNginx(renderConfig(ports), ports.proxy, dir),
};

proxyStory(nginx);
spellingStory({ ...nginx, underscores: 'dropped (underscores_in_headers off)', refusesUnderscores: false });
