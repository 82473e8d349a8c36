#!/usr/bin/env node
// Builds test-component/probe with cairn-ts-build and runs it as the host would (a fresh
// instance per call, a fixed wall clock, seeded random numbers), checking that the engine reads
// the clock and random numbers from the host on every call, that log lines reach the host, and
// that an exception that is not a rejection traps. Slow (a build takes several seconds), so it
// is `npm run test:component`, not part of `npm test`.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { loadComponent, outcome } from '../scripts/component-runner.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const work = await mkdtemp(join(tmpdir(), 'cairn-probe-'));
const wasm = join(work, 'probe.wasm');
execFileSync(process.execPath, [join(here, '..', 'bin', 'cairn-ts-build.mjs'), join(here, 'probe'), wasm], {
  stdio: 'inherit',
});
const component = await loadComponent(wasm);
const init = await component.call((e) => e.aggregate.init());

async function probe(timeMs, seed) {
  const events = await component.call(
    (e) => e.aggregate.decide(init, { commandType: 'Probe', data: 'null' }),
    { timeMs, seed },
  );
  return { data: JSON.parse(events[0].data), trace: [...component.trace] };
}

test('Date reads the wall clock of the call', async () => {
  const { data } = await probe(1_700_000_000_123, 1);
  assert.equal(data.now, 1_700_000_000_123);
  assert.equal(data.date, '2023-11-14T22:13:20.123Z');
  assert.equal((await probe(86_400_000, 1)).data.date, '1970-01-02T00:00:00.000Z');
});

test('Math.random and crypto read the random numbers of the call, every time', async () => {
  const a = await probe(0, 7);
  const b = await probe(0, 7);
  const c = await probe(0, 8);
  assert.deepEqual(a.data, b.data, 'the same seed gives the same numbers');
  assert.notDeepEqual(a.data.random, c.data.random, 'another seed gives other numbers');
  assert.notDeepEqual(a.data.bytes, c.data.bytes);
  assert.notEqual(a.data.uuid, c.data.uuid);
  assert.equal(new Set(a.data.random).size, 3);
  // One wasi:random call per Math.random(): no generator is seeded once and kept.
  assert.equal(a.trace.filter((t) => t === 'random.get-random-u64').length, 3, a.trace.join(', '));
  assert.ok(
    a.trace.some((t) => t.startsWith('random.get-random-bytes')),
    a.trace.join(', '),
  );
  assert.equal(a.data.performance, 0, 'performance.now() reads the stopped monotonic clock');
});

test('log lines go to the host', async () => {
  const log = [];
  await component.call((e) => e.aggregate.decide(init, { commandType: 'Log', data: 'null' }), { log });
  assert.deepEqual(log, [['warn', 'a line for the host']]);
});

test('an exception that is not a rejection traps', async () => {
  for (const commandType of ['Crash', 'ThrowString']) {
    await assert.rejects(
      component.call((e) => outcome(() => e.aggregate.decide(init, { commandType, data: 'null' }))),
      (e) => e instanceof WebAssembly.RuntimeError,
      commandType,
    );
  }
});

test.after(async () => {
  await component.close();
  await rm(work, { recursive: true, force: true });
});
