import type { Config, Requirement, RuleConfig } from '../config/schema';
import type { RequestView } from '../request/view';
import { hostMatches } from './hosts';

export type { Requirement };

/** What a rule asks of a request. */
export type RuleOutcome =
  | { kind: 'require'; cookie: Requirement; token: Requirement }
  | { kind: 'anonymous' }
  | { kind: 'deny' };

export interface Rule {
  /** The configured name, `rules[i]` for unnamed rules, `default` for the fallback. */
  name: string;
  outcome: RuleOutcome;
  matches(view: RequestView, path: string): boolean;
}

export interface Policy {
  /** policy.cookie / policy.token: what the fallback rule requires. */
  defaults: { cookie: Requirement; token: Requirement };
  rules: readonly Rule[];
  byName: ReadonlyMap<string, Rule>;
  fallback: Rule;
  corsPreflight: boolean;
}

export type Selection = { kind: 'rule'; rule: Rule } | { kind: 'unknown_policy'; name: string } | { kind: 'ambiguous_path' };

/** The policy made of policy.cookie / policy.token alone; a route may name it too. */
export const FALLBACK_RULE_NAME = 'default';

/** Envoy's per-route context_extensions key that names a rule. */
export const POLICY_EXTENSION_KEY = 'policy';

export function compilePolicy(config: Config['policy']): Policy {
  const defaults = { cookie: config.cookie, token: config.token };
  const rules = config.rules.map((rule, index) => compileRule(rule, index, defaults));
  const fallback: Rule = { name: FALLBACK_RULE_NAME, outcome: { kind: 'require', ...defaults }, matches: () => true };
  const named = rules.filter((_, index) => config.rules[index]?.name !== undefined);
  const byName = new Map([fallback, ...named].map((rule) => [rule.name, rule]));
  return { defaults, rules, byName, fallback, corsPreflight: config.cors_preflight };
}

function compileRule(rule: RuleConfig, index: number, defaults: { cookie: Requirement; token: Requirement }): Rule {
  const outcome: RuleOutcome = rule.deny
    ? { kind: 'deny' }
    : rule.anonymous
      ? { kind: 'anonymous' }
      : { kind: 'require', cookie: rule.cookie ?? defaults.cookie, token: rule.token ?? defaults.token };
  const { hosts, paths, methods } = rule;
  return {
    name: rule.name ?? `rules[${index}]`,
    outcome,
    matches: (view, path) =>
      (!hosts || hosts.some((pattern) => hostMatches(pattern, view.host, view.authority))) &&
      (!paths || paths.some((pattern) => pathMatches(pattern, path))) &&
      (!methods || methods.includes(view.method)),
  };
}

function pathMatches(pattern: string, path: string): boolean {
  return pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : path === pattern;
}

/**
 * A route's named policy wins over matching; otherwise the first matching rule, else the
 * defaults. When the path's normalised and literal readings select different rules, neither is
 * trusted: the upstream might route on either.
 */
export function selectRule(policy: Policy, view: RequestView): Selection {
  const named = view.contextExtensions[POLICY_EXTENSION_KEY];
  if (named !== undefined) {
    const rule = policy.byName.get(named);
    return rule ? { kind: 'rule', rule } : { kind: 'unknown_policy', name: named };
  }
  const rule = firstMatch(policy, view, view.normalisedPath);
  if (view.literalPath !== view.normalisedPath && firstMatch(policy, view, view.literalPath) !== rule) return { kind: 'ambiguous_path' };
  return { kind: 'rule', rule };
}

function firstMatch(policy: Policy, view: RequestView, path: string): Rule {
  return policy.rules.find((rule) => rule.matches(view, path)) ?? policy.fallback;
}
