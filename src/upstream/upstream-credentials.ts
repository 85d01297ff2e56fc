import { cookiesWithout } from '../request/cookies';
import { kratosCredentialExtractor } from '../request/credentials';
import type { HeaderBag } from '../request/headers';

/** The request headers that can carry a Kratos credential. */
export type CredentialHeaderName = 'cookie' | 'x-session-token' | 'authorization';

/** What the upstream gets of one credential header the client sent, on an allow. */
export type UpstreamCredential =
  /** As sent; `lines` for the proxies that can only set what the upstream gets. */
  | { name: CredentialHeaderName; fate: 'kept'; lines: readonly string[] }
  /** The client's other cookies, in one line. */
  | { name: 'cookie'; fate: 'replaced'; value: string }
  | { name: CredentialHeaderName; fate: 'removed' };

/** One entry per credential header the request has; none for a header it does not have. */
export type UpstreamCredentials = readonly UpstreamCredential[];

/**
 * What the upstream gets of the credential headers, per `strip` (the rule's strip_credentials).
 * Stripped: every cookie named `cookieName` (the others stay, see cookiesWithout),
 * X-Session-Token whatever it holds (Kratos's own header), and Authorization when it is the
 * `Bearer` Kratos reads as its token, i.e. the credential read (an Authorization that Kratos
 * ignores because a token or cookie came first is the app's own and stays).
 */
export function upstreamCredentialsReader(
  cookieName: string,
): (headers: HeaderBag, strip: boolean) => UpstreamCredentials {
  const readCredential = kratosCredentialExtractor(cookieName);
  return (headers, strip) => {
    const credentials: UpstreamCredential[] = [];
    const cookieLines = headers.all('cookie');
    if (cookieLines.length > 0)
      credentials.push(
        strip
          ? cookieFate(cookiesWithout(cookieLines, cookieName, headers.joinsRepeatedLines), cookieLines)
          : kept('cookie', cookieLines),
      );
    const tokenLines = headers.all('x-session-token');
    if (tokenLines.length > 0)
      credentials.push(strip ? { name: 'x-session-token', fate: 'removed' } : kept('x-session-token', tokenLines));
    const authorizationLines = headers.all('authorization');
    if (authorizationLines.length > 0) {
      const isTheCredential = strip && readCredential(headers)?.source === 'authorization';
      credentials.push(
        isTheCredential ? { name: 'authorization', fate: 'removed' } : kept('authorization', authorizationLines),
      );
    }
    return credentials;
  };
}

function cookieFate(rest: string | null, lines: readonly string[]): UpstreamCredential {
  if (rest === null) return kept('cookie', lines);
  return rest === '' ? { name: 'cookie', fate: 'removed' } : { name: 'cookie', fate: 'replaced', value: rest };
}

function kept(name: CredentialHeaderName, lines: readonly string[]): UpstreamCredential {
  return { name, fate: 'kept', lines };
}

/** For proxies that leave a header alone unless told (Envoy): the headers to overwrite. */
export function credentialsToSet(credentials: UpstreamCredentials): Array<[name: string, value: string]> {
  return credentials.flatMap((credential) =>
    credential.fate === 'replaced' ? [[credential.name, credential.value] as [string, string]] : [],
  );
}

/** For proxies that leave a header alone unless told (Envoy): the headers to remove. */
export function credentialsToRemove(credentials: UpstreamCredentials): CredentialHeaderName[] {
  return credentials.flatMap((credential) => (credential.fate === 'removed' ? [credential.name] : []));
}

/**
 * For proxies that set each listed header from the 200 and delete it when the 200 has none
 * (Caddy copy_headers, Traefik authResponseHeaders, nginx auth_request_set + proxy_set_header,
 * which cannot tell an absent header from an empty one): every credential header the upstream
 * is to get, with what it is to get. Cookie lines kept as sent go as one line joined with "; "
 * (nginx reads only the first line of a header, Caddy joins them with ","), the others line by
 * line; a removed header is left out, so the proxy deletes it.
 */
export function credentialsAsStated(credentials: UpstreamCredentials): Array<[name: string, value: string]> {
  return credentials.flatMap((credential): Array<[string, string]> => {
    if (credential.fate === 'removed') return [];
    if (credential.fate === 'replaced') return [[credential.name, credential.value]];
    if (credential.name === 'cookie') return [['cookie', credential.lines.join('; ')]];
    return credential.lines.map((line) => [credential.name, line]);
  });
}
