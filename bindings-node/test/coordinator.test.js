'use strict';
// examples/node/coordinator.js, run as scripts/demo runs it (`--json`), checked as tests/demo
// checks every face's: the coordinated run ends every job right; the naive fan-out is
// throttled and held to its deadline. The process exits promptly after the runs (no timers
// left behind).

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFile } = require('node:child_process');

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'node', 'coordinator.js');

test('examples/node/coordinator.js --json: naive fan-out fails, the coordinated one ends every job right', async () => {
  const t0 = performance.now();
  const stdout = await new Promise((resolve, reject) => {
    execFile(process.execPath, [EXAMPLE, '--json'], { timeout: 60_000 }, (error, out, err) =>
      error ? reject(Object.assign(error, { stderr: err })) : resolve(out),
    );
  });
  const tookS = (performance.now() - t0) / 1000;
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'exactly one JSON object');
  const obj = JSON.parse(lines[0]);
  assert.equal(obj.face, 'node');
  assert.equal(obj.jobs, 200);
  const byName = new Map(obj.runs.map((r) => [r.name, r]));
  const naive = byName.get('naive fan-out');
  const coord = byName.get('coordinated');
  assert.ok(naive && coord, JSON.stringify(obj));

  assert.equal(coord.ok, true, JSON.stringify(coord));
  assert.equal(coord.results_right, true);
  assert.equal(coord.succeeded, 200);
  assert.equal(coord.error, 0);
  assert.equal(coord.throttled, 0);
  assert.equal(coord.hung, 3);
  assert.equal(coord.retries, coord.transient + 3, 'one retry per transient and per hung call');
  assert.equal(coord.transient, Array.from({ length: 200 }, (_, i) => i).filter((i) => i % 23 === 5).length);

  assert.equal(naive.ok, false, JSON.stringify(naive));
  assert.equal(naive.results_right, false);
  assert.ok(naive.throttled >= 100, `throttled ${naive.throttled}`);
  assert.ok(naive.error >= naive.throttled, `error ${naive.error}`);
  assert.equal(naive.deadline, 3, 'the hung calls are held to the deadline');
  assert.ok(naive.wall_s >= 1.4, `naive wall ${naive.wall_s} s`);

  // Exits promptly: the process ran little longer than its two runs.
  assert.ok(tookS < naive.wall_s + coord.wall_s + 5, `the process took ${tookS.toFixed(2)} s`);
});

test('the coordinator module runs in-process with fewer jobs, leaving no timers behind', async () => {
  const { fanOut } = require(EXAMPLE);
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const r = await fanOut(10, { concurrency: 4, attemptTimeoutMs: 50, retries: 1, retryBackoffMs: 1, maxPerSecond: 100 });
  assert.deepEqual(r.report.results, Array.from({ length: 10 }, (_, i) => i * 2));
  assert.equal(r.hung, 1); // job 3
  assert.equal(r.unavailable, 1); // job 5
  assert.equal(r.report.summary.retries, 2);
  const after = process.getActiveResourcesInfo().filter((t) => t === 'Timeout').length;
  assert.ok(after <= before, `timers before ${before}, after ${after}`);
});
