// scripts/stack-install.mjs with a stand-in `go` first on PATH (it records each build and writes
// a script that reports the version it was built as) and the Envoys already cached, in a
// throwaway cache: the source-archive checks and the lock against two installs at once.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pinnedVersions } from '../../stack/versions';
import { projectRoot } from '../support/project-files';

interface ArchiveEntry {
  version: string;
  from: 'archive';
  archive: string;
  sha256: string;
}

const FAKE_GO = `#!/bin/sh
case "$1" in
  version) echo "go version go1.26.8 linux/amd64" ;;
  build)
    out=""; version=""
    while [ $# -gt 0 ]; do
      case "$1" in
        -o) out="$2" ;;
        *config.Version=*) version="\${1##*config.Version=}" ;;
      esac
      shift
    done
    echo "$version" >> "$FAKE_GO_LOG"
    sleep 1
    printf '#!/bin/sh\\necho "Version: %s"\\n' "$version" > "$out"
    chmod +x "$out" ;;
  *) exit 1 ;;
esac
`;

function archiveEntries(): ArchiveEntry[] {
  const parsed = JSON.parse(readFileSync(join(projectRoot, 'stack', 'versions.json'), 'utf8')) as {
    kratos: Array<{ from: string }>;
  };
  return parsed.kratos.filter((entry): entry is ArchiveEntry => entry.from === 'archive');
}

interface Sandbox {
  env: NodeJS.ProcessEnv;
  cache: string;
  builds(): string[];
  done(): void;
}

/** A cache with the Envoys installed (and, if asked, the archive-built Kratos), a stand-in go, no archives. */
function sandbox(cachedArchiveBuilds: boolean): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'stack-install-test-'));
  const cache = join(dir, 'cache', 'kratos-ext-authz');
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'go'), FAKE_GO);
  chmodSync(join(bin, 'go'), 0o755);
  const cacheEntry = (name: string, binary: string, stamp: object): void => {
    mkdirSync(join(cache, name), { recursive: true });
    writeFileSync(join(cache, name, binary), '');
    writeFileSync(join(cache, name, 'installed.json'), JSON.stringify({ stamp }));
  };
  for (const version of pinnedVersions().envoy) cacheEntry(`envoy-${version}`, 'envoy', { version });
  if (cachedArchiveBuilds) {
    for (const k of archiveEntries())
      cacheEntry(`kratos-${k.version}-${k.sha256.slice(0, 16)}`, 'kratos', { version: k.version, sha256: k.sha256 });
  }
  const log = join(dir, 'builds.log');
  writeFileSync(log, '');
  mkdirSync(join(dir, 'archives'));
  return {
    env: {
      ...process.env,
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      XDG_CACHE_HOME: join(dir, 'cache'),
      FAKE_GO_LOG: log,
      STACK_ARCHIVE_DIR: join(dir, 'archives'),
    },
    cache,
    builds: () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter((line) => line !== ''),
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function install(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(projectRoot, 'scripts', 'stack-install.mjs'), '--json'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('scripts/stack-install.mjs', () => {
  test('two installs at once: each Kratos is built once, both finish with the same binaries', async () => {
    const box = sandbox(true);
    try {
      const [first, second] = await Promise.all([install(box.env), install(box.env)]);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(second.code, 0, second.stderr);
      const modules = pinnedVersions().kratos.filter((v) => !archiveEntries().some((k) => k.version === v));
      assert.deepEqual(box.builds().sort(), modules.sort(), 'one go build per Kratos built from its module');
      assert.equal(first.stdout, second.stdout);
      assert.match(first.stderr + second.stderr, /another install \(pid \d+\) is building it; waiting/);
    } finally {
      box.done();
    }
  });

  test('a missing source archive: one line naming it and where it was looked for, exit 1, nothing built', async () => {
    const box = sandbox(false);
    try {
      const result = await install(box.env);
      const [archive] = archiveEntries();
      assert.ok(archive, 'stack/versions.json pins an archive-built Kratos');
      assert.equal(result.code, 1);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(
        result.stderr,
        new RegExp(
          `^stack:install: kratos ${archive.version}: source archive ${archive.archive} not found in .*archives \\(set STACK_ARCHIVE_DIR`,
        ),
      );
      assert.deepEqual(box.builds(), []);
    } finally {
      box.done();
    }
  });

  test('an altered source archive: one line with both hashes, exit 1, nothing built', async () => {
    const box = sandbox(false);
    try {
      const [archive] = archiveEntries();
      assert.ok(archive);
      writeFileSync(join(String(box.env.STACK_ARCHIVE_DIR), archive.archive), 'not the release tree');
      const result = await install(box.env);
      assert.equal(result.code, 1);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(
        result.stderr,
        new RegExp(
          `has sha256 [0-9a-f]{64}, not the pinned ${archive.sha256}: altered or the wrong file, refusing to build it\\n$`,
        ),
      );
      assert.deepEqual(box.builds(), []);
    } finally {
      box.done();
    }
  });
});
