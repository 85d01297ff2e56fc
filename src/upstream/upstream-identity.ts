import type { HeaderList } from '../request/headers';
import type { KratosSession } from '../kratos/types';
import { headerReading, type LeftOutReason, type TraitReading } from '../kratos/traits';

/** Runs a signing (not a cached token handed out) inside the check's span for it, when traced. */
export type Signing = (sign: () => Promise<string>) => Promise<string>;

export const UNTRACED_SIGNING: Signing = (sign) => sign();

/** Signs (or hands out the cached) token for a session as it is now: UpstreamJwtIssuer. */
export interface TokenIssuer {
  tokenFor(session: KratosSession, traitClaims: Readonly<Record<string, string>>, signing?: Signing): Promise<string>;
}

/** What identity_headers and upstream_jwt add to an allow beyond the x-kratos-* headers. */
export interface UpstreamIdentityHeaders {
  headers: HeaderList;
  /** The configured names this answer does not set: a client's forged copies must go. */
  withheld: readonly string[];
}

export interface UpstreamJwtHeader {
  /** Lower case; `authorization` carries `Bearer <jwt>`. */
  header: string;
  issuer: TokenIssuer;
  /** Claim name → trait path. */
  claims: Readonly<Record<string, string>>;
}

/** JSON carries any text a trait reading holds: a claim takes the reading as it is. */
const asIs = (reading: TraitReading): TraitReading => reading;

/** A trait left out of a header or a claim, by that header's or claim's name. */
export type LeftOutObserver = (target: 'header' | 'claim', name: string, reason: LeftOutReason) => void;

/**
 * The configured identity headers (trait values) and the signed JWT, for a session an allow
 * rests on, or none of them for an allow without one. A trait that is missing or unfit is
 * never passed: its header is withheld (and so removed), its claim left out of the token.
 */
export class UpstreamIdentity {
  /** Every header name this configuration may set: all withheld from an allow without a session. */
  private readonly allNames: readonly string[];

  constructor(
    /** Header name → trait path. */
    private readonly traitHeaders: Readonly<Record<string, string>>,
    private readonly jwt: UpstreamJwtHeader | undefined,
    private readonly onLeftOut: LeftOutObserver = () => {},
  ) {
    this.allNames = [...Object.keys(traitHeaders), ...(jwt ? [jwt.header] : [])];
  }

  async headersFor(
    session: KratosSession | null,
    signing: Signing = UNTRACED_SIGNING,
  ): Promise<UpstreamIdentityHeaders> {
    if (!session) return { headers: [], withheld: this.allNames };
    const headers: Array<readonly [string, string]> = [];
    const withheld: string[] = [];
    for (const [name, path] of Object.entries(this.traitHeaders)) {
      const text = this.textOf('header', name, session.traits.get(path), headerReading);
      if (text === undefined) withheld.push(name);
      else headers.push([name, text]);
    }
    if (this.jwt) {
      const token = await this.jwt.issuer.tokenFor(session, this.traitClaims(session), signing);
      headers.push([this.jwt.header, this.jwt.header === 'authorization' ? `Bearer ${token}` : token]);
    }
    return { headers, withheld };
  }

  private traitClaims(session: KratosSession): Record<string, string> {
    const claims: Record<string, string> = {};
    for (const [name, path] of Object.entries(this.jwt?.claims ?? {})) {
      const text = this.textOf('claim', name, session.traits.get(path), asIs);
      if (text !== undefined) claims[name] = text;
    }
    return claims;
  }

  private textOf(
    target: 'header' | 'claim',
    name: string,
    reading: TraitReading | undefined,
    fit: (reading: TraitReading) => TraitReading,
  ): string | undefined {
    if (!reading) return undefined;
    const fitted = fit(reading);
    if ('text' in fitted) return fitted.text;
    this.onLeftOut(target, name, fitted.leftOut);
    return undefined;
  }
}
