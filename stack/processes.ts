// Child processes of the local stack. Each child leads its own process group (detached), so a
// stop reaches everything it spawned; every live group is SIGKILLed when this process exits,
// however it exits, so no child outlives the stack.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const liveGroups = new Set<number>();
process.on('exit', () => {
  for (const pid of liveGroups) signalGroup(pid, 'SIGKILL');
});

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

interface Running {
  child: ChildProcess;
  exited: Promise<Exit>;
  /** Set once the child has exited on its own or been stopped. */
  exit?: Exit;
}

export class Children {
  /** Every line each child printed (stdout and stderr), by child name. */
  readonly logs = new Map<string, string[]>();
  private readonly running = new Map<string, Running>();
  private readonly specs = new Map<string, ChildSpec>();

  constructor(private readonly onLine?: (name: string, line: string) => void) {}

  start(spec: ChildSpec): void {
    if (this.running.has(spec.name)) throw new Error(`${spec.name} is already running`);
    this.specs.set(spec.name, spec);
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const pid = child.pid;
    if (pid !== undefined) liveGroups.add(pid);
    const lines = this.logs.get(spec.name) ?? [];
    this.logs.set(spec.name, lines);
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        lines.push(line);
        this.onLine?.(spec.name, line);
      });
    }
    const running: Running = { child, exited: Promise.resolve({ code: null, signal: null }) };
    running.exited = new Promise<Exit>((resolve) => {
      child.once('error', (error) => {
        lines.push(`spawn failed: ${error.message}`);
        running.exit = { code: null, signal: null };
        resolve(running.exit);
      });
      child.once('exit', (code, signal) => {
        if (pid !== undefined) {
          // The leader is gone; anything it left in its group goes with it.
          signalGroup(pid, 'SIGKILL');
          liveGroups.delete(pid);
        }
        running.exit = { code, signal };
        resolve(running.exit);
      });
    });
    this.running.set(spec.name, running);
  }

  /** Starts a child again with the arguments it was last started with. */
  restart(name: string): void {
    const spec = this.specs.get(name);
    if (!spec) throw new Error(`${name} was never started`);
    this.start(spec);
  }

  isRunning(name: string): boolean {
    const running = this.running.get(name);
    return running !== undefined && running.exit === undefined;
  }

  /** Resolves when the child exits by itself (for one-shot commands such as a migration). */
  async exited(name: string): Promise<Exit> {
    const running = this.running.get(name);
    if (!running) throw new Error(`${name} is not running`);
    const exit = await running.exited;
    this.running.delete(name);
    return exit;
  }

  /** The child's process id (its group's id), to read its memory from /proc or signal it. */
  pid(name: string): number | undefined {
    return this.running.get(name)?.child.pid;
  }

  /**
   * `signal` (SIGTERM unless a crash is wanted: SIGKILL) to the child's group, SIGKILL after
   * `graceMs`; resolves with how it exited.
   */
  async stop(name: string, graceMs = 5_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    const running = this.running.get(name);
    if (!running) throw new Error(`${name} is not running`);
    this.running.delete(name);
    const pid = running.child.pid;
    if (pid !== undefined) signalGroup(pid, signal);
    const timer = setTimeout(() => pid !== undefined && signalGroup(pid, 'SIGKILL'), graceMs);
    try {
      return await running.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops every running child, the last started first. */
  async stopAll(graceMs = 5_000): Promise<void> {
    for (const name of [...this.running.keys()].reverse()) await this.stop(name, graceMs);
  }
}
