'use strict';
// The errors lanepool's batch calls reject with.

/**
 * A malformed Lambda event, named by record index and field (and, in a Kafka event, the
 * `records` group). Thrown before any handler runs.
 *
 * @example
 * const assert = require('node:assert');
 * const { Pool, EventError } = require('lanepool');
 * const event = { Records: [{ eventSource: 'aws:sqs', body: '' }] }; // no messageId
 * await assert.rejects(new Pool().process(event, () => {}), (e) => {
 *   assert.ok(e instanceof EventError);
 *   assert.deepEqual([e.index, e.field], [0, 'messageId']);
 *   return true;
 * });
 */
class EventError extends TypeError {
  /**
   * @param {string} message
   * @param {number | null} [index] the record's index in event order (`Records`, or a Kafka
   *   event's records counted across its groups), or null for the event
   * @param {string | null} [field] the field's dotted path, or null
   * @param {string | null} [group] the group of a Kafka event the problem is in (its
   *   `records` key, `"<topic>-<partition>"`), or null
   */
  constructor(message, index = null, field = null, group = null) {
    super(message);
    this.index = index;
    this.field = field;
    this.group = group;
  }
}
Object.defineProperty(EventError.prototype, 'name', { value: 'EventError', configurable: true, writable: true });

/**
 * Every record of a non-empty batch failed (with `throwOnFullBatchFailure`, the default);
 * `report` says how. The message is the core's: the records by reason and, for records that
 * met the deadline, the remaining time at the start and the margin. `cause` (ES2022) is the
 * error of the first failed record in event order that has one.
 *
 * @example
 * const assert = require('node:assert');
 * const { Pool, BatchFailedError } = require('lanepool');
 * const event = { Records: [{ eventSource: 'aws:sqs', messageId: 'm1', body: '' }] };
 * const down = new Error('down');
 * await assert.rejects(new Pool().process(event, () => { throw down; }), (e) => {
 *   assert.ok(e instanceof BatchFailedError);
 *   assert.equal(e.message, 'every record of the batch failed (1 record: 1 error)');
 *   assert.equal(e.cause, down);
 *   assert.equal(e.report.failures[0].error, down);
 *   return true;
 * });
 */
class BatchFailedError extends Error {
  /**
   * @param {string} message
   * @param {object} report the batch's report (`response`, `succeeded`, `failures`, `summary`)
   * @param {{ cause?: unknown }} [options] `cause`: the first failed record's error
   */
  constructor(message, report, options) {
    super(message, options);
    this.report = report;
  }
}
Object.defineProperty(BatchFailedError.prototype, 'name', {
  value: 'BatchFailedError',
  configurable: true,
  writable: true,
});

module.exports = { EventError, BatchFailedError };
