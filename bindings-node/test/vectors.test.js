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
}

// Vectors of features this face does not have yet, keyed by the field or option they use.
const notInFace = (v) =>
  v.jobs !== undefined || v.options?.attempt_timeout_ms !== undefined || v.options?.max_per_second !== undefined
    ? 'jobs / attempt timeout / start rate: not yet in this face'
    : false;

for (const v of vectors) {
  const todo = notInFace(v);
  if (todo) {
    for (const mode of ['async handler, runBatch', 'sync handler, runBatch', 'async handler, process']) {
      test(`vector ${v.file} (${mode})`, { todo }, () => {});
    }
    continue;
  }
  // async_only vectors need cancellable handlers: a blocking sync handler cannot be stopped.
  const syncSkip = v.handler?.async_only ? 'async_only: sync handlers are awaited, not cancelled' : false;
  test(`vector ${v.file} (async handler, runBatch)`, () => runVector(v, 'async', 'runBatch'));
  test(`vector ${v.file} (sync handler, runBatch)`, { skip: syncSkip }, () => runVector(v, 'sync', 'runBatch'));
  test(`vector ${v.file} (async handler, process)`, () => runVector(v, 'async', 'process'));
}
