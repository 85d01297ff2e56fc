/** Live reload of the running executable: SIGHUP, --watch-config, rejected configs, and reloads under load. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { deniedHeader, EnvoyClient, httpStatusOf, metadataOf, upstreamHeaders, type OfficialCheckResponse } from '../support/envoy-client';
import { BIN, serveBin, type Serving } from '../support/executable';
import { KratosEmulator } from '../support/kratos-emulator';

const dir = mkdtempSync(join(tmpdir(), 'kratos-ext-authz-reload-'));
let kratosA: KratosEmulator;
let kratosB: KratosEmulator;
before(async () => {
  [kratosA, kratosB] = await Promise.all([KratosEmulator.start(), KratosEmulator.start()]);
});
after(() => Promise.all([kratosA.stop(), kratosB.stop()]));

/** A config whose every live-changeable part names `which`: the rule, the Kratos and the login host. */
function configText(which: 'a' | 'b', extra = ''): string {
  const kratos = which === 'a' ? kratosA : kratosB;
  return [
    'server: {grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0", http_authz_address: "127.0.0.1:0", shutdown_timeout: 5s}',
    `kratos: {public_url: "${kratos.publicUrl}", admin_url: "${kratos.adminUrl}", browser_url: "https://login-${which}.example", timeout: 2s}`,
    `policy: {rules: [{name: rule-${which}, paths: ["/*"], cookie: aal1, token: aal1}]}`,
    extra,
  ].join('\n');
}

async function counter(serving: Serving, result: 'applied' | 'rejected'): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${serving.httpPort}/metrics`)).text();
  const match = new RegExp(`^kratos_ext_authz_config_reloads_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text);
  return Number(match?.[1] ?? NaN);
}

async function stop(serving: Serving): Promise<void> {
  serving.child.kill('SIGTERM');
  assert.equal(await serving.exited, 0);
}

const navigate = { headers: { 'sec-fetch-mode': 'navigate' } };

describe('SIGHUP', () => {
  test('a valid config takes effect for later checks; an invalid one is rejected whole, one log line a problem', async () => {
    const path = join(dir, 'sighup.yaml');
    writeFileSync(path, configText('a'));
    const serving = await serveBin(process.execPath, [BIN, '--config', path]);
    const client = new EnvoyClient(serving.grpcPort);
    try {
      assert.equal(deniedHeader(await client.check(navigate), 'location')?.startsWith('https://login-a.example/'), true);

      writeFileSync(path, configText('b'));
      serving.child.kill('SIGHUP');
      const reloaded = await serving.waitForLog((line) => line.msg === 'configuration reloaded');
      assert.deepEqual(reloaded.changed, ['kratos', 'policy']);
      const after = await client.check(navigate);
      assert.equal(metadataOf(after).policy, 'rule-b');
      assert.equal(deniedHeader(after, 'location')?.startsWith('https://login-b.example/'), true);
      assert.equal(await counter(serving, 'applied'), 1);

      writeFileSync(path, `${configText('a')}\ncache: {ttl: soon}\nlog: {levle: debug}\n`);
      serving.child.kill('SIGHUP');
      await serving.waitForLog((line) => line.problem === 'log.levle: unknown key');
      const problems = serving.logs.filter((line) => String(line.msg).startsWith('configuration reload rejected')).map((line) => line.problem);
      assert.deepEqual(problems.sort(), ['cache.ttl: "soon" is not a duration (use e.g. 150ms, 2s, 1m)', 'log.levle: unknown key']);
      assert.equal(await counter(serving, 'rejected'), 1);
      assert.equal(metadataOf(await client.check(navigate)).policy, 'rule-b', 'nothing of the rejected config applies, not even its valid parts');
    } finally {
      client.close();
      await stop(serving);
    }
  });

  test('a new listen address is reported as needing a restart and left as it was; the rest applies', async () => {
    const path = join(dir, 'address.yaml');
    writeFileSync(path, configText('a'));
    const serving = await serveBin(process.execPath, [BIN, '--config', path]);
    const client = new EnvoyClient(serving.grpcPort);
    try {
      writeFileSync(path, configText('b').replace('grpc_address: "127.0.0.1:0"', 'grpc_address: "127.0.0.1:1"'));
      serving.child.kill('SIGHUP');
      const warning = await serving.waitForLog((line) => line.key === 'server.grpc_address');
      assert.equal(warning.msg, 'server.grpc_address needs a restart: keeping 127.0.0.1:0 until then');
      const reloaded = await serving.waitForLog((line) => line.msg === 'configuration reloaded');
      assert.deepEqual(reloaded.needs_restart, ['server.grpc_address']);
      assert.equal(metadataOf(await client.check(navigate)).policy, 'rule-b', 'served on the old port, under the new policy');
    } finally {
      client.close();
      await stop(serving);
    }
  });
});

describe('--watch-config', () => {
  test('a Kubernetes ConfigMap update (a new ..data symlink renamed over the old one) is noticed', async () => {
    // The kubelet's layout: config.yaml -> ..data/config.yaml, ..data -> ..<timestamp>/.
    const mount = join(dir, 'configmap');
    mkdirSync(join(mount, '..2026_12_01_a'), { recursive: true });
    writeFileSync(join(mount, '..2026_12_01_a', 'config.yaml'), configText('a'));
    symlinkSync('..2026_12_01_a', join(mount, '..data'));
    symlinkSync('..data/config.yaml', join(mount, 'config.yaml'));
    const serving = await serveBin(process.execPath, [BIN, '--config', join(mount, 'config.yaml'), '--watch-config']);
    const client = new EnvoyClient(serving.grpcPort);
    try {
      assert.equal(metadataOf(await client.check(navigate)).policy, 'rule-a');
      mkdirSync(join(mount, '..2026_12_01_b'));
      writeFileSync(join(mount, '..2026_12_01_b', 'config.yaml'), configText('b'));
      symlinkSync('..2026_12_01_b', join(mount, '..data_tmp'));
      renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
      rmSync(join(mount, '..2026_12_01_a'), { recursive: true });
      const reloaded = await serving.waitForLog((line) => line.msg === 'configuration reloaded');
      assert.equal(reloaded.trigger, 'watch');
      assert.equal(metadataOf(await client.check(navigate)).policy, 'rule-b');

      // A second swap: the watch followed the symlink to the new generation's directory.
      mkdirSync(join(mount, '..2026_12_01_c'));
      writeFileSync(join(mount, '..2026_12_01_c', 'config.yaml'), configText('a'));
      symlinkSync('..2026_12_01_c', join(mount, '..data_tmp'));
      renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
      await serving.waitForLog((line) => line.msg === 'configuration reloaded' && line !== reloaded);
      assert.equal(metadataOf(await client.check(navigate)).policy, 'rule-a');
      assert.equal(await counter(serving, 'applied'), 2);
    } finally {
      client.close();
      await stop(serving);
    }
  });
});

describe('reload under load', () => {
  test('checks never fail and each is decided wholly by one config while it flips 20 times (and 5 invalid ones are rejected)', async (t) => {
    const path = join(dir, 'load.yaml');
    writeFileSync(path, configText('a'));
    // Each token is a session in one Kratos only: a check mixing one config's policy with the
    // other's Kratos would show rule-a with B's answer, or rule-b with A's.
    const tokenA = kratosA.createSession(kratosA.addIdentity()).token;
    const tokenB = kratosB.createSession(kratosB.addIdentity()).token;
    const serving = await serveBin(process.execPath, [BIN, '--config', path]);
    const client = new EnvoyClient(serving.grpcPort);
    const seen = new Map<string, number>();
    const wrong: string[] = [];
    let failed = 0;
    let running = true;
    const verdict = (kind: string, response: OfficialCheckResponse) => {
      const { policy } = metadataOf(response);
      const status = httpStatusOf(response);
      const location = deniedHeader(response, 'location') ?? '';
      const aal = upstreamHeaders(response)['x-kratos-aal'];
      return `${kind} ${policy} ${status}${location ? ` ${new URL(location).host}` : ''}${aal ? ` ${aal}` : ''}`;
    };
    const consistent = new Set([
      'token-a rule-a 200 aal1', 'token-a rule-b 401',
      'token-b rule-b 200 aal1', 'token-b rule-a 401',
      'navigate rule-a 302 login-a.example', 'navigate rule-b 302 login-b.example',
    ]);
    const loop = async () => {
      const kinds = [
        ['token-a', { headers: { 'x-session-token': tokenA } }],
        ['token-b', { headers: { 'x-session-token': tokenB } }],
        ['navigate', navigate],
      ] as const;
      for (let index = 0; running; index++) {
        const [kind, spec] = kinds[index % kinds.length] as (typeof kinds)[number];
        try {
          const seenAs = verdict(kind, await client.check(spec));
          seen.set(seenAs, (seen.get(seenAs) ?? 0) + 1);
          if (!consistent.has(seenAs)) wrong.push(seenAs);
        } catch {
          failed++;
        }
      }
    };
    const loops = Array.from({ length: 16 }, loop);
    for (let flip = 1; flip <= 25; flip++) {
      await new Promise((resolve) => setTimeout(resolve, 80));
      const invalid = flip % 5 === 0;
      writeFileSync(path, invalid ? `${configText('b')}\npolicy: {cookie: aal3}\n` : configText(flip % 2 === 1 ? 'b' : 'a'));
      serving.child.kill('SIGHUP');
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    running = false;
    await Promise.all(loops);
    client.close();
    const total = [...seen.values()].reduce((sum, count) => sum + count, 0);
    t.diagnostic(`${total} checks, ${failed} failed, answers: ${JSON.stringify(Object.fromEntries(seen))}`);
    assert.equal(failed, 0);
    assert.deepEqual(wrong, []);
    assert.ok((seen.get('token-a rule-a 200 aal1') ?? 0) > 0 && (seen.get('token-b rule-b 200 aal1') ?? 0) > 0, 'both configs decided checks');
    assert.ok(total > 300, `only ${total} checks ran`);
    assert.equal(await counter(serving, 'applied'), 20);
    assert.equal(await counter(serving, 'rejected'), 5);
    await stop(serving);
  });
});
