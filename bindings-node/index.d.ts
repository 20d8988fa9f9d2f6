// Type declarations of the npm package `lanepool`. Events, records and responses are the
// `@types/aws-lambda` types.
import type {
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamRecord,
  MSKEvent,
  MSKRecord,
  SelfManagedKafkaEvent,
  SelfManagedKafkaRecord,
  SQSBatchResponse,
  SQSEvent,
  SQSRecord,
} from 'aws-lambda';

export type {
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamRecord,
  MSKEvent,
  MSKRecord,
  SelfManagedKafkaEvent,
  SelfManagedKafkaRecord,
  SQSBatchResponse,
  SQSEvent,
  SQSRecord,
};

/** A Kafka event: Amazon MSK (`aws:kafka`) or self-managed Apache Kafka (`SelfManagedKafka`;
 *  `aws:SelfManagedKafka` is accepted too). */
export type KafkaEvent = MSKEvent | SelfManagedKafkaEvent;

/** A Lambda event lanepool processes: SQS (standard or FIFO), Kinesis or DynamoDB streams, Kafka. */
export type BatchEvent = SQSEvent | KinesisStreamEvent | DynamoDBStreamEvent | KafkaEvent;

type IsAny<T> = 0 extends 1 & T ? true : false;

/** The record type of an event (`SQSRecord` for an `SQSEvent`, `MSKRecord` for an `MSKEvent`, ...). */
export type RecordOf<E> =
  IsAny<E> extends true
    ? any
    : E extends { Records: ReadonlyArray<infer R> }
      ? R
      : E extends { records: { [group: string]: ReadonlyArray<infer R> } }
        ? R
        : unknown;

/** How Lambda names a Kafka record in the response: its `"<topic>-<partition>"` and offset. */
export interface KafkaItemIdentifier {
  partition: string;
  offset: number;
}

/** A record's identifier: SQS `messageId`, Kinesis / DynamoDB sequence number, or a Kafka
 *  record's `{ partition, offset }`. */
export type ItemIdentifier = string | KafkaItemIdentifier;

/** The partial batch response of a Kafka event. */
export interface KafkaBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: KafkaItemIdentifier }>;
}

/** The partial batch response type of an event. */
export type ResponseOf<E> =
  IsAny<E> extends true
    ? BatchResponse
    : E extends SQSEvent
      ? SQSBatchResponse
      : E extends KinesisStreamEvent
        ? KinesisStreamBatchResponse
        : E extends DynamoDBStreamEvent
          ? DynamoDBBatchResponse
          : E extends KafkaEvent
            ? KafkaBatchResponse
            : BatchResponse;

/** Lambda's partial batch response, as lanepool builds it for every source. */
export interface BatchResponse {
  batchItemFailures: Array<{ itemIdentifier: ItemIdentifier }>;
}

/** The identifier type of a response type (`string`; `KafkaItemIdentifier` for Kafka). */
export type IdentifierOf<Response> = Response extends {
  batchItemFailures: Array<{ itemIdentifier: infer I }>;
}
  ? I
  : ItemIdentifier;

/** The second argument of every record handler. */
export interface HandlerContext {
  /** Aborts when the batch's deadline (the context's remaining time less `deadlineMarginMs`)
   *  passes, unless `cancelAtDeadline` is false. Every handler running then ends as
   *  `deadline`, however it settles (its error, if any, is kept on the report). */
  readonly signal: AbortSignal;
}

/** A record handler: throw (or reject) to fail the record. Sync or async. */
export type RecordHandler<R> = (record: R, context: HandlerContext) => unknown;

/** Anything with Lambda's `getRemainingTimeInMillis()`, such as the handler's `Context`. */
export interface RemainingTime {
  getRemainingTimeInMillis(): number;
}

export interface BatchOptions<R = any> {
  /** The Lambda context: its remaining time sets the batch's deadline. Without it (undefined
   *  or null), no deadline; an object without `getRemainingTimeInMillis()`, or one returning
   *  no number (NaN included), is a TypeError; a negative time is already up. */
  context?: RemainingTime | null;
  /** 'auto' (default): lanes by source (SQS FIFO MessageGroupId, Kinesis partitionKey,
   *  DynamoDB Keys, Kafka topic-partition); 'unordered': no lanes; 'key': Kafka lanes by
   *  topic-partition and record `key` (other sources: as 'auto'). */
  ordering?: 'auto' | 'unordered' | 'key';
  /** A custom lane key per record, replacing `ordering`: a string (`''` too) as is, an integer
   *  (a bigint, or a number whose value is an integer within ±(2^53 − 1)) as its decimal
   *  string, undefined or null unkeyed; anything else is an `EventError` (field `group_key`). */
  groupKey?: (record: R) => string | number | bigint | undefined | null;
  /** Retries after a failed attempt (default 0). */
  retries?: number;
  /** Base delay of the jittered retry backoff in milliseconds (default: the core's, 100). */
  retryBackoffMs?: number;
  /** Time kept back before the Lambda deadline: no record starts later (default 500). */
  deadlineMarginMs?: number;
  /** Reject with `BatchFailedError` when no record of a non-empty batch succeeded (default true). */
  throwOnFullBatchFailure?: boolean;
  /** Print the batch summary as one JSON log line on stdout (default false). */
  logSummary?: boolean;
  /** Whether handlers' `signal` aborts at the deadline so that running handlers stop and end as
   *  `deadline` (default true). `false`: the signal does not fire and running handlers are
   *  awaited, ending as they end. Either way nothing starts after the deadline and the call
   *  settles only after every handler it started has settled. */
  cancelAtDeadline?: boolean;
  /** The longest one attempt may run, in milliseconds (more than 0): an attempt whose handler
   *  returned a promise and is still running then has its `signal` aborted (reason: an Error
   *  named 'TimeoutError') and, once it settled, fails with reason `timeout`, retried while
   *  `retries` remain; a record that timed out for good is reported like a failed one and
   *  skips the rest of its lane. A handler that returns no promise is not subject to it.
   *  Default none. */
  attemptTimeoutMs?: number;
  /** Attempts (retries included) start at most this many per second on average, in bursts of
   *  at most `max(1, floor(maxPerSecond))`: a finite number above 0 (at most 1e9). Nothing is
   *  postponed past the deadline. The time it held starts back: `summary.rateWaitMs`.
   *  Default none. */
  maxPerSecond?: number;
}

/** Why a record (or job) is reported. */
export type FailureReason = 'error' | 'skipped' | 'deadline' | 'timeout';

export interface BatchFailure<Id = ItemIdentifier> {
  itemIdentifier: Id;
  /** The record's index in event order (`event.Records`; a Kafka event's records counted
   *  across its groups). */
  index: number;
  reason: FailureReason;
  /** What the handler threw on its last attempt (any value), or undefined (skipped, not started). */
  error: unknown;
  /** Handler calls made for the record. */
  attempts: number;
}

export interface BatchSummary {
  source: 'aws:sqs' | 'aws:kinesis' | 'aws:dynamodb' | 'aws:kafka' | 'SelfManagedKafka' | null;
  records: number;
  succeeded: number;
  failed: number;
  error: number;
  skipped: number;
  deadline: number;
  durationMs: number;
  peakInFlight: number;
  lanes: number;
  retries: number;
  /** Milliseconds records waited for a slot of the pool's `maxInFlight`, added up over records
   *  (from when a record could have started, its lane and the call's `concurrency` allowing,
   *  to its start, or to the deadline if it never started). 0 without `maxInFlight`. */
  slotWaitMs: number;
  /** The longest any one record waited for such a slot, in milliseconds. */
  slotWaitMaxMs: number;
  /** Records (or jobs) whose last attempt ran past `attemptTimeoutMs`. */
  timeout: number;
  /** Milliseconds the start rate (`maxPerSecond`) held starts back. 0 without it. */
  rateWaitMs: number;
}

/** The second argument of a `runJobs` function. */
export interface JobContext {
  /** Aborts at the deadline (as a batch handler's does) or when this attempt runs past
   *  `attemptTimeoutMs` (reason: an Error named 'TimeoutError'). */
  readonly signal: AbortSignal;
  /** The item's index in `items`. */
  readonly index: number;
  /** 1 for the first attempt, 2 for the first retry, ... */
  readonly attempt: number;
}

/** The options of `runJobs`: the batch options that apply to jobs, `concurrency` and `key`. */
export interface JobOptions<T = any>
  extends Pick<
    BatchOptions<T>,
    'context' | 'retries' | 'retryBackoffMs' | 'deadlineMarginMs' | 'cancelAtDeadline' | 'attemptTimeoutMs' | 'maxPerSecond'
  > {
  /** Most jobs in flight at once (default: the pool's `concurrency`). */
  concurrency?: number;
  /** One lane per key: jobs of one key run one at a time, in item order, and a job that fails
   *  for good skips the rest of its key; keys run in parallel. A string as is, an integer (a
   *  bigint, or an integral number) as its decimal string, undefined or null: no lane;
   *  anything else is an `EventError` naming the item's index (field `group_key`). Without
   *  `key`, no lanes. */
  key?: (item: T) => string | number | bigint | undefined | null;
}

/** A job that did not succeed. */
export interface JobFailure<T = unknown> {
  /** The item's index in `items`. */
  index: number;
  item: T;
  reason: FailureReason;
  /** What the last attempt threw (for `timeout`: its rejection, or the TimeoutError), or
   *  undefined (skipped, not started). */
  error: unknown;
  /** Calls made for the job. */
  attempts: number;
}

/** What `runJobs` resolves to. */
export interface JobReport<T = unknown, U = unknown> {
  /** One entry per item: the value of its successful attempt, or undefined where it did not
   *  succeed. */
  results: (U | undefined)[];
  /** Every job that did not succeed, in item order. */
  failures: JobFailure<T>[];
  summary: BatchSummary;
  /** Whether every job succeeded (an empty list too). */
  ok: boolean;
}

export interface BatchReport<Response = BatchResponse> {
  /** Lambda's partial batch response. */
  response: Response;
  /** Identifiers of the records that succeeded, in event order. */
  succeeded: IdentifierOf<Response>[];
  /** Every reported record, in event order. */
  failures: BatchFailure<IdentifierOf<Response>>[];
  summary: BatchSummary;
}

export interface PoolOptions {
  /** Most handlers (or scope/map tasks) in flight at once in one call; default 16. An integer
   *  from 1 to `MAX_CONCURRENCY`. */
  concurrency?: number;
  /** Most batch handlers in flight at once across every `process` / `runBatch` / `runJobs` call of the pool
   *  (concurrent invocations sharing it); a positive integer, default none. Free slots go to the
   *  waiting calls in turn; waiting for a slot is not an attempt (`summary.slotWaitMs`). Scope
   *  and map tasks are not counted. */
  maxInFlight?: number;
}

/** What `scope` hands its body. */
export interface Scope {
  /** Starts `task` when a slot is free; the promise is the task's (the scope also reports its error). */
  spawn<T>(task: (scope: Scope) => T | PromiseLike<T>): Promise<Awaited<T>>;
}

/** Handlers in flight at once when `new Pool()` is given no `concurrency` (the core's: 16). */
export declare const DEFAULT_CONCURRENCY: number;
/** Milliseconds kept back before the Lambda deadline when `deadlineMarginMs` is not given (the core's: 500). */
export declare const DEFAULT_DEADLINE_MARGIN_MS: number;
/** Base of the jittered retry backoff in milliseconds when `retryBackoffMs` is not given (the core's: 100). */
export declare const DEFAULT_RETRY_BACKOFF_MS: number;

/** The most handlers in flight a `Pool` may be given (the core's `MAX_CONCURRENCY`: 1,000,000). */
export declare const MAX_CONCURRENCY: number;
/** This package's version (package.json's, the same as the Rust crates'). */
export declare const version: string;

export declare class Pool {
  constructor(options?: PoolOptions);
  /** Most handlers or tasks in flight at once in one call. */
  readonly concurrency: number;
  /** Most batch handlers in flight at once across all calls of the pool; null: no such limit. */
  readonly maxInFlight: number | null;
  /** Processes a Lambda batch; resolves to the partial batch response. */
  process<E extends BatchEvent = BatchEvent>(
    event: E,
    handler: RecordHandler<RecordOf<E>>,
    options?: BatchOptions<RecordOf<E>>,
  ): Promise<ResponseOf<E>>;
  /** Like `process`, resolving to the whole report. */
  runBatch<E extends BatchEvent = BatchEvent>(
    event: E,
    handler: RecordHandler<RecordOf<E>>,
    options?: BatchOptions<RecordOf<E>>,
  ): Promise<BatchReport<ResponseOf<E>>>;
  /** Runs `fn` once per item (a job) on the batch scheduler: `concurrency`, `retries`, the
   *  deadline, `attemptTimeoutMs`, `maxPerSecond`, lanes by `key`. Never rejects because jobs
   *  failed (`ok: false`); only for bad options or an invalid key, before any job runs. */
  runJobs<T, U>(
    items: Iterable<T>,
    fn: (item: T, context: JobContext) => U | PromiseLike<U>,
    options?: JobOptions<T>,
  ): Promise<JobReport<T, Awaited<U>>>;
  /** Settles after the body and every spawned task settled; AggregateError of every error. */
  scope<T>(body: (scope: Scope) => T | PromiseLike<T>): Promise<Awaited<T>>;
  /** Results in input order; AggregateError (input order) of every error after all settled. */
  map<T, U>(items: Iterable<T>, fn: (item: T, index: number) => U | PromiseLike<U>): Promise<Awaited<U>[]>;
}

/** A malformed event, before any handler ran. */
export declare class EventError extends TypeError {
  constructor(message: string, index?: number | null, field?: string | null, group?: string | null);
  /** The record's index in event order (`Records`; a Kafka event's records counted across its
   *  groups), or null for an event-level problem. */
  readonly index: number | null;
  /** The field's dotted path relative to the record (or `Records` / `records`), or null;
   *  `group_key` for an invalid custom key. */
  readonly field: string | null;
  /** The Kafka `records` group (`"<topic>-<partition>"`) the problem is in, or null. */
  readonly group: string | null;
}

/** No record of a non-empty batch succeeded (with `throwOnFullBatchFailure`, the default).
 *  The message is the core's (records by reason; for deadline records the remaining time at
 *  the start and the margin); `cause` is the first failed record's error, in event order. */
export declare class BatchFailedError extends Error {
  constructor(message: string, report: BatchReport, options?: { cause?: unknown });
  readonly report: BatchReport;
}
