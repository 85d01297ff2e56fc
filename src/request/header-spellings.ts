/**
 * What upstreams read as "-": Rack, WSGI, PHP and CGI fold "-" to "_" (`x-kratos-identity_id`
 * is HTTP_X_KRATOS_IDENTITY_ID there), and PHP also folds "." into "_" when it registers
 * $_SERVER (`x.kratos.aal`, through its built-in server or a FastCGI gateway that keeps it).
 */
const SEPARATORS = ['-', '_', '.'] as const;

/**
 * The most "-" a header name this service sets may have (config/identity-names.ts): each one
 * triples the spellings of spellingsOf, which every allow on the Envoy doors names for removal.
 */
export const MAX_NAME_SEPARATORS = 4;

const spellingsByName = new Map<string, readonly string[]>();

/**
 * Every spelling of `name` with each "-" read as any of SEPARATORS, the name itself first: a
 * client copy of any of them reads as the header itself to such an upstream (an identity header
 * an allow sets, a method override). Lower case covers every case: Envoy carries header names
 * lower-cased (HTTP/1 codec, HTTP/2 and HTTP/3 rules), and so does HeaderLines. Memoised: the
 * names are a handful (configured or fixed), and this runs on every check.
 */
export function spellingsOf(name: string): readonly string[] {
  let spellings = spellingsByName.get(name);
  if (spellings === undefined) {
    spellings = name
      .split('-')
      .reduce<string[]>(
        (heads, part, index) =>
          index === 0 ? [part] : heads.flatMap((head) => SEPARATORS.map((separator) => `${head}${separator}${part}`)),
        [],
      );
    spellingsByName.set(name, spellings);
  }
  return spellings;
}
