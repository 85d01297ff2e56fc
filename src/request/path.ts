/**
 * The path that policy rules are matched against: no query or fragment, percent-decoded once,
 * backslashes read as slashes, repeated slashes merged and "." / ".." segments resolved, so
 * `/public/../admin`, `/public/%2e%2e/admin` and `/public\..\admin` all become `/admin`.
 */
export function normalisePath(rawPath: string): string {
  const end = rawPath.search(/[?#]/);
  const withoutQuery = end === -1 ? rawPath : rawPath.slice(0, end);
  const decoded = percentDecodeOnce(withoutQuery).replace(/\\/g, '/');
  const segments: string[] = [];
  for (const segment of decoded.split('/')) {
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
