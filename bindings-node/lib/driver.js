'use strict';
// The driver of one batch: the core says which records run next; handlers run on the event loop.
//
// `batch.drive(io, ended, limit)` (src/batch.rs) takes the attempts that ended since the last call
// (io[0..ended), `index * ENDED_STRIDE + kind`, in the order they ended) and returns how many
// records to start (io[cap..]), with the core's last step code in io[2 * cap]: STEP_DONE;
// STEP_WAIT for a completion; <= STEP_WAIT_FOR: wait for a completion or STEP_WAIT_FOR - code
// milliseconds; STEP_MORE: call again. Completions that settle in the same microtask turn reach
// the core in one call. The codes are the addon's own constants.
//
// Per record the driver does little: the handler's promise settles into one of a pair of
// callbacks made per slot of the call's concurrency (no closure per record), and handlers that
// end synchronously are run several per drive() (see `syncLimit`): should the deadline come
// while they run, the records handed out but not started go back (ENDED_UNSTARTED) and the
// core decides them. The identifiers stay here until the report names them (lib/decode.js).
//
// A pool with `maxInFlight` has a `Limiter`: the core's shared limit (src/limit.rs), which every
// batch of the pool joins. A record then starts only with a slot of it; an ended attempt gives
// its slot back inside `drive()`, and the core hands it to the waiting call whose turn it is.
// `drive()` says (io[2 * cap + 1]) when hand-overs wait to be taken: the limiter takes them and
// runs those calls' drivers in a microtask, so a waiting call wakes when a slot is handed to it
// (no polling; its only timer is its deadline's).
//
// Jobs (`pool.runJobs`) and the per-attempt options take a second path, only when used: the
// plan is the core's jobs plan (lanes from `key` by the core's key rule), the batch starts
// with `startBatch` (src/jobs.rs), and each attempt gets its own context and lazily made
// AbortController. With `attemptTimeoutMs` the driver asks the core after each drive which
// attempts ran past their time (`timedOut()`), fires their signals (a TimeoutError), and tells
// the core `ENDED_TIMEOUT` once each handler settled; the core's wait already includes the
// next attempt's due time. `maxPerSecond` needs nothing here: the core's wait includes it.

const { AsyncResource } = require('node:async_hooks');
const { setMaxListeners } = require('node:events');

const native = require('../binding.js');
const { BatchFailedError } = require('./errors.js');
const { decodeEvent } = require('./decode.js');
const { readOptions, readJobOptions } = require('./options.js');
const { applyGroupKey } = require('./group-key.js');

const {
  STEP_DONE, STEP_WAIT_FOR, STEP_MORE, ENDED_STRIDE, ENDED_OK, ENDED_ERR, ENDED_DEADLINE, ENDED_TIMEOUT, ENDED_UNSTARTED,
} = native;

const promiseThen = Promise.prototype.then;

/** A promise already resolved: its reactions are the driver's microtasks. */
const RESOLVED = Promise.resolve();

/**
 * Runs `fn` in a microtask, in the current async context (AsyncLocalStorage stores): as a
 * reaction of a resolved promise, which costs less than `queueMicrotask` (that makes an
 * AsyncResource and a bound function per call). `fn` must not throw.
 * @param {() => void} fn
 */
function inMicrotask(fn) {
  promiseThen.call(RESOLVED, fn);
}

/** How often the driver looks again while stopped attempts have not settled (see `flush`). */
const STOPPING_POLL_MS = 10;

/**
 * @param {unknown} value
 * @returns {value is PromiseLike<unknown>}
 */
function isThenable(value) {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (/** @type {any} */ (value).then) === 'function'
  );
}

/** A pool's shared in-flight limit (`maxInFlight`) and the drivers of its running calls. */
class Limiter {
  /** @param {number} slots */
  constructor(slots) {
    this.native = new native.Limit(slots);
    /** @type {Map<number, () => void>} call id -> its driver's `flush` */
    this.drivers = new Map();
  }

  /** Schedules the drivers of the calls slots were handed to (in hand-over order). */
  wake() {
    for (const id of this.native.takeWoken()) {
      const flush = this.drivers.get(id);
      if (flush !== undefined) inMicrotask(flush);
    }
  }
}

/**
 * The jobs' items as a list, and their plan: the core's jobs plan, with lanes from `key` by the
 * core's key rule (an EventError at the first item whose key is no key).
 * @param {unknown} items
 * @param {((item: any) => unknown) | null} key
 * @returns {{ plan: import('../binding.js').NativePlan, records: unknown[], kept: null }}
 */
function jobsPlanOf(items, key) {
  if (items === null || items === undefined || typeof (/** @type {any} */ (items)[Symbol.iterator]) !== 'function') {
    throw new TypeError('lanepool: runJobs needs an iterable of items');
  }
  const records = Array.isArray(items) ? items : Array.from(/** @type {Iterable<unknown>} */ (items));
  const plan = native.jobsPlan(records.length);
  if (key !== null) applyGroupKey(plan, records, key);
  return { plan, records, kept: null };
}

/**
 * A handler's context: its signal, whose AbortController is made when a handler first reads it
 * (most never do: an AbortController costs more than a small record's whole run), firing with
 * the deadline's reason or, on the per-attempt path, its attempt's timeout's. One per attempt
 * on the per-attempt path; otherwise one, frozen, that every handler of the batch shares.
 *
 * A class, not an object literal with a `get signal()` closure: V8 kept such a literal's
 * closure, and with it the call's whole closure context (its record lists), alive through
 * every young-generation collection until the next full one. With the slot callbacks made in
 * the body of a `for (let ...)` loop, which did the same (see `addSlot`), each collection of a
 * process running 10,000-record batches copied about 1.5 MB of finished calls' lists: 2 ms a
 * collection, against 0.3 ms now (`node --trace-gc-nvp`, new_space_survived 1.49 MB → 0.17).
 */
class HandlerContext {
  /** @type {AbortController | null} */
  #controller = null;
  /** @type {Error | null} */
  #reason;

  /** @param {Error | null} reason the deadline's, if it already passed */
  constructor(reason) {
    this.#reason = reason;
  }

  /** @returns {AbortSignal} */
  get signal() {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      setMaxListeners(0, this.#controller.signal);
      if (this.#reason !== null) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /**
   * Fires the attempt's signal with `reason`, unless it fired already; whether it fired now.
   * @param {HandlerContext} ctx
   * @param {Error} reason
   * @returns {boolean}
   */
  static fire(ctx, reason) {
    if (ctx.#reason !== null) return false;
    ctx.#reason = reason;
    if (ctx.#controller !== null) ctx.#controller.abort(reason);
    return true;
  }

  /**
   * The reason the attempt's signal fired with, or null.
   * @param {HandlerContext} ctx
   * @returns {Error | null}
   */
  static reasonOf(ctx) {
    return ctx.#reason;
  }
}

/** A job's context: its signal, its index and its attempt (from 1). */
class JobContext extends HandlerContext {
  #index;
  #attempt;

  /**
   * @param {Error | null} reason
   * @param {number} index
   * @param {number} attempt
   */
  constructor(reason, index, attempt) {
    super(reason);
    this.#index = index;
    this.#attempt = attempt;
  }

  /** @returns {number} */
  get index() {
    return this.#index;
  }

  /** @returns {number} */
  get attempt() {
    return this.#attempt;
  }
}

/**
 * Drives one batch: the core says which records run next; handlers run on the event loop.
 * `full`: build the whole report (runBatch) rather than only the response (process).
 * `limiter`: the pool's shared limit, or null. `jobs`: `event` is runJobs' items, `handler`
 * its function, and the call resolves to its `{ results, failures, summary, ok }`.
 * @param {number} concurrency
 * @param {Limiter | null} limiter
 * @param {unknown} event
 * @param {(record: any, context: any) => unknown} handler
 * @param {unknown} options
 * @param {boolean} full
 * @param {boolean} [jobs]
 * @returns {Promise<any>}
 */
function runBatch(concurrency, limiter, event, handler, options, full, jobs = false) {
  return new Promise((resolve, reject) => {
    if (typeof handler !== 'function') {
      throw new TypeError(jobs ? 'lanepool: runJobs needs a function' : 'lanepool: handler must be a function');
    }
    const jo = jobs ? readJobOptions(options, concurrency) : null;
    const o = jo ?? readOptions(options);
    if (jo !== null) concurrency = jo.concurrency;
    const started = performance.now();
    let { plan: p, records, kept } = jo !== null ? jobsPlanOf(event, jo.key) : decodeEvent(event, o);
    const length = p.length;
    if (o.remainingMs >= 0) o.remainingMs = Math.max(0, o.remainingMs - (performance.now() - started));
    // Jobs, an attempt timeout or a start rate: each attempt its own context (see the top).
    const perAttempt = jobs || o.timeoutMs > 0;
    const batch =
      jobs || o.timeoutMs > 0 || o.perSecond > 0
        ? native.startBatch(p, concurrency, o.retries, o.backoffMs, o.remainingMs, o.marginMs, o.timeoutMs, o.perSecond, !jobs)
        : p.start(concurrency, o.retries, o.backoffMs, o.remainingMs, o.marginMs);

    // Never more in flight (nor ended and untold) than min(concurrency, records).
    const cap = Math.max(1, Math.min(concurrency, length));
    const io = new Float64Array(2 * cap + 2);
    let ended = 0; // attempts in io[0..ended) not yet told to the core
    let flushQueued = false;
    let driving = false;
    // Records to start per drive(): `cap` while handlers return promises. While they end
    // synchronously, `cap` too when every start is a first attempt (no retries) and no
    // attempt has its own context: the driver runs them in turn and, should the deadline come
    // while it does (checked after each handler that ended at once), gives the rest back
    // unstarted (ENDED_UNSTARTED) and goes step by step from then on. Otherwise 1: each is
    // told before the next starts.
    let syncLimit = !perAttempt && o.retries === 0 ? cap : 1;
    let limit = 1;

    /** @type {Error | null} */
    let abortReason = null; // the deadline's reason, once the signal fired (or would have)
    const ctx = new HandlerContext(null); // shared (the per-attempt path makes its own)
    Object.freeze(ctx);

    /** @type {Map<number, unknown> | null} */
    let errors = null; // index -> the last attempt's error, only when something failed
    /** @type {NodeJS.Timeout | null} */
    let wakeTimer = null;
    let wakeAt = 0;
    /** @type {NodeJS.Timeout | null} */
    let deadlineTimer = null;
    let finished = false;

    // The per-attempt path's state (see `launchAttempt`).
    /** @type {(HandlerContext | undefined)[] | null} */
    let live = perAttempt ? new Array(length) : null; // index -> its running attempt's context
    const attempts = perAttempt ? new Uint32Array(length) : null; // handler calls per record
    const timedOut = o.timeoutMs > 0 ? new Uint8Array(length) : null; // 1: its attempt timed out
    /** @type {unknown[] | null} */
    let values = jobs ? new Array(length) : null; // what each job's successful attempt returned
    let stopping = 0; // attempts whose timeout fired that have not settled

    /** This call's id in the pool's limit. */
    let callId = -1;
    if (limiter !== null) {
      callId = batch.join(limiter.native);
      // Woken by whichever call gave the slot back: run in this call's own async context
      // (its AsyncLocalStorage stores), not the giver's.
      limiter.drivers.set(callId, AsyncResource.bind(flush));
    }

    const ttd = batch.timeToDeadline();
    if (ttd > 0) deadlineTimer = setTimeout(onDeadline, Math.ceil(ttd));
    // When the driver stops running handed-out records ahead: a millisecond before the core's
    // deadline (the core decides each record given back; -1: no deadline).
    const stopAheadAt = ttd >= 0 ? performance.now() + ttd - 1 : -1;

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
        HandlerContext.fire(ctx, abortReason);
        if (live !== null) {
          for (const a of live) if (a !== undefined) HandlerContext.fire(a, abortReason);
        }
      }
    }

    /** Fires the signals of the attempts the core says ran past their timeout. */
    function stopTimedOut() {
      for (const index of batch.timedOut()) {
        const a = /** @type {(HandlerContext | undefined)[]} */ (live)[index];
        if (a === undefined || HandlerContext.reasonOf(a) !== null) continue;
        const reason = new Error(`lanepool: the attempt ran past attemptTimeoutMs (${o.timeoutMs} ms)`);
        reason.name = 'TimeoutError';
        HandlerContext.fire(a, reason);
        /** @type {Uint8Array} */ (timedOut)[index] = 1;
        stopping++;
      }
    }

    /**
     * Starts an attempt of record (or job) `index` on the per-attempt path: its own context
     * (`signal`; a job's also `index` and `attempt`), its own signal, made when first read.
     * @param {number} index
     */
    function launchAttempt(index) {
      const attempt = ++(/** @type {Uint32Array} */ (attempts))[index];
      const a = jobs ? new JobContext(abortReason, index, attempt) : new HandlerContext(abortReason);
      const list = /** @type {(HandlerContext | undefined)[]} */ (live);
      list[index] = a;
      /**
       * How the attempt ended, by how it settled (`ok`) and whether it was told to stop.
       * @param {boolean} ok
       * @param {unknown} value its value or error
       * @returns {number}
       */
      const settled = (ok, value) => {
        list[index] = undefined;
        if (timedOut !== null && timedOut[index] === 1) {
          timedOut[index] = 0;
          stopping--;
          (errors ??= new Map()).set(index, ok ? HandlerContext.reasonOf(a) : value);
          return index * ENDED_STRIDE + ENDED_TIMEOUT;
        }
        if (!ok) return index * ENDED_STRIDE + failedKind(index, value);
        const kind = resolvedKind();
        if (kind === ENDED_OK && values !== null) values[index] = value;
        return index * ENDED_STRIDE + kind;
      };
      try {
        const result = handler(records[index], a);
        if (!isThenable(result)) {
          io[ended++] = settled(true, result);
          limit = 1;
          return;
        }
        const promise = Promise.resolve(result); // see `launch`
        promiseThen.call(
          promise,
          (value) => {
            if (!finished) endLater(settled(true, value));
          },
          (error) => {
            if (!finished) endLater(settled(false, error));
          },
        );
        limit = cap;
      } catch (error) {
        io[ended++] = settled(false, error);
        limit = 1;
      }
    }

    function onWake() {
      wakeTimer = null;
      flush();
    }

    /**
     * How a failed attempt ended; keeps its error.
     * @param {number} index
     * @param {unknown} error
     * @returns {number}
     */
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

    /**
     * An attempt that ended after its handler returned: told to the core in this turn.
     * @param {number} code
     */
    function endLater(code) {
      if (finished) return;
      io[ended++] = code;
      if (!flushQueued && !driving) {
        flushQueued = true;
        inMicrotask(flush);
      }
    }

    // The settling callbacks, one pair per slot of `cap` (never more in flight), made once
    // per call: a record's promise settles into its slot's pair, which knows the record by
    // `slotIndex`; no closure is made per record. Made by a function, not in the body of a
    // `for (let slot ...)` loop: closures made there kept the call's context alive through
    // young collections, as a `get signal()` literal did (see HandlerContext).
    const slotIndex = new Float64Array(cap);
    /** @type {number[]} */
    const freeSlots = [];
    /** @type {(() => void)[]} */
    const onResolved = [];
    /** @type {((error: unknown) => void)[]} */
    const onRejected = [];
    /** @param {number} slot */
    function addSlot(slot) {
      freeSlots.push(slot);
      onResolved[slot] = () => {
        freeSlots.push(slot);
        endLater(slotIndex[slot] * ENDED_STRIDE + resolvedKind());
      };
      onRejected[slot] = (error) => {
        freeSlots.push(slot);
        if (!finished) endLater(slotIndex[slot] * ENDED_STRIDE + failedKind(slotIndex[slot], error));
      };
    }
    if (!perAttempt) for (let slot = cap - 1; slot >= 0; slot--) addSlot(slot);

    /**
     * Starts record `index`'s handler.
     * @param {number} index
     */
    function launch(index) {
      if (perAttempt) {
        launchAttempt(index);
        return;
      }
      try {
        const result = handler(records[index], ctx);
        if (!isThenable(result)) {
          io[ended++] = index * ENDED_STRIDE + ENDED_OK;
          limit = syncLimit;
          return;
        }
        // A native promise is awaited as is (Promise.resolve returns it); any other thenable
        // (a proxy, a subclass, a hand-made one) through a native promise, so its `then`
        // cannot throw here (a throwing `constructor` or `then` getter is the handler's error).
        const promise = Promise.resolve(result);
        const slot = /** @type {number} */ (freeSlots.pop());
        slotIndex[slot] = index;
        promiseThen.call(promise, onResolved[slot], onRejected[slot]);
        limit = cap;
      } catch (error) {
        // Thrown by the handler, or by reading what it returned (a `then` getter that throws).
        io[ended++] = index * ENDED_STRIDE + failedKind(index, error);
        limit = syncLimit;
      }
    }

    /**
     * Starts the `n` records drive() handed out (io[cap..cap + n]). After a handler that
     * ended at once, past `stopAheadAt`, the rest go back unstarted.
     * @param {number} n
     */
    function launchAll(n) {
      for (let j = 0; j < n; j++) {
        if (j > 0 && limit > 1 && stopAheadAt >= 0 && ended > 0 && performance.now() >= stopAheadAt) {
          for (; j < n; j++) io[ended++] = io[cap + j] * ENDED_STRIDE + ENDED_UNSTARTED;
          syncLimit = limit = 1;
          return;
        }
        launch(io[cap + j]);
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
          if (io[2 * cap + 1] > 0) /** @type {Limiter} */ (limiter).wake();
          launchAll(n);
          if (o.timeoutMs > 0) stopTimedOut();
          if (ended > 0 || code === STEP_MORE) continue;
          if (code === STEP_DONE) {
            driving = false;
            done();
          } else if (code <= STEP_WAIT_FOR) {
            // A wait of 0 while stopped attempts have not settled is theirs (the core keeps
            // their due time until told): their settling flushes, and a coarse timer serves
            // what else may come due meanwhile, rather than one that spins.
            const ms = stopping > 0 && code === STEP_WAIT_FOR ? STOPPING_POLL_MS : STEP_WAIT_FOR - code;
            const at = performance.now() + ms;
            if (wakeTimer === null || wakeAt > at) {
              if (wakeTimer !== null) clearTimeout(wakeTimer);
              wakeAt = at;
              // libuv timers count whole milliseconds: never wake before the core's time.
              wakeTimer = setTimeout(onWake, Math.ceil(ms) + 1);
            }
          } // else STEP_WAIT: a completion will flush again
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

    /** The call has left the pool's limit (its batch finished or closed): wake whom it gave to. */
    function leaveLimit() {
      if (limiter === null || callId < 0) return;
      limiter.drivers.delete(callId);
      callId = -1;
      limiter.wake();
    }

    /**
     * The call has settled: let go of the event, its records, what the handlers gave and the
     * promise (so its report). V8 can keep a finished call's closures alive until its next full
     * collection (the two shapes HandlerContext names did; optimized code can too); they then
     * hold nothing of the batch, so young collections do not copy it again
     * (test/retention.test.js).
     */
    function release() {
      event = null;
      records = [];
      kept = values = live = errors = null;
      resolve = reject = () => {};
    }

    /** @param {unknown} error */
    function fail(error) {
      finished = true;
      clearTimers();
      batch.close(); // its slots of the pool's limit go to the waiting calls
      leaveLimit();
      reject(error);
      release();
    }

    function done() {
      finished = true;
      clearTimers();
      if (batch.deadlinePassed()) abort();
      const info = batch.finish(full || jobs, o.log, kept);
      leaveLimit();
      try {
        settleWith(info);
      } catch (error) {
        reject(error); // before release(), which lets go of the resolving functions
      } finally {
        release();
      }
    }

    /**
     * Resolves (or rejects, by the all-failed rule) the call with its response, report or jobs'
     * report.
     * @param {import('../binding.js').FinishInfo} info
     */
    function settleWith(info) {
      if (jobs) {
        resolve(jobReport(info));
        return;
      }
      if (info.logLine != null) process.stdout.write(info.logLine + '\n');
      const response = {
        batchItemFailures: info.batchItemFailures.map((itemIdentifier) => ({ itemIdentifier })),
      };
      const allFailed = info.allFailed != null && o.throwOnFull ? info.allFailed : null;
      if (!full && allFailed === null) {
        resolve(response);
        return;
      }
      const report = {
        response,
        succeeded: info.succeeded ?? [],
        failures: (info.failures ?? []).map((f) => ({
          itemIdentifier: f.itemIdentifier,
          index: f.index,
          reason: f.reason,
          error: f.reason === 'skipped' || errors === null ? undefined : errors.get(f.index),
          attempts: f.attempts,
        })),
        summary: info.summary,
      };
      if (allFailed !== null) {
        // The cause: the error of the first failed record, in event order, that has one.
        const first = errors === null ? undefined : report.failures.find((f) => errors?.has(f.index) && f.reason !== 'skipped');
        reject(new BatchFailedError(allFailed, report, first === undefined ? undefined : { cause: first.error }));
      }
      else resolve(report);
    }

    /**
     * runJobs' report: results aligned with the items (undefined where the job did not
     * succeed), the failures, the summary, and whether every job succeeded.
     * @param {import('../binding.js').FinishInfo} info
     */
    function jobReport(info) {
      const results = /** @type {unknown[]} */ (values);
      const failures = (info.failures ?? []).map((f) => {
        results[f.index] = undefined;
        return {
          index: f.index,
          item: records[f.index],
          reason: f.reason,
          error: f.reason === 'skipped' || errors === null ? undefined : errors.get(f.index),
          attempts: f.attempts,
        };
      });
      const summary = /** @type {Record<string, any>} */ (info.summary);
      return { results, failures, summary, ok: summary.succeeded === summary.records };
    }

    flush();
  });
}

module.exports = { runBatch, Limiter };
