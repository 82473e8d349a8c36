#!/usr/bin/env node
// Generates the TypeScript declarations of the guest side of the cairn worlds from
// wit/cairn.wit into src/generated/, with jco's guest type generation. The files are never
// edited by hand and not committed: `npm run generate` (run by `prepare` and by `build`)
// writes them again, so they cannot drift from the WIT. With `--if-available` (as `prepare`
// runs it) it does nothing where jco is not installed.

import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const wit = resolve(root, process.env.CAIRN_WIT ?? '../wit/cairn.wit');
const out = join(root, 'src', 'generated');
const worlds = ['aggregate-module', 'projection-module'];

// jco's type generator is itself a component that reads the WIT through WASI. Its WASI shim
// (preview2-shim 0.26) gives a component no filesystem unless told to, so the directory of the
// WIT file is opened for it here, on the copy of the shim it uses.
const require = createRequire(import.meta.url);
let transpile;
try {
  transpile = require.resolve('@bytecodealliance/jco-transpile');
} catch (e) {
  // `prepare` also runs where this package is installed as another's dependency, without its
  // development dependencies; the generated declarations are only needed to check this package.
  if (process.argv.includes('--if-available')) {
    console.log('generate-types: @bytecodealliance/jco-transpile is not installed; skipped');
    process.exit(0);
  }
  throw e;
}
const shimPath = createRequire(transpile).resolve('@bytecodealliance/preview2-shim/filesystem');
const shim = await import(pathToFileURL(shimPath).href);
if (typeof shim._setPreopens === 'function') {
  shim._setPreopens({ [dirname(wit)]: dirname(wit) });
}
const { generateGuestTypes } = await import('@bytecodealliance/jco-transpile');

await rm(out, { recursive: true, force: true });
const written = new Map();
for (const world of worlds) {
  const files = await generateGuestTypes(wit, { worldName: world, outDir: '' });
  for (const [name, bytes] of Object.entries(files)) {
    const text = new TextDecoder().decode(bytes);
    // The worlds share interfaces (`log`, `types`); each is generated the same for both.
    if (written.has(name) && written.get(name) !== text) {
      throw new Error(`${name} differs between worlds`);
    }
    written.set(name, text);
  }
}
for (const [name, text] of written) {
  const path = join(out, name);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(
    path,
    `// Generated from wit/cairn.wit by scripts/generate-types.mjs. Do not edit.\n${text}`,
  );
}
console.log(`generated ${written.size} files in ${out}`);
