/** How each real proxy is found and started from a rendered config file (shared by the suites). */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot, envoyBinaryPath } from '../../../stack/versions';
import { onPath, startProxy, type ProxyProcess } from './proxy-process';

const ROOT = join(__dirname, '..', '..', '..', '..');

export function nginxUnavailable(): string | undefined {
  const nginx = onPath('nginx');
  if (!nginx) return 'nginx is not installed (scripts/install-proxies.sh nginx)';
  const built = spawnSync(nginx, ['-V'], { encoding: 'utf8' });
  return `${built.stdout}${built.stderr}`.includes('--with-http_auth_request_module')
    ? undefined
    : 'this nginx has no auth_request module';
}

export function startNginx(config: string, port: number, dir: string): Promise<ProxyProcess> {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, config);
  return startProxy(
    'nginx',
    ['-p', dir, '-c', file, '-e', 'stderr', '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`],
    port,
  );
}

/** Where scripts/install-proxies.sh puts the binary for the version go.mod pins (or $CADDY). */
export function caddyBinary(): string {
  if (process.env.CADDY) return process.env.CADDY;
  const goMod = readFileSync(join(ROOT, 'test', 'proxies', 'caddy-build', 'go.mod'), 'utf8');
  const version = /^require github\.com\/caddyserver\/caddy\/v2 (v[\d.]+)$/m.exec(goMod)?.[1] ?? 'unknown';
  return join(cacheRoot, `caddy-${version}`, 'caddy');
}

export function caddyUnavailable(): string | undefined {
  return existsSync(caddyBinary())
    ? undefined
    : `Caddy is not built at ${caddyBinary()} (scripts/install-proxies.sh caddy)`;
}

export function startCaddy(config: string, port: number, dir: string): Promise<ProxyProcess> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'Caddyfile');
  writeFileSync(file, config);
  // Caddy keeps state under XDG dirs: keep this run's apart from the user's.
  const env = { ...process.env, XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data') };
  return startProxy(caddyBinary(), ['run', '--config', file, '--adapter', 'caddyfile'], port, env);
}

export function envoyUnavailable(version: string): string | undefined {
  const binary = envoyBinaryPath(version);
  return existsSync(binary) ? undefined : `Envoy ${version} is not at ${binary} (the real-stack tooling installs it)`;
}

export function startEnvoy(version: string, config: string, port: number, dir: string): Promise<ProxyProcess> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'envoy.yaml');
  writeFileSync(file, config);
  return startProxy(
    envoyBinaryPath(version),
    ['-c', file, '--use-dynamic-base-id', '--concurrency', '1', '--log-level', 'warn'],
    port,
  );
}
