// lanepool's Node face side by side with Powertools for AWS Lambda (TypeScript) batch, p-map and
// plain Promise.all, in one process.
//
//   node benches/node/bench.mjs [--json out.json] [--quick] [--no-sweep] [--kafka-only] [--jobs-only]
//
// Rivals come from benches/node/node_modules (scripts/bench runs `npm install` there); lanepool
// from bindings-node (built by its own build script). Every figure is the median of several runs;
// ratios are lanepool / this (below 1.0: lanepool is faster).
// (d), big events and batch sizes, is size.mjs (runnable alone: node benches/node/size.mjs).
// Case (a) also runs a Kafka batch (Amazon MSK, 10,000 records over 100 partitions, 10 keys each)
// with ordering 'auto' and 'key', beside p-map with a task per partition (Powertools for
// TypeScript has no Kafka processor); `--kafka-only` runs just those, beside lanepool on the
// standard SQS batch. Case (e) runs pool.runJobs against p-map over 1,000 jobs (trivial, and
// 20 ms each), printed beside the rows (not in the JSON rows); `--jobs-only` runs just it.
// Case (f), the per-record cost at concurrency 16 on SQS standard, SQS FIFO (100 groups), Kinesis
// and Kafka batches of 10,000 records, and a Kinesis batch with a UUID partition key per record
// (what a producer that only spreads records over shards sends: 10,000 lanes): pool.process with a trivial async and a sync handler,
// beside the AWS blog's sample (16 async workers shifting records from a shared array, failures
// collected), bare p-map(16) (no response) and a plain `for` loop that only awaits the handler;
// its last row is lanepool's cost per record over that loop. `--per-record-only` runs just it.
// `--require-only` runs just the require figure: lanepool's installed layout beside a stub package
// with the same package.json, median of 20 fresh processes, on this Node and on .tools' Node 24.

import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import {
  copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  BatchProcessor,
  EventType,
  SqsFifoPartialProcessorAsync,
  processPartialResponse,
} from '@aws-lambda-powertools/batch';
import pMap from 'p-map';

import { fifoEvent, kafkaEvent, perRecordEvents, standardEvent } from './events.mjs';
import { sizeBench, printSize } from './size.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const BINDING = join(ROOT, 'bindings-node');
const require = createRequire(import.meta.url);
const { Pool } = require(BINDING);
// lanepool's Powertools processor (bindings-node/powertools.js; it loads @aws-lambda-powertools/batch
// from bindings-node's devDependencies: `npm ci` there).
const { ParallelBatchProcessor } = require(join(BINDING, 'powertools.js'));

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const noSweep = args.includes('--no-sweep');
const kafkaOnly = args.includes('--kafka-only');
const jobsOnly = args.includes('--jobs-only');
const perRecordOnly = args.includes('--per-record-only');
const requireOnly = args.includes('--require-only');
const jsonPath = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;
const RUNS_FAST = quick ? 3 : 7;
const RUNS_IO = quick ? 1 : 3;
const SLEEP_MS = 20;

// ------------------------------------------------------------------ events

function groupsOf(event) {
  const groups = new Map();
  for (const r of event.Records) {
    const g = r.attributes.MessageGroupId;
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(r);
  }
  return [...groups.values()];
}

// ------------------------------------------------------------------ handlers

const trivial = async (_record) => {};
const sleepy = async (_record) => {
  await sleep(SLEEP_MS);
};

// ------------------------------------------------------------------ rivals (same work, same answer)

const ptBatch = (event, handler) =>
  processPartialResponse(event, handler, new BatchProcessor(EventType.SQS));
// skipGroupOnError is an option of processPartialResponse (the constructor takes none).
const ptFifo = (event, handler) =>
  processPartialResponse(event, handler, new SqsFifoPartialProcessorAsync(), { skipGroupOnError: true });
// lanepool's drop-in processor for Powertools users: records through Powertools' processRecord,
// scheduled by lanepool (lanes by FIFO group; standard SQS unordered).
const lpProcessor = (pool) => new ParallelBatchProcessor(EventType.SQS, { pool });
const ptLanepool = (processor, event, handler) => processPartialResponse(event, handler, processor);

async function pMapRun(event, handler, concurrency) {
  const results = await pMap(
    event.Records,
    async (r) => {
      try {
        await handler(r);
        return null;
      } catch {
        return { itemIdentifier: r.messageId };
      }
    },
    { concurrency },
  );
  return { batchItemFailures: results.filter(Boolean) };
}

async function pMapFifoRun(event, handler, concurrency) {
  const failed = new Set();
  await pMap(
    groupsOf(event),
    async (group) => {
      for (let k = 0; k < group.length; k++) {
        try {
          await handler(group[k]);
        } catch {
          for (const r of group.slice(k)) failed.add(r.messageId);
          return;
        }
      }
    },
    { concurrency },
  );
  return {
    batchItemFailures: event.Records.filter((r) => failed.has(r.messageId)).map((r) => ({
      itemIdentifier: r.messageId,
    })),
  };
}

/** p-map with one task per topic-partition: records in offset order, the rest skipped after a failure. */
async function pMapKafkaRun(event, handler, concurrency) {
  const failed = new Set();
  await pMap(
    Object.values(event.records),
    async (partition) => {
      for (let k = 0; k < partition.length; k++) {
        try {
          await handler(partition[k]);
        } catch {
          for (const r of partition.slice(k)) failed.add(r);
          return;
        }
      }
    },
    { concurrency },
  );
  const failures = [];
  for (const [partition, records] of Object.entries(event.records)) {
    for (const r of records) if (failed.has(r)) failures.push({ itemIdentifier: { partition, offset: r.offset } });
  }
  return { batchItemFailures: failures };
}

async function promiseAllRun(event, handler) {
  const settled = await Promise.allSettled(event.Records.map((r) => handler(r)));
  return {
    batchItemFailures: event.Records.filter((_, i) => settled[i].status === 'rejected').map((r) => ({
      itemIdentifier: r.messageId,
    })),
  };
}

/** Promise.all over `limit` workers pulling from a shared index: the hand-rolled limiter. */
async function promiseAllLimitRun(event, handler, limit) {
  const records = event.Records;
  const failures = new Array(records.length).fill(false);
  let next = 0;
  const worker = async () => {
    while (next < records.length) {
      const i = next++;
      try {
        await handler(records[i]);
      } catch {
        failures[i] = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, records.length) }, worker));
  return {
    batchItemFailures: records.filter((_, i) => failures[i]).map((r) => ({ itemIdentifier: r.messageId })),
  };
}

// ------------------------------------------------------------------ (f): the per-record cost

/** The records of an event in event order, and each one's partial-batch-response identifier. */
function recordsOf(event) {
  if (Array.isArray(event.Records)) {
    const kinesis = event.Records[0]?.eventSource === 'aws:kinesis';
    return { records: event.Records, id: kinesis ? (r) => r.kinesis.sequenceNumber : (r) => r.messageId };
  }
  return {
    records: Object.values(event.records).flat(),
    id: (r) => ({ partition: `${r.topic}-${r.partition}`, offset: r.offset }),
  };
}

/**
 * The AWS blog's sample: `workers` async workers shift records from a shared copy of the array
 * and collect the failures (no lanes, no deadline).
 */
async function blogSample(event, handler, workers) {
  const { records, id } = recordsOf(event);
  const queue = [...records];
  const batchItemFailures = [];
  const worker = async () => {
    while (queue.length > 0) {
      const record = queue.shift();
      try {
        await handler(record);
      } catch {
        batchItemFailures.push({ itemIdentifier: id(record) });
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  return { batchItemFailures };
}

/** A plain loop that only awaits the handler, one record at a time: the floor. */
async function plainLoop(event, handler) {
  const { records } = recordsOf(event);
  for (let i = 0; i < records.length; i++) await handler(records[i]);
  return { batchItemFailures: [] };
}

const syncTrivial = (_record) => undefined;

async function perRecordBench(quickRun) {
  const N = 10_000;
  const conc = 16;
  const pool = new Pool({ concurrency: conc });
  const events = perRecordEvents(N);
  const us = (sec) => (sec * 1e6) / N;
  const out = [];
  for (const [name, ev] of Object.entries(events)) {
    const cases = {
      'lanepool pool.process': () => pool.process(ev, trivial),
      'lanepool pool.process, sync handler': () => pool.process(ev, syncTrivial),
      'AWS blog sample (16 workers)': () => blogSample(ev, trivial, conc),
      'p-map (16), bare (no response)': async () => {
        await pMap(recordsOf(ev).records, trivial, { concurrency: conc });
        return { batchItemFailures: [] };
      },
      'plain for loop (awaits the handler)': () => plainLoop(ev, trivial),
    };
    const t = await mediansInTurn(cases, (quickRun ? 5 : 15));
    const entries = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, us(v)]));
    out.push([`(f) per-record cost, trivial async handler, 10,000 records, ${name}, concurrency 16`, entries]);
  }
  return out;
}

// ------------------------------------------------------------------ timing

function check(response) {
  if (!response || !Array.isArray(response.batchItemFailures) || response.batchItemFailures.length !== 0) {
    throw new Error(`unexpected response ${JSON.stringify(response)}`);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/** Median over `runs` back-to-back pairs of (b - a) seconds: the extra cost of b over a. */
async function pairedOverhead(a, b, runs, warmup = 2) {
  for (let i = 0; i < warmup; i++) {
    check(await a());
    check(await b());
  }
  const diffs = [];
  for (let i = 0; i < runs; i++) {
    let t0 = process.hrtime.bigint();
    check(await a());
    const ta = Number(process.hrtime.bigint() - t0) / 1e9;
    t0 = process.hrtime.bigint();
    check(await b());
    diffs.push(Number(process.hrtime.bigint() - t0) / 1e9 - ta);
  }
  return median(diffs);
}

// Median times of several contenders run in turn (one run of each, then again), so that the JIT's
// warm-up, the collector and a busy machine weigh on all of them alike.
async function mediansInTurn(cases, runs, warmup = 3, checkOut = check) {
  const names = Object.keys(cases);
  const times = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < warmup + runs; round++) {
    for (const name of names) {
      const t0 = process.hrtime.bigint();
      const out = await cases[name]();
      const t = Number(process.hrtime.bigint() - t0) / 1e9;
      checkOut(out);
      if (round >= warmup) times[name].push(t);
    }
  }
  return Object.fromEntries(names.map((name) => [name, median(times[name])]));
}

async function medianTime(fn, runs, warmup = 2) {
  return (await mediansInTurn({ fn }, runs, warmup)).fn;
}

const rows = [];
function row(caseName, unit, entries, primary, goal, ideal) {
  const lp = entries[primary];
  const all = ideal !== undefined ? { ideal, ...entries } : entries;
  rows.push({
    case: caseName,
    unit,
    primary,
    lanepool: lp,
    ideal: ideal ?? null,
    goal,
    entries: Object.entries(all).map(([name, value]) => ({ name, value, ratio: value ? lp / value : null })),
  });
}

// ------------------------------------------------------------------ the cases

async function main() {
  // (a) trivial async handler, 10,000 records, µs per record.
  const N = 10_000;
  let ev = standardEvent(N);
  const fev = fifoEvent(N, 100);
  const kev = kafkaEvent(N, 100, 10);
  const conc = 10;
  const pool = new Pool({ concurrency: conc });
  const processor = lpProcessor(pool);
  const us = (s) => (s * 1e6) / N;
  const kafkaCases = {
    'lanepool Kafka (100 partitions)': () => pool.process(kev, trivial),
    "lanepool Kafka, ordering 'key' (100 partitions x 10 keys)": () => pool.process(kev, trivial, { ordering: 'key' }),
    'p-map (10), Kafka, task per partition': () => pMapKafkaRun(kev, trivial, conc),
  };
  if (jobsOnly) {
    printRows(await jobsBench(quick));
    return;
  }
  const perRecordRows = async () => {
    for (const [caseName, entries] of await perRecordBench(quick)) {
      // The row with a UUID key per record shows what 10,000 lanes cost: issue 20's goals are
      // for the four others.
      const goal = caseName.includes('a UUID key per record')
        ? 'none (what 10,000 lanes cost)'
        : 'the issue\'s goal: <= 0.2 us/record';
      row(caseName, 'us/record', entries, 'lanepool pool.process', goal);
      const over = entries['lanepool pool.process'] - entries['plain for loop (awaits the handler)'];
      console.log(`${caseName}: lanepool's cost over the plain loop ${over.toFixed(3)} us/record`);
    }
  };
  if (perRecordOnly) {
    await perRecordRows();
    printRows(rows);
    return;
  }
  if (requireOnly) {
    const r = requireTime(quick ? 5 : 20);
    for (const [label, t] of Object.entries(r.by_node)) {
      console.log(`require('lanepool'), ${label}: ${t.total_ms.toFixed(2)} ms; stub ${t.floor_ms.toFixed(2)} ms; own ${t.own_ms.toFixed(2)} ms`);
    }
    return;
  }
  if (kafkaOnly) {
    const times = await mediansInTurn({ 'lanepool': () => pool.process(ev, trivial), ...kafkaCases }, RUNS_FAST * 3);
    row(`(a) trivial async handler, 10,000 records, concurrency ${conc} (Kafka only)`, 'us/record',
      Object.fromEntries(Object.entries(times).map(([name, s]) => [name, us(s)])), 'lanepool',
      "at most p-map's per-record cost");
    printRows(rows);
    if (jsonPath) writeFileSync(jsonPath, JSON.stringify({ face: 'node', node: process.version, rows }, null, 1) + '\n');
    return;
  }
  // Every contender runs in turn, run by run; the Powertools processors, 2-3x slower, too.
  const aTimes = await mediansInTurn(
    {
      'lanepool': () => pool.process(ev, trivial),
      'lanepool FIFO (100 groups)': () => pool.process(fev, trivial),
      'lanepool unordered': () => pool.process(fev, trivial, { ordering: 'unordered' }),
      ...kafkaCases,
      'lanepool ParallelBatchProcessor (Powertools)': () => ptLanepool(processor, ev, trivial),
      'lanepool ParallelBatchProcessor, FIFO (100 groups)': () => ptLanepool(processor, fev, trivial),
      'p-map (10)': () => pMapRun(ev, trivial, conc),
      'Promise.all (no limit)': () => promiseAllRun(ev, trivial),
      'Promise.all, 10 workers': () => promiseAllLimitRun(ev, trivial, conc),
      'Powertools BatchProcessor (parallel, no limit)': () => ptBatch(ev, trivial),
      'Powertools SqsFifoPartialProcessorAsync': () => ptFifo(fev, trivial),
    },
    RUNS_FAST * 3,
  );
  const a = Object.fromEntries(Object.entries(aTimes).map(([name, s]) => [name, us(s)]));
  const overheadUs = us(
    await pairedOverhead(() => pool.process(ev, trivial), () => ptLanepool(processor, ev, trivial), RUNS_FAST * 3),
  );
  row(`(a) trivial async handler, 10,000 records, concurrency ${conc}`, 'us/record', a, 'lanepool',
    "at most p-map's per-record cost");

  // (b) 100 records x 20 ms at concurrency 10: ideal 0.2 s.
  ev = standardEvent(100);
  const b = {};
  b['lanepool'] = await medianTime(() => pool.process(ev, sleepy), RUNS_IO);
  b['lanepool ParallelBatchProcessor (Powertools)'] = await medianTime(() => ptLanepool(processor, ev, sleepy), RUNS_IO);
  b['p-map (10)'] = await medianTime(() => pMapRun(ev, sleepy, conc), RUNS_IO);
  b['Promise.all, 10 workers'] = await medianTime(() => promiseAllLimitRun(ev, sleepy, conc), RUNS_IO);
  b['Powertools BatchProcessor (parallel, no limit)'] = await medianTime(() => ptBatch(ev, sleepy), RUNS_IO);
  row('(b) 100 records x 20 ms, concurrency 10', 's', b, 'lanepool', 'within 10% of ideal 0.2 s', 0.2);

  // (c) FIFO: 100 records in 10 groups x 20 ms: ideal = largest group x 20 ms.
  ev = fifoEvent(100, 10);
  const idealC = (Math.max(...groupsOf(ev).map((g) => g.length)) * SLEEP_MS) / 1000;
  const c = {};
  c['lanepool'] = await medianTime(() => pool.process(ev, sleepy), RUNS_IO);
  c['lanepool ParallelBatchProcessor (Powertools)'] = await medianTime(() => ptLanepool(processor, ev, sleepy), RUNS_IO);
  c['p-map (10), task per group'] = await medianTime(() => pMapFifoRun(ev, sleepy, conc), RUNS_IO);
  c['Powertools SqsFifoPartialProcessorAsync'] = await medianTime(() => ptFifo(ev, sleepy), RUNS_IO, 0);
  row('(c) SQS FIFO, 100 records in 10 groups x 20 ms, concurrency 10', 's', c, 'lanepool',
    `within 10% of ideal ${idealC.toFixed(1)} s`, idealC);

  // (e) jobs: pool.runJobs against p-map over the same 1,000 items, trivial and 20 ms each,
  // contenders in turn round by round; each run's results are checked (job i's is i * 2).
  const e = await jobsBench(quick);
  printRows(e);

  // (f) the per-record cost on four sources (see the head of this file).
  await perRecordRows();

  const results = {
    face: 'node',
    node: process.version,
    versions: {
      '@aws-lambda-powertools/batch': pkgVersion('@aws-lambda-powertools/batch'),
      'p-map': pkgVersion('p-map'),
    },
    rows,
    // lanepool's Powertools processor (lanepool/powertools): its price over pool.process with a
    // trivial handler (paired runs, 10,000 records) and its FIFO time against the lane ideal.
    powertools_processor: {
      trivial_us_per_record: a['lanepool ParallelBatchProcessor (Powertools)'],
      process_us_per_record: a['lanepool'],
      overhead_us_per_record: overheadUs,
      overhead_goal_us: 2,
      io_s: b['lanepool ParallelBatchProcessor (Powertools)'],
      io_ideal_s: 0.2,
      fifo_s: c['lanepool ParallelBatchProcessor (Powertools)'],
      fifo_ideal_s: idealC,
      fifo_vs_ideal: c['lanepool ParallelBatchProcessor (Powertools)'] / idealC,
      fifo_goal: 'within 10% of ideal',
    },
    // (d) big events and batch sizes (size.mjs): no copies, per-record cost flat.
    size: await sizeBench({ quick }),
    require_ms: requireTime(quick ? 5 : 20),
    sizes: sizes(),
    sweep: noSweep ? {} : await sweep(),
  };
  printTable(results);
  printSize(results.size);
  if (jsonPath) {
    writeFileSync(jsonPath, JSON.stringify(results, null, 1) + '\n');
    console.log(`wrote ${jsonPath}`);
  }
}

/** Throws unless `results` is job i's i * 2 for each of `n` jobs. */
function checkJobs(results, n) {
  if (!Array.isArray(results) || results.length !== n || results.some((r, i) => r !== i * 2)) {
    throw new Error(`unexpected job results ${JSON.stringify(results?.slice?.(0, 5))}...`);
  }
}

/** Case (e): runJobs and p-map, 1,000 jobs, trivial (concurrency 10) and 20 ms (concurrency 100). */
async function jobsBench(quick) {
  const n = 1000;
  const items = Array.from({ length: n }, (_, i) => i);
  const out = [];
  for (const [label, fn, concurrency, unit, runs] of [
    ['trivial async fn', async (x) => x * 2, 10, 'us/job', RUNS_FAST * 3],
    [`${SLEEP_MS} ms each`, async (x) => (await sleep(SLEEP_MS), x * 2), 100, 's', quick ? 3 : 5],
  ]) {
    const pool = new Pool({ concurrency });
    const times = await mediansInTurn(
      {
        'lanepool runJobs': async () => (await pool.runJobs(items, fn)).results,
        [`p-map (${concurrency})`]: () => pMap(items, fn, { concurrency }),
      },
      runs,
      2,
      (results) => checkJobs(results, n),
    );
    const entries = Object.fromEntries(
      Object.entries(times).map(([name, sec]) => [name, unit === 's' ? sec : (sec * 1e6) / n]),
    );
    const ideal = unit === 's' ? (n / concurrency) * SLEEP_MS / 1000 : undefined;
    const row = {
      case: `(e) jobs, 1,000 x ${label}, concurrency ${concurrency}`,
      unit,
      primary: 'lanepool runJobs',
      goal: unit === 's' ? `within 10% of ideal ${ideal} s` : "at most p-map's per-job cost",
      entries: Object.entries(ideal !== undefined ? { ideal, ...entries } : entries).map(([name, value]) => ({
        name,
        value,
        ratio: value ? entries['lanepool runJobs'] / value : null,
      })),
    };
    out.push(row);
  }
  return out;
}

async function sweep() {
  const concurrency = [1, 2, 5, 10, 20, 50];
  const std = standardEvent(100);
  const fifo = fifoEvent(100, 10);
  const out = { concurrency, standard: {}, fifo: {} };
  // Powertools has no concurrency setting: BatchProcessor runs every record at once and the FIFO
  // processor one record at a time. Measured once, drawn flat.
  const ptStd = await medianTime(() => ptBatch(std, sleepy), 1, 0);
  const ptFifoT = await medianTime(() => ptFifo(fifo, sleepy), 1, 0);
  out.standard['Powertools TypeScript (BatchProcessor)'] = concurrency.map(() => ptStd);
  out.fifo['Powertools TypeScript (SqsFifoPartialProcessorAsync)'] = concurrency.map(() => ptFifoT);
  for (const k of ['lanepool Node', 'p-map']) {
    out.standard[k] = [];
    out.fifo[k] = [];
  }
  for (const c of concurrency) {
    const pool = new Pool({ concurrency: c });
    out.standard['lanepool Node'].push(await medianTime(() => pool.process(std, sleepy), 1, 0));
    out.fifo['lanepool Node'].push(await medianTime(() => pool.process(fifo, sleepy), 1, 0));
    out.standard['p-map'].push(await medianTime(() => pMapRun(std, sleepy, c), 1, 0));
    out.fifo['p-map'].push(await medianTime(() => pMapFifoRun(fifo, sleepy, c), 1, 0));
  }
  return out;
}

function pkgVersion(name) {
  try {
    return JSON.parse(readFileSync(join(HERE, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

/**
 * Milliseconds `require('lanepool')` takes in a fresh Node process (median of runs), laid out
 * as `npm install lanepool` leaves it (node_modules/lanepool with its published files, the addon
 * in its per-platform package) and required from a handler file, as Lambda's runtime loads one.
 */
function requireTime(runs) {
  const dir = mkdtempSync(join(tmpdir(), 'lanepool-require-'));
  try {
    const pkg = JSON.parse(readFileSync(join(BINDING, 'package.json'), 'utf8'));
    const main = join(dir, 'node_modules', 'lanepool');
    mkdirSync(main, { recursive: true });
    const shipped = pkg.files.filter((f) => !f.includes('*') && existsSync(join(BINDING, f)));
    // `files` names files and folders (lib/): copied as npm packs them.
    for (const f of ['package.json', ...shipped]) cpSync(join(BINDING, f), join(main, f), { recursive: true });
    for (const addon of readdirSync(BINDING).filter((f) => /^lanepool\..+\.node$/.test(f))) {
      const name = `@lanepool/${addon.slice('lanepool.'.length, -'.node'.length)}`;
      const platformDir = join(dir, 'node_modules', name);
      mkdirSync(platformDir, { recursive: true });
      copyFileSync(join(BINDING, addon), join(platformDir, addon));
      writeFileSync(join(platformDir, 'package.json'), JSON.stringify({ name, version: pkg.version, main: addon }));
    }
    // The floor: a stub package with lanepool's own package.json (so the same `exports` map,
    // whose first resolution loads Node's ES module resolver) and, as its main, a file of one line.
    const stub = join(dir, 'node_modules', 'lanepool-stub');
    mkdirSync(stub, { recursive: true });
    writeFileSync(join(stub, 'package.json'), JSON.stringify({ ...pkg, name: 'lanepool-stub' }));
    writeFileSync(join(stub, pkg.main), 'module.exports = { Pool: function Pool() {} };\n');
    for (const name of ['lanepool', 'lanepool-stub']) {
      writeFileSync(
        join(dir, `${name}.js`),
        "const { performance } = require('node:perf_hooks');\n" +
          'const t0 = performance.now();\n' +
          `const { Pool } = require('${name}');\n` +
          'const ms = performance.now() - t0;\n' +
          "if (typeof Pool !== 'function') throw new Error('the package did not load');\n" +
          'process.stdout.write(String(ms));\n',
      );
    }
    // Lambda's runtimes are Node 22 and 24: scripts/test installs Node 24 under .tools.
    const nodes = { [`node ${process.version}`]: process.execPath };
    const node24 = join(ROOT, '.tools', 'node-24', 'bin', 'node');
    if (existsSync(node24)) nodes[`node ${execFileSync(node24, ['--version']).toString().trim()}`] = node24;
    const out = {};
    for (const [label, exe] of Object.entries(nodes)) {
      const times = { lanepool: [], 'lanepool-stub': [] };
      for (let i = 0; i < runs; i++) {
        for (const name of Object.keys(times)) {
          times[name].push(Number(execFileSync(exe, [join(dir, `${name}.js`)], { cwd: dir }).toString()));
        }
      }
      const total = median(times.lanepool);
      const floor = median(times['lanepool-stub']);
      out[label] = { total_ms: total, floor_ms: floor, own_ms: total - floor };
    }
    const first = out[`node ${process.version}`];
    return { lanepool_require_ms: first.total_ms, floor_ms: first.floor_ms, runs, by_node: out };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function sizes() {
  const nodes = readdirSync(BINDING).filter((f) => f.endsWith('.node'));
  return Object.fromEntries(nodes.map((f) => [f, statSync(join(BINDING, f)).size]));
}

function printTable(results) {
  console.log(`\nlanepool Node benches (Node ${results.node}, Powertools ${results.versions['@aws-lambda-powertools/batch']}, p-map ${results.versions['p-map']})`);
  printRows(results.rows);
  printRest(results);
}

function printRows(rows) {
  for (const r of rows) {
    console.log(`\n${r.case} [${r.unit}]  goal: ${r.goal}`);
    console.log(`  ${''.padEnd(58)} ${'value'.padStart(10)}  ratio (${r.primary} / this)`);
    for (const e of r.entries) {
      const ratio = e.ratio === null ? '-' : e.ratio.toFixed(2);
      console.log(`  ${e.name.padEnd(58)} ${e.value.toFixed(4).padStart(10)}  ${ratio.padStart(10)}`);
    }
  }
}

function printRest(results) {
  const pt = results.powertools_processor;
  console.log(
    `\nlanepool/powertools ParallelBatchProcessor: ${pt.overhead_us_per_record.toFixed(2)} us/record over pool.process ` +
      `(trivial handler; goal <= ${pt.overhead_goal_us}); FIFO ${pt.fifo_s.toFixed(3)} s vs ideal ${pt.fifo_ideal_s.toFixed(1)} s ` +
      `(x${pt.fifo_vs_ideal.toFixed(3)}; goal within 10%); I/O ${pt.io_s.toFixed(3)} s vs ideal ${pt.io_ideal_s} s`,
  );
  for (const [label, r] of Object.entries(results.require_ms.by_node)) {
    console.log(
      `\nrequire('lanepool') (installed layout, from a handler file, median of ${results.require_ms.runs} processes, ${label}): ` +
        `${r.total_ms.toFixed(2)} ms (goal <= 5 ms); a stub package with the same package.json ${r.floor_ms.toFixed(2)} ms; ` +
        `lanepool's own ${r.own_ms.toFixed(2)} ms`,
    );
  }
  for (const [f, s] of Object.entries(results.sizes)) console.log(`${f}: ${s} bytes (goal < 2 MB)`);
  if (results.sweep.concurrency) {
    console.log(`\nsweep (s) concurrency: ${results.sweep.concurrency.join(', ')}`);
    for (const panel of ['standard', 'fifo']) {
      for (const [k, v] of Object.entries(results.sweep[panel])) {
        console.log(`  ${panel.padEnd(8)} ${k.padEnd(52)} ${v.map((x) => x.toFixed(3).padStart(6)).join(' ')}`);
      }
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
