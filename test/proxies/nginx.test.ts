/** Real nginx (Debian's, with auth_request) running the shipped examples/nginx/nginx.conf. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { onPath, renderExample, startProxy } from './support/proxy-process';
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
  unavailable: () => {
    const nginx = onPath('nginx');
    if (!nginx) return 'nginx is not installed (scripts/install-proxies.sh nginx)';
    const built = spawnSync(nginx, ['-V'], { encoding: 'utf8' });
    return `${built.stdout}${built.stderr}`.includes('--with-http_auth_request_module') ? undefined : 'this nginx has no auth_request module';
  },
  start: async (ports, dir) => {
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const config = join(dir, 'nginx.conf');
    writeFileSync(config, renderConfig(ports));
    return startProxy('nginx', ['-p', dir, '-c', config, '-e', 'stderr', '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`], ports.proxy);
  },
};

proxyStory(nginx);
spellingStory({ ...nginx, underscores: 'dropped (underscores_in_headers off)', refusesUnderscores: false });
