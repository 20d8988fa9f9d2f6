// Type-checked by test.sh (tsc --noEmit): lanepool/powertools from CommonJS (powertools.d.ts over
// Powertools' CommonJS types), used as the README shows.
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import {
  BatchProcessingError,
  BatchProcessor,
  EventType,
  processPartialResponse,
  SqsFifoMessageGroupShortCircuitError,
} from '@aws-lambda-powertools/batch';
import { Pool } from 'lanepool';
import {
  DeadlineRecordError,
  ParallelBatchProcessor,
  type ParallelRecordHandler,
  SkippedRecordError,
  defaultPool,
} from 'lanepool/powertools';

const pool = new Pool({ concurrency: 16 });
const processor = new ParallelBatchProcessor(EventType.SQS, { pool, retries: 1, cancelAtDeadline: true });
const asBase: BatchProcessor = processor;

const recordHandler: ParallelRecordHandler<SQSRecord> = async (record, context, { signal }) => {
  const body: string = record.body;
  const id: string | undefined = context?.awsRequestId;
  if (signal.aborted) throw new Error(body + id);
};

export const handler = async (event: SQSEvent, context: Context) =>
  processPartialResponse(event, recordHandler, processor, { context });

export function errors(e: unknown): string | null {
  if (e instanceof SkippedRecordError) {
    const s: SqsFifoMessageGroupShortCircuitError = e;
    return s.message + e.itemIdentifier;
  }
  if (e instanceof DeadlineRecordError) {
    const b: BatchProcessingError = e;
    return b.message + String(e.index);
  }
  return processor.report?.summary.source ?? null;
}

export const kinesis = new ParallelBatchProcessor(EventType.KinesisDataStreams, {
  ordering: 'unordered',
  deadlineMarginMs: 1000,
});
export const fallback: Pool = defaultPool();
export { asBase };

// @ts-expect-error: ordering is 'auto' | 'unordered' | 'key'
export const wrong = new ParallelBatchProcessor(EventType.SQS, { ordering: 'lanes' });
