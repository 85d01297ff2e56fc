/** What each scenario reports. */
import type { LatencySummary } from './stats';

export type LoadClient = 'h2load' | 'raw-h2 (Node)';

export interface ScenarioResult {
  name: string;
  client: LoadClient;
  /** The load in words, e.g. "2 conn × 16 streams, saturating" or "2000 checks/s fixed". */
  load: string;
  checksPerSecond: number;
  latency: LatencySummary;
  rssBytes: number | undefined;
  /** Throughput over the floor's, measured in the same run (paired per round where there are rounds). */
  ratioToFloor: number | undefined;
  /** Counts behind the claims: whoami calls, cache hits, allows, per-round figures. */
  facts: Record<string, number | number[]>;
  notes: string[];
  /** The run did not measure what it claims (wrong decisions, errors, not hits): the harness is broken. */
  problems: string[];
}
