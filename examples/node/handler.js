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
// - `handler` resolves to `{ batchItemFailures: [{ itemIdentifier }, ...] }` (Kafka:
//   `{ itemIdentifier: { partition: '<topic>-<partition>', offset } }`).
//
// Knobs:
// - LANEPOOL_ORDERING (default `auto`): the lanes, `auto` (by source, Kafka: one per
//   topic-partition), `key` (Kafka: one per topic-partition and record key, so keys of one
//   partition run in parallel; other sources as `auto`) or `unordered`.
// - for the end-to-end tests, off by default: LANEPOOL_EXAMPLE_LOG=/path appends one line per
//   record start and end: `start|end <request id> <record id> <time_ns>`.
const crypto = require('node:crypto');
const fs = require('node:fs');
const { setTimeout: sleep } = require('node:timers/promises');
const { Pool } = require('lanepool');

const pool = new Pool({ concurrency: 16 });
const ordering = process.env.LANEPOOL_ORDERING || 'auto'; // 'auto', 'key' (Kafka) or 'unordered'

const logPath = process.env.LANEPOOL_EXAMPLE_LOG;
const logFd = logPath ? fs.openSync(logPath, 'a') : null;
let requestId = '-'; // the invocation being processed; the runtime runs one at a time per process

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

function log(phase, id) {
  if (logFd === null) return;
  const ns = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
  // One write on an O_APPEND descriptor: lines from concurrent records never interleave.
  fs.writeSync(logFd, `${phase} ${requestId} ${id} ${ns}\n`);
}

// 10-30 ms, the same for a given identifier every run (and in the Python example).
function ioMs(id) {
  return 10 + (crypto.createHash('sha256').update(id).digest()[0] % 21);
}

// lanepool passes `{ signal }`, an AbortSignal that fires at the invocation's deadline (less the
// margin): hand it to your I/O (fetch, AWS SDK calls) so a record still running then gives up at once.
async function recordHandler(record, { signal } = {}) {
  const id = recordId(record);
  log('start', id);
  try {
    await sleep(ioMs(id), undefined, { signal }); // the I/O a real handler would do
    if (payload(record).includes('poison')) throw new Error(`poison record ${id}`);
  } finally {
    log('end', id);
  }
}

exports.handler = async (event, context) => {
  requestId = context?.awsRequestId ?? '-';
  return pool.process(event, recordHandler, { context, ordering });
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
