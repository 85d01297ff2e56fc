/**
 * The `Set-Cookie` lines whoami answers with when it renews the session cookie (Kratos's
 * RefreshCookie: the cookie's embedded expiry is older than the session's, e.g. after an admin
 * extend or a re-authentication). Each line carries a session credential: it is handed to the
 * client and nowhere else (never cached, logged or put in metadata).
 */
export type RefreshedCookie = readonly string[];

// Kratos writes one line; more than this is not a session cookie being renewed.
const MAX_LINES = 4;
// A Kratos cookie value is a few hundred bytes (the credential reader refuses over 4096) plus
// its attributes.
const MAX_LINE_LENGTH = 8192;
// Visible ASCII and space only (attributes such as `Expires=Wed, 02 Dec 2026 …` hold spaces):
// no CR, LF, NUL or other control byte can reach a response header.
const HEADER_SAFE = /^[\x20-\x7e]+$/;

/**
 * Only lines that set the configured session cookie, each kept whole as its own header line
 * (never joined: a `,` inside `Expires` would split it). Anything unsafe drops the lot: a
 * partial renewal could leave the browser with the wrong one of several cookies.
 */
export function refreshedCookieOf(setCookieLines: readonly string[], cookieName: string): RefreshedCookie | undefined {
  const lines = setCookieLines.filter((line) => cookieNameOf(line) === cookieName);
  if (lines.length === 0) return undefined;
  if (lines.length > MAX_LINES || !lines.every((line) => line.length <= MAX_LINE_LENGTH && HEADER_SAFE.test(line)))
    return undefined;
  return lines;
}

/** RFC 6265 §5.2: the name is what precedes the first `=` of the first `;`-separated part, trimmed. */
function cookieNameOf(line: string): string | undefined {
  const pair = line.split(';', 1)[0] ?? '';
  const equals = pair.indexOf('=');
  return equals > 0 ? pair.slice(0, equals).trim() : undefined;
}
