/**
 * The path readings against the routers they stand for: a real Express app (its defaults:
 * case-insensitive, non-strict), a real `node:http` server routing on `new URL()` (WHATWG
 * runtimes) and one routing on `req.url` as sent. Each tricky path is sent byte for byte over a
 * socket; whenever an upstream routes it to a protected handler, the policy must select that
 * handler's rule or refuse the request: never the anonymous or the default rule.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import { parseConfig } from '../../src/config/load';
import { compilePolicy, selectRule } from '../../src/policy/policy';
import { buildRequestView } from '../../src/request/view';
import { HeaderLines } from '../../src/request/headers';

// The same route table three ways: Express, and prefix routing on two readings.
const PROTECTED = ['admin', 'internal', 'metrics'] as const;
const policy = compilePolicy(
  parseConfig(
    {
      policy: {
        rules: [
          { name: 'admin', paths: ['/admin/*'], cookie: 'aal2', token: 'aal2' },
          { name: 'internal', paths: ['/internal/*'], deny: true },
          { name: 'metrics', paths: ['/metrics'], deny: true },
          { name: 'public', paths: ['/public/*', '/'], anonymous: true },
        ],
      },
    },
    {},
  ).policy,
);

function routeOf(pathname: string): string {
  for (const name of PROTECTED) {
    if (pathname === `/${name}` || pathname.startsWith(`/${name}/`)) return name;
  }
  return 'public';
}

function startServer(handler: http.RequestListener): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () => new Promise((done) => server.close(() => done())),
      }),
    );
  });
}

/** Sends the request line exactly as given (no client normalises it) and returns the body. */
function rawGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n`),
    );
    let response = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (response += chunk));
    socket.on('end', () => resolve(response.slice(response.indexOf('\r\n\r\n') + 4)));
    socket.on('error', reject);
  });
}

const TRICKY_PATHS = [
  '/admin/x',
  '/ADMIN/x',
  '/Admin',
  '/admin',
  '/admin/',
  '/internal',
  '/INTERNAL/x',
  '/metrics',
  '/metrics/',
  '/METRICS',
  '/metrics/.',
  '/internal/x/../../',
  '/admin/users////../../..',
  '/public/../admin/x',
  '/public/%2e%2e/admin/x',
  '/public/%2E%2E/internal',
  '/public/.%2e/metrics',
  '/public\\..\\admin',
  '/public/..;/admin/x',
  '/admin;x/y',
  '/public/..%2Fadmin',
  '//admin//x',
  '/./admin/x',
  '/public/./../internal/x',
  '/x/../../admin',
  '/public/%61dmin',
  '/%61dmin/x',
];

describe('path readings against real routers', () => {
  const upstreams: Record<string, { port: number; close: () => Promise<void> }> = {};
  before(async () => {
    const app = express();
    for (const name of PROTECTED) app.use(`/${name}`, (_req, res) => void res.send(name));
    app.use((_req, res) => void res.send('public'));
    upstreams.express = await startServer(app);
    upstreams.whatwg = await startServer((req, res) => res.end(routeOf(new URL(req.url ?? '/', 'http://h').pathname)));
    upstreams['node:http as sent'] = await startServer((req, res) =>
      res.end(routeOf((req.url ?? '/').split('?')[0] ?? '/')),
    );
  });
  after(async () => {
    for (const upstream of Object.values(upstreams)) await upstream.close();
  });

  for (const path of TRICKY_PATHS) {
    test(JSON.stringify(path), async () => {
      const built = buildRequestView(
        { method: 'GET', scheme: 'https', authority: 'app.example.com', path },
        new HeaderLines(),
        {},
      );
      assert.ok(built.ok);
      const selection = selectRule(policy, built.view);
      const selected = selection.kind === 'rule' ? selection.rule.name : selection.kind;
      for (const [upstream, { port }] of Object.entries(upstreams)) {
        const routed = await rawGet(port, path);
        if (routed === 'public') continue;
        assert.ok(
          selected === routed || selected === 'ambiguous_path',
          `${upstream} routes ${path} to ${routed}; the policy selected ${selected}`,
        );
      }
    });
  }

  test('the routers really disagree on some of these (the test would catch a reading left out)', async () => {
    const routes = await Promise.all(
      ['/ADMIN/x', '/internal/x/../../', '/admin/users////../../..'].map((path) =>
        rawGet(upstreams.express!.port, path),
      ),
    );
    assert.deepEqual(routes, ['admin', 'internal', 'admin']);
    assert.equal(await rawGet(upstreams.whatwg!.port, '/public/%2e%2e/admin/x'), 'admin');
    assert.equal(await rawGet(upstreams['node:http as sent']!.port, '/admin/users////../../..'), 'admin');
  });
});
