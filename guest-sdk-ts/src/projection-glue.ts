/**
 * What an exported projection does, in the shapes of the WIT interface `projection`: the
 * module's exports call these with the host's table, and the testing harness with a table in
 * memory.
 *
 * A `ProjectionError` (from `apply`, `query` or a value in the read model that does not decode)
 * and an event or query that does not decode are errors the host is told of. Anything else
 * thrown (a bug in the module) is not caught here: the call traps, as a panic does in a Rust
 * module.
 */

import { decodeTagged, messageOf, requireSync, type TaggedValue } from './encoding';
import type { Result } from './glue';
import { type AnyProjection as Projection, isProjectionError, Recorded, Subscription } from './projection';
import { type Kv, ReadModel, ReadOnlyModel } from './read-model';

/** An event from the global log as it crosses the boundary. */
export interface WitRecordedEvent {
  streamName: string;
  version: bigint;
  position: bigint;
  eventType: string;
  data: string;
  metadata: string;
  recordedAt: bigint;
}

/** Which events the host delivers. */
export interface WitFilter {
  categories: string[];
  eventTypes: string[];
}

/** Why `apply` stopped: the index of the event in the batch, and the reason. */
export interface WitApplyError {
  index: number;
  message: string;
}

const ok = <T>(val: T): { tag: 'ok'; val: T } => ({ tag: 'ok', val });
const err = <E>(val: E): { tag: 'err'; val: E } => ({ tag: 'err', val });

/** The projection's subscription. */
export function subscription(projection: Projection): WitFilter {
  const s = projection.subscription ?? Subscription.everything();
  return { categories: [...s.categories], eventTypes: [...s.eventTypes] };
}

/**
 * Applies `events` in order through `kv`. Events of types the projection does not name are
 * skipped. On an error, returns the index of the event that failed and why.
 */
export function apply(
  projection: Projection,
  kv: Kv,
  events: readonly WitRecordedEvent[],
): Result<undefined, WitApplyError> {
  const model = new ReadModel(kv);
  for (const [index, raw] of events.entries()) {
    if (!Object.hasOwn(projection.events, raw.eventType)) continue;
    let event: TaggedValue;
    try {
      event = decodeTagged(projection.events, raw.eventType, raw.data);
    } catch (e) {
      return err({ index, message: `event ${raw.eventType} does not decode: ${messageOf(e)}` });
    }
    const recorded = new Recorded(
      raw.streamName,
      Number(raw.version),
      Number(raw.position),
      Number(raw.recordedAt),
      raw.metadata,
      event as never,
    );
    try {
      requireSync(projection.apply(model, recorded), 'apply');
    } catch (e) {
      if (isProjectionError(e)) return err({ index, message: e.message });
      throw e;
    }
  }
  return ok(undefined);
}

/** Answers the JSON `request` from `kv`. */
export function query(projection: Projection, kv: Kv, request: string): Result<string, string> {
  let decoded: unknown;
  try {
    decoded = projection.queries(JSON.parse(request), '');
  } catch (e) {
    return err(`the query does not decode: ${messageOf(e)}`);
  }
  let answer: unknown;
  try {
    answer = projection.query(new ReadOnlyModel(kv), decoded);
    requireSync(answer, 'query');
  } catch (e) {
    if (isProjectionError(e)) return err(e.message);
    throw e;
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(answer);
  } catch (e) {
    return err(`the answer does not encode: ${messageOf(e)}`);
  }
  return ok(text ?? 'null');
}
