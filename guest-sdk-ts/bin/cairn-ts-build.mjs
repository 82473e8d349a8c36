#!/usr/bin/env node
// Builds a cairn module written in TypeScript into a WebAssembly component.
//
//   node <sdk>/bin/cairn-ts-build.mjs [module-dir] [out.wasm] [--world <world>] [--wit <file>]
//
// module-dir defaults to the current directory, out.wasm to <module-dir>/dist/<name>.wasm
// (<name> from its package.json). The module's entry is `cairn.entry` in its package.json, else
// src/index.ts; its default export is what `defineAggregate` or `defineProjection` returns, and
// the world (`aggregate-module` or `projection-module`) follows from it. A `cairn.world` in
// package.json (or --world) must agree.
//
// Steps:
// 1. esbuild bundles the entry, with the SDK's exports for its world, into one ES module.
//    `@cairn/sdk` always resolves to this SDK, so the module and the exports share one copy;
//    the WIT imports (`cairn:module/...`) stay imports.
// 2. componentize-js turns the bundle into a component of the world in wit/cairn.wit, on the
//    StarlingMonkey engine, pre-initialised by Wizer. The `http` and `fetch-event` features are
//    disabled (no wasi:http imports); `stdio`, `clocks` and `random` stay, as the host supplies
//    them (deterministically). No ahead-of-time compilation (weval).
//
// The types are not checked here (esbuild strips them): the module's `npm test` runs tsc.
// Exits with status 1 and a message on stderr on any failure.

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const sdk = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORLDS = { aggregate: 'aggregate-module', projection: 'projection-module' };
const EXPORTS = {
  'aggregate-module': { file: 'src/exports/aggregate.ts', fn: 'exportAggregate', name: 'aggregate' },
  'projection-module': { file: 'src/exports/projection.ts', fn: 'exportProjection', name: 'projection' },
};

class BuildError extends Error {}

function parseArgs(argv) {
  const positional = [];
  const options = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--world' || arg === '--wit') {
      if (i + 1 >= argv.length) throw new BuildError(`${arg} needs a value`);
      options[arg.slice(2)] = argv[++i];
    } else if (arg === '-h' || arg === '--help') {
      console.log('usage: cairn-ts-build [module-dir] [out.wasm] [--world <world>] [--wit <file>]');
      process.exit(0);
    } else if (arg.startsWith('-')) {
      throw new BuildError(`unknown option ${arg}`);
    } else {
      positional.push(arg);
    }
  }
  if (positional.length > 2) throw new BuildError('expected at most a module directory and an output path');
  return { moduleDir: resolve(positional[0] ?? '.'), out: positional[1], ...options };
}

async function importFromSdk(name) {
  try {
    return await import(name);
  } catch (e) {
    if (e?.code === 'ERR_MODULE_NOT_FOUND') {
      throw new BuildError(`${name} is not installed for the SDK: run \`npm ci\` in ${sdk}`);
    }
    throw e;
  }
}

/** An esbuild plugin that resolves `@cairn/sdk` (and `@cairn/sdk/testing`) to this SDK. */
const sdkPlugin = {
  name: 'cairn-sdk',
  setup(build) {
    build.onResolve({ filter: /^@cairn\/sdk(\/testing)?$/ }, (args) => ({
      path: join(sdk, 'src', args.path.endsWith('/testing') ? 'testing.ts' : 'index.ts'),
    }));
  },
};

async function readPackage(moduleDir) {
  const path = join(moduleDir, 'package.json');
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new BuildError(`${path} is not JSON: ${e.message}`);
  }
}

function bundleErrors(e) {
  const errors = e?.errors ?? [];
  if (errors.length === 0) return e.message;
  return errors
    .map((m) =>
      m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ${m.text}` : m.text,
    )
    .join('\n');
}

/** The world the module's default export needs, found by loading the module in Node. */
async function probeWorld(esbuild, entry, work) {
  const probe = join(work, 'probe.mjs');
  try {
    await esbuild.build({
      entryPoints: [entry],
      outfile: probe,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      plugins: [sdkPlugin],
      logLevel: 'silent',
    });
  } catch (e) {
    throw new BuildError(`bundling ${entry} failed:\n${bundleErrors(e)}`);
  }
  let loaded;
  try {
    loaded = await import(pathToFileURL(probe).href);
  } catch (e) {
    throw new BuildError(`loading ${entry} failed: ${e?.stack ?? e}`);
  }
  const world = WORLDS[loaded.default?.kind];
  if (world === undefined) {
    throw new BuildError(
      `the default export of ${entry} must be what defineAggregate(...) or defineProjection(...) returns`,
    );
  }
  return world;
}

async function main() {
  const started = performance.now();
  const args = parseArgs(process.argv.slice(2));
  const { moduleDir } = args;
  if (!existsSync(moduleDir)) throw new BuildError(`no module directory ${moduleDir}`);
  const pkg = await readPackage(moduleDir);
  const entry = resolve(moduleDir, pkg.cairn?.entry ?? 'src/index.ts');
  if (!existsSync(entry))
    throw new BuildError(`no entry ${entry} (set "cairn": { "entry": ... } in package.json)`);
  const name = (pkg.name ?? basename(moduleDir)).replace(/^@.*\//, '').replace(/[^A-Za-z0-9_.-]/g, '_');
  const out = resolve(args.out ?? join(moduleDir, 'dist', `${name}.wasm`));
  const wit = resolve(args.wit ?? process.env.CAIRN_WIT ?? join(sdk, '..', 'wit', 'cairn.wit'));
  if (!existsSync(wit)) throw new BuildError(`no WIT file at ${wit} (give --wit)`);

  const esbuild = await importFromSdk('esbuild');
  const work = await mkdtemp(join(tmpdir(), 'cairn-ts-build-'));
  try {
    const world = await probeWorld(esbuild, entry, work);
    const declared = args.world ?? pkg.cairn?.world;
    if (declared !== undefined && declared !== world) {
      throw new BuildError(`the module is for the ${world} world, but ${declared} was asked for`);
    }
    const exported = EXPORTS[world];

    // 1. One ES module: the module's definition, wrapped in the world's exports.
    const source = join(work, `${name}.js`);
    const entryCode = [
      `import definition from ${JSON.stringify(entry)};`,
      `import { ${exported.fn} } from ${JSON.stringify(join(sdk, exported.file))};`,
      `export const ${exported.name} = ${exported.fn}(definition);`,
    ].join('\n');
    try {
      await esbuild.build({
        stdin: { contents: entryCode, resolveDir: moduleDir, sourcefile: `${name}-entry.js`, loader: 'js' },
        outfile: source,
        bundle: true,
        platform: 'neutral',
        mainFields: ['module', 'main'],
        format: 'esm',
        target: 'es2022',
        external: ['cairn:module/*'],
        plugins: [sdkPlugin],
        legalComments: 'none',
        logLevel: 'silent',
      });
    } catch (e) {
      throw new BuildError(`bundling ${entry} failed:\n${bundleErrors(e)}`);
    }
    const bundled = performance.now();

    // 2. The component.
    const { componentize } = await importFromSdk('@bytecodealliance/componentize-js');
    await openFilesystemForSplicer();
    let component;
    try {
      ({ component } = await componentize({
        sourcePath: source,
        witPath: wit,
        worldName: world,
        disableFeatures: ['http', 'fetch-event'],
        enableAot: false,
      }));
    } catch (e) {
      throw new BuildError(`componentize-js failed: ${e?.message ?? e}`);
    }
    await mkdir(dirname(out), { recursive: true });
    // Written beside, then renamed: a reader never sees half a component, and builds of one
    // module at once each put a whole one in place.
    const partial = `${out}.${process.pid}.partial`;
    await writeFile(partial, component);
    await rename(partial, out);
    const done = performance.now();
    const mib = (component.length / 1024 / 1024).toFixed(1);
    console.log(
      `cairn-ts-build: ${out} (${world}, ${component.length} bytes = ${mib} MiB) in ` +
        `${((done - started) / 1000).toFixed(1)} s (bundle ${((bundled - started) / 1000).toFixed(1)} s, ` +
        `componentize ${((done - bundled) / 1000).toFixed(1)} s)`,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * componentize-js reads the WIT through a WASI component and its JavaScript WASI shim
 * (@bytecodealliance/preview2-shim). Version 0.25 of the shim opens `/` for it by default;
 * later versions open nothing unless told to, which fails with ENOENT. Open `/` explicitly, on
 * the copy of the shim componentize-js uses, so the build works with either.
 */
async function openFilesystemForSplicer() {
  try {
    const componentizeJs = fileURLToPath(import.meta.resolve('@bytecodealliance/componentize-js'));
    const shim = createRequire(componentizeJs).resolve('@bytecodealliance/preview2-shim/filesystem');
    const filesystem = await import(pathToFileURL(shim).href);
    if (typeof filesystem._setPreopens === 'function') filesystem._setPreopens({ '/': '/' });
  } catch {
    // An older or newer layout: componentize-js reports a failure to read the WIT itself.
  }
}

main().catch((e) => {
  console.error(`cairn-ts-build: ${e instanceof BuildError ? e.message : (e?.stack ?? e)}`);
  process.exit(1);
});
