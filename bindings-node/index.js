'use strict';
// lanepool for Node: Lambda batch processing (SQS, SQS FIFO, Kinesis, DynamoDB streams, Kafka) with
// per-lane ordering, bounded concurrency, deadline and partial batch responses; scopes; maps.
//
// The rules (decoding, lanes, skips, retries, deadline, outcomes, the all-failed rule, the
// report) are the Rust core's, reached through synchronous N-API calls on the calling thread
// (the main thread, or a worker thread: the addon is loaded per thread, a pool is its thread's).
// JavaScript only drives: lib/driver.js starts handlers on the event loop when the core says
// `run`, tells the core when they settle, and sets a timer when the core says `wait`. Nothing
// native keeps the event loop alive: every promise settles by itself.
//
//   lib/errors.js   EventError, BatchFailedError     lib/options.js  the batch options
//   lib/decode.js   the event into the core's plan   lib/group-key.js  custom lane keys
//   lib/driver.js   one batch's driver loop          lib/scope.js, lib/map.js  scope and map

const native = require('./binding.js');
const { EventError, BatchFailedError } = require('./lib/errors.js');
const { checkConcurrency } = require('./lib/options.js');
/**
 * This package's version: package.json's, the one version source (the Rust crates share it).
 *
 * @example
 * const assert = require('node:assert');
 * const { version } = require('lanepool');
 * assert.equal(version, require('lanepool/package.json').version);
 */
const { version } = require('./package.json');
const { runBatch, Limiter } = require('./lib/driver.js');
const { format } = require('./lib/format.js');

const defaults = native.defaults();

/** Handlers in flight at once when `new Pool()` is given no `concurrency` (the core's, 16). */
const DEFAULT_CONCURRENCY = defaults.concurrency;
/** Milliseconds kept back before the Lambda deadline when `deadlineMarginMs` is not given. */
const DEFAULT_DEADLINE_MARGIN_MS = defaults.deadlineMarginMs;
/** Base of the jittered retry backoff in milliseconds when `retryBackoffMs` is not given. */
const DEFAULT_RETRY_BACKOFF_MS = defaults.retryBackoffMs;
/**
 * The most handlers in flight a `Pool` may be given (the core's `MAX_CONCURRENCY`).
 *
 * @example
 * const assert = require('node:assert');
 * const { Pool, MAX_CONCURRENCY } = require('lanepool');
 * assert.equal(new Pool({ concurrency: MAX_CONCURRENCY }).concurrency, MAX_CONCURRENCY);
 * assert.throws(() => new Pool({ concurrency: MAX_CONCURRENCY + 1 }), RangeError);
 */
const MAX_CONCURRENCY = native.MAX_CONCURRENCY;

/** The largest `maxInFlight` (the native limit counts slots in 32 bits). */
const MAX_IN_FLIGHT_LIMIT = 0xffffffff;

/**
 * `maxInFlight`, if it is a positive integer; else a TypeError (not a number) or RangeError.
 * @param {unknown} value
 * @returns {number}
 */
function checkMaxInFlight(value) {
  const what = `lanepool: maxInFlight must be a positive integer (at most ${MAX_IN_FLIGHT_LIMIT})`;
  if (typeof value !== 'number') throw new TypeError(`${what}, got ${format(value)}`);
  if (!Number.isInteger(value) || value < 1 || value > MAX_IN_FLIGHT_LIMIT) {
    throw new RangeError(`${what}, got ${format(value)}`);
  }
  return value;
}

/**
 * A worker pool for the event loop: Lambda batches, scopes and maps with a concurrency limit.
 *
 * @example
 * const assert = require('node:assert');
 * const { Pool } = require('lanepool');
 * const pool = new Pool({ concurrency: 4 });
 * const event = {
 *   Records: ['a', 'b', 'c'].map((id) => ({ eventSource: 'aws:sqs', messageId: id, body: id })),
 * };
 * const response = await pool.process(event, async (record) => {
 *   if (record.body === 'b') throw new Error('bad record');
 * });
 * assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: 'b' }] });
 */
class Pool {
  #concurrency;
  /** @type {Limiter | null} */
  #limiter = null;

  /**
   * @param {{ concurrency?: number, maxInFlight?: number }} [options] `concurrency`: most
   *   handlers (or scope/map tasks) in flight at once in one call, an integer from 1 to
   *   `MAX_CONCURRENCY`; default `DEFAULT_CONCURRENCY` (16), suited to I/O-bound handlers;
   *   anything else is a RangeError naming what it got (`concurrency must be an integer, got
   *   string '4'`). `maxInFlight`: most batch handlers in flight at once across every
   *   `process` / `runBatch` / `runJobs` call of this pool (free slots go to the waiting calls in turn);
   *   default none.
   *
   * @example
   * const assert = require('node:assert');
   * const { Pool } = require('lanepool');
   * // at load time: up to 4 handlers per invocation, 6 across all concurrent invocations
   * const pool = new Pool({ concurrency: 4, maxInFlight: 6 });
   * assert.equal(pool.maxInFlight, 6);
   * let inFlight = 0;
   * let peak = 0;
   * const handler = async () => {
   *   peak = Math.max(peak, ++inFlight);
   *   await new Promise((resolve) => setTimeout(resolve, 2));
   *   inFlight--;
   * };
   * const event = (call) => ({
   *   Records: [0, 1, 2, 3, 4].map((i) => ({ eventSource: 'aws:sqs', messageId: `${call}-${i}`, body: '' })),
   * });
   * const reports = await Promise.all([1, 2, 3].map((call) => pool.runBatch(event(call), handler)));
   * assert.ok(peak <= 6);
   * assert.ok(reports.every((r) => r.succeeded.length === 5 && r.summary.slotWaitMs >= 0));
   */
  constructor(options = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('lanepool: Pool options must be an object');
    const { concurrency = DEFAULT_CONCURRENCY, maxInFlight } = options;
    this.#concurrency = checkConcurrency('lanepool', concurrency);
    if (maxInFlight !== undefined) this.#limiter = new Limiter(checkMaxInFlight(maxInFlight));
  }

  /**
   * Most handlers or tasks in flight at once in one call.
   * @returns {number}
   */
  get concurrency() {
    return this.#concurrency;
  }

  /**
   * Most batch handlers in flight at once across all calls of the pool, or null (no limit).
   * @returns {number | null}
   */
  get maxInFlight() {
    return this.#limiter === null ? null : this.#limiter.native.slots;
  }

  /**
   * Processes a Lambda batch event; resolves to `{ batchItemFailures }`.
   *
   * @example
   * const assert = require('node:assert');
   * const { Pool } = require('lanepool');
   * // An SQS FIFO batch: a failed record skips the rest of its message group only.
   * const fifo = (id, group) => ({
   *   eventSource: 'aws:sqs', messageId: id, body: id, attributes: { MessageGroupId: group },
   * });
   * const event = { Records: [fifo('1', 'g1'), fifo('2', 'g1'), fifo('3', 'g2')] };
   * const response = await new Pool().process(event, (record) => {
   *   if (record.messageId === '1') throw new Error('down');
   * });
   * assert.deepEqual(response.batchItemFailures.map((f) => f.itemIdentifier), ['1', '2']);
   *
   * @param {any} event an SQS, Kinesis, DynamoDB stream or Kafka (MSK, self-managed) event
   * @param {(record: any, context: { readonly signal: AbortSignal }) => unknown} handler
   * @param {Record<string, any>} [options] see the README's options
   * @returns {Promise<{ batchItemFailures: { itemIdentifier: string | { partition: string, offset: number } }[] }>}
   */
  process(event, handler, options) {
    return runBatch(this.#concurrency, this.#limiter, event, handler, options, false);
  }

  /**
   * Like `process`, resolving to the whole report (`response`, `succeeded`, `failures`,
   * `summary`).
   *
   * @example
   * const assert = require('node:assert');
   * const { Pool } = require('lanepool');
   * const event = {
   *   Records: ['x', 'y'].map((id) => ({ eventSource: 'aws:sqs', messageId: id, body: id })),
   * };
   * let calls = 0;
   * const report = await new Pool().runBatch(event, (record) => {
   *   if (record.body === 'y' && ++calls === 1) throw new Error('flaky');
   * }, { retries: 1, retryBackoffMs: 1 });
   * assert.deepEqual(report.succeeded, ['x', 'y']);
   * assert.equal(report.summary.retries, 1);
   *
   * @param {any} event
   * @param {(record: any, context: { readonly signal: AbortSignal }) => unknown} handler
   * @param {Record<string, any>} [options]
   * @returns {Promise<any>}
   */
  runBatch(event, handler, options) {
    return runBatch(this.#concurrency, this.#limiter, event, handler, options, true);
  }

  /**
   * Runs `fn(item, { signal, index, attempt })` once per item (a job) with the batch
   * scheduler: at most `concurrency` in flight, `retries` with backoff, the deadline,
   * `attemptTimeoutMs` and `maxPerSecond`; with `key`, jobs of one key run one at a time in
   * order and a job that fails for good skips the rest of its key. Resolves to `{ results,
   * failures, summary, ok }`: `results[i]` is job i's value (`undefined` where it did not
   * succeed), `failures` every job that did not (`reason` 'error', 'skipped', 'deadline' or
   * 'timeout'). No job succeeding is still a report (`ok: false`), never a rejection; it
   * rejects only for bad options or an invalid key (EventError), before any job runs.
   *
   * @example
   * const assert = require('node:assert');
   * const { Pool } = require('lanepool');
   * const items = [
   *   { tenant: 'acme', n: 1 },
   *   { tenant: 'acme', n: 2 },
   *   { tenant: 'globex', n: 3 },
   *   { tenant: 'acme', n: 4 },
   * ];
   * const { results, failures, ok } = await new Pool().runJobs(items, async (item, { attempt }) => {
   *   assert.ok(attempt >= 1);
   *   if (item.n === 2) throw new Error('bad');
   *   return item.n * 10;
   * }, { key: (item) => item.tenant, concurrency: 4 });
   * assert.deepEqual(results, [10, undefined, 30, undefined]);
   * assert.deepEqual(failures.map((f) => [f.index, f.reason]), [[1, 'error'], [3, 'skipped']]);
   * assert.equal(ok, false);
   *
   * @template T, U
   * @param {Iterable<T>} items
   * @param {(item: T, context: { readonly signal: AbortSignal, readonly index: number, readonly attempt: number }) => U | PromiseLike<U>} fn
   * @param {Record<string, any>} [options] `concurrency` (default the pool's), `key`,
   *   `context`, `deadlineMarginMs`, `cancelAtDeadline`, `retries`, `retryBackoffMs`,
   *   `attemptTimeoutMs`, `maxPerSecond`
   * @returns {Promise<{ results: (Awaited<U> | undefined)[], failures: { index: number, item: T, reason: 'error' | 'skipped' | 'deadline' | 'timeout', error: unknown, attempts: number }[], summary: Record<string, any>, ok: boolean }>}
   */
  runJobs(items, fn, options) {
    return runBatch(this.#concurrency, this.#limiter, items, fn, options, true, true);
  }

  /**
   * Runs `body(s)`; `s.spawn(fn)` starts `fn(s)` with at most `concurrency` spawned tasks in
   * flight. Settles after the body and every spawned task (nested spawns too) settled: with the
   * body's value, or an AggregateError of every error.
   *
   * @example
   * const assert = require('node:assert');
   * const { Pool } = require('lanepool');
   * const seen = [];
   * const value = await new Pool({ concurrency: 2 }).scope(async (s) => {
   *   s.spawn((inner) => {
   *     seen.push('outer');
   *     inner.spawn(async () => seen.push('nested'));
   *   });
   *   return 'body';
   * });
   * assert.equal(value, 'body');
   * assert.deepEqual(seen, ['outer', 'nested']);
   *
   * @template T
   * @param {(scope: import('./lib/scope.js').Scope) => T | PromiseLike<T>} body
   * @returns {Promise<Awaited<T>>}
   */
  scope(body) {
    // Loaded when first used: a batch handler never needs it (cold-start time).
    return require('./lib/scope.js').scope(this.#concurrency, body);
  }

  /**
   * Calls `fn(item, index)` for every item with at most `concurrency` calls in flight; resolves
   * to the results in input order, or rejects (after every call settled) with an
   * AggregateError of every error, in input order.
   *
   * @example
   * const assert = require('node:assert');
   * const { Pool } = require('lanepool');
   * const doubled = await new Pool({ concurrency: 2 }).map([1, 2, 3], async (x) => x * 2);
   * assert.deepEqual(doubled, [2, 4, 6]);
   *
   * @template T, U
   * @param {Iterable<T>} items
   * @param {(item: T, index: number) => U | PromiseLike<U>} fn
   * @returns {Promise<Awaited<U>[]>}
   */
  map(items, fn) {
    return require('./lib/map.js').map(this.#concurrency, items, fn); // loaded when first used
  }
}

module.exports = {
  Pool,
  EventError,
  BatchFailedError,
  DEFAULT_CONCURRENCY,
  DEFAULT_DEADLINE_MARGIN_MS,
  DEFAULT_RETRY_BACKOFF_MS,
  MAX_CONCURRENCY,
  version,
};
