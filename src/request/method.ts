import { spellingsOf } from './header-spellings';
import type { HeaderBag } from './headers';

/**
 * Headers upstream frameworks take as the method to act on: X-HTTP-Method-Override (Express
 * method-override, Rack::MethodOverride, ASP.NET's UseHttpMethodOverride, gorilla/handlers),
 * X-Method-Override and X-HTTP-Method (OData, Google APIs). Most honour them on POST only, but
 * each can be configured otherwise, so they are read whatever the method.
 */
export const METHOD_OVERRIDE_HEADERS = ['x-http-method-override', 'x-method-override', 'x-http-method'] as const;

/**
 * Every "-"/"_"/"." spelling of them: Rack, WSGI, PHP and CGI fold the three together
 * (`X.HTTP.Method.Override` is HTTP_X_HTTP_METHOD_OVERRIDE there), and Envoy passes "." names on
 * whatever headers_with_underscores_action says.
 */
const OVERRIDE_HEADER_SPELLINGS = METHOD_OVERRIDE_HEADERS.flatMap(spellingsOf);

/**
 * `_method` in the query (Laravel, Spring's HiddenHttpMethodFilter, Symfony, Express's
 * method-override): its name may be percent-escaped (`_%6Dethod`), and PHP folds a leading
 * ".", " " or "[" into "_" (`.method`, `+method`). A query with neither "method" nor an escape
 * cannot name it, and is not parsed.
 */
const MAY_NAME_METHOD = /method|%/i;
const METHOD_PARAMETER = /^[\s._[]+method$/i;

// More distinct methods than any request means: refused rather than matched one by one.
const MAX_READINGS = 16;

/**
 * The methods an upstream may act on, the method as sent first: every value of the override
 * headers (each comma-separated element, as frameworks differ on which one they take) and of a
 * `_method` query parameter, upper-cased as the frameworks do. Policy matching runs each, like
 * the path readings, and refuses a request whose readings fall under different rules. A
 * `_method` in a form body cannot be seen: the service reads no body (see the README).
 * Undefined when they name more than MAX_READINGS methods.
 */
export function methodReadings(method: string, path: string, headers: HeaderBag): readonly string[] | undefined {
  const readings = new Set([method]);
  for (const name of OVERRIDE_HEADER_SPELLINGS) {
    for (const line of headers.all(name)) if (!addElements(readings, line)) return undefined;
  }
  // A proxy passes a fragment on as sent: Node's URL parsers drop it, PHP reads what follows it
  // as more parameters (and a value running into it as its own). Both readings count.
  const question = path.indexOf('?');
  const query = question === -1 ? '' : path.slice(question + 1);
  const hash = query.indexOf('#');
  for (const part of hash === -1 ? [query] : [query.slice(0, hash), query]) {
    if (!addMethodParameters(readings, part)) return undefined;
  }
  return [...readings];
}

/** Adds the values of every parameter named as `_method` reads; false past MAX_READINGS. */
function addMethodParameters(readings: Set<string>, query: string): boolean {
  if (!MAY_NAME_METHOD.test(query)) return true;
  for (const [name, value] of new URLSearchParams(query))
    if (METHOD_PARAMETER.test(name) && !addElements(readings, value)) return false;
  return true;
}

/**
 * Adds each ","-separated element of `line`, trimmed and upper-cased; false once there are more
 * than MAX_READINGS. Scanned, not split: a header of a million commas is a million empty pieces.
 */
function addElements(readings: Set<string>, line: string): boolean {
  for (let start = 0; start <= line.length;) {
    const comma = line.indexOf(',', start);
    const end = comma === -1 ? line.length : comma;
    const reading = line.slice(start, end).trim().toUpperCase();
    if (reading !== '') readings.add(reading);
    if (readings.size > MAX_READINGS) return false;
    start = end + 1;
  }
  return true;
}
