#!/usr/bin/env node
// Soak: one Pool, many invocations of mixed events (SQS standard and FIFO, Kinesis, DynamoDB, Kafka;
// async and sync handlers; random failures, retries, some with a far deadline), every response
// checked against a reference model (test/fuzz/model.js: identifiers, lanes, skips). After a
// warm-up it measures, and at the end compares:
//   rss - heapTotal (native memory: must grow < 5 MB), the live heap after a full GC (must not
//   grow by more than 1 MB, allocator noise), OS threads (/proc/self/task), open fds
//   (/proc/self/fd) and active handles (process.getActiveResourcesInfo()), which must not grow.
// Exits 1 on any violation or wrong response.
//
//   node --expose-gc bindings-node/soak.mjs [--invocations 5000] [--seed 1]
// (without --expose-gc it runs itself again with it)

import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { setImmediate as tick } from 'node:timers/promises';

const require = createRequire(import.meta.url);

if (typeof globalThis.gc !== 'function') {
  const r = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const { Pool } = require('./index.js');
const { decode, respond } = require('./test/fuzz/model.js');
const { rng } = require('./test/fuzz/generate.js');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const INVOCATIONS = arg('invocations', 5000);
const SEED = arg('seed', 1);
const WARMUP = Math.max(100, Math.floor(INVOCATIONS / 10));
const MB = 1024 * 1024;

const r = rng(SEED);

function record(kind, i, group) {
  switch (kind) {
    case 'kinesis':
      return {
        kinesis: { partitionKey: group, sequenceNumber: `4959${i}`, data: 'e30=' },
        eventSource: 'aws:kinesis',
        eventID: `shardId-000:${i}`,
      };
    case 'dynamodb':
      return {
        eventSource: 'aws:dynamodb',
        eventName: 'MODIFY',
        dynamodb: { Keys: { Id: { N: group } }, SequenceNumber: `${100 + i}` },
      };
    default:
      return {
        messageId: `m${i}`,
        body: `{"n":${i}}`,
        attributes: kind === 'fifo' ? { MessageGroupId: group } : {},
        eventSource: 'aws:sqs',
      };
  }
}

/** A Kafka event of `n` records over a few partitions, keys from `groups` (some without). */
function kafkaEvent(n, groups) {
  const records = {};
  for (let i = 0; i < n; i++) {
    const partition = r.int(0, 3);
    const list = (records[`orders-${partition}`] ??= []);
    const rec = { topic: 'orders', partition, offset: 1000 + i, timestamp: 1700000000000, value: 'e30=', headers: [] };
    if (r.chance(0.8)) rec.key = r.pick(groups);
    list.push(rec);
  }
  return { eventSource: r.pick(['aws:kafka', 'SelfManagedKafka']), records };
}

/** The event's records in event order (`Records`, or a Kafka event's groups). */
const recordsOf = (event) => event.Records ?? Object.values(event.records).flat();

/** One invocation's event, options and per-record plan (attempts that fail before success). */
function invocation() {
  const kind = r.pick(['sqs', 'fifo', 'kinesis', 'dynamodb', 'kafka']);
  const n = r.int(1, 60);
  const groups = Array.from({ length: r.int(1, 6) }, (_, k) => `g${k}`);
  const event =
    kind === 'kafka' ? kafkaEvent(n, groups) : { Records: Array.from({ length: n }, (_, i) => record(kind, i, r.pick(groups))) };
  const failFirst = Array.from({ length: n }, () => (r.chance(0.8) ? 0 : r.int(1, 3)));
  const retries = r.int(0, 2);
  const options = { retries, retryBackoffMs: r.int(0, 1), throwOnFullBatchFailure: r.chance(0.5) };
  if (r.chance(0.2)) options.ordering = 'unordered';
  else if (kind === 'kafka' && r.chance(0.5)) options.ordering = 'key';
  if (r.chance(0.3)) options.context = { getRemainingTimeInMillis: () => 60_000 };
  return { event, failFirst, retries, options, sync: r.chance(0.3), method: r.chance(0.5) ? 'process' : 'runBatch' };
}

/** The model's response, and the handler calls each record must get (0 when skipped). */
function expected(inv) {
  const model = decode(inv.event, inv.options.ordering ?? 'auto');
  if (model.error) throw new Error(`soak generated a malformed event: ${JSON.stringify(model.error)}`);
  const fails = (i) => inv.failFirst[i] > inv.retries;
  const failedLanes = new Set();
  const calls = model.lanes.map((lane, i) => {
    if (lane !== undefined && failedLanes.has(lane)) return 0;
    if (fails(i) && lane !== undefined) failedLanes.add(lane);
    return Math.min(inv.failFirst[i], inv.retries) + 1;
  });
  return { ...respond(model, fails), calls };
}

async function runOne(pool, inv) {
  const records = recordsOf(inv.event);
  const index = new Map(records.map((rec, i) => [rec, i]));
  const calls = new Array(records.length).fill(0);
  const attempt = (rec) => {
    const i = index.get(rec);
    calls[i]++;
    if (calls[i] <= inv.failFirst[i]) throw new Error(`fail ${i} attempt ${calls[i]}`);
  };
  const handler = inv.sync
    ? attempt
    : async (rec) => {
        await (r.chance(0.5) ? null : tick());
        attempt(rec);
      };
  let response;
  try {
    const out = await pool[inv.method](inv.event, handler, inv.options);
    response = inv.method === 'runBatch' ? out.response : out;
  } catch (e) {
    if (e?.name !== 'BatchFailedError') throw e;
    response = e.report.response;
  }
  const want = expected(inv);
  const wantResponse = { batchItemFailures: want.batchItemFailures };
  if (JSON.stringify(response) !== JSON.stringify(wantResponse)) {
    return `response ${JSON.stringify(response)} != model ${JSON.stringify(wantResponse)}`;
  }
  if (JSON.stringify(calls) !== JSON.stringify(want.calls)) {
    return `handler calls ${JSON.stringify(calls)} != model ${JSON.stringify(want.calls)}`;
  }
  return null;
}

const count = (dir) => fs.readdirSync(dir).length;

function sample() {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return {
    native: m.rss - m.heapTotal,
    heap: m.heapUsed,
    threads: count('/proc/self/task'),
    fds: count('/proc/self/fd'),
    handles: process.getActiveResourcesInfo().length,
  };
}

const pool = new Pool({ concurrency: 8 });
let wrong = 0;
let records = 0;
let base;
const t0 = performance.now();
for (let k = 0; k < INVOCATIONS; k++) {
  if (k === WARMUP) base = sample();
  const inv = invocation();
  records += recordsOf(inv.event).length;
  const problem = await runOne(pool, inv);
  if (problem) {
    wrong++;
    if (wrong <= 5) console.error(`invocation ${k}: ${problem}`);
  }
}
const seconds = (performance.now() - t0) / 1000;
await tick();
const end = sample();
base ??= end;

const growth = Object.fromEntries(Object.keys(end).map((k) => [k, end[k] - base[k]]));
const violations = [];
if (wrong > 0) violations.push(`${wrong} wrong responses`);
if (growth.native >= 5 * MB) violations.push(`rss - heapTotal grew ${(growth.native / MB).toFixed(2)} MB (limit 5 MB)`);
if (growth.heap > 1 * MB) violations.push(`live heap grew ${(growth.heap / MB).toFixed(2)} MB (limit 1 MB)`);
for (const k of ['threads', 'fds', 'handles']) if (growth[k] > 0) violations.push(`${k} grew by ${growth[k]}`);

const fmt = (b) => `${(b / MB).toFixed(2)} MB`;
console.log(`soak: ${INVOCATIONS} invocations (${records} records) in ${seconds.toFixed(1)} s, seed ${SEED}, warm-up ${WARMUP}`);
console.log(`  rss - heapTotal: ${fmt(base.native)} -> ${fmt(end.native)} (growth ${fmt(growth.native)}, limit 5 MB)`);
console.log(`  live heap after full GC: ${fmt(base.heap)} -> ${fmt(end.heap)} (growth ${fmt(growth.heap)}, limit 1 MB)`);
console.log(`  threads ${base.threads} -> ${end.threads}, fds ${base.fds} -> ${end.fds}, active handles ${base.handles} -> ${end.handles}`);
console.log(`  responses and handler calls checked against the model: ${INVOCATIONS - wrong} right, ${wrong} wrong`);
console.log(JSON.stringify({ invocations: INVOCATIONS, records, seconds, base, end, growth, wrong, violations }));
if (violations.length > 0) {
  console.error(`soak: FAILED: ${violations.join('; ')}`);
  process.exit(1);
}
console.log('soak: OK');
