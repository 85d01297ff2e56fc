/**
 * The apps behind the proxies, one per framework: Express (in this process), a WSGI app on the
 * standard library's wsgiref (python3) and a Go net/http app. Each routes a request as its
 * framework does and reports what it served: the route (named after the policy rule that guards
 * it), the host it saw and the identity headers as the framework reads them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import express, { type Request } from 'express';
import { projectRoot } from '../../../stack/project-root';
import { cacheRoot } from '../../../stack/versions';
import { onPath } from '../../proxies/support/proxy-process';
import { IDENTITY_HEADERS, MARKER_HEADER, markerIn, type IdentityKey } from './policy';

export type Framework = 'express' | 'wsgi' | 'go';

/** One request an app served (its handler ran), as the app reports it. */
export interface Served {
  framework: Framework;
  /** The variant's marker, from its header or its path; empty when the app saw neither. */
  marker: string;
  route: string;
  host: string;
  method: string;
  identity: Partial<Record<IdentityKey, string>>;
}

export interface Upstream {
  framework: Framework;
  port: number;
  /** Everything served since the last call (and forgets it). */
  drain(): Served[];
  stop(): Promise<void>;
}

const SOURCES = join(projectRoot, 'test', 'differential');

/** What an app reported since it was last asked. */
class Reports {
  private pending: Served[] = [];

  add(record: Served): void {
    this.pending.push(record);
  }

  drain(): Served[] {
    const drained = this.pending;
    this.pending = [];
    return drained;
  }
}

/** Why an app of `framework` cannot run here, or undefined. */
export function upstreamUnavailable(framework: Framework): string | undefined {
  if (framework === 'wsgi') return onPath('python3') ? undefined : 'python3 is not installed (the WSGI app)';
  if (framework === 'go')
    return onPath('go') || existsSync(goBinaryPath()) ? undefined : 'go is not installed (the Go net/http app)';
  return undefined;
}

export function startUpstream(framework: Framework): Promise<Upstream> {
  if (framework === 'express') return startExpress();
  if (framework === 'wsgi') return startChild('wsgi', 'python3', [join(SOURCES, 'wsgi-upstream', 'app.py')]);
  return startChild('go', ensureGoBinary(), []);
}

/** The route an Express app would serve: virtual hosts by req.hostname, then its router. */
async function startExpress(): Promise<Upstream> {
  const served = new Reports();
  const app = express();
  // As an Express app behind a reverse proxy is told to run: the proxy's X-Forwarded-* are believed
  // (req.hostname reads X-Forwarded-Host), so a forwarded host the proxy passes on picks the vhost.
  app.set('trust proxy', 'loopback');
  // As the method-override middleware does by default: a POST may say which method it means.
  app.use((request, _response, next) => {
    const override = request.get('x-http-method-override');
    if (request.method === 'POST' && override) request.method = override.toUpperCase();
    next();
  });
  const serve = (route: string) => (request: Request, response: express.Response) => {
    const byHost = (
      { 'admin.example.com': 'admin-host', 'secure.example.com': 'secure-port' } as Record<string, string>
    )[(request.hostname ?? '').toLowerCase().replace(/\.$/, '')];
    const identity: Served['identity'] = {};
    for (const [key, name] of Object.entries(IDENTITY_HEADERS) as Array<[IdentityKey, string]>) {
      const value = request.get(name);
      if (value !== undefined) identity[key] = value;
    }
    const record: Served = {
      framework: 'express',
      marker: request.get(MARKER_HEADER) ?? markerIn(request.originalUrl),
      route: byHost ?? route,
      host: request.hostname ?? '',
      method: request.method,
      identity,
    };
    served.add(record);
    response.json(record);
  };
  app.all('/admin{/*rest}', serve('admin'));
  app.delete('/data{/*rest}', serve('no-delete'));
  app.all('/public{/*rest}', serve('public'));
  app.use(serve('default'));
  const server = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  return {
    framework: 'express',
    port: (server.address() as AddressInfo).port,
    drain: () => served.drain(),
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An app in its own process: its first stdout line is its port, every later one a Served. */
async function startChild(framework: Framework, command: string, args: readonly string[]): Promise<Upstream> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')));
  const served = new Reports();
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the ${framework} app exited with ${String(code)}: ${errors}`)));
    lines.once('line', (line) => resolve(Number(line)));
  });
  lines.on('line', (line) => served.add(JSON.parse(line) as Served));
  return {
    framework,
    port,
    drain: () => served.drain(),
    stop: () => stopChild(child),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** The Go app, built once per version of its source into the binary cache. */
function goBinaryPath(): string {
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'main.go']) hash.update(readFileSync(join(SOURCES, 'go-upstream', file)));
  return join(cacheRoot, `differential-go-upstream-${hash.digest('hex').slice(0, 16)}`, 'upstream');
}

function ensureGoBinary(): string {
  const binary = goBinaryPath();
  if (existsSync(binary)) return binary;
  mkdirSync(join(binary, '..'), { recursive: true });
  const built = spawnSync('go', ['build', '-trimpath', '-o', `${binary}.partial`, '.'], {
    cwd: join(SOURCES, 'go-upstream'),
    encoding: 'utf8',
    env: { ...process.env, CGO_ENABLED: '0' },
  });
  if (built.status !== 0) throw new Error(`go build of the Go app failed: ${built.stderr}`);
  renameSync(`${binary}.partial`, binary);
  return binary;
}
