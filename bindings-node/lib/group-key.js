'use strict';
// Custom lane keys (`groupKey`), after the core validated the event: the addon calls `groupKey`
// on each record in event order (`Plan.setKeysFrom`, src/custom_keys.rs) and the core's one key
// rule judges each value as it comes (a string as is, an integer as its decimal string, null or
// undefined unkeyed, anything else an EventError at field `group_key`). The first invalid key or
// throw stops it: no later record's `groupKey` runs. Nothing is judged here.

const { EventError } = require('./errors.js');

/**
 * Sets the plan's lanes to the keys `groupKey` returns for `records`. Throws EventError for an
 * invalid key, and what `groupKey` threw, unchanged.
 * @param {import('../binding.js').NativePlan} plan
 * @param {unknown[]} records the driver's list, in event order
 * @param {(record: any) => unknown} groupKey
 */
function applyGroupKey(plan, records, groupKey) {
  const e = plan.setKeysFrom(records, groupKey);
  if (e != null) throw new EventError(e.message, e.index ?? null, e.field ?? null, e.group ?? null);
}

module.exports = { applyGroupKey };
