'use strict';
// A settled call keeps nothing of its batch alive: after a young collection the young generation
// holds less than half of what one live event of the same size takes, for every kind of call.
// V8 can keep a finished call's closures alive until its next full collection; the driver and
// `map` let go of the event (or items), the records, the results and the promise when the call
// settles (`release` in lib/driver.js and lib/map.js). Before they did, three settled calls kept
// about three events' worth.
// test/workers/young-retention.js measures, under `node --expose-gc`.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

test('settled calls keep none of their batch through a young collection', { timeout: 60_000 }, () => {
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(__dirname, 'workers', 'young-retention.js')], {
    encoding: 'utf8',
    timeout: 50_000,
  });
  assert.equal(r.signal, null, `killed by ${r.signal}`);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const { held, retained } = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '');
  assert.ok(held > 100_000, `one event takes ${held} bytes`);
  assert.equal(Object.keys(retained).length, 9);
  for (const [call, bytes] of Object.entries(retained)) {
    assert.ok(bytes < held / 2, `${call}: ${bytes} young bytes left after three calls (one event takes ${held})`);
  }
});
