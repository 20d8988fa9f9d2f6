'use strict';
// Many calls in flight at once on one pool and one event loop (how concurrent invocations of
// Lambda Managed Instances share a pool made at INIT): every process / runBatch / map call keeps
// its own deadline, lanes, retries, AbortSignal, summary and report; nothing of one call is
// counted, cancelled or reported in another.

const test = require('node:test');
const assert = require('node:assert/strict');
const { setTimeout: sleep } = require('node:timers/promises');
const { Pool } = require('lanepool');
const { sqsRecord, contextWith, rng, assertLaneDiscipline } = require('./helpers');

const CALLS = 20;

/**
 * Call `c`'s plan: its records (FIFO groups), which fail how often, its retries, and whether
 * it has a short deadline its slow records cannot make.
 */
function callPlan(c) {
  const r = rng(4242 + c);
  const n = r.int(8, 40);
  const groups = r.int(1, 5);
  const records = Array.from({ length: n }, (_, i) => sqsRecord(`c${c}-${i}`, `g${c}-${r.int(1, groups)}`));
  return {
    c,
    event: { Records: records },
    groupOf: records.map((x) => x.attributes.MessageGroupId),
    // attempts that fail before the record succeeds (above the retries: it fails for good)
    flaky: records.map(() => (r() < 0.25 ? r.int(1, 3) : 0)),
    retries: c % 3,
    concurrency: 1 + (c % 4),
    deadline: c % 5 === 4, // these calls' records sleep past their deadline
  };
}

test(`${CALLS} concurrent runBatch / process calls on one pool keep their own deadline, lanes, retries, signal and report`, async () => {
  const pool = new Pool({ concurrency: 16 });
  const plans = Array.from({ length: CALLS }, (_, c) => callPlan(c));
  const seen = plans.map(() => ({ calls: [], attempts: new Map(), aborted: 0, signals: new Set(), inFlight: 0, peak: 0 }));
  const handlerOf = (plan) => {
    const s = seen[plan.c];
    const index = new Map(plan.event.Records.map((r, i) => [r, i]));
    return async (record, { signal }) => {
      const i = index.get(record);
      assert.ok(i !== undefined, `call ${plan.c} was handed a record of another call: ${record.messageId}`);
      const attempt = (s.attempts.get(i) ?? 0) + 1;
      s.attempts.set(i, attempt);
      s.signals.add(signal);
      const call = { i, start: performance.now(), end: NaN };
      s.calls.push(call);
      s.peak = Math.max(s.peak, ++s.inFlight);
      try {
        await sleep(plan.deadline ? 5_000 : 1 + (i % 3), undefined, { signal });
        if (attempt <= plan.flaky[i]) throw new Error(`call ${plan.c} record ${i} attempt ${attempt}`);
      } catch (error) {
        if (signal.aborted) s.aborted++;
        throw error;
      } finally {
        s.inFlight--;
        call.end = performance.now();
      }
    };
  };
  const results = await Promise.all(
    plans.map((plan) => {
      const options = { retries: plan.retries, retryBackoffMs: 1, throwOnFullBatchFailure: false };
      if (plan.deadline) Object.assign(options, { context: contextWith(150), deadlineMarginMs: 50 });
      else options.context = contextWith(60_000);
      // each call's own concurrency: a pool per call size, the same shared event loop
      const callPool = plan.c % 2 === 0 ? pool : new Pool({ concurrency: plan.concurrency });
      const method = plan.c % 4 === 1 ? 'process' : 'runBatch';
      return callPool[method](plan.event, handlerOf(plan), options);
    }),
  );
  results.forEach((result, c) => {
    const plan = plans[c];
    const s = seen[c];
    const label = `call ${c}`;
    const n = plan.event.Records.length;
    const ids = plan.event.Records.map((r) => r.messageId);
    // the expected outcome by the lane rules, for this call's records alone
    const expected = new Map();
    const failedGroups = new Set();
    ids.forEach((id, i) => {
      const group = plan.groupOf[i];
      if (plan.deadline) expected.set(id, 'deadline');
      else if (failedGroups.has(group)) expected.set(id, 'skipped');
      else if (plan.flaky[i] > plan.retries) {
        expected.set(id, 'error');
        failedGroups.add(group);
      } else expected.set(id, 'succeeded');
    });
    const failedIds = ids.filter((id) => expected.get(id) !== 'succeeded');
    const response = result.response ?? result;
    assert.deepEqual(response, { batchItemFailures: failedIds.map((itemIdentifier) => ({ itemIdentifier })) }, label);
    if (result.summary) {
      assert.deepEqual(result.succeeded, ids.filter((id) => expected.get(id) === 'succeeded'), label);
      for (const f of result.failures) {
        assert.equal(f.reason, expected.get(f.itemIdentifier), `${label} ${f.itemIdentifier}`);
        assert.equal(f.attempts, f.reason === 'skipped' ? 0 : (s.attempts.get(f.index) ?? 0), `${label} ${f.itemIdentifier}`);
      }
      const retried = [...s.attempts.values()].reduce((a, x) => a + x - 1, 0);
      assert.equal(result.summary.records, n, label);
      assert.equal(result.summary.retries, retried, label);
      assert.ok(result.summary.peakInFlight <= (plan.c % 2 === 0 ? 16 : plan.concurrency), label);
    }
    assert.ok(s.peak <= (plan.c % 2 === 0 ? 16 : plan.concurrency), `${label}: ${s.peak} in flight at once`);
    // one signal per call, aborted exactly for the calls whose deadline passed
    assert.equal(s.signals.size, 1, `${label}: its handlers share one signal`);
    const [signal] = s.signals;
    assert.equal(signal.aborted, plan.deadline, `${label}: signal.aborted`);
    if (plan.deadline) assert.ok(s.aborted > 0, label);
    else assert.equal(s.aborted, 0, `${label}: a handler saw another call's deadline`);
    for (let i = 0; i < n; i++) {
      if (expected.get(ids[i]) === 'succeeded') assert.equal(s.attempts.get(i), plan.flaky[i] + 1, `${label} record ${i}`);
    }
    assertLaneDiscipline(s.calls, plan.groupOf, `${label}: `);
  });
  // every signal is its own
  const all = seen.map((s) => [...s.signals][0]);
  assert.equal(new Set(all).size, CALLS);
});

test(`${CALLS} concurrent map calls and batches on one pool: results in input order, errors only their own`, async () => {
  const pool = new Pool({ concurrency: 3 });
  let inFlight = 0;
  let peak = 0;
  const calls = Array.from({ length: CALLS }, (_, c) => {
    const items = Array.from({ length: 5 + c }, (_, i) => `${c}:${i}`);
    if (c % 2 === 0) {
      return pool
        .map(items, async (item, i) => {
          peak = Math.max(peak, ++inFlight);
          await sleep(1 + (i % 2));
          inFlight--;
          if (c % 4 === 0 && i === 2) throw new Error(`map ${c} item ${i}`);
          return item.toUpperCase();
        })
        .then(
          (results) => ({ c, results }),
          (error) => ({ c, error }),
        );
    }
    const event = { Records: items.map((id) => sqsRecord(id)) };
    return pool.runBatch(event, async () => sleep(1)).then((report) => ({ c, report }));
  });
  for (const { c, results, error, report } of await Promise.all(calls)) {
    const items = Array.from({ length: 5 + c }, (_, i) => `${c}:${i}`);
    if (c % 4 === 0) {
      assert.ok(error instanceof AggregateError, `call ${c}`);
      assert.deepEqual(error.errors.map((e) => e.message), [`map ${c} item 2`]);
    } else if (c % 2 === 0) {
      assert.deepEqual(results, items.map((x) => x.toUpperCase()));
    } else {
      assert.deepEqual(report.succeeded, items);
      assert.equal(report.summary.records, items.length);
      assert.ok(report.summary.peakInFlight <= 3);
    }
  }
  // every map call has its own `concurrency` 3: 10 map calls side by side run more than 3 at once
  assert.ok(peak > 3 && peak <= 30, `peak ${peak}`);
});

test('one call reaching its deadline aborts only its own handlers, the others go on and succeed', async () => {
  const pool = new Pool({ concurrency: 4 });
  const event = (prefix) => ({ Records: Array.from({ length: 4 }, (_, i) => sqsRecord(`${prefix}${i}`)) });
  const signals = { short: [], long: [] };
  const handler = (which, ms) => async (record, { signal }) => {
    signals[which].push(signal);
    await sleep(ms, undefined, { signal });
  };
  const [short, long] = await Promise.all([
    pool.runBatch(event('s'), handler('short', 5_000), {
      context: contextWith(60),
      deadlineMarginMs: 10,
      throwOnFullBatchFailure: false,
    }),
    pool.runBatch(event('l'), handler('long', 200), { context: contextWith(60_000) }),
  ]);
  assert.deepEqual(short.failures.map((f) => f.reason), ['deadline', 'deadline', 'deadline', 'deadline']);
  assert.deepEqual(short.succeeded, []);
  assert.deepEqual(long.succeeded, ['l0', 'l1', 'l2', 'l3']);
  assert.deepEqual(long.failures, []);
  assert.ok(signals.short.every((s) => s.aborted));
  assert.ok(signals.long.every((s) => !s.aborted));
  assert.equal(short.summary.records, 4);
  assert.equal(long.summary.records, 4);
});
