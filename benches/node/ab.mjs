// A saved build of lanepool's Node face against the current one, in one process: the per-record
// cost of case (f) (bench.mjs) on SQS standard, SQS FIFO (100 groups), Kinesis (100 keys), Kafka
// (100 partitions) and Kinesis (a UUID key per record) batches of 10,000 records at concurrency
// 16, with a trivial async and a sync handler. Both builds run in turn, round by round, so what the process does meanwhile (V8
// sizing its young generation, the CPU's clock) falls on both alike; each figure is a median.
//
//   node benches/node/ab.mjs --save DIR        copy the current build (lanepool.cjs and the addon) to DIR
//   node benches/node/ab.mjs DIR [--rounds N]  DIR's build ("old") against the current one ("new")
//
// Ratios are new / old (below 1.0: the current build is cheaper). Build first (`node build.js` in
// bindings-node); the two addons load from their own paths, so both are live at once. The two
// share one heap, so a change to what the garbage collector must copy shows on both alike: for
// that, compare fresh processes in turn (test/retention.test.js shows what a call keeps alive).

import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { perRecordEvents } from './events.mjs';

const BINDING = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bindings-node');
const require = createRequire(import.meta.url);

/** The files of a build: the bundle and the development addon beside it. */
function buildFiles(dir) {
  return readdirSync(dir).filter((f) => f === 'lanepool.cjs' || /^lanepool\..+\.node$/.test(f));
}

const args = process.argv.slice(2);
if (args[0] === '--save') {
  const dir = resolve(args[1] ?? '');
  mkdirSync(dir, { recursive: true });
  const files = buildFiles(BINDING);
  if (files.length < 2) throw new Error(`no build in ${BINDING}: run node build.js there first`);
  for (const f of files) copyFileSync(join(BINDING, f), join(dir, f));
  console.log(`saved ${files.join(', ')} to ${dir}`);
  process.exit(0);
}
if (args.length === 0 || args[0].startsWith('--')) {
  console.error('usage: node benches/node/ab.mjs --save DIR | DIR [--rounds N]');
  process.exit(2);
}
const oldDir = resolve(args[0]);
if (buildFiles(oldDir).length < 2) throw new Error(`no saved build in ${oldDir} (--save it first)`);
const at = args.indexOf('--rounds');
const rounds = at >= 0 ? Number(args[at + 1]) : 41;
const warmup = 5;

const builds = {
  old: require(join(oldDir, 'lanepool.cjs')),
  new: require(join(BINDING, 'lanepool.cjs')),
};
const N = 10_000;
const events = perRecordEvents(N);
const handlers = { async: async (_record) => {}, sync: (_record) => undefined };

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};

console.log(`old: ${oldDir}\nnew: ${BINDING}\n${rounds} rounds (after ${warmup}), ns per record, median\n`);
console.log(`${'case'.padEnd(46)}${'old'.padStart(9)}${'new'.padStart(9)}${'new/old'.padStart(9)}`);
for (const [source, event] of Object.entries(events)) {
  for (const [kind, handler] of Object.entries(handlers)) {
    const pools = Object.fromEntries(Object.entries(builds).map(([k, b]) => [k, new b.Pool({ concurrency: 16 })]));
    const times = { old: [], new: [] };
    for (let round = 0; round < warmup + rounds; round++) {
      // Alternate which goes first, so neither always runs right after the other's garbage.
      const order = round % 2 === 0 ? ['old', 'new'] : ['new', 'old'];
      for (const k of order) {
        const t0 = process.hrtime.bigint();
        const response = await pools[k].process(event, handler);
        const ns = Number(process.hrtime.bigint() - t0) / N;
        if (response.batchItemFailures.length !== 0) throw new Error(`${k}: records failed`);
        if (round >= warmup) times[k].push(ns);
      }
    }
    const o = median(times.old);
    const n = median(times.new);
    console.log(`${`${source}, ${kind}`.padEnd(46)}${o.toFixed(1).padStart(9)}${n.toFixed(1).padStart(9)}${(n / o).toFixed(3).padStart(9)}`);
  }
}
