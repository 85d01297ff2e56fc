/**
 * One proxy in front of one app: every variant sent with a fresh session of the kind it asks
 * for (or none) and its own marker, then each judged from the service's log and the app's report.
 */
import { randomBytes } from 'node:crypto';
import type { Harness } from '../../support/harness';
import type { Jwk } from '../../support/jwt';
import { judge, type CheckLine, type SentSession, type Violation } from './judge';
import { markerIn } from './policy';
import { send, type Status } from './send';
import type { Upstream, Served } from './upstreams';
import type { Credential, Variant } from './variants';
import { AAL1, AAL2, TOTP } from '../../support/fixtures';

export interface Outcome {
  /** Undefined for a request the app served that no variant sent (as far as its marker tells). */
  variant: Variant | undefined;
  status: Status;
  served: number;
  violations: Violation[];
}

interface Sent {
  variant: Variant;
  status: Status;
  session: SentSession | undefined;
}

/**
 * A session of the kind `credential` names (for an identity with a second factor, so aal2 rules ask
 * for it) and its header.
 */
function credentialFor(
  harness: Harness,
  credential: Credential,
  marker: string,
): { session?: SentSession; headers: Array<[string, string]> } {
  if (credential === 'none') return { headers: [] };
  const email = `${marker}@example.com`;
  const identityId = harness.emulator.addIdentity({ traits: { email }, credentials: TOTP });
  const created = harness.newSession(identityId, { methods: credential.startsWith('aal2') ? AAL2 : AAL1 });
  const session = { identityId, sessionId: created.id, email };
  if (credential.endsWith('cookie'))
    return { session, headers: [['cookie', harness.emulator.cookieHeaderFor(created)]] };
  if (credential.endsWith('bearer')) return { session, headers: [['authorization', `Bearer ${created.token}`]] };
  return { session, headers: [['x-session-token', created.token]] };
}

export async function runPair(
  harness: Harness,
  jwks: readonly Jwk[],
  upstream: Upstream,
  proxyPort: number,
  variants: readonly Variant[],
): Promise<Outcome[]> {
  const logsBefore = harness.rawLogs().split('\n').length;
  upstream.drain();
  const sent = new Map<string, Sent>();
  for (const variant of variants) {
    const marker = `zz${randomBytes(6).toString('hex').slice(0, 8)}`;
    const { session, headers } = credentialFor(harness, variant.credential, marker);
    sent.set(marker, { variant, session, status: await send(proxyPort, variant, marker, headers) });
  }
  const markerOfIdentity = new Map(
    [...sent].flatMap(([marker, { session }]) => (session ? [[session.identityId, marker] as const] : [])),
  );
  // The last answers may have left before their log line was written.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const checks = groupBy(
    harness
      .rawLogs()
      .split('\n')
      .slice(logsBefore - 1)
      .filter((line) => line.includes('"msg":"check"'))
      .map((line) => JSON.parse(line) as CheckLine),
    // A request without a path (CONNECT host:port) is told by its session's identity instead.
    (check) =>
      markerIn(check.path ?? '') ||
      (check.identity_id !== undefined ? (markerOfIdentity.get(check.identity_id) ?? '') : ''),
  );
  const served = groupBy(upstream.drain(), (request: Served) => request.marker);
  const outcomes: Outcome[] = [];
  for (const [marker, { variant, status, session }] of sent) {
    const mine = served.get(marker) ?? [];
    outcomes.push({
      variant,
      status,
      served: mine.length,
      violations: judge(checks.get(marker) ?? [], mine, session, jwks),
    });
    served.delete(marker);
  }
  // A request the app served that no variant's marker names: whatever it was, nobody checked it.
  for (const [marker, requests] of served) {
    for (const request of requests)
      outcomes.push({
        variant: undefined,
        status: 0,
        served: 1,
        violations: [
          {
            kind: 'served-unchecked',
            signature: 'served-unchecked: unmarked',
            detail: `${request.framework} served ${request.route} for an unmarked request (marker ${JSON.stringify(marker)})`,
          },
        ],
      });
  }
  return outcomes;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return groups;
}
