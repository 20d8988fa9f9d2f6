'use strict';
// lanepool/powertools: ParallelBatchProcessor against Powertools' own processors, on the same
// seeded random events with the same record handlers: every response, result entry, list and
// error compared.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const {
  BatchProcessor,
  BatchProcessingError,
  EventType,
  FullBatchFailureError,
  ParsingError,
  SqsFifoMessageGroupShortCircuitError,
  SqsFifoPartialProcessorAsync,
  processPartialResponse,
} = require('@aws-lambda-powertools/batch');
const { parser } = require('@aws-lambda-powertools/batch/parser');
const { z } = require('zod');

const { Pool } = require('lanepool');
const { ParallelBatchProcessor, SkippedRecordError, DeadlineRecordError, defaultPool } = require('lanepool/powertools');
const { rng, sqsRecord, contextWith, delay, identifierOf } = require('./helpers');

const SEED = Number(process.env.LANEPOOL_PROP_SEED ?? 20240917);
const CASES = Number(process.env.LANEPOOL_PROP_CASES ?? 40);

// ------------------------------------------------------------------ random events

function kinesisRecord(i, key, data) {
  const seq = `4959033827149025660855969253836157109592157598913658${String(i).padStart(4, '0')}`;
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: key,
      sequenceNumber: seq,
      data: Buffer.from(data).toString('base64'),
      approximateArrivalTimestamp: 1700000000.123,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `shardId-000000000000:${seq}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/lanepool-consumer',
    awsRegion: 'us-east-2',
    eventSourceARN: 'arn:aws:kinesis:us-east-2:123456789012:stream/clicks',
  };
}

function dynamodbRecord(i, key, n) {
  const keys = { PK: { S: `order#${key}` }, SK: { N: '1' } };
  return {
    eventID: `ev-${i}`,
    eventName: 'MODIFY',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-2',
    dynamodb: {
      ApproximateCreationDateTime: 1700000000,
      Keys: keys,
      NewImage: { ...keys, N: { N: String(n) } },
      OldImage: { ...keys, N: { N: String(n - 1) } },
      SequenceNumber: `44215845000000000${String(i).padStart(11, '0')}`,
      SizeBytes: 110,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
    eventSourceARN: 'arn:aws:dynamodb:us-east-2:123456789012:table/Orders/stream/2024-01-01T00:00:00.000',
  };
}

/**
 * A random event of `source` ('sqs' | 'fifo' | 'kinesis' | 'dynamodb') and the plan of every
 * record: fails (always) and how long its handler waits (0: a microtask; or a few ms).
 */
function randomEvent(r, source) {
  const n = r() < 0.1 ? r.int(0, 2) : r.int(1, 40);
  const failRate = r.pick([0, 0.1, 0.3, 0.6, 1]);
  const lanes = r.int(1, 6);
  const plan = new Map(); // identifier -> { fail, waitMs }
  const Records = [];
  for (let i = 0; i < n; i++) {
    const key = `k${r.int(1, lanes)}`;
    const body = JSON.stringify({ i, key });
    let record;
    if (source === 'sqs') record = sqsRecord(`m-${i}`, undefined, body);
    else if (source === 'fifo') record = sqsRecord(`m-${i}`, r() < 0.05 ? undefined : key, body);
    else if (source === 'kinesis') record = kinesisRecord(i, key, body);
    else record = dynamodbRecord(i, key, i);
    Records.push(record);
    plan.set(identifierOf(record), { fail: r() < failRate, waitMs: r() < 0.5 ? 0 : r.int(1, 4) });
  }
  return { event: { Records }, plan };
}

/** The record handler both processors get: outcome by plan, completion order scrambled. */
function planHandler(plan) {
  const contexts = [];
  const handler = async (record, context) => {
    contexts.push(context);
    const id = identifierOf(record);
    const { fail, waitMs } = plan.get(id);
    if (waitMs > 0) await delay(waitMs);
    else await null;
    if (fail) throw new Error(`record ${id} failed`);
    return `ok ${id}`;
  };
  return { handler, contexts };
}

// ------------------------------------------------------------------ running and comparing

const skippedTag = (e) =>
  e instanceof SqsFifoMessageGroupShortCircuitError ? 'SKIPPED' : `${e?.constructor?.name}: ${e?.name}: ${e?.message}`;

/** Everything a Powertools user can see of one batch. */
async function observe(processor, event, handler, options) {
  let thrown = null;
  let response = null;
  let results = null;
  const process = processor.process.bind(processor);
  processor.process = async () => {
    results = await process();
    return results;
  };
  try {
    response = await processPartialResponse(event, handler, processor, options);
  } catch (error) {
    thrown = error;
  } finally {
    delete processor.process;
  }
  return {
    thrown:
      thrown === null
        ? null
        : {
            class: thrown.constructor.name,
            message: thrown.message,
            recordErrors: thrown.recordErrors?.map(skippedTag),
          },
    response,
    results: results?.map(([status, value, record]) => [status, value, event.Records.indexOf(record)]),
    successMessages: processor.successMessages.map((rec) => event.Records.indexOf(rec)),
    failureMessages: processor.failureMessages.map((rec) => event.Records.indexOf(rec)),
    errors: processor.errors.map(skippedTag),
  };
}

function normaliseSkips(view) {
  // Powertools' FIFO processor builds its skip entries with its own message; the tag is enough.
  return {
    ...view,
    results: view.results?.map(([status, value, i]) =>
      status === 'fail' && /previous record from this (message group|lane)/.test(value) ? [status, 'SKIPPED', i] : [status, value, i],
    ),
  };
}

/**
 * Powertools' parallel BatchProcessor fills its lists (and so the response and the full-failure
 * error) in completion order; lanepool's hold the same in event order. This puts a view in event
 * order (errors paired with their failed records).
 */
function inEventOrder(view, event) {
  const failed = view.failureMessages.map((i, k) => [i, view.errors[k]]).sort((x, y) => x[0] - y[0]);
  const index = new Map(event.Records.map((rec, i) => [identifierOf(rec), i]));
  return {
    ...view,
    thrown: view.thrown && { ...view.thrown, recordErrors: view.thrown.recordErrors && failed.map((f) => f[1]) },
    response: view.response && {
      batchItemFailures: [...view.response.batchItemFailures].sort(
        (x, y) => index.get(x.itemIdentifier) - index.get(y.itemIdentifier),
      ),
    },
    successMessages: [...view.successMessages].sort((x, y) => x - y),
    failureMessages: failed.map((f) => f[0]),
    errors: failed.map((f) => f[1]),
  };
}

async function compare(label, reference, ours, event, plan, options) {
  const a = planHandler(plan);
  const b = planHandler(plan);
  const want = normaliseSkips(inEventOrder(await observe(reference, event, a.handler, options), event));
  const gotRaw = normaliseSkips(await observe(ours, event, b.handler, options));
  // lanepool's lists are in event order as they stand.
  assert.deepStrictEqual(gotRaw, inEventOrder(gotRaw, event), `${label}: event order`);
  assert.deepStrictEqual(gotRaw, want, label);
  const got = gotRaw;
  // The handler got what Powertools gives it: the same context object.
  for (const c of b.contexts) assert.equal(c, options.context, `${label}: context`);
  return got;
}

const unorderedCases = [
  ['SQS', 'sqs', EventType.SQS],
  ['Kinesis', 'kinesis', EventType.KinesisDataStreams],
  ['DynamoDB', 'dynamodb', EventType.DynamoDBStreams],
];

for (const [name, source, eventType] of unorderedCases) {
  test(`ordering 'unordered' answers as BatchProcessor (${name}, ${CASES} seeded events)`, async () => {
    const r = rng(SEED ^ source.length * 7919);
    const pool = new Pool({ concurrency: 4 });
    const ours = new ParallelBatchProcessor(eventType, { pool, ordering: 'unordered' });
    const reference = new BatchProcessor(eventType);
    let fullFailures = 0;
    let partial = 0;
    for (let c = 0; c < CASES; c++) {
      const { event, plan } = randomEvent(r, source);
      const options = { context: r() < 0.5 ? undefined : contextWith(60_000), throwOnFullBatchFailure: r() < 0.8 };
      const got = await compare(`${name} case ${c} (seed ${SEED})`, reference, ours, event, plan, options);
      if (got.thrown) fullFailures++;
      else if (got.failureMessages.length > 0) partial++;
    }
    assert.ok(fullFailures > 0 && partial > 0, `cases covered full (${fullFailures}) and partial (${partial}) failures`);
  });
}

test(`default lanes answer as SqsFifoPartialProcessorAsync with skipGroupOnError (${CASES} seeded events)`, async () => {
  const r = rng(SEED + 1);
  const ours = new ParallelBatchProcessor(EventType.SQS, { pool: new Pool({ concurrency: 3 }) });
  const reference = new SqsFifoPartialProcessorAsync();
  let skipped = 0;
  for (let c = 0; c < CASES; c++) {
    const { event, plan } = randomEvent(r, 'fifo');
    const options = { context: contextWith(60_000), skipGroupOnError: true, throwOnFullBatchFailure: r() < 0.8 };
    const got = await compare(`FIFO case ${c} (seed ${SEED})`, reference, ours, event, plan, options);
    skipped += got.errors.filter((e) => e === 'SKIPPED').length;
    for (const e of ours.errors) {
      if (e instanceof SqsFifoMessageGroupShortCircuitError) {
        assert.ok(e instanceof SkippedRecordError && e.name === 'SkippedRecordError');
        assert.equal(event.Records[e.index].messageId, e.itemIdentifier);
      }
    }
  }
  assert.ok(skipped > 0, 'some records were skipped');
});

/** A failureHandler override that works after calling super (as for metrics): it must run for every failure. */
function countingFailures(Base) {
  return class extends Base {
    counted = [];

    failureHandler(record, error) {
      const entry = super.failureHandler(record, error);
      this.counted.push(identifierOf(record));
      return entry;
    }
  };
}

test(`an overridden failureHandler runs to its end for every failure, and lanes still skip (${CASES} seeded events)`, async () => {
  // process() runs processRecord itself as lanepool's handler unless failureHandler is overridden.
  const r = rng(SEED + 11);
  const ours = new (countingFailures(ParallelBatchProcessor))(EventType.SQS, { pool: new Pool({ concurrency: 3 }) });
  const reference = new (countingFailures(SqsFifoPartialProcessorAsync))();
  let skipped = 0;
  for (let c = 0; c < CASES; c++) {
    ours.counted = [];
    reference.counted = [];
    const { event, plan } = randomEvent(r, 'fifo');
    const options = { context: contextWith(60_000), skipGroupOnError: true, throwOnFullBatchFailure: false };
    const got = await compare(`FIFO case ${c} (seed ${SEED})`, reference, ours, event, plan, options);
    skipped += got.errors.filter((e) => e === 'SKIPPED').length;
    assert.deepStrictEqual([...ours.counted].sort(), [...reference.counted].sort(), `case ${c}: counted`);
    assert.deepStrictEqual(
      [...ours.counted].sort(),
      ours.failureMessages.map(identifierOf).sort(),
      `case ${c}: one count per failure`,
    );
  }
  assert.ok(skipped > 0, 'some records were skipped');
});

test('a failureHandler override that does not call super still fails the rest of the lane', async () => {
  class OwnEntries extends ParallelBatchProcessor {
    failureHandler(record, error) {
      return ['fail', `own: ${error.message}`, record];
    }
  }
  const Records = ['m0', 'm1', 'm2'].map((id) => sqsRecord(id, 'g'));
  const processor = new OwnEntries(EventType.SQS, { pool: new Pool({ concurrency: 2 }) });
  processor.register(Records, async (record) => {
    if (record.messageId === Records[1].messageId) throw new Error('boom');
  });
  const results = await processor.process();
  assert.deepStrictEqual(results.map((e) => e[0]), ['success', 'fail', 'fail']);
  assert.equal(results[1][1], 'own: boom');
  assert.deepStrictEqual(
    processor.report.failures.map((f) => [f.itemIdentifier, f.reason]),
    [['m1', 'error'], ['m2', 'skipped']],
  );
});

test('default lanes on Kinesis and DynamoDB skip only the rest of the failed lane', async () => {
  const r = rng(SEED + 2);
  for (const [source, eventType, laneOf] of [
    ['kinesis', EventType.KinesisDataStreams, (rec) => rec.kinesis.partitionKey],
    ['dynamodb', EventType.DynamoDBStreams, (rec) => rec.dynamodb.Keys.PK.S],
  ]) {
    const ours = new ParallelBatchProcessor(eventType, { pool: new Pool({ concurrency: 4 }) });
    for (let c = 0; c < CASES; c++) {
      const { event, plan } = randomEvent(r, source);
      const { handler } = planHandler(plan);
      const failedLanes = new Set();
      const expected = [];
      for (const [i, rec] of event.Records.entries()) {
        const lane = laneOf(rec);
        if (failedLanes.has(lane)) expected.push([i, 'SKIPPED']);
        else if (plan.get(identifierOf(rec)).fail) {
          failedLanes.add(lane);
          expected.push([i, `Error: Error: record ${identifierOf(rec)} failed`]);
        }
      }
      const view = await observe(ours, event, handler, { throwOnFullBatchFailure: false });
      assert.deepStrictEqual(
        view.failureMessages.map((i, k) => [i, view.errors[k]]),
        expected,
        `${source} case ${c}`,
      );
    }
  }
});

// ------------------------------------------------------------------ the parser integration

test('parser integration with a zod schema: poison records fail validation, as in BatchProcessor', async () => {
  const Order = z.object({ i: z.number(), key: z.string() });
  const config = { parser, innerSchema: Order, transformer: 'json' };
  const r = rng(SEED + 3);
  const seen = [];
  const handler = async (record) => {
    seen.push(record.body);
    assert.equal(typeof record.body, 'object', 'the body arrives parsed');
    await delay(r.int(0, 2));
    if (record.body.i % 7 === 3) throw new Error(`order ${record.body.i} rejected`);
    return record.body.i;
  };
  const events = [];
  for (let c = 0; c < 8; c++) {
    const Records = [];
    for (let i = 0; i < 20; i++) {
      const poison = r() < 0.15 || (i === 5 && c === 0);
      const body = poison ? r.pick(['{"i":"x","key":"k1"}', 'not json', '{"i":1}']) : JSON.stringify({ i, key: `k${i % 3}` });
      Records.push(sqsRecord(`m-${c}-${i}`, `g${i % 3}`, body));
    }
    events.push({ Records });
  }
  const ours = new ParallelBatchProcessor(EventType.SQS, { ...config, ordering: 'unordered', pool: new Pool({ concurrency: 5 }) });
  const reference = new BatchProcessor(EventType.SQS, config);
  let parsingErrors = 0;
  for (const [c, event] of events.entries()) {
    const want = inEventOrder(await observe(reference, event, handler, {}), event);
    const got = await observe(ours, event, handler, {});
    assert.deepStrictEqual(got, inEventOrder(got, event), `parser case ${c}: event order`);
    assert.deepStrictEqual(got, want, `parser case ${c}`);
    parsingErrors += ours.errors.filter((e) => e instanceof ParsingError).length;
  }
  assert.ok(parsingErrors > 0, 'some records failed validation');

  // With lanes (FIFO groups), a poison record skips the rest of its group only.
  const laned = new ParallelBatchProcessor(EventType.SQS, config);
  const Records = Array.from({ length: 9 }, (_, i) =>
    sqsRecord(`p${i}`, `g${i % 3}`, i === 4 ? '{"i":"four","key":"k"}' : JSON.stringify({ i, key: 'k' })),
  );
  const bodies = [];
  const response = await processPartialResponse({ Records }, async (record) => bodies.push(record.body.i), laned, {});
  assert.deepStrictEqual(response, { batchItemFailures: [{ itemIdentifier: 'p4' }, { itemIdentifier: 'p7' }] });
  assert.ok(laned.errors[0] instanceof ParsingError, 'p4 fails validation');
  assert.ok(laned.errors[1] instanceof SkippedRecordError, 'p7, later in group g1, is skipped');
  assert.deepStrictEqual(bodies.sort(), [0, 1, 2, 3, 5, 6, 8]);
});

// ------------------------------------------------------------------ the rest of the contract

test('full failure throws FullBatchFailureError with the errors in event order, unless turned off', async () => {
  const processor = new ParallelBatchProcessor(EventType.SQS);
  const event = { Records: [sqsRecord('a', 'g'), sqsRecord('b', 'h'), sqsRecord('c', 'g')] };
  const handler = async (record) => {
    await delay(record.messageId === 'a' ? 5 : 0);
    throw new TypeError(`no ${record.messageId}`);
  };
  await assert.rejects(processPartialResponse(event, handler, processor, { context: contextWith(60_000) }), (error) => {
    assert.ok(error instanceof FullBatchFailureError);
    assert.deepStrictEqual(
      error.recordErrors.map((e) => e.message),
      ['no a', 'no b', 'A previous record from this lane failed processing'],
    );
    assert.ok(error.recordErrors[2] instanceof SkippedRecordError);
    return true;
  });
  const response = await processPartialResponse(event, handler, processor, { throwOnFullBatchFailure: false });
  assert.deepStrictEqual(response, {
    batchItemFailures: [{ itemIdentifier: 'a' }, { itemIdentifier: 'b' }, { itemIdentifier: 'c' }],
  });
  assert.deepStrictEqual(processor.report.failures.map((f) => f.reason), ['error', 'error', 'skipped']);
  assert.equal(processor.report.failures[0].error, processor.errors[0]);
});

test('a context without getRemainingTimeInMillis is a TypeError naming it (the core context rule)', async () => {
  const context = { awsRequestId: 'req' };
  const processor = new ParallelBatchProcessor(EventType.SQS, { deadlineMarginMs: 1e9 });
  const got = [];
  const event = { Records: [sqsRecord('a'), sqsRecord('b')] };
  await assert.rejects(
    processPartialResponse(event, async (r) => got.push(r.messageId), processor, { context }),
    (e) =>
      e instanceof TypeError &&
      e.message ===
        'lanepool: context must have getRemainingTimeInMillis() (a Lambda context) or be undefined, got Object {awsRequestId}',
  );
  assert.deepStrictEqual(got, []);
  // A Lambda context is handed to the handler as is; no context at all is no deadline.
  const lambda = contextWith(60_000);
  const seen = [];
  const plain = new ParallelBatchProcessor(EventType.SQS);
  const response = await processPartialResponse(event, async (r, ctx) => seen.push(ctx), plain, { context: lambda });
  assert.deepStrictEqual(response, { batchItemFailures: [] });
  assert.ok(seen.length === 2 && seen.every((c) => c === lambda));
  const fresh = new ParallelBatchProcessor(EventType.SQS);
  assert.deepStrictEqual(await processPartialResponse(event, async () => {}, fresh), { batchItemFailures: [] });
});

test('deadline: records not started in time fail with DeadlineRecordError', async () => {
  const processor = new ParallelBatchProcessor(EventType.SQS, { deadlineMarginMs: 500, pool: new Pool({ concurrency: 2 }) });
  const Records = Array.from({ length: 10 }, (_, i) => sqsRecord(`m${i}`, 'one-group'));
  const handler = async () => delay(30);
  const response = await processPartialResponse({ Records }, handler, processor, { context: contextWith(600) });
  const failed = response.batchItemFailures.map((f) => f.itemIdentifier);
  assert.ok(failed.length > 0 && failed.length < 10, `some records missed the deadline: ${failed}`);
  assert.deepStrictEqual(failed, Records.slice(10 - failed.length).map((r) => r.messageId), 'the tail of the lane');
  for (const e of processor.errors) {
    assert.ok(e instanceof DeadlineRecordError && e instanceof BatchProcessingError);
    assert.equal(e.name, 'DeadlineRecordError');
  }
  assert.deepStrictEqual(processor.successMessages, Records.slice(0, 10 - failed.length));
});

test('retries: a record goes through processRecord again; the lists hold its last attempt', async () => {
  const processor = new ParallelBatchProcessor(EventType.SQS, { retries: 2, retryBackoffMs: 0 });
  const attempts = new Map();
  const handler = async (record) => {
    const k = (attempts.get(record.messageId) ?? 0) + 1;
    attempts.set(record.messageId, k);
    if (record.messageId === 'flaky' && k < 3) throw new Error(`flaky attempt ${k}`);
    if (record.messageId === 'bad') throw new Error(`bad attempt ${k}`);
    return k;
  };
  const event = { Records: [sqsRecord('flaky', 'g'), sqsRecord('bad', 'h'), sqsRecord('ok', 'g')] };
  let results;
  const process = processor.process.bind(processor);
  processor.process = async () => (results = await process());
  const response = await processPartialResponse(event, handler, processor, {});
  delete processor.process;
  assert.deepStrictEqual(response, { batchItemFailures: [{ itemIdentifier: 'bad' }] });
  assert.deepStrictEqual(results, [
    ['success', 3, event.Records[0]],
    ['fail', 'bad attempt 3', event.Records[1]],
    ['success', 1, event.Records[2]],
  ]);
  assert.deepStrictEqual(processor.successMessages, [event.Records[0], event.Records[2]]);
  assert.deepStrictEqual(processor.failureMessages, [event.Records[1]]);
  assert.deepStrictEqual(processor.errors.map((e) => e.message), ['bad attempt 3']);
});

test('lanes run in parallel and at most pool.concurrency records are in flight', async () => {
  const processor = new ParallelBatchProcessor(EventType.SQS, { pool: new Pool({ concurrency: 3 }) });
  const Records = Array.from({ length: 24 }, (_, i) => sqsRecord(`m${i}`, `g${i % 6}`));
  let inFlight = 0;
  let peak = 0;
  const order = [];
  const handler = async (record) => {
    peak = Math.max(peak, ++inFlight);
    order.push(record.messageId);
    await delay(3);
    inFlight--;
  };
  await processPartialResponse({ Records }, handler, processor, {});
  assert.equal(peak, 3);
  for (let g = 0; g < 6; g++) {
    const lane = order.filter((id) => Number(id.slice(1)) % 6 === g);
    assert.deepStrictEqual(lane, Records.filter((_, i) => i % 6 === g).map((r) => r.messageId));
  }
});

test('groupKey, a custom lane from the raw record', async () => {
  const processor = new ParallelBatchProcessor(EventType.SQS, { groupKey: (r) => JSON.parse(r.body).user });
  const Records = ['u1', 'u2', 'u1', 'u2'].map((user, i) => sqsRecord(`m${i}`, undefined, JSON.stringify({ user, i })));
  const response = await processPartialResponse({ Records }, async (r) => {
    if (r.messageId === 'm0') throw new Error('x');
  }, processor, {});
  assert.deepStrictEqual(response, { batchItemFailures: [{ itemIdentifier: 'm0' }, { itemIdentifier: 'm2' }] });
  assert.ok(processor.errors[1] instanceof SkippedRecordError);
});

test('the processor is reusable, has a default pool, and refuses processSync and bad options', async () => {
  const processor = new ParallelBatchProcessor(EventType.SQS);
  assert.equal(processor.pool, defaultPool());
  assert.equal(new ParallelBatchProcessor(EventType.SQS).pool, processor.pool);
  assert.ok(processor instanceof BatchProcessor);
  for (let k = 0; k < 3; k++) {
    const event = { Records: [sqsRecord(`a${k}`), sqsRecord(`b${k}`)] };
    const response = await processPartialResponse(event, async (r) => {
      if (r.messageId.startsWith('b')) throw new Error('b');
    }, processor, {});
    assert.deepStrictEqual(response, { batchItemFailures: [{ itemIdentifier: `b${k}` }] });
    assert.equal(processor.successMessages.length, 1);
  }
  assert.deepStrictEqual(await processPartialResponse({ Records: [] }, async () => {}, processor, {}), {
    batchItemFailures: [],
  });
  processor.register([sqsRecord('x')], () => {});
  assert.throws(() => processor.processSync(), BatchProcessingError);
  assert.throws(() => new ParallelBatchProcessor(EventType.SQS, { ordering: 'fifo' }), TypeError);
  assert.throws(() => new ParallelBatchProcessor(EventType.SQS, { retries: -1 }), RangeError);
  assert.throws(() => new ParallelBatchProcessor(EventType.SQS, { pool: {} }), TypeError);
});

test('Powertools has no Kafka event type, and a Kafka one is refused with a clear error', () => {
  // If Powertools gains one, this test fails: then the processor must hand it Kafka events.
  assert.deepEqual(
    Object.values(EventType).filter((t) => /kafka|msk/i.test(t)),
    [],
  );
  for (const kafka of ['Kafka', 'aws:kafka', 'SelfManagedKafka', 'MSK']) {
    assert.throws(
      () => new ParallelBatchProcessor(kafka),
      (e) =>
        e instanceof TypeError &&
        e.message.includes('not Kafka') &&
        e.message.includes(kafka) &&
        e.message.includes('pool.process'),
      kafka,
    );
  }
  for (const ok of Object.values(EventType)) assert.ok(new ParallelBatchProcessor(ok) instanceof BatchProcessor);
});

test('a malformed event rejects with lanepool EventError before any handler runs', async () => {
  const { EventError } = require('lanepool');
  const processor = new ParallelBatchProcessor(EventType.SQS);
  let calls = 0;
  const bad = sqsRecord('a');
  delete bad.messageId;
  await assert.rejects(
    processPartialResponse({ Records: [sqsRecord('b'), bad] }, () => calls++, processor, {}),
    EventError,
  );
  assert.equal(calls, 0);
});

test("require('lanepool') does not load Powertools; require('lanepool/powertools') does", () => {
  const script = (what) =>
    `require(${JSON.stringify(what)});` +
    "process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((f) => f.includes('@aws-lambda-powertools'))))";
  const cwd = path.resolve(__dirname, '..');
  const run = (what) => JSON.parse(execFileSync(process.execPath, ['-e', script(what)], { cwd }).toString());
  assert.deepStrictEqual(run('lanepool'), []);
  assert.ok(run('lanepool/powertools').length > 0);
});

test('concurrent invocations on one processor (Powertools InvokeStore mode) keep their own state', async () => {
  const { InvokeStore } = require('@aws/lambda-invoke-store');
  // Created at module load, as a handler module does (Powertools' constructor needs no invocation).
  const processor = new ParallelBatchProcessor(EventType.SQS, { pool: new Pool({ concurrency: 4 }) });
  const saved = process.env.AWS_LAMBDA_MAX_CONCURRENCY;
  process.env.AWS_LAMBDA_MAX_CONCURRENCY = '4';
  try {
    const store = await InvokeStore.getInstanceAsync(true);
    const invoke = (tag, n, failing) =>
      store.run({}, async () => {
        const Records = Array.from({ length: n }, (_, i) => sqsRecord(`${tag}${i}`, `g${i % 2}`));
        const response = await processPartialResponse({ Records }, async (r, _context, lanepool) => {
          assert.ok(lanepool.signal instanceof AbortSignal);
          await delay(1 + (r.messageId.length % 3));
          if (failing.includes(r.messageId)) throw new Error(r.messageId);
          return r.messageId;
        }, processor, {});
        return {
          response,
          succeeded: processor.successMessages.map((r) => r.messageId),
          errors: processor.errors.map((e) => e.name),
          report: processor.report.failures.map((f) => [f.itemIdentifier, f.reason]),
        };
      });
    const [a, b] = await Promise.all([invoke('a', 6, ['a1']), invoke('b', 5, ['b0', 'b3'])]);
    assert.deepStrictEqual(a, {
      response: { batchItemFailures: [{ itemIdentifier: 'a1' }, { itemIdentifier: 'a3' }, { itemIdentifier: 'a5' }] },
      succeeded: ['a0', 'a2', 'a4'],
      errors: ['Error', 'SkippedRecordError', 'SkippedRecordError'],
      report: [['a1', 'error'], ['a3', 'skipped'], ['a5', 'skipped']],
    });
    assert.deepStrictEqual(b, {
      response: {
        batchItemFailures: [{ itemIdentifier: 'b0' }, { itemIdentifier: 'b2' }, { itemIdentifier: 'b3' }, { itemIdentifier: 'b4' }],
      },
      succeeded: ['b1'],
      errors: ['Error', 'SkippedRecordError', 'Error', 'SkippedRecordError'],
      report: [['b0', 'error'], ['b2', 'skipped'], ['b3', 'error'], ['b4', 'skipped']],
    });
  } finally {
    if (saved === undefined) delete process.env.AWS_LAMBDA_MAX_CONCURRENCY;
    else process.env.AWS_LAMBDA_MAX_CONCURRENCY = saved;
  }
});

test("the record handler gets lanepool's { signal } as its third argument, after Powertools' two", async () => {
  const processor = new ParallelBatchProcessor(EventType.SQS, { pool: new Pool({ concurrency: 2 }) });
  const context = contextWith(60_000);
  const calls = [];
  const event = { Records: [sqsRecord('a', 'g1'), sqsRecord('b', 'g2')] };
  const response = await processPartialResponse(
    event,
    function (record, ctx, lanepool) {
      calls.push({ id: record.messageId, ctx, lanepool, self: this, n: arguments.length });
    },
    processor,
    { context },
  );
  assert.deepStrictEqual(response, { batchItemFailures: [] });
  assert.equal(calls.length, 2);
  for (const c of calls) {
    assert.equal(c.n, 3);
    assert.equal(c.ctx, context, "Powertools' second argument is options.context, as is");
    assert.ok(c.lanepool.signal instanceof AbortSignal && !c.lanepool.signal.aborted);
    assert.ok(Object.isFrozen(c.lanepool));
    assert.equal(c.self, processor, 'called as Powertools calls it, on the processor');
  }
  assert.equal(calls[0].lanepool, calls[1].lanepool, 'one per batch');
  // Outside a batch the registered handler is the one given, unwrapped.
  const mine = async () => {};
  processor.register(event.Records, mine, {});
  assert.equal(processor.handler, mine);
});

test('deadline: a record running when the signal fires is a DeadlineRecordError in Powertools failure shape', async () => {
  const pool = new Pool({ concurrency: 4 });
  const processor = new ParallelBatchProcessor(EventType.SQS, { pool, deadlineMarginMs: 100 });
  const Records = [sqsRecord('fast', 'g1'), sqsRecord('aborts', 'g2'), sqsRecord('ignores', 'g3'), sqsRecord('late', 'g1')];
  const reasons = {};
  const recordHandler = async (record, _context, { signal }) => {
    const id = record.messageId;
    if (id === 'fast') return 'ok';
    if (id === 'late') return delay(1000); // the signal fires while it runs
    if (id === 'aborts') {
      // Stops when told, as a fetch or SDK call given the signal would.
      await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    }
    // 'ignores': catches nothing, finishes its work after the signal.
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    reasons[id] = signal.reason;
    return 'done anyway';
  };
  processor.register(Records, recordHandler, { context: contextWith(250), throwOnFullBatchFailure: false });
  const processed = await processor.process();
  assert.deepStrictEqual(processor.response(), {
    batchItemFailures: [{ itemIdentifier: 'aborts' }, { itemIdentifier: 'ignores' }, { itemIdentifier: 'late' }],
  });
  assert.deepStrictEqual(processed[0], ['success', 'ok', Records[0]]);
  for (const i of [1, 2, 3]) {
    const [kind, message, record] = processed[i];
    assert.equal(kind, 'fail');
    assert.equal(record, Records[i]);
    assert.equal(message, 'The invocation deadline passed before this record was processed');
    const error = processor.errors[i - 1];
    assert.ok(error instanceof DeadlineRecordError && error instanceof BatchProcessingError);
    assert.equal(error.message, message);
    assert.equal(error.itemIdentifier, Records[i].messageId);
    assert.equal(error.index, i);
  }
  assert.equal(reasons.ignores.name, 'TimeoutError');
  // What the aborted handler threw is kept as the cause (as Powertools' failureHandler got it).
  assert.equal(processor.errors[0].cause.name, 'TimeoutError');
  assert.equal(processor.errors[1].cause, undefined);
  assert.deepStrictEqual(processor.failureMessages, Records.slice(1));
  assert.deepStrictEqual(processor.successMessages, [Records[0]]);
  assert.deepStrictEqual(processor.report.failures.map((f) => [f.itemIdentifier, f.reason, f.error]), [
    ['aborts', 'deadline', processor.errors[0]],
    ['ignores', 'deadline', processor.errors[1]],
    ['late', 'deadline', processor.errors[2]],
  ]);
});

test('hostile thrown values (throwing toString, revoked Proxy, throwing traps) fail their record, never the batch', async () => {
  const throwingToString = {
    toString() {
      throw new Error('toString');
    },
  };
  const { proxy: revoked, revoke } = Proxy.revocable({}, {});
  revoke();
  const trap = () => {
    throw new Error('trap');
  };
  const allTraps = new Proxy(new Error('hidden'), { get: trap, getPrototypeOf: trap, has: trap, ownKeys: trap });
  // instanceof Error holds, but reading .message (as Powertools' failureHandler does) throws a value
  // that itself cannot be printed.
  const errorLike = new Proxy(new Error('hidden'), {
    get(target, key) {
      if (key === 'message') throw revoked;
      return Reflect.get(target, key);
    },
  });
  // Reading .message (as Powertools' failureHandler does) throws a value that cannot be printed.
  const messageThrows = (value) =>
    new Proxy(new Error('hidden'), {
      get(target, key) {
        if (key === 'message') throw value;
        return Reflect.get(target, key);
      },
    });
  const thrown = {
    toStr: throwingToString,
    revoked,
    allTraps,
    unprintable: messageThrows(revoked),
    unprintable2: messageThrows(allTraps),
    toStrMessage: messageThrows(throwingToString),
    nul: null,
    sym: Symbol('s'),
    nullProto: Object.create(null),
  };
  const ids = Object.keys(thrown);
  const Records = [sqsRecord('ok'), ...ids.map((id) => sqsRecord(id))];
  for (const retries of [0, 1]) {
    const processor = new ParallelBatchProcessor(EventType.SQS, { retries, retryBackoffMs: 0 });
    const response = await processPartialResponse(
      { Records },
      async (record) => {
        if (record.messageId !== 'ok') throw thrown[record.messageId];
      },
      processor,
    );
    assert.deepStrictEqual(response, { batchItemFailures: ids.map((itemIdentifier) => ({ itemIdentifier })) });
    assert.equal(processor.errors.length, ids.length);
    const failures = processor.report.failures;
    assert.deepStrictEqual(failures.map((f) => f.reason), ids.map(() => 'error'));
    assert.deepStrictEqual(failures.map((f) => f.attempts), ids.map(() => retries + 1));
    assert.deepStrictEqual(failures.map((f) => f.error), processor.errors);
    const byId = Object.fromEntries(failures.map((f) => [f.itemIdentifier, f.error]));
    // What Powertools' failureHandler could take is kept as is.
    assert.equal(byId.toStr, throwingToString);
    assert.equal(byId.sym, thrown.sym);
    assert.equal(byId.nullProto, thrown.nullProto);
    // Where it threw (reading .message), what it threw, or a printable stand-in.
    assert.ok(byId.revoked instanceof TypeError);
    assert.ok(byId.nul instanceof TypeError);
    assert.equal(byId.allTraps.message, 'trap');
    for (const id of ['unprintable', 'unprintable2']) {
      assert.ok(byId[id] instanceof BatchProcessingError);
      assert.equal(byId[id].message, 'record failed: <unprintable error>');
    }
    assert.equal(byId.toStrMessage.message, 'record failed: [object Object]');
    assert.equal(byId.toStrMessage.cause, throwingToString);
  }
  // Options are described without String() throwing either.
  assert.throws(
    () => new ParallelBatchProcessor(EventType.SQS, { ordering: throwingToString }),
    (e) => e instanceof TypeError && /got \[object Object\]$/.test(e.message),
  );
  assert.throws(
    () => new ParallelBatchProcessor(EventType.SQS, { retries: revoked }),
    (e) => e instanceof RangeError && /got <unprintable error>$/.test(e.message),
  );
});
