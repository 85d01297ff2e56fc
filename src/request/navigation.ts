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
    const quality = qualityOf(parameters);
    if (quality > bestQuality) {
      best = type.trim().toLowerCase();
      bestQuality = quality;
    }
  }
  return best;
}

function qualityOf(parameters: string[]): number {
  for (const parameter of parameters) {
    const [name = '', value = ''] = parameter.split('=');
    if (name.trim().toLowerCase() !== 'q') continue;
    const quality = Number(value.trim());
    return Number.isFinite(quality) && quality >= 0 && quality <= 1 ? quality : 0;
  }
  return 1;
}
