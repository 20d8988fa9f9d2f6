'use strict';
// lanepool for Node: Lambda batch processing (SQS, SQS FIFO, Kinesis, DynamoDB streams) with
// per-lane ordering, bounded concurrency, deadline and partial batch responses; scopes; maps.
//
// The rules (decoding, lanes, skips, retries, deadline, outcomes, the all-failed rule, the
// report) are the Rust core's, reached through synchronous N-API calls on the main thread.
// This file is only the driver: it starts handlers on the event loop when the core says
// `run`, tells the core when they settle, and sets a timer when the core says `wait`.
// Nothing native keeps the event loop alive: every promise settles by itself.

const { setMaxListeners } = require('node:events');

const native = loadAddon();

/** Handlers in flight at once when `new Pool()` is given no `concurrency`. */
const DEFAULT_CONCURRENCY = 16;

function loadAddon() {
  const { platform, arch } = process;
  const abis =
    platform === 'linux' ? ['-gnu', '-musl'] : platform === 'win32' ? ['-msvc', ''] : [''];
  const tried = [];
  for (const abi of abis) {
    const file = `./lanepool.${platform}-${arch}${abi}.node`;
    try {
      return require(file);
    } catch (e) {
      if (e && e.code !== 'MODULE_NOT_FOUND') throw e;
      tried.push(file);
    }
  }
  throw new Error(
    `lanepool: no native addon for ${platform}-${arch} (tried ${tried.join(', ')}); ` +
      'build it with `npm run build` in the package directory (needs Rust and cargo)',
  );
}

/** A malformed Lambda event, named by record index and field. Thrown before any handler runs. */
class EventError extends TypeError {
  constructor(message, index = null, field = null) {
    super(message);
    this.index = index;
    this.field = field;
  }
}
Object.defineProperty(EventError.prototype, 'name', { value: 'EventError', configurable: true, writable: true });

/** Every record of a non-empty batch failed; `report` says how. */
class BatchFailedError extends Error {
  constructor(message, report) {
    super(message);
    this.report = report;
  }
}
Object.defineProperty(BatchFailedError.prototype, 'name', {
  value: 'BatchFailedError',
  configurable: true,
  writable: true,
});

function isThenable(value) {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof value.then === 'function'
  );
}

function checkCount(name, value, min) {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`lanepool: ${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

function checkMs(name, value) {
  if (typeof value !== 'number' || !(value >= 0) || value === Infinity) {
    throw new RangeError(`lanepool: ${name} must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

const BATCH_OPTIONS = new Set([
  'context',
  'ordering',
  'groupKey',
  'retries',
  'retryBackoffMs',
  'deadlineMarginMs',
  'throwOnFullBatchFailure',
  'logSummary',
]);

function readOptions(options) {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw new TypeError('lanepool: options must be an object');
  for (const key of Object.keys(options)) {
    if (!BATCH_OPTIONS.has(key)) throw new TypeError(`lanepool: unknown option ${JSON.stringify(key)}`);
  }
  const o = {
    remainingMs: -1,
    unordered: false,
    groupKey: null,
    retries: 0,
    backoffMs: -1,
    marginMs: -1,
    throwOnFull: true,
    log: false,
  };
  const { context } = options;
  if (context != null && typeof context.getRemainingTimeInMillis === 'function') {
    const remaining = Number(context.getRemainingTimeInMillis());
    if (Number.isFinite(remaining)) o.remainingMs = Math.max(0, remaining);
  }
  if (options.ordering !== undefined) {
    if (options.ordering !== 'auto' && options.ordering !== 'unordered') {
      throw new TypeError(`lanepool: ordering must be 'auto' or 'unordered', got ${String(options.ordering)}`);
    }
    o.unordered = options.ordering === 'unordered';
  }
  if (options.groupKey != null) {
    if (typeof options.groupKey !== 'function') throw new TypeError('lanepool: groupKey must be a function');
    o.groupKey = options.groupKey;
  }
  if (options.retries !== undefined) o.retries = checkCount('retries', options.retries, 0);
  if (options.retryBackoffMs !== undefined) o.backoffMs = checkMs('retryBackoffMs', options.retryBackoffMs);
  if (options.deadlineMarginMs !== undefined) o.marginMs = checkMs('deadlineMarginMs', options.deadlineMarginMs);
  if (options.throwOnFullBatchFailure !== undefined) o.throwOnFull = Boolean(options.throwOnFullBatchFailure);
  if (options.logSummary !== undefined) o.log = Boolean(options.logSummary);
  return o;
}

/** Decodes with the core's rules; custom keys (after the core validated the event) from JS. */
function plan(event, o) {
  const decoded = native.decode(event, o.unordered || o.groupKey !== null);
  if (!(decoded instanceof native.Plan)) {
    throw new EventError(decoded.message, decoded.index ?? null, decoded.field ?? null);
  }
  if (o.groupKey !== null) {
    const records = event.Records;
    const n = decoded.length;
    const keys = new Array(n);
    for (let i = 0; i < n; i++) {
      const key = o.groupKey(records[i]);
      if (key === undefined || key === null) keys[i] = null;
      else if (typeof key === 'string') keys[i] = key;
      else if (typeof key === 'number' || typeof key === 'bigint') keys[i] = String(key);
      else {
        throw new TypeError(
          `lanepool: groupKey returned ${typeof key} for record ${i}; expected a string or undefined`,
        );
      }
    }
    decoded.setKeys(keys);
  }
  return decoded;
}

// The core's step codes (see Batch::step in src/lib.rs): >= 0 run that record; DONE; WAIT for a
// completion; <= WAIT_FOR: wait for a completion or WAIT_FOR - code milliseconds.
const DONE = -1;
const WAIT_FOR = -3;
const STEP = -0.5; // pump(): ask the core first

/**
 * Drives one batch: the core says which record runs next; handlers run on the event loop.
 * `full`: build the whole report (runBatch) rather than only the response (process).
 */
function runBatch(concurrency, event, handler, options, full) {
  return new Promise((resolve, reject) => {
    if (typeof handler !== 'function') throw new TypeError('lanepool: handler must be a function');
    const o = readOptions(options);
    const started = performance.now();
    const p = plan(event, o);
    const records = p.length > 0 ? event.Records : [];
    if (o.remainingMs >= 0) o.remainingMs = Math.max(0, o.remainingMs - (performance.now() - started));
    const batch = p.start(concurrency, o.retries, o.backoffMs, o.remainingMs, o.marginMs);

    const controller = new AbortController();
    const { signal } = controller;
    setMaxListeners(0, signal);
    const ctx = Object.freeze({ signal });
    let errors = null; // index -> the last attempt's error, only when something failed
    let wakeTimer = null;
    let wakeAt = 0;
    let deadlineTimer = null;
    let finished = false;

    const ttd = batch.timeToDeadline();
    if (ttd > 0) deadlineTimer = setTimeout(onDeadline, Math.ceil(ttd));

    function onDeadline() {
      deadlineTimer = null;
      if (finished) return;
      if (!batch.deadlinePassed()) {
        deadlineTimer = setTimeout(onDeadline, Math.max(1, Math.ceil(batch.timeToDeadline())));
        return;
      }
      abort();
      pump(STEP);
    }

    function abort() {
      if (!signal.aborted) {
        const reason = new Error('lanepool: the batch deadline passed');
        reason.name = 'TimeoutError';
        controller.abort(reason);
      }
    }

    function onWake() {
      wakeTimer = null;
      pump(STEP);
    }

    /** Tells the core how the attempt ended; returns the core's next step. */
    function settle(index, ok, error) {
      if (ok) return batch.complete(index, true);
      (errors ??= new Map()).set(index, error);
      // A handler that gave up on the deadline's signal ends as `deadline`, keeping its error.
      if (
        signal.aborted &&
        error !== undefined &&
        error !== null &&
        (error === signal.reason || error.name === 'AbortError')
      ) {
        return batch.cancel(index);
      }
      return batch.complete(index, false);
    }

    /** Starts record `index`'s handler; returns the core's next step. */
    function start(index) {
      let result;
      try {
        result = handler(records[index], ctx);
      } catch (error) {
        return settle(index, false, error);
      }
      if (!isThenable(result)) return settle(index, true);
      const promise = result instanceof Promise ? result : Promise.resolve(result);
      promise.then(
        () => after(index, true, undefined),
        (error) => after(index, false, error),
      );
      return batch.step();
    }

    function after(index, ok, error) {
      if (finished) return;
      let next;
      try {
        next = settle(index, ok, error);
      } catch (e) {
        fail(e);
        return;
      }
      pump(next);
    }

    /** Follows the core's steps until it says wait or done. */
    function pump(next) {
      if (finished) return;
      try {
        if (next === STEP) next = batch.step();
        while (next >= 0) next = start(next);
        if (next === DONE) {
          done();
        } else if (next <= WAIT_FOR) {
          const ms = WAIT_FOR - next;
          const at = performance.now() + ms;
          if (wakeTimer === null || wakeAt > at) {
            if (wakeTimer !== null) clearTimeout(wakeTimer);
            wakeAt = at;
            // libuv timers count whole milliseconds: never wake before the core's time.
            wakeTimer = setTimeout(onWake, Math.ceil(ms) + 1);
          }
        } // else WAIT: a completion will call pump again
      } catch (error) {
        fail(error);
      }
    }

    function clearTimers() {
      if (wakeTimer !== null) clearTimeout(wakeTimer);
      if (deadlineTimer !== null) clearTimeout(deadlineTimer);
      wakeTimer = deadlineTimer = null;
    }

    function fail(error) {
      finished = true;
      clearTimers();
      reject(error);
    }

    function done() {
      finished = true;
      clearTimers();
      if (batch.deadlinePassed()) abort();
      const info = batch.finish(full, o.log);
      if (info.logLine != null) process.stdout.write(info.logLine + '\n');
      const response = {
        batchItemFailures: info.batchItemFailures.map((itemIdentifier) => ({ itemIdentifier })),
      };
      const allFailed = info.allFailed != null && o.throwOnFull;
      if (!full && !allFailed) {
        resolve(response);
        return;
      }
      const report = {
        response,
        succeeded: info.succeeded ?? [],
        failures: info.failures.map((f) => ({
          itemIdentifier: f.itemIdentifier,
          index: f.index,
          reason: f.reason,
          error: f.reason === 'skipped' || errors === null ? undefined : errors.get(f.index),
          attempts: f.attempts,
        })),
        summary: info.summary,
      };
      if (allFailed) reject(new BatchFailedError(info.allFailed, report));
      else resolve(report);
    }

    pump(STEP);
  });
}

/** A worker pool for the event loop: Lambda batches, scopes and maps with a concurrency limit. */
class Pool {
  #concurrency;

  /**
   * @param {{ concurrency?: number }} [options] `concurrency`: most handlers (or scope/map
   *   tasks) in flight at once in one call; default 16, suited to I/O-bound handlers.
   */
  constructor(options = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('lanepool: Pool options must be an object');
    const { concurrency = DEFAULT_CONCURRENCY } = options;
    this.#concurrency = checkCount('concurrency', concurrency, 1);
  }

  /** Most handlers or tasks in flight at once in one call. */
  get concurrency() {
    return this.#concurrency;
  }

  /** Processes a Lambda batch event; resolves to `{ batchItemFailures }`. */
  process(event, handler, options) {
    return runBatch(this.#concurrency, event, handler, options, false);
  }

  /** Like `process`, resolving to the whole report. */
  runBatch(event, handler, options) {
    return runBatch(this.#concurrency, event, handler, options, true);
  }

  /**
   * Runs `body(s)`; `s.spawn(fn)` starts `fn()` with at most `concurrency` spawned tasks in
   * flight. Settles after the body and every spawned task (nested spawns too) settled: with the
   * body's value, or an AggregateError of every error.
   */
  scope(body) {
    const limit = this.#concurrency;
    return new Promise((resolve, reject) => {
      if (typeof body !== 'function') throw new TypeError('lanepool: scope body must be a function');
      const queue = [];
      let head = 0;
      let running = 0;
      let pending = 1; // the body, then every spawned task until it settled
      let closed = false;
      let value;
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
      const launch = (task) => {
        running++;
        const ended = (ok, v) => {
          running--;
          if (ok) task.resolve(v);
          else {
            errors.push(v);
            task.reject(v);
          }
          drain();
          one();
        };
        let result;
        try {
          result = task.fn();
        } catch (error) {
          ended(false, error);
          return;
        }
        Promise.resolve(result).then(
          (v) => ended(true, v),
          (e) => ended(false, e),
        );
      };
      const drain = () => {
        while (running < limit && head < queue.length) {
          const task = queue[head];
          queue[head++] = undefined;
          launch(task);
        }
        if (head === queue.length) queue.length = head = 0;
      };
      const s = Object.freeze({
        spawn(fn) {
          if (typeof fn !== 'function') throw new TypeError('lanepool: spawn needs a function');
          if (closed) throw new Error('lanepool: spawn on a scope that has already settled');
          pending++;
          let task;
          const promise = new Promise((res, rej) => {
            task = { fn, resolve: res, reject: rej };
          });
          promise.catch(() => {}); // the scope reports it; an unawaited spawn is no unhandled rejection
          queue.push(task);
          drain();
          return promise;
        },
      });

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

  /**
   * Calls `fn(item, index)` for every item with at most `concurrency` calls in flight; resolves
   * to the results in input order, or rejects (after every call settled) with an
   * AggregateError of every error, in input order.
   */
  map(items, fn) {
    const limit = this.#concurrency;
    return new Promise((resolve, reject) => {
      if (typeof fn !== 'function') throw new TypeError('lanepool: map needs a function');
      if (items === null || items === undefined || typeof items[Symbol.iterator] !== 'function') {
        throw new TypeError('lanepool: map needs an iterable of items');
      }
      const list = Array.isArray(items) ? items : Array.from(items);
      const n = list.length;
      const results = new Array(n);
      let failed = null; // index -> error
      let next = 0;
      let settled = 0;
      if (n === 0) {
        resolve(results);
        return;
      }
      const ended = () => {
        if (++settled === n) {
          if (failed === null) resolve(results);
          else {
            const errors = [...failed.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
            reject(new AggregateError(errors, `lanepool: ${errors.length} of ${n} map call(s) failed`));
          }
        } else if (next < n) {
          launch(next++);
        }
      };
      const launch = (i) => {
        let result;
        try {
          result = fn(list[i], i);
        } catch (error) {
          (failed ??= new Map()).set(i, error);
          queueMicrotask(ended);
          return;
        }
        Promise.resolve(result).then(
          (v) => {
            results[i] = v;
            ended();
          },
          (e) => {
            (failed ??= new Map()).set(i, e);
            ended();
          },
        );
      };
      while (next < n && next < limit) launch(next++);
    });
  }
}

module.exports = { Pool, EventError, BatchFailedError, DEFAULT_CONCURRENCY };
