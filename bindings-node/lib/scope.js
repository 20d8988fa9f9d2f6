'use strict';
// Structured concurrency on the event loop: `scope(limit, body)` runs `body(s)`, and `s.spawn(fn)`
// starts `fn(s)` with at most `limit` spawned tasks in flight. The scope settles after the body
// and every spawned task (nested spawns too) settled: with the body's value, or an
// AggregateError of every error in the order they happened. `map` (lib/map.js) runs on it.

/**
 * What `scope` hands its body (and every task).
 * @typedef {{ spawn<T>(fn: (scope: Scope) => T | PromiseLike<T>): Promise<Awaited<T>> }} Scope
 */

/**
 * A scope's task queue and counts.
 * @typedef {object} Tasks
 * @property {(fn: () => unknown, settled: (ok: boolean, value: unknown) => void) => void} run
 *   starts `fn()` when a slot is free and calls `settled` once it settled (its error, if it
 *   failed, is also the scope's); throws once the scope has settled
 */

/** Each scope's task runner, for lib/map.js (which needs no promise per item). */
/** @type {WeakMap<Scope, Tasks>} */
const TASKS = new WeakMap();

/**
 * The task runner a scope body was handed (see `Tasks`).
 * @param {Scope} s
 * @returns {Tasks}
 */
function tasksOf(s) {
  const tasks = TASKS.get(s);
  if (tasks === undefined) throw new TypeError('lanepool: not a scope');
  return tasks;
}

/**
 * Runs `body(s)` with spawned tasks limited to `limit` in flight (see the file's comment).
 * @template T
 * @param {number} limit
 * @param {(scope: Scope) => T | PromiseLike<T>} body
 * @returns {Promise<Awaited<T>>}
 */
function scope(limit, body) {
  return new Promise((resolve, reject) => {
    if (typeof body !== 'function') throw new TypeError('lanepool: scope body must be a function');
    /** @type {({ fn: () => unknown, settled: (ok: boolean, value: unknown) => void } | undefined)[]} */
    const queue = [];
    let head = 0;
    let running = 0;
    let pending = 1; // the body, then every spawned task until it settled
    let closed = false;
    /** @type {any} */
    let value;
    /** @type {unknown[]} */
    const errors = [];

    const one = () => {
      if (--pending === 0) {
        closed = true;
        if (errors.length > 0) {
          reject(new AggregateError(errors, `lanepool: ${errors.length} scope task(s) failed`));
        } else {
          resolve(value);
        }
      }
    };
    /**
     * A task settled: free its slot, report it, start what is queued.
     * @param {{ fn: () => unknown, settled: (ok: boolean, value: unknown) => void }} task
     * @param {boolean} ok
     * @param {unknown} v
     */
    const ended = (task, ok, v) => {
      running--;
      if (!ok) errors.push(v);
      task.settled(ok, v);
      drain();
      one();
    };
    /** @param {{ fn: () => unknown, settled: (ok: boolean, value: unknown) => void }} task */
    const launch = (task) => {
      running++;
      let result;
      try {
        result = task.fn();
      } catch (error) {
        ended(task, false, error);
        return;
      }
      Promise.resolve(result).then(
        (v) => ended(task, true, v),
        (e) => ended(task, false, e),
      );
    };
    const drain = () => {
      while (running < limit && head < queue.length) {
        const task = /** @type {NonNullable<(typeof queue)[number]>} */ (queue[head]);
        queue[head++] = undefined;
        launch(task);
      }
      if (head > 0 && head === queue.length) queue.length = head = 0;
    };
    /** @type {Tasks} */
    const tasks = {
      run(fn, settled) {
        if (closed) throw new Error('lanepool: spawn on a scope that has already settled');
        pending++;
        // A free slot and nothing queued: start it now (what queueing and draining would do).
        if (running < limit && head === queue.length) launch({ fn, settled });
        else {
          queue.push({ fn, settled });
          drain();
        }
      },
    };
    /** @type {Scope} */
    const s = Object.freeze({
      /**
       * @template U
       * @param {(scope: Scope) => U | PromiseLike<U>} fn
       * @returns {Promise<Awaited<U>>}
       */
      spawn(fn) {
        if (typeof fn !== 'function') throw new TypeError('lanepool: spawn needs a function');
        if (closed) throw new Error('lanepool: spawn on a scope that has already settled');
        /** @type {(ok: boolean, value: any) => void} */
        let settled = () => {};
        /** @type {Promise<Awaited<U>>} */
        const promise = new Promise((res, rej) => {
          settled = (ok, v) => (ok ? res(v) : rej(v));
        });
        promise.catch(() => {}); // the scope reports it; an unawaited spawn is no unhandled rejection
        tasks.run(() => fn(s), settled);
        return promise;
      },
    });
    TASKS.set(s, tasks);

    let result;
    try {
      result = body(s);
    } catch (error) {
      errors.push(error);
      one();
      return;
    }
    Promise.resolve(result).then(
      (v) => {
        value = v;
        one();
      },
      (e) => {
        errors.push(e);
        one();
      },
    );
  });
}

module.exports = { scope, tasksOf };
