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

const native = require('./binding.js');

/** Handlers in flight at once when `new Pool()` is given no `concurrency`. */
const DEFAULT_CONCURRENCY = 16;

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

const promiseThen = Promise.prototype.then;

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
  'cancelAtDeadline',
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
    cancel: true,
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
  if (options.cancelAtDeadline !== undefined) o.cancel = Boolean(options.cancelAtDeadline);
  return o;
}

// ------------------------------------------------------------------ decoding
//
// The core decodes every event (src/lib.rs, src/projected.rs). Reading a record's fields through
// N-API costs a property lookup per field, so for the common events JavaScript reads the few
// values the core names (`native.projection`: for each record, the kind of each value on those
// paths and the text of the strings) and the core decodes that projection with its own rules.
// Whenever the core does not accept the projection as it stands (any malformed event, anything
// unusual), the live event is decoded through N-API instead, so every error is the core's
// answer for the live object.

const { isProxy } = require('node:util').types;

// Value kinds, one byte each (as src/projected.rs reads them).
const K_UNDEFINED = 0;
const K_STRING = 4;
const K_ARRAY = 5;
const K_OBJECT = 6;
const K_STRING_AGAIN = 10; // a string equal to the last one sent for this node (not sent again)

function kindOf(v) {
  if (typeof v === 'string') return K_STRING;
  if (typeof v === 'object') return v === null ? 1 : Array.isArray(v) ? K_ARRAY : K_OBJECT;
  if (v === undefined) return K_UNDEFINED;
  if (typeof v === 'number') return 3;
  if (typeof v === 'boolean') return 2;
  if (typeof v === 'function') return 7;
  if (typeof v === 'bigint') return 8;
  if (typeof v === 'symbol') return 9;
  return 255;
}

/** eventSource + ordering -> { parents, keys } (the values the core reads), or null. */
const projections = new Map();

function projectionFor(source, unordered) {
  const id = (unordered ? 'u' : 'a') + source;
  let spec = projections.get(id);
  if (spec === undefined) {
    const flat = native.projection(source, unordered);
    spec = null;
    if (flat != null) {
      const m = flat.length / 2;
      spec = { m, parents: new Int32Array(m), keys: new Array(m) };
      for (let k = 0; k < m; k++) {
        spec.parents[k] = flat[2 * k];
        spec.keys[k] = flat[2 * k + 1];
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
 * The fast decode: `{ plan, records }`, or null when the live event must be decoded (also when
 * reading threw: the live decode reads again, in the core's order, and meets the same error or
 * an earlier one).
 */
function decodeProjected(event, unordered) {
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
    const spec = projectionFor(source, unordered);
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
    const plan = native.decodeProjected(source, unordered, n, kinds, lens, texts.join(''));
    return plan === null ? null : { plan, records };
  } catch {
    return null;
  }
}

/** Decodes with the core's rules; custom keys (after the core validated the event) from JS. */
function plan(event, o) {
  const unordered = o.unordered || o.groupKey !== null;
  let decoded = decodeProjected(event, unordered);
  if (decoded === null) {
    const p = native.decode(event, unordered);
    if (!(p instanceof native.Plan)) {
      throw new EventError(p.message, p.index ?? null, p.field ?? null);
    }
    decoded = { plan: p, records: p.length > 0 ? event.Records : [] };
  }
  // The driver keeps its own list of the record objects: a handler that empties, reorders or
  // replaces `event.Records` changes nothing for the others (they still get their own record).
  const { records } = decoded;
  if (!Array.isArray(records) || records.length !== decoded.plan.length) {
    throw new EventError('lanepool: event.Records changed while it was read', null, 'Records');
  }
  decoded.records = records.slice();
  if (o.groupKey !== null) {
    const { records } = decoded;
    const n = decoded.plan.length;
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
    decoded.plan.setKeys(keys);
  }
  return decoded;
}

// ------------------------------------------------------------------ the driver
//
// `batch.drive(io, ended, limit)` (src/lib.rs) takes the attempts that ended since the last call
// (io[0..ended), `index * 4 + kind`, in the order they ended) and returns how many records to
// start (io[cap..]), with the core's last step code in io[2 * cap]: DONE; WAIT for a completion;
// <= WAIT_FOR: wait for a completion or WAIT_FOR - code milliseconds; MORE: call again.
// Completions that settle in the same microtask turn reach the core in one call.
const DONE = -1;
const WAIT_FOR = -3;
const MORE = -0.5;
const ENDED_OK = 0;
const ENDED_ERR = 1;
const ENDED_DEADLINE = 2;

/**
 * Drives one batch: the core says which records run next; handlers run on the event loop.
 * `full`: build the whole report (runBatch) rather than only the response (process).
 */
function runBatch(concurrency, event, handler, options, full) {
  return new Promise((resolve, reject) => {
    if (typeof handler !== 'function') throw new TypeError('lanepool: handler must be a function');
    const o = readOptions(options);
    const started = performance.now();
    const { plan: p, records } = plan(event, o);
    const length = p.length;
    if (o.remainingMs >= 0) o.remainingMs = Math.max(0, o.remainingMs - (performance.now() - started));
    const batch = p.start(concurrency, o.retries, o.backoffMs, o.remainingMs, o.marginMs);

    // Never more in flight (nor ended and untold) than min(concurrency, records).
    const cap = Math.max(1, Math.min(concurrency, length));
    const io = new Float64Array(2 * cap + 1);
    let ended = 0; // attempts in io[0..ended) not yet told to the core
    let flushQueued = false;
    let driving = false;
    // 1 while handlers end synchronously: then each is told before the next starts, step by step.
    let limit = 1;

    // The handlers' signal is made when a handler first reads it (most never do: an
    // AbortController costs more than a small record's whole run).
    let controller = null;
    let abortReason = null; // the deadline's reason, once the signal fired (or would have)
    const ctx = Object.freeze({
      get signal() {
        if (controller === null) {
          controller = new AbortController();
          setMaxListeners(0, controller.signal);
          if (abortReason !== null) controller.abort(abortReason);
        }
        return controller.signal;
      },
    });
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
      flush();
    }

    /** Fires the handlers' signal at the deadline (unless `cancelAtDeadline: false`). */
    function abort() {
      if (o.cancel && abortReason === null) {
        abortReason = new Error('lanepool: the batch deadline passed');
        abortReason.name = 'TimeoutError';
        if (controller !== null) controller.abort(abortReason);
      }
    }

    function onWake() {
      wakeTimer = null;
      flush();
    }

    /** How a failed attempt ended; keeps its error. */
    function failedKind(index, error) {
      (errors ??= new Map()).set(index, error);
      // A handler told to stop (running when the signal fired: nothing starts after it) ends
      // as `deadline` however it ends, keeping its error, as in the Rust and Python faces.
      return abortReason !== null ? ENDED_DEADLINE : ENDED_ERR;
    }

    /** How an attempt that resolved ended: `deadline` when it was told to stop first. */
    function resolvedKind() {
      return abortReason !== null ? ENDED_DEADLINE : ENDED_OK;
    }

    /** An attempt that ended after its handler returned: told to the core in this turn. */
    function endLater(code) {
      if (finished) return;
      io[ended++] = code;
      if (!flushQueued && !driving) {
        flushQueued = true;
        queueMicrotask(flush);
      }
    }

    /** Starts record `index`'s handler. */
    function launch(index) {
      try {
        const result = handler(records[index], ctx);
        if (!isThenable(result)) {
          io[ended++] = index * 4 + ENDED_OK;
          limit = 1;
          return;
        }
        // A native promise is awaited as is; any other thenable (a proxy, a subclass, a
        // hand-made one) through a native promise, so its `then` cannot throw here.
        const promise =
          !isProxy(result) && Object.getPrototypeOf(result) === Promise.prototype ? result : Promise.resolve(result);
        promiseThen.call(
          promise,
          () => endLater(index * 4 + resolvedKind()),
          (error) => {
            if (!finished) endLater(index * 4 + failedKind(index, error));
          },
        );
        limit = cap;
      } catch (error) {
        // Thrown by the handler, or by reading what it returned (a `then` getter that throws).
        io[ended++] = index * 4 + failedKind(index, error);
        limit = 1;
      }
    }

    /** Tells the core what ended and starts what it says, until it says wait or done. */
    function flush() {
      flushQueued = false;
      if (finished || driving) return;
      driving = true;
      try {
        for (;;) {
          const told = ended;
          ended = 0;
          const n = batch.drive(io, told, limit);
          const code = io[2 * cap];
          for (let j = 0; j < n; j++) launch(io[cap + j]);
          if (ended > 0 || code === MORE) continue;
          if (code === DONE) {
            driving = false;
            done();
          } else if (code <= WAIT_FOR) {
            const ms = WAIT_FOR - code;
            const at = performance.now() + ms;
            if (wakeTimer === null || wakeAt > at) {
              if (wakeTimer !== null) clearTimeout(wakeTimer);
              wakeAt = at;
              // libuv timers count whole milliseconds: never wake before the core's time.
              wakeTimer = setTimeout(onWake, Math.ceil(ms) + 1);
            }
          } // else WAIT: a completion will flush again
          break;
        }
      } catch (error) {
        fail(error);
      }
      driving = false;
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

    flush();
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
