import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DecodeError, json } from '../src/index';

test('an object keeps the fields it names, in its order, and drops the rest', () => {
  const decode = json.object({
    owner: json.nullable(json.string),
    balance: json.integer,
    note: json.optional(json.string),
  });
  assert.deepEqual(decode({ balance: 5, extra: true, owner: 'Ada' }, ''), { owner: 'Ada', balance: 5 });
  assert.equal(JSON.stringify(decode({ balance: 0 }, '')), '{"owner":null,"balance":0}');
  assert.deepEqual(decode({ balance: 1, note: 'x', owner: null }, ''), {
    owner: null,
    balance: 1,
    note: 'x',
  });
});

test('a value of the wrong shape is refused with where and what', () => {
  const decode = json.object({ amount: json.integer });
  assert.throws(() => decode({ amount: '5' }, 'data'), {
    name: 'DecodeError',
    message: 'invalid type: string "5", expected an integer between -(2^53 - 1) and 2^53 - 1 at data.amount',
  });
  assert.throws(() => decode({}, ''), { message: 'missing field `amount`' });
  assert.throws(() => decode({ amount: 1.5 }, ''), DecodeError);
  assert.throws(() => decode({ amount: 2 ** 53 }, ''), DecodeError);
  assert.throws(() => decode([], ''), { message: 'invalid type: an array, expected an object' });
  assert.throws(() => json.u32(-1, ''), DecodeError);
  assert.equal(json.u32(4294967295, ''), 4294967295);
  assert.deepEqual(json.array(json.boolean)([true, false], ''), [true, false]);
  assert.throws(() => json.array(json.boolean)([true, 1], 'flags'), { message: /at flags\[1\]/ });
  assert.deepEqual(json.dict(json.number)({ a: 1.5 }, ''), { a: 1.5 });
  assert.equal(json.unit(undefined, ''), null);
  assert.throws(() => json.unit({}, ''), DecodeError);
});

test('a tagged union is told apart by its tag field', () => {
  const decode = json.tagged('type', {
    total_deposits: json.unit,
    top: json.object({ n: json.u32 }),
  });
  assert.deepEqual(decode({ type: 'total_deposits' }, ''), { type: 'total_deposits' });
  assert.deepEqual(decode({ type: 'top', n: 3 }, ''), { type: 'top', n: 3 });
  assert.throws(() => decode({ type: 'bottom' }, ''), {
    message: 'unknown variant `bottom`, expected one of `total_deposits`, `top`',
  });
  assert.throws(() => decode({ n: 3 }, ''), { message: 'missing field `type`' });
  assert.throws(() => decode({ type: 'top' }, ''), { message: 'missing field `n`' });
});
