'use strict';
// process / runBatch behaviour beyond the vectors: failures of every kind, identity of records,
// the deadline's AbortSignal, nothing running after the call settled, options, errors.

const test = require('node:test');
const assert = require('node:assert/strict');
const lanepool = require('lanepool');
const { Pool, EventError, BatchFailedError, DEFAULT_CONCURRENCY } = lanepool;
const { sqsRecord, delay, contextWith } = require('./helpers');

const sqs = (n, group) => ({ Records: Array.from({ length: n }, (_, i) => sqsRecord(`m${i}`, group?.(i))) });

test('exports exactly the public API', () => {
  assert.equal(typeof Pool, 'function');
  assert.ok(new EventError('x') instanceof TypeError);
  assert.ok(new BatchFailedError('x', {}) instanceof Error);
  assert.equal(new EventError('x', 1, 'f').name, 'EventError');
  assert.equal(new BatchFailedError('x', {}).name, 'BatchFailedError');
});

test('Pool: default and explicit concurrency, bad values rejected', () => {
  assert.equal(new Pool().concurrency, DEFAULT_CONCURRENCY);
  assert.equal(DEFAULT_CONCURRENCY, 16);
  assert.equal(new Pool({ concurrency: 3 }).concurrency, 3);
  for (const bad of [0, -1, 1.5, '4', NaN, Infinity]) {
    assert.throws(() => new Pool({ concurrency: bad }), RangeError, String(bad));
  }
  assert.throws(() => new Pool(null), TypeError);
});

test('sync throws, rejections and non-Error throws are record failures, kept as thrown', async () => {
  const pool = new Pool({ concurrency: 4 });
  const event = sqs(7);
  const thrown = [new Error('sync'), new Error('async'), 'x', undefined, null, 42, { code: 'E' }];
  const handlers = [
    () => {
      throw thrown[0];
    },
    async () => {
      await delay(1);
      throw thrown[1];
    },
    () => {
      throw 'x';
    },
    async () => {
      throw undefined;
    },
    () => Promise.reject(null),
    () => {
      throw 42;
    },
    async () => {
      throw thrown[6];
    },
  ];
  const report = await pool.runBatch(event, (record) => handlers[Number(record.messageId.slice(1))](), {
    throwOnFullBatchFailure: false,
  });
  assert.equal(report.failures.length, 7);
  report.failures.forEach((f, i) => {
    assert.equal(f.reason, 'error');
    assert.equal(f.index, i);
    assert.equal(f.attempts, 1);
    assert.equal(f.error, thrown[i], `record ${i}`);
  });
  assert.deepEqual(report.succeeded, []);
});

test('throw undefined fails the record (not success) and skips its FIFO lane', async () => {
  const pool = new Pool({ concurrency: 2 });
  const event = sqs(4, () => 'g');
  const seen = [];
  const response = await pool.process(event, (record) => {
    seen.push(record.messageId);
    if (record.messageId === 'm1') throw undefined;
  });
  assert.deepEqual(seen, ['m0', 'm1']);
  assert.deepEqual(response, {
    batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }, { itemIdentifier: 'm3' }],
  });
});

test('handlers get the caller’s own record objects (===), never copies', async () => {
  const pool = new Pool({ concurrency: 3 });
  const event = sqs(10, (i) => (i % 3 ? `g${i % 2}` : undefined));
  const got = new Set();
  await pool.process(event, async (record) => {
    assert.ok(event.Records.includes(record));
    got.add(record);
  });
  assert.equal(got.size, 10);
  event.Records.forEach((r) => assert.ok(got.has(r)));
  // with a custom group key too
  const keys = [];
  await pool.process(
    event,
    (record) => {
      assert.ok(event.Records.includes(record));
    },
    {
      groupKey: (record) => {
        keys.push(record);
        return record.body;
      },
    },
  );
  assert.deepEqual(keys, event.Records);
});

test('handlers receive { signal }: an AbortSignal, not aborted without a deadline', async () => {
  const pool = new Pool();
  let ctx;
  await pool.process(sqs(1), (record, c) => {
    ctx = c;
  });
  assert.ok(ctx.signal instanceof AbortSignal);
  assert.equal(ctx.signal.aborted, false);
});

test('AbortSignal fires when the deadline passes; every handler running then ends as deadline', async () => {
  const pool = new Pool({ concurrency: 2 });
  const event = sqs(5);
  const t0 = performance.now();
  let abortedAt = NaN;
  const report = await pool.runBatch(
    event,
    (record, { signal }) =>
      new Promise((resolve, reject) => {
        if (record.messageId === 'm1') {
          // ignores the signal and resolves after the deadline: told to stop, so `deadline`
          setTimeout(resolve, 150);
          return;
        }
        signal.addEventListener('abort', () => {
          abortedAt = performance.now() - t0;
          reject(signal.reason);
        });
      }),
    { context: contextWith(180), deadlineMarginMs: 100, throwOnFullBatchFailure: false },
  );
  assert.ok(abortedAt >= 75 && abortedAt < 140, `aborted at ${abortedAt} ms, deadline at 80 ms`);
  assert.deepEqual(report.succeeded, []);
  const byId = Object.fromEntries(report.failures.map((f) => [f.itemIdentifier, f]));
  assert.equal(byId.m0.reason, 'deadline');
  assert.equal(byId.m0.attempts, 1);
  assert.equal(byId.m0.error.name, 'TimeoutError');
  assert.equal(byId.m1.reason, 'deadline');
  assert.equal(byId.m1.attempts, 1);
  assert.equal(byId.m1.error, undefined);
  for (const id of ['m2', 'm3', 'm4']) {
    assert.equal(byId[id].reason, 'deadline');
    assert.equal(byId[id].attempts, 0);
    assert.equal(byId[id].error, undefined);
  }
  assert.equal(report.summary.deadline, 5);
});

test('a handler told to stop ends as deadline with whatever it threw (an AbortError, or its own error)', async () => {
  const pool = new Pool({ concurrency: 2 });
  const { setTimeout: sleep } = require('node:timers/promises');
  const report = await pool.runBatch(
    sqs(2),
    async (record, { signal }) => {
      try {
        await sleep(1000, undefined, { signal });
      } catch (e) {
        if (record.messageId === 'm1') throw new Error('cleanup failed');
        throw e; // AbortError
      }
    },
    { context: contextWith(60), deadlineMarginMs: 20, throwOnFullBatchFailure: false },
  );
  assert.deepEqual(
    report.failures.map((f) => [f.itemIdentifier, f.reason, f.error.name]),
    [
      ['m0', 'deadline', 'AbortError'],
      ['m1', 'deadline', 'Error'],
    ],
  );
});

test('no handler code runs after process resolves (and no timer is left behind)', async () => {
  const pool = new Pool({ concurrency: 4 });
  for (const withDeadline of [false, true]) {
    let settled = false;
    const late = [];
    const event = sqs(24, (i) => (i % 4 === 0 ? undefined : `g${i % 3}`));
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const step = (record) => {
      if (settled) late.push(record.messageId);
    };
    const result = await pool.process(
      event,
      async (record, { signal }) => {
        step(record);
        for (let k = 0; k < 3; k++) {
          await delay((record.messageId.length + k * 7) % 5);
          step(record);
        }
        await null;
        step(record);
        if (signal.aborted) throw signal.reason;
        if (record.messageId.endsWith('7')) throw new Error('fail');
      },
      withDeadline ? { context: contextWith(40), deadlineMarginMs: 10, throwOnFullBatchFailure: false } : {},
    );
    settled = true;
    assert.ok(result.batchItemFailures.length >= 1);
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    assert.ok(after <= before, `timers left behind: ${before} -> ${after}`);
    await delay(50);
    assert.deepEqual(late, [], `handler code ran after process resolved (deadline: ${withDeadline})`);
  }
});

test('no timer outlives the call: a far deadline and pending retries are cleared', async () => {
  const pool = new Pool({ concurrency: 2 });
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  await pool.process(sqs(3), async () => {}, { context: contextWith(60_000) });
  assert.equal(timers(), before, 'the deadline timer was left behind');
  // a retry that would fall due after the deadline is not made (the core's rule); no timer stays
  let calls = 0;
  const report = await pool.runBatch(
    sqs(1),
    async () => {
      calls++;
      await delay(5);
      throw new Error('x');
    },
    { context: contextWith(3_000), retries: 5, retryBackoffMs: 5_000, throwOnFullBatchFailure: false },
  );
  assert.equal(calls, 1);
  assert.equal(report.failures[0].reason, 'error');
  assert.equal(timers(), before, 'a timer was left behind');
});

test('at most `concurrency` handlers in flight, and the limit is reached', async () => {
  for (const concurrency of [1, 3, 8]) {
    const pool = new Pool({ concurrency });
    let inFlight = 0;
    let peak = 0;
    const report = await pool.runBatch(sqs(30), async () => {
      peak = Math.max(peak, ++inFlight);
      await delay(2);
      inFlight--;
    });
    assert.equal(peak, concurrency);
    assert.equal(report.summary.peakInFlight, concurrency);
  }
});

test('retries: the handler is called again; the report keeps the last error', async () => {
  const pool = new Pool({ concurrency: 2 });
  const calls = {};
  const report = await pool.runBatch(
    sqs(3),
    (record) => {
      const n = (calls[record.messageId] = (calls[record.messageId] || 0) + 1);
      if (record.messageId === 'm0') throw new Error(`attempt ${n}`);
      if (record.messageId === 'm1' && n < 3) throw new Error('flaky');
    },
    { retries: 2, retryBackoffMs: 1 },
  );
  assert.deepEqual(calls, { m0: 3, m1: 3, m2: 1 });
  assert.equal(report.failures.length, 1);
  assert.equal(report.failures[0].error.message, 'attempt 3');
  assert.equal(report.failures[0].attempts, 3);
  assert.equal(report.summary.retries, 4);
});

test('EventError is a rejection before any handler or groupKey runs, naming index and field', async () => {
  const pool = new Pool();
  let ran = 0;
  const event = sqs(3);
  delete event.Records[2].messageId;
  const p = pool.process(event, () => ran++, { groupKey: () => ran++ });
  assert.ok(p instanceof Promise);
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof EventError && e instanceof TypeError);
    assert.equal(e.index, 2);
    assert.equal(e.field, 'messageId');
    assert.equal(e.message, 'record 2: field `messageId`: missing');
    return true;
  });
  assert.equal(ran, 0);
  await assert.rejects(pool.process(undefined, () => {}), (e) => e instanceof EventError && e.index === null && e.field === null);
  await assert.rejects(pool.process({ Records: [1] }, () => {}), /record 0: expected an object, got number/);
  // a getter that throws is rethrown as is
  const boom = new Error('getter');
  const tricky = { Records: [{ eventSource: 'aws:sqs', get messageId() { throw boom; } }] };
  await assert.rejects(pool.process(tricky, () => {}), (e) => e === boom);
});

test('groupKey: string and number keys make lanes, undefined is unkeyed, a throw rejects', async () => {
  const pool = new Pool({ concurrency: 8 });
  const event = sqs(6);
  event.Records.forEach((r, i) => (r.body = JSON.stringify({ tenant: i % 2 ? 7 : undefined })));
  const report = await pool.runBatch(
    event,
    (record) => {
      if (record.messageId === 'm1') throw new Error('x');
    },
    { groupKey: (r) => JSON.parse(r.body).tenant },
  );
  // tenant 7: m1 fails, m3 and m5 skipped; unkeyed m0, m2, m4 succeed
  assert.deepEqual(report.succeeded, ['m0', 'm2', 'm4']);
  assert.deepEqual(
    report.failures.map((f) => f.reason),
    ['error', 'skipped', 'skipped'],
  );
  assert.equal(report.summary.lanes, 1);
  const err = new Error('key');
  let ran = 0;
  await assert.rejects(
    pool.process(event, () => ran++, {
      groupKey: () => {
        throw err;
      },
    }),
    (e) => e === err,
  );
  await assert.rejects(pool.process(event, () => ran++, { groupKey: () => ({}) }), TypeError);
  assert.equal(ran, 0);
});

test('groupKey values are judged by the core key rule: integers are their decimal text, others an EventError', async () => {
  const pool = new Pool({ concurrency: 8 });
  const event = sqs(6);
  // 7, '7', 7n and 7.0 are one lane; '' is a key; null and undefined are unkeyed; 2^70 (a
  // bigint beyond i64) is its decimal text, the same lane as that string
  const keys = [7, '7', 7n, '', null, 2n ** 70n];
  const same = String(2n ** 70n);
  const lanesOf = async (list) => {
    const report = await pool.runBatch(
      event,
      (record) => {
        if (record.messageId === 'm0') throw new Error('first of its lane');
      },
      { groupKey: (r) => list[Number(r.messageId.slice(1))], throwOnFullBatchFailure: false },
    );
    return report;
  };
  let report = await lanesOf(keys);
  assert.deepEqual(
    report.failures.map((f) => [f.itemIdentifier, f.reason]),
    [['m0', 'error'], ['m1', 'skipped'], ['m2', 'skipped']],
  );
  assert.equal(report.summary.lanes, 3); // "7", "", "1180591620717411303424"
  report = await lanesOf([same, 1, 2, 3, 4, 2n ** 70n]);
  assert.deepEqual(report.failures.map((f) => f.itemIdentifier), ['m0', 'm5']);

  for (const [bad, shown] of [
    [7.5, 'the number 7.5'],
    [NaN, 'the number NaN'],
    [2 ** 53, 'beyond'],
    [true, 'got boolean'],
    [{ id: 1 }, 'got object'],
    [[1], 'got object'],
    [Symbol('k'), 'got symbol'],
    [() => 'k', 'got function'],
  ]) {
    const called = [];
    let ran = 0;
    await assert.rejects(
      pool.process(event, () => ran++, {
        groupKey: (r) => {
          called.push(r.messageId);
          return r.messageId === 'm2' ? bad : 'k';
        },
      }),
      (e) => {
        assert.ok(e instanceof EventError, String(e));
        assert.deepEqual([e.index, e.field], [2, 'group_key']);
        assert.match(e.message, /^record 2: field `group_key`: expected a string, an integer or null/);
        assert.ok(e.message.includes(shown), e.message);
        return true;
      },
    );
    // the first key error stops it: no later record's groupKey ran, no handler ran
    assert.deepEqual(called, ['m0', 'm1', 'm2'], String(shown));
    assert.equal(ran, 0);
  }
});

test('groupKey: a throw propagates unchanged, after the keys before it and before any later key or handler', async () => {
  const pool = new Pool();
  const event = sqs(4);
  // a proxy whose every trap throws: rethrown as is, never read
  const hostile = new Proxy({}, new Proxy({}, { get: () => () => { throw new Error('trap'); } }));
  for (const thrown of [new Error('key'), 'a string', undefined, null, 42, hostile]) {
    const called = [];
    let ran = 0;
    // (not assert.rejects, which reads what was thrown)
    const caught = await pool
      .process(event, () => ran++, {
        groupKey: (r) => {
          called.push(r.messageId);
          if (r.messageId === 'm1') throw thrown;
          return 'k';
        },
      })
      .then(
        () => ({ resolved: true }),
        (e) => ({ e }),
      );
    assert.ok(caught.e === thrown, caught.resolved ? 'resolved' : 'rejected with another value');
    assert.deepEqual(called, ['m0', 'm1']);
    assert.equal(ran, 0);
  }
  // an invalid key before the throw is the error, and the throwing function never ran
  const called = [];
  await assert.rejects(
    pool.process(event, () => {}, {
      groupKey: (r) => {
        called.push(r.messageId);
        if (r.messageId === 'm0') return false;
        throw new Error('not reached');
      },
    }),
    (e) => e instanceof EventError && e.index === 0 && e.field === 'group_key',
  );
  assert.deepEqual(called, ['m0']);
  // an event error wins: no groupKey runs
  const broken = sqs(3);
  delete broken.Records[2].messageId;
  let keys = 0;
  await assert.rejects(
    pool.process(broken, () => {}, { groupKey: () => keys++ }),
    (e) => e instanceof EventError && e.index === 2 && e.field === 'messageId',
  );
  assert.equal(keys, 0);
});

test('options are checked', async () => {
  const pool = new Pool();
  const event = sqs(1);
  await assert.rejects(pool.process(event, () => {}, { ordering: 'fifo' }), TypeError);
  await assert.rejects(pool.process(event, () => {}, { retries: -1 }), RangeError);
  await assert.rejects(pool.process(event, () => {}, { deadlineMarginMs: -5 }), RangeError);
  await assert.rejects(pool.process(event, () => {}, { concurrency: 2 }), /unknown option "concurrency"/);
  await assert.rejects(pool.process(event, 'nope'), TypeError);
});

test('BatchFailedError carries the report; throwOnFullBatchFailure false returns the response', async () => {
  const pool = new Pool();
  const event = sqs(2);
  const fail = () => {
    throw new Error('no');
  };
  await assert.rejects(pool.process(event, fail), (e) => {
    assert.ok(e instanceof BatchFailedError);
    assert.equal(e.message, 'every record of the batch failed (2 records: 2 error)');
    assert.deepEqual(e.report.response.batchItemFailures, [{ itemIdentifier: 'm0' }, { itemIdentifier: 'm1' }]);
    assert.equal(e.report.failures[0].error.message, 'no');
    assert.equal(e.report.summary.error, 2);
    return true;
  });
  assert.equal((await pool.process(event, fail, { throwOnFullBatchFailure: false })).batchItemFailures.length, 2);
  assert.deepEqual(await pool.process({ Records: [] }, fail), { batchItemFailures: [] });
});

test('Kinesis and DynamoDB events: identifiers and lanes by source', async () => {
  const pool = new Pool({ concurrency: 4 });
  const kinesis = {
    Records: ['a', 'b', 'a'].map((key, i) => ({
      eventSource: 'aws:kinesis',
      kinesis: { partitionKey: key, sequenceNumber: `4959${i}`, data: 'e30=' },
    })),
  };
  const r1 = await pool.process(kinesis, (r) => {
    if (r.kinesis.sequenceNumber === '49590') throw new Error('x');
  });
  assert.deepEqual(r1, { batchItemFailures: [{ itemIdentifier: '49590' }, { itemIdentifier: '49592' }] });
  const dynamo = {
    Records: [
      { eventSource: 'aws:dynamodb', dynamodb: { SequenceNumber: '100', Keys: { pk: { S: 'a' }, sk: { N: '1' } } } },
      { eventSource: 'aws:dynamodb', dynamodb: { SequenceNumber: '200', Keys: { sk: { N: '1' }, pk: { S: 'a' } } } },
    ],
  };
  const r2 = await pool.runBatch(dynamo, (r) => {
    if (r.dynamodb.SequenceNumber === '100') throw new Error('x');
  }, { throwOnFullBatchFailure: false });
  assert.deepEqual(
    r2.failures.map((f) => [f.itemIdentifier, f.reason]),
    [
      ['100', 'error'],
      ['200', 'skipped'],
    ],
  );
  assert.equal(r2.summary.source, 'aws:dynamodb');
});

test('logSummary prints the core’s JSON summary line', async (t) => {
  const pool = new Pool();
  const lines = [];
  t.mock.method(process.stdout, 'write', (chunk) => {
    lines.push(String(chunk));
    return true;
  });
  await pool.process(sqs(3), () => {}, { logSummary: true });
  t.mock.restoreAll();
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]);
  assert.equal(line.message, 'lanepool batch summary');
  assert.equal(line.records, 3);
  assert.equal(line.succeeded, 3);
});

test('a call whose settling throws rejects with that error (it does not hang)', async (t) => {
  const pool = new Pool();
  const broken = new Error('stdout is gone');
  const write = process.stdout.write.bind(process.stdout);
  t.mock.method(process.stdout, 'write', (/** @type {any} */ chunk, /** @type {any[]} */ ...rest) => {
    if (String(chunk).includes('lanepool batch summary')) throw broken;
    return write(chunk, ...rest);
  });
  const settled = pool.process(sqs(3), () => {}, { logSummary: true }).then(
    () => 'resolved',
    (error) => error,
  );
  const outcome = await Promise.race([settled, delay(2000).then(() => 'still pending')]);
  t.mock.restoreAll();
  assert.equal(outcome, broken);
});

test('handlers that spawn nested scope tasks', async () => {
  const pool = new Pool({ concurrency: 2 });
  const done = [];
  const report = await pool.runBatch(sqs(4, () => 'g'), async (record) => {
    await pool.scope(async (s) => {
      s.spawn(async () => {
        await delay(1);
        s.spawn(async () => {
          await delay(1);
          done.push(`${record.messageId}.inner`);
        });
        done.push(`${record.messageId}.outer`);
      });
    });
    done.push(record.messageId);
    if (record.messageId === 'm2') {
      await pool.scope((s) => {
        s.spawn(() => {
          throw new Error('nested');
        });
      });
    }
  });
  // every nested task finished before its record's handler went on (lane order kept)
  assert.deepEqual(done, ['m0.outer', 'm0.inner', 'm0', 'm1.outer', 'm1.inner', 'm1', 'm2.outer', 'm2.inner', 'm2']);
  assert.equal(report.failures[0].error.constructor, AggregateError);
  assert.equal(report.failures[0].error.errors[0].message, 'nested');
  assert.deepEqual(
    report.failures.map((f) => [f.itemIdentifier, f.reason]),
    [
      ['m2', 'error'],
      ['m3', 'skipped'],
    ],
  );
});

test('batches on one pool run side by side, each with its own limit', async () => {
  const pool = new Pool({ concurrency: 2 });
  let inFlight = 0;
  let peak = 0;
  const h = async () => {
    peak = Math.max(peak, ++inFlight);
    await delay(3);
    inFlight--;
  };
  const [a, b] = await Promise.all([pool.process(sqs(6), h), pool.process(sqs(6), h)]);
  assert.deepEqual(a, { batchItemFailures: [] });
  assert.deepEqual(b, { batchItemFailures: [] });
  assert.equal(peak, 4);
});

test('identifiers of any length and non-ASCII text are read exactly', async () => {
  const pool = new Pool({ concurrency: 4 });
  const ids = [];
  for (let n = 118; n <= 132; n++) ids.push('x'.repeat(n - 2) + 'é'); // é is 2 bytes in UTF-8
  for (let n = 118; n <= 132; n++) ids.push('y'.repeat(n - 3) + '€'); // € is 3 bytes
  ids.push('😀'.repeat(40), 'ü', 'a'.repeat(5000));
  const event = { Records: ids.map((id) => ({ eventSource: 'aws:sqs', messageId: id, attributes: { MessageGroupId: id } })) };
  const report = await pool.runBatch(event, () => {}, {});
  assert.deepEqual(report.succeeded, ids);
  const failed = await pool.process(event, () => {
    throw new Error('x');
  }, { throwOnFullBatchFailure: false });
  assert.deepEqual(failed.batchItemFailures.map((f) => f.itemIdentifier), ids);
});

test("every handler runs in the caller's AsyncLocalStorage context, also those started later", async () => {
  const { AsyncLocalStorage } = require('node:async_hooks');
  const store = new AsyncLocalStorage();
  const event = sqs(40, (i) => `g${i % 3}`);
  for (const [name, pool, handler] of [
    ['async, awaiting', new Pool({ concurrency: 4 }), async () => { await delay(0); return store.getStore(); }],
    ['async, at once', new Pool({ concurrency: 4 }), async () => store.getStore()],
    ['sync', new Pool({ concurrency: 4 }), () => store.getStore()],
    // A call that waits for a slot of the pool's limit is woken by another call's driver.
    ['async, limited', new Pool({ concurrency: 4, maxInFlight: 2 }), async () => { await delay(0); return store.getStore(); }],
  ]) {
    /** @type {unknown[]} */
    const seen = [];
    const run = (id) =>
      store.run(id, () =>
        pool.process(event, async (record) => {
          seen.push([id, await handler(record)]);
        }),
      );
    await Promise.all([run('a'), run('b')]);
    assert.equal(seen.length, 80, name);
    for (const [id, got] of seen) assert.equal(got, id, name);
  }
});
