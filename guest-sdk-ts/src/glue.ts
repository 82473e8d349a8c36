/**
 * What an exported aggregate does, in the shapes of the WIT interface `aggregate`: the module's
 * exports call these, and so does the testing harness, so native tests exercise the encoding a
 * module uses.
 *
 * Encodings, as in the Rust SDK:
 * - the state bytes are the state as UTF-8 JSON (so `stateJson` is the bytes as text);
 * - an event or a command is a type name and JSON data.
 *
 * A `Rejection` from `decide` is `rejected`; a state, command or event that does not decode is
 * `invalid`. Anything else thrown (a bug in the module) is not caught here: the call traps, as a
 * panic does in a Rust module.
 */

import { type AnyAggregate as Aggregate, isRejection } from './aggregate';
import { decodeTagged, encodeTagged, fromUtf8, messageOf, requireSync, type TaggedValue, utf8 } from './encoding';

/** A result as a WIT export returns it. */
export type Result<T, E> = { tag: 'ok'; val: T } | { tag: 'err'; val: E };

/** An event as it crosses the boundary. */
export interface WitEvent {
  eventType: string;
  data: string;
}

/** A command as it crosses the boundary. */
export interface WitCommand {
  commandType: string;
  data: string;
}

/** Why `decide` gave no events. */
export type DecideError = { tag: 'rejected'; val: string } | { tag: 'invalid'; val: string };

const ok = <T>(val: T): { tag: 'ok'; val: T } => ({ tag: 'ok', val });
const err = <E>(val: E): { tag: 'err'; val: E } => ({ tag: 'err', val });
const invalid = (val: string): { tag: 'err'; val: DecideError } => err({ tag: 'invalid', val });
const rejected = (val: string): { tag: 'err'; val: DecideError } => err({ tag: 'rejected', val });

/** The state bytes of an aggregate with no events. */
export function init(aggregate: Aggregate): Uint8Array {
  return encodeState(aggregate.initialState);
}

/** Folds `events`, oldest first, into `state`. */
export function evolve(
  aggregate: Aggregate,
  state: Uint8Array,
  events: readonly WitEvent[],
): Result<Uint8Array, string> {
  let current: unknown;
  try {
    current = decodeState(aggregate, state);
  } catch (e) {
    return err(messageOf(e));
  }
  for (const [index, { eventType, data }] of events.entries()) {
    let event: TaggedValue;
    try {
      event = decodeTagged(aggregate.events, eventType, data);
    } catch (e) {
      return err(`event ${index} (${eventType}) does not decode: ${messageOf(e)}`);
    }
    const next = aggregate.evolve(current, event as never);
    requireSync(next, 'evolve');
    if (next !== undefined) current = next;
  }
  return ok(encodeState(current));
}

/** Decides what `command` does given `state`. */
export function decide(
  aggregate: Aggregate,
  state: Uint8Array,
  command: WitCommand,
): Result<WitEvent[], DecideError> {
  let current: unknown;
  try {
    current = decodeState(aggregate, state);
  } catch (e) {
    return invalid(messageOf(e));
  }
  let decoded: TaggedValue;
  try {
    decoded = decodeTagged(aggregate.commands, command.commandType, command.data);
  } catch (e) {
    return invalid(`command ${command.commandType} does not decode: ${messageOf(e)}`);
  }
  let decided: unknown;
  try {
    decided = aggregate.decide(current, decoded as never);
  } catch (e) {
    if (isRejection(e)) return rejected(e.message);
    throw e;
  }
  requireSync(decided, 'decide');
  if (isRejection(decided)) return rejected(decided.message);
  if (!Array.isArray(decided)) {
    throw new TypeError('decide must return an array of events or a Rejection');
  }
  const events: WitEvent[] = [];
  for (const event of decided as TaggedValue[]) {
    try {
      const [eventType, data] = encodeTagged(aggregate.events, event);
      events.push({ eventType, data });
    } catch (e) {
      const name = typeof event?.type === 'string' ? event.type : String(event);
      return invalid(`the event ${name} that decide returned does not encode: ${messageOf(e)}`);
    }
  }
  return ok(events);
}

/** The state as JSON text. */
export function stateJson(_aggregate: Aggregate, state: Uint8Array): Result<string, string> {
  try {
    return ok(fromUtf8(state));
  } catch (e) {
    return err(`state is not UTF-8 JSON: ${messageOf(e)}`);
  }
}

/** Encodes a state as UTF-8 JSON. A state that JSON cannot hold is the module's bug: it throws. */
export function encodeState(state: unknown): Uint8Array {
  const text = JSON.stringify(state);
  if (text === undefined) {
    throw new TypeError(`the state does not serialise as JSON: ${String(state)}`);
  }
  return utf8(text);
}

/** Decodes state bytes with the aggregate's state decoder. */
export function decodeState(aggregate: Aggregate, state: Uint8Array): unknown {
  try {
    return aggregate.state(JSON.parse(fromUtf8(state)), '');
  } catch (e) {
    throw new Error(`state does not decode: ${messageOf(e)}`);
  }
}
