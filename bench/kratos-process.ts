/**
 * The Kratos emulator in a child process of the driver (so also on the load core), controlled
 * over IPC. In the driver's own process it stalled: collecting the garbage of 100000 request
 * bodies paused it for longer than the service's Kratos timeout, and checks failed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { KratosEmulator } from '../test/support/kratos-emulator';

type Command = { op: 'newCookies'; count: number } | { op: 'setLatency'; ms: number } | { op: 'whoamiTotal' };
type Request = Command & { id: number };
type Reply = { id: number; cookies?: string[]; total?: number; stallMs?: number; error?: string };
type Ready = { ready: true; publicUrl: string; adminUrl: string };

// Sessions share identities, a hundred each, to keep the emulator's heap small.
const SESSIONS_PER_IDENTITY = 100;
// Password + TOTP: the identity's highest available AAL is aal2, and the session completed
// both factors, so the default cookie policy (highest_available) allows it without an admin
// identity lookup: one whoami (or one cache lookup) per check.
const AAL2_METHODS = [
  { method: 'password', aal: 'aal1' as const },
  { method: 'totp', aal: 'aal2' as const },
];

/** Child side: the emulator plus the little state the driver asks about. */
class EmulatorHost {
  private created = 0;
  private identity: string | undefined;
  private whoami = 0;
  private readonly loop: IntervalHistogram = monitorEventLoopDelay({ resolution: 5 });

  constructor(private readonly emulator: KratosEmulator) {
    this.loop.enable();
    // The emulator records every request with its headers: keep only the whoami count.
    setInterval(() => this.drain(), 200).unref();
  }

  handle(request: Command): Omit<Reply, 'id'> {
    switch (request.op) {
      case 'newCookies': {
        const cookies = Array.from({ length: request.count }, () => this.newCookie());
        // Collect now, while nothing is measured, rather than in a long pause mid-run.
        global.gc?.();
        return { cookies };
      }
      case 'setLatency':
        this.emulator.setLatency('whoami', request.ms);
        return {};
      case 'whoamiTotal': {
        this.drain();
        // The longest the emulator could not answer since the last ask: blames slow checks on it, or not.
        const stallMs = this.loop.max / 1e6;
        this.loop.reset();
        return { total: this.whoami, stallMs };
      }
    }
  }

  private drain(): void {
    this.whoami += this.emulator.count('whoami');
    this.emulator.clearRequests();
  }

  /** A new aal2 browser session's `name=value` cookie. */
  private newCookie(): string {
    if (this.identity === undefined || this.created % SESSIONS_PER_IDENTITY === 0) {
      const email = `bench-${this.created}@example.com`;
      this.identity = this.emulator.addIdentity({
        traits: { email },
        credentials: { password: { identifiers: [email] }, totp: { totp_url: 'otpauth://totp/bench?secret=JBSWY3DPEHPK3PXP' } },
      });
    }
    this.created++;
    return this.emulator.cookieHeaderFor(this.emulator.createSession(this.identity, { methods: AAL2_METHODS }));
  }
}

async function childMain(): Promise<void> {
  const emulator = await KratosEmulator.start();
  const host = new EmulatorHost(emulator);
  process.on('message', (request: Request) => {
    let reply: Reply;
    try {
      reply = { id: request.id, ...host.handle(request) };
    } catch (error) {
      reply = { id: request.id, error: error instanceof Error ? error.message : String(error) };
    }
    process.send?.(reply);
  });
  process.on('disconnect', () => void emulator.stop().then(() => process.exit(0)));
  const ready: Ready = { ready: true, publicUrl: emulator.publicUrl, adminUrl: emulator.adminUrl };
  process.send?.(ready);
}

/** Driver side. */
export class KratosProcess {
  private nextId = 1;
  private readonly pending = new Map<number, (reply: Reply) => void>();

  private constructor(
    private readonly child: ChildProcess,
    readonly publicUrl: string,
    readonly adminUrl: string,
  ) {
    child.on('message', (reply: Reply) => {
      this.pending.get(reply.id)?.(reply);
      this.pending.delete(reply.id);
    });
  }

  static start(): Promise<KratosProcess> {
    // A large young generation lets per-request garbage die young instead of growing the old
    // generation, whose collections (with 100000 sessions live) pause for longer than a Kratos timeout.
    const child = fork(__filename, ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--expose-gc', '--max-semi-space-size=64'] });
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`Kratos emulator process exited with ${code}`)));
      child.once('message', (message: Ready) => resolve(new KratosProcess(child, message.publicUrl, message.adminUrl)));
    });
  }

  private ask(command: Command): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (reply) => (reply.error ? reject(new Error(`Kratos emulator: ${reply.error}`)) : resolve(reply)));
      const request: Request = { ...command, id };
      this.child.send(request);
    });
  }

  /** `count` new aal2 sessions, as Cookie header parts (`ory_kratos_session=…`), in batches to keep IPC messages small. */
  async newCookies(count: number): Promise<string[]> {
    const cookies: string[] = [];
    while (cookies.length < count) {
      const reply = await this.ask({ op: 'newCookies', count: Math.min(10_000, count - cookies.length) });
      cookies.push(...(reply.cookies ?? []));
    }
    return cookies;
  }

  async setLatency(ms: number): Promise<void> {
    await this.ask({ op: 'setLatency', ms });
  }

  /** whoami calls answered since the emulator started, and its longest event-loop stall since the last ask. */
  async whoamiTotal(): Promise<{ total: number; stallMs: number }> {
    const reply = await this.ask({ op: 'whoamiTotal' });
    return { total: reply.total ?? 0, stallMs: reply.stallMs ?? 0 };
  }

  stop(): Promise<void> {
    if (this.child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.removeAllListeners('exit');
      this.child.once('exit', () => resolve());
      this.child.disconnect();
    });
  }
}

if (require.main === module && process.argv.includes('--child')) {
  childMain().catch((error: unknown) => {
    process.stderr.write(`kratos-process: ${String(error)}\n`);
    process.exit(1);
  });
}
