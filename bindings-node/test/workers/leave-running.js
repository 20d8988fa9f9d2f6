'use strict';
// A child process of test/worker-threads.test.js: starts workers that each run a batch whose
// handlers never settle, terminates some of them mid-batch, runs a batch on the main thread,
// and exits (process.exit) with the others still running. Prints 'ok' first. With the argument
// 'limited' the workers' pools have a maxInFlight below what their calls could run.

const path = require('node:path');
const { Worker } = require('node:worker_threads');

const lanepool = path.resolve(__dirname, '../..');
const { Pool } = require(lanepool);

const event = (prefix, n) => ({
  Records: Array.from({ length: n }, (_, i) => ({ eventSource: 'aws:sqs', messageId: `${prefix}${i}`, body: '' })),
});

async function main() {
  const workers = [];
  for (let w = 0; w < 4; w++) {
    const worker = new Worker(path.join(__dirname, 'batch-worker.js'), {
      workerData: {
        lanepool,
        mode: 'hang',
        calls: 2,
        events: [event(`a${w}-`, 50), event(`b${w}-`, 50)],
        concurrency: 2,
        maxInFlight: process.argv[2] === 'limited' ? 3 : undefined, // 'limited': one call waits
      },
    });
    await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    workers.push(worker);
  }
  await workers[0].terminate();
  await workers[1].terminate();
  const response = await new Pool().process(event('main-', 10), async () => {});
  if (response.batchItemFailures.length !== 0) throw new Error('main thread batch failed');
  process.stdout.write('ok\n');
  process.exit(0); // workers 2 and 3 still mid-batch
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
