'use strict';
// A seeded generator of Lambda events for fuzzing: random JSON values, and valid SQS, SQS FIFO,
// Kinesis, DynamoDB and Kafka events with fields removed, retyped, emptied or made huge.

const helpers = require('../helpers');

/** The tests' seeded PRNG (mulberry32, with `int` and `pick`) plus `chance(p)`. */
function rng(seed) {
  const next = helpers.rng(seed);
  next.chance = (p) => next() < p;
  return next;
}

const ALPHABET = ['a', 'b', 'Z', '0', '-', ' ', '.', '"', '\\', '\u00e9', '\u4e2d', '\ud83d\ude00', '\udc00', '\u0000', '\n'];

function randomString(r, max = 12) {
  let s = '';
  const n = r.int(0, max);
  for (let i = 0; i < n; i++) s += r.pick(ALPHABET);
  return s;
}

/** A random JSON value (depth-limited). */
function randomJson(r, depth = 0) {
  const k = r.int(0, depth > 3 ? 4 : 6);
  switch (k) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.pick([0, -1, 1.5, 1e308, -0, 42, Number.MAX_SAFE_INTEGER]);
    case 3:
    case 4:
      return randomString(r);
    case 5:
      return Array.from({ length: r.int(0, 4) }, () => randomJson(r, depth + 1));
    default: {
      const o = {};
      const n = r.int(0, 4);
      for (let i = 0; i < n; i++) {
        const key = r.chance(0.3) ? r.pick(['Records', 'eventSource', 'messageId', 'kinesis', 'dynamodb']) : randomString(r, 6);
        o[key] = randomJson(r, depth + 1);
      }
      return o;
    }
  }
}

const huge = (r) => 'H'.repeat(r.int(100_000, 2_000_000));

function sqs(r, i, fifo, groups) {
  const rec = {
    messageId: `m${i}-${randomString(r, 3)}`,
    receiptHandle: `rh${i}`,
    body: randomString(r, 20),
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1700000000000' },
    messageAttributes: {},
    md5OfBody: '0',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:1:q',
    awsRegion: 'us-east-1',
  };
  if (fifo && r.chance(0.9)) rec.attributes.MessageGroupId = r.pick(groups);
  return rec;
}

function kinesis(r, i, groups) {
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: r.pick(groups),
      sequenceNumber: `4959${i}${r.int(0, 1e6)}`,
      data: 'e30=',
      approximateArrivalTimestamp: 1700000000.5,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `shardId-000:${i}`,
    eventName: 'aws:kinesis:record',
    awsRegion: 'us-east-1',
  };
}

function dynamodb(r, i, groups) {
  const keys = { Id: { N: r.pick(groups) } };
  if (r.chance(0.5)) keys.Sort = { S: r.pick(groups) };
  // the attribute order of Keys is not part of the lane
  const ordered = r.chance(0.5) ? keys : Object.fromEntries(Object.entries(keys).reverse());
  return {
    eventID: `e${i}`,
    eventName: r.pick(['INSERT', 'MODIFY', 'REMOVE']),
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    dynamodb: { Keys: ordered, SequenceNumber: `${100 + i}${r.int(0, 99)}`, SizeBytes: 26, StreamViewType: 'KEYS_ONLY' },
  };
}

const PATHS = {
  'aws:sqs': ['messageId', 'eventSource', 'attributes', 'attributes.MessageGroupId', 'body'],
  'aws:kinesis': ['kinesis', 'kinesis.sequenceNumber', 'kinesis.partitionKey', 'eventSource', 'kinesis.data'],
  'aws:dynamodb': ['dynamodb', 'dynamodb.SequenceNumber', 'dynamodb.Keys', 'dynamodb.Keys.Id', 'dynamodb.Keys.Id.N', 'eventSource'],
};

/** Removes, retypes, empties or enlarges the value at `path` of `obj`. */
function mutate(r, obj, path) {
  const parts = path.split('.');
  let parent = obj;
  for (const p of parts.slice(0, -1)) {
    if (parent === null || typeof parent !== 'object') return;
    parent = parent[p];
  }
  if (parent === null || typeof parent !== 'object') return;
  const key = parts[parts.length - 1];
  const action = r.int(0, 5);
  if (action === 0) delete parent[key];
  else if (action === 1) parent[key] = randomJson(r);
  else if (action === 2) parent[key] = r.pick(['', {}, [], null]);
  else if (action === 3) parent[key] = huge(r);
  else if (action === 4) parent[key] = r.pick(['aws:sqs', 'aws:kinesis', 'aws:dynamodb', 'aws:s3', 'AWS:SQS', 'aws:kafka', 7, -1, 1.5, 2 ** 53]);
  else parent[key] = Object.fromEntries(Array.from({ length: r.int(1, 2000) }, (_, k) => [`k${k}`, { S: `${k}` }]));
}

const KAFKA_PATHS = ['topic', 'partition', 'offset', 'key', 'value'];
const TOPICS = ['orders', 'pay.ments', 'a-b', 'x_1'];

/** A Kafka event (MSK or self-managed), mutated like the others, or in its groups. */
function kafka(r) {
  const eventSource = r.pick(['aws:kafka', 'SelfManagedKafka', 'aws:SelfManagedKafka']);
  const records = {};
  const all = [];
  for (let g = r.int(0, 4); g > 0; g--) {
    const topic = r.pick(TOPICS);
    const partition = r.int(0, 12);
    let offset = r.chance(0.1) ? Number.MAX_SAFE_INTEGER - 20 : r.int(0, 1e6);
    const keys = Array.from({ length: r.int(1, 3) }, () => randomString(r, 4));
    const list = Array.from({ length: r.int(0, 6) }, () => {
      const rec = { topic, partition, offset: (offset += r.int(1, 3)), timestamp: 1700000000000, timestampType: 'CREATE_TIME', value: 'e30=', headers: [] };
      const k = r.int(0, 4);
      if (k === 0) rec.key = null;
      else if (k > 1) rec.key = r.pick(keys);
      return rec;
    });
    records[`${topic}-${partition}`] = list;
    all.push(...list);
  }
  const event = { eventSource, bootstrapServers: 'b-1:9092', records };
  const mutations = r.chance(0.4) ? 0 : r.int(1, 2);
  for (let m = 0; m < mutations; m++) {
    const what = r.int(0, 9);
    if (what === 0) mutate(r, event, 'records');
    else if (what === 1) mutate(r, event, 'eventSource');
    else if (what === 2 && Object.keys(records).length > 0) {
      // a group under another key, or not an array
      const name = r.pick(Object.keys(records));
      if (r.chance(0.5)) records[`${r.pick(TOPICS)}-${r.int(0, 12)}`] = records[name];
      else records[name] = randomJson(r);
    } else if (all.length > 0) {
      const i = r.int(0, all.length - 1);
      if (r.chance(0.1)) Object.keys(all[i]).forEach((k) => delete all[i][k]);
      else mutate(r, all[i], r.pick(KAFKA_PATHS));
    }
  }
  return event;
}

/** One fuzz event: a random JSON value (10%) or a mutated valid event. */
function generate(r) {
  if (r.chance(0.1)) return randomJson(r);
  const kind = r.pick(['sqs', 'fifo', 'kinesis', 'dynamodb', 'kafka']);
  if (kind === 'kafka') return kafka(r);
  const n = r.chance(0.05) ? r.int(500, 3000) : r.int(0, 12);
  const groups = Array.from({ length: r.int(1, 4) }, () => randomString(r, 4));
  const records = Array.from({ length: n }, (_, i) =>
    kind === 'kinesis' ? kinesis(r, i, groups) : kind === 'dynamodb' ? dynamodb(r, i, groups) : sqs(r, i, kind === 'fifo', groups),
  );
  const event = { Records: records };
  const mutations = r.chance(0.3) ? 0 : r.int(1, 3);
  for (let m = 0; m < mutations; m++) {
    if (r.chance(0.15) || n === 0) {
      mutate(r, event, 'Records');
    } else {
      const i = r.int(0, n - 1);
      const source = { kinesis: 'aws:kinesis', dynamodb: 'aws:dynamodb' }[kind] ?? 'aws:sqs';
      if (r.chance(0.1)) records[i] = randomJson(r);
      else mutate(r, records[i], r.pick(PATHS[source]));
    }
  }
  return event;
}

module.exports = { rng, generate, randomJson };
