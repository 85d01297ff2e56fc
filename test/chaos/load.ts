// An open-loop load generator against Envoy's listener: a fixed rate, whatever the answers take,
// so a slow or failing authorizer shows up as answers of a different kind rather than as a
// quieter client. Bounded in time and in requests in flight; every answer is recorded with the
// credential kind it carried and when it was sent.
import { Pool } from 'undici';

/** What a request carries: the kind decides which answers are acceptable. */
export interface Credential {
  kind: string;
  headers: Record<string, string>;
}

export interface Answer {
  kind: string;
  /** HTTP status, or 0 when the client saw no answer (reset, timeout). */
  status: number;
  sentAt: number;
  doneAt: number;
}

export interface LoadOptions {
  baseUrl: string;
  ratePerSecond: number;
  durationMs: number;
  /** Chooses the credential of the n-th request. */
  credential: (n: number) => Credential;
  /** Requests beyond this many in flight are not sent but counted as shed. */
  maxInFlight?: number;
}

export interface LoadResult {
  answers: Answer[];
  /** Requests the generator could not send because too many were in flight. */
  shed: number;
}

const TICK_MS = 10;
// Far beyond Envoy's ext_authz timeout (0.5s): an answer this late is a finding, not a wait.
const CLIENT_TIMEOUT_MS = 5_000;

export class Load {
  readonly answers: Answer[] = [];
  private shed = 0;
  private inFlight = 0;
  private sent = 0;
  private readonly pool: Pool;
  private readonly settled: Promise<void>[] = [];
  private stopped = false;

  constructor(private readonly options: LoadOptions) {
    this.pool = new Pool(options.baseUrl, {
      connections: 64,
      headersTimeout: CLIENT_TIMEOUT_MS,
      bodyTimeout: CLIENT_TIMEOUT_MS,
    });
  }

  /** Ends the run early (when what it was loading is over); answers in flight are still awaited. */
  stop(): void {
    this.stopped = true;
  }

  /** Sends at the configured rate for the configured duration (or until stop), then waits for every answer. */
  async run(): Promise<LoadResult> {
    const started = Date.now();
    const maxInFlight = this.options.maxInFlight ?? 2_000;
    while (!this.stopped && Date.now() - started < this.options.durationMs) {
      // Catch up to where the schedule says we should be, so timer lag does not lower the rate.
      const due = Math.floor(((Date.now() - started) / 1_000) * this.options.ratePerSecond);
      while (this.sent < due) {
        if (this.inFlight >= maxInFlight) this.shed++;
        else this.settled.push(this.one(this.sent));
        this.sent++;
      }
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }
    await Promise.all(this.settled);
    await this.pool.close();
    return { answers: this.answers, shed: this.shed };
  }

  private async one(n: number): Promise<void> {
    const credential = this.options.credential(n);
    const sentAt = Date.now();
    this.inFlight++;
    let status = 0;
    try {
      const response = await this.pool.request({
        method: 'GET',
        path: `/app/chaos/${n}`,
        headers: { accept: 'application/json', ...credential.headers },
      });
      status = response.statusCode;
      await response.body.dump();
    } catch {
      status = 0;
    } finally {
      this.inFlight--;
    }
    this.answers.push({ kind: credential.kind, status, sentAt, doneAt: Date.now() });
  }
}

/** "valid 200: 1234, revoked 401: 56, ...": every (credential kind, status) pair and its count. */
/** The n-th request's credential: the list in turn (read at each call, so the list may rotate). */
export function roundRobin(credentials: readonly Credential[]): (n: number) => Credential {
  if (credentials.length === 0) throw new Error('no credentials to send');
  return (n) => credentials[n % credentials.length] as Credential;
}

export function countByKind(answers: readonly Answer[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const answer of answers) {
    const key = `${answer.kind} ${answer.status === 0 ? 'no-answer' : answer.status}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return new Map([...counts].sort(([a], [b]) => a.localeCompare(b)));
}

export function formatCounts(counts: ReadonlyMap<string, number>): string {
  return [...counts].map(([key, count]) => `${key}: ${count}`).join(', ');
}
