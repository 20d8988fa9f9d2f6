'use strict';
// Defaults and errors as a new user meets them: pool sizes, counts given as strings, the
// context rule, the all-failed error's message and cause, and the package's version.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Pool, BatchFailedError, EventError, MAX_CONCURRENCY, version } = require('lanepool');
const { sqsRecord } = require('./helpers');

const sqs = (n, group) => ({ Records: Array.from({ length: n }, (_, i) => sqsRecord(`m${i}`, group?.(i))) });

test('a pool above MAX_CONCURRENCY is a RangeError naming the maximum', () => {
  assert.equal(MAX_CONCURRENCY, 1_000_000);
  assert.equal(new Pool({ concurrency: MAX_CONCURRENCY }).concurrency, MAX_CONCURRENCY);
  for (const bad of [MAX_CONCURRENCY + 1, 2 ** 32, 2 ** 40, Number.MAX_SAFE_INTEGER, 2 ** 60]) {
    assert.throws(
      () => new Pool({ concurrency: bad }),
      (e) => e instanceof RangeError && e.message === `lanepool: concurrency must be at most 1000000, got ${BigInt(bad)}`,
      String(bad),
    );
  }
});

test('counts say what they got: a string is named as a string', () => {
  const cases = [
    ['4', "lanepool: concurrency must be an integer, got string '4'"],
    [true, 'lanepool: concurrency must be an integer, got boolean true'],
    [4n, 'lanepool: concurrency must be an integer, got bigint 4n'],
    [null, 'lanepool: concurrency must be an integer, got null'],
    [{ n: 4 }, 'lanepool: concurrency must be an integer, got Object {n}'],
    [1.5, 'lanepool: concurrency must be an integer, got 1.5'],
    [NaN, 'lanepool: concurrency must be an integer, got NaN'],
    [0, 'lanepool: concurrency must be at least 1, got 0'],
    [-2, 'lanepool: concurrency must be at least 1, got -2'],
  ];
  for (const [bad, message] of cases) {
    assert.throws(() => new Pool({ concurrency: bad }), (e) => e instanceof RangeError && e.message === message, message);
  }
});

test('batch options: retries and milliseconds by the same rules', async () => {
  const pool = new Pool();
  const event = sqs(1);
  await assert.rejects(pool.process(event, () => {}, { retries: '1' }), {
    name: 'RangeError',
    message: "lanepool: retries must be an integer, got string '1'",
  });
  await assert.rejects(pool.process(event, () => {}, { retries: 2 ** 32 }), {
    name: 'RangeError',
    message: 'lanepool: retries must be at most 4294967295, got 4294967296',
  });
  await assert.rejects(pool.process(event, () => {}, { deadlineMarginMs: -5 }), {
    name: 'RangeError',
    message: 'lanepool: deadlineMarginMs must be a non-negative number of milliseconds, got -5',
  });
  await assert.rejects(pool.process(event, () => {}, { retryBackoffMs: Infinity }), {
    name: 'RangeError',
    message: 'lanepool: retryBackoffMs must be a finite number of milliseconds, got inf',
  });
  await assert.rejects(pool.process(event, () => {}, { retryBackoffMs: '10' }), {
    name: 'RangeError',
    message: "lanepool: retryBackoffMs must be a finite number of milliseconds, got string '10'",
  });
});

test('the context rule: no context is no deadline; a context without the method or a number is a TypeError', async () => {
  const pool = new Pool();
  const event = sqs(2);
  const method = (value) => ({ awsRequestId: 'r', getRemainingTimeInMillis: () => value });
  const typeErrors = [
    [{ awsRequestId: 'r' }, 'lanepool: context must have getRemainingTimeInMillis() (a Lambda context) or be undefined, got Object {awsRequestId}'],
    [{}, 'lanepool: context must have getRemainingTimeInMillis() (a Lambda context) or be undefined, got Object {}'],
    [method('30000'), "lanepool: context.getRemainingTimeInMillis() must return a number of milliseconds, got string '30000'"],
    [method(true), 'lanepool: context.getRemainingTimeInMillis() must return a number of milliseconds, got boolean true'],
    [method(undefined), 'lanepool: context.getRemainingTimeInMillis() must return a number of milliseconds, got undefined'],
    [method(NaN), 'lanepool: context.getRemainingTimeInMillis() must return a number of milliseconds, got nan'],
  ];
  for (const [context, message] of typeErrors) {
    let calls = 0;
    await assert.rejects(
      pool.process(event, () => void calls++, { context }),
      (e) => e instanceof TypeError && !(e instanceof EventError) && e.message === message,
      message,
    );
    assert.equal(calls, 0);
  }
  // No context, and +Infinity: no deadline, every record runs.
  for (const context of [undefined, null, method(Infinity)]) {
    const report = await pool.runBatch(event, () => {}, { context, deadlineMarginMs: 10_000 });
    assert.deepEqual(report.succeeded, ['m0', 'm1']);
  }
  // A negative time is already up: nothing starts.
  const report = await pool.runBatch(event, () => assert.fail('ran'), {
    context: method(-5),
    throwOnFullBatchFailure: false,
  });
  assert.deepEqual(
    report.failures.map((f) => [f.reason, f.attempts]),
    [
      ['deadline', 0],
      ['deadline', 0],
    ],
  );
});

test('BatchFailedError: the core message with the breakdown, cause = the first failed record error', async () => {
  const pool = new Pool({ concurrency: 4 });
  const thrown = new Map();
  const event = sqs(3, (i) => (i === 1 ? null : 'g'));
  const handler = async (record) => {
    // m1 fails first in time; m0 is first in event order.
    await new Promise((r) => setTimeout(r, record.messageId === 'm0' ? 20 : 0));
    const e = new Error(`bad record ${record.messageId}`);
    thrown.set(record.messageId, e);
    throw e;
  };
  await assert.rejects(pool.process(event, handler), (e) => {
    assert.ok(e instanceof BatchFailedError);
    assert.equal(e.message, 'every record of the batch failed (3 records: 2 error, 1 skipped)');
    assert.equal(e.cause, thrown.get('m0'));
    return true;
  });
  // Nothing ran before the deadline: the message says the time and the margin; no cause.
  const context = { getRemainingTimeInMillis: () => 1 };
  await assert.rejects(pool.process(sqs(2), () => {}, { context }), (e) => {
    assert.ok(e instanceof BatchFailedError);
    assert.match(
      e.message,
      /^every record of the batch failed \(2 records: 2 deadline; the remaining time was [01] ms at the start and the deadline margin 500 ms\)$/,
    );
    assert.ok(!('cause' in e));
    return true;
  });
  // One record, thrown undefined: singular, and the cause is what was thrown.
  await assert.rejects(
    pool.process(sqs(1), () => {
      throw undefined;
    }),
    (e) => e.message === 'every record of the batch failed (1 record: 1 error)' && 'cause' in e && e.cause === undefined,
  );
});

test('version: the package.json version, the same as the Rust crates', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
  assert.equal(typeof version, 'string');
  assert.equal(version, pkg.version);
  const cargo = fs.readFileSync(path.join(__dirname, '..', '..', 'Cargo.toml'), 'utf8');
  const workspace = cargo.slice(cargo.indexOf('[workspace.package]'));
  const crate = /^version = "([^"]+)"/m.exec(workspace);
  assert.ok(crate, 'the workspace version');
  assert.equal(version, crate[1]);
});
