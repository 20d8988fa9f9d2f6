'use strict';
// Property tests with a seeded generator: random FIFO events (groups and unkeyed records),
// failure patterns, retries, concurrency, sync and async handlers. Checks per-group order, no
// overlap within a group, every record run exactly as often as its outcome says, at most
// `concurrency` in flight, and the outcomes against a small model of the lane rules.
// LANEPOOL_PROP_CASES / LANEPOOL_PROP_SEED change the count and the seed.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Pool, BatchFailedError } = require('lanepool');
const { rng, sqsRecord, assertLaneDiscipline, delay, blockFor, laneOf } = require('./helpers');

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

/**
 * A random Kafka event: topic-partitions in a random order (not sorted), each an array of
 * records with increasing offsets and keys from a small set (some null, some absent).
 */
function generateKafka(random) {
  const source = random.pick(['aws:kafka', 'SelfManagedKafka', 'aws:SelfManagedKafka']);
  const partitions = [];
  for (const topic of ['orders', 'pay.ments', 'clicks_v2'].slice(0, random.int(1, 3))) {
    for (let p = 0; p < random.int(1, 4); p++) partitions.push([topic, random.int(0, 40)]);
  }
  // distinct partitions, shuffled
  const seen = new Set();
  const groups = partitions.filter(([t, p]) => !seen.has(`${t}-${p}`) && seen.add(`${t}-${p}`));
  for (let i = groups.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [groups[i], groups[j]] = [groups[j], groups[i]];
  }
  const records = {};
  const order = []; // every record in event order
  for (const [topic, partition] of groups) {
    let offset = random.int(0, 2 ** 40);
    const list = [];
    for (let k = random.int(0, 8); k > 0; k--) {
      offset += random.int(1, 3);
      const r = {
        topic,
        partition,
        offset,
        timestamp: 1700000000000 + offset,
        timestampType: 'CREATE_TIME',
        value: random() < 0.1 ? null : Buffer.from(`{"n":${offset}}`).toString('base64'),
        headers: [],
      };
      const key = random();
      if (key < 0.15) r.key = null;
      else if (key > 0.25) r.key = Buffer.from(`user-${random.int(0, 3)}`).toString('base64');
      // else: no key member at all
      list.push(r);
      order.push(r);
    }
    records[`${topic}-${partition}`] = list;
  }
  const event = { eventSource: source, bootstrapServers: 'b-1.example:9092', records };
  if (source === 'aws:kafka') event.eventSourceArn = 'arn:aws:kafka:us-east-1:123456789012:cluster/c/1';
  const spec = order.map(() => {
    const r = random();
    return { failures: r < 0.1 ? Infinity : r < 0.25 ? random.int(1, 2) : 0, sleep: random() < 0.5 ? 0 : random.int(1, 3) };
  });
  return {
    event,
    order,
    spec,
    ordering: random.pick([undefined, 'auto', 'key', 'key', 'unordered']),
    concurrency: random.int(1, 8),
    retries: random.int(0, 2),
    sync: random() < 0.3,
  };
}

test(`random Kafka batches: partition (or key) lanes in offset order, the rest of a failed lane skipped, { partition, offset } identifiers (${CASES} cases, seed ${SEED})`, async () => {
  const random = rng(SEED ^ 0x4b61);
  for (let k = 0; k < CASES; k++) {
    const c = generateKafka(random);
    const records = c.order;
    const label = `case ${k} (seed ${SEED}, ${c.event.eventSource}, ${records.length} records, ordering ${c.ordering}, concurrency ${c.concurrency}, retries ${c.retries}, sync ${c.sync}): `;
    const lanes = records.map((r) => laneOf(r, { ordering: c.ordering }));
    const index = new Map(records.map((r, i) => [r, i]));
    const calls = [];
    const counts = new Array(records.length).fill(0);
    const run = (record) => {
      const i = index.get(record);
      assert.ok(i !== undefined, `${label}not the caller's record`);
      const call = { i, start: performance.now(), end: NaN };
      calls.push(call);
      return { i, attempt: ++counts[i], call };
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
          if (c.spec[i].sleep) await delay(c.spec[i].sleep);
          else await null;
          call.end = performance.now();
          if (attempt <= c.spec[i].failures) throw new Error(`fail ${i}`);
        };
    const report = await new Pool({ concurrency: c.concurrency }).runBatch(c.event, handler, {
      retries: c.retries,
      retryBackoffMs: 0,
      throwOnFullBatchFailure: false,
      ...(c.ordering ? { ordering: c.ordering } : {}),
    });
    assertLaneDiscipline(calls, lanes, label);
    const want = model(c, lanes);
    const idOf = (r) => ({ partition: `${r.topic}-${r.partition}`, offset: r.offset });
    want.forEach((w, i) => assert.equal(counts[i], w.attempts, `${label}record ${i} calls`));
    assert.deepEqual(
      report.failures.map((f) => [f.index, f.reason, f.attempts]),
      want.flatMap((w, i) => (w.outcome === 'succeeded' ? [] : [[i, w.outcome, w.attempts]])),
      label,
    );
    // identifiers: exactly { partition, offset }, the offset a number, in event order
    assert.deepEqual(
      report.response,
      { batchItemFailures: want.flatMap((w, i) => (w.outcome === 'succeeded' ? [] : [{ itemIdentifier: idOf(records[i]) }])) },
      label,
    );
    assert.deepEqual(report.failures.map((f) => f.itemIdentifier), report.response.batchItemFailures.map((f) => f.itemIdentifier), label);
    assert.deepEqual(report.succeeded, want.flatMap((w, i) => (w.outcome === 'succeeded' ? [idOf(records[i])] : [])), label);
    assert.equal(report.summary.records, records.length, label);
    assert.equal(report.summary.lanes, new Set(lanes.filter((l) => l !== undefined)).size, label);
    assert.equal(report.summary.source, c.event.eventSource === 'aws:kafka' ? 'aws:kafka' : 'SelfManagedKafka', label);
  }
});
