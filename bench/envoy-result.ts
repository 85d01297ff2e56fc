/** What the envoy-* scenarios report (envoy-scenarios.ts measures, envoy-report.ts renders). */
import type { LatencySummary } from './stats';

export type VariantName =
  'envoy-direct' | 'envoy-floor' | 'envoy-hit' | 'envoy-miss' | 'envoy-miss-real' | 'envoy-peer-kratos';

export interface EnvoyRun {
  load: string;
  /** Requests/s answered 200 by the upstream (for all but envoy-direct, each one a check); median of the rounds. */
  checksPerSecond: number;
  /** Client-side request latency through Envoy, as h2load logged it (every round's requests together). */
  latency: LatencySummary;
  /** Checks the authorization server counted (0 for envoy-direct). */
  checks: number;
  /** CPU seconds (user + system, /proc/<pid>/stat) of the authorization process per 1000 checks. */
  authzCpuSecondsPer1000: number | undefined;
  /** Requests Envoy answered other than 200 (its ext_authz timeout during a stall; tolerated up to 1%). */
  notOk: number;
  /** Checks that met a Kratos timeout (the service answers those as errors; tolerated up to 1%). */
  kratosUnavailable: number;
  /** Kratos's own whoami latency, probed from the driver during the run (miss variants at fixed rates). */
  kratosWhoami: LatencySummary | undefined;
  problems: string[];
}

export interface EnvoyVariant {
  name: VariantName;
  /** What answers ext_authz in this variant. */
  authz: string;
  saturating: EnvoyRun;
  rates: Array<{ rate: number; run: EnvoyRun }>;
}

export interface MeasuredEnvoyPhase {
  envoy: string;
  kratos: string;
  /** 1-minute load average around this phase (2 cores: above ~2, something else competed). */
  loadAverage: { start: number; end: number };
  rounds: number;
  variants: EnvoyVariant[];
}

export type EnvoyReport = MeasuredEnvoyPhase | { skipped: string };
