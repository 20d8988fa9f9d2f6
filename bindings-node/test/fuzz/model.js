'use strict';
// A small reference model of the identifier and lane-key rules of tests/vectors/README.md (and
// the core's crate docs), independent of lanepool: what `process` must answer for a JSON event.

const SOURCES = {
  'aws:sqs': { id: 'messageId', lane: 'attributes.MessageGroupId' },
  'aws:kinesis': { id: 'kinesis.sequenceNumber', lane: 'kinesis.partitionKey' },
  'aws:dynamodb': { id: 'dynamodb.SequenceNumber', lane: 'dynamodb.Keys' },
};

/**
 * Strings cross into the core as UTF-8, so a lone surrogate (JSON can spell one, "\\udc00";
 * AWS identifiers never hold one) becomes U+FFFD in identifiers and lane keys.
 */
const wellFormed = (s) => s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Follows a dotted path; undefined when a step is absent or its parent is not an object. */
function lookup(value, path) {
  let v = value;
  for (const part of path.split('.')) {
    if (!isObject(v) || !Object.prototype.hasOwnProperty.call(v, part)) return undefined;
    v = v[part];
  }
  return v;
}

class ModelError {
  constructor(index, field, group = null) {
    this.index = index;
    this.field = field;
    this.group = group;
  }
}

/** The canonical form of DynamoDB Keys (name-sorted one-tag string attributes), or throws. */
function canonicalKeys(keys, index) {
  const bad = () => new ModelError(index, 'dynamodb.Keys');
  if (!isObject(keys)) throw bad();
  const names = Object.keys(keys);
  if (names.length === 0) throw bad();
  const attrs = names.map((name) => {
    const attr = keys[name];
    if (!isObject(attr)) throw bad();
    const tags = Object.keys(attr);
    if (tags.length !== 1 || typeof attr[tags[0]] !== 'string') throw bad();
    return [name, tags[0], attr[tags[0]]].map(wellFormed);
  });
  return JSON.stringify(attrs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

const KAFKA_SOURCES = new Set(['aws:kafka', 'SelfManagedKafka', 'aws:SelfManagedKafka']);

/** A Kafka partition or offset: a number holding a non-negative integer exactly, or throws. */
function kafkaInteger(record, index, field) {
  const v = lookup(record, field);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ModelError(index, field);
  return v === 0 ? 0 : v; // -0 is 0
}

/**
 * A Kafka event by the rules: records in `records` key order, then array order; identifiers
 * `{ partition: "<topic>-<partition>", offset }`; lanes by topic-partition (ordering 'key': and
 * the record key, no key being one lane per partition).
 */
function decodeKafka(event, ordering) {
  const groups = event.records;
  if (groups === undefined) throw new ModelError(null, 'records');
  if (!isObject(groups)) throw new ModelError(null, 'records');
  const names = Object.keys(groups);
  for (const name of names) {
    if (!Array.isArray(groups[name])) throw new ModelError(null, 'records', name);
  }
  const ids = [];
  const lanes = [];
  let index = 0;
  for (const name of names) {
    for (const record of groups[name]) {
      const at = (field) => new ModelError(index, field, name);
      if (!isObject(record)) throw at(null);
      const topic = lookup(record, 'topic');
      if (typeof topic !== 'string' || topic === '') throw at('topic');
      let partition;
      let offset;
      try {
        partition = kafkaInteger(record, index, 'partition');
        offset = kafkaInteger(record, index, 'offset');
      } catch (e) {
        throw at(e.field);
      }
      const tp = wellFormed(`${topic}-${partition}`);
      const group = wellFormed(name);
      if (group !== tp) throw at(group.startsWith(`${wellFormed(topic)}-`) ? 'partition' : 'topic');
      ids.push({ partition: tp, offset });
      if (ordering === 'unordered') lanes.push(undefined);
      else if (ordering !== 'key') lanes.push(`kafka:${tp}`);
      else {
        const key = lookup(record, 'key');
        if (key === undefined || key === null) lanes.push(`kafka:${tp}\0-`);
        else if (typeof key === 'string') lanes.push(`kafka:${tp}\0+${wellFormed(key)}`);
        else throw at('key');
      }
      index++;
    }
  }
  return { ids, lanes };
}

/**
 * Decodes `event` by the rules: `{ ids, lanes }` (lane undefined: unkeyed) or
 * `{ error: { index, field, group } }` for the first problem in record order (`group`: the
 * Kafka `records` key it is in, else null).
 */
function decode(event, ordering) {
  try {
    if (!isObject(event)) throw new ModelError(null, null);
    const records = event.Records;
    if (records === undefined && KAFKA_SOURCES.has(event.eventSource)) return decodeKafka(event, ordering);
    if (!Array.isArray(records)) throw new ModelError(null, 'Records');
    const ids = [];
    const lanes = [];
    let first;
    records.forEach((record, index) => {
      if (!isObject(record)) throw new ModelError(index, null);
      const source = lookup(record, 'eventSource');
      // (a Kafka source inside Records is named too: a Kafka event has no Records)
      if (typeof source !== 'string' || !(source in SOURCES) || (first !== undefined && source !== first)) {
        throw new ModelError(index, 'eventSource');
      }
      first ??= source;
      const rule = SOURCES[source];
      const id = lookup(record, rule.id);
      if (typeof id !== 'string' || id === '') throw new ModelError(index, rule.id);
      ids.push(wellFormed(id));
      if (ordering === 'unordered') {
        lanes.push(undefined);
        return;
      }
      const key = lookup(record, rule.lane);
      if (source === 'aws:sqs') {
        if (key === undefined || key === null) lanes.push(undefined);
        else if (typeof key === 'string') lanes.push(`sqs:${wellFormed(key)}`);
        else throw new ModelError(index, rule.lane);
      } else if (source === 'aws:kinesis') {
        if (typeof key !== 'string') throw new ModelError(index, rule.lane);
        lanes.push(`kinesis:${wellFormed(key)}`);
      } else {
        if (key === undefined) throw new ModelError(index, rule.lane);
        lanes.push(`dynamodb:${canonicalKeys(key, index)}`);
      }
    });
    return { ids, lanes };
  } catch (e) {
    if (e instanceof ModelError) return { error: { index: e.index, field: e.field, group: e.group } };
    throw e;
  }
}

/**
 * The outcome of a decoded batch whose handler fails the records in `fails` (no retries, no
 * deadline): a failed record skips the later records of its lane. `{ batchItemFailures,
 * allFailed }` (allFailed: no record of a non-empty batch succeeded).
 */
function respond({ ids, lanes }, fails) {
  const failedLanes = new Set();
  const batchItemFailures = [];
  let succeeded = 0;
  ids.forEach((id, i) => {
    const lane = lanes[i];
    if (lane !== undefined && failedLanes.has(lane)) {
      batchItemFailures.push({ itemIdentifier: id });
    } else if (fails(i)) {
      batchItemFailures.push({ itemIdentifier: id });
      if (lane !== undefined) failedLanes.add(lane);
    } else {
      succeeded++;
    }
  });
  return { batchItemFailures, allFailed: ids.length > 0 && succeeded === 0 };
}

module.exports = { decode, respond, lookup };
