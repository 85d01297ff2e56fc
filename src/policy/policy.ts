import {
  aalOf,
  type Config,
  type CredentialRequirementConfig,
  type Requirement,
  type RuleConfig,
} from '../config/schema';
import type { RequestView } from '../request/view';
import { hostMatches } from './hosts';

export type { Requirement };

type Kind = 'cookie' | 'token';

/**
 * What a request must meet, per credential kind: an AAL, and in `maxAge` (milliseconds, only
 * present when some kind has one) the longest time since the session last authenticated.
 */
export interface Demands {
  cookie: Requirement;
  token: Requirement;
  maxAge?: Partial<Record<Kind, number>>;
}

/** One credential kind's share of Demands. */
export interface CredentialDemand {
  aal: Requirement;
  maxAge: number | undefined;
}

/** What a rule asks of a request. */
export type RuleOutcome = ({ kind: 'require' } & Demands) | { kind: 'anonymous' } | { kind: 'deny' };

export interface Rule {
  /** The configured name, `rules[i]` for unnamed rules, `default` for the fallback. */
  name: string;
  outcome: RuleOutcome;
  /** Whether its allows take the Kratos credential out of the upstream request. */
  stripCredentials: boolean;
  /** `path` and `method` are one reading each of the request's; `folded` compares the path case-insensitively. */
  matches(view: RequestView, path: string, method: string, folded: boolean): boolean;
}

export interface Policy {
  /** policy.cookie / policy.token: what the fallback rule requires. */
  defaults: Demands;
  rules: readonly Rule[];
  byName: ReadonlyMap<string, Rule>;
  fallback: Rule;
  corsPreflight: boolean;
  /** policy.case_sensitive_paths: the upstreams are known to route paths case-sensitively. */
  caseSensitivePaths: boolean;
}

export type Selection =
  | { kind: 'rule'; rule: Rule }
  | { kind: 'unknown_policy'; name: string }
  | { kind: 'ambiguous_path' }
  | { kind: 'ambiguous_method' };

/** The policy made of policy.cookie / policy.token alone; a route may name it too. */
const FALLBACK_RULE_NAME = 'default';

/** Envoy's per-route context_extensions key that names a rule. */
export const POLICY_EXTENSION_KEY = 'policy';

export function compilePolicy(config: Config['policy']): Policy {
  const defaults = demandsOf({ cookie: config.cookie, token: config.token });
  const rules = config.rules.map((rule, index) => compileRule(rule, index, defaults, config.strip_credentials));
  const fallback: Rule = {
    name: FALLBACK_RULE_NAME,
    outcome: { kind: 'require', ...defaults },
    stripCredentials: config.strip_credentials,
    matches: () => true,
  };
  const named = rules.filter((_, index) => config.rules[index]?.name !== undefined);
  const byName = new Map([fallback, ...named].map((rule) => [rule.name, rule]));
  return {
    defaults,
    rules,
    byName,
    fallback,
    corsPreflight: config.cors_preflight,
    caseSensitivePaths: config.case_sensitive_paths,
  };
}

/** The demand one credential kind makes, for the decision. */
export function demandFor(demands: Demands, kind: Kind): CredentialDemand {
  return { aal: demands[kind], maxAge: demands.maxAge?.[kind] };
}

/**
 * Demands from requirements as written. A rule's `cookie` or `token` replaces the default's for
 * that kind whole, max_age included: the rule states everything that kind must meet there.
 */
function demandsOf(written: Record<Kind, CredentialRequirementConfig>): Demands {
  const maxAge: Partial<Record<Kind, number>> = {};
  for (const kind of KINDS) {
    const requirement = written[kind];
    if (typeof requirement !== 'string' && requirement.max_age !== undefined) maxAge[kind] = requirement.max_age;
  }
  const demands: Demands = { cookie: aalOf(written.cookie), token: aalOf(written.token) };
  // Absent rather than empty, so a policy without max_age reads (and compares) as it always did.
  if (Object.keys(maxAge).length > 0) demands.maxAge = maxAge;
  return demands;
}

const KINDS: readonly Kind[] = ['cookie', 'token'];

/** A default's requirement in its written form again, so a rule can inherit it whole. */
function writtenFor(demands: Demands, kind: Kind): CredentialRequirementConfig {
  const { aal, maxAge } = demandFor(demands, kind);
  return maxAge === undefined ? aal : { aal, max_age: maxAge };
}

function compileRule(rule: RuleConfig, index: number, defaults: Demands, stripCredentials: boolean): Rule {
  const outcome: RuleOutcome = rule.deny
    ? { kind: 'deny' }
    : rule.anonymous
      ? { kind: 'anonymous' }
      : {
          kind: 'require',
          ...demandsOf({
            cookie: rule.cookie ?? writtenFor(defaults, 'cookie'),
            token: rule.token ?? writtenFor(defaults, 'token'),
          }),
        };
  const { hosts, paths } = rule;
  const foldedPaths = paths?.map((pattern) => pattern.toLowerCase());
  const methods =
    rule.methods && !rule.exact_methods && rule.methods.includes('GET') && !rule.methods.includes('HEAD')
      ? [...rule.methods, 'HEAD']
      : rule.methods;
  return {
    name: rule.name ?? `rules[${index}]`,
    outcome,
    stripCredentials: rule.strip_credentials ?? stripCredentials,
    matches: (view, path, method, folded) => {
      const patterns = folded ? foldedPaths : paths;
      const subject = folded ? path.toLowerCase() : path;
      return (
        (!hosts || hosts.some((pattern) => hostMatches(pattern, view.host, view.authority))) &&
        (!patterns || patterns.some((pattern) => pathMatches(pattern, subject))) &&
        (!methods || methods.includes(method))
      );
    },
  };
}

/**
 * `/x/*` covers `/x` itself and everything below it; `/x*` is a plain string prefix; an exact
 * `/x` also covers `/x/`. Routers with non-strict routing (Express's default, most
 * frameworks) serve a path with and without its trailing slash from one handler, and Envoy's
 * `path_separated_prefix` includes the prefix's root.
 */
function pathMatches(pattern: string, path: string): boolean {
  if (pattern.endsWith('/*')) return path.startsWith(pattern.slice(0, -1)) || path === pattern.slice(0, -2);
  if (pattern.endsWith('*')) return path.startsWith(pattern.slice(0, -1));
  return withoutTrailingSlash(path) === withoutTrailingSlash(pattern);
}

function withoutTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/**
 * A route's named policy wins over matching; otherwise the first matching rule, else the
 * defaults. Every reading of the path (path.ts), and unless policy.case_sensitive_paths each
 * one compared case-insensitively too (Express, ASP.NET and IIS route `/ADMIN` to `/admin`),
 * with every reading of the method (method.ts), must select the same rule: when they do not,
 * neither is trusted, as the upstream might route or act on any of them. The method as sent
 * comes first, so a disagreement found later is the override's.
 */
export function selectRule(policy: Policy, view: RequestView): Selection {
  const named = view.contextExtensions[POLICY_EXTENSION_KEY];
  if (named !== undefined) {
    const rule = policy.byName.get(named);
    return rule ? { kind: 'rule', rule } : { kind: 'unknown_policy', name: named };
  }
  let selected: Rule | undefined;
  for (const method of view.methodReadings) {
    for (const path of view.pathReadings) {
      for (const folded of policy.caseSensitivePaths ? AS_WRITTEN : AS_WRITTEN_AND_FOLDED) {
        const rule = firstMatch(policy, view, path, method, folded);
        if (selected !== undefined && rule !== selected)
          return { kind: method === view.method ? 'ambiguous_path' : 'ambiguous_method' };
        selected = rule;
      }
    }
  }
  return { kind: 'rule', rule: selected ?? policy.fallback };
}

const AS_WRITTEN = [false] as const;
const AS_WRITTEN_AND_FOLDED = [false, true] as const;

function firstMatch(policy: Policy, view: RequestView, path: string, method: string, folded: boolean): Rule {
  return policy.rules.find((rule) => rule.matches(view, path, method, folded)) ?? policy.fallback;
}
