/**
 * @cairn/sdk: cairn aggregates and projections in TypeScript, built into WebAssembly components
 * for the worlds of wit/cairn.wit by `bin/cairn-ts-build.mjs`.
 *
 * A module's entry file exports, as its default export, what `defineAggregate` or
 * `defineProjection` returns. The build wraps it in the exports of the `aggregate-module` or
 * `projection-module` world (`src/exports/`); native tests (`@cairn/sdk/testing`) call the same
 * glue with the same encoding.
 */

export {
  type Aggregate,
  type AggregateBehaviour,
  type AggregateTypes,
  type AnyAggregate,
  type CommandOf,
  defineAggregate,
  type EventOf,
  isRejection,
  type OneOf,
  reject,
  Rejection,
  type StateOf,
  type Variants,
} from './aggregate';
export { type Decoder, DecodeError, type Infer, json, parseWith } from './json';
export { type Level, log } from './log';
export {
  type AnswerOf,
  defineProjection,
  isProjectionError,
  type Projection,
  type ProjectionEventOf,
  ProjectionError,
  type ProjectionBehaviour,
  type ProjectionTypes,
  type AnyProjection,
  type QueryOf,
  Recorded,
  Subscription,
} from './projection';
export { type Entry, type Key, type Kv, MAX_SCAN, MemoryKv, ReadModel, ReadOnlyModel } from './read-model';
export { fromUtf8, utf8 } from './encoding';
