'use strict';
// A short soak (soak.mjs, 300 invocations) as part of the suite: responses right, and after the
// warm-up no growth of native memory (< 5 MB), live heap, threads, fds or active handles.
// The full run: node --expose-gc bindings-node/soak.mjs --invocations 5000

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

test('soak.mjs --invocations 300: right responses, nothing grows', { timeout: 120_000 }, () => {
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(__dirname, '..', 'soak.mjs'), '--invocations', '300'], {
    encoding: 'utf8',
    timeout: 110_000,
  });
  assert.equal(r.signal, null, `killed by ${r.signal}`);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const summary = JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('{')));
  assert.equal(summary.invocations, 300);
  assert.equal(summary.wrong, 0);
  assert.deepEqual(summary.violations, []);
});
