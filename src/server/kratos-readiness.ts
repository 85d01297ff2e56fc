// How often Kratos's /health/ready is probed, and how old the last success may be.
const PROBE_INTERVAL_MS = 2_000;
const PROBE_TIMEOUT_MS = 1_000;
const READY_FRESHNESS_MS = 5_000;

/** Remembers when Kratos last said it was ready, probing in the background. */
export class KratosReadiness {
  private lastReadyAt = -Infinity;
  private lastProblem = 'Kratos has not been probed yet';
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly publicUrl: string) {}

  start(): void {
    void this.probe();
    this.timer = setInterval(() => void this.probe(), PROBE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** undefined when Kratos answered ready recently; otherwise why not. */
  problem(now = Date.now()): string | undefined {
    return now - this.lastReadyAt <= READY_FRESHNESS_MS ? undefined : this.lastProblem;
  }

  async probe(): Promise<void> {
    try {
      const response = await fetch(`${this.publicUrl}/health/ready`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      await response.body?.cancel();
      if (response.ok) this.lastReadyAt = Date.now();
      else this.lastProblem = `Kratos /health/ready answered ${response.status}`;
    } catch (error) {
      this.lastProblem = `Kratos /health/ready failed: ${error instanceof Error ? error.name : 'error'}`;
    }
  }
}
