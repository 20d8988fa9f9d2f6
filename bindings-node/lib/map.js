'use strict';
// `map(limit, items, fn)`: `fn(item, index)` for every item as tasks of one scope (lib/scope.js),
// so at most `limit` calls are in flight. Resolves to the results in input order, or rejects
// (after every call settled) with an AggregateError of every error, in input order.

const { scope, tasksOf } = require('./scope.js');

/**
 * `fn(item, index)`; a synchronous throw as a rejected promise, so that a failed call ends (and
 * the next one starts) in a later microtask rather than inside the one that started it.
 * @template T, U
 * @param {(item: T, index: number) => U | PromiseLike<U>} fn
 * @param {T} item
 * @param {number} index
 * @returns {U | PromiseLike<U>}
 */
function call(fn, item, index) {
  try {
    return fn(item, index);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * @template T, U
 * @param {number} limit
 * @param {Iterable<T>} items
 * @param {(item: T, index: number) => U | PromiseLike<U>} fn
 * @returns {Promise<Awaited<U>[]>}
 */
function map(limit, items, fn) {
  return new Promise((resolve, reject) => {
    if (typeof fn !== 'function') throw new TypeError('lanepool: map needs a function');
    if (items === null || items === undefined || typeof items[Symbol.iterator] !== 'function') {
      throw new TypeError('lanepool: map needs an iterable of items');
    }
    let list = Array.isArray(items) ? items : Array.from(items);
    const n = list.length;
    /** @type {Awaited<U>[]} */
    let results = new Array(n);
    /** @type {Map<number, unknown> | null} */
    let failed = null; // index -> error
    scope(limit, (s) => {
      // Each call is spawned when a slot frees (the first `limit` now): no queue of every item.
      const tasks = tasksOf(s);
      let next = 0;
      const start = () => {
        const i = next++;
        tasks.run(
          () => call(fn, list[i], i),
          (ok, v) => {
            if (ok) results[i] = /** @type {Awaited<U>} */ (v);
            else (failed ??= new Map()).set(i, v);
            if (next < n) start();
          },
        );
      };
      while (next < n && next < limit) start();
    }).then(
      () => {
        resolve(results);
        release();
      },
      () => {
        const byIndex = failed === null ? [] : [...failed.entries()].sort((a, b) => a[0] - b[0]);
        const errors = byIndex.map((e) => e[1]);
        reject(new AggregateError(errors, `lanepool: ${errors.length} of ${n} map call(s) failed`));
        release();
      },
    );

    // Settled: let go of the items, the results and the errors, which V8 may otherwise keep
    // alive through young collections with the call's closures (see lib/driver.js, `release`).
    function release() {
      items = list = results = [];
      failed = null;
      resolve = reject = () => {};
    }
  });
}

module.exports = { map };
