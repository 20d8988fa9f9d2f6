'use strict';
// Shared test helpers: the vectors' test handler, lane of a record, lane assertions, a seeded PRNG.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const VECTORS = path.resolve(__dirname, '../../tests/vectors');

function loadVectors() {
  return fs
    .readdirSync(VECTORS)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, ...JSON.parse(fs.readFileSync(path.join(VECTORS, file), 'utf8')) }));
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the thread (for plain sync handlers). */
function blockFor(ms) {
  if (ms > 0) Atomics.wait(sleepCell, 0, 0, ms);
}
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const { setTimeout: abortableSleep } = require('node:timers/promises');

function dotted(value, dottedPath) {
  let v = value;
  for (const part of dottedPath.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = v[part];
  }
  return v;
}

/** Whether a record is a Kafka event's record (they carry no eventSource of their own). */
function isKafkaRecord(record) {
  return record !== null && typeof record === 'object' && record.eventSource === undefined && typeof record.topic === 'string';
}

/** A record's identifier as the vectors write it (a Kafka record: "<topic>-<partition>@<offset>"). */
function identifierOf(record) {
  if (isKafkaRecord(record)) return `${record.topic}-${record.partition}@${record.offset}`;
  switch (record.eventSource) {
    case 'aws:kinesis':
      return record.kinesis.sequenceNumber;
    case 'aws:dynamodb':
      return record.dynamodb.SequenceNumber;
    default:
      return record.messageId;
  }
}

function canonicalKeys(keys) {
  return JSON.stringify(
    Object.keys(keys)
      .sort()
      .map((k) => [k, keys[k]]),
  );
}

/**
 * An identifier of a report or response as text: a string as is, a Kafka object
 * `{ partition, offset }` as "<partition>@<offset>" (how the vectors write it). Asserts the
 * object's shape: exactly those two members, a string and a non-negative integer number.
 */
function identifierText(id) {
  if (typeof id === 'string') return id;
  assert.ok(id !== null && typeof id === 'object', `identifier ${String(id)}`);
  assert.deepEqual(Object.keys(id), ['partition', 'offset'], `identifier ${JSON.stringify(id)}`);
  assert.equal(typeof id.partition, 'string');
  assert.ok(Number.isSafeInteger(id.offset) && id.offset >= 0, `offset ${id.offset}`);
  return `${id.partition}@${id.offset}`;
}

/** The lane of a record by the vectors' README (rule 5); undefined: unkeyed. */
function laneOf(record, options) {
  if (options.group_key) {
    const v = dotted(record, options.group_key);
    return v === null || v === undefined ? undefined : `custom:${v}`;
  }
  if (options.ordering === 'unordered') return undefined;
  if (isKafkaRecord(record)) {
    const partition = `kafka:${record.topic}-${record.partition}`;
    if (options.ordering !== 'key') return partition;
    // one lane per (topic-partition, key); no key (absent or null) is one lane per partition
    return record.key === undefined || record.key === null ? `${partition}/nokey` : `${partition}/key:${record.key}`;
  }
  switch (record.eventSource) {
    case 'aws:sqs': {
      const g = dotted(record, 'attributes.MessageGroupId');
      return g === undefined || g === null ? undefined : `sqs:${g}`;
    }
    case 'aws:kinesis':
      return `kinesis:${record.kinesis.partitionKey}`;
    case 'aws:dynamodb':
      return `dynamodb:${canonicalKeys(record.dynamodb.Keys)}`;
    default:
      return undefined;
  }
}

/**
 * The vectors' test handler: per attempt sleeps, then fails per fail_always / fail_attempts.
 * Records every call (record index, start, end; the end in `finally`, so a call that failed or
 * observed its cancellation has one too). `mode`: 'async' (sleeps are timers given the
 * handler's AbortSignal, so the deadline cancels them) or 'sync' (blocking sleeps).
 */
function vectorHandler(spec, records, mode) {
  const calls = [];
  const counts = new Map();
  const index = new Map(records.map((r, i) => [r, i]));
  const failAlways = new Set(spec.fail_always || []);
  const failAttempts = spec.fail_attempts || {};
  const sleeps = spec.sleep_ms || {};
  // `sleep_attempts_ms`: per attempt (the last repeating), before `sleep_ms`.
  const perAttempt = spec.sleep_attempts_ms || {};
  const sleepOf = (id, attempt) => {
    const list = perAttempt[id];
    if (Array.isArray(list) && list.length > 0) return list[Math.min(attempt, list.length) - 1];
    return sleeps[id] ?? spec.default_sleep_ms ?? 0;
  };
  const verdict = (id, attempt) => failAlways.has(id) || attempt <= (failAttempts[id] || 0);
  const begin = (record) => {
    const id = identifierOf(record);
    const attempt = (counts.get(id) || 0) + 1;
    counts.set(id, attempt);
    const call = { i: index.get(record), id, attempt, start: performance.now(), end: NaN };
    calls.push(call);
    return call;
  };
  const handler =
    mode === 'sync'
      ? (record) => {
          const call = begin(record);
          blockFor(sleepOf(call.id, call.attempt));
          call.end = performance.now();
          if (verdict(call.id, call.attempt)) throw new Error(`fail ${call.id} attempt ${call.attempt}`);
        }
      : async (record, { signal }) => {
          const call = begin(record);
          try {
            const ms = sleepOf(call.id, call.attempt);
            if (ms > 0) await abortableSleep(ms, undefined, { signal });
            else await null;
            if (verdict(call.id, call.attempt)) throw new Error(`fail ${call.id} attempt ${call.attempt}`);
          } finally {
            call.end = performance.now();
          }
        };
  return { handler, calls, counts };
}

/** Rule 5: no two calls of one lane overlap, and each lane's records start in event order. */
function assertLaneDiscipline(calls, lanes, label = '') {
  const byLane = new Map();
  for (const c of calls) {
    const lane = lanes[c.i];
    if (lane === undefined) continue;
    if (!byLane.has(lane)) byLane.set(lane, []);
    byLane.get(lane).push(c);
  }
  for (const [lane, list] of byLane) {
    list.sort((a, b) => a.start - b.start || a.i - b.i);
    for (let k = 1; k < list.length; k++) {
      const prev = list[k - 1];
      const cur = list[k];
      assert.ok(
        cur.start >= prev.end,
        `${label}lane ${lane}: record ${cur.i} started at ${cur.start} before record ${prev.i} ended at ${prev.end}`,
      );
      assert.ok(cur.i >= prev.i, `${label}lane ${lane}: record ${cur.i} started after record ${prev.i}`);
    }
  }
}

/** mulberry32: a small seeded PRNG. */
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)); // inclusive
  next.pick = (arr) => arr[Math.floor(next() * arr.length)];
  return next;
}

function sqsRecord(id, group, body = '{}') {
  const r = {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1700000000000',
      SenderId: 'AIDAIENQZJOLO23YVJ4VO',
      ApproximateFirstReceiveTimestamp: '1700000000040',
    },
    messageAttributes: {},
    md5OfBody: '00000000000000000000000000000000',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-2:123456789012:orders.fifo',
    awsRegion: 'us-east-2',
  };
  if (group !== undefined) {
    r.attributes.MessageGroupId = group;
    r.attributes.MessageDeduplicationId = `d-${id}`;
    r.attributes.SequenceNumber = '18849496460467696128';
  }
  return r;
}

/**
 * A Lambda context whose remaining time runs down from `remainingMs`. Signed, as a Lambda
 * Managed Instances context reports it: once the time is up it is negative, not 0 (so the
 * vectors' negative remaining times reach the face as they are).
 */
function contextWith(remainingMs) {
  const deadline = performance.now() + remainingMs;
  return {
    functionName: 'test',
    awsRequestId: 'req-1',
    getRemainingTimeInMillis: () => Math.round(deadline - performance.now()),
  };
}

module.exports = {
  loadVectors,
  blockFor,
  delay,
  dotted,
  identifierOf,
  identifierText,
  isKafkaRecord,
  laneOf,
  vectorHandler,
  assertLaneDiscipline,
  rng,
  sqsRecord,
  contextWith,
};
