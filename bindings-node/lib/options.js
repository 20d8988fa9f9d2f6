'use strict';
// The options of a batch call (`pool.process` / `pool.runBatch`), checked once for every face:
// `readOptions` for the Pool, `checkSchedulingOptions` for lanepool/powertools' processor too.

const native = require('../binding.js');
const { format, describe } = require('./format.js');

/** The options lanepool reads from a batch call. */
const BATCH_OPTIONS = Object.freeze([
  'context',
  'ordering',
  'groupKey',
  'retries',
  'retryBackoffMs',
  'deadlineMarginMs',
  'throwOnFullBatchFailure',
  'logSummary',
  'cancelAtDeadline',
]);
/** The per-attempt options `process`, `runBatch` and `runJobs` take besides (not Powertools'). */
const ATTEMPT_OPTIONS = Object.freeze(['attemptTimeoutMs', 'maxPerSecond']);
const BATCH_OPTION_SET = new Set([...BATCH_OPTIONS, ...ATTEMPT_OPTIONS]);
/** The options `runJobs` reads. */
const JOB_OPTIONS = Object.freeze([
  'concurrency',
  'key',
  'context',
  'retries',
  'retryBackoffMs',
  'deadlineMarginMs',
  'cancelAtDeadline',
  ...ATTEMPT_OPTIONS,
]);
const JOB_OPTION_SET = new Set(JOB_OPTIONS);

/** The largest `retries` the core takes (a 32-bit count). */
const MAX_RETRIES = 2 ** 32 - 1;

/**
 * `value` if it is an integer number; else a RangeError naming `name` and what it got
 * (`concurrency must be an integer, got string '4'`).
 * @param {string} who the message's prefix (`lanepool`, `lanepool/powertools`)
 * @param {string} name
 * @param {unknown} value
 * @returns {number}
 */
function checkInteger(who, name, value) {
  if (typeof value !== 'number') {
    throw new RangeError(`${who}: ${name} must be an integer, got ${describe(value)}`);
  }
  if (!Number.isInteger(value)) throw new RangeError(`${who}: ${name} must be an integer, got ${value}`);
  return value;
}

/**
 * `value`, if it is an integer from `min` to `max`; else a RangeError naming `name`.
 * @param {string} who the message's prefix (`lanepool`, `lanepool/powertools`)
 * @param {string} name
 * @param {unknown} value
 * @param {number} min
 * @param {number} [max]
 * @returns {number}
 */
function checkCount(who, name, value, min, max = Number.MAX_SAFE_INTEGER) {
  const n = checkInteger(who, name, value);
  if (n < min) throw new RangeError(`${who}: ${name} must be an integer >= ${min}, got ${n}`);
  if (n > max) throw new RangeError(`${who}: ${name} must be at most ${max}, got ${n}`);
  return n;
}

/**
 * `value`, if it is a concurrency by the core's rule (an integer from 1 to
 * `MAX_CONCURRENCY`); else a RangeError with the core's message.
 * @param {string} who
 * @param {unknown} value
 * @returns {number}
 */
function checkConcurrency(who, value) {
  const n = checkInteger(who, 'concurrency', value);
  const problem = native.concurrencyError(n);
  if (problem !== null) throw new RangeError(`${who}: ${problem}`);
  return n;
}

/**
 * `value`, if it is milliseconds by the core's rule (a finite number >= 0); else a
 * RangeError naming `name`, with the core's message for numbers.
 * @param {string} who
 * @param {string} name
 * @param {unknown} value
 * @returns {number}
 */
function checkMs(who, name, value) {
  if (typeof value !== 'number') {
    throw new RangeError(`${who}: ${name} must be a finite number of milliseconds, got ${describe(value)}`);
  }
  const problem = native.millisError(name, value);
  if (problem !== null) throw new RangeError(`${who}: ${problem}`);
  return value;
}

/**
 * The remaining milliseconds of a Lambda context by the core's context rule
 * (`lanepool::batch::remaining_time`), -1 for no deadline: no context (`undefined`, `null`)
 * is no deadline; a context without `getRemainingTimeInMillis()`, or one that returns no
 * number (a string, a boolean, `undefined`, NaN), is a TypeError naming it; a negative time
 * is 0 (already up); `Infinity` is no deadline.
 * @param {unknown} context
 * @returns {number}
 */
function remainingMs(context) {
  let read;
  if (context === undefined || context === null) {
    read = native.remainingMs(native.CONTEXT_ABSENT, '', 0);
  } else {
    const method = /** @type {any} */ (context).getRemainingTimeInMillis;
    if (typeof method !== 'function') {
      read = native.remainingMs(native.CONTEXT_NO_METHOD, describe(context), 0);
    } else {
      const value = method.call(context);
      read =
        typeof value === 'number'
          ? native.remainingMs(native.CONTEXT_NUMBER, '', value)
          : native.remainingMs(native.CONTEXT_OTHER, describe(value), 0);
    }
  }
  if (typeof read === 'string') throw new TypeError(`lanepool: ${read}`);
  return read;
}

/**
 * Checks the scheduling options shared by every face (`ordering`, `groupKey`, `retries`,
 * `retryBackoffMs`, `deadlineMarginMs`), in that order; throws the first problem.
 * @param {Record<string, any>} options
 * @param {string} who
 */
function checkSchedulingOptions(options, who) {
  const { ordering, groupKey, retries, retryBackoffMs, deadlineMarginMs } = options;
  if (ordering !== undefined && ordering !== 'auto' && ordering !== 'unordered' && ordering !== 'key') {
    throw new TypeError(`${who}: ordering must be 'auto', 'unordered' or 'key', got ${format(ordering)}`);
  }
  if (groupKey != null && typeof groupKey !== 'function') {
    throw new TypeError(`${who}: groupKey must be a function`);
  }
  if (retries !== undefined) checkCount(who, 'retries', retries, 0, MAX_RETRIES);
  if (retryBackoffMs !== undefined) checkMs(who, 'retryBackoffMs', retryBackoffMs);
  if (deadlineMarginMs !== undefined) checkMs(who, 'deadlineMarginMs', deadlineMarginMs);
}

/**
 * A batch call's options as the driver reads them. Numbers below 0 mean "none" (`remainingMs`:
 * no deadline) or "the core's default" (`backoffMs`, `marginMs`).
 * @typedef {object} RunOptions
 * @property {number} remainingMs
 * @property {'auto' | 'unordered' | 'key'} ordering the core's lane ordering
 * @property {((record: any) => unknown) | null} groupKey
 * @property {number} retries
 * @property {number} backoffMs
 * @property {number} marginMs
 * @property {boolean} throwOnFull
 * @property {boolean} log
 * @property {boolean} cancel
 * @property {number} timeoutMs `attemptTimeoutMs`, 0 for none
 * @property {number} perSecond `maxPerSecond`, 0 for none
 */

/**
 * Checks `attemptTimeoutMs` and `maxPerSecond` (a TypeError for a value that is no number, a
 * RangeError for a number the core refuses) and sets them on `o`.
 * @param {Record<string, any>} given
 * @param {RunOptions} o
 */
function readAttemptOptions(given, o) {
  const { attemptTimeoutMs, maxPerSecond } = given;
  if (attemptTimeoutMs !== undefined) {
    if (typeof attemptTimeoutMs !== 'number') {
      throw new TypeError(`lanepool: attemptTimeoutMs must be a number of milliseconds, got ${describe(attemptTimeoutMs)}`);
    }
    checkMs('lanepool', 'attemptTimeoutMs', attemptTimeoutMs);
    if (attemptTimeoutMs === 0) throw new RangeError('lanepool: attemptTimeoutMs must be more than zero, got 0');
    o.timeoutMs = attemptTimeoutMs;
  }
  if (maxPerSecond !== undefined) {
    if (typeof maxPerSecond !== 'number') {
      throw new TypeError(`lanepool: maxPerSecond must be a number, got ${describe(maxPerSecond)}`);
    }
    const problem = native.rateError(maxPerSecond);
    if (problem !== null) throw new RangeError(`lanepool: ${problem}`);
    o.perSecond = maxPerSecond;
  }
}

/**
 * Checks and reads the options of `pool.process` / `pool.runBatch`.
 * @param {unknown} options
 * @returns {RunOptions}
 */
function readOptions(options) {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw new TypeError('lanepool: options must be an object');
  const given = /** @type {Record<string, any>} */ (options);
  for (const key of Object.keys(given)) {
    if (!BATCH_OPTION_SET.has(key)) throw new TypeError(`lanepool: unknown option ${JSON.stringify(key)}`);
  }
  /** @type {RunOptions} */
  const o = {
    remainingMs: -1,
    ordering: 'auto',
    groupKey: null,
    retries: 0,
    backoffMs: -1,
    marginMs: -1,
    throwOnFull: true,
    log: false,
    cancel: true,
    timeoutMs: 0,
    perSecond: 0,
  };
  o.remainingMs = remainingMs(given.context);
  checkSchedulingOptions(given, 'lanepool');
  readAttemptOptions(given, o);
  if (given.ordering !== undefined) o.ordering = given.ordering;
  if (given.groupKey != null) o.groupKey = given.groupKey;
  if (given.retries !== undefined) o.retries = given.retries;
  if (given.retryBackoffMs !== undefined) o.backoffMs = given.retryBackoffMs;
  if (given.deadlineMarginMs !== undefined) o.marginMs = given.deadlineMarginMs;
  if (given.throwOnFullBatchFailure !== undefined) o.throwOnFull = Boolean(given.throwOnFullBatchFailure);
  if (given.logSummary !== undefined) o.log = Boolean(given.logSummary);
  if (given.cancelAtDeadline !== undefined) o.cancel = Boolean(given.cancelAtDeadline);
  return o;
}

/**
 * Checks and reads the options of `pool.runJobs`: the batch options that apply to jobs, and
 * `concurrency` (default `poolConcurrency`) and `key`.
 * @param {unknown} options
 * @param {number} poolConcurrency
 * @returns {RunOptions & { concurrency: number, key: ((item: any) => unknown) | null }}
 */
function readJobOptions(options, poolConcurrency) {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw new TypeError('lanepool: runJobs options must be an object');
  const given = /** @type {Record<string, any>} */ (options);
  for (const key of Object.keys(given)) {
    if (!JOB_OPTION_SET.has(key)) throw new TypeError(`lanepool: unknown runJobs option ${JSON.stringify(key)}`);
  }
  if (given.key != null && typeof given.key !== 'function') {
    throw new TypeError(`lanepool: runJobs option key must be a function, got ${describe(given.key)}`);
  }
  const { key: _key, concurrency: _concurrency, ...rest } = given;
  const o = readOptions(rest);
  return {
    ...o,
    throwOnFull: false,
    concurrency: given.concurrency === undefined ? poolConcurrency : checkConcurrency('lanepool', given.concurrency),
    key: given.key ?? null,
  };
}

module.exports = {
  ATTEMPT_OPTIONS,
  BATCH_OPTIONS,
  JOB_OPTIONS,
  readJobOptions,
  checkConcurrency,
  checkCount,
  checkMs,
  checkSchedulingOptions,
  readOptions,
  remainingMs,
};
