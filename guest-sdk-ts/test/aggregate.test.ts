import assert from 'node:assert/strict';
import { test } from 'node:test';

import { defineAggregate, json, reject, Rejection } from '../src/index';
import * as glue from '../src/glue';
import { given } from '../src/testing';

/** A counter: `Add` adds at least 1; `Reset` (no data) starts it again. */
const counter = defineAggregate(
  {
    state: json.object({ value: json.integer }),
    initialState: { value: 0 },
    commands: {
      Add: json.object({ by: json.integer }),
      Reset: json.unit,
      Crash: json.unit,
    },
    events: {
      Added: json.object({ by: json.integer }),
      Reset: json.unit,
    },
  },
  {
    decide(state, command) {
      switch (command.type) {
        case 'Add':
          if (command.data.by < 1) return new Rejection('add at least 1');
          if (command.data.by > 100) reject(`at most 100 at a time, not ${command.data.by}`);
          return [{ type: 'Added', data: { by: command.data.by } }];
        case 'Reset':
          return state.value === 0 ? [] : [{ type: 'Reset' }];
        case 'Crash':
          throw new TypeError('a bug');
      }
    },
    evolve(state, event) {
      switch (event.type) {
        case 'Added':
          state.value += event.data.by;
          return;
        case 'Reset':
          return { value: 0 };
      }
    },
  },
);

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

test('given, when, then', () => {
  given(counter, [{ type: 'Added', data: { by: 2 } }])
    .thenState({ value: 2 })
    .when({ type: 'Add', data: { by: 3 } })
    .thenEvents([{ type: 'Added', data: { by: 3 } }])
    .thenState({ value: 5 });
  given(counter)
    .when({ type: 'Add', data: { by: 0 } })
    .thenRejected('at least 1');
  given(counter)
    .when({ type: 'Add', data: { by: 101 } })
    .thenRejected('at most 100 at a time, not 101');
  given(counter, [{ type: 'Added', data: { by: 2 } }])
    .when({ type: 'Reset' })
    .thenEvents([{ type: 'Reset', data: null }])
    .thenState({ value: 0 });
  given(counter).when({ type: 'Reset' }).thenEvents([]);
});

test('state, commands and events cross the boundary as JSON', () => {
  const state = glue.init(counter);
  assert.equal(text(state), '{"value":0}');
  const folded = glue.evolve(counter, state, [
    { eventType: 'Added', data: '{"by":4}' },
    { eventType: 'Reset', data: 'null' },
    { eventType: 'Added', data: ' {"by": 1} ' },
  ]);
  assert.equal(folded.tag, 'ok');
  assert.equal(text(folded.val as Uint8Array), '{"value":1}');
  assert.deepEqual(
    glue.decide(counter, folded.val as Uint8Array, { commandType: 'Add', data: '{"by": 5}' }),
    {
      tag: 'ok',
      val: [{ eventType: 'Added', data: '{"by":5}' }],
    },
  );
  assert.deepEqual(glue.decide(counter, folded.val as Uint8Array, { commandType: 'Reset', data: '' }), {
    tag: 'ok',
    val: [{ eventType: 'Reset', data: 'null' }],
  });
  assert.deepEqual(glue.stateJson(counter, folded.val as Uint8Array), { tag: 'ok', val: '{"value":1}' });
});

test('what does not decode is invalid, not rejected', () => {
  const state = glue.init(counter);
  const invalid = (commandType: string, data: string, bytes = state) => {
    const outcome = glue.decide(counter, bytes, { commandType, data });
    assert.equal(outcome.tag, 'err');
    assert.equal((outcome.val as { tag: string }).tag, 'invalid', JSON.stringify(outcome));
    return (outcome.val as { val: string }).val;
  };
  assert.equal(
    invalid('Steal', '{}'),
    'command Steal does not decode: unknown variant `Steal`, expected one of `Add`, `Reset`, `Crash`',
  );
  assert.match(invalid('Add', '{"by":"5"}'), /^command Add does not decode: invalid type: string "5"/);
  assert.equal(invalid('Add', 'null'), 'command Add does not decode: missing field `data`');
  assert.match(invalid('Add', '{"by":'), /^command Add does not decode: /);
  assert.match(
    invalid('Add', '{"by":1}', new TextEncoder().encode('{"value":"x"}')),
    /^state does not decode: /,
  );
  assert.match(invalid('Add', '{"by":1}', new Uint8Array([0xff])), /^state does not decode: /);
  const evolved = glue.evolve(counter, state, [
    { eventType: 'Added', data: '{"by":1}' },
    { eventType: 'Gone', data: '{}' },
  ]);
  assert.deepEqual(evolved, {
    tag: 'err',
    val: 'event 1 (Gone) does not decode: unknown variant `Gone`, expected one of `Added`, `Reset`',
  });
  assert.equal(glue.stateJson(counter, new Uint8Array([0xc3])).tag, 'err');
  given(counter).whenRaw('Add', '{"by":"5"}').thenInvalid('does not decode');
});

test('an exception that is not a rejection is not turned into an answer', () => {
  assert.throws(
    () => glue.decide(counter, glue.init(counter), { commandType: 'Crash', data: 'null' }),
    TypeError,
  );
});

test('an event decide returns must be one the aggregate can fold', () => {
  const sloppy = defineAggregate(
    {
      state: json.object({}),
      initialState: {},
      commands: { Go: json.unit },
      events: { Went: json.object({ at: json.integer }) },
    },
    {
      decide: () => [{ type: 'Went', data: { at: Number.NaN } }],
      evolve: () => {},
    },
  );
  const outcome = glue.decide(sloppy, glue.init(sloppy), { commandType: 'Go', data: 'null' });
  assert.equal(outcome.tag, 'err');
  assert.match(JSON.stringify(outcome.val), /the event Went that decide returned does not encode/);
});

test('the harness fails where the module does not do what is asserted', () => {
  const added = given(counter, [{ type: 'Added', data: { by: 2 } }]);
  assert.throws(() => added.thenState({ value: 3 }), assert.AssertionError);
  const decided = added.when({ type: 'Add', data: { by: 3 } });
  assert.throws(() => decided.thenEvents([{ type: 'Added', data: { by: 4 } }]), assert.AssertionError);
  assert.throws(() => decided.thenEvents([]), assert.AssertionError);
  assert.throws(() => decided.thenRejected(), assert.AssertionError);
  assert.throws(() => decided.thenState({ value: 6 }), assert.AssertionError);
  const refused = given(counter).when({ type: 'Add', data: { by: 0 } });
  assert.throws(() => refused.thenRejected('at most'), assert.AssertionError);
  assert.throws(() => refused.thenInvalid(), assert.AssertionError);
  assert.throws(() => refused.thenEvents([]), assert.AssertionError);
  assert.throws(() => given(counter, [{ type: 'Gone' } as never]), /given event 0 does not encode/);
});

test('folding in one batch and one event at a time must agree', () => {
  let calls = 0;
  const forgetful = defineAggregate(
    {
      state: json.object({ seen: json.integer }),
      initialState: { seen: 0 },
      commands: {},
      events: { Seen: json.unit },
    },
    {
      decide: () => [],
      // Wrong on purpose: it counts calls of this instance, not events in the state.
      evolve: () => ({ seen: ++calls }),
    },
  );
  assert.throws(() => given(forgetful, [{ type: 'Seen' }, { type: 'Seen' }]), /one batch and one at a time/);
});

test('an async decide or evolve is refused', () => {
  const eager = defineAggregate(
    { state: json.object({}), initialState: {}, commands: { Go: json.unit }, events: { Went: json.unit } },
    {
      decide: (async () => []) as never,
      evolve: (async () => ({})) as never,
    },
  );
  assert.throws(() => glue.decide(eager, glue.init(eager), { commandType: 'Go', data: '' }), /must not be async/);
  assert.throws(() => glue.evolve(eager, glue.init(eager), [{ eventType: 'Went', data: '' }]), /must not be async/);
});
