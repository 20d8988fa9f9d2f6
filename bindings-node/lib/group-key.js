'use strict';
// Custom lane keys (`groupKey`): computed here after the core validated the event, then handed to
// the plan (`Plan.setKeys`, src/custom_keys.rs), replacing its lanes. This file and
// src/custom_keys.rs hold the whole rule, so that it can move into the core as one piece.

/**
 * Calls `groupKey` on every record and sets the plan's lanes to the keys: a string as is, a
 * number or bigint as its string, undefined or null unkeyed.
 * @param {{ length: number, setKeys(keys: (string | null)[]): void }} plan
 * @param {unknown[]} records
 * @param {(record: any) => unknown} groupKey
 */
function applyGroupKey(plan, records, groupKey) {
  const n = plan.length;
  /** @type {(string | null)[]} */
  const keys = new Array(n);
  for (let i = 0; i < n; i++) {
    const key = groupKey(records[i]);
    if (key === undefined || key === null) keys[i] = null;
    else if (typeof key === 'string') keys[i] = key;
    else if (typeof key === 'number' || typeof key === 'bigint') keys[i] = String(key);
    else {
      throw new TypeError(`lanepool: groupKey returned ${typeof key} for record ${i}; expected a string or undefined`);
    }
  }
  plan.setKeys(keys);
}

module.exports = { applyGroupKey };
