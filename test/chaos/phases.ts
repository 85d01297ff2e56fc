// A fault schedule run beside the load: each phase switches the proxy's fault, and right after
// every fault is switched off one recovery check is sent with a valid token nobody has checked
// before (no cache can answer it: only a Kratos that is reachable again can).
import { API, send } from '../e2e/http';
import { describeFault, NO_FAULT, type DelayProxy, type Fault } from '../e2e/delay-proxy';
import type { Credential } from './load';

export interface Phase {
  fault: Fault;
  ms: number;
}

export interface FaultWindow {
  fault: string;
  from: number;
  to: number;
}

export interface Recovery {
  after: string;
  status: number;
  ms: number;
}

export interface ScheduleResult {
  windows: FaultWindow[];
  recoveries: Recovery[];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runSchedule(
  proxy: DelayProxy,
  baseUrl: string,
  phases: readonly Phase[],
  fresh: Credential[],
): Promise<ScheduleResult> {
  const windows: FaultWindow[] = [];
  const recoveries: Recovery[] = [];
  let previous: Fault = NO_FAULT;
  for (const phase of phases) {
    const switchedAt = Date.now();
    proxy.fault = phase.fault;
    if (phase.fault.kind === 'none' && previous.kind !== 'none') {
      const probe = fresh.shift();
      if (!probe) throw new Error('more recoveries than fresh tokens');
      const sent = await send(`${baseUrl}/app/chaos/recovery`, { headers: { ...API, ...probe.headers } });
      recoveries.push({ after: describeFault(previous), status: sent.status, ms: Date.now() - switchedAt });
    }
    await sleep(phase.ms - (Date.now() - switchedAt));
    if (phase.fault.kind !== 'none')
      windows.push({ fault: describeFault(phase.fault), from: switchedAt, to: Date.now() });
    previous = phase.fault;
  }
  proxy.fault = NO_FAULT;
  return { windows, recoveries };
}

/** Whether `at` falls inside a fault window, or less than `graceMs` after one ended. */
export function duringFault(windows: readonly FaultWindow[], at: number, graceMs: number): boolean {
  return windows.some((w) => at >= w.from && at < w.to + graceMs);
}

/** The fault a request was sent under ("clean" outside every window), for counting by phase. */
export function phaseOf(windows: readonly FaultWindow[], at: number): string {
  return windows.find((w) => at >= w.from && at < w.to)?.fault ?? 'clean';
}
