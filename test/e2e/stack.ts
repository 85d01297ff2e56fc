// What the e2e suite needs from a running stack (Envoy -> kratos-ext-authz -> Ory Kratos, in
// front of the echo upstream), whether it runs as local processes or as containers: the tests
// get a Stack and never ask which kind it is.
import type { JsonObject, PublicHost, StackPorts } from '../../stack/configs';
import type { StackKind } from './stack-kinds';

/** What the e2e story (story.ts) walks through: any stack, the compose demo's too. */
export interface StoryStack {
  /** `envoy <version> (<process|container>), kratos <version> (<how>)[; variant]`, printed when it starts. */
  description: string;
  /** Envoy's listener as seen from the test process. */
  baseUrl: string;
  /** The prefix of every login redirect (kratos.browser_url of the service config). */
  browserUrl: string;
  /** Kratos's admin API as seen from the test process. */
  kratosAdminUrl: string;
  /** kratos-ext-authz's ops port (health, metrics, JWKS) directly. */
  extAuthzOpsUrl: string;
  /** Log lines per container or process, for assertions and for diagnosing failures. */
  logs: ReadonlyMap<string, readonly string[]>;
  /** SIGTERM to kratos-ext-authz (SIGKILL after `graceMs`); resolves with its exit code. */
  stopExtAuthz(graceMs: number): Promise<number>;
  stop(): Promise<void>;
}

/** A stack the e2e suite starts itself: every scenario runs on it, whichever kind it is. */
export interface Stack extends StoryStack {
  /** Kratos's public API directly, not through Envoy. */
  kratosPublicUrl: string;
  /** Kratos down mid-run (its database kept) ... */
  stopKratos(): Promise<void>;
  /** ... and up again, resolved once it is ready. */
  startKratos(): Promise<void>;
  /**
   * A second `kratos serve` on the same database and configuration, differing by `env` (Kratos's
   * configuration variables); resolves with its public API's URL as seen from the test process.
   */
  startTwinKratos(env: Record<string, string>): Promise<string>;
}

/** A stack that can be started, described before it starts. */
export interface StackPlan {
  description: string;
  start(): Promise<Stack>;
}

/** A deliberate difference from the shipped configuration, named in the stack's description. */
export interface Variant {
  name: string;
  adjustEnvoy?: (config: JsonObject) => void;
  serviceOverrides?: JsonObject;
  kratosEnv?: Record<string, string>;
  kratosServeFlags?: string[];
  kratosOverrides?: JsonObject;
  publicHost?: PublicHost;
  /** Where the service and Envoy reach Kratos's public API when not directly: a port of the test process (a proxy). */
  kratosPublicPortForClients?: number;
  ports?: Partial<StackPorts>;
}

/** One kind of stack, and the stacks of that kind the suite can start. */
export interface StackFactory {
  kind: StackKind;
  /** The Envoy versions this kind runs, oldest first. */
  envoyVersions: readonly string[];
  /** The Kratos version, as `v<x.y.z>`. */
  kratosVersion: string;
  /**
   * The address the stack's parts reach this test process on, for servers a test runs next to
   * the stack (the delay proxy, the mail sink): 127.0.0.1 for processes, the Docker bridge's
   * gateway for containers. Such a server listens there.
   */
  hostAddress: string;
  plan(envoyVersion: string, variant?: Variant): StackPlan;
}

/** The last lines of every log, for a failed run. */
export function logTails(logs: ReadonlyMap<string, readonly string[]>, lines = 40): string {
  return [...logs]
    .map(
      ([name, all]) =>
        `--- ${name} (last ${Math.min(lines, all.length)} of ${all.length} lines)\n${all.slice(-lines).join('\n')}`,
    )
    .join('\n');
}
