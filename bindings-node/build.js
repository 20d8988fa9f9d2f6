#!/usr/bin/env node
// Builds the native addon in release mode with plain cargo and copies it next to index.js as
// lanepool.<platform>-<arch>[-<abi>].node (the name binding.js loads), then writes the JavaScript
// bundle lanepool.cjs (bundle.js), the package's entry point. CARGO_TARGET_DIR is honoured.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
const debug = process.argv.includes('--debug');
const args = ['build', '-p', 'lanepool-node', '--lib'];
if (!debug) args.push('--release');
execFileSync('cargo', args, { cwd: here, stdio: 'inherit' });

/** @returns {string} */
function targetDir() {
  if (process.env.CARGO_TARGET_DIR) return path.resolve(here, process.env.CARGO_TARGET_DIR);
  const meta = JSON.parse(
    execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps'], {
      cwd: here,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    }),
  );
  return meta.target_directory;
}

/** @type {Record<string, string | undefined>} */
const LIB_NAMES = {
  linux: 'liblanepool_node.so',
  darwin: 'liblanepool_node.dylib',
  win32: 'lanepool_node.dll',
};
const libName = LIB_NAMES[process.platform] || 'liblanepool_node.so';
const built = path.join(targetDir(), debug ? 'debug' : 'release', libName);

let abi = '';
if (process.platform === 'linux') {
  const report = /** @type {any} */ (process.report && process.report.getReport());
  const glibc = report && report.header.glibcVersionRuntime;
  abi = glibc ? '-gnu' : '-musl';
} else if (process.platform === 'win32') {
  abi = '-msvc';
}
const out = path.join(here, `lanepool.${process.platform}-${process.arch}${abi}.node`);
fs.copyFileSync(built, out);
console.log(`lanepool: built ${path.relative(process.cwd(), out)} (${fs.statSync(out).size} bytes)`);

require('./bundle.js').main();
