/**
 * Every spelling of a lower-case header name with each "-" read as "-", "_" or ".", counted out
 * in base 3: the tests' own enumeration, apart from src/envoy/headers-to-remove.ts, of the names
 * CGI-style upstreams fold into one (HTTP_X_KRATOS_AAL for x-kratos-aal, x_kratos-aal,
 * x-kratos_aal, x.kratos.aal, … : Rack, WSGI and CGI fold "-", PHP "." too).
 */
export function allSpellings(name: string): string[] {
  const parts = name.split('-');
  const separators = ['-', '_', '.'];
  const spellings: string[] = [];
  for (let count = 0; count < separators.length ** (parts.length - 1); count += 1) {
    let digits = count;
    spellings.push(
      parts.reduce((spelled, part, index) => {
        if (index === 0) return part;
        const separator = separators[digits % separators.length] as string;
        digits = Math.floor(digits / separators.length);
        return `${spelled}${separator}${part}`;
      }, ''),
    );
  }
  return spellings;
}

/** The spellings a client may forge beside the name itself. */
export function otherSpellings(name: string): string[] {
  return allSpellings(name).filter((spelling) => spelling !== name);
}
