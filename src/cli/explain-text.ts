import type { Rule } from '../policy/policy';
import { demandText } from './demand-text';
import type { ReadingTrace } from '../policy/rule-trace';
import type { KratosLookup } from './session-facts';
import type { Trace } from './trace';

const LABEL_WIDTH = 13;

/** The explanation for people: one labelled block a step, in the order the check takes them. */
export function renderTrace(trace: Trace, sessionSource: string, codeMfa: string): string {
  const lines: string[] = [];
  const block = (label: string, first: string, ...more: string[]) => {
    lines.push(`${label.padEnd(LABEL_WIDTH)}${first}`);
    for (const line of more) lines.push(`${' '.repeat(LABEL_WIDTH)}${line}`);
  };
  block(
    'request',
    `${trace.request.method} ${trace.request.url}`,
    ...trace.request.headers.map(([name, value]) => `${name}: ${value}`),
  );
  if (trace.unreadable !== null) {
    block('refused', `before any rule: ${trace.unreadable}`);
  } else {
    block('path', ...listed(trace.readings.map((reading) => `${reading.path}  (${reading.as})`)));
    block('rule', ...selectionLines(trace));
    const { chosen, ignored } = trace.credential;
    block(
      'credential',
      chosen ? chosen.shown : 'none',
      ...ignored.map(
        (fact) =>
          `ignored: ${fact.shown} (Kratos's precedence: x-session-token, then the cookie, then Authorization: Bearer)`,
      ),
    );
    block(
      'answered as',
      `${trace.style.browser ? 'browser navigation (redirects)' : 'API (JSON)'}, because ${trace.style.because}`,
    );
    block('requirement', trace.requirement);
    block('session', ...listed(sessionLines(trace.kratos, sessionSource)), `code MFA: ${codeMfa}`);
  }
  const { decision } = trace;
  block(
    'decision',
    `${decision.kind}${'reason' in decision ? ` (${decision.reason})` : ''}, rule ${decision.policy}, credential ${decision.credential}${'detail' in decision ? `: ${decision.detail}` : ''}`,
  );
  block('outcome', trace.outcome);
  const { response } = trace;
  if (response.status === 200) {
    block(
      'answer',
      'passed upstream (gRPC status 0)',
      ...response.headers.map(([name, value]) => `set ${name}: ${value}`),
      ...(response.removedHeaders.length > 0 ? [`remove ${response.removedHeaders.join(', ')}`] : []),
    );
  } else {
    block(
      'answer',
      `${response.status} (gRPC status ${response.grpcCode})`,
      ...response.headers.map(([name, value]) => `${name}: ${value}`),
      ...(response.body ? ['', response.body] : []),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** block() needs a first line; an empty list still says so. */
function listed(lines: string[]): [string, ...string[]] {
  return lines.length > 0 ? (lines as [string, ...string[]]) : ['none'];
}

function selectionLines(trace: Trace): [string, ...string[]] {
  const { selection, rule } = trace;
  const applied = rule ? `${rule.name}: ${outcomeText(rule.outcome)}` : 'none';
  if (!selection) return [applied];
  if (selection.kind === 'named')
    return [`${applied}`, `named by context_extensions.policy=${selection.name}: no matching`];
  const chosen = new Set(selection.readings.map((reading) => reading.rule));
  const verdict =
    chosen.size > 1
      ? `none: the readings select different rules (${[...chosen].join(', ')}), so the request is refused`
      : applied;
  return [verdict, ...selection.readings.map((reading) => readingLine(reading, trace.request.method))];
}

function readingLine(reading: ReadingTrace, sentMethod: string): string {
  const skipped = reading.skipped.map(({ rule, failed }) => `${rule} (${failed.join(', ')} did not match)`);
  const subject = `${reading.path}${reading.folded ? ' case-folded' : ''}${reading.method === sentMethod ? '' : ` as ${reading.method} (a method override)`}`;
  return `${subject} -> ${reading.rule}${skipped.length > 0 ? `; skipped ${skipped.join(', ')}` : ''}`;
}

function outcomeText(outcome: Rule['outcome']): string {
  if (outcome.kind === 'require')
    return `cookie ${demandText(outcome, 'cookie')}, token ${demandText(outcome, 'token')}`;
  return outcome.kind;
}

function sessionLines(lookups: readonly KratosLookup[], source: string): string[] {
  if (lookups.length === 0) return ['Kratos not asked'];
  return lookups.map((lookup) => {
    if (lookup.call === 'identity') {
      const { outcome } = lookup;
      const said =
        outcome.kind === 'known'
          ? `available AAL ${outcome.aal}`
          : outcome.kind === 'identity_inactive'
            ? 'identity inactive'
            : `unavailable: ${outcome.detail}`;
      return `admin identity ${lookup.identityId}: ${said}`;
    }
    const { outcome } = lookup;
    switch (outcome.kind) {
      case 'active':
        return `whoami (${source}): active session ${outcome.session.id} of identity ${outcome.session.identityId}, ${outcome.session.aal}, ${authenticatedText(outcome.session.authenticatedAt)}, expires ${new Date(outcome.session.expiresAt).toISOString()}`;
      case 'unauthenticated':
        return `whoami (${source}): 401, no active session`;
      case 'aal_refused':
        return `whoami (${source}): 403 session_aal2_required (Kratos's own required_aal refused it)`;
      case 'unavailable':
        return `whoami (${source}): unavailable: ${outcome.detail}`;
    }
  });
}

function authenticatedText(authenticatedAt: number | undefined): string {
  return authenticatedAt === undefined
    ? 'no valid authenticated_at'
    : `authenticated ${new Date(authenticatedAt).toISOString()}`;
}
