/** The built executable run as a child process, the way operators and CI run it. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..', '..');
const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
export const BIN = join(ROOT, packageJson.bin['kratos-ext-authz'] as string);

export interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the executable to completion with only PATH (and `env`) in its environment. */
export function runBin(args: string[], env: NodeJS.ProcessEnv = {}, stdin?: string): Promise<Exit> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { PATH: process.env.PATH, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(stdin ?? '');
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

export type LogLine = Record<string, unknown> & { msg?: string };

export interface Serving {
  child: ChildProcessWithoutNullStreams;
  grpcPort: number;
  httpPort: number;
  exited: Promise<number | null>;
  /** Every JSON log line so far. */
  logs: LogLine[];
  /** Resolves with the first log line (already written or still to come) that `matches`. */
  waitForLog(matches: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

/** Starts `command args` and resolves once it logs "serving", with its ports. */
export function serveBin(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  detached = false,
): Promise<Serving> {
  const child = spawn(command, args, {
    cwd: ROOT,
    detached,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const logs: LogLine[] = [];
  const waiters = new Set<() => void>();
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('{')) logs.push(JSON.parse(line) as LogLine);
    for (const wake of waiters) wake();
  });
  const waitForLog = (matches: (line: LogLine) => boolean, timeoutMs = 5_000) =>
    new Promise<LogLine>((found, fail) => {
      const timer = setTimeout(() => {
        waiters.delete(look);
        fail(new Error(`no such log line within ${timeoutMs} ms; got: ${logs.map((line) => line.msg).join(' | ')}`));
      }, timeoutMs);
      function look() {
        const line = logs.find(matches);
        if (!line) return;
        clearTimeout(timer);
        waiters.delete(look);
        found(line);
      }
      waiters.add(look);
      look();
    });
  return new Promise((resolveServing, reject) => {
    child.on('exit', (code) => reject(new Error(`exited with ${code} before serving`)));
    waitForLog((line) => line.msg === 'serving', 20_000).then(
      (line) =>
        resolveServing({
          child,
          grpcPort: Number(line.grpc_port),
          httpPort: Number(line.http_port),
          exited,
          logs,
          waitForLog,
        }),
      reject,
    );
  });
}
