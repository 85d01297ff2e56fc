/**
 * Two readings of a request path, both without query or fragment, repeated slashes merged and
 * "." / ".." segments resolved:
 *
 * - the normalised reading also percent-decodes once, reads backslashes as slashes and drops
 *   `;parameters` from segments, so `/public/%2e%2e/admin`, `/public\..\admin` and
 *   `/public/..;/admin` all become `/admin` (what servlet containers and decoding routers see);
 * - the literal reading does none of that (what Go's and Node's routers see for `..;` or `%2F`).
 *
 * Upstreams disagree on which reading is the path, so policy matching uses both and refuses a
 * request whose two readings fall under different rules.
 */
export function normalisePath(rawPath: string): string {
  return resolveSegments(percentDecodeOnce(withoutQuery(rawPath)).replace(/\\/g, '/'), true);
}

export function literalPath(rawPath: string): string {
  return resolveSegments(withoutQuery(rawPath), false);
}

function withoutQuery(rawPath: string): string {
  const end = rawPath.search(/[?#]/);
  return end === -1 ? rawPath : rawPath.slice(0, end);
}

function resolveSegments(path: string, dropParameters: boolean): string {
  const segments: string[] = [];
  for (const part of path.split('/')) {
    const semicolon = dropParameters ? part.indexOf(';') : -1;
    const segment = semicolon === -1 ? part : part.slice(0, semicolon);
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailingSlash = segments.length > 0 && /\/\.{0,2}$/.test(path);
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
