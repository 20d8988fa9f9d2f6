'use strict';
// A coordinator: fan out 200 jobs to a downstream service that throttles bursts, hangs now and
// then and fails some calls transiently, and collect every result, with `pool.runJobs`.
//
// The downstream refuses a call when more than 100 calls started in the last second
// ("throttled"), never answers the first call of a few jobs ("hung": it settles only when the
// call's signal fires), and fails the first call of some others ("transient"). A naive fan-out
// starts everything at once: half the jobs are throttled, and the hung calls hold the
// coordinator until its deadline. With a start rate below the downstream's limit, an attempt
// timeout and retries, every job ends right.
//
// The same fan-out as examples/rust/src/coordinator.rs and examples/python/coordinator.py:
//
//   node examples/node/coordinator.js          # a table
//   node examples/node/coordinator.js --json   # one JSON object, as the other faces print
//
// bindings-node/test/coordinator.test.js runs `run` and checks its counts.

const path = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');

/** lanepool: the installed package, or else this checkout's build (bindings-node). */
function lanepool() {
  try {
    return require('lanepool');
  } catch (e) {
    if (/** @type {any} */ (e).code !== 'MODULE_NOT_FOUND') throw e;
    return require(path.join(__dirname, '..', '..', 'bindings-node'));
  }
}
const { Pool } = lanepool();

/** Calls the downstream accepts per second before it throttles. */
const DOWNSTREAM_PER_SECOND = 100;
/** Jobs in each fan-out. */
const JOBS = 200;
/** The jobs whose first call hangs. */
const HUNG_JOBS = [3, 40, 90];

/** Whether `job`'s first call fails transiently. */
const flaky = (job) => job % 23 === 5;

/** A simulated downstream service, with counts of what it saw. */
class Downstream {
  constructor(hangs = HUNG_JOBS) {
    this.hangs = new Set(hangs);
    /** Start times of the calls of the last second (ms, performance.now()). */
    this.window = [];
    this.throttled = 0;
    this.unavailable = 0;
    this.hung = 0;
  }

  /**
   * One call for `job` (attempt `attempt`, from 1): resolves to `job * 2`.
   * @param {number} job
   * @param {number} attempt
   * @param {AbortSignal} signal the call's signal: a hung call settles only when it fires
   * @returns {Promise<number>}
   */
  async call(job, attempt, signal) {
    const now = performance.now();
    while (this.window.length > 0 && now - this.window[0] >= 1000) this.window.shift();
    this.window.push(now);
    if (this.window.length > DOWNSTREAM_PER_SECOND) {
      this.throttled++;
      throw new Error('throttled');
    }
    if (attempt === 1 && this.hangs.has(job)) {
      this.hung++;
      await new Promise((_, reject) => {
        if (signal.aborted) reject(signal.reason);
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    }
    if (attempt === 1 && flaky(job)) {
      this.unavailable++;
      throw new Error('transient');
    }
    await sleep(20); // the work
    return job * 2;
  }
}

/** A context whose remaining time is `ms` when the call starts. */
const remaining = (ms) => ({ getRemainingTimeInMillis: () => ms });

/**
 * Fans `jobs` jobs out to a fresh downstream with `options`: the report and what the
 * downstream saw.
 * @param {number} jobs
 * @param {Record<string, any>} options
 */
async function fanOut(jobs, options) {
  const downstream = new Downstream();
  const items = Array.from({ length: jobs }, (_, i) => i);
  const start = performance.now();
  const report = await new Pool().runJobs(items, (job, { signal, attempt }) => downstream.call(job, attempt, signal), options);
  return {
    report,
    throttled: downstream.throttled,
    unavailable: downstream.unavailable,
    hung: downstream.hung,
    tookS: (performance.now() - start) / 1000,
  };
}

/**
 * The naive fan-out (everything at once, no retries, no timeout: the hung calls run until the
 * deadline) and the coordinated one, over `jobs` jobs.
 * @param {number} [jobs]
 */
async function run(jobs = JOBS) {
  const naive = await fanOut(jobs, {
    concurrency: Math.max(1, jobs),
    context: remaining(1500),
    deadlineMarginMs: 0,
  });
  const coordinated = await fanOut(jobs, {
    concurrency: 32,
    // Bursts of 45, then 45 per second: at most 90 starts in any second, retries included,
    // under the downstream's 100.
    maxPerSecond: 45,
    attemptTimeoutMs: 300,
    retries: 3,
    retryBackoffMs: 20,
    context: remaining(30_000),
    deadlineMarginMs: 0,
  });
  return { naive, coordinated };
}

/** One run as the JSON row every face's coordinator prints. */
function asJson(name, r) {
  const s = r.report.summary;
  return {
    name,
    succeeded: s.succeeded,
    error: s.error,
    timeout: s.timeout,
    deadline: s.deadline,
    skipped: s.skipped,
    retries: s.retries,
    throttled: r.throttled,
    transient: r.unavailable,
    hung: r.hung,
    wall_s: r.tookS,
    ok: r.report.ok,
    results_right: r.report.results.every((result, job) => result === job * 2),
  };
}

function row(name, r) {
  const s = r.report.summary;
  const cells = [s.succeeded, s.error, s.timeout, s.deadline, r.throttled, r.unavailable, r.hung];
  const widths = [9, 6, 8, 9, 10, 10, 5];
  console.log(`${name.padEnd(22)} ${cells.map((c, k) => String(c).padStart(widths[k])).join(' ')} ${r.tookS.toFixed(2).padStart(8)} s`);
}

async function main() {
  const { naive, coordinated } = await run(JOBS);
  if (process.argv.slice(2).includes('--json')) {
    const object = { face: 'node', jobs: JOBS, runs: [asJson('naive fan-out', naive), asJson('coordinated', coordinated)] };
    console.log(JSON.stringify(object));
    return;
  }
  const heads = ['succeeded', 'error', 'timeout', 'deadline', 'throttled', 'transient', 'hung'];
  const widths = [9, 6, 8, 9, 10, 10, 5];
  console.log(`${`${JOBS} jobs`.padEnd(22)} ${heads.map((h, k) => h.padStart(widths[k])).join(' ')} ${'wall time'.padStart(10)}`);
  row('naive fan-out', naive);
  row('coordinated', coordinated);
  const s = coordinated.report.summary;
  console.log(
    `coordinated: maxPerSecond 45, attemptTimeoutMs 300, retries 3: ${s.retries} retries, ` +
      `${(s.rateWaitMs / 1000).toFixed(2)} s waiting for the start rate, every job ok: ${coordinated.report.ok}`,
  );
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}

module.exports = { run, fanOut, asJson, Downstream, DOWNSTREAM_PER_SECOND, JOBS, HUNG_JOBS };
