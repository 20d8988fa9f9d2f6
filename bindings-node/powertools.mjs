// lanepool/powertools for ES modules: the same ParallelBatchProcessor as powertools.js, built
// over Powertools' ES module build, so that it is an instance of the `BatchProcessor` that
// `import { BatchProcessor } from '@aws-lambda-powertools/batch'` gives (Powertools v2 ships a
// CommonJS and an ES module build, with different classes).
//
//   import { EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
//   import { ParallelBatchProcessor } from 'lanepool/powertools';
//   const processor = new ParallelBatchProcessor(EventType.SQS, { pool });
//   export const handler = (event, context) => processPartialResponse(event, recordHandler, processor, { context });
//
// `defaultPool()` is the same pool as the CommonJS face's: one per process.

import * as batch from '@aws-lambda-powertools/batch';
import factory from './powertools-factory.js';

const { makeParallelBatchProcessor, defaultPool } = factory;

export const { ParallelBatchProcessor, SkippedRecordError, DeadlineRecordError } = makeParallelBatchProcessor(batch);
export { defaultPool };
