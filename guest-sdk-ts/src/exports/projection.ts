/**
 * The exports of the `projection-module` world for a projection, over the host's table (the
 * `kv` import). Only in a module: the build bundles an entry that exports `projection` from
 * `exportProjection(<the module's default export>)`.
 */

/// <reference path="../generated/projection-module.d.ts" />

import * as hostKv from 'cairn:module/kv@0.1.0';
import { write } from 'cairn:module/log@0.1.0';
import type * as wit from 'cairn:module/projection@0.1.0';
import type { ApplyError, Filter, RecordedEvent } from 'cairn:module/projection@0.1.0';

import type { Result } from '../glue';
import { setLogSink } from '../log';
import type { AnyProjection as Projection } from '../projection';
import * as glue from '../projection-glue';
import { byteString, type Entry, type Kv } from '../read-model';
import type { Conforms } from './conforms';
import { fault, requireKind } from './fault';

/**
 * The host's table through the `kv` import.
 *
 * Writes stay in the module until `flush` sends them in one `write-many` call (the export
 * flushes when `apply` succeeds; a scan flushes first, so the host's scan sees them). Reads see
 * them before the host's table. A batch of events thus crosses into the host once for its
 * writes, not once per write; the host keeps one value per key either way, and the last write
 * to a key is the one that lands. The same as the Rust SDK's `HostKv`.
 */
export class HostKv implements Kv {
  /** Byte string of the key -> [key, its new value or `undefined` for a delete]. */
  private unsent = new Map<string, [Uint8Array, Uint8Array | undefined]>();

  get(key: Uint8Array): Uint8Array | undefined {
    const pending = this.unsent.get(byteString(key));
    if (pending !== undefined) return pending[1]?.slice();
    return hostKv.get(key);
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.unsent.set(byteString(key), [key.slice(), value.slice()]);
  }

  delete(key: Uint8Array): void {
    this.unsent.set(byteString(key), [key.slice(), undefined]);
  }

  scan(prefix: Uint8Array, startAfter: Uint8Array | undefined, limit: number): Entry[] {
    this.flush();
    return hostKv.scan(prefix, startAfter, limit);
  }

  /** Sends the writes kept so far to the host. */
  flush(): void {
    if (this.unsent.size === 0) return;
    const entries = [...this.unsent.values()];
    this.unsent = new Map();
    hostKv.writeMany(entries);
  }
}

/** The functions of the `projection` interface (see `AggregateExports` for results). */
export interface ProjectionExports {
  subscription(): Filter;
  apply(events: RecordedEvent[]): Result<undefined, ApplyError>;
  query(request: string): Result<string, string>;
}

/** These exports are those of the WIT interface (see `Conforms`). */
export const conformsToWit: Conforms<typeof wit, ProjectionExports> = true;

export function exportProjection(definition: Projection): ProjectionExports {
  requireKind(definition, 'projection');
  setLogSink(write);
  return {
    subscription: () => fault(() => glue.subscription(definition)),
    apply: (events) =>
      fault(() => {
        const kv = new HostKv();
        // The writes go to the host in one call, and only if the batch is taken.
        const applied = glue.apply(definition, kv, events);
        if (applied.tag === 'ok') kv.flush();
        return applied;
      }),
    query: (request) => fault(() => glue.query(definition, new HostKv(), request)),
  };
}
