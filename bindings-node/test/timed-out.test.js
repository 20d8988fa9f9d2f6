'use strict';
// A context whose remaining time is zero or negative (a Lambda Managed Instances invocation
// whose time is already up: nothing stops it but this): nothing starts, every record is
// reported `deadline` with 0 attempts, and the call returns at once, with or without a shared
// limit. The vectors deadline-remaining-zero*.json / -negative*.json say the same for every
// face (test/vectors.test.js runs them).

const test = require('node:test');
const assert = require('node:assert/strict');
const { Pool, BatchFailedError } = require('lanepool');
const { sqsRecord, loadVectors, contextWith } = require('./helpers');

const event = (n) => ({ Records: Array.from({ length: n }, (_, i) => sqsRecord(`m${i}`, `g${i % 3}`)) });
const fixed = (ms) => ({ getRemainingTimeInMillis: () => ms });
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('the timed-out vectors are among the vectors the Node runner runs, with signed remaining times', () => {
  const files = loadVectors().map((v) => v.file);
  for (const name of [
    'deadline-remaining-zero.json',
    'deadline-remaining-zero-raises.json',
    'deadline-remaining-negative.json',
    'deadline-remaining-negative-raises.json',
  ]) {
    assert.ok(files.includes(name), name);
  }
  const negative = loadVectors().find((v) => v.file === 'deadline-remaining-negative.json');
  assert.ok(negative.options.remaining_time_ms < 0);
  // the test context hands the negative value over as it is
  assert.ok(contextWith(negative.options.remaining_time_ms).getRemainingTimeInMillis() < 0);
});

for (const maxInFlight of [undefined, 2]) {
  for (const remaining of [0, -0, -1, -5, -60_000, -0.5]) {
    test(`remaining time ${Object.is(remaining, -0) ? '-0' : remaining} ms${maxInFlight ? ' (maxInFlight 2)' : ''}: nothing starts, every record deadline, at once`, async () => {
      const pool = new Pool(maxInFlight === undefined ? { concurrency: 4 } : { concurrency: 4, maxInFlight });
      let calls = 0;
      const timersBefore = timers();
      const t0 = performance.now();
      const report = await pool.runBatch(event(7), () => calls++, {
        context: fixed(remaining),
        deadlineMarginMs: 0,
        throwOnFullBatchFailure: false,
      });
      const took = performance.now() - t0;
      assert.equal(calls, 0, 'a handler ran');
      assert.deepEqual(
        report.failures.map((f) => [f.itemIdentifier, f.reason, f.attempts, f.error]),
        Array.from({ length: 7 }, (_, i) => [`m${i}`, 'deadline', 0, undefined]),
      );
      assert.equal(report.response.batchItemFailures.length, 7);
      assert.equal(report.summary.deadline, 7);
      assert.equal(report.summary.peakInFlight, 0);
      assert.ok(took < 200, `returned after ${took.toFixed(0)} ms`);
      assert.ok(timers() <= timersBefore, 'a timer was left behind');
      // the all-failed rule applies as for any batch
      await assert.rejects(pool.process(event(2), () => calls++, { context: fixed(remaining) }), (e) => {
        assert.ok(e instanceof BatchFailedError);
        assert.deepEqual(e.report.failures.map((f) => f.reason), ['deadline', 'deadline']);
        return true;
      });
      assert.equal(calls, 0);
      // an empty batch is still empty, not failed
      assert.deepEqual(await pool.process({ Records: [] }, () => calls++, { context: fixed(remaining) }), {
        batchItemFailures: [],
      });
    });
  }
}

test('a timed-out call beside running calls of the same pool ends at once and takes nothing from them', async () => {
  const pool = new Pool({ concurrency: 2, maxInFlight: 2 });
  let release;
  const gate = new Promise((resolve) => (release = resolve));
  let running = 0;
  const busy = pool.runBatch(event(4), async () => {
    running++;
    await gate;
  });
  while (running < 2) await new Promise((resolve) => setImmediate(resolve));
  const late = await pool.runBatch(event(3), () => assert.fail('started'), {
    context: fixed(-10),
    throwOnFullBatchFailure: false,
  });
  assert.deepEqual(late.failures.map((f) => [f.reason, f.attempts]), [['deadline', 0], ['deadline', 0], ['deadline', 0]]);
  assert.equal(running, 2);
  release();
  assert.equal((await busy).succeeded.length, 4);
});
