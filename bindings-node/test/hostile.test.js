'use strict';
// Hostile handlers: whatever a handler throws, rejects with or returns, and whatever it does to
// the event, its record ends as that record's failure (reason 'error', the thrown value kept),
// the other records are processed, and nothing crashes or leaks an unhandled rejection.

const test = require('node:test');
const assert = require('node:assert/strict');
const { setTimeout: sleep } = require('node:timers/promises');
const { Pool, BatchFailedError } = require('lanepool');
const { sqsRecord, contextWith, delay } = require('./helpers');

const unhandled = [];
const onUnhandled = (reason) => unhandled.push(reason);
process.on('unhandledRejection', onUnhandled);
test.after(() => process.off('unhandledRejection', onUnhandled));

/** An object whose message, name, stack and toString throw when read. */
function gettersThrow() {
  const o = {};
  for (const key of ['message', 'name', 'stack', 'toString', 'cause', 'constructor', Symbol.toPrimitive]) {
    Object.defineProperty(o, key, {
      get() {
        throw new Error(`getter ${String(key)} read`);
      },
    });
  }
  return o;
}

/** A proxy that throws on every trap. */
function proxyThrows() {
  const handler = new Proxy(
    {},
    {
      get(_, trap) {
        return () => {
          throw new Error(`proxy trap ${String(trap)} used`);
        };
      },
    },
  );
  return new Proxy({}, handler);
}

const HUGE = 10 * 1024 * 1024;
const thrown = {
  symbol: () => Symbol('boom'),
  null: () => null,
  undefined: () => undefined,
  'getters that throw': gettersThrow,
  'proxy throwing on every trap': proxyThrows,
  'a 10 MB message': () => new Error('x'.repeat(HUGE)),
  'a string': () => 'plain string',
  'a function': () => function thrownFunction() {},
};

const ways = {
  'throws synchronously': (value) => () => {
    throw value;
  },
  'returns a rejected promise': (value) => () => Promise.reject(value),
  'rejects from an async function later': (value) => async () => {
    await delay(1);
    throw value;
  },
};

const event3 = () => ({ Records: [sqsRecord('m0'), sqsRecord('m1'), sqsRecord('m2')] });

for (const [what, make] of Object.entries(thrown)) {
  for (const [how, wrap] of Object.entries(ways)) {
    test(`a handler that ${how} with ${what}: its record fails, the others succeed`, async () => {
      const value = make();
      const hostile = wrap(value);
      const pool = new Pool({ concurrency: 2 });
      const seen = [];
      const report = await pool.runBatch(event3(), (record, ctx) => {
        seen.push(record.messageId);
        return record.messageId === 'm1' ? hostile(record, ctx) : undefined;
      });
      assert.deepEqual(seen.sort(), ['m0', 'm1', 'm2']);
      assert.deepEqual(report.response, { batchItemFailures: [{ itemIdentifier: 'm1' }] });
      assert.deepEqual(report.succeeded, ['m0', 'm2']);
      assert.equal(report.failures.length, 1);
      const [f] = report.failures;
      assert.equal(f.reason, 'error');
      assert.equal(f.attempts, 1);
      assert.equal(f.index, 1);
      assert.ok(Object.is(f.error, value), 'the thrown value is kept as is');
      assert.doesNotThrow(() => JSON.stringify(report.response));
      assert.equal(report.summary.error, 1);
    });
  }
}

test('every record throws a hostile value: BatchFailedError carries the report', async () => {
  const pool = new Pool({ concurrency: 3 });
  const values = [Symbol('a'), proxyThrows(), gettersThrow()];
  const error = await pool
    .process(event3(), (record) => {
      throw values[Number(record.messageId.slice(1))];
    })
    .then(
      () => assert.fail('resolved'),
      (e) => e,
    );
  assert.ok(error instanceof BatchFailedError);
  assert.equal(typeof error.message, 'string');
  assert.deepEqual(
    error.report.failures.map((f) => f.reason),
    ['error', 'error', 'error'],
  );
  error.report.failures.forEach((f, i) => assert.ok(Object.is(f.error, values[i])));
});

test('hostile values rejected after the deadline abort: never read, ending as deadline with the value kept', async () => {
  const pool = new Pool({ concurrency: 3 });
  const values = [proxyThrows(), gettersThrow(), Symbol('late')];
  const report = await pool.runBatch(
    event3(),
    (record, { signal }) =>
      new Promise((resolve, reject) => {
        signal.addEventListener('abort', () => reject(values[Number(record.messageId.slice(1))]));
      }),
    { context: contextWith(50), deadlineMarginMs: 20, throwOnFullBatchFailure: false },
  );
  assert.deepEqual(
    report.failures.map((f) => [f.itemIdentifier, f.reason, f.attempts]),
    [
      ['m0', 'deadline', 1],
      ['m1', 'deadline', 1],
      ['m2', 'deadline', 1],
    ],
  );
  report.failures.forEach((f, i) => assert.ok(Object.is(f.error, values[i])));
});

test('hostile results: a proxy, a then getter that throws, a then that throws, a thenable that rejects', async () => {
  const results = {
    m0: () => proxyThrows(),
    m1: () =>
      Object.defineProperty({}, 'then', {
        get() {
          throw new Error('then getter');
        },
      }),
    m2: () => ({
      then() {
        throw new Error('then threw');
      },
    }),
    m3: () => ({ then: (resolve, reject) => reject(Symbol('thenable rejected')) }),
    m4: () => ({ then: (resolve) => resolve('ok') }),
    m5: () => {
      const p = Promise.resolve();
      Object.defineProperty(p, 'constructor', {
        get() {
          throw new Error('constructor getter');
        },
      });
      return p;
    },
  };
  const pool = new Pool({ concurrency: 2 });
  const event = { Records: Object.keys(results).map((id) => sqsRecord(id)) };
  const report = await pool.runBatch(event, (record) => results[record.messageId]());
  assert.deepEqual(report.succeeded, ['m4']);
  assert.deepEqual(
    report.failures.map((f) => [f.itemIdentifier, f.reason]),
    ['m0', 'm1', 'm2', 'm3', 'm5'].map((id) => [id, 'error']),
  );
  assert.equal(report.failures[1].error.message, 'then getter');
  assert.equal(report.failures[2].error.message, 'then threw');
  assert.equal(typeof report.failures[3].error, 'symbol');
});

const vandals = {
  'empties event.Records': (event) => {
    event.Records.length = 0;
  },
  'reverses event.Records': (event) => event.Records.reverse(),
  'replaces event.Records': (event) => {
    event.Records = [sqsRecord('intruder')];
  },
  'deletes the other records\u2019 fields': (event) => {
    for (const r of event.Records) {
      if (r.messageId !== 'm0') {
        delete r.messageId;
        delete r.eventSource;
        r.attributes = null;
      }
    }
  },
  'turns the other records into primitives': (event) => event.Records.fill(42, 1),
  'freezes the event': (event) => Object.freeze(event.Records),
};

for (const [what, vandalise] of Object.entries(vandals)) {
  test(`a handler that ${what}: every other record still gets its own record object`, async () => {
    const pool = new Pool({ concurrency: 1 });
    const event = {
      Records: ['m0', 'm1', 'm2', 'm3'].map((id, i) => sqsRecord(id, i === 0 ? undefined : 'g')),
    };
    const originals = event.Records.slice();
    const got = [];
    const report = await pool.runBatch(event, async (record) => {
      got.push(record);
      if (got.length === 1) {
        vandalise(event);
        throw new Error('the vandal fails');
      }
      await null;
    });
    assert.equal(got.length, 4);
    got.forEach((r, i) => assert.equal(r, originals[i], `record ${i} is the event's own object`));
    // identifiers were read before any handler ran: the response is unchanged
    assert.deepEqual(report.response, { batchItemFailures: [{ itemIdentifier: 'm0' }] });
    assert.deepEqual(report.succeeded, ['m1', 'm2', 'm3']);
  });
}

test('handlers with a second abortable timer of their own: all end as deadline at the abort', async () => {
  const pool = new Pool({ concurrency: 2 });
  const report = await pool.runBatch(
    event3(),
    async (record, { signal }) => {
      // an unawaited rejected promise of the handler's own is its business; this one is handled
      sleep(10_000, undefined, { signal }).catch(() => {});
      await sleep(5000, undefined, { signal });
    },
    { context: contextWith(40), deadlineMarginMs: 10, throwOnFullBatchFailure: false },
  );
  assert.equal(report.summary.deadline, 3);
});

test('no unhandled rejection was seen in this file', async () => {
  await delay(20);
  assert.deepEqual(unhandled.map(String), []);
});
