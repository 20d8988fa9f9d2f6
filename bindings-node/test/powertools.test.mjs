// lanepool/powertools from ES modules: `import` gets the processor built over Powertools' ES
// module build, so that the ESM processPartialResponse accepts it and instanceof holds.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

import {
  BatchProcessingError,
  BatchProcessor,
  EventType,
  FullBatchFailureError,
  SqsFifoMessageGroupShortCircuitError,
  processPartialResponse,
} from '@aws-lambda-powertools/batch';
import { Pool } from 'lanepool';
import {
  DeadlineRecordError,
  ParallelBatchProcessor,
  SkippedRecordError,
  defaultPool,
} from 'lanepool/powertools';

const require = createRequire(import.meta.url);
const helpers = require('./helpers.js');
const { sqsRecord, contextWith } = helpers;

test('ESM: the processor extends the ES module BatchProcessor (not the CommonJS one)', () => {
  const cjsBatch = require('@aws-lambda-powertools/batch');
  const cjs = require('lanepool/powertools');
  // The two builds' classes differ: that is why the ES module face exists.
  assert.notEqual(cjsBatch.BatchProcessor, BatchProcessor);
  const processor = new ParallelBatchProcessor(EventType.SQS);
  assert.ok(processor instanceof BatchProcessor);
  assert.ok(!(processor instanceof cjsBatch.BatchProcessor));
  assert.ok(new cjs.ParallelBatchProcessor(EventType.SQS) instanceof cjsBatch.BatchProcessor);
  assert.notEqual(ParallelBatchProcessor, cjs.ParallelBatchProcessor);
  assert.ok(new SkippedRecordError() instanceof SqsFifoMessageGroupShortCircuitError);
  assert.ok(new DeadlineRecordError() instanceof BatchProcessingError);
  // One default pool per process, whichever face made it.
  assert.equal(defaultPool(), cjs.defaultPool());
  assert.ok(defaultPool() instanceof Pool);
});

test('ESM: processPartialResponse on an SQS FIFO event: lanes in order, the rest of a failed lane skipped', async () => {
  const pool = new Pool({ concurrency: 4 });
  const processor = new ParallelBatchProcessor(EventType.SQS, { pool });
  assert.ok(processor instanceof BatchProcessor);
  const Records = [
    sqsRecord('a0', 'a'),
    sqsRecord('b0', 'b'),
    sqsRecord('a1', 'a'),
    sqsRecord('b1', 'b'),
    sqsRecord('a2', 'a'),
    sqsRecord('c0', 'c'),
    sqsRecord('b2', 'b'),
  ];
  const seen = [];
  const signals = new Set();
  const recordHandler = async (record, context, { signal }) => {
    seen.push(record.messageId);
    signals.add(signal);
    assert.ok(signal instanceof AbortSignal && !signal.aborted);
    assert.equal(context.awsRequestId, 'req-1');
    if (record.messageId === 'a1') throw new Error('a1 failed');
    return record.messageId.toUpperCase();
  };
  const response = await processPartialResponse({ Records }, recordHandler, processor, {
    context: contextWith(60_000),
  });
  assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: 'a1' }, { itemIdentifier: 'a2' }] });
  assert.equal(signals.size, 1, 'one signal per batch');
  assert.ok(!seen.includes('a2'), 'a2 skipped, never handled');
  assert.deepEqual(seen.filter((id) => id.startsWith('b')), ['b0', 'b1', 'b2'], 'a lane in event order');
  assert.deepEqual(processor.successMessages.map((r) => r.messageId), ['a0', 'b0', 'b1', 'c0', 'b2']);
  assert.deepEqual(processor.failureMessages.map((r) => r.messageId), ['a1', 'a2']);
  assert.equal(processor.errors[0].message, 'a1 failed');
  assert.ok(processor.errors[1] instanceof SkippedRecordError);
  assert.ok(processor.errors[1] instanceof SqsFifoMessageGroupShortCircuitError);
  assert.deepEqual(processor.report.failures.map((f) => [f.itemIdentifier, f.reason]), [
    ['a1', 'error'],
    ['a2', 'skipped'],
  ]);
});

test('ESM: a full failure throws the ES module FullBatchFailureError', async () => {
  const processor = new ParallelBatchProcessor(EventType.SQS);
  const Records = [sqsRecord('x', 'g'), sqsRecord('y', 'g')];
  await assert.rejects(
    processPartialResponse({ Records }, async () => {
      throw new Error('no');
    }, processor),
    (e) => e instanceof FullBatchFailureError && e.recordErrors.length === 2,
  );
});
