'use strict';
// A ready-to-copy AWS Lambda handler (Node.js) that processes SQS, SQS FIFO, Kinesis, DynamoDB
// stream and Kafka (Amazon MSK, self-managed) batches with lanepool, reporting partial batch
// failures.
//
// Deploy: handler `handler.handler`, with `lanepool` in node_modules; turn on "Report batch item
// failures" (ReportBatchItemFailures) on the event source mapping.
//
// - `pool` is created once, when the module loads (the INIT phase), and reused by every invocation.
// - `recordHandler` gets each record as Lambda delivered it. It stands in for real work: it waits
//   10-30 ms (as if calling another service; the duration is derived from the record's identifier,
//   so runs are reproducible, and equals the Python example's) and throws on a "poison" record, one
//   whose payload (SQS `body`, base64-decoded Kinesis `data`, DynamoDB `NewImage`, base64-decoded
//   Kafka `value`) contains `poison`. It honours the deadline through the `signal` lanepool passes.
//   Throwing fails that record; in its lane (a FIFO message group, a Kinesis partition key, a
//   DynamoDB item, a Kafka topic-partition) the later records are then skipped (and retried by
//   Lambda), keeping their order.
// - `handler` is an async function of (event, context) and resolves to
//   `{ batchItemFailures: [{ itemIdentifier }, ...] }` (Kafka:
//   `{ itemIdentifier: { partition: '<topic>-<partition>', offset } }`). Lambda's Node.js 24
//   runtime no longer accepts callback-style handlers, `(event, context, callback)`, nor does
//   Node.js 22 on Lambda Managed Instances: keep it async.
// - Lambda Managed Instances run several invocations at once in one process: the runtime client
//   loads this module in each of its worker threads (AWS_LAMBDA_NODEJS_WORKER_COUNT), each serving
//   several invocations concurrently (up to AWS_LAMBDA_MAX_CONCURRENCY in all). Each worker thread
//   has its own `pool`; invocations side by side on one pool each get their own `concurrency`
//   limit. Nothing per-invocation lives at module level: the request id travels with the call.
//
// Knobs:
// - LANEPOOL_ORDERING (default `auto`): the lanes, `auto` (by source, Kafka: one per
//   topic-partition), `key` (Kafka: one per topic-partition and record key, so keys of one
//   partition run in parallel; other sources as `auto`) or `unordered`.
// - for the end-to-end tests, off by default: LANEPOOL_EXAMPLE_LOG=/path appends one line per
//   record start and end: `start|end <request id> <record id> <time_ns> <pid>/<thread id>`.
const crypto = require('node:crypto');
const fs = require('node:fs');
const { setTimeout: sleep } = require('node:timers/promises');
const { threadId } = require('node:worker_threads');
const { Pool } = require('lanepool');

const pool = new Pool({ concurrency: 16 });
const ordering = process.env.LANEPOOL_ORDERING || 'auto'; // 'auto', 'key' (Kafka) or 'unordered'

const logPath = process.env.LANEPOOL_EXAMPLE_LOG;
const logFd = logPath ? fs.openSync(logPath, 'a') : null;
const thread = `${process.pid}/${threadId}`; // threadId 0: the main thread

function recordId(record) {
  if (record.messageId !== undefined) return record.messageId;
  if (record.kinesis !== undefined) return record.kinesis.sequenceNumber;
  if (record.offset !== undefined) return `${record.topic}-${record.partition}@${record.offset}`; // Kafka
  return record.dynamodb?.SequenceNumber ?? '?';
}

function payload(record) {
  if (record.body !== undefined) return record.body;
  if (record.kinesis !== undefined) return Buffer.from(record.kinesis.data, 'base64').toString('utf8');
  if (record.offset !== undefined) {
    // Kafka: the base64 value; null for a tombstone
    return record.value == null ? '' : Buffer.from(record.value, 'base64').toString('utf8');
  }
  return JSON.stringify(record.dynamodb?.NewImage ?? {});
}

function log(phase, requestId, id) {
  if (logFd === null) return;
  const ns = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
  // One write on an O_APPEND descriptor: lines from concurrent records (and threads) never interleave.
  fs.writeSync(logFd, `${phase} ${requestId} ${id} ${ns} ${thread}\n`);
}

// 10-30 ms, the same for a given identifier every run (and in the Python example).
function ioMs(id) {
  return 10 + (crypto.createHash('sha256').update(id).digest()[0] % 21);
}

// lanepool passes `{ signal }`, an AbortSignal that fires at the invocation's deadline (less the
// margin): hand it to your I/O (fetch, AWS SDK calls) so a record still running then gives up at once.
// `requestId` only labels the log lines.
async function recordHandler(record, { signal } = {}, requestId = '-') {
  const id = recordId(record);
  log('start', requestId, id);
  try {
    await sleep(ioMs(id), undefined, { signal }); // the I/O a real handler would do
    if (payload(record).includes('poison')) throw new Error(`poison record ${id}`);
  } finally {
    log('end', requestId, id);
  }
}

exports.handler = async (event, context) => {
  const requestId = context?.awsRequestId ?? '-';
  return pool.process(event, (record, options) => recordHandler(record, options, requestId), {
    context,
    ordering,
  });
};

exports.recordHandler = recordHandler;
exports.ioMs = ioMs;
exports.recordId = recordId;
exports.ordering = ordering;
exports.pool = pool; // the demo (examples/demo/driver.js) runs its batches on this pool

if (require.main === module) {
  // Local run: node examples/node/handler.js examples/events/sqs-fifo.json
  // (with lanepool resolvable, e.g. NODE_PATH=<dir holding lanepool/>)
  const event = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const deadline = Date.now() + 60_000;
  const context = { awsRequestId: crypto.randomUUID(), getRemainingTimeInMillis: () => deadline - Date.now() };
  const started = performance.now();
  exports.handler(event, context).then((response) => {
    console.log(JSON.stringify(response, null, 2));
    const ms = Math.round(performance.now() - started);
    const records = event.Records ?? Object.values(event.records ?? {}).flat();
    console.error(`${records.length} records, ${response.batchItemFailures.length} failures, ${ms} ms`);
  });
}
