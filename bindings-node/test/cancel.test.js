'use strict';
// The deadline cancels running handlers (cancelAtDeadline, default true): their AbortSignal
// fires at `deadline - margin`, the call waits for every handler to settle, and a handler that
// stopped on the signal is reported `deadline` with its error. With cancelAtDeadline: false the
// signal does not fire and running handlers are awaited; nothing starts after the deadline.

const test = require('node:test');
const assert = require('node:assert/strict');
const { setTimeout: sleep } = require('node:timers/promises');
const { Pool } = require('lanepool');
const { sqsRecord, contextWith, delay, blockFor } = require('./helpers');

const event = (n, group) => ({ Records: Array.from({ length: n }, (_, i) => sqsRecord(`m${i}`, group)) });
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('handlers that would run 5 s: the call resolves well under a second, every record deadline, nothing left running', async () => {
  const pool = new Pool({ concurrency: 8 });
  let running = 0;
  let endedAfter = 0;
  let resolved = false;
  const timersBefore = timers();
  const t0 = performance.now();
  const report = await pool.runBatch(
    event(6),
    async (record, { signal }) => {
      running++;
      try {
        await sleep(5000, undefined, { signal });
      } finally {
        running--;
        if (resolved) endedAfter++;
      }
    },
    { context: contextWith(700), deadlineMarginMs: 300, throwOnFullBatchFailure: false },
  );
  resolved = true;
  const took = performance.now() - t0;
  assert.ok(took >= 390 && took < 900, `resolved after ${took.toFixed(0)} ms (deadline at 400 ms)`);
  assert.equal(running, 0, 'a handler was still running when the call resolved');
  assert.deepEqual(report.succeeded, []);
  assert.deepEqual(
    report.failures.map((f) => [f.itemIdentifier, f.reason, f.attempts, f.error?.name]),
    Array.from({ length: 6 }, (_, i) => [`m${i}`, 'deadline', 1, 'AbortError']),
  );
  // the AbortError carries the batch's TimeoutError as its cause
  assert.equal(report.failures[0].error.cause?.name, 'TimeoutError');
  assert.ok(timers() <= timersBefore, `timers left behind: ${timersBefore} -> ${timers()}`);
  await delay(100);
  assert.equal(running, 0);
  assert.equal(endedAfter, 0, 'handler code ran after the call resolved');
});

test('the call waits for a handler that ignores the signal; every handler told to stop ends as deadline, however it settles', async () => {
  const pool = new Pool({ concurrency: 3 });
  let running = 0;
  let sawAbort = 0;
  const report = await pool.runBatch(
    event(3),
    async (record, { signal }) => {
      running++;
      try {
        if (record.messageId === 'm0') {
          await delay(250); // ignores the signal: awaited, and still `deadline`
          if (signal.aborted) sawAbort++;
          return;
        }
        if (record.messageId === 'm1') {
          await new Promise((resolve) => signal.addEventListener('abort', resolve));
          throw new Error('cleanup failed');
        }
        await sleep(5000, undefined, { signal });
      } finally {
        running--;
      }
    },
    { context: contextWith(80), deadlineMarginMs: 30, throwOnFullBatchFailure: false },
  );
  assert.equal(running, 0);
  assert.equal(sawAbort, 1);
  assert.deepEqual(report.succeeded, []);
  assert.deepEqual(
    report.failures.map((f) => [f.itemIdentifier, f.reason, f.attempts, f.error?.message]),
    [
      ['m0', 'deadline', 1, undefined],
      ['m1', 'deadline', 1, 'cleanup failed'],
      ['m2', 'deadline', 1, 'The operation was aborted'],
    ],
  );
});

test('an error whose cause is the signal reason (a wrapped abort) ends as deadline', async () => {
  const pool = new Pool({ concurrency: 2 });
  const report = await pool.runBatch(
    event(1),
    async (record, { signal }) => {
      try {
        await sleep(5000, undefined, { signal });
      } catch (e) {
        throw new Error('request aborted', { cause: signal.reason });
      }
    },
    { context: contextWith(60), deadlineMarginMs: 20, throwOnFullBatchFailure: false },
  );
  assert.deepEqual(report.failures.map((f) => [f.reason, f.error.message]), [['deadline', 'request aborted']]);
});

test('cancelAtDeadline: false: the signal does not fire, running handlers are awaited, nothing starts after the deadline', async () => {
  const pool = new Pool({ concurrency: 1 });
  const signals = [];
  const t0 = performance.now();
  const report = await pool.runBatch(
    event(3),
    async (record, { signal }) => {
      signals.push(signal);
      await sleep(150, undefined, { signal });
    },
    { context: contextWith(100), deadlineMarginMs: 50, throwOnFullBatchFailure: false, cancelAtDeadline: false },
  );
  assert.ok(performance.now() - t0 >= 145);
  assert.equal(signals.length, 1, 'a record started after the deadline');
  assert.equal(signals[0].aborted, false, 'the signal fired');
  assert.deepEqual(report.succeeded, ['m0']);
  assert.deepEqual(
    report.failures.map((f) => [f.itemIdentifier, f.reason, f.attempts]),
    [
      ['m1', 'deadline', 0],
      ['m2', 'deadline', 0],
    ],
  );
});

test('cancelAtDeadline: false with sync handlers: no new start after the deadline', async () => {
  const pool = new Pool({ concurrency: 1 });
  const started = [];
  const report = await pool.runBatch(
    event(4),
    (record) => {
      started.push(record.messageId);
      blockFor(60);
    },
    { context: contextWith(150), deadlineMarginMs: 50, throwOnFullBatchFailure: false, cancelAtDeadline: false },
  );
  // starts at about 0 and 60 ms; the deadline is at 100 ms, so the third (due at 120 ms) never starts
  assert.deepEqual(started, ['m0', 'm1']);
  assert.deepEqual(report.succeeded, ['m0', 'm1']);
  assert.deepEqual(report.failures.map((f) => [f.itemIdentifier, f.reason]), [
    ['m2', 'deadline'],
    ['m3', 'deadline'],
  ]);
});

test('sync handlers run ahead several at a time, yet none starts after the deadline: the rest are given back', async () => {
  // concurrency 8 and no retries: the driver is handed up to 8 records per call to the core
  // and runs them in turn; the deadline (100 ms) comes while it does.
  const pool = new Pool({ concurrency: 8 });
  const started = [];
  const t0 = performance.now();
  const report = await pool.runBatch(
    event(12),
    (record) => {
      started.push([record.messageId, performance.now() - t0]);
      blockFor(30);
    },
    { context: contextWith(150), deadlineMarginMs: 50, throwOnFullBatchFailure: false },
  );
  const n = started.length;
  assert.ok(n >= 3 && n <= 5, `started ${JSON.stringify(started)}`);
  for (const [id, at] of started) assert.ok(at < 100, `${id} started at ${at.toFixed(1)} ms, after the deadline`);
  assert.deepEqual(started.map(([id]) => id), Array.from({ length: n }, (_, i) => `m${i}`));
  assert.deepEqual(report.succeeded, started.map(([id]) => id));
  // the rest never ran: deadline, no attempt
  assert.deepEqual(
    report.failures.map((f) => [f.itemIdentifier, f.reason, f.attempts]),
    Array.from({ length: 12 - n }, (_, i) => [`m${n + i}`, 'deadline', 0]),
  );
});

test('cancelAtDeadline is type-checked like the other options (unknown options still rejected)', async () => {
  const pool = new Pool();
  await assert.rejects(pool.process(event(1), () => {}, { cancelAtDeadLine: false }), /unknown option/);
  const r = await pool.process(event(1), () => {}, { cancelAtDeadline: false });
  assert.deepEqual(r, { batchItemFailures: [] });
});

test('a handler that reads its signal only after the deadline gets it already aborted (one signal per batch)', async () => {
  const pool = new Pool({ concurrency: 2 });
  const seen = [];
  const report = await pool.runBatch(
    event(2),
    async (record, ctx) => {
      await delay(250); // the signal fires at 100 ms; nobody has read it yet
      const { signal } = ctx;
      seen.push({ signal, aborted: signal.aborted, reason: signal.reason?.name, again: ctx.signal === signal });
    },
    { context: contextWith(400), deadlineMarginMs: 300, throwOnFullBatchFailure: false },
  );
  assert.equal(seen.length, 2);
  for (const s of seen) assert.deepEqual([s.aborted, s.reason, s.again], [true, 'TimeoutError', true]);
  assert.equal(seen[0].signal, seen[1].signal, 'the handlers of one batch share one signal');
  // told to stop (running when the deadline came), so deadline, though they resolved
  assert.deepEqual(report.failures.map((f) => [f.itemIdentifier, f.reason]), [['m0', 'deadline'], ['m1', 'deadline']]);
});

test('with cancelAtDeadline: false a signal read after the deadline is not aborted', async () => {
  const pool = new Pool({ concurrency: 1 });
  let aborted = null;
  const report = await pool.runBatch(
    event(1),
    async (record, ctx) => {
      await delay(250);
      aborted = ctx.signal.aborted;
    },
    { context: contextWith(400), deadlineMarginMs: 300, cancelAtDeadline: false, throwOnFullBatchFailure: false },
  );
  assert.equal(aborted, false);
  assert.deepEqual(report.succeeded, ['m0']);
});
