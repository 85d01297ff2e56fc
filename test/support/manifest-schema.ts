/**
 * Validation of a manifest against its kubernetes-models schema, unknown keys included. The
 * packages' validators check types, enums and required fields but ignore unknown keys, so a
 * misspelt field (`readinesProbe`) would pass silently: the validator also runs on a recording
 * proxy, and a key it never read in an object whose properties the schema describes is unknown
 * to the schema. Objects the schema leaves open (maps, free-form objects) are left alone.
 */
import type { Json } from './project-files';

export interface Validatable {
  validate(): void;
}
export type ModelClass = { new (data: never): Validatable; prototype: Validatable };

/** Problems with `doc` as an instance of `Model`, or []; `open`: the schema describes nothing past metadata. */
export function schemaProblems(Model: ModelClass, doc: Json, options: { open?: boolean } = {}): string[] {
  const model = new Model(doc as never);
  const problems: string[] = [];
  try {
    model.validate();
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }
  if (!options.open) problems.push(...unknownFields(model, Model.prototype.validate));
  return problems;
}

/** Runs `validate` against a proxy and returns the keys of schema-described objects it never read. */
function unknownFields(model: Validatable, validate: (this: Validatable) => void): string[] {
  const read = new Map<object, Set<string> | 'all'>();
  const proxies = new WeakMap<object, object>();
  const note = (target: object, key: string | symbol): void => {
    if (typeof key !== 'string') return;
    const keys = read.get(target);
    if (keys === 'all') return;
    if (keys) keys.add(key);
    else read.set(target, new Set([key]));
  };
  const wrap = <T>(value: T): T => {
    if (typeof value !== 'object' || value === null) return value;
    const cached = proxies.get(value);
    if (cached) return cached as T;
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        note(target, key);
        return wrap(Reflect.get(target, key, receiver) as unknown);
      },
      has(target, key) {
        note(target, key);
        return Reflect.has(target, key);
      },
      // Enumeration means the schema treats the object as a map (or checks additionalProperties
      // itself): every key is accounted for.
      ownKeys(target) {
        read.set(target, 'all');
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };
  try {
    validate.call(wrap(model));
  } catch {
    // Schema errors are reported by the plain validate() call.
  }
  const unknown: string[] = [];
  const walk = (value: unknown, path: string): void => {
    if (typeof value !== 'object' || value === null) return;
    if (Array.isArray(value)) {
      value.forEach((item, index) => walk(item, `${path}/${index}`));
      return;
    }
    const keys = read.get(value);
    if (keys === undefined) return; // the schema does not describe this object's properties
    for (const [key, child] of Object.entries(value)) {
      if (keys !== 'all' && !keys.has(key)) unknown.push(`${path}/${key}: unknown field`);
      else walk(child, `${path}/${key}`);
    }
  };
  walk(model, '');
  return unknown;
}
