import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  defineProjection,
  json,
  MAX_SCAN,
  MemoryKv,
  ProjectionError,
  ReadModel,
  Recorded,
  Subscription,
  utf8,
} from '../src/index';
import * as glue from '../src/projection-glue';
import { given } from '../src/testing';

/**
 * Sums the `Placed` and counts the `Cancelled` events of `orders` streams, and remembers where
 * the last event it applied was. (The Rust SDK's own projection tests, in TypeScript.)
 */
const orderTotals = defineProjection(
  {
    subscription: Subscription.category('orders').withEventTypes(['Placed', 'Cancelled']),
    events: {
      Placed: json.object({ cents: json.integer }),
      Cancelled: json.unit,
      Poisoned: json.unit,
    },
    queries: json.tagged('type', { total: json.unit, last: json.unit }),
  },
  {
    apply(model, event) {
      const last = [event.stream, event.version, event.position];
      switch (event.event.type) {
        case 'Placed':
          model.add('total', event.event.data.cents);
          break;
        case 'Cancelled':
          model.add('cancelled', 1);
          break;
        case 'Poisoned':
          throw new ProjectionError('a poisoned event was applied');
      }
      model.putJson('last', last);
    },
    query(model, query) {
      switch (query.type) {
        case 'total':
          return {
            total: model.getJson('total', json.integer) ?? 0,
            cancelled: model.getJson('cancelled', json.integer) ?? 0,
          };
        case 'last':
          return model.getJson('last') ?? null;
      }
    },
  },
);

test('an event of a category outside the subscription is not applied', () => {
  given(orderTotals, [
    ['orders-1', { type: 'Placed', data: { cents: 500 } }],
    ['refunds-1', { type: 'Placed', data: { cents: 7 } }],
    ['orders_archive-1', { type: 'Placed', data: { cents: 9 } }],
    ['orders', { type: 'Placed', data: { cents: 20 } }],
  ]).thenQuery({ type: 'total' }, { total: 520, cancelled: 0 });
});

test('an event of a type outside the subscription is not applied', () => {
  given(orderTotals, [
    ['orders-1', { type: 'Placed', data: { cents: 500 } }],
    ['orders-1', { type: 'Poisoned' }],
    ['orders-2', { type: 'Cancelled' }],
  ]).thenQuery({ type: 'total' }, { total: 500, cancelled: 1 });
});

test('an admitted event keeps its place in the log and its stream', () => {
  given(orderTotals, [
    ['refunds-1', { type: 'Placed', data: { cents: 7 } }],
    ['orders-1', { type: 'Poisoned' }],
    ['orders-1', { type: 'Placed', data: { cents: 1 } }],
  ]).thenQuery({ type: 'last' }, ['orders-1', 2, 3]);
});

test('a failure names the given events index', () => {
  const strict = defineProjection(
    {
      subscription: Subscription.category('orders'),
      events: { Placed: json.unknown, Poisoned: json.unit },
      queries: json.unknown,
    },
    {
      apply(_model, event) {
        if (event.event.type === 'Poisoned') throw new ProjectionError(`${event.stream} is poisoned`);
      },
      query: () => 0,
    },
  );
  given(strict, [
    ['refunds-1', { type: 'Poisoned' }],
    ['orders-1', { type: 'Placed', data: { cents: 1 } }],
    ['orders-2', { type: 'Poisoned' }],
  ]).thenFailsAt(2, 'orders-2 is poisoned');
});

test('a query that does not decode, and events of unknown types or bad data', () => {
  given(orderTotals, []).thenQueryFails(
    { type: 'everything' },
    'the query does not decode: unknown variant `everything`',
  );
  const kv = new MemoryKv();
  const event = (eventType: string, data: string) => ({
    streamName: 'orders-1',
    version: 1n,
    position: 1n,
    eventType,
    data,
    metadata: '{}',
    recordedAt: 0n,
  });
  assert.deepEqual(glue.apply(orderTotals, kv, [event('Shipped', '{}'), event('Placed', '{"cents":"x"}')]), {
    tag: 'err',
    val: {
      index: 1,
      message:
        'event Placed does not decode: invalid type: string "x", expected an integer between -(2^53 - 1) and 2^53 - 1 at data.cents',
    },
  });
  assert.deepEqual(glue.subscription(orderTotals), {
    categories: ['orders'],
    eventTypes: ['Placed', 'Cancelled'],
  });
});

test('a recorded event names its aggregate, its id and its correlation', () => {
  const recorded = (stream: string, metadata = '{}') => new Recorded(stream, 1, 1, 0, metadata, null);
  const uuid = recorded('orders-1b4e28ba-2fa1-11d2-883f-0016d3cca427');
  assert.equal(uuid.aggregate(), 'orders');
  assert.equal(uuid.id(), '1b4e28ba-2fa1-11d2-883f-0016d3cca427');
  assert.deepEqual(
    [recorded('bank_account-i1').aggregate(), recorded('bank_account-i1').id()],
    ['bank_account', 'i1'],
  );
  assert.deepEqual([recorded('loner').aggregate(), recorded('loner').id()], ['loner', 'loner']);
  assert.ok(Subscription.category('bank_account').admits('bank_account-i1', 'Opened'));
  assert.ok(!Subscription.category('bank').admits('bank_account-i1', 'Opened'));
  assert.ok(Subscription.everything().admits('x', 'Y'));
  assert.equal(recorded('transfer-t1').correlationId(), undefined);
  assert.equal(recorded('transfer-t1', '{"command_id":"c1"}').correlationId(), 'c1');
  assert.equal(recorded('transfer-t1', '{"command_id":"c2","correlation_id":"c1"}').correlationId(), 'c1');
});

test('memory scans by prefix after a key with a limit, and the read model helpers', () => {
  const kv = new MemoryKv();
  for (const key of ['a', 'ab', 'abc', 'b']) kv.put(utf8(key), utf8('1'));
  const keys = (entries: [Uint8Array, Uint8Array][]) => entries.map(([k]) => new TextDecoder().decode(k));
  assert.deepEqual(keys(kv.scan(utf8('a'), undefined, 10)), ['a', 'ab', 'abc']);
  assert.deepEqual(keys(kv.scan(utf8('a'), utf8('a'), 1)), ['ab']);
  assert.equal(kv.scan(utf8(''), undefined, 10).length, 4);
  const many = new MemoryKv();
  for (let n = 0; n <= MAX_SCAN; n++) many.put(utf8(`k${String(n).padStart(5, '0')}`), utf8('1'));
  assert.equal(many.scan(utf8('k'), undefined, 2 ** 32 - 1).length, MAX_SCAN, "the host's cap");
  // Keys compare as bytes: 0xff sorts after every ASCII key.
  kv.put(new Uint8Array([0xff]), utf8('2'));
  assert.deepEqual(
    kv.scan(new Uint8Array(), utf8('b'), 10).map(([k]) => [...k]),
    [[0xff]],
  );

  const model = new ReadModel(kv);
  assert.equal(model.add('count', 2), 2);
  assert.equal(model.add('count', -1), 1);
  model.put('bad', utf8('{'));
  assert.throws(() => model.getJson('bad', json.integer), {
    name: 'ProjectionError',
    message: /^the value at bad does not decode: /,
  });
  assert.throws(() => model.putJson('nothing', undefined), ProjectionError);
  model.putJson('unit', null);
  assert.equal(new TextDecoder().decode(model.get('unit')), 'null');
  model.deleteKey('unit');
  assert.equal(model.get('unit'), undefined);
  assert.deepEqual(model.scanJson('ab', undefined, 10), [
    ['ab', 1],
    ['abc', 1],
  ]);
});
