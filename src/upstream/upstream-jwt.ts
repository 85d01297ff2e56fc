import { createHash, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { KratosSession } from '../kratos/types';
import type { SigningKey } from './signing-key';
import { UNTRACED_SIGNING, type Signing, type TokenIssuer } from './upstream-identity';

export interface UpstreamJwtSettings {
  issuer: string;
  audience: string | string[];
  /** Milliseconds. */
  ttl: number;
  /** The first signs; all are published. */
  keys: readonly SigningKey[];
}

/** How a token was handed out (the metric's `result` label). */
export type JwtResult = 'issued' | 'cached';

// jose is ESM only; this CommonJS build loads it once, on the first token.
type Jose = typeof import('jose', { with: { 'resolution-mode': 'import' } });
let jose: Promise<Jose> | undefined;
const loadJose = (): Promise<Jose> => (jose ??= import('jose'));

// A cached token is handed out until this long before its own exp, so the upstream never gets
// one that expires in flight: 30 s, or half the token's lifetime when that is shorter.
const REISSUE_MARGIN_MS = 30_000;

interface Issued {
  token: string;
  /** Epoch milliseconds after which the token is reissued rather than handed out. */
  reuseUntil: number;
}

/**
 * Signs the JWT that tells the upstream who the request is, one per session as it is now. A
 * token is cached under a digest of everything it says (identity, session, AAL, methods,
 * authenticated_at, expiry and trait claims), so a step-up, a re-login or changed traits get a
 * new one at once; a reload builds a new issuer, so a rotated signer starts with an empty cache.
 */
export class UpstreamJwtIssuer implements TokenIssuer {
  private readonly cache: LRUCache<string, Issued> | undefined;
  private readonly signer: SigningKey;

  constructor(
    private readonly settings: UpstreamJwtSettings,
    capacity: number,
    private readonly count: (result: JwtResult) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    const signer = settings.keys[0];
    if (!signer) throw new Error('upstream_jwt has no signing key');
    this.signer = signer;
    this.cache = capacity > 0 ? new LRUCache<string, Issued>({ max: capacity }) : undefined;
    // Loaded now, not on the first allow; a failure to load surfaces there, as a 500 denial.
    loadJose().catch(() => undefined);
  }

  async tokenFor(
    session: KratosSession,
    traitClaims: Readonly<Record<string, string>>,
    signing: Signing = UNTRACED_SIGNING,
  ): Promise<string> {
    const key = digestOf(session, traitClaims);
    const now = this.now();
    const cached = this.cache?.get(key);
    if (cached && now < cached.reuseUntil) {
      this.count('cached');
      return cached.token;
    }
    // Never longer than the session: exp rounds down, so the token ends no later than Kratos's.
    const issuedAt = Math.floor(now / 1000);
    const expires = Math.floor(Math.min(now + this.settings.ttl, session.expiresAt) / 1000);
    const token = await signing(async () => {
      const { SignJWT } = await loadJose();
      return new SignJWT({ ...traitClaims, sid: session.id, aal: session.aal, amr: [...session.methods] })
        .setProtectedHeader({ alg: this.signer.alg, kid: this.signer.kid, typ: 'JWT' })
        .setIssuer(this.settings.issuer)
        .setAudience(this.settings.audience)
        .setSubject(session.identityId)
        .setIssuedAt(issuedAt)
        .setNotBefore(issuedAt)
        .setExpirationTime(expires)
        .setJti(randomUUID())
        .sign(this.signer.privateKey);
    });
    this.count('issued');
    const lifetime = expires * 1000 - now;
    const reuseUntil = expires * 1000 - Math.min(REISSUE_MARGIN_MS, lifetime / 2);
    if (reuseUntil > now) this.cache?.set(key, { token, reuseUntil }, { ttl: reuseUntil - now });
    return token;
  }
}

/**
 * Fixed-size key whatever the traits hold; the token's own claims, so equal digests mean equal
 * tokens but for iat/exp/jti.
 */
function digestOf(session: KratosSession, traitClaims: Readonly<Record<string, string>>): string {
  const facts = [
    session.identityId,
    session.id,
    session.aal,
    session.methods,
    session.authenticatedAt ?? null,
    session.expiresAt,
    Object.entries(traitClaims),
  ];
  return createHash('sha256').update(JSON.stringify(facts)).digest('base64url');
}
