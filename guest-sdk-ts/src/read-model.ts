/**
 * `ReadModel`: a projection's key-value table, with JSON helpers, over any `Kv`: the host's
 * table in a module, or a table in memory (`MemoryKv`) in native tests.
 */

import { fromUtf8, messageOf, utf8 } from './encoding';
import type { Decoder } from './json';
import { ProjectionError } from './projection';

/** A key and its value. */
export type Entry = [key: Uint8Array, value: Uint8Array];

/** A key: bytes, or text taken as UTF-8. */
export type Key = Uint8Array | string;

/**
 * The most entries one scan returns, whatever its `limit`: the host's cap (`MAX_SCAN` in
 * cairn-runtime), kept by the table in memory too, so a native test pages as a module does.
 */
export const MAX_SCAN = 10_000;

/** A key-value table ordered by key, as the `kv` import offers it. */
export interface Kv {
  get(key: Uint8Array): Uint8Array | undefined;
  put(key: Uint8Array, value: Uint8Array): void;
  delete(key: Uint8Array): void;
  /**
   * Entries whose key starts with `prefix`, in key order, after `startAfter` if given, at most
   * `limit` of them.
   */
  scan(prefix: Uint8Array, startAfter: Uint8Array | undefined, limit: number): Entry[];
}

/** Bytes as a string of one char per byte: strings compare as the bytes do. */
export function byteString(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 0x2000) {
    out += String.fromCharCode(...bytes.subarray(i, i + 0x2000));
  }
  return out;
}

/** A table in memory, for native tests. */
export class MemoryKv implements Kv {
  /** Byte string of the key -> [key, value]. */
  readonly entries = new Map<string, Entry>();

  get(key: Uint8Array): Uint8Array | undefined {
    return this.entries.get(byteString(key))?.[1].slice();
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.entries.set(byteString(key), [key.slice(), value.slice()]);
  }

  delete(key: Uint8Array): void {
    this.entries.delete(byteString(key));
  }

  scan(prefix: Uint8Array, startAfter: Uint8Array | undefined, limit: number): Entry[] {
    const from = byteString(prefix);
    const after = startAfter === undefined ? undefined : byteString(startAfter);
    return [...this.entries.keys()]
      .filter((k) => k.startsWith(from) && (after === undefined || k > after))
      .sort()
      .slice(0, Math.min(limit, MAX_SCAN))
      .map((k) => {
        const [key, value] = this.entries.get(k)!;
        return [key.slice(), value.slice()];
      });
  }

  /** The entries as text, in key order, for comparing tables. */
  dump(): [string, string][] {
    return [...this.entries.keys()].sort().map((k) => [k, byteString(this.entries.get(k)![1])]);
  }
}

const keyBytes = (key: Key): Uint8Array => (typeof key === 'string' ? utf8(key) : key);

/** A read model that can only be read: what `query` gets. */
export class ReadOnlyModel {
  constructor(protected readonly kv: Kv) {}

  /** The value of `key`. */
  get(key: Key): Uint8Array | undefined {
    return this.kv.get(keyBytes(key));
  }

  /**
   * Entries under `prefix`, in key order, after `startAfter`, at most `limit` (and at most
   * `MAX_SCAN`: page on with the last key as `startAfter`).
   */
  scan(prefix: Key, startAfter: Key | undefined, limit: number): Entry[] {
    return this.kv.scan(keyBytes(prefix), startAfter === undefined ? undefined : keyBytes(startAfter), limit);
  }

  /**
   * The value of `key`, decoded from JSON (and checked by `decoder` if given); `undefined` if
   * there is none.
   */
  getJson<T>(key: string, decoder?: Decoder<T>): T | undefined {
    const bytes = this.kv.get(utf8(key));
    return bytes === undefined ? undefined : decodeValue(key, bytes, decoder);
  }

  /**
   * Entries under `prefix`, decoded from JSON, with their keys as text: like `scan`, at most
   * `limit` and at most `MAX_SCAN`.
   */
  scanJson<T>(
    prefix: string,
    startAfter: string | undefined,
    limit: number,
    decoder?: Decoder<T>,
  ): [string, T][] {
    return this.scan(prefix, startAfter, limit).map(([key, value]) => {
      let text: string;
      try {
        text = fromUtf8(key);
      } catch (e) {
        throw new ProjectionError(`a key is not UTF-8: ${messageOf(e)}`);
      }
      return [text, decodeValue(text, value, decoder)];
    });
  }
}

/** A projection's read model: what `apply` gets. */
export class ReadModel extends ReadOnlyModel {
  /** Sets `key` to `value`. */
  put(key: Key, value: Uint8Array): void {
    this.kv.put(keyBytes(key), value);
  }

  /** Removes `key`. */
  delete(key: Key): void {
    this.kv.delete(keyBytes(key));
  }

  /** Sets `key` to `value` as JSON. */
  putJson(key: string, value: unknown): void {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (e) {
      throw new ProjectionError(`the value for ${key} does not encode: ${messageOf(e)}`);
    }
    if (text === undefined) {
      throw new ProjectionError(`the value for ${key} does not encode: ${String(value)} is not JSON`);
    }
    this.kv.put(utf8(key), utf8(text));
  }

  /** Removes `key`. */
  deleteKey(key: string): void {
    this.kv.delete(utf8(key));
  }

  /** A counter kept under `key` (0 if missing), moved by `by`; returns its new value. */
  add(key: string, by: number): number {
    const value = (this.getJson(key, counter) ?? 0) + by;
    this.putJson(key, value);
    return value;
  }
}

const counter: Decoder<number> = (value) => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new Error(`invalid type: ${JSON.stringify(value)}, expected an integer`);
  }
  return value;
};

function decodeValue<T>(key: string, bytes: Uint8Array, decoder: Decoder<T> | undefined): T {
  try {
    const value: unknown = JSON.parse(fromUtf8(bytes));
    return decoder === undefined ? (value as T) : decoder(value, '');
  } catch (e) {
    throw new ProjectionError(`the value at ${key} does not decode: ${messageOf(e)}`);
  }
}
