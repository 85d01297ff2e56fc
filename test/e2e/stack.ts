// What the e2e story needs from a running stack (Envoy -> kratos-ext-authz -> Ory Kratos, in
// front of the echo upstream), whether it runs as containers or as local processes.

export interface Stack {
  /** `envoy <version> (<process|container>), kratos <version> (<how>)`, printed when it starts. */
  description: string;
  /** Envoy's listener as seen from the test process. */
  baseUrl: string;
  /** The prefix of every login redirect (kratos.browser_url of the service config). */
  browserUrl: string;
  /** Kratos's admin API as seen from the test process. */
  kratosAdminUrl: string;
  /** Kratos's public API directly, not through Envoy (local processes only). */
  kratosPublicUrl?: string;
  /** kratos-ext-authz's ops port (health, metrics, JWKS) directly (local processes only). */
  extAuthzOpsUrl?: string;
  /** Log lines per container or process, for assertions and for diagnosing failures. */
  logs: ReadonlyMap<string, readonly string[]>;
  /** SIGTERM to kratos-ext-authz (SIGKILL after `graceMs`); resolves with its exit code. */
  stopExtAuthz(graceMs: number): Promise<number>;
  /** Only where the stack can do it (local processes): Kratos down and up again mid-run. */
  stopKratos?(): Promise<void>;
  startKratos?(): Promise<void>;
  stop(): Promise<void>;
}

/** A stack that can be started, described before it starts. */
export interface StackPlan {
  description: string;
  start(): Promise<Stack>;
}

/** The last lines of every log, for a failed run. */
export function logTails(logs: ReadonlyMap<string, readonly string[]>, lines = 40): string {
  return [...logs]
    .map(([name, all]) => `--- ${name} (last ${Math.min(lines, all.length)} of ${all.length} lines)\n${all.slice(-lines).join('\n')}`)
    .join('\n');
}
