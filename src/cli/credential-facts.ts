import { findCookies } from '../request/cookies';
import {
  bearerToken,
  kratosCredentialExtractor,
  sessionCookie,
  sessionTokenHeader,
  type Credential,
} from '../request/credentials';
import type { HeaderBag } from '../request/headers';

/** A credential as the explanation shows it: where it was and how long, never its value. */
export interface CredentialFact {
  kind: Credential['kind'];
  source: Credential['source'];
  shown: string;
  wellFormed: boolean;
}

export interface CredentialChoice {
  chosen: CredentialFact | null;
  /** Present in the request but not used: Kratos's precedence picks one and never falls back. */
  ignored: CredentialFact[];
}

/**
 * The credential the service forwards (its own extractor decides) and the others present. The
 * extractors are listed in Kratos's precedence only to find the ignored ones.
 */
export function chooseCredential(headers: HeaderBag, cookieName: string): CredentialChoice {
  const chosen = kratosCredentialExtractor(cookieName)(headers);
  const present = [sessionTokenHeader, sessionCookie(cookieName), bearerToken]
    .map((extract) => extract(headers))
    .filter((found): found is Credential => found !== undefined);
  const fact = (credential: Credential): CredentialFact => ({
    kind: credential.kind,
    source: credential.source,
    shown: describeCredential(credential, headers, cookieName),
    wellFormed: credential.wellFormed,
  });
  return {
    chosen: chosen ? fact(chosen) : null,
    ignored: present.filter((credential) => credential.source !== chosen?.source).map(fact),
  };
}

/** `<cookie ory_kratos_session, 212 bytes>`, `<token x-session-token, 32 bytes>`. */
function describeCredential(credential: Credential, headers: HeaderBag, cookieName: string): string {
  const malformed = credential.wellFormed ? '' : ', malformed: never sent to Kratos';
  if (credential.kind === 'token') {
    const where = credential.source === 'authorization' ? 'authorization: Bearer' : 'x-session-token';
    return `<token ${where}, ${Buffer.byteLength(credential.value)} bytes${malformed}>`;
  }
  const sizes = findCookies(headers.all('cookie'), cookieName, headers.joinsRepeatedLines).map((value) =>
    Buffer.byteLength(value),
  );
  const count = sizes.length === 1 ? 'cookie' : `${sizes.length} cookies`;
  return `<${count} ${cookieName}, ${sizes.join(' + ')} bytes${malformed}>`;
}
