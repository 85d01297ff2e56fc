/** What the peer phase reports (peer-scenarios.ts measures, peer-report.ts renders). */
import type { LatencySummary } from './stats';

/**
 * Envoy alone, this service through each of its Envoy doors (one process), over gRPC with a
 * worker process a core (server.workers, on more than one core), Heimdall with its access log
 * off and on.
 */
export type PeerVariantName =
  'envoy-alone' | 'service-grpc' | 'service-http' | 'service-grpc-workers' | 'heimdall' | 'heimdall-access-log';

export interface PeerRun {
  /** Requests/s answered 200 by the upstream, median of the rounds. */
  requestsPerSecond: number;
  /** Client-side latency through Envoy (every round's requests together). */
  latency: LatencySummary;
  /** CPU µs (user + system, /proc/<pid>/stat) of the authorization process per request answered. */
  authzCpuUsPerCheck: number | undefined;
  notOk: number;
  problems: string[];
}

export interface PeerVariant {
  name: PeerVariantName;
  authz: string;
  saturating: PeerRun;
  rates: Array<{ rate: number; run: PeerRun }>;
  /** Resident set of the authorization process after its runs (before the burst). */
  rssMiB: number | undefined;
  /** whoami calls made for `burstChecks` simultaneous checks on one new cookie. */
  burstWhoami: number | undefined;
  /** Of those checks, the requests answered 200 (the rest met Envoy's 200 ms ext_authz timeout). */
  burstAnswered: number | undefined;
  problems: string[];
}

/** One core set: every variant's authorization process on these cores, Envoy with as many workers. */
export interface PeerCoreRun {
  cores: number[];
  loadAverage: { start: number; end: number };
  variants: PeerVariant[];
}

export interface MeasuredPeerPhase {
  envoy: string;
  heimdall: string;
  rounds: number;
  burstChecks: number;
  coreRuns: PeerCoreRun[];
}

export type PeerReport = MeasuredPeerPhase | { skipped: string };
