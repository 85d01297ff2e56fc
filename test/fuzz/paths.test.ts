/**
 * A path that any upstream reading puts under a protected rule is never allowed without a
 * session. The readings are the test's own: the raw string up to "?" (Node's http, Express),
 * Node's `new URL()` both as the docs' `new URL(req.url, base)` idiom and on the full URL
 * (Fetch-API servers), and decode-once-then-clean normalisers (Go's path.Clean, servlet-style);
 * a real node:http server confirms for a sample what Node hands an app.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import * as fc from 'fast-check';
import { inProcessCheck } from './support/in-process';
import { FUZZ_SEED, holds } from './support/property';
import { checkRequestOf } from './support/request-arbitrary';

const check = inProcessCheck({
  config: {
    policy: {
      rules: [
        { name: 'admin', paths: ['/admin/*'], cookie: 'aal2', token: 'aal2' },
        { name: 'internal', paths: ['/internal/*'], deny: true },
        { name: 'open', paths: ['/*'], anonymous: true },
      ],
    },
  },
});

/** Under /admin or /internal, compared case-insensitively as Express and most routers do. */
const PROTECTED = /^\/(admin|internal)(\/|$)/i;

const segment = fc.constantFrom(
  ...[
    'admin',
    'ADMIN',
    'internal',
    'public',
    'x',
    '..',
    '.',
    '',
    '%2e%2e',
    '%2E',
    '%2e',
    '.%2e',
    '%2f',
    '%2F',
    '%5c',
    '%5C',
    '%61dmin',
    'admin;x',
    '..;',
    ';',
    '%00',
    '%',
    '%zz',
    'é',
    '%c3%a9',
    '%ff',
    '\\',
    'admin%2fx',
    '*',
    '@',
    ':',
  ],
);
const separator = fc.constantFrom('/', '/', '/', '//', '\\', '/./', '%2f');
const path = fc
  .tuple(
    fc.constantFrom('/', '/', '/', '//', '/\\', '\\', ''),
    fc.array(fc.tuple(segment, separator), { maxLength: 6 }),
    segment,
    fc.constantFrom('', '', '/', '?q=/admin/x', '#/admin', '?', '?a=1'),
  )
  .map(([start, pairs, last, tail]) => start + pairs.map(([name, after]) => name + after).join('') + last + tail);

function withoutQuery(raw: string): string {
  const end = raw.search(/[?#]/);
  return end === -1 ? raw : raw.slice(0, end);
}

/** Percent-decodes once, byte by byte (only the ASCII result matters for the prefix). */
function decodeOnce(raw: string): string {
  return raw.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Resolves "." and ".." and drops empty segments, as Go's path.Clean does. */
function clean(raw: string): string {
  const out: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '..') out.pop();
    else if (part !== '' && part !== '.') out.push(part);
  }
  return `/${out.join('/')}`;
}

function url(input: string, base?: string): string | undefined {
  try {
    return new URL(input, base).pathname;
  } catch {
    // An app doing this would fail the request, not route it.
    return undefined;
  }
}

function readingsOf(raw: string): string[] {
  const asSent = withoutQuery(raw);
  const readings = [
    asSent,
    url(raw, 'http://h'),
    url(`http://h${raw.startsWith('/') ? '' : '/'}${raw}`),
    clean(decodeOnce(asSent)),
    clean(
      decodeOnce(asSent)
        .replace(/\\/g, '/')
        .replace(/;[^/]*/g, ''),
    ),
  ];
  return readings.filter((reading): reading is string => reading !== undefined);
}

async function allowedWithoutSession(raw: string): Promise<boolean> {
  const response = await check(checkRequestOf([], 'raw', { path: raw }));
  return (response.status?.code ?? 0) === 0;
}

test('no path that any reading puts under a protected rule is allowed without a session', async (t) => {
  await holds(
    t,
    fc.asyncProperty(path, async (raw) => {
      if (!(await allowedWithoutSession(raw))) return;
      for (const reading of readingsOf(raw))
        assert.doesNotMatch(
          reading,
          PROTECTED,
          `${JSON.stringify(raw)} is allowed, but an upstream may read it as ${JSON.stringify(reading)}`,
        );
    }),
    6000,
  );
});

// What a real node:http server hands an app for a sample of those paths.
let server: Server;
const seen: string[] = [];
before(async () => {
  server = createServer((request, response) => {
    seen.push(request.url ?? '');
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends one raw HTTP/1.1 request line; resolves the req.url the server saw, or undefined if it refused the line. */
function nodeUrlOf(raw: string): Promise<string | undefined> {
  const { port } = server.address() as AddressInfo;
  const index = seen.length;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.end(`GET ${raw} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`, 'latin1'),
    );
    socket.on('error', reject);
    socket.resume();
    socket.on('close', () => resolve(seen.length > index ? seen[index] : undefined));
  });
}

test('node:http hands an app the path as sent: the readings above are what a Node app routes on', async (t) => {
  const sample = fc.sample(
    path.filter((raw) => raw.startsWith('/')),
    { numRuns: 60, seed: FUZZ_SEED },
  );
  let served = 0;
  for (const raw of sample) {
    const received = await nodeUrlOf(raw);
    if (received === undefined) continue;
    served++;
    assert.equal(received, raw);
    const appReading = url(received, 'http://h');
    if (appReading !== undefined) assert.ok(readingsOf(raw).includes(appReading));
    if ((await allowedWithoutSession(raw)) && appReading !== undefined)
      assert.doesNotMatch(appReading, PROTECTED, JSON.stringify(raw));
  }
  assert.ok(served > sample.length / 2, `node:http served only ${served} of ${sample.length} paths`);
  t.diagnostic(`${served} of ${sample.length} paths served by node:http, each read as sent`);
});
