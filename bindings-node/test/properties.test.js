'use strict';
// Property tests with a seeded generator: random FIFO events (groups and unkeyed records),
// failure patterns, retries, concurrency, sync and async handlers. Checks per-group order, no
// overlap within a group, every record run exactly as often as its outcome says, at most
// `concurrency` in flight, and the outcomes against a small model of the lane rules.
// LANEPOOL_PROP_CASES / LANEPOOL_PROP_SEED change the count and the seed.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Pool, BatchFailedError } = require('lanepool');
const { rng, sqsRecord, assertLaneDiscipline, delay, blockFor } = require('./helpers');

const CASES = Number(process.env.LANEPOOL_PROP_CASES || 150);
const SEED = Number(process.env.LANEPOOL_PROP_SEED || 20261123);

function generate(random) {
  const n = random.int(0, 40);
  const groups = random.int(1, 6);
  const records = [];
  const spec = [];
  for (let i = 0; i < n; i++) {
    const unkeyed = random() < 0.2;
    const group = unkeyed ? undefined : `g${random.int(0, groups - 1)}`;
    const r = random();
    const failures = r < 0.1 ? Infinity : r < 0.25 ? random.int(1, 2) : 0; // attempts that fail
    const sleep = random() < 0.5 ? 0 : random.int(1, 4);
    records.push(sqsRecord(`m${i}`, group, `b${random.int(0, 3)}`));
    spec.push({ group, failures, sleep });
  }
  return {
    event: { Records: records },
    spec,
    concurrency: random.int(1, 8),
    retries: random.int(0, 2),
    customKey: random() < 0.2,
    sync: random() < 0.3,
  };
}

/** The expected outcome of each record: a lane is cut at its first record that runs out of attempts. */
function model(c, lanes) {
  const attemptsAllowed = c.retries + 1;
  const broken = new Set();
  return c.spec.map((s, i) => {
    const lane = lanes[i];
    if (lane !== undefined && broken.has(lane)) return { outcome: 'skipped', attempts: 0 };
    if (s.failures >= attemptsAllowed) {
      if (lane !== undefined) broken.add(lane);
      return { outcome: 'error', attempts: attemptsAllowed };
    }
    return { outcome: 'succeeded', attempts: s.failures + 1 };
  });
}

test(`random FIFO batches keep lane order, never overlap a lane, run every record exactly as its outcome says (${CASES} cases, seed ${SEED})`, async () => {
  const random = rng(SEED);
  for (let k = 0; k < CASES; k++) {
    const c = generate(random);
    const label = `case ${k} (seed ${SEED}, ${c.event.Records.length} records, concurrency ${c.concurrency}, retries ${c.retries}, custom ${c.customKey}, sync ${c.sync}): `;
    const records = c.event.Records;
    const lanes = records.map((r, i) => (c.customKey ? `b:${r.body}` : c.spec[i].group));
    const index = new Map(records.map((r, i) => [r, i]));
    const calls = [];
    const counts = new Array(records.length).fill(0);
    let inFlight = 0;
    let peak = 0;
    const run = (record) => {
      const i = index.get(record);
      assert.ok(i !== undefined, `${label}not the caller's record`);
      const attempt = ++counts[i];
      const call = { i, start: performance.now(), end: NaN };
      calls.push(call);
      return { i, attempt, call };
    };
    const handler = c.sync
      ? (record) => {
          const { i, attempt, call } = run(record);
          blockFor(c.spec[i].sleep);
          call.end = performance.now();
          if (attempt <= c.spec[i].failures) throw new Error(`fail ${i}`);
        }
      : async (record) => {
          const { i, attempt, call } = run(record);
          peak = Math.max(peak, ++inFlight);
          if (c.spec[i].sleep) await delay(c.spec[i].sleep);
          else await null;
          inFlight--;
          call.end = performance.now();
          if (attempt <= c.spec[i].failures) throw new Error(`fail ${i}`);
        };
    const pool = new Pool({ concurrency: c.concurrency });
    let report;
    try {
      report = await pool.runBatch(c.event, handler, {
        retries: c.retries,
        retryBackoffMs: 0,
        ...(c.customKey ? { groupKey: (r) => `b:${r.body}` } : {}),
      });
    } catch (e) {
      assert.ok(e instanceof BatchFailedError, `${label}${e && e.stack}`);
      report = e.report;
      assert.equal(report.succeeded.length, 0, label);
    }
    assert.ok(peak <= c.concurrency, `${label}peak ${peak}`);
    assertLaneDiscipline(calls, lanes, label);

    const want = model(c, lanes);
    const failures = new Map(report.failures.map((f) => [f.index, f]));
    want.forEach((w, i) => {
      assert.equal(counts[i], w.attempts, `${label}record ${i} calls`);
      if (w.outcome === 'succeeded') {
        assert.ok(!failures.has(i), `${label}record ${i} should succeed`);
      } else {
        const f = failures.get(i);
        assert.ok(f, `${label}record ${i} should be ${w.outcome}`);
        assert.equal(f.reason, w.outcome, `${label}record ${i}`);
        assert.equal(f.attempts, w.attempts, `${label}record ${i}`);
      }
    });
    assert.deepEqual(
      report.succeeded,
      want.flatMap((w, i) => (w.outcome === 'succeeded' ? [`m${i}`] : [])),
      label,
    );
    assert.deepEqual(
      report.response.batchItemFailures.map((f) => f.itemIdentifier),
      want.flatMap((w, i) => (w.outcome === 'succeeded' ? [] : [`m${i}`])),
      label,
    );
    assert.equal(report.summary.records, records.length, label);
  }
});

test('random FIFO batches under a deadline: nothing starts after it, every record has one outcome', async () => {
  const random = rng(SEED ^ 0x5a5a);
  for (let k = 0; k < 12; k++) {
    const n = random.int(5, 30);
    const records = Array.from({ length: n }, (_, i) => sqsRecord(`m${i}`, random() < 0.8 ? `g${random.int(0, 3)}` : undefined));
    const pool = new Pool({ concurrency: random.int(1, 4) });
    const deadlineMs = random.int(10, 30);
    const t0 = performance.now();
    const starts = [];
    let last = 0;
    const report = await pool.runBatch(
      { Records: records },
      async (record, { signal }) => {
        starts.push(performance.now() - t0);
        await delay(random.int(1, 6));
        last = Math.max(last, performance.now() - t0);
        if (signal.aborted && random() < 0.5) throw signal.reason;
      },
      { context: { getRemainingTimeInMillis: () => deadlineMs + 5 - (performance.now() - t0) }, deadlineMarginMs: 5, throwOnFullBatchFailure: false },
    );
    const settledAt = performance.now() - t0;
    assert.ok(starts.every((s) => s < deadlineMs + 2), `case ${k}: a record started after the deadline ${deadlineMs}: ${starts}`);
    assert.ok(last <= settledAt, `case ${k}`);
    assert.equal(report.succeeded.length + report.failures.length, n, `case ${k}`);
    const started = report.failures.filter((f) => f.attempts > 0).length + report.succeeded.length;
    assert.equal(started, starts.length, `case ${k}`);
  }
});
