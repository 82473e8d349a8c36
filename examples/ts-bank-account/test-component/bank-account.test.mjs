// Runs the built component (dist/bank_account.wasm, from `npm run build`) in Node as the host
// runs it: a fresh instance for every call. `npm run test:component` builds it and runs this.
// Needs the SDK's development dependencies (`npm ci` in guest-sdk-ts).

import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { loadComponent, outcome } from '@cairn/sdk/component-runner';

const wasm = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'bank_account.wasm');
const component = await loadComponent(wasm);
const text = (bytes) => new TextDecoder().decode(bytes);
const call = (fn) => component.call((e) => outcome(() => fn(e.aggregate)));

test('init, evolve, decide and state-json across the component boundary', async () => {
  const init = await component.call((e) => e.aggregate.init());
  assert.equal(text(init), '{"owner":null,"balance":0}');
  assert.deepEqual(await call((a) => a.decide(init, { commandType: 'Open', data: '{"owner":"Ada"}' })), {
    tag: 'ok',
    val: [{ eventType: 'Opened', data: '{"owner":"Ada"}' }],
  });
  const folded = await call((a) =>
    a.evolve(init, [
      { eventType: 'Opened', data: '{"owner":"Ada"}' },
      { eventType: 'Deposited', data: '{"amount":100}' },
    ]),
  );
  assert.equal(folded.tag, 'ok');
  const account = folded.val;
  assert.equal(text(account), '{"owner":"Ada","balance":100}');
  assert.deepEqual(await call((a) => a.stateJson(account)), {
    tag: 'ok',
    val: '{"owner":"Ada","balance":100}',
  });
  assert.deepEqual(await call((a) => a.decide(account, { commandType: 'Withdraw', data: '{"amount":30}' })), {
    tag: 'ok',
    val: [{ eventType: 'Withdrawn', data: '{"amount":30}' }],
  });
});

test('rejections and invalid commands', async () => {
  const account = new TextEncoder().encode('{"owner":"Ada","balance":100}');
  const decide = (commandType, data, state = account) => call((a) => a.decide(state, { commandType, data }));
  assert.deepEqual(await decide('Withdraw', '{"amount":101}'), {
    tag: 'err',
    val: { tag: 'rejected', val: 'insufficient funds: the balance is 100, the withdrawal 101' },
  });
  assert.deepEqual(await decide('Open', '{"owner":"Bob"}'), {
    tag: 'err',
    val: { tag: 'rejected', val: 'the account is already open' },
  });
  assert.deepEqual(await decide('Deposit', '{"amount":0}'), {
    tag: 'err',
    val: { tag: 'rejected', val: 'the amount must be greater than zero, not 0' },
  });
  assert.deepEqual(await decide('Steal', '{}'), {
    tag: 'err',
    val: {
      tag: 'invalid',
      val: 'command Steal does not decode: unknown variant `Steal`, expected one of `Open`, `Deposit`, `Withdraw`',
    },
  });
  const invalid = await decide('Deposit', '{"amount":"5"}');
  assert.equal(invalid.tag === 'err' && invalid.val.tag, 'invalid');
  const badState = await decide('Deposit', '{"amount":5}', new TextEncoder().encode('{'));
  assert.match(badState.val.val, /^state does not decode: /);
  assert.match((await call((a) => a.stateJson(new Uint8Array([0xff])))).val, /^state is not UTF-8 JSON: /);
  assert.match(
    (await call((a) => a.evolve(account, [{ eventType: 'Closed', data: 'null' }]))).val,
    /^event 0 \(Closed\) does not decode: /,
  );
});

test.after(() => component.close());
