import assert from 'node:assert/strict';
import { test } from 'node:test';

import { given } from '@cairn/sdk/testing';

import accountBalances, { type AccountEvent } from '../src/index';

const opened: AccountEvent = { type: 'Opened', data: { owner: 'ada' } };
const deposited = (amount: number): AccountEvent => ({ type: 'Deposited', data: { amount } });
const withdrawn = (amount: number): AccountEvent => ({ type: 'Withdrawn', data: { amount } });

test('totals deposits and ranks balances', () => {
  given(accountBalances, [
    ['bank_account-1', opened],
    ['bank_account-2', opened],
    ['bank_account-3', opened],
    ['bank_account-1', deposited(500)],
    ['bank_account-2', deposited(900)],
    ['bank_account-3', deposited(100)],
    ['bank_account-2', withdrawn(600)],
  ])
    .thenQuery({ type: 'total_deposits' }, { total_deposits: 1500 })
    .thenQuery(
      { type: 'top', n: 2 },
      {
        top: [
          { account: '1', balance: 500 },
          { account: '2', balance: 300 },
        ],
      },
    )
    .thenQuery({ type: 'balance', account: '3' }, { balance: 100 })
    .thenQuery({ type: 'balance', account: '9' }, { balance: null });
});

test('money moved before opening is a fault at that event', () => {
  given(accountBalances, [['bank_account-1', deposited(5)]]).thenFailsAt(
    0,
    'bank_account-1 moved money before it was opened',
  );
});

test('only bank_account events are read, and other types are skipped', () => {
  given(accountBalances, [
    ['bank_account-1', opened],
    ['bank_account_archive-1', deposited(7)],
    ['customers-1', { type: 'Deposited', data: { amount: 9 } }],
    ['bank_account-1', { type: 'Frozen', data: { reason: 'audit' } }],
    ['bank_account-1', deposited(5)],
  ])
    .thenQuery({ type: 'total_deposits' }, { total_deposits: 5 })
    .thenQuery({ type: 'top', n: 10 }, { top: [{ account: '1', balance: 5 }] });
});

test('ids may hold dashes and slashes; top is capped at 100', () => {
  const events: [string, AccountEvent][] = [
    ['bank_account-1b4e-28ba', opened],
    ['bank_account-a/b', opened],
    ['bank_account-a/b', deposited(3)],
  ];
  for (let n = 0; n < 120; n++) events.push([`bank_account-x${n}`, opened]);
  given(accountBalances, events)
    .thenQuery({ type: 'balance', account: '1b4e-28ba' }, { balance: 0 })
    .thenQuery({ type: 'top', n: 1 }, { top: [{ account: 'a/b', balance: 3 }] })
    .thenQueryFails({ type: 'top', n: -1 }, 'the query does not decode')
    .thenQueryFails({ type: 'bottom' }, 'unknown variant `bottom`');
  const { model } = given(accountBalances, events);
  const top = model.scan(new TextEncoder().encode('rank/'), undefined, 1000);
  assert.equal(top.length, 122);
});

test('the read model holds the same keys and values as the Rust module writes', () => {
  const { model } = given(accountBalances, [
    ['bank_account-1', opened],
    ['bank_account-1', deposited(500)],
    ['bank_account-2', opened],
  ]);
  assert.deepEqual(model.dump(), [
    ['balance/1', '500'],
    ['balance/2', '0'],
    ['rank/09223372036854775307/1', 'null'],
    ['rank/09223372036854775807/2', 'null'],
    ['total_deposits', '500'],
  ]);
});
