/**
 * The product image as the Deployment runs it (deploy/kubernetes/deployment.yaml), reproduced with
 * `docker run` flags: uid 1000, read-only root filesystem with a /tmp emptyDir, all capabilities
 * dropped, no privilege escalation, a 256 MiB memory limit (tighter than its 384Mi) and one CPU, the config directory
 * mounted read-only in the kubelet's ConfigMap layout, --watch-config. Host networking, so the
 * container reaches the Kratos emulator on loopback and nothing
 * else. Needs a Docker daemon and the image from scripts/container-images.sh (npm run
 * test:containers builds it); under CI=true a missing one fails instead of skipping.
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { connectionBurst, concurrentStreams, neverReads } from '../chaos/grpc-abuse';
import { EnvoyClient, httpStatusOf } from '../support/envoy-client';
import { serveBin, type Serving } from '../support/executable';
import { healthStatus } from '../support/health-client';
import { KratosEmulator } from '../support/kratos-emulator';
import { docker, dockerExitCode, inspect, missingRuntime, PRODUCT_IMAGE } from './docker';

const MEMORY_LIMIT = '256m';
const CONFIG_DIR = '/etc/kratos-ext-authz';

let emulator: KratosEmulator;
let unavailable: string | undefined;
before(async () => {
  unavailable = await missingRuntime();
  if (unavailable && process.env.CI === 'true') throw new Error(`container tests under CI: ${unavailable}`);
  emulator = await KratosEmulator.start();
});
after(() => emulator?.stop());

/** Skips (outside CI) when there is no daemon or no image: the one runtime these tests need. */
function skippedFor(t: TestContext): boolean {
  if (unavailable) t.skip(unavailable);
  return unavailable !== undefined;
}

/** config.yaml with `yaml`, listening on free loopback ports. */
function configText(yaml: string, serverSettings: string): string {
  return `server: {grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0", http_authz_address: "127.0.0.1:0"${serverSettings && `, ${serverSettings}`}}\n${yaml}`;
}

let generations = 0;
/**
 * Makes `dir` hold config.yaml as the kubelet lays out a ConfigMap volume (config.yaml ->
 * ..data/config.yaml, ..data -> ..<generation>/), or swaps in a new generation the way the
 * kubelet does an update: a new directory, a new symlink renamed over ..data, the old one removed.
 */
function writeConfigMap(dir: string, text: string): void {
  const generation = `..generation_${++generations}`;
  mkdirSync(join(dir, generation), { mode: 0o755 });
  writeFileSync(join(dir, generation, 'config.yaml'), text, { mode: 0o644 });
  const previous = existsSync(join(dir, '..data')) ? readlinkSync(join(dir, '..data')) : undefined;
  symlinkSync(generation, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  if (previous === undefined) symlinkSync('..data/config.yaml', join(dir, 'config.yaml'));
  else rmSync(join(dir, previous), { recursive: true });
}

/** A ConfigMap-like directory the container's uid 1000 can read, holding config.yaml with `yaml`. */
function configDirectory(yaml: string, serverSettings = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'kratos-ext-authz-container-'));
  chmodSync(dir, 0o755);
  writeConfigMap(dir, configText(yaml, serverSettings));
  return dir;
}

interface Container extends Serving {
  name: string;
  startedInMs: number;
}

let containers = 0;
/** Starts the image with the Deployment's container spec and resolves once it logs "serving". */
async function runAsDeployed(configDir: string): Promise<Container> {
  const name = `kratos-ext-authz-test-${process.pid}-${++containers}`;
  const started = performance.now();
  // prettier-ignore
  const serving = serveBin('docker', [
    'run', '--rm', '--name', name, '--network', 'host',
    '--user', '1000:1000', '--read-only', '--tmpfs', '/tmp',
    '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    '--memory', MEMORY_LIMIT, '--memory-swap', MEMORY_LIMIT, '--cpus', '1',
    '-v', `${configDir}:${CONFIG_DIR}:ro`,
    PRODUCT_IMAGE, '--config', `${CONFIG_DIR}/config.yaml`, '--watch-config',
  ], process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {});
  // A container that never logs "serving" would outlive the test (and its `docker run` the runner).
  const running = await serving.catch(async (error: unknown) => {
    await dockerExitCode('rm', '-f', name);
    throw error;
  });
  return { ...running, name, startedInMs: performance.now() - started };
}

async function removeContainer(container: Container | undefined): Promise<void> {
  if (container) await dockerExitCode('rm', '-f', container.name);
}

// The whoami call crosses the Docker bridge to an emulator on a host that may be busy with CI's
// builds: a first call past the default 150 ms was a 503 (seen once, at load 12), which is not
// what these tests are about.
const kratosConfig = () =>
  `kratos: {public_url: "${emulator.publicUrl}", admin_url: "${emulator.adminUrl}", timeout: 2s}\n`;

test('the image runs as the unprivileged node user (uid 1000) by default', async (t) => {
  if (skippedFor(t)) return;
  assert.equal(await docker('image', 'inspect', '-f', '{{.Config.User}}', PRODUCT_IMAGE), 'node');
  assert.equal(await docker('run', '--rm', '--network', 'none', '--entrypoint', 'id', PRODUCT_IMAGE, '-u'), '1000');
  t.diagnostic(
    `${PRODUCT_IMAGE}: ${(Number(await docker('image', 'inspect', '-f', '{{.Size}}', PRODUCT_IMAGE)) / 1024 / 1024).toFixed(1)} MiB`,
  );
});

test('as deployed: read-only root, gRPC health and /readyz answer, a check is decided', async (t) => {
  if (skippedFor(t)) return;
  let container: Container | undefined;
  try {
    container = await runAsDeployed(configDirectory(kratosConfig()));
    const { name, grpcPort, httpPort } = container;
    assert.equal(await healthStatus(grpcPort, ''), 'SERVING');
    assert.equal(await healthStatus(grpcPort, 'envoy.service.auth.v3.Authorization'), 'SERVING');
    let ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
    while (ready.status !== 200 && performance.now() - container.startedInMs < 20_000)
      ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
    assert.equal(ready.status, 200);
    t.diagnostic(`started: "serving" ${Math.round(container.startedInMs)} ms after docker run`);

    const client = new EnvoyClient(grpcPort);
    try {
      const session = emulator.createSession(emulator.addIdentity());
      assert.equal(httpStatusOf(await client.check({ headers: { 'x-session-token': session.token } })), 200);
    } finally {
      client.close();
    }
    assert.equal(await inspect(name, '{{.HostConfig.ReadonlyRootfs}}'), 'true');
    assert.notEqual(
      await dockerExitCode('exec', name, 'sh', '-c', 'echo x > /app/written'),
      0,
      'the application folder is not writable',
    );
    assert.equal(await dockerExitCode('exec', name, 'sh', '-c', 'echo x > /tmp/written'), 0, '/tmp (the emptyDir) is');
    assert.equal(await docker('exec', name, 'id', '-u'), '1000');
    assert.match(await docker('exec', name, 'cat', '/proc/1/cmdline'), /^node\0dist\/src\/main\.js/);
  } finally {
    await removeContainer(container);
  }
});

test('--watch-config in the read-only ConfigMap mount: two kubelet-style ..data swaps are both applied', async (t) => {
  if (skippedFor(t)) return;
  let container: Container | undefined;
  try {
    const dir = configDirectory(kratosConfig());
    container = await runAsDeployed(dir);
    const watchReloads = () =>
      container?.logs.filter((line) => line.msg === 'configuration reloaded' && line.trigger === 'watch') ?? [];
    for (const [index, ttl] of ['30s', '45s'].entries()) {
      const swapped = performance.now();
      writeConfigMap(dir, configText(`${kratosConfig()}cache: {ttl: ${ttl}}\n`, ''));
      await container.waitForLog(() => watchReloads().length > index, 10_000);
      t.diagnostic(`swap to cache.ttl ${ttl} applied after ${Math.round(performance.now() - swapped)} ms`);
      assert.deepEqual(watchReloads()[index]?.changed, ['cache']);
    }
  } finally {
    await removeContainer(container);
  }
});

test('SIGTERM to the container with checks stuck on a hung Kratos: exit 0 within server.shutdown_timeout', async (t) => {
  if (skippedFor(t)) return;
  let container: Container | undefined;
  const client = { current: undefined as EnvoyClient | undefined };
  try {
    container = await runAsDeployed(
      configDirectory(
        `kratos: {public_url: "${emulator.publicUrl}", admin_url: "${emulator.adminUrl}", timeout: 10s}\n`,
        'shutdown_timeout: 1s',
      ),
    );
    client.current = new EnvoyClient(container.grpcPort);
    emulator.fail('whoami', { mode: 'hang', count: 1 });
    const before = emulator.count('whoami');
    const pending = client.current
      .check({ headers: { 'x-session-token': emulator.createSession(emulator.addIdentity()).token } })
      .catch((error: Error) => error);
    const waitUntil = Date.now() + 10_000;
    while (emulator.count('whoami') === before) {
      assert.ok(Date.now() < waitUntil, 'the check reaches the hung Kratos');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const signalled = performance.now();
    await docker('kill', '--signal', 'SIGTERM', container.name);
    const code = await container.exited;
    const stoppedInMs = performance.now() - signalled;
    assert.equal(code, 0);
    assert.ok(stoppedInMs < 2_500, `stopped ${Math.round(stoppedInMs)} ms after SIGTERM (shutdown_timeout 1 s)`);
    assert.ok((await pending) instanceof Error, 'the cut check got no allow');
    t.diagnostic(`stopped ${Math.round(stoppedInMs)} ms after SIGTERM`);
  } finally {
    client.current?.close();
    emulator.clearFaults();
    await removeContainer(container);
  }
});

// The Deployment's ConfigMap sets cache.max_entries: 100000.
const MAX_ENTRIES = 100_000;
const CHECKS_AT_ONCE = 64;

/** The container's peak memory as its cgroup counted it (v2 memory.peak, else v1's max usage), in MiB. */
async function peakMemoryMiB(name: string): Promise<number> {
  const bytes = await docker(
    'exec',
    name,
    'sh',
    '-c',
    'cat /sys/fs/cgroup/memory.peak 2>/dev/null || cat /sys/fs/cgroup/memory/memory.max_usage_in_bytes',
  );
  return Math.round(Number(bytes) / 1024 / 1024);
}

test(
  `under the ${MEMORY_LIMIT} limit: a cache filled to ${MAX_ENTRIES} sessions and moderate gRPC abuse, no OOM kill`,
  { timeout: 900_000 },
  async (t) => {
    if (skippedFor(t)) return;
    let container: Container | undefined;
    const client = { current: undefined as EnvoyClient | undefined };
    try {
      // A kratos.timeout for a loaded test machine, not for production: every fill check must be a 200.
      container = await runAsDeployed(
        configDirectory(
          `kratos: {public_url: "${emulator.publicUrl}", admin_url: "${emulator.adminUrl}", timeout: 5s}\ncache: {max_entries: ${MAX_ENTRIES}, ttl: 10m}\n`,
        ),
      );
      const { name, grpcPort } = container;
      t.diagnostic(
        `heap_size_limit ${Math.round(Number(container.logs.find((line) => line.msg === 'serving')?.heap_size_limit_bytes) / 1024 / 1024)} MiB`,
      );
      client.current = new EnvoyClient(grpcPort);
      const identity = emulator.addIdentity();
      let next = 0;
      const fill = async (): Promise<void> => {
        while (next < MAX_ENTRIES) {
          next++;
          const answer = await client.current?.check(
            { headers: { 'x-session-token': emulator.createSession(identity).token } },
            20_000,
          );
          assert.equal(answer && httpStatusOf(answer), 200);
        }
      };
      const filling = performance.now();
      await Promise.all(Array.from({ length: CHECKS_AT_ONCE }, fill));
      t.diagnostic(
        `${MAX_ENTRIES} distinct sessions in ${Math.round((performance.now() - filling) / 1000)} s; peak ${await peakMemoryMiB(name)} MiB`,
      );

      // Moderate on purpose: the receive and header limits (the oversized messages of
      // test/chaos/grpc-abuse.test.ts) are being changed elsewhere; these do not depend on them.
      const streams = await concurrentStreams(grpcPort, 1_000);
      const [held, burst] = await Promise.all([neverReads(grpcPort, 100, 2_000), connectionBurst(grpcPort, 200)]);
      t.diagnostic(
        `abuse: ${streams}/1000 concurrent streams answered, ${held} streams held unread, ${burst}/200 new connections answered`,
      );
      assert.equal(streams, 1_000);
      assert.equal(burst, 200);

      assert.equal(await inspect(name, '{{.State.Running}} {{.State.OOMKilled}}'), 'true false');
      assert.equal(await healthStatus(grpcPort, 'envoy.service.auth.v3.Authorization'), 'SERVING');
      const peak = await peakMemoryMiB(name);
      t.diagnostic(`peak memory under the ${MEMORY_LIMIT} limit: ${peak} MiB`);
      assert.ok(peak < 256, `peak ${peak} MiB`);
    } finally {
      client.current?.close();
      await removeContainer(container);
    }
  },
);

test(`a cache too large for the ${MEMORY_LIMIT} limit: the heap is capped to fit, with a warning, instead of an OOM kill later`, async (t) => {
  if (skippedFor(t)) return;
  let container: Container | undefined;
  try {
    container = await runAsDeployed(configDirectory(`${kratosConfig()}cache: {max_entries: 1000000}\n`));
    let stderr = '';
    container.child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const heapMiB = Number(container.logs.find((line) => line.msg === 'serving')?.heap_size_limit_bytes) / 1024 / 1024;
    t.diagnostic(`heap_size_limit ${Math.round(heapMiB)} MiB for cache.max_entries 1000000`);
    // RSS beyond the heap measured 45–65 MiB (README, Memory).
    assert.ok(
      heapMiB < 256 - 45,
      `heap_size_limit ${Math.round(heapMiB)} MiB leaves the rest of the process room under 256 MiB`,
    );
    await new Promise((resolve) => setImmediate(resolve));
    assert.match(stderr, /cache\.max_entries needs a \d+ MiB heap, more than the memory limit \(256 MiB\)/);
  } finally {
    await removeContainer(container);
  }
});
