'use strict';
// Run by test/retention.test.js under `node --expose-gc`: how many bytes of the young generation
// finished calls still hold after a young collection, per kind of call (the batch calls,
// runJobs, map and scope), beside the bytes one event held alive takes. Prints one JSON line:
// { held, retained: { <call>: bytes } }.
// argv[2], if given: the directory of the lanepool.cjs to load (default: the package).

const v8 = require('node:v8');
const { setImmediate: tick } = require('node:timers/promises');
const lanepool = require(process.argv[2] ? `${process.argv[2]}/lanepool.cjs` : 'lanepool');

const gc = /** @type {(options?: object) => void} */ (globalThis.gc);
const RECORDS = 2000;
const newSpaceBytes = () =>
  /** @type {v8.HeapSpaceInfo} */ (v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')).space_used_size;

/** A fresh SQS event (young, as the Lambda runtime's JSON.parse makes it). */
const event = (/** @type {string | undefined} */ group) => ({
  Records: Array.from({ length: RECORDS }, (_, i) => ({
    messageId: `message-${i}`,
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:us-east-1:123456789012:q${group ? '.fifo' : ''}`,
    body: `{"n": ${i}}`,
    attributes: group ? { MessageGroupId: `${group}-${i % 10}` } : {},
  })),
});

/**
 * The young bytes left after a young collection once `calls` ran three times and settled, after
 * 30 calls to warm it up (what V8's compilers keep alive settles after its first calls).
 */
async function retainedBy(/** @type {() => Promise<unknown>} */ calls) {
  for (let i = 0; i < 30; i++) await calls();
  gc();
  await tick();
  for (let i = 0; i < 3; i++) await calls();
  await tick();
  gc({ type: 'minor', execution: 'sync' });
  return newSpaceBytes();
}

(async () => {
  // The bytes one live event of RECORDS records takes in the young generation.
  gc();
  await tick();
  let kept = /** @type {object | null} */ (event());
  gc({ type: 'minor', execution: 'sync' });
  const held = newSpaceBytes();
  kept = null;

  const pool = new lanepool.Pool({ concurrency: 4 });
  const limited = new lanepool.Pool({ concurrency: 4, maxInFlight: 8 });
  const failing = async (/** @type {any} */ r) => {
    if (r.messageId.endsWith('7')) throw new Error('no');
  };
  const calls = {
    'process, async handler': () => pool.process(event(), async () => {}),
    'process, sync handler': () => pool.process(event(), () => undefined),
    'process, FIFO': () => pool.process(event('g'), async () => {}),
    'runBatch, failures': () => pool.runBatch(event(), failing),
    'process, attemptTimeoutMs': () => pool.process(event(), async () => {}, { attemptTimeoutMs: 1000 }),
    'process, maxInFlight': () => limited.process(event(), async () => {}),
    runJobs: () => pool.runJobs(event().Records, async () => 1),
    map: () => pool.map(event().Records, async (/** @type {any} */ r) => r.body),
    scope: () =>
      pool.scope((s) => {
        for (const r of event().Records) s.spawn(async () => r.body);
      }),
  };
  /** @type {Record<string, number>} */
  const retained = {};
  for (const [name, call] of Object.entries(calls)) retained[name] = await retainedBy(call);
  console.log(JSON.stringify({ held, retained }));
})();
