/**
 * `defineAggregate`: an event-sourced aggregate that decides what a command does and folds
 * events into state, the TypeScript form of the Rust SDK's `Aggregate` trait.
 */

import type { Decoder, Infer } from './json';

/**
 * Decoders of a family of variants, by type name: the commands or the events of an aggregate.
 * Each decodes the variant's data; `json.unit` marks a variant without data.
 */
export type Variants = Record<string, Decoder<unknown>>;

/**
 * One of `V`'s variants as a value: `{ type, data }`, the adjacently tagged form the Rust SDK's
 * enums take (`#[serde(tag = "type", content = "data")]`). A variant without data has `data`
 * `null` or absent.
 */
export type OneOf<V extends Variants> = {
  [K in keyof V & string]: Infer<V[K]> extends null
    ? { type: K; data?: null }
    : { type: K; data: Infer<V[K]> };
}[keyof V & string];

const REJECTION = Symbol.for('cairn.sdk.rejection');

/**
 * Why a command was refused, in words for the caller (the HTTP API answers 422 `rejected`).
 * `decide` throws it or returns it.
 */
export class Rejection extends Error {
  readonly [REJECTION] = true;

  constructor(message: string) {
    super(message);
    this.name = 'Rejection';
  }
}

/** Whether `value` is a `Rejection` (from any copy of this package). */
export function isRejection(value: unknown): value is Rejection {
  return (
    typeof value === 'object' && value !== null && (value as { [REJECTION]?: unknown })[REJECTION] === true
  );
}

/** Refuses the command with `message`. */
export function reject(message: string): never {
  throw new Rejection(message);
}

/** What an aggregate is made of: its state, commands and events. See `defineAggregate`. */
export interface AggregateTypes<S, CV extends Variants, EV extends Variants> {
  /** Decodes the state from its JSON (the stored state bytes are the state as JSON). */
  state: Decoder<S>;
  /** The state before any event, like `Default` in Rust. */
  initialState: NoInfer<S>;
  /** The commands, by type name. */
  commands: CV;
  /** The events, by type name. */
  events: EV;
}

/** What an aggregate does. See `defineAggregate`. */
export interface AggregateBehaviour<S, CV extends Variants, EV extends Variants> {
  /**
   * Decides what `command` does given `state`: the events it causes, in order, or why it is
   * refused (a `Rejection`, thrown or returned). It must be pure: the host replays it.
   */
  decide(state: S, command: OneOf<CV>): readonly OneOf<EV>[] | Rejection;
  /**
   * Folds one event into `state`: returns the new state, or changes `state` in place and
   * returns nothing. It must not fail: the event already happened.
   */
  evolve(state: S, event: OneOf<EV>): S | void;
}

/** An aggregate, as `defineAggregate` returns it: the module's default export. */
export interface Aggregate<S = unknown, CV extends Variants = Variants, EV extends Variants = Variants>
  extends AggregateTypes<S, CV, EV>, AggregateBehaviour<S, CV, EV> {
  readonly kind: 'aggregate';
}

/** Any aggregate, whatever its types: what the glue takes. */
export type AnyAggregate = Aggregate<any, any, any>;

/** The state of an aggregate. */
export type StateOf<A> = A extends Aggregate<infer S, infer _CV, infer _EV> ? S : never;
/** The commands of an aggregate. */
export type CommandOf<A> = A extends Aggregate<infer _S, infer CV, infer _EV> ? OneOf<CV> : never;
/** The events of an aggregate. */
export type EventOf<A> = A extends Aggregate<infer _S, infer _CV, infer EV> ? OneOf<EV> : never;

/**
 * Defines an aggregate from its types (first) and its behaviour (second), and is exported as the
 * module's default export. Commands and events are `{ type, data }` values (see `OneOf`);
 * `decide` and `evolve` see them decoded and checked.
 *
 * ```ts
 * export default defineAggregate(
 *   {
 *     state: json.object({ value: json.integer }),
 *     initialState: { value: 0 },
 *     commands: { Add: json.object({ by: json.integer }) },
 *     events: { Added: json.object({ by: json.integer }) },
 *   },
 *   {
 *     decide: (_, { data: { by } }) =>
 *       by === 0 ? reject('add at least 1') : [{ type: 'Added', data: { by } }],
 *     evolve: (state, { data: { by } }) => ({ value: state.value + by }),
 *   },
 * );
 * ```
 *
 * (Two arguments, so that TypeScript knows the types before it reads the functions.)
 */
export function defineAggregate<S, CV extends Variants, EV extends Variants>(
  types: AggregateTypes<S, CV, EV>,
  behaviour: AggregateBehaviour<NoInfer<S>, NoInfer<CV>, NoInfer<EV>>,
): Aggregate<S, CV, EV> {
  return { ...types, decide: behaviour.decide, evolve: behaviour.evolve, kind: 'aggregate' };
}
