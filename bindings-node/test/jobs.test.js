'use strict';
// pool.runJobs, and the per-attempt options (`attemptTimeoutMs`, `maxPerSecond`) of
// process / runBatch / runJobs. The vectors jobs-*, timeout-* and rate-*.json say the same for
// every face (test/vectors.test.js runs them); these add what is the Node face's own.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Pool, EventError } = require('lanepool');
const { sqsRecord } = require('./helpers');

/** A promise that settles only when `signal` fires: rejects with its reason. */
const hang = (signal) =>
  new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
const event = (...ids) => ({ Records: ids.map((id) => sqsRecord(id)) });

test('runJobs: results aligned with the items, sync and async fns, index and attempt', async () => {
  const seen = [];
  const report = await new Pool({ concurrency: 3 }).runJobs(['a', 'bb', 'ccc', 'dddd'], (item, ctx) => {
    seen.push([ctx.index, ctx.attempt]);
    assert.ok(ctx.signal instanceof AbortSignal);
    return ctx.index % 2 ? Promise.resolve(item.length) : item.toUpperCase();
  });
  assert.deepEqual(report.results, ['A', 2, 'CCC', 4]);
  assert.deepEqual(report.failures, []);
  assert.equal(report.ok, true);
  assert.deepEqual(seen.sort(), [[0, 1], [1, 1], [2, 1], [3, 1]]);
  assert.equal(report.summary.records, 4);
  assert.equal(report.summary.succeeded, 4);
});

test('runJobs: a failure is reported, never a rejection, even when every job failed', async () => {
  const boom = new Error('down');
  const report = await new Pool().runJobs([1, 2], async () => {
    throw boom;
  });
  assert.equal(report.ok, false);
  assert.deepEqual(report.results, [undefined, undefined]);
  assert.deepEqual(
    report.failures.map((f) => [f.index, f.item, f.reason, f.error, f.attempts]),
    [
      [0, 1, 'error', boom, 1],
      [1, 2, 'error', boom, 1],
    ],
  );
  assert.equal(report.summary.error, 2);
});

test('runJobs: retries count attempts from 1, a retried job keeps its final value', async () => {
  const report = await new Pool().runJobs(['x'], (item, { attempt }) => {
    if (attempt < 3) throw new Error(`try ${attempt}`);
    return `${item}${attempt}`;
  }, { retries: 2, retryBackoffMs: 1 });
  assert.deepEqual(report.results, ['x3']);
  assert.equal(report.summary.retries, 2);
});

test('runJobs: one lane per key, in order; a failure skips the rest of its key; null keys run freely', async () => {
  const order = [];
  const items = [
    { k: 'a', n: 0 },
    { k: 'b', n: 1 },
    { k: 'a', n: 2 },
    { k: null, n: 3 },
    { k: 'a', n: 4 },
    { k: undefined, n: 5 },
    { k: 'b', n: 6 },
  ];
  let inA = 0;
  const report = await new Pool({ concurrency: 8 }).runJobs(items, async (item) => {
    if (item.k === 'a') assert.equal(++inA, 1, 'one job of key a at a time');
    await new Promise((r) => setTimeout(r, 5));
    if (item.k === 'a') inA--;
    order.push(item.n);
    if (item.n === 1) throw new Error('b fails');
    return item.n;
  }, { key: (item) => item.k });
  assert.deepEqual(report.results, [0, undefined, 2, 3, 4, 5, undefined]);
  assert.deepEqual(report.failures.map((f) => [f.index, f.reason]), [[1, 'error'], [6, 'skipped']]);
  const a = order.filter((n) => [0, 2, 4].includes(n));
  assert.deepEqual(a, [0, 2, 4]);
  assert.equal(report.summary.lanes, 2);
});

test('runJobs: bad input is a TypeError / RangeError / EventError naming it, before any job runs', async () => {
  const pool = new Pool();
  let calls = 0;
  const fn = () => calls++;
  await assert.rejects(pool.runJobs(42, fn), { name: 'TypeError', message: /iterable/ });
  await assert.rejects(pool.runJobs([1], 'f'), { name: 'TypeError', message: /function/ });
  await assert.rejects(pool.runJobs([1], fn, { ordering: 'key' }), { name: 'TypeError', message: /"ordering"/ });
  await assert.rejects(pool.runJobs([1], fn, { key: 'k' }), { name: 'TypeError', message: /key must be a function/ });
  await assert.rejects(pool.runJobs([1], fn, { concurrency: 0 }), { name: 'RangeError', message: /concurrency/ });
  await assert.rejects(pool.runJobs([1], fn, { maxPerSecond: 0 }), { name: 'RangeError', message: /maxPerSecond/ });
  await assert.rejects(pool.runJobs([1], fn, { maxPerSecond: '5' }), { name: 'TypeError', message: /maxPerSecond/ });
  await assert.rejects(pool.runJobs([1], fn, { attemptTimeoutMs: 0 }), { name: 'RangeError', message: /attemptTimeoutMs/ });
  await assert.rejects(pool.runJobs([1], fn, { attemptTimeoutMs: -1 }), { name: 'RangeError', message: /attemptTimeoutMs/ });
  await assert.rejects(pool.runJobs([1], fn, { attemptTimeoutMs: 'x' }), { name: 'TypeError', message: /attemptTimeoutMs/ });
  await assert.rejects(pool.process(event('m'), fn, { maxPerSecond: Infinity }), { name: 'RangeError', message: /maxPerSecond/ });
  await assert.rejects(pool.runBatch(event('m'), fn, { attemptTimeoutMs: NaN }), { name: 'RangeError', message: /attemptTimeoutMs/ });
  const keyed = pool.runJobs(['a', 'b', 'c'], fn, { key: (x) => (x === 'b' ? true : x) });
  await assert.rejects(keyed, (e) => e instanceof EventError && e.index === 1 && e.field === 'group_key');
  assert.equal(calls, 0);
});

test('attemptTimeoutMs: a hung attempt is aborted with a TimeoutError and retried; sync attempts are not subject to it', async () => {
  const reasons = [];
  const t0 = performance.now();
  const report = await new Pool().runJobs([0, 1, 2], (item, { signal, attempt }) => {
    if (item === 0) {
      const until = performance.now() + 60; // sync, longer than the timeout: not stopped
      while (performance.now() < until);
      return 'sync';
    }
    if (item === 1 && attempt === 1) {
      signal.addEventListener('abort', () => reasons.push(signal.reason));
      return hang(signal);
    }
    return Promise.resolve(item);
  }, { attemptTimeoutMs: 40, retries: 1, retryBackoffMs: 1, context: { getRemainingTimeInMillis: () => 60_000 }, deadlineMarginMs: 0 });
  assert.deepEqual(report.results, ['sync', 1, 2]);
  assert.equal(report.ok, true);
  assert.equal(reasons.length, 1);
  assert.equal(reasons[0].name, 'TimeoutError');
  assert.match(reasons[0].message, /attemptTimeoutMs/);
  assert.doesNotMatch(reasons[0].message, /deadline/);
  assert.equal(report.summary.retries, 1);
  assert.ok(performance.now() - t0 < 5000);
});

test('attemptTimeoutMs in a batch: the timed-out record is in batchItemFailures and skips its lane', async () => {
  const fifo = (id) => sqsRecord(id, 'g');
  const ev = { Records: [fifo('1'), fifo('2'), sqsRecord('3')] };
  const handler = (record, { signal }) => (record.messageId === '1' ? hang(signal) : Promise.resolve());
  const pool = new Pool();
  const response = await pool.process(ev, handler, { attemptTimeoutMs: 30 });
  assert.deepEqual(response.batchItemFailures.map((f) => f.itemIdentifier), ['1', '2']);
  const report = await pool.runBatch(ev, handler, { attemptTimeoutMs: 30 });
  assert.deepEqual(report.failures.map((f) => [f.itemIdentifier, f.reason]), [['1', 'timeout'], ['2', 'skipped']]);
  assert.equal(report.failures[0].error.name, 'TimeoutError');
  assert.equal(report.summary.timeout, 1);
});

test('attemptTimeoutMs: a timed-out job without retries left is a `timeout` failure keeping its error', async () => {
  const report = await new Pool().runJobs(['slow'], async (item, { signal }) => hang(signal), { attemptTimeoutMs: 20 });
  assert.equal(report.ok, false);
  assert.deepEqual(report.failures.map((f) => [f.reason, f.attempts, f.error.name]), [['timeout', 1, 'TimeoutError']]);
  assert.equal(report.summary.timeout, 1);
});

test('maxPerSecond: starts beyond the burst wait for the bucket; the summary reports the wait', async () => {
  const starts = [];
  const t0 = performance.now();
  const report = await new Pool({ concurrency: 8 }).runJobs([0, 1, 2, 3], () => starts.push(performance.now() - t0), {
    maxPerSecond: 10, // bursts of 10: the rate holds nothing back for 4 ...
  });
  assert.equal(report.summary.rateWaitMs, 0);
  const slow = await new Pool({ concurrency: 8 }).runJobs([0, 1, 2], () => performance.now(), { maxPerSecond: 5 });
  // ... at 5 per second (bursts of 5) not either; at 2 per second, the third waits ~500 ms
  assert.equal(slow.summary.rateWaitMs, 0);
  const t1 = performance.now();
  const held = await new Pool({ concurrency: 8 }).runJobs([0, 1, 2], () => performance.now() - t1, { maxPerSecond: 2 });
  assert.ok(held.results[2] >= 400, `third start at ${held.results[2]} ms`);
  assert.ok(held.summary.rateWaitMs >= 400, `rate wait ${held.summary.rateWaitMs} ms`);
  assert.equal(starts.length, 4);
});

test('maxPerSecond in a batch holds starts back', async () => {
  const t0 = performance.now();
  const report = await new Pool().runBatch(event('a', 'b', 'c'), () => {}, { maxPerSecond: 2 });
  assert.ok(performance.now() - t0 >= 400);
  assert.ok(report.summary.rateWaitMs >= 400);
  assert.deepEqual(report.succeeded, ['a', 'b', 'c']);
});

test('map awaits async fns: results are the resolved values', async () => {
  const out = await new Pool({ concurrency: 2 }).map([1, 2, 3], async (x) => {
    await new Promise((r) => setTimeout(r, 3));
    return x * 3;
  });
  assert.deepEqual(out, [3, 6, 9]);
});

test("runJobs shares the pool's maxInFlight with its batches", async () => {
  const pool = new Pool({ concurrency: 8, maxInFlight: 3 });
  let inFlight = 0;
  let peak = 0;
  const work = async () => {
    peak = Math.max(peak, ++inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
  };
  const [jobs, report] = await Promise.all([
    pool.runJobs(Array.from({ length: 12 }, (_, i) => i), async (i) => (await work(), i)),
    pool.runBatch(event('a', 'b', 'c', 'd', 'e', 'f'), work),
  ]);
  assert.equal(jobs.ok, true);
  assert.deepEqual(jobs.results, Array.from({ length: 12 }, (_, i) => i));
  assert.equal(report.succeeded.length, 6);
  assert.ok(peak <= 3, `peak ${peak}`);
  assert.ok(peak >= 2, `peak ${peak}`);
});

test('attemptTimeoutMs: a handler that ignores its signal is waited for, and other jobs go on meanwhile', async () => {
  const t0 = performance.now();
  const starts = [];
  const report = await new Pool().runJobs(['ignores', 'flaky'], async (item, { attempt }) => {
    starts.push([item, attempt, performance.now() - t0]);
    if (item === 'ignores' && attempt === 1) {
      await new Promise((r) => setTimeout(r, 300)); // never looks at its signal
      return 'late';
    }
    if (item === 'flaky' && attempt === 1) throw new Error('flaky');
    return `${item} ${attempt}`;
  }, { attemptTimeoutMs: 30, retries: 1, retryBackoffMs: 80 });
  const took = performance.now() - t0;
  assert.ok(took >= 290, `settled after ${took} ms: the ignoring handler is awaited`);
  // 'ignores' timed out (its late value is not its result) and succeeded on its retry
  assert.deepEqual(report.results, ['ignores 2', 'flaky 2']);
  assert.equal(report.summary.retries, 2);
  // flaky's retry (due 40-80 ms after its failure) started long before 'ignores' settled
  const retry = starts.find((s) => s[0] === 'flaky' && s[1] === 2);
  assert.ok(retry[2] < 200, `retry of flaky started at ${retry[2]} ms`);
});
