/**
 * Which identities Kratos counts as aal2-available through code MFA
 * (`selfservice.methods.code.mfa_enabled: true`). Kratos changed the rule in v25.4.0 (commit
 * 9860c9a4f, selfservice/strategy/code/strategy.go CountActiveMultiFactorCredentials):
 *
 * - up to v1.3.x, `every_identity`: with code MFA on, every identity is aal2-available, code
 *   credential or not;
 * - from v25.4.0, `code_address`: only identities whose code credential has an address.
 *
 * `every_identity` is the stricter one (it asks more identities to step up), so it is the rule
 * for a version that cannot be read.
 */
export type CodeMfaRule = 'every_identity' | 'code_address';

/** What the service applies: code MFA off (the rule does not matter then), or on under a rule. */
export type CodeMfa = 'off' | CodeMfaRule;

export const STRICTER_CODE_MFA_RULE = 'every_identity' satisfies CodeMfaRule;

/** Where the Kratos version came from. */
export type KratosVersionSource = 'admin_api' | 'config';

export type KratosVersionReading =
  | { known: true; version: string; source: KratosVersionSource; rule: CodeMfaRule }
  | { known: false; why: string; rule: typeof STRICTER_CODE_MFA_RULE };

const FIRST_CODE_ADDRESS_RELEASE: readonly [number, number, number] = [25, 4, 0];

/**
 * The rule of a version as Kratos reports it (`v26.2.0`, `v1.3.1`, `25.4.0-pre.1`); undefined
 * when it is no release version (`master`, a commit, empty). A pre-release of v25.4.0 comes
 * before v25.4.0 and gets the old rule.
 */
export function codeMfaRuleOf(version: string): CodeMfaRule | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.exec(version.trim());
  if (!match) return undefined;
  const release = [Number(match[1]), Number(match[2]), Number(match[3])];
  for (let i = 0; i < 3; i++) {
    const difference = (release[i] ?? 0) - (FIRST_CODE_ADDRESS_RELEASE[i] ?? 0);
    if (difference !== 0) return difference > 0 ? 'code_address' : 'every_identity';
  }
  return match[4] === undefined ? 'code_address' : 'every_identity';
}

/** A version read from `source`, or the stricter rule with the reason it is not known. */
export function readingOf(version: string, source: KratosVersionSource): KratosVersionReading {
  const rule = codeMfaRuleOf(version);
  if (rule === undefined)
    return unknownVersion(
      `${source === 'admin_api' ? 'the admin API reported' : 'kratos.version is'} ${JSON.stringify(version.slice(0, 40))}, not a release version`,
    );
  return { known: true, version: version.trim(), source, rule };
}

export function unknownVersion(why: string): KratosVersionReading {
  return { known: false, why, rule: STRICTER_CODE_MFA_RULE };
}

const RULE_TEXT: Record<CodeMfaRule, string> = {
  every_identity: 'every identity is aal2-available (Kratos up to v1.3.x)',
  code_address: 'identities whose code credential has an address are aal2-available (Kratos v25.4.0 and later)',
};

/** One line for logs, check-config and explain. */
export function describeReading(reading: KratosVersionReading, codeMfaEnabled: boolean): string {
  const where = reading.known
    ? `Kratos ${reading.version} (${reading.source === 'admin_api' ? 'from the admin API' : 'from kratos.version'})`
    : `Kratos version unknown (${reading.why}): the stricter rule`;
  const rule = `code MFA rule ${reading.rule}: ${RULE_TEXT[reading.rule]}`;
  return `${where}; ${rule}${codeMfaEnabled ? '' : ' (not applied: kratos.code_mfa_enabled is false)'}`;
}
