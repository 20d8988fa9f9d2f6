#!/usr/bin/env node
// Writes lanepool.cjs, the file `require('lanepool')` loads: index.js, binding.js and lib/ in one
// CommonJS file (esbuild), so a cold start resolves, reads and compiles one file instead of ten.
// Node's loader spends about 0.2 ms on each file it finds, reads and wraps; the sources stay small
// modules with one job each. package.json (for the version) is inlined; the native addon stays a
// separate file, found at run time as binding.js finds it (the platform package, else a
// development build beside lanepool.cjs).
//
// `node build.js` and `npm test` run this; test/bundle.test.js fails while lanepool.cjs is older
// than the sources.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
/** The bundle's path, beside package.json. */
const BUNDLE = path.join(here, 'lanepool.cjs');

/**
 * The bundle's text, built from the sources in `dir` (esbuild, nothing written).
 *
 * @example
 * const { bundleText } = require('./bundle.js');
 * if (!bundleText(__dirname).includes('class Pool')) throw new Error('no Pool in the bundle');
 *
 * @param {string} dir the package folder (bindings-node)
 * @returns {string}
 */
function bundleText(dir) {
  const esbuild = require('esbuild');
  const result = esbuild.buildSync({
    absWorkingDir: dir,
    entryPoints: ['index.js'],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Found at run time: the platform package or a development build.
    external: ['@lanepool/*', '*.node'],
    banner: { js: '// lanepool.cjs: made by bundle.js from index.js, binding.js and lib/; edit those.' },
    legalComments: 'none',
    charset: 'utf8',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

/**
 * Writes lanepool.cjs beside this file (or at `out`) and returns its path.
 *
 * @example
 * const { writeBundle } = require('./bundle.js');
 * const fs = require('node:fs');
 * if (!fs.existsSync(writeBundle())) throw new Error('no bundle written');
 *
 * @param {string} [out]
 * @returns {string}
 */
function writeBundle(out = BUNDLE) {
  fs.writeFileSync(out, bundleText(here));
  return out;
}

/** Writes the bundle and says so (`node bundle.js`, and the last step of build.js). */
function main() {
  const out = writeBundle();
  console.log(`lanepool: bundled ${path.relative(process.cwd(), out)} (${fs.statSync(out).size} bytes)`);
}

module.exports = { BUNDLE, bundleText, writeBundle, main };

if (require.main === module) main();
