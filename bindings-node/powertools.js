'use strict';
// lanepool/powertools: Powertools for AWS Lambda's batch utility (`@aws-lambda-powertools/batch`,
// an optional peer dependency) with the records scheduled by lanepool.
//
//   const { BatchProcessor, EventType, processPartialResponse } = require('@aws-lambda-powertools/batch');
//   const { ParallelBatchProcessor } = require('lanepool/powertools');
//   const processor = new ParallelBatchProcessor(EventType.SQS, { pool });   // was: new BatchProcessor(EventType.SQS)
//   exports.handler = (event, context) => processPartialResponse(event, recordHandler, processor, { context });
//
// How: `process()` (what processPartialResponse awaits) runs `pool.runBatch` over the raw
// records; lanepool's handler is Powertools' own `processRecord` (parser, data class, the record
// handler with `options.context`, successHandler/failureHandler), and a record Powertools
// reports as failed is thrown back to lanepool, which then skips the rest of its lane or retries
// it. After the batch, the processor's lists are rebuilt in event order from the last attempt of
// every record (skipped and not-started records go through `failureHandler` with
// SkippedRecordError / DeadlineRecordError) and Powertools' `clean()` builds the response or
// throws FullBatchFailureError.
//
// Loading `lanepool` never loads this file, nor Powertools.

let batch;
try {
  batch = require('@aws-lambda-powertools/batch');
} catch (error) {
  if (error && error.code === 'MODULE_NOT_FOUND' && /@aws-lambda-powertools\/batch/.test(String(error.message))) {
    const e = new Error(
      "lanepool/powertools needs Powertools' batch utility: npm install @aws-lambda-powertools/batch",
    );
    e.code = 'MODULE_NOT_FOUND';
    e.cause = error;
    throw e;
  }
  throw error;
}

const { Pool } = require('./index.js');

const { BatchProcessor, BatchProcessingError } = batch;
const GroupShortCircuitError = batch.SqsFifoMessageGroupShortCircuitError ?? BatchProcessingError;

/**
 * A record not processed because an earlier record of its lane failed: a subclass of
 * Powertools' `SqsFifoMessageGroupShortCircuitError` (what `SqsFifoPartialProcessorAsync` with
 * `skipGroupOnError` reports for the same records), for every source.
 */
class SkippedRecordError extends GroupShortCircuitError {
  constructor(message = 'A previous record from this lane failed processing', itemIdentifier = null, index = null) {
    super();
    this.message = message;
    this.name = 'SkippedRecordError';
    this.itemIdentifier = itemIdentifier;
    this.index = index;
  }
}

/** A record not started because the invocation's deadline (less `deadlineMarginMs`) came first. */
class DeadlineRecordError extends BatchProcessingError {
  constructor(
    message = 'The invocation deadline passed before this record was started',
    itemIdentifier = null,
    index = null,
  ) {
    super(message);
    this.name = 'DeadlineRecordError';
    this.itemIdentifier = itemIdentifier;
    this.index = index;
  }
}

/** Thrown to lanepool for a record Powertools' `processRecord` reported as failed. */
class RecordFailed {
  constructor(entry) {
    this.entry = entry;
  }
}

/** Powertools' failure entry -> the error its failureHandler got (entries are fresh arrays). */
const ERROR_OF = new WeakMap();

/**
 * Lambda's InvokeStore when Powertools keeps its per-invocation state there (concurrent
 * invocations in one process, AWS_LAMBDA_MAX_CONCURRENCY set), else undefined: then state lives
 * on the processor, as Powertools' own does.
 */
function invokeStore() {
  const v = process.env.AWS_LAMBDA_MAX_CONCURRENCY;
  return v === undefined || v === '' ? undefined : globalThis.awslambda?.InvokeStore;
}

let defaultPoolInstance = null;

/** The pool of processors created without `pool`: one per process, `new Pool()`, made on first use. */
function defaultPool() {
  return (defaultPoolInstance ??= new Pool());
}

const LANEPOOL_OPTIONS = ['pool', 'ordering', 'groupKey', 'retries', 'retryBackoffMs', 'deadlineMarginMs', 'logSummary'];

function checkOptions(o) {
  if (o.pool != null && (typeof o.pool !== 'object' || typeof o.pool.runBatch !== 'function')) {
    throw new TypeError('lanepool/powertools: pool must be a lanepool Pool');
  }
  if (o.ordering !== undefined && o.ordering !== 'auto' && o.ordering !== 'unordered') {
    throw new TypeError(`lanepool/powertools: ordering must be 'auto' or 'unordered', got ${String(o.ordering)}`);
  }
  if (o.groupKey != null && typeof o.groupKey !== 'function') {
    throw new TypeError('lanepool/powertools: groupKey must be a function');
  }
  if (o.retries !== undefined && !(Number.isSafeInteger(o.retries) && o.retries >= 0)) {
    throw new RangeError(`lanepool/powertools: retries must be an integer >= 0, got ${String(o.retries)}`);
  }
  for (const k of ['retryBackoffMs', 'deadlineMarginMs']) {
    const v = o[k];
    if (v !== undefined && !(typeof v === 'number' && v >= 0 && v !== Infinity)) {
      throw new RangeError(`lanepool/powertools: ${k} must be a finite number >= 0, got ${String(v)}`);
    }
  }
}

/**
 * Powertools' `BatchProcessor`, with the records scheduled by lanepool: lanes (SQS FIFO message
 * group, Kinesis partition key, DynamoDB keys, or `groupKey`) in event order, lanes in parallel,
 * at most `pool.concurrency` records in flight, the rest of a failed lane skipped, retries, and
 * no record started after the context's deadline less `deadlineMarginMs`.
 */
class ParallelBatchProcessor extends BatchProcessor {
  #pool;
  #runOptions;
  #report = null;
  #reportKey = Symbol('lanepool.powertools.report');
  /**
   * While a batch runs with Powertools' state on the processor (not in the InvokeStore): the
   * registered handler and options, read once instead of through Powertools' store (an
   * environment lookup each) on every record.
   */
  #running = null;

  /**
   * @param eventType Powertools' `EventType.SQS`, `.KinesisDataStreams` or `.DynamoDBStreams`.
   * @param options lanepool's `pool`, `ordering`, `groupKey`, `retries`, `retryBackoffMs`,
   *   `deadlineMarginMs`, `logSummary`; everything else is Powertools' parser configuration
   *   (`parser`, `schema` or `innerSchema` + `transformer`, `logger`).
   */
  constructor(eventType, options = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('lanepool/powertools: options must be an object');
    }
    const parserConfig = {};
    let hasParserConfig = false;
    for (const key of Object.keys(options)) {
      if (!LANEPOOL_OPTIONS.includes(key)) {
        parserConfig[key] = options[key];
        hasParserConfig = true;
      }
    }
    super(eventType, hasParserConfig ? parserConfig : undefined);
    checkOptions(options);
    this.#pool = options.pool ?? null;
    const run = { throwOnFullBatchFailure: false };
    for (const key of LANEPOOL_OPTIONS) {
      if (key !== 'pool' && options[key] !== undefined) run[key] = options[key];
    }
    this.#runOptions = run;
  }

  /** The lanepool Pool that runs the records (the process's default pool when none was given). */
  get pool() {
    return (this.#pool ??= defaultPool());
  }

  /** lanepool's report of this invocation's last batch (`failures` with reasons, `summary`), or null. */
  get report() {
    const store = invokeStore();
    return store === undefined ? this.#report : (store.get(this.#reportKey) ?? null);
  }

  get handler() {
    return this.#running !== null ? this.#running.handler : super.handler;
  }

  set handler(handler) {
    super.handler = handler;
  }

  get options() {
    return this.#running !== null ? this.#running.options : super.options;
  }

  set options(options) {
    super.options = options;
  }

  /** Powertools' failureHandler; keeps the error of the entry it returns. */
  failureHandler(record, error) {
    const entry = super.failureHandler(record, error);
    if (entry !== null && typeof entry === 'object') ERROR_OF.set(entry, error);
    return entry;
  }

  /**
   * Processes the registered records with lanepool's scheduling; resolves to Powertools' result
   * entries (`['success', result, record]` / `['fail', message, record]`) in event order.
   */
  async process() {
    this.prepare();
    const records = this.records;
    const n = records.length;
    const successes = new Map(); // record -> its success entry
    const store = invokeStore();
    if (store === undefined) this.#report = null;
    else store.set(this.#reportKey, null);
    let report;
    try {
      // entry[2] is the record processRecord was given (Powertools' successHandler puts it there).
      const onEntry = (entry) => {
        if (entry !== undefined && entry !== null && entry[0] === 'fail') throw new RecordFailed(entry);
        successes.set(entry[2], entry);
      };
      const handler = (record) => this.processRecord(record).then(onEntry);
      const run = this.#runOptions;
      const options = this.options;
      const context = options?.context;
      if (store === undefined) this.#running = { handler: this.handler, options };
      report = await this.pool.runBatch({ Records: records }, handler, context == null ? run : { ...run, context });
    } finally {
      this.#running = null;
    }
    if (store === undefined) this.#report = report;
    else store.set(this.#reportKey, report);

    // The lists, rebuilt in event order from every record's last attempt.
    const failures = report.failures;
    this.successMessages = [];
    this.failureMessages = [];
    this.errors = [];
    const successMessages = this.successMessages;
    const failureMessages = this.failureMessages;
    const errors = this.errors;
    const processed = new Array(n);
    let f = 0;
    for (let i = 0; i < n; i++) {
      const record = records[i];
      if (f < failures.length && failures[f].index === i) {
        const failure = failures[f++];
        const thrown = failure.error;
        if (thrown instanceof RecordFailed) {
          const entry = thrown.entry;
          const error = ERROR_OF.has(entry) ? ERROR_OF.get(entry) : new BatchProcessingError(String(entry[1]));
          failure.error = error; // the report names what Powertools got, not the wrapper
          failureMessages.push(record);
          errors.push(error);
          processed[i] = entry;
        } else {
          let error;
          if (failure.reason === 'skipped') error = new SkippedRecordError(undefined, failure.itemIdentifier, i);
          else if (failure.reason === 'deadline' && thrown === undefined) {
            error = new DeadlineRecordError(undefined, failure.itemIdentifier, i);
          } else {
            // processRecord itself rejected (Powertools' own code threw): a failure of the record.
            error = thrown instanceof Error ? thrown : new BatchProcessingError(`record failed: ${String(thrown)}`);
          }
          failure.error = error;
          processed[i] = this.failureHandler(record, error);
        }
      } else {
        successMessages.push(record);
        processed[i] = successes.get(record);
      }
    }
    this.clean();
    return processed;
  }

  /** Not available: lanepool's processor is async (use processPartialResponse). */
  processSync() {
    throw new BatchProcessingError(
      'ParallelBatchProcessor is asynchronous: use processPartialResponse (not processPartialResponseSync)',
    );
  }
}

module.exports = { ParallelBatchProcessor, SkippedRecordError, DeadlineRecordError, defaultPool };
