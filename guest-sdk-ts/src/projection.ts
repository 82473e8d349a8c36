/**
 * `defineProjection`: a read model folded from the global log and queried with JSON, the
 * TypeScript form of the Rust SDK's `Projection` trait.
 */

import type { OneOf, Variants } from './aggregate';
import type { Decoder } from './json';
import type { ReadModel, ReadOnlyModel } from './read-model';

const PROJECTION_ERROR = Symbol.for('cairn.sdk.projection-error');

/**
 * Why a projection could not apply an event or answer a query. The message is shown in the
 * projection's status, or returned to the caller of a query.
 */
export class ProjectionError extends Error {
  readonly [PROJECTION_ERROR] = true;

  constructor(message: string) {
    super(message);
    this.name = 'ProjectionError';
  }
}

/** Whether `value` is a `ProjectionError` (from any copy of this package). */
export function isProjectionError(value: unknown): value is ProjectionError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { [PROJECTION_ERROR]?: unknown })[PROJECTION_ERROR] === true
  );
}

/** The category of a stream: the part of its name before the first `-` (all of it if none). */
function categoryOf(stream: string): string {
  const dash = stream.indexOf('-');
  return dash < 0 ? stream : stream.slice(0, dash);
}

/** Which events a projection receives. An empty list lets everything through. */
export class Subscription {
  private constructor(
    /** Stream categories: the part of a stream name before the first `-`. */
    readonly categories: readonly string[],
    /** Event type names. */
    readonly eventTypes: readonly string[],
  ) {}

  /** Every event. */
  static everything(): Subscription {
    return new Subscription([], []);
  }

  /** Only events of streams in `category` (add more with `andCategory`). */
  static category(category: string): Subscription {
    return Subscription.everything().andCategory(category);
  }

  /** Events of streams in `category` too. */
  andCategory(category: string): Subscription {
    return new Subscription([...this.categories, category], this.eventTypes);
  }

  /** Only events of these types. */
  withEventTypes(types: Iterable<string>): Subscription {
    return new Subscription(this.categories, [...this.eventTypes, ...types]);
  }

  /**
   * Whether an event of `eventType` in `stream` gets through: the host's rule
   * (`ProjectionFilter::admits` in cairn-runtime), which the native tests apply too.
   */
  admits(stream: string, eventType: string): boolean {
    const category = categoryOf(stream);
    return (
      (this.categories.length === 0 || this.categories.includes(category)) &&
      (this.eventTypes.length === 0 || this.eventTypes.includes(eventType))
    );
  }
}

/** An event from the global log, with where and when it was stored. */
export class Recorded<E> {
  constructor(
    /** Its stream, such as `customers-c1`. */
    readonly stream: string,
    /** Its version in the stream, from 1. */
    readonly version: number,
    /** Its position in the global log, from 1. */
    readonly position: number,
    /** When it was stored, in milliseconds since the Unix epoch. */
    readonly recordedAt: number,
    /** Its metadata, a JSON object as text. */
    readonly metadata: string,
    /** The event. */
    readonly event: E,
  ) {}

  /**
   * The stream's category, the part of its name before the first `-`: for an aggregate's
   * event, the aggregate module's name (`bank_account` for `bank_account-7`).
   */
  aggregate(): string {
    return categoryOf(this.stream);
  }

  /**
   * The part of the stream name after its category: for an aggregate's event, the aggregate's
   * id, whole even when it holds `-` (`1b4e-28ba` for `orders-1b4e-28ba`).
   */
  id(): string {
    const dash = this.stream.indexOf('-');
    return dash < 0 ? this.stream : this.stream.slice(dash + 1);
  }

  /**
   * The correlation id of the chain of commands this event belongs to, from its metadata: the
   * `correlation_id` the host puts on events a reactor's command appended, else the
   * `command_id` of the command that appended it. `undefined` for an event appended directly.
   */
  correlationId(): string | undefined {
    let metadata: unknown;
    try {
      metadata = JSON.parse(this.metadata);
    } catch {
      return undefined;
    }
    if (typeof metadata !== 'object' || metadata === null) return undefined;
    for (const field of ['correlation_id', 'command_id']) {
      const value = (metadata as Record<string, unknown>)[field];
      if (typeof value === 'string') return value;
    }
    return undefined;
  }
}

/** What a projection reads and answers. See `defineProjection`. */
export interface ProjectionTypes<EV extends Variants, Q> {
  /** Which events the host delivers; everything if not given. */
  subscription?: Subscription;
  /**
   * The events this projection folds, by type name, decoded as an aggregate's are. Events of
   * other types are skipped.
   */
  events: EV;
  /** Decodes a query from the request JSON. */
  queries: Decoder<Q>;
}

/** What a projection does. See `defineProjection`. */
export interface ProjectionBehaviour<EV extends Variants, Q, A> {
  /**
   * Folds one event into the read model. A `ProjectionError` stops the projection at this event
   * (it is marked faulted, and the batch's writes are discarded) until a fixed module is
   * uploaded.
   */
  apply(model: ReadModel, event: Recorded<OneOf<EV>>): void;
  /** Answers a query from the read model, which is read-only here. The answer is sent as JSON. */
  query(model: ReadOnlyModel, query: Q): A;
}

/** A projection, as `defineProjection` returns it: the module's default export. */
export interface Projection<EV extends Variants = Variants, Q = unknown, A = unknown>
  extends ProjectionTypes<EV, Q>, ProjectionBehaviour<EV, Q, A> {
  readonly kind: 'projection';
}

/** Any projection, whatever its types: what the glue takes. */
export type AnyProjection = Projection<any, any, any>;

/** The events of a projection. */
export type ProjectionEventOf<P> = P extends Projection<infer EV, infer _Q, infer _A> ? OneOf<EV> : never;
/** The queries of a projection. */
export type QueryOf<P> = P extends Projection<infer _EV, infer Q, infer _A> ? Q : never;
/** The answers of a projection. */
export type AnswerOf<P> = P extends Projection<infer _EV, infer _Q, infer A> ? A : never;

/**
 * Defines a projection from what it reads (first) and what it does (second), and is exported as
 * the module's default export.
 */
export function defineProjection<EV extends Variants, Q, A>(
  types: ProjectionTypes<EV, Q>,
  behaviour: ProjectionBehaviour<NoInfer<EV>, NoInfer<Q>, A>,
): Projection<EV, Q, A> {
  return { ...types, apply: behaviour.apply, query: behaviour.query, kind: 'projection' };
}
