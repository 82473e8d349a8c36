/**
 * How values cross the boundary: UTF-8 JSON bytes for state and read model values, and
 * `(type name, JSON data)` for commands and events.
 */

import type { Variants } from './aggregate';
import { DecodeError, unknownVariant } from './json';

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** `text` as UTF-8. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** `bytes` as text; throws where they are not UTF-8. */
export function fromUtf8(bytes: Uint8Array): string {
  return strictDecoder.decode(bytes);
}

/** The message of a thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A variant value as it crosses the boundary: `{ type, data }` decoded, or its type and JSON. */
export interface TaggedValue {
  type: string;
  data?: unknown;
}

/**
 * Decodes the variant `typeName` of `variants` from its JSON `data`, as the Rust SDK decodes
 * `{"type": typeName, "data": data}`: empty or `null` data is no data, and an unknown type name
 * is an error that names the known ones.
 */
export function decodeTagged(variants: Variants, typeName: string, data: string): TaggedValue {
  if (!Object.hasOwn(variants, typeName)) {
    throw unknownVariant(typeName, Object.keys(variants));
  }
  const decode = variants[typeName]!;
  const trimmed = data.trim();
  const absent = trimmed === '' || trimmed === 'null';
  let value: unknown;
  if (!absent) {
    try {
      value = JSON.parse(data);
    } catch (e) {
      throw new DecodeError(messageOf(e));
    }
  }
  try {
    return { type: typeName, data: decode(value, absent ? '' : 'data') };
  } catch (e) {
    if (absent && e instanceof DecodeError) {
      throw new DecodeError('missing field `data`');
    }
    throw e;
  }
}

/**
 * Encodes a variant value as `(type name, JSON data)`; data that is absent is `null`. The value
 * must be one of `variants` and decode again as itself, so that what is stored can be read back.
 */
export function encodeTagged(variants: Variants, value: TaggedValue): [string, string] {
  if (typeof value !== 'object' || value === null || typeof value.type !== 'string') {
    throw new DecodeError('a variant must be an object { type, data } with a string type');
  }
  if (!Object.hasOwn(variants, value.type)) {
    throw unknownVariant(value.type, Object.keys(variants));
  }
  let data: string;
  try {
    data = JSON.stringify(value.data ?? null);
  } catch (e) {
    throw new DecodeError(`its data does not serialise: ${messageOf(e)}`);
  }
  decodeTagged(variants, value.type, data);
  return [value.type, data];
}

/** Refuses a promise where a module function must answer at once (the call then traps). */
export function requireSync(value: unknown, what: string): void {
  if (typeof (value as { then?: unknown } | null)?.then === 'function') {
    throw new TypeError(`${what} returned a promise: it must not be async`);
  }
}
