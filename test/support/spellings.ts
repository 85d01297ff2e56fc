/**
 * Every "-"/"_" spelling of a lower-case header name, counted out by bit mask: the tests' own
 * enumeration, apart from src/envoy/headers-to-remove.ts, of the names CGI-style upstreams fold
 * into one (HTTP_X_KRATOS_AAL for x-kratos-aal, x_kratos-aal, x-kratos_aal and x_kratos_aal).
 */
export function allSpellings(name: string): string[] {
  const parts = name.split('-');
  const spellings: string[] = [];
  for (let mask = 0; mask < 2 ** (parts.length - 1); mask += 1) {
    spellings.push(parts.reduce((spelled, part, index) => (index === 0 ? part : `${spelled}${(mask >> (index - 1)) & 1 ? '_' : '-'}${part}`), ''));
  }
  return spellings;
}

/** The spellings a client may forge beside the name itself. */
export function otherSpellings(name: string): string[] {
  return allSpellings(name).filter((spelling) => spelling !== name);
}
