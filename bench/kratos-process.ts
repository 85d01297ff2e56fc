/**
 * The Kratos emulator in a child process of the driver (so also on the load core), controlled
 * over IPC. In the driver's own process it stalled: collecting the garbage of 100000 request
 * bodies paused it for longer than the service's Kratos timeout, and checks failed.
 */
import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import { KratosEmulator } from '../test/support/kratos-emulator';
import { IpcChild } from './ipc-child';

type Command = { op: 'newSessions'; count: number } | { op: 'setLatency'; ms: number } | { op: 'whoamiTotal' };
type Request = Command & { id: number };
type Reply = { id: number; sessions?: SessionCredentials[]; total?: number; stallMs?: number; error?: string };
type Ready = { ready: true; publicUrl: string; adminUrl: string };

/** One session's two ways in: the browser's `name=value` cookie and the API client's token. */
export interface SessionCredentials {
  cookie: string;
  token: string;
}

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
  private readonly loop: ELDHistogram = monitorEventLoopDelay({ resolution: 5 });

  constructor(private readonly emulator: KratosEmulator) {
    this.loop.enable();
    // The emulator records every request with its headers: keep only the whoami count.
    setInterval(() => this.drain(), 200).unref();
  }

  handle(request: Command): Omit<Reply, 'id'> {
    switch (request.op) {
      case 'newSessions': {
        const sessions = Array.from({ length: request.count }, () => this.newSession());
        // Collect now, while nothing is measured, rather than in a long pause mid-run.
        global.gc?.();
        return { sessions };
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

  /** A new aal2 session's cookie and token. */
  private newSession(): SessionCredentials {
    if (this.identity === undefined || this.created % SESSIONS_PER_IDENTITY === 0) {
      const email = `bench-${this.created}@example.com`;
      this.identity = this.emulator.addIdentity({
        traits: { email },
        credentials: {
          password: { identifiers: [email] },
          totp: { totp_url: 'otpauth://totp/bench?secret=JBSWY3DPEHPK3PXP' },
        },
      });
    }
    this.created++;
    const session = this.emulator.createSession(this.identity, { methods: AAL2_METHODS });
    return { cookie: this.emulator.cookieHeaderFor(session), token: session.token };
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
  private constructor(
    private readonly child: IpcChild<Command, Reply>,
    readonly publicUrl: string,
    readonly adminUrl: string,
  ) {}

  static async start(): Promise<KratosProcess> {
    // A large young generation lets per-request garbage die young instead of growing the old
    // generation, whose collections (with 100000 sessions live) pause for longer than a Kratos timeout.
    const { child, ready } = await IpcChild.start<Command, Reply, Ready>(__filename, 'Kratos emulator', [
      '--expose-gc',
      '--max-semi-space-size=64',
    ]);
    return new KratosProcess(child, ready.publicUrl, ready.adminUrl);
  }

  /** `count` new aal2 sessions, in batches to keep IPC messages small. */
  async newSessions(count: number): Promise<SessionCredentials[]> {
    const sessions: SessionCredentials[] = [];
    while (sessions.length < count) {
      const reply = await this.child.ask({ op: 'newSessions', count: Math.min(10_000, count - sessions.length) });
      sessions.push(...(reply.sessions ?? []));
    }
    return sessions;
  }

  /** `count` new aal2 sessions as Cookie header parts (`ory_kratos_session=…`). */
  async newCookies(count: number): Promise<string[]> {
    return (await this.newSessions(count)).map((session) => session.cookie);
  }

  async setLatency(ms: number): Promise<void> {
    await this.child.ask({ op: 'setLatency', ms });
  }

  /** whoami calls answered since the emulator started, and its longest event-loop stall since the last ask. */
  async whoamiTotal(): Promise<{ total: number; stallMs: number }> {
    const reply = await this.child.ask({ op: 'whoamiTotal' });
    return { total: reply.total ?? 0, stallMs: reply.stallMs ?? 0 };
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

if (require.main === module && process.argv.includes('--child')) {
  childMain().catch((error: unknown) => {
    process.stderr.write(`kratos-process: ${String(error)}\n`);
    process.exit(1);
  });
}
