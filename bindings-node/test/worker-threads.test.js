'use strict';
// lanepool in node:worker_threads, as Lambda Managed Instances run Node handlers: the addon is
// loaded once per thread (napi-rs registers it per environment), each worker's pools and
// batches are its own, and a worker that exits or is terminated mid-batch frees its batches and
// never takes the process down; the process exits cleanly with workers alive or gone.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { Worker } = require('node:worker_threads');
const { Pool } = require('lanepool');
const { rng, sqsRecord } = require('./helpers');

const lanepool = path.resolve(__dirname, '..');
const WORKER = path.join(__dirname, 'workers', 'batch-worker.js');

const exited = (worker) => new Promise((resolve) => worker.once('exit', resolve));

/** A seeded SQS FIFO event; a record whose body is 'fail' fails. */
function fifoEvent(seed, prefix) {
  const r = rng(seed);
  const n = r.int(5, 60);
  const groups = r.int(1, 6);
  return {
    Records: Array.from({ length: n }, (_, i) => {
      const record = sqsRecord(`${prefix}${i}`, `g${r.int(1, groups)}`, r() < 0.1 ? 'fail' : 'ok');
      return record;
    }),
  };
}

/** A standard SQS event (unordered records). */
function standardEvent(prefix, n) {
  return { Records: Array.from({ length: n }, (_, i) => sqsRecord(`${prefix}${i}`)) };
}

/** The response by the FIFO rule: a failed record fails the rest of its group (event order). */
function expectedResponse(event) {
  const failedGroups = new Set();
  const failures = [];
  for (const record of event.Records) {
    const group = record.attributes.MessageGroupId;
    if (failedGroups.has(group) || record.body === 'fail') {
      failedGroups.add(group);
      failures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures: failures };
}

/**
 * Starts a worker: `first` resolves to its first message, `exit` to its exit code (both
 * listened to from the start: a worker's last message and its exit can come in one turn).
 */
function start(workerData) {
  const worker = new Worker(WORKER, { workerData: { lanepool, ...workerData } });
  const exit = exited(worker);
  const first = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited (${code}) before it posted`)));
  });
  first.catch(() => {}); // awaited by the tests that expect a message
  return { worker, first, exit };
}

async function mainThreadBatch(prefix) {
  const event = fifoEvent(99, prefix);
  const response = await new Pool({ concurrency: 4 }).process(event, async (record) => {
    await null;
    if (record.body === 'fail') throw new Error('fail');
  });
  assert.deepEqual(response, expectedResponse(event));
}

for (const maxInFlight of [undefined, 3]) {
  const label = maxInFlight === undefined ? '' : ` (maxInFlight ${maxInFlight})`;

  test(`4 workers each run 8 concurrent batches, beside the main thread, with correct responses${label}`, async () => {
    const jobs = [];
    for (let w = 0; w < 4; w++) {
      const events = Array.from({ length: 8 }, (_, c) => fifoEvent(1000 * w + c, `w${w}c${c}-`));
      const { first, exit } = start({ mode: 'batches', events, concurrency: 4, maxInFlight });
      jobs.push(
        first.then(async (result) => {
          assert.equal(result.error, undefined, result.error);
          assert.deepEqual(result.responses, events.map(expectedResponse), `worker ${w}`);
          for (const peak of result.peaks) assert.ok(peak >= 1 && peak <= 4, `peak ${peak}`);
          assert.equal(await exit, 0);
        }),
      );
    }
    jobs.push(mainThreadBatch('main-'));
    await Promise.all(jobs);
  });

  test(`20 workers terminated mid-batch, async and spinning handlers; the process still runs batches${label}`, async () => {
    const mainPool = new Pool({ concurrency: 2 });
    const mainEvent = fifoEvent(7, 'beside-');
    // A batch of the main thread runs throughout, its handlers waiting on timers.
    const beside = mainPool.process(mainEvent, async (record) => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      if (record.body === 'fail') throw new Error('fail');
    });
    for (let round = 0; round < 20; round++) {
      const events = [standardEvent(`t${round}a-`, 20), standardEvent(`t${round}b-`, 20)];
      const { worker, first } = start({ mode: 'hang', events, calls: 2, concurrency: 2, sync: round % 2 === 1, maxInFlight });
      assert.equal(await first, 'running');
      const code = await worker.terminate();
      assert.equal(code, 1, `round ${round}: terminate() ends the worker with code 1`);
    }
    assert.deepEqual(await beside, expectedResponse(mainEvent));
    await mainThreadBatch('after-');
    // and a new worker still loads lanepool and runs batches
    const events = [fifoEvent(5, 'late-')];
    const { first, exit } = start({ mode: 'batches', events, maxInFlight });
    assert.deepEqual((await first).responses, events.map(expectedResponse));
    assert.equal(await exit, 0);
  });

  test(`a worker that calls process.exit() inside a handler mid-batch ends alone${label}`, async () => {
    for (let round = 0; round < 5; round++) {
      const { exit } = start({ mode: 'exit', events: [standardEvent(`x${round}-`, 5)], concurrency: 1, maxInFlight });
      assert.equal(await exit, 7);
    }
    await mainThreadBatch('after-exit-');
  });

  test(`a process that exits with workers mid-batch (some terminated) exits with code 0${label}`, () => {
    const args = [path.join(__dirname, 'workers', 'leave-running.js')];
    if (maxInFlight !== undefined) args.push('limited');
    const child = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.signal, null, `killed by ${child.signal}: ${child.stderr}`);
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout, 'ok\n');
  });
}
