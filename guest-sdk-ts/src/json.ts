/**
 * Decoders: the shape of a JSON value, checked at run time, with its TypeScript type inferred.
 * They play the part serde's derived `Deserialize` plays in the Rust SDK: a command, an event, a
 * state or a query that does not have the declared shape is refused with a message, and fields
 * the shape does not name are dropped.
 *
 * ```ts
 * const deposit = json.object({ amount: json.integer });
 * type Deposit = Infer<typeof deposit>; // { amount: number }
 * ```
 */

/** Checks a JSON value (as `JSON.parse` gives it) and returns it as `T`, or throws a `DecodeError`. */
export type Decoder<T> = (value: unknown, path: string) => T;

/** The type a decoder gives. */
export type Infer<D> = D extends Decoder<infer T> ? T : never;

/** A JSON value that does not have the expected shape. */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return `string ${JSON.stringify(value)}`;
    case 'number':
      return `number ${value}`;
    case 'boolean':
      return `boolean ${value}`;
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

function fail(path: string, expected: string, value: unknown): never {
  const at = path === '' ? '' : ` at ${path}`;
  throw new DecodeError(`invalid type: ${describe(value)}, expected ${expected}${at}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const string: Decoder<string> = (value, path) =>
  typeof value === 'string' ? value : fail(path, 'a string', value);

const boolean: Decoder<boolean> = (value, path) =>
  typeof value === 'boolean' ? value : fail(path, 'a boolean', value);

const number: Decoder<number> = (value, path) =>
  typeof value === 'number' && Number.isFinite(value) ? value : fail(path, 'a number', value);

/**
 * A whole number that JavaScript holds exactly: between -(2^53 - 1) and 2^53 - 1. (A Rust `i64`
 * reaches 2^63 - 1; a TypeScript module that needs more keeps the number in a string.)
 */
const integer: Decoder<number> = (value, path) =>
  typeof value === 'number' && Number.isSafeInteger(value)
    ? value
    : fail(path, 'an integer between -(2^53 - 1) and 2^53 - 1', value);

/** A whole number from 0 to 2^32 - 1, like a Rust `u32`. */
const u32: Decoder<number> = (value, path) =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff
    ? value
    : fail(path, 'an integer from 0 to 4294967295', value);

/** Any JSON value, unchecked. */
const unknown: Decoder<unknown> = (value) => value;

/** No content: a command or event without data (`null` or absent), like a Rust unit variant. */
const unit: Decoder<null> = (value, path) =>
  value === undefined || value === null ? null : fail(path, 'no data (null)', value);

/** `inner`, or `null` where the value is `null` or absent, like a Rust `Option`. */
function nullable<T>(inner: Decoder<T>): Decoder<T | null> {
  return (value, path) => (value === undefined || value === null ? null : inner(value, path));
}

/** An array of `inner`. */
function array<T>(inner: Decoder<T>): Decoder<T[]> {
  return (value, path) => {
    if (!Array.isArray(value)) fail(path, 'an array', value);
    return value.map((item, index) => inner(item, `${path}[${index}]`));
  };
}

/** An object with string keys and values of `inner`, like a Rust `BTreeMap<String, T>`. */
function dict<T>(inner: Decoder<T>): Decoder<Record<string, T>> {
  return (value, path) => {
    if (!isObject(value)) fail(path, 'an object', value);
    const out: Record<string, T> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = inner(item, path === '' ? key : `${path}.${key}`);
    }
    return out;
  };
}

type Shape = Record<string, Decoder<unknown>>;
type FromShape<S extends Shape> = { [K in keyof S]: Infer<S[K]> };

/**
 * An object with these fields, in this order. A field missing from the value is passed to its
 * decoder as `undefined` (which `nullable` accepts); fields the shape does not name are dropped.
 */
function object<S extends Shape>(shape: S): Decoder<FromShape<S>> {
  return (value, path) => {
    if (!isObject(value)) fail(path, 'an object', value);
    const out: Record<string, unknown> = {};
    for (const [key, decode] of Object.entries(shape)) {
      const field = value[key];
      let decoded: unknown;
      try {
        decoded = decode(field, path === '' ? key : `${path}.${key}`);
      } catch (e) {
        if (field === undefined && e instanceof DecodeError) {
          throw new DecodeError(`missing field \`${key}\`${path === '' ? '' : ` at ${path}`}`);
        }
        throw e;
      }
      // An `optional` field that is absent stays absent.
      if (decoded !== undefined) out[key] = decoded;
    }
    return out as FromShape<S>;
  };
}

/** `inner`, or `undefined` where the field is absent; the field is then left out. */
function optional<T>(inner: Decoder<T>): Decoder<T | undefined> {
  return (value, path) => (value === undefined ? undefined : inner(value, path));
}

type Variants = Record<string, Decoder<Record<string, unknown> | null>>;
type Internally<Tag extends string, V extends Variants> = {
  [K in keyof V & string]: { [T in Tag]: K } & (Infer<V[K]> extends null ? unknown : Infer<V[K]>);
}[keyof V & string];

/**
 * A union told apart by the field `tag`, with the other fields beside it, like a Rust enum with
 * `#[serde(tag = "type")]`: `json.tagged('type', { top: json.object({ n: json.u32 }), total:
 * json.unit })` decodes `{"type": "top", "n": 3}` and `{"type": "total"}`.
 */
function tagged<Tag extends string, V extends Variants>(tag: Tag, variants: V): Decoder<Internally<Tag, V>> {
  return (value, path) => {
    if (!isObject(value)) fail(path, 'an object', value);
    const name = value[tag];
    if (name === undefined) {
      throw new DecodeError(`missing field \`${tag}\`${path === '' ? '' : ` at ${path}`}`);
    }
    if (typeof name !== 'string' || !Object.hasOwn(variants, name)) {
      throw unknownVariant(name, Object.keys(variants));
    }
    const decode = variants[name]!;
    const { [tag]: _, ...rest } = value;
    const fields = decode === unit ? null : decode(rest, path);
    return { [tag]: name, ...(fields ?? {}) } as Internally<Tag, V>;
  };
}

/** serde's message for a type name that names no variant. */
export function unknownVariant(name: unknown, known: string[]): DecodeError {
  const expected =
    known.length === 0
      ? 'there are no variants'
      : `expected ${known.length === 1 ? '' : 'one of '}${known.map((k) => `\`${k}\``).join(', ')}`;
  const shown = typeof name === 'string' ? `\`${name}\`` : describe(name);
  return new DecodeError(`unknown variant ${shown}, ${expected}`);
}

/** The decoders. */
export const json = {
  string,
  boolean,
  number,
  integer,
  u32,
  unknown,
  unit,
  nullable,
  optional,
  array,
  dict,
  object,
  tagged,
} as const;

/** Parses JSON text and decodes it with `decoder`. */
export function parseWith<T>(text: string, decoder: Decoder<T>): T {
  return decoder(JSON.parse(text), '');
}
