'use strict';
// The three ways lib/decode.js reaches the core's rules give one answer: the lean projection
// (the core's short paths), the full projection (the core's rules over a view of it), and the
// live event through N-API (an event behind a Proxy is always decoded live). Over fuzzed events
// (test/fuzz/generate.js: valid ones, and ones with fields removed, retyped or emptied), each
// ordering: the same EventError, or the same handler calls in the same order and the same
// response, with failures that skip the rest of their lanes. Both projections also run with
// each record's texts sent on their own (as for a node with many distinct texts), through the
// unbundled sources, whose `textNumbering` the test can set.

const test = require('node:test');
const assert = require('node:assert/strict');
const native = require('../binding.js');
const { Pool, EventError, BatchFailedError } = require('lanepool');
const { rng, generate } = require('./fuzz/generate');
// The sources the bundle is made of, loaded as they are: the same addon, and the decode
// module's numbering to set.
const unbundled = require('../index.js');
const { textNumbering } = require('../lib/decode.js');

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
    // (The unbundled sources have classes of their own.)
    if (e instanceof EventError || e instanceof unbundled.EventError) return { error: [e.message, e.index, e.field, e.group] };
    if (e instanceof BatchFailedError || e instanceof unbundled.BatchFailedError) return { calls, allFailed: e.report.response };
    throw e;
  }
}

/**
 * `outcomeOf` through the unbundled sources with each record's texts sent on their own.
 * @param {unknown} event
 * @param {'auto' | 'key' | 'unordered'} ordering
 */
async function outcomeEachText(event, ordering) {
  const eachAfter = textNumbering.eachAfter;
  textNumbering.eachAfter = 0;
  try {
    return await outcomeOf(/** @type {any} */ (new unbundled.Pool({ concurrency: 1 })), event, ordering);
  } finally {
    textNumbering.eachAfter = eachAfter;
  }
}

test('the lean projection, the full projection and the live event give the same answer', async () => {
  const pool = new Pool({ concurrency: 1 });
  const r = rng(20261204);
  const decodeRead = native.decodeRead;
  // How often the short paths planned and declined, by numbering.
  const counts = { distinct: { lean: 0, declined: 0 }, each: { lean: 0, declined: 0 } };
  let counted = counts.distinct;
  try {
    for (let i = 0; i < CASES; i++) {
      const event = generate(r);
      for (const ordering of /** @type {const} */ (['auto', 'key', 'unordered'])) {
        /** @type {any} */ (native).decodeRead = (/** @type {any[]} */ ...args) => {
          const plan = decodeRead(...args);
          if (plan === null) counted.declined++;
          else counted.lean++;
          return plan;
        };
        counted = counts.distinct;
        const viaLean = await outcomeOf(pool, event, ordering);
        counted = counts.each;
        const viaLeanEach = await outcomeEachText(event, ordering);
        /** @type {any} */ (native).decodeRead = () => null;
        const viaFull = await outcomeOf(pool, event, ordering);
        const viaFullEach = await outcomeEachText(event, ordering);
        /** @type {any} */ (native).decodeRead = decodeRead;
        // (An array or a value that is no object is decoded live already; a Proxy of an array
        // is no array to N-API.)
        const plain = event !== null && typeof event === 'object' && !Array.isArray(event);
        const live = plain ? new Proxy(event, {}) : event;
        const viaLive = await outcomeOf(pool, live, ordering);
        const what = `case ${i}, ordering ${ordering}: ${JSON.stringify(event)?.slice(0, 300)}`;
        assert.deepEqual(viaFull, viaLive, `full projection vs live, ${what}`);
        assert.deepEqual(viaLean, viaLive, `lean projection vs live, ${what}`);
        assert.deepEqual(viaFullEach, viaLive, `full projection, each record's texts, vs live, ${what}`);
        assert.deepEqual(viaLeanEach, viaLive, `lean projection, each record's texts, vs live, ${what}`);
      }
    }
  } finally {
    /** @type {any} */ (native).decodeRead = decodeRead;
  }
  // The cases reach both, with either numbering: events the short paths plan, and events they
  // decline.
  for (const c of Object.values(counts)) assert.ok(c.lean > 100 && c.declined > 20, JSON.stringify(counts));
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

test('a node with many distinct texts sends each record its own, and a lane keeps its order and skip', async () => {
  const { assertLaneDiscipline, sqsRecord } = require('./helpers');
  // Events whose first `distinct` keys are distinct, then repeat: records i and i + distinct
  // share a key, the second's text sent on its own. Long keys switch after 256 distinct ones,
  // short keys only when nearly all of the first 2,048 are (see `textNumbering`).
  const shapes = [
    { n: 600, distinct: 300, key: (/** @type {number} */ i) => `key-${i % 300}-0000000` }, // ASCII: read as UTF-8
    { n: 600, distinct: 300, key: (/** @type {number} */ i) => `clé-${i % 300}-0000000` }, // read as UTF-16 units
    { n: 2400, distinct: 2300, key: (/** @type {number} */ i) => `k${i % 2300}` },
  ];
  const b64 = (/** @type {string} */ s) => Buffer.from(s).toString('base64');
  /** @type {Record<string, (n: number, key: (i: number) => string) => { event: any, ordering: 'auto' | 'key', id: (r: any) => unknown }>} */
  const sources = {
    'SQS FIFO': (n, key) => ({
      event: { Records: Array.from({ length: n }, (_, i) => sqsRecord(`m${i}`, key(i))) },
      ordering: 'auto',
      id: (r) => r.messageId,
    }),
    Kinesis: (n, key) => ({
      event: {
        Records: Array.from({ length: n }, (_, i) => ({
          eventSource: 'aws:kinesis',
          eventSourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/s',
          kinesis: { partitionKey: key(i), sequenceNumber: `${1000 + i}`, data: '' },
        })),
      },
      ordering: 'auto',
      id: (r) => r.kinesis.sequenceNumber,
    }),
    'Kafka, ordering key': (n, key) => ({
      event: {
        eventSource: 'aws:kafka',
        records: {
          'orders-0': Array.from({ length: n }, (_, i) => ({
            topic: 'orders', partition: 0, offset: i, timestamp: 0, timestampType: 'CREATE_TIME', key: b64(key(i)), value: '', headers: [],
          })),
        },
      },
      ordering: 'key',
      id: (r) => ({ partition: 'orders-0', offset: r.offset }),
    }),
  };
  const decodeRead = native.decodeRead;
  try {
    for (const [name, make] of Object.entries(sources)) {
      for (const { n, distinct, key } of shapes) {
        const { event, ordering, id } = make(n, key);
        const what = `${name}, ${key(0)}`;
        /** @type {number[]} */
        const tables = [];
        /** @type {any} */ (native).decodeRead = (/** @type {any[]} */ ...args) => {
          const plan = decodeRead(...args);
          if (plan !== null) tables.push(args[5].length);
          return plan;
        };
        const records = ordering === 'key' ? event.records['orders-0'] : event.Records;
        /** @type {{ i: number, start: number, end: number }[]} */
        const calls = [];
        let clock = 0;
        const pool = new Pool({ concurrency: 16 });
        const response = await pool.process(event, async (/** @type {any} */ record) => {
          const i = records.indexOf(record);
          const call = { i, start: clock++, end: Infinity };
          calls.push(call);
          await new Promise((resolve) => setImmediate(resolve));
          call.end = clock++;
          if (i === 7) throw new Error('fails');
        }, { ordering });
        /** @type {any} */ (native).decodeRead = decodeRead;
        // The short path planned it, from a table with a text of its own for the records
        // after the switch (more texts than distinct keys).
        assert.equal(tables.length, 1, what);
        assert.ok(tables[0] > distinct + 1, `${what}: ${tables[0]} texts`);
        // Record 7 failed, and its key's next record was skipped: nothing else.
        const next = distinct + 7;
        assert.deepEqual(response.batchItemFailures, [{ itemIdentifier: id(records[7]) }, { itemIdentifier: id(records[next]) }], what);
        assert.equal(calls.length, n - 1, what);
        assert.ok(!calls.some((c) => c.i === next), what);
        assertLaneDiscipline(calls, records.map((/** @type {unknown} */ _, /** @type {number} */ i) => key(i)), `${what}: `);
      }
    }
  } finally {
    /** @type {any} */ (native).decodeRead = decodeRead;
  }
});
