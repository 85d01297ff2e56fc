/**
 * The configured identity traits of a session (identity_headers, upstream_jwt.claims), read
 * once from whoami's `identity.traits` and kept with the cached session: only these values,
 * never the whole traits object, so a session's memory stays bounded by the configuration.
 */

/** Longest trait value passed on, in UTF-8 bytes: a header line or claim, not a document. */
const MAX_TRAIT_BYTES = 1024;

/** Why a configured trait that is present was not passed on (the metric's `reason` label). */
export type LeftOutReason = 'unsafe' | 'not_text';

/** A configured trait as read: its text, or why it was left out. A missing trait has no reading. */
export type TraitReading = { text: string } | { leftOut: LeftOutReason };

/** Readings by dot path (`traits.name.first`); a path whose trait is absent is not a key. */
export type TraitValues = ReadonlyMap<string, TraitReading>;

const NO_TRAITS: TraitValues = new Map();

// C0 controls, DEL and the C1 controls: they split or smuggle header lines and log lines.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Reads each path (each starting with `traits.`) from whoami's `identity.traits`. */
export function readTraits(traits: unknown, paths: readonly string[]): TraitValues {
  if (paths.length === 0) return NO_TRAITS;
  const values = new Map<string, TraitReading>();
  for (const path of paths) {
    const reading = readingOf(valueAt(traits, path.split('.').slice(1)));
    if (reading) values.set(path, reading);
  }
  return values;
}

/** Own properties only: a path can never reach a prototype's members. */
function valueAt(root: unknown, segments: readonly string[]): unknown {
  let value = root;
  for (const segment of segments) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, segment))
      return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

function readingOf(value: unknown): TraitReading | undefined {
  if (value === undefined || value === null) return undefined;
  const text =
    typeof value === 'string' ? value : typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;
  if (text === undefined) return { leftOut: 'not_text' };
  if (CONTROL.test(text) || Buffer.byteLength(text, 'utf8') > MAX_TRAIT_BYTES) return { leftOut: 'unsafe' };
  return { text };
}

// What every proxy carries unchanged in a header value: visible ASCII and inner spaces. Node
// refuses characters past U+00FF, and the rest of Latin-1 reads differently in every upstream.
const HEADER_SAFE = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;

/** A reading fit for a header line: in JSON claims UTF-8 is fine, in a header only ASCII is. */
export function headerReading(reading: TraitReading): TraitReading {
  return 'text' in reading && !HEADER_SAFE.test(reading.text) ? { leftOut: 'unsafe' } : reading;
}
