import { hostMatches } from '../policy/hosts';
import type { RequestView } from '../request/view';

export interface LoginUrlSettings {
  /** kratos.browser_url (or public_url), without trailing slash. */
  browserUrl: string;
  /** return_to.allowed_hosts; empty means every host. */
  allowedHosts: readonly string[];
}

/**
 * The URL the browser asked for, rebuilt from Envoy's :scheme, :authority and :path, or
 * undefined when it cannot be trusted as a redirect target: an odd scheme, a path that is not
 * absolute or holds a control character, or a host outside return_to.allowed_hosts (a forged Host
 * header must not turn Kratos's login into an open redirect). The authority is always a plain
 * host[:port] here: a RequestView never holds another.
 */
export function originalUrl(view: RequestView, allowedHosts: readonly string[]): string | undefined {
  const scheme = view.scheme.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return undefined;
  if (!view.path.startsWith('/') || view.path.startsWith('//')) return undefined;
  // A raw CR, LF, NUL or other control character would come back out of return_to's decoding
  // into Kratos's redirect (Envoy refuses them; a gRPC caller need not).
  if (CONTROL_CHARACTER.test(view.path)) return undefined;
  if (allowedHosts.length > 0 && !allowedHosts.some((pattern) => hostMatches(pattern, view.host, view.authority)))
    return undefined;
  return `${scheme}://${view.authority}${view.path}`;
}

const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;

/**
 * Kratos's browser login; `aal=aal2` asks for the second factor on the existing session,
 * `refresh=true` for a new authentication although the session is still valid.
 */
export function loginUrl(
  settings: LoginUrlSettings,
  options: { stepUp: boolean; refresh?: boolean; returnTo: string | undefined },
): string {
  const query: string[] = [];
  if (options.refresh) query.push('refresh=true');
  if (options.stepUp) query.push('aal=aal2');
  const returnTo = options.returnTo && encodeQueryValue(options.returnTo);
  if (returnTo) query.push(`return_to=${returnTo}`);
  const base = `${settings.browserUrl}/self-service/login/browser`;
  return query.length > 0 ? `${base}?${query.join('&')}` : base;
}

/** encodeURIComponent, except that a path with broken UTF-16 loses its return_to instead of throwing. */
function encodeQueryValue(value: string): string | undefined {
  try {
    return encodeURIComponent(value);
  } catch {
    return undefined;
  }
}
