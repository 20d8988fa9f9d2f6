'use strict';
// A worker thread of test/worker-threads.test.js: loads lanepool in its own thread and, by
// `workerData.mode`:
// - 'batches': runs `workerData.events` as concurrent `runBatch` calls on one pool (a record
//   whose body is 'fail' fails) and posts every call's response and summary;
// - 'hang': starts `workerData.calls` batches (of unordered records) whose handlers never settle (async), or spin forever (sync), and
//   posts 'running' once every slot is busy: the test then terminates the worker mid-batch;
// - 'exit': a handler calls process.exit() mid-batch (in a worker that ends the thread only).

const { parentPort, workerData } = require('node:worker_threads');
const { Pool } = require(workerData.lanepool);

const { mode, concurrency = 4, maxInFlight } = workerData;
const pool = new Pool(maxInFlight === undefined ? { concurrency } : { concurrency, maxInFlight });

async function batches() {
  const handler = async (record) => {
    await new Promise((resolve) => setImmediate(resolve));
    if (record.body === 'fail') throw new Error(`fail ${record.messageId}`);
  };
  const reports = await Promise.all(
    workerData.events.map((event) => pool.runBatch(event, handler, { throwOnFullBatchFailure: false })),
  );
  parentPort.postMessage({
    responses: reports.map((r) => r.response),
    peaks: reports.map((r) => r.summary.peakInFlight),
  });
}

function hang() {
  let running = 0;
  // every slot busy: each call's `concurrency`, within the pool's `maxInFlight`
  const target = Math.min(concurrency * workerData.calls, maxInFlight ?? Infinity);
  const started = () => {
    if (++running === target) parentPort.postMessage('running');
  };
  const handler = workerData.sync
    ? () => {
        started();
        if (running === target) for (;;);
      }
    : async () => {
        started();
        await new Promise((resolve) => setTimeout(resolve, 60_000)); // still running when terminated
      };
  for (let c = 0; c < workerData.calls; c++) pool.process(workerData.events[c], handler);
}

function exit() {
  let running = 0;
  pool.process(workerData.events[0], async () => {
    if (++running === concurrency) process.exit(7);
    await new Promise((resolve) => setTimeout(resolve, 60_000));
  });
}

if (mode === 'batches') batches().catch((error) => parentPort.postMessage({ error: String(error && error.stack) }));
else if (mode === 'hang') hang();
else if (mode === 'exit') exit();
else throw new Error(`unknown mode ${mode}`);
