'use strict';
// The three ways lib/decode.js reaches the core's rules give one answer: the lean projection
// (the core's short paths), the full projection (the core's rules over a view of it), and the
// live event through N-API (an event behind a Proxy is always decoded live). Over fuzzed events
// (test/fuzz/generate.js: valid ones, and ones with fields removed, retyped or emptied), each
// ordering: the same EventError, or the same handler calls in the same order and the same
// response, with failures that skip the rest of their lanes.

const test = require('node:test');
const assert = require('node:assert/strict');
const native = require('../binding.js');
const { Pool, EventError, BatchFailedError } = require('lanepool');
const { rng, generate } = require('./fuzz/generate');

const CASES = Number(process.env.LANEPOOL_DECODE_PATHS_CASES || 400);

/**
 * The outcome of one call, by path: the error's fields, or the calls and the response.
 * @param {Pool} pool
 * @param {unknown} event
 * @param {'auto' | 'key' | 'unordered'} ordering
 */
async function outcomeOf(pool, event, ordering) {
  /** @type {Map<unknown, number>} */
  const seen = new Map();
  const calls = [];
  const handler = (record) => {
    // Records by first sight: the same order of calls names the same records.
    if (!seen.has(record)) seen.set(record, seen.size);
    const n = /** @type {number} */ (seen.get(record));
    calls.push(n);
    if (n % 3 === 1) throw new Error('fails');
  };
  try {
    return { calls, response: await pool.process(event, handler, { ordering }) };
  } catch (e) {
    if (e instanceof EventError) return { error: [e.message, e.index, e.field, e.group] };
    if (e instanceof BatchFailedError) return { calls, allFailed: e.report.response };
    throw e;
  }
}

test('the lean projection, the full projection and the live event give the same answer', async () => {
  const pool = new Pool({ concurrency: 1 });
  const r = rng(20261204);
  const decodeRead = native.decodeRead;
  let lean = 0;
  let leanDeclined = 0;
  try {
    for (let i = 0; i < CASES; i++) {
      const event = generate(r);
      for (const ordering of /** @type {const} */ (['auto', 'key', 'unordered'])) {
        /** @type {any} */ (native).decodeRead = (/** @type {any[]} */ ...args) => {
          const plan = decodeRead(...args);
          if (plan === null) leanDeclined++;
          else lean++;
          return plan;
        };
        const viaLean = await outcomeOf(pool, event, ordering);
        /** @type {any} */ (native).decodeRead = () => null;
        const viaFull = await outcomeOf(pool, event, ordering);
        /** @type {any} */ (native).decodeRead = decodeRead;
        // (An array or a value that is no object is decoded live already; a Proxy of an array
        // is no array to N-API.)
        const plain = event !== null && typeof event === 'object' && !Array.isArray(event);
        const live = plain ? new Proxy(event, {}) : event;
        const viaLive = await outcomeOf(pool, live, ordering);
        const what = `case ${i}, ordering ${ordering}: ${JSON.stringify(event)?.slice(0, 300)}`;
        assert.deepEqual(viaFull, viaLive, `full projection vs live, ${what}`);
        assert.deepEqual(viaLean, viaLive, `lean projection vs live, ${what}`);
      }
    }
  } finally {
    /** @type {any} */ (native).decodeRead = decodeRead;
  }
  // The cases reach both: events the short paths plan, and events they decline.
  assert.ok(lean > 100 && leanDeclined > 20, JSON.stringify({ lean, leanDeclined }));
});

test('a step of a path that is null, a string or an array reads as the full projection reads it', async () => {
  const pool = new Pool({ concurrency: 1 });
  const record = (i, attributes) => ({
    messageId: `m${i}`,
    body: 'b',
    attributes,
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:1:q.fifo',
  });
  const withGroupProperty = Object.assign([], { MessageGroupId: 'g' });
  const decodeRead = native.decodeRead;
  try {
    for (const [steps, planned] of [
      [[null, 'x', 7, { MessageGroupId: 'g' }], true],
      [[[], { MessageGroupId: 'g' }, undefined], true],
      // An array holding the member: the live event decides (as the full reader has it).
      [[withGroupProperty, { MessageGroupId: 'g' }], false],
    ]) {
      const event = { Records: steps.map((attributes, i) => record(i, attributes)) };
      let lean = 0;
      /** @type {any} */ (native).decodeRead = (/** @type {any[]} */ ...args) => {
        lean++;
        return decodeRead(...args);
      };
      const viaLean = await outcomeOf(pool, event, 'auto');
      /** @type {any} */ (native).decodeRead = decodeRead;
      assert.equal(lean > 0, planned, JSON.stringify(steps));
      assert.deepEqual(viaLean, await outcomeOf(pool, new Proxy(event, {}), 'auto'), JSON.stringify(steps));
    }
  } finally {
    /** @type {any} */ (native).decodeRead = decodeRead;
  }
});
