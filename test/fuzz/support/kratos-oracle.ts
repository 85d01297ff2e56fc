/**
 * How Kratos picks the session credential from a request's header lines, written from the Go
 * behaviour it rests on (not from src/): net/http's Header.Get and readCookies, and Kratos's
 * extractToken / bearerTokenFromRequest (shared/reference/kratos-whoami.md §1.2-1.3).
 */

export type HeaderLine = readonly [name: string, value: string];

/** textproto.TrimString: ASCII space, tab, CR and LF only, never other white space. */
function trimString(text: string): string {
  return text.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
}

/** Header.Get: the first line whose name matches case-insensitively (names are canonicalised). */
export function headerGet(lines: readonly HeaderLine[], name: string): string | undefined {
  return lines.find(([key]) => key.toLowerCase() === name)?.[1];
}

// RFC 7230 tchar, which isCookieNameValid requires of every byte of a name.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** validCookieValueByte: 0x20-0x7e except `"`, `;` and `\`. */
function validCookieValue(value: string): boolean {
  return [...value].every((char) => char >= ' ' && char <= '~' && char !== '"' && char !== ';' && char !== '\\');
}

/** readCookies(h, filter) → the values, in order: every Cookie line split on ";" alone. */
export function readCookies(cookieLines: readonly string[], filter: string): string[] {
  const values: string[] = [];
  for (const line of cookieLines) {
    for (const rawPart of trimString(line).split(';')) {
      const part = trimString(rawPart);
      if (part === '') continue;
      const equals = part.indexOf('=');
      const name = trimString(equals === -1 ? part : part.slice(0, equals));
      if (!TOKEN.test(name) || name !== filter) continue;
      let value = equals === -1 ? '' : part.slice(equals + 1);
      // parseCookieValue(raw, allowDoubleQuote = true)
      if (value.length > 1 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      if (validCookieValue(value)) values.push(value);
    }
  }
  return values;
}

export type KratosChoice =
  { source: 'x-session-token' | 'authorization'; token: string } | { source: 'cookie'; values: string[] } | undefined;

/**
 * extractToken: a non-empty X-Session-Token; else the session cookies, of which Kratos tries
 * every one in order (an empty one never decodes, so only the non-empty ones count); else
 * `Authorization`, split on single spaces into exactly "bearer" (any case) and a token.
 */
export function kratosChoice(lines: readonly HeaderLine[], cookieName: string): KratosChoice {
  const token = headerGet(lines, 'x-session-token');
  if (token) return { source: 'x-session-token', token };
  const values = readCookies(
    lines.filter(([key]) => key.toLowerCase() === 'cookie').map(([, value]) => value),
    cookieName,
  ).filter((value) => value !== '');
  if (values.length > 0) return { source: 'cookie', values };
  const parts = (headerGet(lines, 'authorization') ?? '').split(' ');
  if (parts.length === 2 && parts[0]?.toLowerCase() === 'bearer' && parts[1])
    return { source: 'authorization', token: parts[1] };
  return undefined;
}
