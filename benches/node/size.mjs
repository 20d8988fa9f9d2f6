// Big events and many records through lanepool's Node face, trivial handler: records are never
// copied, so a 6 MB event (10 records x 600 KB bodies) costs what 10 small records cost, and the
// per-record cost does not depend on the batch size. Needs only bindings-node (no rivals).
//
//   node benches/node/size.mjs [--quick]      (bench.mjs runs it as its section (d))
//
// (d1) big event: median over paired runs of time(6 MB event) - time(10 small records), in ms;
//      goal <= 1 ms.
// (d2) per-record cost of 10,000 records / per-record cost of 100 records; goal <= 1.2 (no more
//      per record, within 20%).

import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const BINDING = join(resolve(HERE, '..', '..'), 'bindings-node');
const require = createRequire(import.meta.url);
const { Pool } = require(BINDING);

const trivial = async (_record) => {};

function record(i, body) {
  return {
    messageId: `msg-${String(i).padStart(6, '0')}`,
    receiptHandle: `handle-${i}`,
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1700000000000' },
    messageAttributes: {},
    md5OfBody: 'd41d8cd98f00b204e9800998ecf8427e',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:bench',
    awsRegion: 'us-east-1',
  };
}

const event = (n, bodyOf) => ({ Records: Array.from({ length: n }, (_, i) => record(i, bodyOf(i))) });
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

function check(response) {
  if (response.batchItemFailures.length !== 0) throw new Error(`unexpected ${JSON.stringify(response)}`);
}

/** Milliseconds of `calls` back-to-back calls of `fn`. */
async function timeCalls(fn, calls) {
  const t0 = now();
  for (let i = 0; i < calls; i++) check(await fn());
  return now() - t0;
}

/**
 * Runs every size measurement; returns `{ big, scaling }` with the figures and their goals.
 * @param {{ quick?: boolean }} [options]
 */
export async function sizeBench({ quick = false } = {}) {
  const pool = new Pool({ concurrency: 10 });
  const runs = quick ? 21 : 101;

  // (d1) 10 x 600 KB vs 10 small records, paired runs (each pair back to back).
  const big = event(10, (i) => String.fromCharCode(97 + i).repeat(600 * 1024));
  const small = event(10, (i) => `{"n": ${i}}`);
  const bytes = big.Records.reduce((n, r) => n + r.body.length, 0);
  for (let i = 0; i < 50; i++) {
    check(await pool.process(small, trivial));
    check(await pool.process(big, trivial));
  }
  const diffs = [];
  const smallMs = [];
  for (let i = 0; i < runs; i++) {
    const a = await timeCalls(() => pool.process(small, trivial), 1);
    const b = await timeCalls(() => pool.process(big, trivial), 1);
    diffs.push(b - a);
    smallMs.push(a);
  }

  // (d2) per-record cost of 10,000 records vs 100 records (100 calls of 100 per sample).
  const many = event(10_000, (i) => `{"n": ${i}}`);
  const few = event(100, (i) => `{"n": ${i}}`);
  const samples = quick ? 5 : 15;
  for (let i = 0; i < 3; i++) {
    await timeCalls(() => pool.process(many, trivial), 1);
    await timeCalls(() => pool.process(few, trivial), 100);
  }
  const perMany = [];
  const perFew = [];
  for (let i = 0; i < samples; i++) {
    perMany.push(((await timeCalls(() => pool.process(many, trivial), 1)) * 1000) / 10_000);
    perFew.push(((await timeCalls(() => pool.process(few, trivial), 100)) * 1000) / (100 * 100));
  }
  const usMany = median(perMany);
  const usFew = median(perFew);
  return {
    big: {
      event_bytes: bytes,
      small_event_ms: median(smallMs),
      extra_ms: median(diffs),
      goal_ms: 1,
    },
    scaling: {
      us_per_record_10000: usMany,
      us_per_record_100: usFew,
      ratio: usMany / usFew,
      goal: 'ratio <= 1.2 (a 10,000-record event costs no more per record than a 100-record one, within 20%)',
    },
  };
}

/** Prints the figures of `sizeBench`. */
export function printSize(s) {
  const { big, scaling } = s;
  console.log(`\n(d1) trivial handler, 6 MB event (10 records x 600 KB) vs 10 small records  goal: <= ${big.goal_ms} ms`);
  console.log(`  10 small records: ${big.small_event_ms.toFixed(4)} ms per call`);
  console.log(`  6 MB event (${big.event_bytes} body chars), extra: ${big.extra_ms.toFixed(4)} ms`);
  console.log(`\n(d2) trivial handler, per-record cost by batch size  goal: ${scaling.goal}`);
  console.log(`  10,000 records: ${scaling.us_per_record_10000.toFixed(4)} us/record`);
  console.log(`  100 records:    ${scaling.us_per_record_100.toFixed(4)} us/record`);
  console.log(`  ratio 10,000 / 100: ${scaling.ratio.toFixed(3)}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  printSize(await sizeBench({ quick: process.argv.includes('--quick') }));
}
