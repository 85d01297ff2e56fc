import type { HeaderBag } from './headers';

/**
 * True when the request is a top-level browser navigation, the only kind of request a redirect
 * to the login page helps. Fetch metadata decides when present; older browsers are recognised
 * by an Accept header whose best-ranked type is text/html.
 */
export function isBrowserNavigation(headers: HeaderBag): boolean {
  const fetchMode = headers.first('sec-fetch-mode');
  if (fetchMode !== undefined) return fetchMode.trim().toLowerCase() === 'navigate';
  const accept = headers.first('accept');
  return accept !== undefined && preferredMediaType(accept) === 'text/html';
}

/** The media range with the highest q-value; the earliest wins a tie. */
export function preferredMediaType(accept: string): string | undefined {
  let best: string | undefined;
  let bestQuality = 0;
  for (const range of accept.split(',')) {
    const [type = '', ...parameters] = range.split(';');
    // RFC 9110 §5.6.1: empty list elements are ignored.
    if (type.trim() === '') continue;
    const quality = qualityOf(parameters);
    if (quality > bestQuality) {
      best = type.trim().toLowerCase();
      bestQuality = quality;
    }
  }
  return best;
}

// RFC 9110 §12.4.2 qvalue: 0 to 1 with up to three decimals.
const QVALUE = /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/;

function qualityOf(parameters: string[]): number {
  for (const parameter of parameters) {
    const [name = '', value = ''] = parameter.split('=');
    if (name.trim().toLowerCase() !== 'q') continue;
    const text = value.trim();
    return QVALUE.test(text) ? Number(text) : 0;
  }
  return 1;
}
