/** Live reload of the running executable: SIGHUP, --watch-config, rejected configs, and reloads under load. */
import assert from 'node:assert/strict';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  deniedHeader,
  EnvoyClient,
  httpStatusOf,
  metadataOf,
  upstreamHeaders,
  type OfficialCheckResponse,
} from '../support/envoy-client';
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
    // The HTTP front doors off: their default 0.0.0.0:9193 collides with any other run on the machine.
    'server: {grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0", http_authz_address: "", shutdown_timeout: 5s}',
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
      assert.equal(
        deniedHeader(await client.check(navigate), 'location')?.startsWith('https://login-a.example/'),
        true,
      );

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
      const problems = serving.logs
        .filter((line) => String(line.msg).startsWith('configuration reload rejected'))
        .map((line) => line.problem);
      assert.deepEqual(problems.sort(), [
        'cache.ttl: "soon" is not a duration (use e.g. 150ms, 2s, 1m)',
        'log.levle: unknown key',
      ]);
      assert.equal(await counter(serving, 'rejected'), 1);
      assert.equal(
        metadataOf(await client.check(navigate)).policy,
        'rule-b',
        'nothing of the rejected config applies, not even its valid parts',
      );
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
      assert.equal(
        metadataOf(await client.check(navigate)).policy,
        'rule-b',
        'served on the old port, under the new policy',
      );
    } finally {
      client.close();
      await stop(serving);
    }
  });
});

/** configText with a first rule that denies /admin/*. */
function withAdminDenied(which: 'a' | 'b'): string {
  return (
    configText(which).replace(
      'policy: {rules: [',
      'policy: {rules: [{name: admin, paths: ["/admin/*"], deny: true}, ',
    ) + '\n'
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The service watching `name`, which starts as withAdminDenied('a'); `admin()` checks /admin/users
 * with a session of Kratos A.
 */
async function watchingAdminDenied(name: string) {
  const path = join(dir, name);
  writeFileSync(path, withAdminDenied('a'));
  const token = kratosA.createSession(kratosA.addIdentity()).token;
  const serving = await serveBin(process.execPath, [BIN, '--config', path, '--watch-config']);
  const client = new EnvoyClient(serving.grpcPort);
  const admin = async () =>
    httpStatusOf(await client.check({ path: '/admin/users', headers: { 'x-session-token': token } }));
  return { path, token, serving, client, admin };
}

describe('a reload never applies a file caught half-written or empty', () => {
  test('--watch-config: an in-place rewrite paused before its `deny: true` line is not applied, during the pause or after; SIGHUP then applies it', async () => {
    const complete = [
      'server: {grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0", http_authz_address: "", shutdown_timeout: 5s}',
      `kratos: {public_url: "${kratosA.publicUrl}", admin_url: "${kratosA.adminUrl}", browser_url: "https://login-b.example", timeout: 2s}`,
      'policy:',
      '  rules:',
      '    - {name: rule-b, paths: ["/public/*"], anonymous: true}',
      '    - name: admin',
      '      paths: ["/admin/*"]',
      '      deny: true',
      '',
    ].join('\n');
    const { path, token, serving, client, admin } = await watchingAdminDenied('in-place.yaml');
    try {
      assert.equal(await admin(), 403);
      // The way `cat > file`, nano or a script rewrite a file: truncate, write, pause, write the rest.
      const fd = openSync(path, 'w');
      try {
        writeSync(fd, complete.slice(0, complete.indexOf('      deny: true')));
        // Well past the watcher's quiet time: the half-written file (an admin rule that only needs
        // aal1) is what a look reads.
        await sleep(1_000);
        assert.equal(await admin(), 403, 'denied during the pause');
        await serving.waitForLog((line) => String(line.problem).includes('was written in place'));
        writeSync(fd, '      deny: true\n');
      } finally {
        closeSync(fd);
      }
      await sleep(1_000);
      assert.equal(await admin(), 403, 'denied after the write');
      assert.equal(
        metadataOf(await client.check({ headers: { 'x-session-token': token } })).policy,
        'rule-a',
        'the running configuration is the one from before',
      );
      assert.equal(serving.logs.filter((line) => String(line.msg).startsWith('configuration reloaded')).length, 0);
      assert.ok((await counter(serving, 'rejected')) >= 1);

      serving.child.kill('SIGHUP');
      await serving.waitForLog((line) => line.msg === 'configuration reloaded');
      assert.equal(await admin(), 403);
      assert.equal(
        httpStatusOf(await client.check({ path: '/public/x' })),
        200,
        'the complete file, applied by SIGHUP',
      );
    } finally {
      client.close();
      await stop(serving);
    }
  });

  test('a file truncated to 0 bytes, or an empty file renamed over it, keeps the running config (watch and SIGHUP), logged; so does one with credentials in a Kratos URL, never logged', async () => {
    const { path, token, serving, client, admin } = await watchingAdminDenied('truncated.yaml');
    const problems = () =>
      serving.logs
        .filter((line) => String(line.msg).startsWith('configuration reload rejected'))
        .map((line) => String(line.problem));
    try {
      assert.equal(await admin(), 403);
      truncateSync(path, 0);
      await sleep(1_000);
      assert.equal(await admin(), 403, 'the deny rule still runs');
      await serving.waitForLog((line) => String(line.problem).includes('was written in place'));

      serving.child.kill('SIGHUP');
      await serving.waitForLog((line) => String(line.problem).includes('is empty'));
      assert.equal(await admin(), 403);

      // Comments only, renamed into place: a replacement, complete as written, but with no settings.
      writeFileSync(join(dir, 'truncated.tmp'), '# nothing here yet\n\n');
      renameSync(join(dir, 'truncated.tmp'), path);
      await serving.waitForLog((line) => String(line.problem).includes('is empty') && line.trigger === 'watch');
      assert.equal(await admin(), 403);

      // Credentials in a Kratos URL: refused by the same validation, and no log line repeats them.
      writeFileSync(
        join(dir, 'truncated.tmp'),
        withAdminDenied('b').replace(/http:\/\/127\.0\.0\.1:/, 'http://ops:hunter2@127.0.0.1:'),
      );
      renameSync(join(dir, 'truncated.tmp'), path);
      await serving.waitForLog((line) =>
        String(line.problem).startsWith('kratos.public_url: must not contain credentials'),
      );
      assert.doesNotMatch(JSON.stringify(serving.logs), /hunter2/);
      assert.equal(metadataOf(await client.check({ headers: { 'x-session-token': token } })).policy, 'rule-a');
      assert.deepEqual(problems(), [
        `${path} was written in place, so it may have been read half-written: not applied. Replace it whole (write another file, then rename it over this one, as Kubernetes does), or send SIGHUP once it is complete`,
        `${path}: is empty (no settings, only whitespace or comments): a reload never replaces the running configuration with the defaults; write {} for every default`,
        `${path}: is empty (no settings, only whitespace or comments): a reload never replaces the running configuration with the defaults; write {} for every default`,
        'kratos.public_url: must not contain credentials (user:password@): browsers would get them in login redirects and logs would show them; Kratos calls never send them (the admin API takes kratos.admin_token)',
      ]);
      assert.equal(await counter(serving, 'applied'), 0);
      assert.equal(await counter(serving, 'rejected'), 4);
    } finally {
      client.close();
      await stop(serving);
    }
  });
});

describe('--watch-config', () => {
  test('a Kubernetes ConfigMap update (a new ..data symlink renamed over the old one) is noticed', async (t) => {
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
      const swapped = Date.now();
      renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
      rmSync(join(mount, '..2026_12_01_a'), { recursive: true });
      // How long a check keeps seeing the old config after the swap: the watcher's quiet time plus a load.
      while (metadataOf(await client.check(navigate)).policy !== 'rule-b') await sleep(5);
      const latency = Date.now() - swapped;
      t.diagnostic(`symlink swap to the first check under the new config: ${latency} ms`);
      assert.ok(latency < 1_000, `${latency} ms`);
      const reloaded = await serving.waitForLog((line) => line.msg === 'configuration reloaded');
      assert.equal(reloaded.trigger, 'watch');

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
      'token-a rule-a 200 aal1',
      'token-a rule-b 401',
      'token-b rule-b 200 aal1',
      'token-b rule-a 401',
      'navigate rule-a 302 login-a.example',
      'navigate rule-b 302 login-b.example',
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
      writeFileSync(
        path,
        invalid ? `${configText('b')}\npolicy: {cookie: aal3}\n` : configText(flip % 2 === 1 ? 'b' : 'a'),
      );
      const from = serving.logs.length;
      serving.child.kill('SIGHUP');
      // Each reload done before the next write: on a loaded machine a late one would read the
      // next flip's file (or its truncated first moment) and count as the wrong result.
      await serving.waitForLog(
        (line) => serving.logs.indexOf(line) >= from && String(line.msg).startsWith('configuration reload'),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    running = false;
    await Promise.all(loops);
    client.close();
    const total = [...seen.values()].reduce((sum, count) => sum + count, 0);
    t.diagnostic(`${total} checks, ${failed} failed, answers: ${JSON.stringify(Object.fromEntries(seen))}`);
    // Stopped whatever the asserts say: a child left running keeps the whole test run waiting.
    try {
      assert.equal(failed, 0);
      assert.deepEqual(wrong, []);
      assert.ok(
        (seen.get('token-a rule-a 200 aal1') ?? 0) > 0 && (seen.get('token-b rule-b 200 aal1') ?? 0) > 0,
        'both configs decided checks',
      );
      assert.ok(total > 300, `only ${total} checks ran`);
      assert.equal(await counter(serving, 'applied'), 20);
      assert.equal(await counter(serving, 'rejected'), 5);
    } finally {
      await stop(serving);
    }
  });
});
