/** How big each scenario is, for a real run and for the smoke run that only keeps the harness honest. */
import { BOTH_CORES, SERVER_CORE } from './processes';

export interface BenchSettings {
  smoke: boolean;
  /** floor / hit / miss are measured in alternating rounds so drift on a shared machine hits all three alike. */
  rounds: number;
  roundSeconds: number;
  /** Untimed requests before each measured run: JIT, connection set-up, cache fill. */
  warmupRequests: number;
  /** Load shape of the saturating runs: like a few Envoy workers, each one HTTP/2 connection. */
  connections: number;
  streamsPerConnection: number;
  /** Kratos emulator whoami delay for cache misses. */
  missKratosMs: number;
  latencyRate: number;
  latencySeconds: number;
  missLatencyRate: number;
  missLatencySeconds: number;
  mixedChecks: number;
  mixedSessions: number;
  burstChecks: number;
  /** Long enough that every check of the burst arrives while the one whoami is in flight. */
  burstKratosMs: number;
  memorySessions: number;
  /** Through the real Envoy (envoy-scenarios.ts): h2load processes of one stream each when saturating. */
  envoySaturatingProcesses: number;
  /** The variants take turns, round after round, so drift on a shared machine hits all alike. */
  envoyRounds: number;
  envoySaturatingSeconds: number;
  /** The fixed total rates (requests/s) whose latency is compared with envoy-direct's. */
  envoyRates: number[];
  envoyRateSeconds: number;
  envoyWarmupPerProcess: number;
  /** The peer phase (peer-scenarios.ts): alternating rounds of saturating and fixed-rate runs. */
  peerRounds: number;
  peerSaturatingSeconds: number;
  peerRates: number[];
  peerRateSeconds: number;
  peerWarmupRequests: number;
  /** Simultaneous checks on one new cookie while Kratos takes burstKratosMs. */
  peerBurstChecks: number;
  /** The core sets each authorization process is given in turn (GOMAXPROCS / Envoy workers = their size). */
  peerCoreSets: number[][];
}

export const FULL: BenchSettings = {
  smoke: false,
  rounds: 5,
  roundSeconds: 5,
  warmupRequests: 3_000,
  connections: 2,
  streamsPerConnection: 16,
  missKratosMs: 1,
  latencyRate: 2_000,
  latencySeconds: 20,
  missLatencyRate: 500,
  missLatencySeconds: 10,
  mixedChecks: 100_000,
  mixedSessions: 10_000,
  burstChecks: 500,
  burstKratosMs: 20,
  memorySessions: 100_000,
  envoySaturatingProcesses: 32,
  envoyRounds: 3,
  envoySaturatingSeconds: 4,
  envoyRates: [500, 2_000],
  envoyRateSeconds: 5,
  envoyWarmupPerProcess: 100,
  peerRounds: 3,
  peerSaturatingSeconds: 5,
  peerRates: [500, 2_000],
  peerRateSeconds: 10,
  peerWarmupRequests: 2_000,
  peerBurstChecks: 500,
  peerCoreSets: [[SERVER_CORE], [...BOTH_CORES]],
};

export const SMOKE: BenchSettings = {
  ...FULL,
  smoke: true,
  rounds: 1,
  roundSeconds: 1,
  warmupRequests: 200,
  latencyRate: 200,
  latencySeconds: 1,
  missLatencyRate: 100,
  missLatencySeconds: 1,
  mixedChecks: 2_000,
  mixedSessions: 200,
  burstChecks: 50,
  memorySessions: 1_000,
  envoySaturatingProcesses: 4,
  envoyRounds: 1,
  envoySaturatingSeconds: 1,
  envoyRates: [100, 200],
  envoyRateSeconds: 1,
  envoyWarmupPerProcess: 10,
  peerRounds: 1,
  peerSaturatingSeconds: 1,
  peerRates: [100, 200],
  peerRateSeconds: 1,
  peerWarmupRequests: 100,
  peerBurstChecks: 50,
};
