'use strict';
// Decoding a Lambda event into the core's plan (identifiers and lanes).
//
// The core decodes every event (src/plan.rs, src/projected.rs). Reading a record's fields through
// N-API costs a property lookup per field, so for the common events JavaScript reads the few
// values the core names (`native.projection`) and the core decodes that projection with its own
// rules. Only what the rules need crosses: each value's kind; the text of a string a rule reads
// (`eventSource`, a lane key) once per distinct text, or once per record where a node has many
// distinct texts (see `numberText`); of the identifier only whether it is empty: its text stays
// here, and the report reads back those it names (`Batch.finish`).
// Whenever the core does not accept the projection as it stands (any malformed event, anything
// unusual), the live event is decoded through N-API instead, so every error is the core's
// answer for the live object. A Kafka event is projected group by group (its records listed
// here in the `records` object's key order, `partition` and `offset` read as numbers) and the
// core takes it on its Kafka short path; decoded live, the core lists its records in event
// order (`native.records`).

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
  MODE_SHAPE,
  MODE_TEXT,
  MODE_KEPT,
  MODE_NUMBER,
  V_ABSENT,
  V_NULL,
  V_OTHER,
  V_KEPT,
  V_KEPT_EMPTY,
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

/**
 * Reads the projection of `n` records into `kinds` and `slots` (see src/projected.rs): each
 * text a MODE_TEXT node reads gets a number in `texts` (see `numberText`; `seen`, and
 * `eachAfter` from `textNumbering`), each MODE_KEPT string goes to `kept`. False when the core
 * would reject a record anyway (let it say how) or an array has a member the core would not
 * look at (let N-API look).
 * @typedef {(records: any[], n: number, kinds: Uint8Array, slots: Float64Array,
 *   seen: Map<string, number>, texts: string[], kept: unknown[], eachAfter: number) => boolean} Reader
 */
/**
 * Reads the lean projection of `n` records into `values` (see `decodeRead` in src/plan.rs):
 * one number per value node (each node not MODE_SHAPE) of each record, a MODE_TEXT string's
 * number in `texts`, a MODE_NUMBER node's non-negative number, else a V_* code; MODE_KEPT
 * strings go to `kept`. It follows paths as the full reader does and is false exactly where
 * that one is (a record that is no plain object, a step that is an array holding the member):
 * then the live event is decoded.
 * @typedef {(records: any[], n: number, values: Float64Array, seen: Map<string, number>,
 *   texts: string[], kept: unknown[], eachAfter: number) => boolean} LeanReader
 */
/** @typedef {{ m: number, read: Reader, q: number, lean: LeanReader | null }} Projection */

/**
 * When a reader stops numbering a node's texts through a map and sends each record's text as
 * it is (see `numberText`): once the node has met `eachAfter` distinct texts within its first
 * `4 * eachAfter` records, if they are long (more than `LONG_TEXT` units on average), else
 * once nearly all of its first `8 * eachAfter` records had texts of their own. 0: each
 * record's text from the first. Only the tests change it, to run every event both ways.
 */
const textNumbering = { eachAfter: 256 };

/**
 * Texts up to about this long are cheap to find in a Map on a real event: V8's JSON.parse
 * (which makes the Lambda runtime's events) interns string values this short, hash and all
 * (10 units on Node 20, 9 on Node 24). A Map finds a longer fresh string only after hashing it
 * in a runtime call, and adds a new one after growing.
 */
const LONG_TEXT = 10;

/**
 * The lines of a reader that give the string in variable `v` (node `k`) a number in the table
 * of texts, left in `lastT<k>`. Different texts always get different numbers; equal texts
 * need not share one (the core looks a lane up by its text when its number is new).
 * - While a node's texts repeat: each distinct text its number in order of first sight
 *   (`seen`, `texts`), and the same text as the record before (eventSource always, a lane key
 *   often) skips the map.
 * - Once a node has many distinct texts (a Kinesis partition key per record, see
 *   `textNumbering`): each record's text as it is, a number of its own. The Map cost about
 *   150 ns a record for distinct 36-character keys; the table of texts costs their copy,
 *   and the core hashes them for less (benches/README.md, "Lane keys"). Short texts that
 *   repeat stay with the Map, which finds them for less than the copy costs.
 * Declares the node's state in `pre`, outside the loop.
 * @param {string[]} pre
 * @param {string} v
 * @param {number} k
 * @returns {string[]}
 */
function numberText(pre, v, k) {
  pre.push(`let last${k} = null, lastT${k} = 0, new${k} = 0, units${k} = 0, each${k} = eachAfter === 0;`);
  return [
    `    if (each${k}) { lastT${k} = texts.length; texts.push(${v}); }`,
    `    else if (${v} !== last${k}) {`,
    `      let t = seen.get(${v});`,
    `      if (t === undefined) {`,
    `        t = texts.length; seen.set(${v}, t); texts.push(${v});`,
    `        units${k} += ${v}.length;`,
    `        if (++new${k} === eachAfter) each${k} = r < 4 * eachAfter && units${k} > ${LONG_TEXT} * eachAfter;`,
    `        else if (new${k} === 8 * eachAfter) each${k} = r < 9 * eachAfter;`,
    `      }`,
    `      last${k} = ${v}; lastT${k} = t;`,
    `    }`,
  ];
}

/**
 * A reader for the nodes the core named: straight-line code per node, so each property read
 * is a named load with its own inline cache (a keyed read of a variable name is megamorphic).
 * The names come from the core and are written as JSON string literals.
 * @param {(number | string)[]} flat `[parent, key, mode, ...]`
 * @returns {Projection}
 */
function compileReader(flat) {
  const m = flat.length / 3;
  /** @type {string[]} */
  const pre = [];
  const lines = [
    'for (let r = 0; r < n; r++) {',
    '  const v_ = records[r];',
    '  const b = r * ' + (m + 1) + ', s = r * ' + m + ';',
    '  if (kindOf(v_) !== K_OBJECT) return false;',
    '  kinds[b] = K_OBJECT;',
  ];
  for (let k = 0; k < m; k++) {
    const parent = /** @type {number} */ (flat[3 * k]);
    const key = JSON.stringify(/** @type {string} */ (flat[3 * k + 1]));
    const mode = /** @type {number} */ (flat[3 * k + 2]);
    if (parent < 0) lines.push(`  const v${k} = v_[${key}];`);
    else {
      lines.push(
        `  let v${k};`,
        `  if (k${parent} === K_OBJECT) v${k} = v${parent}[${key}];`,
        `  else if (k${parent} === K_ARRAY && v${parent}[${key}] !== undefined) return false;`,
      );
    }
    lines.push(`  const k${k} = kindOf(v${k});`, `  kinds[b + ${k + 1}] = k${k};`);
    if (mode === MODE_TEXT) {
      lines.push(
        `  if (k${k} === K_STRING) {`,
        ...numberText(pre, `v${k}`, k),
        `    slots[s + ${k}] = lastT${k};`,
        `  } else slots[s + ${k}] = 0;`,
      );
    } else if (mode === MODE_NUMBER) {
      lines.push(`  slots[s + ${k}] = k${k} === K_NUMBER ? v${k} : 0;`);
    } else if (mode === MODE_KEPT) {
      lines.push(
        `  kept[r] = v${k};`,
        `  slots[s + ${k}] = k${k} === K_STRING && v${k}.length > 0 ? 1 : 0;`,
      );
    } else lines.push(`  slots[s + ${k}] = 0;`);
  }
  lines.push('}', 'return true;');
  lines.unshift(...pre);
  const read = /** @type {Reader} */ (
    new Function(
      'kindOf', 'K_OBJECT', 'K_ARRAY', 'K_STRING', 'K_NUMBER',
      `return function read(records, n, kinds, slots, seen, texts, kept, eachAfter) {\n${lines.join('\n')}\n};`,
    )(kindOf, K_OBJECT, K_ARRAY, K_STRING, K_NUMBER)
  );
  const { q, lean } = compileLeanReader(flat);
  return { m, read, q, lean };
}

/**
 * The lean reader of the same nodes (see LeanReader): only the values the core's short paths
 * read, one number each, no kinds. A step reads its member only when it is a plain object
 * (else the member is absent), and is false at an array holding the member, as the full
 * reader does. Null when a value node has children (no projection has).
 * @param {(number | string)[]} flat `[parent, key, mode, ...]`
 * @returns {{ q: number, lean: LeanReader | null }}
 */
function compileLeanReader(flat) {
  const m = flat.length / 3;
  const modes = Array.from({ length: m }, (_, k) => /** @type {number} */ (flat[3 * k + 2]));
  const q = modes.filter((mode) => mode !== MODE_SHAPE).length;
  /** @type {string[]} */
  const pre = [];
  const lines = [
    'for (let r = 0; r < n; r++) {',
    '  const v_ = records[r];',
    "  if (typeof v_ !== 'object' || v_ === null || Array.isArray(v_)) return false;",
    `  const o = r * ${q};`,
  ];
  const other = (/** @type {string} */ v) => `${v} === undefined ? V_ABSENT : ${v} === null ? V_NULL : V_OTHER`;
  let j = 0;
  for (let k = 0; k < m; k++) {
    const parent = /** @type {number} */ (flat[3 * k]);
    const key = JSON.stringify(/** @type {string} */ (flat[3 * k + 1]));
    const mode = modes[k];
    const v = `v${k}`;
    if (parent < 0) lines.push(`  const ${v} = v_[${key}];`);
    else if (modes[parent] !== MODE_SHAPE) return { q, lean: null };
    else {
      const p = `v${parent}`;
      lines.push(
        `  let ${v};`,
        `  if (typeof ${p} === 'object' && ${p} !== null) {`,
        `    if (!Array.isArray(${p})) ${v} = ${p}[${key}];`,
        `    else if (${p}[${key}] !== undefined) return false;`,
        `  }`,
      );
    }
    if (mode === MODE_SHAPE) continue;
    if (mode === MODE_TEXT) {
      lines.push(
        `  if (typeof ${v} === 'string') {`,
        ...numberText(pre, v, k),
        `    values[o + ${j}] = lastT${k};`,
        `  } else values[o + ${j}] = ${other(v)};`,
      );
    } else if (mode === MODE_NUMBER) {
      lines.push(`  values[o + ${j}] = typeof ${v} === 'number' ? (${v} >= 0 ? ${v} : V_OTHER) : ${other(v)};`);
    } else {
      lines.push(
        `  kept[r] = ${v};`,
        `  values[o + ${j}] = typeof ${v} === 'string' ? (${v}.length > 0 ? V_KEPT : V_KEPT_EMPTY) : ${other(v)};`,
      );
    }
    j++;
  }
  lines.push('}', 'return true;');
  lines.unshift(...pre);
  const lean = /** @type {LeanReader} */ (
    new Function(
      'V_ABSENT', 'V_NULL', 'V_OTHER', 'V_KEPT', 'V_KEPT_EMPTY',
      `return function lean(records, n, values, seen, texts, kept, eachAfter) {\n${lines.join('\n')}\n};`,
    )(V_ABSENT, V_NULL, V_OTHER, V_KEPT, V_KEPT_EMPTY)
  );
  return { q, lean };
}

/** ordering + eventSource -> the reader of the values the core reads (null: not projected). */
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
    spec = flat == null ? null : compileReader(flat);
    if (projections.size < 64) projections.set(id, spec);
  }
  return spec;
}

// Buffers reused by every decode (each is read by the native call before it returns).
let kindsBuf = new Uint8Array(0);
let slotsBuf = new Float64Array(0);
let valuesBuf = new Float64Array(0);

/**
 * A decoded event: the core's plan, the driver's own list of the record objects, and the
 * identifier texts kept here (null when the core read them).
 * @typedef {{ plan: import('../binding.js').NativePlan, records: any[], kept: unknown[] | null }} Decoded
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
    if (event === null || typeof event !== 'object' || Array.isArray(event) || isProxy(event)) return null;
    const list = event.Records;
    if (list !== undefined) {
      if (!Array.isArray(list) || isProxy(list) || list.length === 0) return null;
      const first = list[0];
      if (first === null || typeof first !== 'object') return null;
      return project(list, first.eventSource, ordering, null);
    }
    // A Kafka event: its records group by group, in the order of the `records` object's keys
    // (the order the core reads them in: own enumerable keys; inherited ones mean live).
    const groups = event.records;
    if (groups === null || typeof groups !== 'object' || Array.isArray(groups) || isProxy(groups)) return null;
    const keys = Object.keys(groups);
    let inherited = 0;
    for (const _ in groups) inherited++;
    if (inherited !== keys.length || keys.length === 0) return null;
    const records = [];
    const layout = [];
    for (const key of keys) {
      const group = groups[key];
      if (!Array.isArray(group) || isProxy(group)) return null;
      for (let i = 0; i < group.length; i++) records.push(group[i]);
      layout.push(key, group.length);
    }
    if (records.length === 0) return null;
    return project(records, event.eventSource, ordering, layout);
  } catch {
    return null;
  }
}

/**
 * The table of texts' lengths, and a Kafka event's groups (`[eventSource text, key text,
 * length, ...]`, the texts numbered in the same table; null for `Records`).
 * @param {string[]} texts
 * @param {Map<string, number>} seen
 * @param {string} source
 * @param {(string | number)[] | null} layout
 * @returns {{ textLens: Uint32Array, groups: Float64Array | null }}
 */
function tableOf(texts, seen, source, layout) {
  /** @type {Float64Array | null} */
  let groups = null;
  if (layout !== null) {
    /** @param {string} t */
    const textId = (t) => {
      let id = seen.get(t);
      if (id === undefined) {
        id = texts.length;
        seen.set(t, id);
        texts.push(t);
      }
      return id;
    };
    groups = new Float64Array(layout.length + 1);
    groups[0] = textId(source);
    for (let g = 0; g < layout.length; g += 2) {
      groups[g + 1] = textId(/** @type {string} */ (layout[g]));
      groups[g + 2] = /** @type {number} */ (layout[g + 1]);
    }
  }
  const textLens = new Uint32Array(texts.length);
  for (let t = 0; t < texts.length; t++) textLens[t] = texts[t].length;
  return { textLens, groups };
}

/**
 * Reads and decodes the projection of `records` (of `source`); `layout`, for a Kafka event,
 * its groups' keys and lengths in turn. The lean projection first, for the core's short
 * paths; when they decline it, the full one, for the core's rules over it. Null: decode the
 * live event.
 * @param {any[]} records
 * @param {unknown} source
 * @param {Ordering} ordering
 * @param {(string | number)[] | null} layout
 * @returns {Decoded | null}
 */
function project(records, source, ordering, layout) {
  if (typeof source !== 'string') return null;
  const spec = projectionFor(source, ordering);
  if (spec === null) return null;
  const { m, read, q, lean } = spec;
  const n = records.length;
  if (lean !== null) {
    if (valuesBuf.length < n * q) valuesBuf = new Float64Array(n * q);
    /** @type {string[]} */
    const texts = [];
    const seen = new Map();
    const kept = layout === null ? new Array(n) : null;
    // False where the full reader would be too.
    if (!lean(records, n, valuesBuf, seen, texts, /** @type {unknown[]} */ (kept ?? []), textNumbering.eachAfter)) return null;
    const { textLens, groups } = tableOf(texts, seen, source, layout);
    const plan = native.decodeRead(source, ordering, n, valuesBuf, texts.join(''), textLens, groups);
    if (plan !== null) return { plan, records, kept };
  }
  if (kindsBuf.length < n * (m + 1)) kindsBuf = new Uint8Array(n * (m + 1));
  if (slotsBuf.length < n * m) slotsBuf = new Float64Array(n * m);
  /** @type {string[]} */
  const texts = [];
  const seen = new Map();
  const kept = layout === null ? new Array(n) : null;
  if (!read(records, n, kindsBuf, slotsBuf, seen, texts, /** @type {unknown[]} */ (kept ?? []), textNumbering.eachAfter)) return null;
  const { textLens, groups } = tableOf(texts, seen, source, layout);
  const plan = native.decodeProjected(source, ordering, n, kindsBuf, slotsBuf, texts.join(''), textLens, groups);
  return plan === null ? null : { plan, records, kept };
}

/**
 * @param {import('../binding.js').EventErrorInfo} e
 * @param {unknown} event
 * @returns {EventError}
 */
function eventError(e, event) {
  return new EventError(e.message, e.index ?? null, e.field ?? null, groupKeyOf(event, e.group ?? null));
}

/**
 * The key of the event's `records` group the core named. The core reads keys as UTF-8, so a
 * key with an unpaired surrogate comes back with U+FFFD in its place: name the event's own key.
 * @param {unknown} event
 * @param {string | null} group
 * @returns {string | null}
 */
function groupKeyOf(event, group) {
  if (group === null || !group.includes('\ufffd')) return group;
  try {
    const groups = /** @type {any} */ (event).records;
    if (groups !== null && typeof groups === 'object' && !isProxy(groups)) {
      for (const key in groups) if (/** @type {any} */ (key).toWellFormed() === group) return key;
    }
  } catch {
    // the core's name stands
  }
  return group;
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
    if (!(p instanceof native.Plan)) throw eventError(/** @type {import('../binding.js').EventErrorInfo} */ (p), event);
    const plan = /** @type {import('../binding.js').NativePlan} */ (p);
    let records = [];
    if (plan.length > 0) {
      if (plan.grouped) {
        // A Kafka event: its records in the core's event order (the groups of `records`).
        const listed = native.records(event);
        if (!Array.isArray(listed)) throw eventError(listed, event);
        records = listed;
      } else {
        records = /** @type {any} */ (event).Records;
      }
    }
    decoded = { plan, records, kept: null };
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

module.exports = { decodeEvent, textNumbering };
