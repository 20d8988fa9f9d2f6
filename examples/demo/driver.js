'use strict';
// The demo driver for the Node face: runs Lambda events from files through the ready-to-copy
// handler examples/node/handler.js (its `pool` and `recordHandler`) and writes each partial batch
// response.
//
//   node examples/demo/driver.js [--out-dir DIR] EVENT.json...     # DIR/node-<event>.json
//   LANEPOOL_ORDERING=key node examples/demo/driver.js ...         # DIR/node-<event>.key.json
//
// It calls `pool.runBatch` with the options `handler` uses (`context`, the handler's `ordering`
// from LANEPOOL_ORDERING) plus `logSummary: true`, so it gets the whole report; for an ordering
// other than `auto` the response file's name says it. Progress and the sequential estimate come from a wrapper around `recordHandler`
// (the handler itself stays copy-paste clean).
//
// Protocol (read by scripts/demo / examples/demo/show.py), on stderr, one line each:
// `@progress <event> <done> <total>` while a batch runs (done = handler calls finished), and
// `@result {json}` when it ends. Stdout carries only lanepool's summary log line per batch.
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');

const repo = path.resolve(__dirname, '..', '..');

// Make `require('lanepool')` in the example handler find the local build (bindings-node), as it
// would find node_modules/lanepool in a deployed function.
function useLocalLanepool(outDir) {
  const dir = path.join(outDir, '.node_path');
  const link = path.join(dir, 'lanepool');
  fs.mkdirSync(dir, { recursive: true });
  try {
    fs.unlinkSync(link);
  } catch {}
  fs.symlinkSync(path.join(repo, 'bindings-node'), link, 'dir');
  process.env.NODE_PATH = [dir, process.env.NODE_PATH].filter(Boolean).join(path.delimiter);
  Module._initPaths();
}

function emit(line) {
  fs.writeSync(2, line + '\n');
}

function recordCount(event) {
  if (Array.isArray(event.Records)) return event.Records.length;
  return Object.values(event.records || {}).reduce((n, group) => n + group.length, 0); // Kafka
}

async function runOne(example, BatchFailedError, file, outDir) {
  const ordering = example.ordering;
  const eventName = path.basename(file, '.json');
  const suffix = ordering === 'auto' ? '' : `.${ordering}`;
  const name = ordering === 'auto' ? eventName : `${eventName}/${ordering}`;
  const event = JSON.parse(fs.readFileSync(file, 'utf8'));
  const total = recordCount(event);
  let done = 0;
  let ioMs = 0;
  const recordHandler = async (record, ctx) => {
    const io = example.ioMs(example.recordId(record));
    try {
      return await example.recordHandler(record, ctx);
    } finally {
      done += 1;
      ioMs += io;
    }
  };
  const deadline = Date.now() + 60_000; // as in a Lambda function with a 60 s timeout
  const context = { awsRequestId: 'demo', getRemainingTimeInMillis: () => deadline - Date.now() };

  emit(`@progress ${name} 0 ${total}`);
  const ticker = setInterval(() => emit(`@progress ${name} ${done} ${total}`), 100);
  const started = performance.now();
  let report;
  let response;
  try {
    report = await example.pool.runBatch(event, recordHandler, { context, ordering, logSummary: true });
    response = report.response;
  } catch (error) {
    if (!(error instanceof BatchFailedError)) throw error;
    report = error.report; // every record failed: the invocation fails
    response = { error: 'BatchFailedError', ...report.response };
  } finally {
    clearInterval(ticker);
  }
  const elapsed = performance.now() - started;
  emit(`@progress ${name} ${total} ${total}`);

  const out = path.join(outDir, `node-${eventName}${suffix}.json`);
  fs.writeFileSync(out, JSON.stringify(response, null, 2) + '\n');
  const s = report.summary;
  emit(
    '@result ' +
      JSON.stringify({
        face: 'node',
        event: eventName,
        ordering,
        records: s.records,
        succeeded: s.succeeded,
        error: s.error,
        skipped: s.skipped,
        deadline: s.deadline,
        duration_ms: elapsed,
        sequential_ms: ioMs,
        peak_in_flight: s.peakInFlight,
        response_file: out,
      }),
  );
}

async function main() {
  const args = process.argv.slice(2);
  let outDir = 'examples/out';
  const events = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--out-dir') outDir = args[++i];
    else events.push(args[i]);
  }
  if (events.length === 0) {
    emit('usage: node examples/demo/driver.js [--out-dir DIR] EVENT.json...');
    process.exit(2);
  }
  fs.mkdirSync(outDir, { recursive: true });
  useLocalLanepool(path.resolve(outDir));
  const { BatchFailedError } = require('lanepool');
  const example = require(path.join(repo, 'examples', 'node', 'handler.js'));
  for (const file of events) await runOne(example, BatchFailedError, file, outDir);
}

main().catch((error) => {
  emit(`demo (node): ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
