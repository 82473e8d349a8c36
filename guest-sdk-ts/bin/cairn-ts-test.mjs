#!/usr/bin/env node
// Runs a package's TypeScript tests on Node's built-in test runner.
//
//   cairn-ts-test [package-dir]     (default: the current directory)
//
// Each `test/**/*.test.ts` of the package is bundled by esbuild (with `@cairn/sdk`, which ships
// TypeScript sources) into `dist/test/*.test.mjs`, which `node --test` then runs. Types are not
// checked here: run `tsc` first. esbuild is taken from the package's own dependencies, else
// from this SDK's.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

function die(message) {
  console.error(`cairn-ts-test: ${message}`);
  process.exit(1);
}

async function loadEsbuild(dir) {
  for (const from of [join(dir, 'package.json'), import.meta.filename ?? new URL(import.meta.url).pathname]) {
    try {
      const path = createRequire(from).resolve('esbuild');
      return await import(pathToFileURL(path).href);
    } catch {
      // try the next place
    }
  }
  die(`esbuild is not installed for ${dir} nor for the SDK: run npm ci`);
}

async function testFiles(dir) {
  const root = join(dir, 'test');
  if (!existsSync(root)) return [];
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && /\.test\.m?ts$/.test(e.name))
    .map((e) => join(e.parentPath ?? e.path, e.name))
    .sort();
}

const dir = resolve(process.argv[2] ?? '.');
const files = await testFiles(dir);
if (files.length === 0) die(`no test/**/*.test.ts in ${dir}`);

const esbuild = await loadEsbuild(dir);
const outdir = join(dir, 'dist', 'test');
await rm(outdir, { recursive: true, force: true });
try {
  await esbuild.build({
    entryPoints: files,
    outbase: join(dir, 'test'),
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
} catch (e) {
  die(`bundling the tests failed: ${e.message}`);
}

const built = files.map((f) => join(outdir, relative(join(dir, 'test'), f).replace(/\.m?ts$/, '.mjs')));
const run = spawnSync(process.execPath, ['--enable-source-maps', '--test', ...built], {
  stdio: 'inherit',
  cwd: dir,
});
process.exit(run.status ?? 1);
