'use strict';
// lanepool/powertools: Powertools for AWS Lambda's batch utility (`@aws-lambda-powertools/batch`,
// an optional peer dependency) with the records scheduled by lanepool.
//
//   const { EventType, processPartialResponse } = require('@aws-lambda-powertools/batch');
//   const { ParallelBatchProcessor } = require('lanepool/powertools');
//   const processor = new ParallelBatchProcessor(EventType.SQS, { pool });   // was: new BatchProcessor(EventType.SQS)
//   exports.handler = (event, context) => processPartialResponse(event, recordHandler, processor, { context });
//
// This is the CommonJS face, over Powertools' CommonJS build; `import` gets powertools.mjs, the
// same processor over Powertools' ES module build. The logic is powertools-factory.js's.
//
// Loading `lanepool` never loads this file, nor Powertools.

let batch;
try {
  batch = require('@aws-lambda-powertools/batch');
} catch (caught) {
  const error = /** @type {any} */ (caught);
  if (error && error.code === 'MODULE_NOT_FOUND' && /@aws-lambda-powertools\/batch/.test(String(error.message))) {
    const e = /** @type {Error & { code?: string }} */ (
      new Error("lanepool/powertools needs Powertools' batch utility: npm install @aws-lambda-powertools/batch")
    );
    e.code = 'MODULE_NOT_FOUND';
    e.cause = error;
    throw e;
  }
  throw error;
}

const { makeParallelBatchProcessor, defaultPool } = require('./powertools-factory.js');

const { ParallelBatchProcessor, SkippedRecordError, DeadlineRecordError } = makeParallelBatchProcessor(batch);

module.exports = { ParallelBatchProcessor, SkippedRecordError, DeadlineRecordError, defaultPool };
