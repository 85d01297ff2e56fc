/**
 * server.workers: 2, the real executable: a primary and two worker processes behind one gRPC
 * port. Which process served a check is read from its log line's `pid`; /metrics, reload, drain
 * and a killed worker are seen from outside, as an operator would.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HEAP_GROWING_PERCENT, heapLimitMiB, YOUNG_GENERATION_MIB } from '../../src/server/heap-limit';
import { deniedHeader, EnvoyClient, httpStatusOf, metadataOf } from '../support/envoy-client';
import { BIN, runBin, serveBin, type LogLine, type Serving } from '../support/executable';
import { KratosEmulator } from '../support/kratos-emulator';

const dir = mkdtempSync(join(tmpdir(), 'kratos-ext-authz-cluster-'));
let emulator: KratosEmulator;
before(async () => {
  emulator = await KratosEmulator.start();
});
after(() => emulator.stop());

function configFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** `which` names the rule and the login host, so a reload is seen in every answer. */
function configText(which: 'a' | 'b', workers = 2): string {
  return [
    `server: {grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0", http_authz_address: "", shutdown_timeout: 5s, workers: ${workers}}`,
    `kratos: {public_url: "${emulator.publicUrl}", admin_url: "${emulator.adminUrl}", browser_url: "https://login-${which}.example", timeout: 2s}`,
    `policy: {rules: [{name: rule-${which}, paths: ["/*"], cookie: aal1, token: aal1}]}`,
  ].join('\n');
}

/** A client on a connection of its own: grpc-js otherwise shares one connection between clients of one address. */
function ownConnection(serving: Serving): EnvoyClient {
  return new EnvoyClient(serving.grpcPort, { 'grpc.use_local_subchannel_pool': 1 });
}

let requests = 0;

/** The pid of the worker that answered a denied check on `client` (denials are logged at info). */
async function servedBy(serving: Serving, client: EnvoyClient): Promise<number> {
  const requestId = `cluster-${++requests}`;
  assert.equal(httpStatusOf(await client.check({ headers: { 'x-request-id': requestId } })), 401);
  return Number((await serving.waitForLog((line) => line.request_id === requestId)).pid);
}

async function metricsText(serving: Serving): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${serving.httpPort}/metrics`);
  assert.equal(response.status, 200);
  return response.text();
}

/** The sum of every series of `name` whose labels contain `labels`. */
function summed(text: string, name: string, labels = ''): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

async function waitUntil(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stop(serving: Serving): Promise<void> {
  serving.child.kill('SIGTERM');
  assert.equal(await serving.exited, 0);
}

describe('server.workers: 2', () => {
  test('connections go to the two workers in turn, each answering correctly; /metrics sums both', async () => {
    const serving = await serveBin(process.execPath, [BIN, '--config', configFile('two.yaml', configText('a'))]);
    const clients = Array.from({ length: 6 }, () => ownConnection(serving));
    const [first, second] = clients as [EnvoyClient, EnvoyClient];
    try {
      const serveLine = await serving.waitForLog((line) => line.msg === 'serving');
      assert.equal(serveLine.workers, 2);
      const workerPids = serveLine.worker_pids as number[];
      assert.equal(new Set(workerPids).size, 2);
      assert.equal(workerPids.includes(serving.child.pid as number), false, 'the primary serves no checks');
      // Each worker is sized as the one process would be, for the default cache, by V8 flags.
      for (const pid of workerPids)
        assert.deepEqual(
          readFileSync(`/proc/${pid}/cmdline`, 'utf8')
            .split('\0')
            .filter((argument) => /^--(max-old-space-size|max-semi-space-size|heap-growing-percent)=/.test(argument)),
          [
            `--max-old-space-size=${heapLimitMiB(100_000)}`,
            `--max-semi-space-size=${YOUNG_GENERATION_MIB / 3}`,
            `--heap-growing-percent=${HEAP_GROWING_PERCENT}`,
          ],
        );

      const pids: number[] = [];
      for (const client of clients) pids.push(await servedBy(serving, client));
      // Round robin, not the kernel's accept order: A B A B A B, whichever worker comes first.
      const [a, b] = pids as [number, number];
      assert.deepEqual(pids, [a, b, a, b, a, b]);
      assert.deepEqual([a, b].sort(), [...workerPids].sort());
      // A connection stays with its worker.
      assert.equal(await servedBy(serving, first), a);

      const session = emulator.createSession(emulator.addIdentity());
      for (const client of [first, second]) {
        const allowed = await client.check({ headers: { 'x-session-token': session.token } });
        assert.equal(httpStatusOf(allowed), 200);
        assert.equal(metadataOf(allowed).policy, 'rule-a');
      }

      const text = await metricsText(serving);
      // Seven denials and two allows, on two workers.
      assert.equal(summed(text, 'kratos_ext_authz_checks_total', 'front_door="grpc"'), 9);
      assert.equal(summed(text, 'kratos_ext_authz_checks_total', 'decision="deny"'), 7);
      assert.equal((await fetch(`http://127.0.0.1:${serving.httpPort}/healthz`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${serving.httpPort}/readyz`)).status, 200);
    } finally {
      for (const client of clients) client.close();
      await stop(serving);
    }
  });

  test('SIGHUP reloads every worker (server.workers itself needs a restart); a bad config is refused by every worker and the old one kept', async () => {
    const path = configFile('reload.yaml', configText('a'));
    const serving = await serveBin(process.execPath, [BIN, '--config', path]);
    const [first, second] = [ownConnection(serving), ownConnection(serving)];
    const navigate = { headers: { 'sec-fetch-mode': 'navigate' } };
    try {
      assert.notEqual(await servedBy(serving, first), await servedBy(serving, second));
      writeFileSync(path, configText('b', 3));
      serving.child.kill('SIGHUP');
      await waitUntil(
        async () => summed(await metricsText(serving), 'kratos_ext_authz_config_reloads_total', 'applied') === 2,
        'both workers applied the reload',
      );
      const reloaded = serving.logs.filter((line) => line.msg === 'configuration reloaded');
      assert.deepEqual(
        reloaded.map((line) => line.needs_restart),
        [['server.workers'], ['server.workers']],
      );
      for (const client of [first, second]) {
        const answer = await client.check(navigate);
        assert.equal(metadataOf(answer).policy, 'rule-b');
        assert.equal(deniedHeader(answer, 'location')?.startsWith('https://login-b.example/'), true);
      }

      writeFileSync(path, `${configText('a')}\nkratos_typo: {}\n`);
      serving.child.kill('SIGHUP');
      await waitUntil(
        async () => summed(await metricsText(serving), 'kratos_ext_authz_config_reloads_total', 'rejected') === 2,
        'both workers rejected the bad file',
      );
      for (const client of [first, second]) assert.equal(metadataOf(await client.check(navigate)).policy, 'rule-b');
    } finally {
      first.close();
      second.close();
      await stop(serving);
    }
  });

  test('--watch-config: a file replaced whole is applied by every worker', async () => {
    const path = configFile('watched.yaml', configText('a'));
    const serving = await serveBin(process.execPath, [BIN, '--config', path, '--watch-config']);
    try {
      writeFileSync(`${path}.next`, configText('b'));
      renameSync(`${path}.next`, path);
      await waitUntil(
        async () => summed(await metricsText(serving), 'kratos_ext_authz_config_reloads_total', 'applied') === 2,
        'both workers applied the replaced file',
      );
      const reloaded = serving.logs.filter((line) => line.msg === 'configuration reloaded' && line.trigger === 'watch');
      assert.equal(new Set(reloaded.map((line) => line.pid)).size, 2);
    } finally {
      await stop(serving);
    }
  });

  test('SIGTERM drains every worker: checks in flight on both are answered, then the primary exits 0', async () => {
    const serving = await serveBin(process.execPath, [BIN, '--config', configFile('drain.yaml', configText('a'))]);
    const [first, second] = [ownConnection(serving), ownConnection(serving)];
    try {
      assert.notEqual(await servedBy(serving, first), await servedBy(serving, second));
      const identity = emulator.addIdentity();
      emulator.setLatency('whoami', 300);
      const before = emulator.count('whoami');
      const checks = [first, second].flatMap((client) =>
        Array.from({ length: 10 }, () =>
          client.check({ headers: { 'x-session-token': emulator.createSession(identity).token } }),
        ),
      );
      await waitUntil(async () => emulator.count('whoami') - before === 20, 'every check reached Kratos');
      serving.child.kill('SIGTERM');
      const answers = await Promise.all(checks);
      assert.deepEqual(
        answers.map(httpStatusOf),
        answers.map(() => 200),
      );
      assert.equal(await serving.exited, 0);
      assert.equal(serving.logs.filter((line) => line.msg === 'stopped').length, 3, 'two workers, then the primary');
    } finally {
      emulator.setLatency('whoami', 0);
      first.close();
      second.close();
    }
  });

  test('a worker killed is replaced, and the port keeps answering on both workers', async () => {
    const serving = await serveBin(process.execPath, [BIN, '--config', configFile('kill.yaml', configText('a'))]);
    try {
      const [victim, survivor] = (await serving.waitForLog((line) => line.msg === 'serving')).worker_pids as number[];
      process.kill(victim as number, 'SIGKILL');
      const replaced = await serving.waitForLog((line) => line.msg === 'worker exited: starting a replacement');
      assert.equal(replaced.worker_pid, victim);
      assert.equal(replaced.signal, 'SIGKILL');
      const replacement = Number(
        (
          await serving.waitForLog(
            (line) =>
              line.msg === 'worker serving' &&
              line.pid === serving.child.pid &&
              line.worker_pid !== victim &&
              line.worker_pid !== survivor,
            10_000,
          )
        ).worker_pid,
      );
      const clients = [ownConnection(serving), ownConnection(serving), ownConnection(serving)];
      try {
        const pids = new Set<number>();
        for (const client of clients) pids.add(await servedBy(serving, client));
        assert.deepEqual([...pids].sort(), [replacement, survivor].sort());
      } finally {
        for (const client of clients) client.close();
      }
      assert.equal((await fetch(`http://127.0.0.1:${serving.httpPort}/readyz`)).status, 200);
    } finally {
      await stop(serving);
    }
  });

  test('workers that keep dying end the primary with 1: more than 5 replacements within 60 s', async () => {
    const serving = await serveBin(process.execPath, [BIN, '--config', configFile('loop.yaml', configText('a'))]);
    const primaryServing = (line: LogLine) => line.msg === 'worker serving' && line.pid === serving.child.pid;
    let [victim] = (await serving.waitForLog((line) => line.msg === 'serving')).worker_pids as number[];
    for (let replaced = 1; replaced <= 5; replaced++) {
      process.kill(victim as number, 'SIGKILL');
      await waitUntil(
        async () => serving.logs.filter(primaryServing).length === 2 + replaced,
        `replacement ${replaced}`,
      );
      victim = Number(serving.logs.filter(primaryServing).at(-1)?.worker_pid);
    }
    process.kill(victim as number, 'SIGKILL');
    const stillRunning = new Promise((resolve) =>
      setTimeout(() => resolve('still running after 10 s'), 10_000).unref(),
    );
    const exit = await Promise.race([serving.exited, stillRunning]);
    if (exit !== 1) serving.child.kill('SIGKILL');
    assert.equal(exit, 1);
    assert.ok(serving.logs.some((line) => String(line.msg).startsWith('workers keep exiting (6 in 60 s): stopping')));
  });

  test('a worker that cannot start ends the primary with 1 rather than a loop of replacements', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const path = configFile(
        'taken.yaml',
        configText('a').replace('grpc_address: "127.0.0.1:0"', `grpc_address: "127.0.0.1:${port}"`),
      );
      const result = await runBin(['--config', path]);
      assert.equal(result.code, 1);
      assert.match(result.stdout, /a worker exited before all were serving: stopping/);
      assert.match(result.stderr, /EADDRINUSE/);
    } finally {
      taken.close();
    }
  });
});

test('server.workers must be a whole number of at least 1, or "auto": start-up says so and exits 2', async () => {
  for (const workers of ['0', '-1', '1.5', 'two', '"2"']) {
    const path = configFile('bad-workers.yaml', `server: {workers: ${workers}}\n`);
    const result = await runBin(['--config', path]);
    assert.equal(result.code, 2, workers);
    assert.match(
      result.stderr,
      /server\.workers: must be a whole number from 1 to 64, or "auto"/,
      `workers: ${workers}`,
    );
  }
});
