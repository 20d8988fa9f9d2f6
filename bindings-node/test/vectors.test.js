'use strict';
// Every conformance vector of tests/vectors/, with async handlers and with plain sync functions,
// through runBatch (the whole report) and, for async handlers, process (the response alone).

const test = require('node:test');
const assert = require('node:assert/strict');
const { Pool, EventError, BatchFailedError } = require('lanepool');
const { loadVectors, vectorHandler, assertLaneDiscipline, laneOf, dotted, contextWith, identifierText } = require('./helpers');

const vectors = loadVectors();

test('the vectors directory has vectors, Kafka and custom key vectors among them', () => {
  assert.ok(vectors.length >= 50, `found ${vectors.length}`);
  assert.ok(vectors.filter((v) => v.file.startsWith('kafka-')).length >= 20);
  assert.ok(vectors.filter((v) => v.file.startsWith('custom-group-key-invalid-')).length >= 3);
});

/** The event's records in event order: `Records`, or a Kafka event's `records` groups. */
function eventRecords(event) {
  if (Array.isArray(event?.Records)) return event.Records;
  const groups = event?.records;
  if (groups !== null && typeof groups === 'object' && !Array.isArray(groups)) {
    return Object.values(groups).filter(Array.isArray).flat();
  }
  return [];
}

function callOptions(o) {
  const options = {
    retryBackoffMs: o.retry_backoff_ms ?? 1,
    deadlineMarginMs: o.deadline_margin_ms ?? 0,
  };
  if (o.ordering !== undefined) options.ordering = o.ordering;
  if (o.retries !== undefined) options.retries = o.retries;
  if (o.raise_on_full_batch_failure !== undefined) options.throwOnFullBatchFailure = o.raise_on_full_batch_failure;
  if (o.cancel_at_deadline !== undefined) options.cancelAtDeadline = o.cancel_at_deadline;
  if (o.attempt_timeout_ms !== undefined) options.attemptTimeoutMs = o.attempt_timeout_ms;
  if (o.max_per_second !== undefined) options.maxPerSecond = o.max_per_second;
  if (o.group_key) {
    // the value found at the path, as it is (absent: undefined): the face judges it
    options.groupKey = (record) => dotted(record, o.group_key);
  }
  if (o.remaining_time_ms !== undefined && o.remaining_time_ms !== null) {
    options.context = contextWith(o.remaining_time_ms);
  }
  if (o.context !== undefined) options.context = shapedContext(o.context);
  return options;
}

/** A context of a vector's `options.context` shape (tests/vectors/README.md). */
function shapedContext(shape) {
  const returns = { 'returns-string': '30000', 'returns-boolean': true, 'returns-nan': NaN, 'returns-infinity': Infinity };
  if (shape === 'missing-method') return { awsRequestId: 'req-1' };
  assert.ok(shape in returns, `unknown options.context ${shape}`);
  return { awsRequestId: 'req-1', getRemainingTimeInMillis: () => returns[shape] };
}

async function runVector(v, mode, method) {
  const o = v.options || {};
  const pool = new Pool({ concurrency: o.concurrency ?? 4 });
  const records = eventRecords(v.event);
  const h = vectorHandler(v.handler || {}, records, mode);
  const label = `${v.file} [${mode} ${method}]: ${v.description}\n`;
  const options = callOptions(o);
  let result;
  let error;
  const t0 = performance.now();
  try {
    result = await pool[method](v.event, h.handler, options);
  } catch (e) {
    error = e;
  }
  const returnedAt = performance.now();
  const expected = v.expect;

  // 6: nothing runs after the call returned (every call recorded its end), in time.
  for (const c of h.calls) {
    assert.ok(c.end <= returnedAt, `${label}${c.id} attempt ${c.attempt} had not ended when the call returned`);
  }
  if (expected.returns_within_ms !== undefined) {
    const took = returnedAt - t0;
    assert.ok(took < expected.returns_within_ms, `${label}returned after ${took.toFixed(0)} ms`);
  }

  // 1-2: the error kind; no handler ran with an EventError or a ContextError.
  if (expected.error && expected.error.kind === 'ContextError') {
    assert.ok(error instanceof TypeError && !(error instanceof EventError), `${label}expected a TypeError, got ${error}`);
    assert.match(error.message, /getRemainingTimeInMillis\(\)/, label);
    assert.equal(h.calls.length, 0, `${label}the handler ran`);
    return;
  }
  if (expected.error && expected.error.kind === 'EventError') {
    assert.ok(error instanceof EventError, `${label}expected EventError, got ${error} / ${JSON.stringify(result)}`);
    assert.ok(error instanceof TypeError, label);
    assert.equal(error.index, expected.error.index, label);
    assert.equal(error.field, expected.error.field, label);
    if ('group' in expected.error) {
      assert.equal(error.group, expected.error.group, label);
      assert.ok(error.message.includes(JSON.stringify(expected.error.group)), label + error.message);
    } else {
      assert.equal(error.group, null, label);
    }
    if (expected.error.index !== null) assert.match(error.message, new RegExp(`record ${expected.error.index}\\b`), label);
    if (expected.error.field !== null) assert.ok(error.message.includes(expected.error.field), label + error.message);
    assert.equal(h.calls.length, 0, `${label}the handler ran`);
    return;
  }
  let report;
  if (expected.error && expected.error.kind === 'BatchFailed') {
    assert.ok(error instanceof BatchFailedError, `${label}expected BatchFailedError, got ${error}`);
    report = error.report;
  } else {
    assert.equal(error, undefined, `${label}unexpected error ${error && error.stack}`);
    report = method === 'runBatch' ? result : { response: result };
  }

  // 3: the response, exactly; outcomes and attempts.
  assert.deepEqual(report.response, { batchItemFailures: expected.batchItemFailures }, label);
  if (report.failures) {
    const failures = new Map(report.failures.map((f) => [identifierText(f.itemIdentifier), f]));
    const succeeded = report.succeeded.map(identifierText);
    expected.outcomes.forEach((want, index) => {
      const id = want.itemIdentifier;
      if (want.outcome === 'succeeded') {
        assert.ok(!failures.has(id), `${label}${id} should have succeeded`);
        assert.ok(succeeded.includes(id), `${label}${id} not in succeeded`);
      } else {
        const f = failures.get(id);
        assert.ok(f, `${label}${id} should be reported ${want.outcome}`);
        assert.equal(f.reason, want.outcome, `${label}${id} reason`);
        assert.equal(f.attempts, want.attempts, `${label}${id} attempts`);
        assert.equal(f.index, index, `${label}${id} index`);
        if (want.outcome === 'error') assert.ok(f.error instanceof Error, `${label}${id} keeps its error`);
        if (want.outcome === 'skipped') assert.equal(f.error, undefined, label);
        if (want.outcome === 'deadline' && want.attempts > 0) {
          // stopped by its signal: the handler's AbortError is kept on the report
          assert.equal(f.error?.name, 'AbortError', `${label}${id} keeps its AbortError`);
        }
      }
    });
    assert.deepEqual(
      succeeded,
      expected.outcomes.filter((x) => x.outcome === 'succeeded').map((x) => x.itemIdentifier),
      label,
    );
    assert.equal(report.summary.records, expected.outcomes.length, label);
  }

  // 4: handler calls per record equal its attempts.
  for (const want of expected.outcomes) {
    assert.equal(h.counts.get(want.itemIdentifier) || 0, want.attempts, `${label}calls of ${want.itemIdentifier}`);
  }

  // 5: lane discipline.
  assertLaneDiscipline(
    h.calls,
    records.map((r) => laneOf(r, o)),
    label,
  );
  assertStarts(h.calls, expected, t0, label);
}

/** 7: attempt start times (the start rate), within the vector's stated tolerance. */
function assertStarts(calls, expected, t0, label) {
  if (expected.attempt_starts_ms === undefined) return;
  const tolerance = expected.start_tolerance_ms;
  assert.equal(typeof tolerance, 'number', `${label}start_tolerance_ms`);
  for (const [id, want] of Object.entries(expected.attempt_starts_ms)) {
    const got = calls
      .filter((c) => c.id === id)
      .sort((a, b) => a.attempt - b.attempt)
      .map((c) => c.start - t0);
    assert.equal(got.length, want.length, `${label}starts of ${id}`);
    got.forEach((start, k) => {
      assert.ok(
        start + tolerance >= want[k] && start <= want[k] + tolerance,
        `${label}${id} attempt ${k + 1} started at ${start.toFixed(1)} ms, expected ${want[k]} ± ${tolerance} ms`,
      );
    });
  }
}

/**
 * A `jobs` vector through `pool.runJobs`: job i is an item whose identifier is `"i"` (the
 * vector handler reads it as a message id), its key the job's `key` as it is (absent:
 * undefined), and its result its index.
 */
async function runJobsVector(v, mode) {
  const o = v.options || {};
  const pool = new Pool({ concurrency: o.concurrency ?? 4 });
  const items = v.jobs.map((job, i) => ({ ...job, eventSource: 'aws:sqs', messageId: String(i) }));
  const h = vectorHandler(v.handler || {}, items, mode);
  const fn = (item, ctx) => {
    const r = h.handler(item, ctx);
    return r instanceof Promise ? r.then(() => ctx.index) : ctx.index;
  };
  const label = `${v.file} [${mode} runJobs]: ${v.description}\n`;
  const options = { ...callOptions(o), key: (item) => item.key };
  let report;
  let error;
  const t0 = performance.now();
  try {
    report = await pool.runJobs(items, fn, options);
  } catch (e) {
    error = e;
  }
  const returnedAt = performance.now();
  const expected = v.expect;
  for (const c of h.calls) {
    assert.ok(c.end <= returnedAt, `${label}${c.id} attempt ${c.attempt} had not ended when the call returned`);
  }
  if (expected.returns_within_ms !== undefined) {
    const took = returnedAt - t0;
    assert.ok(took < expected.returns_within_ms, `${label}returned after ${took.toFixed(0)} ms`);
  }
  if (expected.error && expected.error.kind === 'EventError') {
    assert.ok(error instanceof EventError, `${label}expected EventError, got ${error}`);
    assert.equal(error.index, expected.error.index, label);
    assert.equal(error.field, expected.error.field, label);
    assert.match(error.message, new RegExp(`record ${expected.error.index}\\b`), label);
    assert.equal(h.calls.length, 0, `${label}a job ran`);
    return;
  }
  assert.equal(error, undefined, `${label}unexpected error ${error && error.stack}`);
  assert.ok(expected.error == null, `${label}expected ${JSON.stringify(expected.error)}`);
  assert.equal(report.results.length, items.length, label);
  const failures = new Map(report.failures.map((f) => [f.index, f]));
  expected.outcomes.forEach((want, index) => {
    assert.equal(want.itemIdentifier, String(index), label);
    const f = failures.get(index);
    if (want.outcome === 'succeeded') {
      assert.equal(f, undefined, `${label}job ${index} should have succeeded`);
      assert.equal(report.results[index], index, `${label}result of job ${index}`);
    } else {
      assert.ok(f, `${label}job ${index} should be reported ${want.outcome}`);
      assert.equal(f.reason, want.outcome, `${label}job ${index} reason`);
      assert.equal(f.attempts, want.attempts, `${label}job ${index} attempts`);
      assert.equal(f.item, items[index], label);
      assert.equal(report.results[index], undefined, `${label}result of job ${index}`);
      if (want.outcome === 'error') assert.ok(f.error instanceof Error, `${label}job ${index} keeps its error`);
      if (want.outcome === 'skipped') assert.equal(f.error, undefined, label);
    }
    assert.equal(h.counts.get(String(index)) || 0, want.attempts, `${label}calls of job ${index}`);
  });
  assert.equal(report.ok, expected.outcomes.every((x) => x.outcome === 'succeeded'), label);
  assert.equal(report.summary.records, items.length, label);
  const lanes = items.map((item) => (item.key === undefined || item.key === null ? undefined : String(item.key)));
  assertLaneDiscipline(h.calls, lanes, label);
  assertStarts(h.calls, expected, t0, label);
}

test('the jobs, attempt timeout and start rate vectors are among those run', () => {
  assert.ok(vectors.filter((v) => v.jobs !== undefined).length >= 6);
  assert.ok(vectors.filter((v) => v.options?.attempt_timeout_ms !== undefined).length >= 4);
  assert.ok(vectors.filter((v) => v.options?.max_per_second !== undefined).length >= 4);
});

for (const v of vectors) {
  // async_only vectors need cancellable handlers: a blocking sync handler cannot be stopped.
  const syncSkip = v.handler?.async_only ? 'async_only: sync handlers are awaited, not cancelled' : false;
  // Start times assume handlers that run side by side: sleeping sync handlers take turns on
  // the event loop, so their starts come later than the vector's.
  const startsSkip =
    syncSkip ||
    (v.expect.attempt_starts_ms !== undefined && Object.keys(v.handler?.sleep_ms ?? {}).length > 0
      ? 'start times with sleeping handlers: sync handlers take turns on the event loop'
      : false);
  if (v.jobs !== undefined) {
    test(`vector ${v.file} (async fn, runJobs)`, () => runJobsVector(v, 'async'));
    test(`vector ${v.file} (sync fn, runJobs)`, { skip: startsSkip }, () => runJobsVector(v, 'sync'));
    continue;
  }
  test(`vector ${v.file} (async handler, runBatch)`, () => runVector(v, 'async', 'runBatch'));
  test(`vector ${v.file} (sync handler, runBatch)`, { skip: startsSkip }, () => runVector(v, 'sync', 'runBatch'));
  test(`vector ${v.file} (async handler, process)`, () => runVector(v, 'async', 'process'));
}
