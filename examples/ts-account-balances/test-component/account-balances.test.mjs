// Runs the built component (dist/account_balances.wasm, from `npm run build`) in Node as the
// host runs it: a fresh instance for every call, over a table in memory standing for the
// host's. `npm run test:component` builds it and runs this. Needs the SDK's development
// dependencies (`npm ci` in guest-sdk-ts).

import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { loadComponent, MemoryTable, outcome } from '@cairn/sdk/component-runner';

const wasm = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'account_balances.wasm');
const component = await loadComponent(wasm);

let position = 0n;
function recorded(stream, eventType, data) {
  position += 1n;
  return {
    streamName: stream,
    version: 1n,
    position,
    eventType,
    data: JSON.stringify(data),
    metadata: '{}',
    recordedAt: 1_700_000_000_000n + position,
  };
}

const apply = (kv, events) => component.call((e) => outcome(() => e.projection.apply(events)), { kv });
const query = (kv, request) =>
  component.call((e) => outcome(() => e.projection.query(JSON.stringify(request))), { kv });

test('subscription, apply in batches with one write-many each, and queries', async () => {
  assert.deepEqual(await component.call((e) => e.projection.subscription()), {
    categories: ['bank_account'],
    eventTypes: [],
  });
  const kv = new MemoryTable();
  assert.deepEqual(
    await apply(kv, [
      recorded('bank_account-1', 'Opened', { owner: 'ada' }),
      recorded('bank_account-2', 'Opened', { owner: 'bob' }),
      recorded('bank_account-1', 'Deposited', { amount: 500 }),
    ]),
    { tag: 'ok', val: undefined },
  );
  assert.equal(kv.writeManyCalls, 1, 'one batch, one write-many');
  assert.deepEqual(
    await apply(kv, [
      recorded('bank_account-2', 'Deposited', { amount: 900 }),
      recorded('bank_account-2', 'Frozen', {}),
      recorded('bank_account-2', 'Withdrawn', { amount: 600 }),
    ]),
    { tag: 'ok', val: undefined },
  );
  assert.equal(kv.writeManyCalls, 2);
  assert.deepEqual(await query(kv, { type: 'total_deposits' }), {
    tag: 'ok',
    val: '{"total_deposits":1400}',
  });
  assert.deepEqual(await query(kv, { type: 'top', n: 5 }), {
    tag: 'ok',
    val: '{"top":[{"account":"1","balance":500},{"account":"2","balance":300}]}',
  });
  assert.deepEqual(await query(kv, { type: 'balance', account: '2' }), { tag: 'ok', val: '{"balance":300}' });
  assert.deepEqual(await query(kv, { type: 'balance', account: '9' }), {
    tag: 'ok',
    val: '{"balance":null}',
  });
  assert.match(
    (await query(kv, { type: 'bottom' })).val,
    /^the query does not decode: unknown variant `bottom`/,
  );
  assert.equal(kv.writeManyCalls, 2, 'queries write nothing');
});

test('a failing batch names its event and sends no writes', async () => {
  const kv = new MemoryTable();
  const result = await apply(kv, [
    recorded('bank_account-1', 'Opened', { owner: 'ada' }),
    recorded('bank_account-3', 'Deposited', { amount: 5 }),
  ]);
  assert.deepEqual(result, {
    tag: 'err',
    val: { index: 1, message: 'bank_account-3 moved money before it was opened' },
  });
  assert.equal(kv.writeManyCalls, 0);
  assert.equal(kv.entries.size, 0);
  const bad = await apply(kv, [recorded('bank_account-1', 'Deposited', { amount: '5' })]);
  assert.equal(bad.tag, 'err');
  assert.match(bad.val.message, /^event Deposited does not decode: /);
});

test.after(() => component.close());
