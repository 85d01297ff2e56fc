import type { Config, RuleConfig } from '../config/schema';
import type { RequestView } from '../request/view';
import { compilePolicy, POLICY_EXTENSION_KEY, type Policy, type Rule } from './policy';

export type Condition = 'hosts' | 'paths' | 'methods';

/** One reading of the path, compared as written or case-folded, with one of the method, and the rule it selects. */
export interface ReadingTrace {
  path: string;
  method: string;
  folded: boolean;
  /** The first matching rule's name, or `default`. */
  rule: string;
  /** Every rule tried before it, with the conditions that did not hold. */
  skipped: ReadonlyArray<{ rule: string; failed: readonly Condition[] }>;
}

export type SelectionTrace = { kind: 'named'; name: string } | { kind: 'matched'; readings: readonly ReadingTrace[] };

/**
 * Why selectRule chose what it chose, for operators (the explain and test commands); never on
 * the check path. Each condition of a rule is judged by a rule compiled from that condition
 * alone, so the reasons come from the very matching code selectRule runs, not from a copy.
 */
export function traceSelection(config: Config['policy'], policy: Policy, view: RequestView): SelectionTrace {
  const named = view.contextExtensions[POLICY_EXTENSION_KEY];
  if (named !== undefined) return { kind: 'named', name: named };
  const conditions = config.rules.map((rule) => conditionRules(config, rule));
  const readings: ReadingTrace[] = [];
  // The same order as selectRule: every method and path reading, as written and (unless case-sensitive) folded.
  for (const method of view.methodReadings) {
    for (const path of view.pathReadings) {
      for (const folded of policy.caseSensitivePaths ? [false] : [false, true]) {
        const skipped: Array<{ rule: string; failed: Condition[] }> = [];
        const selected = policy.rules.find((rule, index) => {
          if (rule.matches(view, path, method, folded)) return true;
          const parts = conditions[index] ?? [];
          skipped.push({
            rule: rule.name,
            failed: parts
              .filter((part) => !part.rule.matches(view, path, method, folded))
              .map((part) => part.condition),
          });
          return false;
        });
        readings.push({ path, method, folded, rule: (selected ?? policy.fallback).name, skipped });
      }
    }
  }
  return { kind: 'matched', readings };
}

function conditionRules(config: Config['policy'], rule: RuleConfig): Array<{ condition: Condition; rule: Rule }> {
  const alone = (condition: Condition, partial: RuleConfig): { condition: Condition; rule: Rule } => ({
    condition,
    rule: compilePolicy({ ...config, rules: [partial] }).rules[0] as Rule,
  });
  const parts: Array<{ condition: Condition; rule: Rule }> = [];
  if (rule.hosts) parts.push(alone('hosts', { hosts: rule.hosts }));
  if (rule.paths) parts.push(alone('paths', { paths: rule.paths }));
  if (rule.methods) parts.push(alone('methods', { methods: rule.methods, exact_methods: rule.exact_methods }));
  return parts;
}
