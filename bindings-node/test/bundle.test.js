'use strict';
// `require('lanepool')` loads lanepool.cjs, the one-file bundle bundle.js makes of index.js,
// binding.js and lib/. These tests keep it the file users get and keep it current, so every other
// test (the vectors included) runs the sources as they are.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { BUNDLE, SOURCE_MAP, bundleText } = require('../bundle.js');

const PKG = path.join(__dirname, '..');

test('lanepool.cjs is what bundle.js makes of the sources now (else run: node bundle.js)', () => {
  assert.ok(fs.existsSync(BUNDLE), 'lanepool.cjs is missing: run node build.js or node bundle.js');
  const { code, map } = bundleText(PKG);
  assert.ok(
    fs.readFileSync(BUNDLE, 'utf8') === code && fs.readFileSync(SOURCE_MAP, 'utf8') === map,
    'lanepool.cjs is older than index.js, binding.js or lib/: run node bundle.js',
  );
});

test("require('lanepool') and the package's main are the bundle", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(PKG, 'package.json'), 'utf8'));
  assert.equal(require.resolve('lanepool'), BUNDLE);
  assert.equal(path.join(PKG, pkg.main), BUNDLE);
  assert.ok(pkg.files.includes(path.basename(BUNDLE)), 'package.json files ships the bundle');
  assert.ok(pkg.files.includes(path.basename(SOURCE_MAP)), 'package.json files ships its source map');
});

test('under --enable-source-maps a stack trace names the source file, not the bundle', () => {
  // A handler error is the user's; an EventError is made inside lanepool (lib/errors.js).
  const script =
    "const { Pool } = require('lanepool');" +
    "new Pool().process({ Records: 'not a list' }, async () => {}).catch((e) => process.stdout.write(String(e.stack)));";
  const stack = execFileSync(process.execPath, ['--enable-source-maps', '-e', script], { cwd: PKG }).toString();
  assert.match(stack, /EventError/);
  assert.match(stack, /lib[\\/](decode|driver|errors)\.js:\d+/);
});

test('a cold require reads no JavaScript of the package but lanepool.cjs', () => {
  // A fresh process lists the package's modules that loading lanepool put in require.cache.
  const script =
    "const m = require('lanepool'); if (typeof m.Pool !== 'function') throw new Error('no Pool');" +
    'const root = process.argv[1];' +
    "const own = Object.keys(require.cache).filter((f) => f.startsWith(root) && !f.includes('node_modules'));" +
    'process.stdout.write(JSON.stringify(own));';
  const own = JSON.parse(execFileSync(process.execPath, ['-e', script, PKG + path.sep], { cwd: PKG }).toString());
  const js = own.filter((f) => /\.(c|m)?js$/.test(f));
  assert.deepEqual(js, [BUNDLE]);
});

test('powertools and the main entry share one Pool class', () => {
  const { Pool } = require('lanepool');
  const { defaultPool } = require('lanepool/powertools');
  assert.ok(defaultPool() instanceof Pool);
});
