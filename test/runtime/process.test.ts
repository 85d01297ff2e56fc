/** The real executable: command line, configuration errors, and graceful shutdown on signals. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EnvoyClient, httpStatusOf } from '../support/envoy-client';
import { BIN, runBin as run, serveBin as serve } from '../support/executable';
import { healthStatus } from '../support/health-client';
import { heapLimitMiB, YOUNG_GENERATION_MIB } from '../../src/server/heap-limit';
import { KratosEmulator } from '../support/kratos-emulator';

const dir = mkdtempSync(join(tmpdir(), 'kratos-ext-authz-'));

function configFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

let emulator: KratosEmulator;
let config: string;
before(async () => {
  emulator = await KratosEmulator.start();
  config = configFile(
    'ok.yaml',
    `server: {grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0", http_authz_address: "127.0.0.1:0", shutdown_timeout: 5s}\nkratos: {public_url: "${emulator.publicUrl}", admin_url: "${emulator.adminUrl}", timeout: 1s}\n`,
  );
});
after(() => emulator.stop());

describe('command line and configuration', () => {
  test('--help prints usage and exits 0', async () => {
    const result = await run(['--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^usage: kratos-ext-authz \[--config <file\.yaml>\]/);
  });

  test('configuration problems exit 2 with one line per problem naming the key', async () => {
    const bad = configFile(
      'bad.yaml',
      'kratos:\n  timeout: soon\n  extra: 1\npolicy:\n  rules:\n    - paths: [/a]\n    - paths: [/b]\n    - paths: ["/c", "nope"]\n',
    );
    const result = await run(['--config', bad]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /kratos\.timeout: "soon" is not a duration/);
    assert.match(result.stderr, /kratos\.extra: unknown key/);
    assert.match(result.stderr, /policy\.rules\[2\]\.paths\[1\]: must start with "\/"/);
    assert.equal(result.stdout, '');
  });

  test('the config path may come from KRATOS_EXT_AUTHZ_CONFIG, and --config=path works', async () => {
    const bad = configFile('bad-type.yaml', 'policy: {cookie: aal3}\n');
    for (const result of [await run([], { KRATOS_EXT_AUTHZ_CONFIG: bad }), await run([`--config=${bad}`])]) {
      assert.equal(result.code, 2);
      assert.match(result.stderr, /policy\.cookie: /);
    }
  });

  test('a missing file, invalid YAML, an unknown argument and an unset ${VAR} exit 2', async () => {
    const yaml = configFile('broken.yaml', 'kratos: [unclosed\n');
    const env = configFile('env.yaml', 'kratos: {admin_token: "${KRATOS_ADMIN_TOKEN_FOR_TEST}"}\n');
    for (const [args, pattern] of [
      [['--config', join(dir, 'absent.yaml')], /cannot read \(ENOENT\)/],
      [['--config', yaml], /broken\.yaml: /],
      [['--verbose'], /unknown argument --verbose/],
      [['--config', env], /kratos\.admin_token: environment variable KRATOS_ADMIN_TOKEN_FOR_TEST is not set/],
    ] as const) {
      const result = await run([...args]);
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr, pattern);
    }
  });

  test('npm start -- --config file serves', async () => {
    const { child, grpcPort, exited } = await serve('npm', ['start', '--silent', '--', '--config', config], {}, true);
    try {
      assert.equal(await healthStatus(grpcPort, ''), 'SERVING');
    } finally {
      // npm does not forward signals to its child: stop the whole process group.
      process.kill(-(child.pid as number), 'SIGTERM');
      await exited;
    }
  });
});

describe('graceful shutdown', () => {
  test('SIGTERM during 100 in-flight checks: all answered, /readyz 503 at once, exit 0', async () => {
    const { child, grpcPort, httpPort, exited } = await serve(process.execPath, [BIN, '--config', config]);
    const client = new EnvoyClient(grpcPort);
    try {
      const identity = emulator.addIdentity();
      const sessions = Array.from({ length: 100 }, () => emulator.createSession(identity));
      emulator.setLatency('whoami', 200);
      const before = emulator.count('whoami');
      const checks = sessions.map((session) => client.check({ headers: { 'x-session-token': session.token } }));
      while (emulator.count('whoami') - before < 100) await new Promise((resolve) => setTimeout(resolve, 5));
      child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 20));
      const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
      assert.equal(ready.status, 503);
      assert.equal(await ready.text(), 'not ready: shutting down\n');
      const responses = await Promise.all(checks);
      assert.equal(responses.filter((response) => httpStatusOf(response) === 200).length, 100);
      assert.equal(await exited, 0);
    } finally {
      emulator.setLatency('whoami', 0);
      client.close();
    }
  });

  test('a second signal exits at once', async () => {
    const { child, grpcPort, exited } = await serve(process.execPath, [BIN, '--config', config]);
    const client = new EnvoyClient(grpcPort);
    try {
      emulator.fail('whoami', { mode: 'hang', count: 1 });
      const session = emulator.createSession(emulator.addIdentity());
      const before = emulator.count('whoami');
      const pending = client.check({ headers: { 'x-session-token': session.token } }).catch((error: Error) => error);
      while (emulator.count('whoami') === before) await new Promise((resolve) => setTimeout(resolve, 5));
      child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 50));
      const started = Date.now();
      child.kill('SIGTERM');
      assert.equal(await exited, 1);
      assert.ok(Date.now() - started < 1_000);
      await pending;
    } finally {
      emulator.clearFaults();
      client.close();
    }
  });
});

describe('drain delay', () => {
  test('with server.drain_delay, checks are still answered after SIGTERM while health says NOT_SERVING', async () => {
    const delayed = configFile(
      'drain.yaml',
      `server: {grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0", http_authz_address: "127.0.0.1:0", drain_delay: 600ms}\nkratos: {public_url: "${emulator.publicUrl}", admin_url: "${emulator.adminUrl}"}\n`,
    );
    const { child, grpcPort, exited } = await serve(process.execPath, [BIN, '--config', delayed]);
    const client = new EnvoyClient(grpcPort);
    try {
      const session = emulator.createSession(emulator.addIdentity());
      child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(await healthStatus(grpcPort, ''), 'NOT_SERVING');
      assert.equal(
        httpStatusOf(await client.check({ headers: { 'x-session-token': session.token } })),
        200,
        'a new check during the delay',
      );
      assert.equal(await exited, 0);
    } finally {
      client.close();
    }
  });
});

/**
 * heap_size_limit of a plain `node --max-old-space-size=<mib> --max-semi-space-size=<semi>`:
 * what the service must equal when sized to <mib> with its own young generation (three
 * semi-spaces of YOUNG_GENERATION_MIB / 3), or with the one an operator's flag chose.
 */
function heapSizeLimitUnderFlag(mib: number, semiSpaceMib = YOUNG_GENERATION_MIB / 3): number {
  return Number(
    execFileSync(
      process.execPath,
      [
        `--max-old-space-size=${mib}`,
        `--max-semi-space-size=${semiSpaceMib}`,
        '-p',
        'require("node:v8").getHeapStatistics().heap_size_limit',
      ],
      { encoding: 'utf8' },
    ),
  );
}

describe('the heap is sized for the cache, with no Node flags', () => {
  const listen =
    'server: {grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0", http_authz_address: "127.0.0.1:0"}';

  test('the bare bin runs with the limit derived from cache.max_entries, drains on SIGTERM and exits 0', async () => {
    const sized = configFile(
      'sized.yaml',
      `${listen}\nkratos: {public_url: "${emulator.publicUrl}", admin_url: "${emulator.adminUrl}"}\ncache: {max_entries: 250000}\n`,
    );
    const { child, grpcPort, logs, waitForLog, exited } = await serve(process.execPath, [BIN, '--config', sized]);
    const client = new EnvoyClient(grpcPort);
    try {
      const serving = logs.find((line) => line.msg === 'serving');
      assert.equal(serving?.heap_size_limit_bytes, heapSizeLimitUnderFlag(heapLimitMiB(250_000)));
      // V8's own default on this machine is far above it: the limit really was set.
      assert.ok(
        heapSizeLimitUnderFlag(heapLimitMiB(250_000)) <
          Number(
            execFileSync(process.execPath, ['-p', 'require("node:v8").getHeapStatistics().heap_size_limit'], {
              encoding: 'utf8',
            }),
          ),
      );
      const session = emulator.createSession(emulator.addIdentity());
      // Under kratos.timeout (150 ms): the check is still waiting for Kratos when SIGTERM arrives.
      emulator.setLatency('whoami', 100);
      const pending = client.check({ headers: { 'x-session-token': session.token } });
      await new Promise((resolve) => setTimeout(resolve, 40));
      child.kill('SIGTERM');
      assert.equal(httpStatusOf(await pending), 200, 'the check in flight is answered');
      await waitForLog((line) => line.msg === 'stopped');
      assert.equal(await exited, 0);
    } finally {
      emulator.setLatency('whoami', 0);
      client.close();
    }
  });

  test('an explicit --max-old-space-size in NODE_OPTIONS wins over the derived limit', async () => {
    const { child, logs, exited } = await serve(process.execPath, [BIN, '--config', config], {
      NODE_OPTIONS: '--max-old-space-size=300',
    });
    try {
      assert.equal(logs.find((line) => line.msg === 'serving')?.heap_size_limit_bytes, heapSizeLimitUnderFlag(300));
    } finally {
      child.kill('SIGINT');
      assert.equal(await exited, 0);
    }
  });

  test("an explicit --max-semi-space-size in NODE_OPTIONS wins over the service's young generation", async () => {
    const { child, logs, exited } = await serve(process.execPath, [BIN, '--config', config], {
      NODE_OPTIONS: '--max-semi-space-size=4',
    });
    try {
      assert.equal(
        logs.find((line) => line.msg === 'serving')?.heap_size_limit_bytes,
        heapSizeLimitUnderFlag(heapLimitMiB(100_000), 4),
      );
    } finally {
      child.kill('SIGINT');
      assert.equal(await exited, 0);
    }
  });

  test('a start-up failure in the service (its gRPC port taken) exits 1 with the reason on stderr', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    assert.ok(address !== null && typeof address === 'object');
    try {
      const busy = configFile(
        'busy.yaml',
        `server: {grpc_address: "127.0.0.1:${address.port}", http_address: "127.0.0.1:0", http_authz_address: "127.0.0.1:0"}\nkratos: {public_url: "${emulator.publicUrl}", admin_url: "${emulator.adminUrl}"}\n`,
      );
      const result = await run(['--config', busy]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^kratos-ext-authz: .*(EADDRINUSE|address already in use|No address added)/m);
    } finally {
      taken.close();
    }
  });
});
