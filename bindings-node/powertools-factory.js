'use strict';
// The logic of `lanepool/powertools`, written once. `makeParallelBatchProcessor(batch)` builds
// ParallelBatchProcessor and its errors over one build of Powertools' batch utility: the
// CommonJS build for powertools.js (require), the ES module build for powertools.mjs (import).
// Powertools v2 ships both, and their classes differ: a processor must extend the
// `BatchProcessor` of the build its caller's `processPartialResponse` comes from.
//
// How: `process()` (what processPartialResponse awaits) runs `pool.runBatch` over the raw
// records; lanepool's handler is Powertools' own `processRecord` (parser, data class, the record
// handler with `options.context`, successHandler/failureHandler), and a record Powertools
// reports as failed is thrown back to lanepool, which then skips the rest of its lane or retries
// it. The record handler gets lanepool's `{ signal }` as a third argument (Powertools passes two:
// the record and `options.context`). After the batch, the processor's lists are rebuilt in event
// order from the last attempt of every record (skipped records and records that met the deadline
// go through `failureHandler` with SkippedRecordError / DeadlineRecordError) and Powertools'
// `clean()` builds the response or throws FullBatchFailureError.
//
// This module loads neither build of Powertools: its callers hand theirs in. Its Pool is the
// package's own export (the bundle, lanepool.cjs, by the package's name), so a pool made with
// `require('lanepool')` and this module's default pool are of one class.

const { Pool } = require('lanepool');
const { format: describe } = require('./lib/format.js');
const { BATCH_OPTIONS, checkSchedulingOptions } = require('./lib/options.js');

/** Thrown to lanepool for a record Powertools' `processRecord` reported as failed. */
class RecordFailed {
  /** @param {any} entry Powertools' failure entry (`['fail', message, record]`) */
  constructor(entry) {
    this.entry = entry;
  }
}

/** Powertools' failure entry -> the error its failureHandler got (entries are fresh arrays). */
/** @type {WeakMap<object, unknown>} */
const ERROR_OF = new WeakMap();

/**
 * `x instanceof C`, false when asking throws (a Proxy whose getPrototypeOf trap throws).
 * @param {unknown} x
 * @param {Function} C
 * @returns {boolean}
 */
function isInstance(x, C) {
  try {
    return x instanceof C;
  } catch {
    return false;
  }
}

/**
 * Lambda's InvokeStore when Powertools keeps its per-invocation state there (concurrent
 * invocations in one process, AWS_LAMBDA_MAX_CONCURRENCY set), else undefined: then state lives
 * on the processor, as Powertools' own does.
 * @returns {{ get(key: symbol): any, set(key: symbol, value: unknown): void } | undefined}
 */
function invokeStore() {
  const v = process.env.AWS_LAMBDA_MAX_CONCURRENCY;
  return v === undefined || v === '' ? undefined : /** @type {any} */ (globalThis).awslambda?.InvokeStore;
}

/** @type {Pool | null} */
let defaultPoolInstance = null;

/**
 * The pool of processors created without `pool`: one per process (shared by the CommonJS and
 * ES module faces), `new Pool()`, made on first use.
 *
 * @example
 * const assert = require('node:assert');
 * const { Pool } = require('lanepool');
 * const { defaultPool } = require('lanepool/powertools');
 * assert.ok(defaultPool() instanceof Pool);
 * assert.equal(defaultPool(), defaultPool());
 *
 * @returns {Pool}
 */
function defaultPool() {
  return (defaultPoolInstance ??= new Pool());
}

/** The processor's own options: lanepool's batch options less those Powertools' call owns. */
const LANEPOOL_OPTIONS = [
  'pool',
  ...BATCH_OPTIONS.filter((key) => key !== 'context' && key !== 'throwOnFullBatchFailure'),
];

/** @param {Record<string, any>} o */
function checkOptions(o) {
  if (o.pool != null && (typeof o.pool !== 'object' || typeof o.pool.runBatch !== 'function')) {
    throw new TypeError('lanepool/powertools: pool must be a lanepool Pool');
  }
  checkSchedulingOptions(o, 'lanepool/powertools');
}

/**
 * Whether `eventType` asks for Kafka (`'Kafka'`, `'aws:kafka'`, `'SelfManagedKafka'`, `'MSK'`...):
 * Powertools' batch utility (v2) has no Kafka event type, and this processor hands Powertools'
 * records to lanepool as `{ Records }`, which a Kafka batch is not.
 * @param {unknown} eventType
 * @returns {boolean}
 */
function isKafkaEventType(eventType) {
  return typeof eventType === 'string' && /kafka|msk/i.test(eventType);
}

const DEADLINE_NOT_STARTED = 'The invocation deadline passed before this record was started';
const DEADLINE_STARTED = 'The invocation deadline passed before this record was processed';

/**
 * Builds `{ ParallelBatchProcessor, SkippedRecordError, DeadlineRecordError }` over `batch`, one
 * build of `@aws-lambda-powertools/batch` (its module namespace or exports object).
 * @param {any} batch
 */
function makeParallelBatchProcessor(batch) {
  const { BatchProcessor, BatchProcessingError } = batch;
  if (typeof BatchProcessor !== 'function' || typeof BatchProcessingError !== 'function') {
    throw new TypeError("lanepool/powertools: expected @aws-lambda-powertools/batch's exports");
  }
  const GroupShortCircuitError = batch.SqsFifoMessageGroupShortCircuitError ?? BatchProcessingError;

  /**
   * A record not processed because an earlier record of its lane failed: a subclass of
   * Powertools' `SqsFifoMessageGroupShortCircuitError` (what `SqsFifoPartialProcessorAsync` with
   * `skipGroupOnError` reports for the same records), for every source.
   *
   * @example
   * const assert = require('node:assert');
   * const { EventType, processPartialResponse } = require('@aws-lambda-powertools/batch');
   * const { ParallelBatchProcessor, SkippedRecordError } = require('lanepool/powertools');
   * const fifo = (id, group) => ({
   *   eventSource: 'aws:sqs', messageId: id, body: id, attributes: { MessageGroupId: group },
   * });
   * const event = { Records: [fifo('1', 'g'), fifo('2', 'g'), fifo('3', 'other')] };
   * const processor = new ParallelBatchProcessor(EventType.SQS);
   * await processPartialResponse(event, async (record) => {
   *   if (record.messageId === '1') throw new Error('down');
   * }, processor);
   * assert.ok(processor.errors[1] instanceof SkippedRecordError); // '2' waited behind '1'
   * assert.equal(processor.errors[1].itemIdentifier, '2');
   */
  class SkippedRecordError extends GroupShortCircuitError {
    /**
     * @param {string} [message]
     * @param {string | null} [itemIdentifier]
     * @param {number | null} [index]
     */
    constructor(message = 'A previous record from this lane failed processing', itemIdentifier = null, index = null) {
      super();
      this.message = message;
      this.name = 'SkippedRecordError';
      this.itemIdentifier = itemIdentifier;
      this.index = index;
    }
  }

  /**
   * A record that met the invocation's deadline (less `deadlineMarginMs`): not started in time,
   * or running when lanepool's signal fired (then `cause` is what its handler threw, if anything).
   *
   * @example
   * const assert = require('node:assert');
   * const { setTimeout: sleep } = require('node:timers/promises');
   * const { EventType, processPartialResponse } = require('@aws-lambda-powertools/batch');
   * const { Pool } = require('lanepool');
   * const { ParallelBatchProcessor, DeadlineRecordError } = require('lanepool/powertools');
   * const event = {
   *   Records: ['slow', 'late'].map((id) => ({ eventSource: 'aws:sqs', messageId: id, body: id })),
   * };
   * const processor = new ParallelBatchProcessor(EventType.SQS, {
   *   pool: new Pool({ concurrency: 1 }), deadlineMarginMs: 0, cancelAtDeadline: false,
   * });
   * const context = { getRemainingTimeInMillis: () => 30 }; // 30 ms left
   * const response = await processPartialResponse(event, async (record) => {
   *   if (record.body === 'slow') await sleep(80);
   * }, processor, { context });
   * assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: 'late' }] });
   * assert.ok(processor.errors[0] instanceof DeadlineRecordError); // never started
   */
  class DeadlineRecordError extends BatchProcessingError {
    /**
     * @param {string} [message]
     * @param {string | null} [itemIdentifier]
     * @param {number | null} [index]
     */
    constructor(message = DEADLINE_NOT_STARTED, itemIdentifier = null, index = null) {
      super(message);
      this.name = 'DeadlineRecordError';
      this.itemIdentifier = itemIdentifier;
      this.index = index;
    }
  }

  /**
   * The error Powertools' failureHandler got for a failure entry.
   * @param {any} entry
   * @returns {unknown}
   */
  function errorOf(entry) {
    return ERROR_OF.has(entry) ? ERROR_OF.get(entry) : new BatchProcessingError(describe(entry?.[1]));
  }

  /**
   * Powertools' `BatchProcessor`, with the records scheduled by lanepool: lanes (SQS FIFO message
   * group, Kinesis partition key, DynamoDB keys, or `groupKey`) in event order, lanes in parallel,
   * at most `pool.concurrency` records in flight, the rest of a failed lane skipped, retries, and
   * no record started after the context's deadline less `deadlineMarginMs`.
   *
   * @example
   * const assert = require('node:assert');
   * const { EventType, BatchProcessor, processPartialResponse } = require('@aws-lambda-powertools/batch');
   * const { Pool } = require('lanepool');
   * const { ParallelBatchProcessor } = require('lanepool/powertools');
   * const processor = new ParallelBatchProcessor(EventType.SQS, { pool: new Pool({ concurrency: 4 }) });
   * assert.ok(processor instanceof BatchProcessor);
   * const event = {
   *   Records: ['ok', 'bad'].map((body, i) => ({ eventSource: 'aws:sqs', messageId: `m${i}`, body })),
   * };
   * const response = await processPartialResponse(event, async (record, context, { signal }) => {
   *   if (record.body === 'bad') throw new Error('bad record');
   * }, processor);
   * assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: 'm1' }] });
   */
  class ParallelBatchProcessor extends BatchProcessor {
    #pool;
    #runOptions;
    #report = null;
    #reportKey = Symbol('lanepool.powertools.report');
    #runningKey = Symbol('lanepool.powertools.running');
    /**
     * While a batch runs with Powertools' state on the processor (not in the InvokeStore): the
     * record handler (wrapped to get lanepool's `{ signal }`) and options, read once instead of
     * through Powertools' store (an environment lookup each) on every record. In InvokeStore
     * mode the same lives in the store under #runningKey.
     */
    /** @type {{ handler: unknown, options: any } | null} */
    #running = null;

    /**
     * @param {string} eventType Powertools' `EventType.SQS`, `.KinesisDataStreams` or `.DynamoDBStreams`.
     * @param {Record<string, any>} [options] lanepool's `pool`, `ordering`, `groupKey`, `retries`, `retryBackoffMs`,
     *   `deadlineMarginMs`, `logSummary`, `cancelAtDeadline`; everything else is Powertools'
     *   parser configuration (`parser`, `schema` or `innerSchema` + `transformer`, `logger`).
     */
    constructor(eventType, options = {}) {
      if (isKafkaEventType(eventType)) {
        throw new TypeError(
          `lanepool/powertools: ParallelBatchProcessor supports SQS, Kinesis and DynamoDB events, not Kafka (${describe(eventType)}): ` +
            "Powertools' batch utility has no Kafka event type; process Kafka batches with pool.process or pool.runBatch",
        );
      }
      if (options === null || typeof options !== 'object') {
        throw new TypeError('lanepool/powertools: options must be an object');
      }
      /** @type {Record<string, unknown>} */
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
      /** @type {Record<string, unknown>} */
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

    /** The running batch's state, or null. */
    #current() {
      if (this.#running !== null) return this.#running;
      const store = invokeStore();
      return store === undefined ? null : (store.get(this.#runningKey) ?? null);
    }

    /**
     * The registered record handler; while a batch runs, wrapped so that it also gets lanepool's
     * `{ signal }` as its third argument.
     */
    get handler() {
      const running = this.#current();
      return running !== null ? running.handler : super.handler;
    }

    set handler(handler) {
      super.handler = handler;
    }

    get options() {
      const running = this.#current();
      return running !== null ? running.options : super.options;
    }

    set options(options) {
      super.options = options;
    }

    /**
     * Powertools' failureHandler; keeps the error of the entry it returns.
     * @param {unknown} record
     * @param {unknown} error
     * @returns {any}
     */
    failureHandler(record, error) {
      const entry = super.failureHandler(record, error);
      if (entry !== null && typeof entry === 'object') ERROR_OF.set(entry, error);
      return entry;
    }

    /**
     * `failureHandler(record, error)`; if that throws (Powertools reads `error.message`, which a
     * hostile value can make throw), again with a BatchProcessingError describing `error`.
     * @param {unknown} record
     * @param {unknown} error
     * @returns {any}
     */
    #fail(record, error) {
      try {
        return this.failureHandler(record, error);
      } catch {
        const e = new BatchProcessingError(`record failed: ${describe(error)}`);
        e.cause = error;
        return this.failureHandler(record, e);
      }
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
        // lanepool's handler context ({ signal }): one frozen object per batch.
        /** @type {{ readonly signal: AbortSignal } | undefined} */
        let lanepoolContext;
        const recordHandler = this.handler;
        const handler =
          typeof recordHandler === 'function'
            ? /**
               * @this {unknown}
               * @param {unknown} data
               * @param {unknown} context
               */
              function (data, context) {
                return Reflect.apply(recordHandler, this, [data, context, lanepoolContext]);
              }
            : recordHandler;
        // entry[2] is the record processRecord was given (Powertools' successHandler puts it there).
        /** @param {any} entry */
        const onEntry = (entry) => {
          if (entry !== undefined && entry !== null && entry[0] === 'fail') throw new RecordFailed(entry);
          successes.set(entry[2], entry);
        };
        const run = this.#runOptions;
        const options = this.options;
        const context = options?.context;
        const running = { handler, options };
        if (store === undefined) this.#running = running;
        else store.set(this.#runningKey, running);
        report = await this.pool.runBatch(
          { Records: records },
          /**
           * @param {unknown} record
           * @param {{ readonly signal: AbortSignal }} lp
           */
          (record, lp) => {
            lanepoolContext = lp;
            return this.processRecord(record).then(onEntry);
          },
          context == null ? run : { ...run, context },
        );
      } finally {
        if (store === undefined) this.#running = null;
        else store.set(this.#runningKey, null);
      }
      if (store === undefined) this.#report = report;
      else store.set(this.#reportKey, report);

      // The lists, rebuilt in event order from every record's last attempt.
      const failures = report.failures;
      /** @type {unknown[]} */
      this.successMessages = [];
      /** @type {unknown[]} */
      this.failureMessages = [];
      /** @type {unknown[]} */
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
          let error;
          if (failure.reason === 'deadline') {
            // Not started in time, or running when the signal fired (however it then settled):
            // a redelivered record is safer than a lost one. What it threw, if anything, is the cause.
            error = new DeadlineRecordError(
              failure.attempts > 0 ? DEADLINE_STARTED : DEADLINE_NOT_STARTED,
              failure.itemIdentifier,
              i,
            );
            if (thrown !== undefined) error.cause = isInstance(thrown, RecordFailed) ? errorOf(thrown.entry) : thrown;
          } else if (isInstance(thrown, RecordFailed)) {
            const entry = thrown.entry;
            error = errorOf(entry);
            failure.error = error; // the report names what Powertools got, not the wrapper
            failureMessages.push(record);
            errors.push(error);
            processed[i] = entry;
            continue;
          } else if (failure.reason === 'skipped') {
            error = new SkippedRecordError(undefined, failure.itemIdentifier, i);
          } else {
            // processRecord itself rejected (Powertools' own code threw): a failure of the record.
            error = isInstance(thrown, Error) ? thrown : new BatchProcessingError(`record failed: ${describe(thrown)}`);
            if (error !== thrown) error.cause = thrown;
          }
          failure.error = error;
          processed[i] = this.#fail(record, error);
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

  return { ParallelBatchProcessor, SkippedRecordError, DeadlineRecordError };
}

module.exports = { makeParallelBatchProcessor, defaultPool };
