import type { HeaderBag } from './headers';

/**
 * Headers upstream frameworks take as the method to act on: X-HTTP-Method-Override (Express
 * method-override, Rack::MethodOverride, ASP.NET's UseHttpMethodOverride, gorilla/handlers),
 * X-Method-Override and X-HTTP-Method (OData, Google APIs). Most honour them on POST only, but
 * each can be configured otherwise, so they are read whatever the method.
 */
export const METHOD_OVERRIDE_HEADERS = ['x-http-method-override', 'x-method-override', 'x-http-method'] as const;

// `_method` in the query (Laravel, Spring's HiddenHttpMethodFilter, Symfony): possibly escaped.
const MAY_HAVE_METHOD_PARAMETER = /[?&](?:_|%5f)method=/i;

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
  for (const name of METHOD_OVERRIDE_HEADERS) {
    for (const line of headers.all(name)) if (!addElements(readings, line)) return undefined;
  }
  if (MAY_HAVE_METHOD_PARAMETER.test(path)) {
    const query = path.slice(path.indexOf('?') + 1).replace(/#.*$/s, '');
    for (const value of new URLSearchParams(query).getAll('_method')) if (!addElements(readings, value)) return undefined;
  }
  return [...readings];
}

/**
 * Adds each ","-separated element of `line`, trimmed and upper-cased; false once there are more
 * than MAX_READINGS. Scanned, not split: a header of a million commas is a million empty pieces.
 */
function addElements(readings: Set<string>, line: string): boolean {
  for (let start = 0; start <= line.length; ) {
    const comma = line.indexOf(',', start);
    const end = comma === -1 ? line.length : comma;
    const reading = line.slice(start, end).trim().toUpperCase();
    if (reading !== '') readings.add(reading);
    if (readings.size > MAX_READINGS) return false;
    start = end + 1;
  }
  return true;
}
