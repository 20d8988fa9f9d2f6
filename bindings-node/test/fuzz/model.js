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
  constructor(index, field) {
    this.index = index;
    this.field = field;
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

/**
 * Decodes `event` by the rules: `{ ids, lanes }` (lane undefined: unkeyed) or
 * `{ error: { index, field } }` for the first problem in record order.
 */
function decode(event, ordering) {
  try {
    if (!isObject(event)) throw new ModelError(null, null);
    const records = event.Records;
    if (!Array.isArray(records)) throw new ModelError(null, 'Records');
    const ids = [];
    const lanes = [];
    let first;
    records.forEach((record, index) => {
      if (!isObject(record)) throw new ModelError(index, null);
      const source = lookup(record, 'eventSource');
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
    if (e instanceof ModelError) return { error: { index: e.index, field: e.field } };
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
