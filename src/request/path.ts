/**
 * The path that policy rules are matched against: no query or fragment, percent-decoded once,
 * backslashes read as slashes, `;parameters` dropped from segments, repeated slashes merged and
 * "." / ".." segments resolved, so `/public/../admin`, `/public/%2e%2e/admin`,
 * `/public\..\admin` and `/public/..;/admin` all become `/admin`.
 */
export function normalisePath(rawPath: string): string {
  const end = rawPath.search(/[?#]/);
  const withoutQuery = end === -1 ? rawPath : rawPath.slice(0, end);
  const decoded = percentDecodeOnce(withoutQuery).replace(/\\/g, '/');
  const segments: string[] = [];
  for (const part of decoded.split('/')) {
    // Path parameters are dropped: servlet containers read `/public/..;/admin` as `/admin`.
    const semicolon = part.indexOf(';');
    const segment = semicolon === -1 ? part : part.slice(0, semicolon);
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailingSlash = segments.length > 0 && /\/\.{0,2}$/.test(decoded);
  return `/${segments.join('/')}${trailingSlash ? '/' : ''}`;
}

/** Decodes valid %XX escapes (as UTF-8 where they form it) and leaves malformed ones as text. */
function percentDecodeOnce(text: string): string {
  if (!text.includes('%')) return text;
  return text.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      // Not valid UTF-8: decode byte by byte so "%2e" inside the run still becomes ".".
      return run.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    }
  });
}
