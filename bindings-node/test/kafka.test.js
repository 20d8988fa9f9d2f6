'use strict';
// Kafka events beyond the vectors: the caller's own record objects in event order, identifiers,
// ordering 'key', offsets up to 2^53 - 1, errors naming the group, and what is refused.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Pool, EventError } = require('lanepool');
const { sqsRecord } = require('./helpers');

const b64 = (s) => Buffer.from(s).toString('base64');
const rec = (topic, partition, offset, key) => ({
  topic,
  partition,
  offset,
  timestamp: 1700000000000,
  timestampType: 'CREATE_TIME',
  ...(key === undefined ? {} : { key: key === null ? null : b64(key) }),
  value: b64('{}'),
  headers: [],
});

test("handlers get the caller's own Kafka records (===), in the records object's key order", async () => {
  const event = {
    eventSource: 'aws:kafka',
    records: {
      'zeta-3': [rec('zeta', 3, 7), rec('zeta', 3, 8)],
      'alpha-0': [rec('alpha', 0, 1)],
      'alpha-10': [rec('alpha', 10, 2)],
    },
  };
  const expected = Object.values(event.records).flat();
  const seen = [];
  const report = await new Pool({ concurrency: 1 }).runBatch(event, (record) => {
    seen.push(record);
  });
  assert.equal(seen.length, 4);
  seen.forEach((r, i) => assert.ok(r === expected[i], `record ${i} is the caller's object`));
  assert.deepEqual(report.succeeded, [
    { partition: 'zeta-3', offset: 7 },
    { partition: 'zeta-3', offset: 8 },
    { partition: 'alpha-0', offset: 1 },
    { partition: 'alpha-10', offset: 2 },
  ]);
  assert.equal(report.summary.lanes, 3);
});

test('identifiers: offsets up to 2^53 - 1 stay exact numbers; process resolves to Lambda’s Kafka shape', async () => {
  const big = Number.MAX_SAFE_INTEGER;
  const event = { eventSource: 'SelfManagedKafka', records: { 't-0': [rec('t', 0, big - 1), rec('t', 0, big)] } };
  const response = await new Pool().process(
    event,
    (r) => {
      if (r.offset === big - 1) throw new Error('x');
    },
    { throwOnFullBatchFailure: false },
  );
  assert.deepEqual(response, {
    batchItemFailures: [{ itemIdentifier: { partition: 't-0', offset: big - 1 } }, { itemIdentifier: { partition: 't-0', offset: big } }],
  });
  assert.equal(JSON.stringify(response.batchItemFailures[1]), `{"itemIdentifier":{"partition":"t-0","offset":${big}}}`);
  // beyond 2^53 - 1 an offset is not exact in a JavaScript number: refused, naming it
  const beyond = { eventSource: 'aws:kafka', records: { 't-0': [rec('t', 0, 2 ** 53)] } };
  await assert.rejects(new Pool().process(beyond, () => {}), (e) => e instanceof EventError && e.field === 'offset');
});

test("ordering 'key': a failure skips the rest of its key lane only; no key is one lane per partition", async () => {
  const event = {
    eventSource: 'aws:kafka',
    records: {
      'o-0': [rec('o', 0, 1, 'a'), rec('o', 0, 2, 'b'), rec('o', 0, 3, 'a'), rec('o', 0, 4, null), rec('o', 0, 5), rec('o', 0, 6, '')],
      'o-1': [rec('o', 1, 1, 'a')],
    },
  };
  const fail = new Set(['o-0@1', 'o-0@4']);
  const handler = (r) => {
    if (fail.has(`${r.topic}-${r.partition}@${r.offset}`)) throw new Error('x');
  };
  const byKey = await new Pool().runBatch(event, handler, { ordering: 'key' });
  assert.deepEqual(
    byKey.failures.map((f) => [f.itemIdentifier.offset, f.reason]),
    [[1, 'error'], [3, 'skipped'], [4, 'error'], [5, 'skipped']],
  );
  assert.equal(byKey.summary.lanes, 5); // o-0: a, b, no key, ''; o-1: a
  const byPartition = await new Pool().runBatch(event, handler, { ordering: 'auto' });
  assert.deepEqual(
    byPartition.failures.map((f) => [f.itemIdentifier.offset, f.reason]),
    [[1, 'error'], [2, 'skipped'], [3, 'skipped'], [4, 'skipped'], [5, 'skipped'], [6, 'skipped']],
  );
  // a key that is not a string is refused with ordering 'key' only
  event.records['o-1'][0].key = 12;
  await assert.rejects(new Pool().process(event, () => {}, { ordering: 'key' }), (e) => {
    assert.ok(e instanceof EventError);
    assert.deepEqual([e.index, e.field, e.group], [6, 'key', 'o-1']);
    assert.match(e.message, /^record 6 \(records\["o-1"\]\): field `key`/);
    return true;
  });
  await new Pool().process(event, () => {});
});

test("ordering 'key' is 'auto' for other sources; other orderings are refused, naming the choices", async () => {
  const event = { Records: [sqsRecord('m0', 'g'), sqsRecord('m1', 'g'), sqsRecord('m2', 'h')] };
  const handler = (r) => {
    if (r.messageId === 'm0') throw new Error('x');
  };
  const key = await new Pool().process(event, handler, { ordering: 'key' });
  const auto = await new Pool().process(event, handler, { ordering: 'auto' });
  assert.deepEqual(key, auto);
  assert.deepEqual(key.batchItemFailures.map((f) => f.itemIdentifier), ['m0', 'm1']);
  await assert.rejects(
    new Pool().process(event, handler, { ordering: 'partition' }),
    (e) => e instanceof TypeError && /'auto', 'unordered' or 'key', got partition/.test(e.message),
  );
});

test('a malformed Kafka event is an EventError naming index, field and group, before any handler', async () => {
  let ran = 0;
  const bad = { eventSource: 'aws:kafka', records: { 'o-0': [rec('o', 0, 1)], 'o-1': [rec('o', 1, 1), { topic: 'o', partition: 1 }] } };
  await assert.rejects(new Pool().process(bad, () => ran++), (e) => {
    assert.ok(e instanceof EventError && e instanceof TypeError);
    assert.deepEqual([e.index, e.field, e.group], [2, 'offset', 'o-1']);
    assert.equal(e.message, 'record 2 (records["o-1"]): field `offset`: missing');
    return true;
  });
  await assert.rejects(new Pool().process({ eventSource: 'aws:kafka' }, () => ran++), (e) => {
    assert.deepEqual([e.index, e.field, e.group], [null, 'records', null]);
    return true;
  });
  // a Kafka record inside Records is named for what it is
  await assert.rejects(new Pool().process({ Records: [{ eventSource: 'aws:kafka', ...rec('o', 0, 1) }] }, () => ran++), (e) => {
    assert.deepEqual([e.index, e.field], [0, 'eventSource']);
    assert.match(e.message, /Kafka event's own source/);
    return true;
  });
  assert.equal(ran, 0);
});

test('groupKey on Kafka records: the key rule, lanes across partitions, a throw unchanged', async () => {
  const event = { eventSource: 'aws:kafka', records: { 'o-0': [rec('o', 0, 1, 'a'), rec('o', 0, 2, 'b')], 'o-1': [rec('o', 1, 9, 'a')] } };
  const report = await new Pool().runBatch(
    event,
    (r) => {
      if (r.offset === 1) throw new Error('x');
    },
    { groupKey: (r) => r.key },
  );
  assert.deepEqual(report.response.batchItemFailures.map((f) => f.itemIdentifier), [
    { partition: 'o-0', offset: 1 },
    { partition: 'o-1', offset: 9 },
  ]);
  await assert.rejects(new Pool().process(event, () => {}, { groupKey: (r) => r.offset / 2 }), (e) => {
    assert.deepEqual([e.index, e.field], [0, 'group_key']);
    return true;
  });
});

test("a handler that empties event.records changes nothing for the others", async () => {
  const event = { eventSource: 'aws:kafka', records: { 'o-0': [rec('o', 0, 1), rec('o', 0, 2)], 'o-1': [rec('o', 1, 1)] } };
  const all = Object.values(event.records).flat();
  const seen = [];
  await new Pool({ concurrency: 1 }).process(event, (r) => {
    seen.push(r);
    event.records = {};
  });
  assert.deepEqual(seen, all);
  assert.ok(seen.every((r, i) => r === all[i]));
});

test('hostile Kafka events: what a getter or proxy throws is rethrown as is, before any handler', async () => {
  let ran = 0;
  const boom = new Error('boom');
  const cases = {
    'records is a proxy whose ownKeys throws': { eventSource: 'aws:kafka', records: new Proxy({}, { ownKeys() { throw boom; } }) },
    'an offset getter throws': {
      eventSource: 'aws:kafka',
      records: { 'o-0': [{ topic: 'o', partition: 0, get offset() { throw boom; } }] },
    },
    'a group getter throws': {
      eventSource: 'aws:kafka',
      records: Object.defineProperty({}, 'o-0', { enumerable: true, get() { throw boom; } }),
    },
  };
  for (const [name, event] of Object.entries(cases)) {
    await assert.rejects(new Pool().process(event, () => ran++), (e) => e === boom, name);
  }
  assert.equal(ran, 0);
  // a group that grows on every read is read once: the records decoded are the ones run
  let reads = 0;
  const growing = {
    eventSource: 'aws:kafka',
    records: Object.defineProperty({}, 'o-0', {
      enumerable: true,
      get: () => Array.from({ length: ++reads }, (_, i) => rec('o', 0, i)),
    }),
  };
  /** @type {unknown[]} */
  const seen = [];
  const report = await new Pool().runBatch(growing, (r) => {
    seen.push(r.offset);
  });
  assert.deepEqual(seen, [0]);
  assert.deepEqual(report.succeeded, [{ partition: 'o-0', offset: 0 }]);
  assert.equal(reads, 1);
  // decoded live (a proxy group), it is read twice and named when the reads disagree
  reads = 0;
  const growingLive = {
    eventSource: 'aws:kafka',
    records: Object.defineProperty({}, 'o-0', {
      enumerable: true,
      get: () => new Proxy(Array.from({ length: ++reads }, (_, i) => rec('o', 0, i)), {}),
    }),
  };
  await assert.rejects(new Pool().process(growingLive, () => ran++), (e) => e instanceof EventError && e.field === 'records');
  assert.equal(ran, 0);
});

test('a group key with an unpaired surrogate is named as the event has it', async () => {
  const key = 'o\udc00-0';
  const event = { eventSource: 'aws:kafka', records: { [key]: null } };
  await assert.rejects(new Pool().process(event, () => {}), (e) => e instanceof EventError && e.group === key && e.field === 'records');
});
