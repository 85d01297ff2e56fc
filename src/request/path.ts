/**
 * The readings of a request path that upstream routers actually route on, all without query or
 * fragment. Upstreams disagree on what a path is, so policy matching runs every reading and
 * refuses a request whose readings fall under different rules (see policy.ts):
 *
 * - as sent: nothing decoded, nothing resolved, nothing merged. Node's `http`, Express and
 *   Envoy without `normalize_path` route this string (`/internal/x/../../` starts with
 *   `/internal/` to them);
 * - WHATWG URL: `new URL()`'s pathname, the reading of Deno, Bun, undici-based and
 *   Fetch-API routers: `.`/`..` segments (also `%2e`) resolved, `\` read as `/`, empty segments
 *   kept, so `..` can consume one (`/admin/users////../../..` is `/admin/users/`);
 * - WHATWG URL relative to a base, `new URL(req.url, base)` as Node's docs teach: a path that
 *   starts with `//` or `/\` is scheme-relative there, its first segment a host (`//x/admin`
 *   and `/\x/admin` are `/admin`);
 * - normalised: percent-decoded once, `\` read as `/`, `;parameters` dropped, repeated slashes
 *   merged, dot segments resolved: what servlet containers and decoding routers see
 *   (`/public/..;/admin`, `/public%2F..%2Fadmin` are `/admin`);
 * - Go-cleaned: percent-decoded once and cleaned the same way, but with `\` and `;` ordinary
 *   characters, as Go's path.Clean of r.URL.Path (`/x\y/../%2e%2e/admin` is `/admin` there,
 *   `/x/admin` above).
 *
 * Case is a matching concern (policy.case_sensitive_paths), not a reading: see policy.ts.
 */
export function pathReadings(rawPath: string): readonly string[] {
  const asSent = withoutQuery(rawPath);
  // A path without escapes, backslashes, parameters, repeated slashes or dot segments reads
  // the same in every way: the common case costs one regular expression.
  if (!MAY_READ_DIFFERENTLY.test(asSent)) return [asSent];
  const readings = [asSent];
  for (const reading of [whatwgPath(asSent), baseRelativePath(asSent), normalisePath(asSent), goCleanPath(asSent)]) {
    if (reading !== undefined && !readings.includes(reading)) readings.push(reading);
  }
  return readings;
}

const MAY_READ_DIFFERENTLY = /[%\\;]|\/\/|(?:^|\/)\.\.?(?:\/|$)/;

/** The servlet-container / decoding-router reading (exported for its own tests). */
export function normalisePath(rawPath: string): string {
  return resolveSegments(percentDecodeOnce(withoutQuery(rawPath)).replace(/\\/g, '/'));
}

function baseRelativePath(path: string): string | undefined {
  try {
    return new URL(path, 'http://h').pathname;
  } catch {
    // `//` alone, or a bad host or port: such an app fails the request instead of routing it.
    return undefined;
  }
}

function goCleanPath(path: string): string {
  return resolveSegments(percentDecodeOnce(path), false);
}

function whatwgPath(path: string): string {
  // The origin only anchors the parse; a path starting with "//" must stay a path.
  return new URL(`http://h${path.startsWith('/') ? '' : '/'}${path}`).pathname;
}

function withoutQuery(rawPath: string): string {
  const end = rawPath.search(/[?#]/);
  return end === -1 ? rawPath : rawPath.slice(0, end);
}

function resolveSegments(path: string, dropParameters = true): string {
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
