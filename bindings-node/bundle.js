#!/usr/bin/env node
// Writes lanepool.cjs, the file `require('lanepool')` loads: index.js, binding.js and lib/ in one
// CommonJS file (esbuild), so a cold start resolves, reads and compiles one file instead of ten.
// Node's loader spends about 0.2 ms on each file it finds, reads and wraps; the sources stay small
// modules with one job each. package.json (for the version) is inlined; the native addon stays a
// separate file, found at run time as binding.js finds it (the platform package, else a
// development build beside lanepool.cjs). Whitespace is minified (a quarter of a millisecond
// less to compile, measured); names are kept, and lanepool.cjs.map, shipped beside it, maps a
// stack trace back to the sources under `node --enable-source-maps`.
//
// `node build.js` and `npm test` run this; test/bundle.test.js fails while lanepool.cjs is older
// than the sources.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
/** The bundle's path, beside package.json. */
const BUNDLE = path.join(here, 'lanepool.cjs');
/** Its source map's path. */
const SOURCE_MAP = `${BUNDLE}.map`;

/**
 * The bundle's text and its source map's, built from the sources in `dir` (esbuild, nothing
 * written).
 *
 * @example
 * const { bundleText } = require('./bundle.js');
 * if (!bundleText(__dirname).code.includes('class Pool')) throw new Error('no Pool in the bundle');
 *
 * @param {string} dir the package folder (bindings-node)
 * @returns {{ code: string, map: string }}
 */
function bundleText(dir) {
  const esbuild = require('esbuild');
  const root = path.resolve(dir);
  const result = esbuild.buildSync({
    absWorkingDir: root,
    entryPoints: ['index.js'],
    outfile: path.join(root, path.basename(BUNDLE)),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Found at run time: the platform package or a development build.
    external: ['@lanepool/*', '*.node'],
    banner: { js: '// lanepool.cjs: made by bundle.js from index.js, binding.js and lib/; edit those.' },
    legalComments: 'none',
    minifyWhitespace: true,
    sourcemap: 'linked',
    charset: 'utf8',
    write: false,
    logLevel: 'silent',
  });
  const text = (/** @type {string} */ suffix) => {
    const file = result.outputFiles.find((f) => f.path.endsWith(suffix));
    if (!file) throw new Error(`lanepool: esbuild wrote no ${suffix} file`);
    return file.text;
  };
  return { code: text('.cjs'), map: text('.cjs.map') };
}

/**
 * Writes lanepool.cjs and lanepool.cjs.map beside this file and returns the bundle's path.
 *
 * @example
 * const { writeBundle } = require('./bundle.js');
 * const fs = require('node:fs');
 * if (!fs.existsSync(writeBundle())) throw new Error('no bundle written');
 *
 * @returns {string}
 */
function writeBundle() {
  const { code, map } = bundleText(here);
  fs.writeFileSync(BUNDLE, code);
  fs.writeFileSync(SOURCE_MAP, map);
  return BUNDLE;
}

/** Writes the bundle and says so (`node bundle.js`, and the last step of build.js). */
function main() {
  const out = writeBundle();
  console.log(`lanepool: bundled ${path.relative(process.cwd(), out)} (${fs.statSync(out).size} bytes)`);
}

module.exports = { BUNDLE, SOURCE_MAP, bundleText, writeBundle, main };

if (require.main === module) main();
