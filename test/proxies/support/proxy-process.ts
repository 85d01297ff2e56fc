import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..', '..');

/**
 * Why a test cannot run here, as `skip` takes it, except in CI (CI=true), where .ci/run installs
 * every proxy: there a missing binary is a failure, never a quiet skip.
 */
export function skipUnlessInstalled(missing: string | undefined): string | undefined {
  return process.env.CI === 'true' ? undefined : missing;
}

/**
 * A shipped example config (path from the repository root) with its addresses replaced by this
 * run's: each `[from, to]` must be in the file, so the suite fails if the example changes shape
 * rather than silently testing something else.
 */
export function renderExample(path: string, replacements: ReadonlyArray<readonly [from: string, to: string]>): string {
  let text = readFileSync(join(ROOT, path), 'utf8');
  for (const [from, to] of replacements) {
    assert.ok(text.includes(from), `${path} has "${from}"`);
    text = text.replace(from, to);
  }
  return text;
}

/** A free loopback port (released at once; the proxy binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The path of `command` on PATH, or undefined. */
export function onPath(command: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

export interface ProxyProcess {
  /** Everything the proxy wrote to stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts a proxy in the foreground and waits until `port` accepts connections. */
export async function startProxy(
  command: string,
  args: readonly string[],
  port: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ProxyProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const deadline = Date.now() + 15_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null) throw new Error(`${command} exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${command} did not listen on ${port} within 15 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { output: () => output, stop: () => stopChild(child) };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
