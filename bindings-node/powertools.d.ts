// Type declarations of `lanepool/powertools`: Powertools for AWS Lambda's batch utility
// (`@aws-lambda-powertools/batch`, an optional peer dependency) with lanepool's scheduling.
// powertools.d.ts (require) and powertools.d.mts (import) are the same text: the extension makes
// '@aws-lambda-powertools/batch' resolve to Powertools' CommonJS or ES module types, whose
// classes TypeScript keeps apart (test.sh checks that the two files are identical).
import {
  BatchProcessingError,
  BatchProcessor,
  SqsFifoMessageGroupShortCircuitError,
} from '@aws-lambda-powertools/batch';
import type { Context } from 'aws-lambda';
import type {
  BatchOptions,
  BatchReport,
  DynamoDBBatchResponse,
  HandlerContext,
  KinesisStreamBatchResponse,
  Pool,
  SQSBatchResponse,
} from './index.js';

/** Powertools' parser configuration (`parser`, `schema` or `innerSchema` + `transformer`, `logger`). */
export type PowertoolsParserConfig = NonNullable<ConstructorParameters<typeof BatchProcessor>[1]>;

/** lanepool's options of a ParallelBatchProcessor. */
export interface LanepoolProcessorOptions {
  /** The pool that runs the records (its `concurrency` bounds them); default: `defaultPool()`. */
  pool?: Pool;
  /** 'auto' (default): lanes by source (SQS FIFO MessageGroupId, Kinesis partitionKey, DynamoDB
   *  Keys); 'unordered': no lanes, like Powertools' BatchProcessor; 'key': as 'auto' (it differs
   *  for Kafka only, which Powertools' batch utility has no event type for). */
  ordering?: BatchOptions['ordering'];
  /** A custom lane key from the raw record (undefined or null: unkeyed); replaces `ordering`. */
  groupKey?: BatchOptions['groupKey'];
  /** Retries after a failed attempt (default 0); each attempt goes through `processRecord`. */
  retries?: number;
  /** Base delay of the jittered retry backoff in milliseconds (default 100). */
  retryBackoffMs?: number;
  /** Time kept back before the Lambda deadline: no record starts later (default 500). */
  deadlineMarginMs?: number;
  /** Print lanepool's batch summary as one JSON log line on stdout (default false). */
  logSummary?: boolean;
  /** Whether the record handlers' `signal` aborts at the deadline (default true); see lanepool's
   *  `BatchOptions.cancelAtDeadline`. */
  cancelAtDeadline?: boolean;
}

/**
 * A record handler for `processPartialResponse` with a ParallelBatchProcessor: Powertools' two
 * arguments (the record as Powertools gives it, and `options.context`) plus lanepool's
 * `{ signal }`, which aborts at the deadline (less `deadlineMarginMs`); a record running then is
 * reported with `DeadlineRecordError`, however it settles. Throw (or reject) to fail the record.
 */
export type ParallelRecordHandler<R = any> = (
  record: R,
  context: Context | undefined,
  lanepool: HandlerContext,
) => unknown;

/** lanepool's options plus Powertools' parser configuration. */
export type ParallelBatchProcessorOptions = LanepoolProcessorOptions &
  (PowertoolsParserConfig | Record<never, never>);

/**
 * Powertools' `BatchProcessor` with the records scheduled by lanepool: lanes in event order,
 * lanes in parallel, at most `pool.concurrency` records in flight, the rest of a failed lane
 * skipped (`SkippedRecordError`), retries, and no record started after the context's deadline
 * less `deadlineMarginMs` (`DeadlineRecordError`). Use with `processPartialResponse`; the record
 * handler gets lanepool's `{ signal }` as its third argument (`ParallelRecordHandler`). Results,
 * `successMessages`, `failureMessages`, `errors` and `response()` are Powertools', in event order.
 */
export declare class ParallelBatchProcessor extends BatchProcessor {
  /** `eventType`: Powertools' `EventType.SQS`, `.KinesisDataStreams` or `.DynamoDBStreams`
   *  (Powertools has no Kafka event type; a Kafka one is refused with a TypeError). */
  constructor(
    eventType: ConstructorParameters<typeof BatchProcessor>[0],
    options?: ParallelBatchProcessorOptions,
  );
  /** The pool that runs the records. */
  readonly pool: Pool;
  /** lanepool's report of the last batch (reasons, attempts, summary), or null. Its failures'
   *  `error` is the error Powertools' lists hold for the record. */
  readonly report: BatchReport<SQSBatchResponse | KinesisStreamBatchResponse | DynamoDBBatchResponse> | null;
  /** Not available: the processor is asynchronous (throws BatchProcessingError). */
  processSync(): never;
}

/**
 * A record not processed because an earlier record of its lane failed. A subclass of Powertools'
 * `SqsFifoMessageGroupShortCircuitError`, for every source.
 */
export declare class SkippedRecordError extends SqsFifoMessageGroupShortCircuitError {
  constructor(message?: string, itemIdentifier?: string | null, index?: number | null);
  readonly itemIdentifier: string | null;
  /** The record's index in `event.Records`. */
  readonly index: number | null;
}

/**
 * A record that met the invocation's deadline (less `deadlineMarginMs`): not started in time, or
 * started and not done when the handlers' `signal` fired (then `cause` is what it threw, if anything).
 */
export declare class DeadlineRecordError extends BatchProcessingError {
  constructor(message?: string, itemIdentifier?: string | null, index?: number | null);
  readonly itemIdentifier: string | null;
  /** The record's index in `event.Records`. */
  readonly index: number | null;
}

/** The pool of processors created without `pool`: one per process (`new Pool()`), made on first use. */
export declare function defaultPool(): Pool;
