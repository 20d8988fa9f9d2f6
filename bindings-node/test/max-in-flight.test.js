'use strict';
// `new Pool({ maxInFlight })`: the core's shared InFlightLimit across every process / runBatch
// call of one pool (each call's `concurrency` still holds). Calls refused a slot wait until one
// is handed to them (the core's turn-by-turn rule; no polling), a waiting call's deadline still
// ends it on time, and failed handlers give their slots back.

const test = require('node:test');
const assert = require('node:assert/strict');
const { setTimeout: sleep } = require('node:timers/promises');
const { Pool, BatchFailedError } = require('lanepool');
const { sqsRecord, contextWith, rng } = require('./helpers');

const event = (prefix, n, groups = 0) => ({
  Records: Array.from({ length: n }, (_, i) => sqsRecord(`${prefix}${i}`, groups > 0 ? `g${i % groups}` : undefined)),
});
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Rejects when `promise` has not settled within `ms`: a lost wake-up fails instead of hanging. */
function within(ms, promise, what) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms (a call never woke?)`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

test('maxInFlight must be a positive integer: TypeError for a non-number, RangeError otherwise', () => {
  for (const bad of ['4', null, true, 4n, {}, [4]]) {
    assert.throws(() => new Pool({ maxInFlight: bad }), (e) => {
      assert.ok(e instanceof TypeError, String(bad));
      assert.match(e.message, /^lanepool: maxInFlight must be a positive integer/);
      return true;
    });
  }
  for (const bad of [0, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 32]) {
    assert.throws(() => new Pool({ maxInFlight: bad }), (e) => {
      assert.ok(e instanceof RangeError, String(bad));
      assert.match(e.message, /maxInFlight must be a positive integer \(at most 4294967295\), got /);
      assert.ok(e.message.endsWith(`got ${String(bad)}`), e.message);
      return true;
    });
  }
  assert.equal(new Pool().maxInFlight, null);
  assert.equal(new Pool({ maxInFlight: undefined }).maxInFlight, null);
  assert.equal(new Pool({ maxInFlight: 1 }).maxInFlight, 1);
  assert.equal(new Pool({ concurrency: 2, maxInFlight: 64 }).maxInFlight, 64);
  assert.equal(new Pool({ concurrency: 2, maxInFlight: 64 }).concurrency, 2);
});

test('handlers in flight across 12 concurrent calls never exceed maxInFlight, and reach it', async () => {
  const MAX = 5;
  const pool = new Pool({ concurrency: 4, maxInFlight: MAX });
  let inFlight = 0;
  let peak = 0;
  const r = rng(17);
  const calls = Array.from({ length: 12 }, (_, c) => {
    const n = 10 + c * 3;
    const fails = new Set(Array.from({ length: 3 }, () => `c${c}-${r.int(0, n - 1)}`));
    let attempts = 0;
    const handler = (record) => {
      peak = Math.max(peak, ++inFlight);
      attempts++;
      const fail = fails.has(record.messageId);
      if (c % 3 === 0) {
        // plain functions: end at once (a throw fails the record)
        inFlight--;
        if (fail) throw new Error('sync fail');
        return undefined;
      }
      return sleep(r.int(0, 3)).then(() => {
        inFlight--;
        if (fail) throw new Error('async fail');
      });
    };
    return pool
      .runBatch(event(`c${c}-`, n, c % 2 === 0 ? 3 : 0), handler, { retries: 1, retryBackoffMs: 1 })
      .then((report) => ({ c, n, fails, report, attempts: () => attempts }));
  });
  for (const { c, n, fails, report, attempts } of await within(20_000, Promise.all(calls), 'the calls')) {
    const label = `call ${c}`;
    assert.equal(report.summary.records, n, label);
    assert.ok(report.summary.peakInFlight <= 4, label);
    for (const f of report.failures) {
      if (f.reason === 'error') assert.ok(fails.has(f.itemIdentifier), `${label}: ${f.itemIdentifier}`);
    }
    const errors = report.failures.filter((f) => f.reason === 'error');
    // unordered calls: every failing record fails; FIFO calls: a failing record may be skipped
    if (c % 2 === 1) assert.equal(errors.length, fails.size, `${label}: each failing record fails`);
    else assert.ok(errors.length >= 1 && errors.length <= fails.size, label);
    for (const f of errors) assert.equal(f.attempts, 2, `${label}: retries 1`);
    const made = report.failures.reduce((a, f) => a + f.attempts, 0) + report.succeeded.length;
    assert.equal(attempts(), made, label);
    assert.ok(report.summary.slotWaitMaxMs <= report.summary.slotWaitMs + 1e-9, label);
  }
  assert.ok(peak <= MAX, `${peak} handlers in flight at once, above maxInFlight ${MAX}`);
  assert.equal(peak, MAX, 'the shared limit was never full: the calls did not compete');
});

test('without maxInFlight calls do not share a limit (the control), and slotWaitMs is 0', async () => {
  const pool = new Pool({ concurrency: 4 });
  let inFlight = 0;
  let peak = 0;
  const handler = async () => {
    peak = Math.max(peak, ++inFlight);
    await sleep(2);
    inFlight--;
  };
  const reports = await Promise.all([0, 1, 2].map((c) => pool.runBatch(event(`c${c}-`, 8), handler)));
  assert.equal(peak, 12);
  for (const r of reports) assert.deepEqual([r.summary.slotWaitMs, r.summary.slotWaitMaxMs], [0, 0]);
});

test('a 10-record call that starts while a 10,000-record call runs gets its turn: it ends long before the big one', async () => {
  const pool = new Pool({ concurrency: 8, maxInFlight: 4 });
  let bigEnded = 0;
  const big = pool.runBatch(event('big-', 10_000), async () => {
    await tick();
    bigEnded++;
  });
  while (bigEnded < 100) await tick(); // the big call holds every slot by now
  const bigAtSmallStart = bigEnded;
  const smallStart = performance.now();
  const small = await within(10_000, pool.runBatch(event('small-', 10), tick), 'the small call');
  const smallTook = performance.now() - smallStart;
  const bigAtSmallEnd = bigEnded;
  const bigReport = await big;
  const bigTook = bigReport.summary.durationMs;
  assert.deepEqual(small.succeeded.length, 10);
  assert.equal(bigReport.succeeded.length, 10_000);
  // served every other slot: the big call ended only a few records meanwhile (about 10), not
  // the thousands it had left
  const meanwhile = bigAtSmallEnd - bigAtSmallStart;
  assert.ok(meanwhile < 500, `the big call ended ${meanwhile} records while the small one ran`);
  assert.ok(smallTook * 10 < bigTook, `small ${smallTook.toFixed(1)} ms vs big ${bigTook.toFixed(1)} ms`);
  assert.ok(small.summary.slotWaitMs > 0, 'the small call waited for slots');
  assert.ok(small.summary.slotWaitMaxMs > 0);
});

test("a call's deadline while it waits for a slot: its records end deadline with 0 attempts, at its deadline", async () => {
  const pool = new Pool({ concurrency: 3, maxInFlight: 3 });
  let release;
  const gate = new Promise((resolve) => (release = resolve));
  let bigRunning = 0;
  const big = pool.runBatch(event('big-', 3), async () => {
    bigRunning++;
    await gate;
  });
  while (bigRunning < 3) await tick();
  let smallCalls = 0;
  const t0 = performance.now();
  const small = await within(
    5_000,
    pool.runBatch(event('small-', 4, 2), () => smallCalls++, {
      context: contextWith(80),
      deadlineMarginMs: 20,
      throwOnFullBatchFailure: false,
    }),
    'the waiting call',
  );
  const took = performance.now() - t0;
  assert.equal(smallCalls, 0, 'a record of the waiting call started');
  assert.deepEqual(
    small.failures.map((f) => [f.itemIdentifier, f.reason, f.attempts]),
    [0, 1, 2, 3].map((i) => [`small-${i}`, 'deadline', 0]),
  );
  assert.deepEqual(small.response.batchItemFailures.length, 4);
  assert.equal(small.summary.deadline, 4);
  assert.ok(took >= 55, `ended after ${took.toFixed(0)} ms, before its deadline (60 ms)`);
  assert.ok(small.summary.slotWaitMaxMs >= 50, `slotWaitMaxMs ${small.summary.slotWaitMaxMs}`);
  assert.equal(bigRunning, 3, 'the big call was still running: the small one ended by its own deadline');
  release();
  assert.equal((await big).succeeded.length, 3);
  // the same with the all-failed rule: BatchFailedError, its report the same
  let again = 0;
  const gate2 = new Promise((resolve) => (release = resolve));
  const big2 = pool.process(event('big2-', 3), () => gate2);
  await tick();
  await assert.rejects(
    pool.process(event('late-', 2), () => again++, { context: contextWith(30), deadlineMarginMs: 0 }),
    (e) => e instanceof BatchFailedError && e.report.failures.every((f) => f.reason === 'deadline' && f.attempts === 0),
  );
  assert.equal(again, 0);
  release();
  await big2;
});

test('a call whose handlers throw or reject gives its slots back: other calls then get every slot', async () => {
  const MAX = 3;
  const pool = new Pool({ concurrency: MAX, maxInFlight: MAX });
  let inFlight = 0;
  /** Handlers that wait until all MAX slots are busy at once (a leaked slot would stall them). */
  const allAtOnce = async () => {
    inFlight++;
    while (inFlight < MAX) await tick();
    await tick();
    inFlight--;
  };
  for (let round = 0; round < 5; round++) {
    const throwing = pool.runBatch(event(`t${round}-`, 20), (record) => {
      const i = Number(record.messageId.split('-')[1]);
      if (i % 2 === 0) throw new Error('sync throw');
      return Promise.reject(new Error('rejected'));
    });
    const waiting = pool.runBatch(event(`w${round}-`, 9), allAtOnce);
    await assert.rejects(throwing, BatchFailedError);
    const report = await within(5_000, waiting, `round ${round}: the call after the failing one`);
    assert.equal(report.succeeded.length, 9);
    assert.equal(report.summary.peakInFlight, MAX);
  }
  // calls rejected before they ran (a malformed event, a throwing groupKey, a bad handler) hold nothing
  await assert.rejects(pool.process({ Records: [{ eventSource: 'aws:sqs' }] }, allAtOnce));
  await assert.rejects(pool.process(event('k-', 3), allAtOnce, { groupKey: () => { throw new Error('key'); } }));
  await assert.rejects(pool.process(event('h-', 3), 'not a function'));
  const report = await within(5_000, pool.runBatch(event('last-', 6), allAtOnce), 'the last call');
  assert.equal(report.summary.peakInFlight, MAX);
});
