// Runs a built cairn component in Node, as the host runs it in wasmtime: a fresh instance for
// every call, a wall clock that reads the call's time, random numbers from the call's seed, a
// stopped monotonic clock (at `monotonicNs`), no filesystem, and (for a projection) a key-value
// table in memory. For smoke tests of what cairn-ts-build produces; the host's own tests run the
// component on wasmtime. Needs this package's development dependencies (jco).
//
//   const component = await loadComponent('dist/bank_account.wasm');
//   const state = await component.call((e) => e.aggregate.init());
//
// Calls go through jco's transpiled bindings: a WIT `result` comes back as its `ok` value or
// throws an error whose `payload` is the `err` value (see `outcome`).

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { transpile } from '@bytecodealliance/jco';
import * as cli from '@bytecodealliance/preview2-shim/cli';
import * as filesystem from '@bytecodealliance/preview2-shim/filesystem';
import * as io from '@bytecodealliance/preview2-shim/io';

/** A deterministic byte source from a seed (xorshift32; only the determinism matters here). */
function seededBytes(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x & 0xff;
  };
}

const byteKey = (bytes) => String.fromCharCode(...bytes);

/** A key-value table in memory, with the `kv` import's functions. */
export class MemoryTable {
  entries = new Map();
  /** How many `write-many` calls the module made. */
  writeManyCalls = 0;

  imports() {
    return {
      get: (key) => this.entries.get(byteKey(key))?.[1].slice(),
      put: (key, value) => void this.entries.set(byteKey(key), [key.slice(), value.slice()]),
      delete: (key) => void this.entries.delete(byteKey(key)),
      writeMany: (entries) => {
        this.writeManyCalls += 1;
        for (const [key, value] of entries) {
          if (value === undefined) this.entries.delete(byteKey(key));
          else this.entries.set(byteKey(key), [key.slice(), value.slice()]);
        }
      },
      scan: (prefix, startAfter, limit) => {
        const from = byteKey(prefix);
        const after = startAfter === undefined ? undefined : byteKey(startAfter);
        return [...this.entries.keys()]
          .filter((k) => k.startsWith(from) && (after === undefined || k > after))
          .sort()
          .slice(0, Math.min(limit, 10_000))
          .map((k) => this.entries.get(k).map((b) => b.slice()));
      },
    };
  }
}

/**
 * Transpiles the component at `path` and returns `call(fn, input)`, which instantiates it afresh
 * with `input` ({ timeMs, seed, monotonicNs, kv, log }) and runs `fn(exports)`. `trace` lists
 * the WASI clock and random calls of the last call.
 */
export async function loadComponent(path) {
  const bytes = await readFile(path);
  const { files } = await transpile(bytes, {
    name: 'component',
    instantiation: 'async',
    noTypescript: true,
    quiet: true,
  });
  const dir = await mkdtemp(join(tmpdir(), 'cairn-component-'));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  const { instantiate } = await import(pathToFileURL(join(dir, 'component.js')).href);
  const modules = new Map();
  const getCoreModule = (name) => {
    if (!modules.has(name))
      modules.set(
        name,
        readFile(join(dir, name)).then((b) => WebAssembly.compile(b)),
      );
    return modules.get(name);
  };
  const trace = [];

  function imports({ timeMs = 0, seed = 0, monotonicNs = 0n, kv = new MemoryTable(), log = [] }) {
    const next = seededBytes(seed);
    return {
      'cairn:module/log': { write: (level, message) => log.push([level, message]) },
      'cairn:module/kv': kv.imports(),
      'cairn:module/types': {},
      'wasi:cli/stderr': cli.stderr,
      'wasi:cli/stdin': cli.stdin,
      'wasi:cli/stdout': cli.stdout,
      'wasi:cli/terminal-input': cli.terminalInput,
      'wasi:cli/terminal-output': cli.terminalOutput,
      'wasi:cli/terminal-stderr': cli.terminalStderr,
      'wasi:cli/terminal-stdin': cli.terminalStdin,
      'wasi:cli/terminal-stdout': cli.terminalStdout,
      'wasi:clocks/monotonic-clock': {
        now: () => (trace.push('monotonic-clock.now'), monotonicNs),
        resolution: () => 1n,
        subscribeDuration: () => {
          throw new Error('a timer in a module');
        },
        subscribeInstant: () => {
          throw new Error('a timer in a module');
        },
      },
      'wasi:clocks/wall-clock': {
        now: () => {
          trace.push('wall-clock.now');
          return { seconds: BigInt(Math.floor(timeMs / 1000)), nanoseconds: (timeMs % 1000) * 1_000_000 };
        },
        resolution: () => ({ seconds: 0n, nanoseconds: 1_000_000 }),
      },
      'wasi:filesystem/preopens': { getDirectories: () => [] },
      'wasi:filesystem/types': filesystem.types,
      'wasi:io/error': io.error,
      'wasi:io/poll': io.poll,
      'wasi:io/streams': io.streams,
      'wasi:random/random': {
        getRandomBytes: (n) => {
          trace.push(`random.get-random-bytes(${n})`);
          return Uint8Array.from({ length: Number(n) }, next);
        },
        getRandomU64: () => {
          trace.push('random.get-random-u64');
          let v = 0n;
          for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(next());
          return v;
        },
      },
    };
  }

  return {
    trace,
    async call(fn, input = {}) {
      trace.length = 0;
      const instance = await instantiate(getCoreModule, imports(input));
      const exports = {
        aggregate: instance['cairn:module/aggregate@0.1.0'] ?? instance.aggregate,
        projection: instance['cairn:module/projection@0.1.0'] ?? instance.projection,
      };
      return fn(exports);
    },
    async close() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `fn()`'s WIT result as `{ tag: 'ok', val }` or `{ tag: 'err', val }`; a trap throws. */
export async function outcome(fn) {
  try {
    return { tag: 'ok', val: await fn() };
  } catch (e) {
    if (e && Object.hasOwn(e, 'payload')) return { tag: 'err', val: e.payload };
    throw e;
  }
}
