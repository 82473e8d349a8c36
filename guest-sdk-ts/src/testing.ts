/**
 * Given/when/then tests for aggregates and given/then tests for projections, run natively (on
 * Node's test runner or any other). They go through the same glue and JSON encoding as a module
 * in the host: states as UTF-8 JSON bytes, commands and events as a type name and JSON text.
 *
 * ```ts
 * given(counter, [{ type: 'Added', data: { by: 2 } }])
 *   .when({ type: 'Add', data: { by: 3 } })
 *   .thenEvents([{ type: 'Added', data: { by: 3 } }])
 *   .thenState({ value: 5 });
 *
 * given(totals, [['counter-1', { type: 'Added', data: { by: 2 } }]]).thenQuery({ type: 'total' }, 2);
 * ```
 *
 * Every aggregate `given` checks that folding its events in one batch gives the same state as
 * folding them one at a time, and every projection `given` that applying them in one batch
 * gives the same read model as applying them one at a time, which the host relies on when it
 * batches events.
 */

import assert from 'node:assert/strict';

import type { Aggregate, AnyAggregate, OneOf, Variants } from './aggregate';
import { decodeTagged, encodeTagged, type TaggedValue, utf8 } from './encoding';
import * as glue from './glue';
import type { DecideError, Result, WitEvent } from './glue';
import type { AnyProjection, Projection } from './projection';
import { Subscription } from './projection';
import * as projectionGlue from './projection-glue';
import type { WitRecordedEvent } from './projection-glue';
import { MemoryKv } from './read-model';

/** Starts an aggregate test from the events `history`, oldest first. */
export function given<S, CV extends Variants, EV extends Variants>(
  aggregate: Aggregate<S, CV, EV>,
  history?: readonly OneOf<EV>[],
): Given<S, CV, EV>;
/**
 * Applies `events`, given as `[stream, event]` in global order, to an empty read model: those
 * the projection's subscription admits, as the host delivers only those. Each event gets its
 * position in the log (from 1) and its version in its stream (from 1).
 */
export function given<EV extends Variants, Q, An>(
  projection: Projection<EV, Q, An>,
  events: readonly (readonly [stream: string, event: { type: string; data?: unknown }])[],
): GivenProjection<Q, An>;
export function given(
  definition: AnyAggregate | AnyProjection,
  events: readonly unknown[] = [],
): Given<unknown, Variants, Variants> | GivenProjection<unknown, unknown> {
  if (definition.kind === 'aggregate') {
    const history = (events as TaggedValue[]).map((e, index) =>
      toWit(definition.events, e, `given event ${index}`),
    );
    return new Given(definition, foldBothWays(definition, glue.init(definition), history));
  }
  return givenProjection(definition, events as [string, TaggedValue][]);
}

function toWit(variants: Variants, event: TaggedValue, what: string): WitEvent {
  try {
    const [eventType, data] = encodeTagged(variants, event);
    return { eventType, data };
  } catch (e) {
    throw new Error(`${what} does not encode: ${(e as Error).message}`);
  }
}

/** Folds `events` onto `state` in one batch and one at a time; both must agree. */
function foldBothWays(aggregate: AnyAggregate, state: Uint8Array, events: WitEvent[]): Uint8Array {
  const batch = unwrap(glue.evolve(aggregate, state, events), 'folding the events');
  let single = state;
  for (const event of events) {
    single = unwrap(glue.evolve(aggregate, single, [event]), 'folding an event');
  }
  assert.equal(
    new TextDecoder().decode(batch),
    new TextDecoder().decode(single),
    'folding the events in one batch and one at a time must give the same state',
  );
  return batch;
}

function unwrap<T>(result: Result<T, string>, what: string): T {
  if (result.tag === 'err') assert.fail(`${what} failed: ${result.val}`);
  return result.val;
}

function decodeState(aggregate: AnyAggregate, state: Uint8Array): unknown {
  return glue.decodeState(aggregate, state);
}

/** The state an aggregate test starts from. */
export class Given<S, CV extends Variants, EV extends Variants> {
  constructor(
    private readonly aggregate: Aggregate<S, CV, EV>,
    /** The state bytes. */
    readonly state: Uint8Array,
  ) {}

  /** Decides `command` against the given state. */
  when(command: OneOf<CV>): When<S, CV, EV> {
    const [commandType, data] = (() => {
      try {
        return encodeTagged(this.aggregate.commands, command);
      } catch (e) {
        throw new Error(`the command does not encode: ${(e as Error).message}`);
      }
    })();
    return this.whenRaw(commandType, data);
  }

  /** Decides a command given as it crosses the boundary: its type and its data as JSON text. */
  whenRaw(commandType: string, data: string): When<S, CV, EV> {
    const outcome = glue.decide(this.aggregate as unknown as AnyAggregate, this.state, { commandType, data });
    return new When(this.aggregate, this.state, outcome);
  }

  /** Asserts the state the history folds to. */
  thenState(expected: S): this {
    assert.deepStrictEqual(
      decodeState(this.aggregate as AnyAggregate, this.state),
      expected,
      'state after the given events',
    );
    return this;
  }
}

/** What a command did. */
export class When<S, CV extends Variants, EV extends Variants> {
  constructor(
    private readonly aggregate: Aggregate<S, CV, EV>,
    private readonly state: Uint8Array,
    /** The result of `decide`, as it crosses the boundary. */
    readonly outcome: Result<WitEvent[], DecideError>,
  ) {}

  /** Asserts that the command produced exactly these events, in this order. */
  thenEvents(expected: readonly OneOf<EV>[]): this {
    const produced = this.events().map((e) => decodeTagged(this.aggregate.events, e.eventType, e.data));
    const wanted = expected.map((e, index) => {
      const { eventType, data } = toWit(this.aggregate.events, e, `expected event ${index}`);
      return decodeTagged(this.aggregate.events, eventType, data);
    });
    assert.deepStrictEqual(produced, wanted, 'events decided');
    return this;
  }

  /** Asserts that the command was refused with a message containing `message`. */
  thenRejected(message = ''): this {
    return this.thenError('rejected', message);
  }

  /** Asserts that the command could not be understood, with a message containing `message`. */
  thenInvalid(message = ''): this {
    return this.thenError('invalid', message);
  }

  /** Asserts the state after folding the decided events onto the given state. */
  thenState(expected: S): this {
    const after = foldBothWays(this.aggregate as AnyAggregate, this.state, this.events());
    assert.deepStrictEqual(
      decodeState(this.aggregate as AnyAggregate, after),
      expected,
      'state after the decided events',
    );
    return this;
  }

  private thenError(tag: DecideError['tag'], message: string): this {
    const outcome = this.outcome;
    if (outcome.tag === 'ok' || outcome.val.tag !== tag) {
      assert.fail(`expected ${tag} containing ${JSON.stringify(message)}, got ${JSON.stringify(outcome)}`);
    }
    assert.ok(
      outcome.val.val.includes(message),
      `${tag} with ${JSON.stringify(outcome.val.val)}, which does not contain ${JSON.stringify(message)}`,
    );
    return this;
  }

  private events(): WitEvent[] {
    if (this.outcome.tag === 'err') {
      assert.fail(`expected events, the command failed: ${JSON.stringify(this.outcome.val)}`);
    }
    return this.outcome.val;
  }
}

function givenProjection(
  projection: AnyProjection,
  events: readonly [string, TaggedValue][],
): GivenProjection<unknown, unknown> {
  const subscription = projection.subscription ?? Subscription.everything();
  const versions = new Map<string, number>();
  // Each delivered event with its index among the given ones, so a failure names that index.
  const givenIndex: number[] = [];
  const delivered: WitRecordedEvent[] = [];
  for (const [index, [stream, event]] of events.entries()) {
    const position = index + 1;
    const version = (versions.get(stream) ?? 0) + 1;
    versions.set(stream, version);
    if (typeof event?.type !== 'string') throw new Error(`given event ${index} has no type`);
    const data = JSON.stringify(event.data ?? null);
    if (!subscription.admits(stream, event.type)) continue;
    givenIndex.push(index);
    delivered.push({
      streamName: stream,
      version: BigInt(version),
      position: BigInt(position),
      eventType: event.type,
      data,
      metadata: '{}',
      recordedAt: BigInt(1_700_000_000_000 + position),
    });
  }
  const batched = new MemoryKv();
  const result = projectionGlue.apply(projection, batched, delivered);
  const applied: Result<undefined, [number, string]> =
    result.tag === 'ok'
      ? result
      : { tag: 'err', val: [givenIndex[result.val.index] ?? result.val.index, result.val.message] };
  if (applied.tag === 'ok') {
    const single = new MemoryKv();
    for (const event of delivered) {
      const one = projectionGlue.apply(projection, single, [event]);
      if (one.tag === 'err') {
        assert.fail(`applying one event at a time failed where one batch did not: ${one.val.message}`);
      }
    }
    assert.deepStrictEqual(
      batched.dump(),
      single.dump(),
      'applying the events in one batch and one at a time gave different read models',
    );
  }
  return new GivenProjection(projection, batched, applied);
}

/** A read model after the given events. */
export class GivenProjection<Q, An> {
  constructor(
    private readonly projection: AnyProjection,
    /** The read model. */
    readonly model: MemoryKv,
    /** Whether the events applied, or the index (among the given ones) and message of the failure. */
    readonly applied: Result<undefined, [number, string]>,
  ) {}

  /** Asserts that `query` is answered with `expected` (compared as JSON). */
  thenQuery(query: Q, expected: An): this {
    if (this.applied.tag === 'err') {
      assert.fail(`applying the events failed at event ${this.applied.val[0]}: ${this.applied.val[1]}`);
    }
    const request = JSON.stringify(query);
    const answer = projectionGlue.query(this.projection, this.model, request);
    if (answer.tag === 'err') assert.fail(`the query ${request} failed: ${answer.val}`);
    assert.deepStrictEqual(JSON.parse(answer.val), JSON.parse(JSON.stringify(expected)), `query ${request}`);
    return this;
  }

  /** Asserts that `query` (any JSON value) fails with a message containing `text`. */
  thenQueryFails(query: unknown, text: string): this {
    const request = JSON.stringify(query);
    const answer = projectionGlue.query(this.projection, this.model, request);
    if (answer.tag === 'ok') assert.fail(`the query ${request} was answered (${answer.val}), not refused`);
    assert.ok(answer.val.includes(text), `${JSON.stringify(answer.val)} lacks ${JSON.stringify(text)}`);
    return this;
  }

  /**
   * Asserts that applying the events failed at event `index` of the given ones (from 0), with a
   * message containing `text`.
   */
  thenFailsAt(index: number, text: string): this {
    if (this.applied.tag === 'ok') assert.fail('applying the events succeeded');
    const [at, message] = this.applied.val;
    assert.equal(at, index, `failed at another event: ${message}`);
    assert.ok(message.includes(text), `${JSON.stringify(message)} lacks ${JSON.stringify(text)}`);
    return this;
  }
}

export { MemoryKv, utf8 };

/** The aggregate glue, for tests that drive it as the host does (types and JSON text). */
export * as glue from './glue';
/** The projection glue, likewise. */
export * as projectionGlue from './projection-glue';
