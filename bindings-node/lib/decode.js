'use strict';
// Decoding a Lambda event into the core's plan (identifiers and lanes).
//
// The core decodes every event (src/plan.rs, src/projected.rs). Reading a record's fields through
// N-API costs a property lookup per field, so for the common events JavaScript reads the few
// values the core names (`native.projection`: for each record, the kind of each value on those
// paths and the text of the strings) and the core decodes that projection with its own rules.
// Whenever the core does not accept the projection as it stands (any malformed event, anything
// unusual), the live event is decoded through N-API instead, so every error is the core's
// answer for the live object. A Kafka event (records in `records` groups, numbers read) is always
// decoded live, and the core lists its records in event order (`native.records`).

const { isProxy } = require('node:util').types;

const native = require('../binding.js');
const { EventError } = require('./errors.js');
const { applyGroupKey } = require('./group-key.js');

// Value kinds, one byte each, as src/projected.rs reads them.
const {
  K_UNDEFINED,
  K_NULL,
  K_BOOLEAN,
  K_NUMBER,
  K_STRING,
  K_ARRAY,
  K_OBJECT,
  K_FUNCTION,
  K_BIGINT,
  K_SYMBOL,
  K_STRING_AGAIN, // a string equal to the last one sent for this node (not sent again)
} = native;

/**
 * @param {unknown} v
 * @returns {number}
 */
function kindOf(v) {
  if (typeof v === 'string') return K_STRING;
  if (typeof v === 'object') return v === null ? K_NULL : Array.isArray(v) ? K_ARRAY : K_OBJECT;
  if (v === undefined) return K_UNDEFINED;
  if (typeof v === 'number') return K_NUMBER;
  if (typeof v === 'boolean') return K_BOOLEAN;
  if (typeof v === 'function') return K_FUNCTION;
  if (typeof v === 'bigint') return K_BIGINT;
  return K_SYMBOL; // the one type left
}

/** @typedef {{ m: number, parents: Int32Array, keys: string[] }} Projection */

/** ordering + eventSource -> the values the core reads (null: not projected). */
/** @type {Map<string, Projection | null>} */
const projections = new Map();

/**
 * @param {string} source
 * @param {Ordering} ordering
 * @returns {Projection | null}
 */
function projectionFor(source, ordering) {
  const id = `${ordering[0]}${source}`;
  let spec = projections.get(id);
  if (spec === undefined) {
    const flat = native.projection(source, ordering);
    spec = null;
    if (flat != null) {
      const m = flat.length / 2;
      spec = { m, parents: new Int32Array(m), keys: new Array(m) };
      for (let k = 0; k < m; k++) {
        spec.parents[k] = /** @type {number} */ (flat[2 * k]);
        spec.keys[k] = /** @type {string} */ (flat[2 * k + 1]);
      }
    }
    if (projections.size < 64) projections.set(id, spec);
  }
  return spec;
}

// Buffers reused by every decode (each is read by the native call before it returns).
let kindsBuf = new Uint8Array(0);
let lensBuf = new Uint32Array(0);

/**
 * A decoded event: the core's plan and the driver's own list of the record objects.
 * @typedef {{ plan: import('../binding.js').NativePlan, records: any[] }} Decoded
 */
/** @typedef {'auto' | 'unordered' | 'key'} Ordering */

/**
 * The fast decode, or null when the live event must be decoded (also when reading threw: the
 * live decode reads again, in the core's order, and meets the same error or an earlier one).
 * @param {any} event
 * @param {Ordering} ordering
 * @returns {Decoded | null}
 */
function decodeProjected(event, ordering) {
  try {
    if (event === null || typeof event !== 'object' || Array.isArray(event)) return null;
    const records = event.Records;
    if (!Array.isArray(records) || isProxy(records)) return null;
    const n = records.length;
    if (n === 0) return null;
    const first = records[0];
    if (first === null || typeof first !== 'object') return null;
    const source = first.eventSource;
    if (typeof source !== 'string') return null;
    const spec = projectionFor(source, ordering);
    if (spec === null) return null;
    const { m, parents, keys } = spec;
    const stride = m + 1;
    if (kindsBuf.length < n * stride) kindsBuf = new Uint8Array(n * stride);
    if (lensBuf.length < n * m) lensBuf = new Uint32Array(n * m);
    const kinds = kindsBuf;
    const lens = lensBuf;
    const values = new Array(m);
    const last = new Array(m).fill(undefined); // each node's last string
    const texts = [];
    for (let r = 0; r < n; r++) {
      const record = records[r];
      const base = r * stride;
      const rk = kindOf(record);
      if (rk !== K_OBJECT) return null; // the core rejects it: let it say how
      kinds[base] = rk;
      for (let k = 0; k < m; k++) {
        const p = parents[k];
        const parent = p < 0 ? record : values[p];
        const pk = p < 0 ? K_OBJECT : kinds[base + 1 + p];
        let v;
        let vk = K_UNDEFINED;
        if (pk === K_OBJECT) {
          v = parent[keys[k]];
          vk = kindOf(v);
          if (vk === K_STRING) {
            if (v === last[k]) vk = K_STRING_AGAIN;
            else {
              last[k] = v;
              texts.push(v);
              lens[r * m + k] = v.length;
            }
          }
        } else if (pk === K_ARRAY && parent[keys[k]] !== undefined) {
          return null; // an array (or a proxy of one) with that member: let N-API look
        }
        values[k] = v;
        kinds[base + 1 + k] = vk;
        if (vk !== K_STRING) lens[r * m + k] = 0;
      }
    }
    const plan = native.decodeProjected(source, ordering, n, kinds, lens, texts.join(''));
    return plan === null ? null : { plan, records };
  } catch {
    return null;
  }
}

/**
 * @param {import('../binding.js').EventErrorInfo} e
 * @returns {EventError}
 */
function eventError(e) {
  return new EventError(e.message, e.index ?? null, e.field ?? null, e.group ?? null);
}

/**
 * Decodes `event` with the core's rules (custom keys, after the core validated the event, from
 * `groupKey`). Throws EventError for a malformed event (or an invalid key), and what `groupKey`
 * threw, unchanged.
 * @param {unknown} event
 * @param {{ ordering: Ordering, groupKey: ((record: any) => unknown) | null }} o
 * @returns {Decoded}
 */
function decodeEvent(event, o) {
  const ordering = o.groupKey !== null ? 'unordered' : o.ordering;
  let decoded = decodeProjected(event, ordering);
  if (decoded === null) {
    const p = native.decode(event, ordering);
    if (!(p instanceof native.Plan)) throw eventError(/** @type {import('../binding.js').EventErrorInfo} */ (p));
    const plan = /** @type {import('../binding.js').NativePlan} */ (p);
    let records = [];
    if (plan.length > 0) {
      if (plan.grouped) {
        // A Kafka event: its records in the core's event order (the groups of `records`).
        const listed = native.records(event);
        if (!Array.isArray(listed)) throw eventError(listed);
        records = listed;
      } else {
        records = /** @type {any} */ (event).Records;
      }
    }
    decoded = { plan, records };
  }
  // The driver keeps its own list of the record objects: a handler that empties, reorders or
  // replaces `event.Records` changes nothing for the others (they still get their own record).
  const { records } = decoded;
  if (!Array.isArray(records) || records.length !== decoded.plan.length) {
    const field = decoded.plan.grouped ? 'records' : 'Records';
    throw new EventError(`lanepool: event.${field} changed while it was read`, null, field);
  }
  decoded.records = decoded.plan.grouped ? records : records.slice();
  if (o.groupKey !== null) applyGroupKey(decoded.plan, decoded.records, o.groupKey);
  return decoded;
}

module.exports = { decodeEvent };
