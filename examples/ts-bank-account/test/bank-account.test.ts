import assert from 'node:assert/strict';
import { test } from 'node:test';

import { given, glue } from '@cairn/sdk/testing';

import bankAccount, { type AccountEvent } from '../src/index';

const opened: AccountEvent = { type: 'Opened', data: { owner: 'Ada' } };
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

test('opens once', () => {
  given(bankAccount)
    .when({ type: 'Open', data: { owner: 'Ada' } })
    .thenEvents([opened])
    .thenState({ owner: 'Ada', balance: 0 });
  given(bankAccount, [opened])
    .when({ type: 'Open', data: { owner: 'Bob' } })
    .thenRejected('already open');
  given(bankAccount)
    .when({ type: 'Open', data: { owner: '  ' } })
    .thenRejected('needs an owner');
});

test('deposits and withdraws', () => {
  given(bankAccount, [opened, { type: 'Deposited', data: { amount: 100 } }])
    .when({ type: 'Withdraw', data: { amount: 30 } })
    .thenEvents([{ type: 'Withdrawn', data: { amount: 30 } }])
    .thenState({ owner: 'Ada', balance: 70 });
  given(bankAccount, [opened])
    .when({ type: 'Deposit', data: { amount: 5 } })
    .thenEvents([{ type: 'Deposited', data: { amount: 5 } }]);
});

test('never overdraws', () => {
  given(bankAccount, [opened, { type: 'Deposited', data: { amount: 100 } }])
    .when({ type: 'Withdraw', data: { amount: 101 } })
    .thenRejected('insufficient funds: the balance is 100, the withdrawal 101');
  given(bankAccount, [opened, { type: 'Deposited', data: { amount: 100 } }])
    .when({ type: 'Withdraw', data: { amount: 100 } })
    .thenState({ owner: 'Ada', balance: 0 });
});

test('refuses zero, negative and closed accounts', () => {
  for (const amount of [0, -1, Number.MIN_SAFE_INTEGER]) {
    given(bankAccount, [opened])
      .when({ type: 'Deposit', data: { amount } })
      .thenRejected(`the amount must be greater than zero, not ${amount}`);
    given(bankAccount, [opened])
      .when({ type: 'Withdraw', data: { amount } })
      .thenRejected('greater than zero');
  }
  given(bankAccount)
    .when({ type: 'Deposit', data: { amount: 1 } })
    .thenRejected('the account is not open');
  given(bankAccount, [opened, { type: 'Deposited', data: { amount: Number.MAX_SAFE_INTEGER } }])
    .when({ type: 'Deposit', data: { amount: 1 } })
    .thenRejected('the balance would overflow');
});

test('events cross the boundary as type and data', () => {
  const state = glue.init(bankAccount);
  // The same state bytes as the Rust module's: a snapshot of either is read by the other.
  assert.equal(text(state), '{"owner":null,"balance":0}');
  const folded = glue.evolve(bankAccount, state, [{ eventType: 'Opened', data: '{"owner":"Ada"}' }]);
  assert.equal(folded.tag, 'ok');
  const account = folded.val as Uint8Array;
  assert.equal(text(account), '{"owner":"Ada","balance":0}');
  assert.deepEqual(glue.decide(bankAccount, account, { commandType: 'Deposit', data: '{"amount": 5}' }), {
    tag: 'ok',
    val: [{ eventType: 'Deposited', data: '{"amount":5}' }],
  });
  assert.deepEqual(glue.stateJson(bankAccount, account), { tag: 'ok', val: '{"owner":"Ada","balance":0}' });

  const invalid = glue.decide(bankAccount, new TextEncoder().encode('{}'), {
    commandType: 'Deposit',
    data: '{"amount":"5"}',
  });
  assert.equal(invalid.tag === 'err' && invalid.val.tag, 'invalid', JSON.stringify(invalid));
  const unknown = glue.decide(bankAccount, account, { commandType: 'Steal', data: '{}' });
  assert.deepEqual(unknown, {
    tag: 'err',
    val: {
      tag: 'invalid',
      val: 'command Steal does not decode: unknown variant `Steal`, expected one of `Open`, `Deposit`, `Withdraw`',
    },
  });
  given(bankAccount, [opened]).whenRaw('Deposit', '{"amount":1.5}').thenInvalid('does not decode');
});

test('reads the state the Rust module stores', () => {
  // serde writes `Account { owner: None, balance: 0 }` so; an older snapshot without `owner` also decodes.
  given(bankAccount).thenState({ owner: null, balance: 0 });
  const state = new TextEncoder().encode('{"balance":7}');
  assert.deepEqual(glue.stateJson(bankAccount, state), { tag: 'ok', val: '{"balance":7}' });
  const outcome = glue.decide(bankAccount, state, { commandType: 'Withdraw', data: '{"amount":1}' });
  assert.deepEqual(outcome, { tag: 'err', val: { tag: 'rejected', val: 'the account is not open' } });
});
