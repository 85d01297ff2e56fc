/** The lines a pair reports: how many variants it tried, what the proxy answered, what was found. */
import type { Outcome } from './run-pair';

function tally<T>(items: readonly T[]): Map<T, number> {
  const counts = new Map<T, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

export function summary(outcomes: readonly Outcome[], replayed: number): string[] {
  const failing = outcomes.filter((outcome) => outcome.violations.length > 0);
  // 0: the proxy closed, reset or stalled without answering.
  const answers = [...tally(outcomes.map((outcome) => outcome.status))]
    .sort(([a], [b]) => a - b)
    .map(([status, count]) => `${status}×${count}`);
  const head = `${outcomes.length} variants (${replayed} from the corpus), ${outcomes.filter((o) => o.served > 0).length} reached the app, ${failing.length} found something; answers ${answers.join(' ')}`;
  const found = [
    ...tally(failing.flatMap((outcome) => outcome.violations.map((violation) => violation.signature))),
  ].map(([signature, count]) => `  ${count}× ${signature}`);
  return [head, ...found];
}
