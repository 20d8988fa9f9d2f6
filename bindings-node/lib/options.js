'use strict';
// The options of a batch call (`pool.process` / `pool.runBatch`), checked once for every face:
// `readOptions` for the Pool, `checkSchedulingOptions` for lanepool/powertools' processor too.

const { format } = require('./format.js');

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
const BATCH_OPTION_SET = new Set(BATCH_OPTIONS);

/**
 * `value`, if it is a safe integer >= `min`; else a RangeError naming `name`.
 * @param {string} who the message's prefix (`lanepool`, `lanepool/powertools`)
 * @param {string} name
 * @param {unknown} value
 * @param {number} min
 * @returns {number}
 */
function checkCount(who, name, value, min) {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${who}: ${name} must be an integer >= ${min}, got ${format(value)}`);
  }
  return value;
}

/**
 * `value`, if it is a finite number >= 0 (milliseconds); else a RangeError naming `name`.
 * @param {string} who
 * @param {string} name
 * @param {unknown} value
 * @returns {number}
 */
function checkMs(who, name, value) {
  if (typeof value !== 'number' || !(value >= 0) || value === Infinity) {
    throw new RangeError(`${who}: ${name} must be a finite number >= 0, got ${format(value)}`);
  }
  return value;
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
  if (retries !== undefined) checkCount(who, 'retries', retries, 0);
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
 */

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
  };
  const { context } = given;
  if (context != null && typeof context.getRemainingTimeInMillis === 'function') {
    const remaining = Number(context.getRemainingTimeInMillis());
    if (Number.isFinite(remaining)) o.remainingMs = Math.max(0, remaining);
  }
  checkSchedulingOptions(given, 'lanepool');
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

module.exports = { BATCH_OPTIONS, checkCount, checkMs, checkSchedulingOptions, readOptions };
