// End-to-end: examples/node/handler.js in a child Node process driven by a Lambda Runtime API
// served on 127.0.0.1 (runtime_api.py, the Python suite's, run as a child process through
// runtime_api_client.mjs), run twice: through the minimal runtime loop in
// node_bootstrap.js, and under AWS's runtime interface client `aws-lambda-ric` from npm (the
// client Lambda's Node images use), installed by tests/e2e/run.sh into tests/e2e/.node-ric
// (LANEPOOL_E2E_NODE_RIC=dir holding node_modules/aws-lambda-ric to use another; when it is
// missing the aws-lambda-ric tests are skipped, or fail with LANEPOOL_E2E_REQUIRE_RIC=1).
// Between invocations, once the response is posted and the child is back waiting on GET /next,
// the child is frozen with SIGSTOP and thawed with SIGCONT, as Lambda freezes an idle environment.
//
// Asserted for each invocation: the posted response (or error) equals the expected one from
// tests/e2e/events/*.expected.json (computed by examples/events/generate.py from the semantics);
// every record that should run (not skipped) started and ended exactly once, the others never
// started; records of one lane ran one at a time, in event order; and no record of the invocation
// started or ended after its response was posted. Kafka (Amazon MSK) events run under both
// orderings the example reads from LANEPOOL_ORDERING: unset (auto: a lane per topic-partition,
// <name>.expected.json) and key (a lane per topic-partition and record key,
// <name>.key.expected.json), a runtime process each; the record log names a Kafka record
// <topic>-<partition>@<offset>.
//
// `require('lanepool')` in the example resolves through NODE_PATH: LANEPOOL_E2E_NODE_PATH if set,
// else a temporary node_modules holding a copy of bindings-node (its JS, declarations, package.json
// and the .node built by `bash bindings-node/test.sh`). Run with `bash tests/e2e/run.sh` or `node --test tests/e2e/test_node_runtime.mjs`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { RuntimeApi } from './runtime_api_client.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const EVENTS = path.join(HERE, 'events');
const EXAMPLE_DIR = path.join(REPO, 'examples', 'node');

let tmp;
let nodePath;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lanepool-e2e-node-'));
  nodePath = process.env.LANEPOOL_E2E_NODE_PATH;
  if (!nodePath) {
    // A copy of the package as it would sit in a deployment's node_modules (not a symlink: a
    // rebuild of bindings-node during the run rewrites the .node file in place, which kills a
    // process that has it mapped with SIGBUS).
    nodePath = path.join(tmp, 'node_modules');
    const pkg = path.join(REPO, 'bindings-node');
    const skip = new Set(['node_modules', 'src', 'test', 'target', 'benches']);
    fs.cpSync(pkg, path.join(nodePath, 'lanepool'), {
      recursive: true,
      filter: (src) => {
        const rel = path.relative(pkg, src);
        const top = rel.split(path.sep)[0];
        return rel === '' || (!skip.has(top) && !top.startsWith('.') && !/\.rs$|^Cargo\./.test(top));
      },
    });
  }
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// aws-lambda-ric's entry point is its package.json `bin` (3.x: bin/index.mjs, 4.x: index.mjs).
const RIC_PKG = path.join(path.resolve(process.env.LANEPOOL_E2E_NODE_RIC || path.join(HERE, '.node-ric')), 'node_modules', 'aws-lambda-ric');
const RIC = (() => {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(RIC_PKG, 'package.json'), 'utf8'));
    const bin = path.join(RIC_PKG, typeof pkg.bin === 'string' ? pkg.bin : pkg.bin['aws-lambda-ric']);
    return fs.existsSync(bin) ? { bin, version: pkg.version } : null;
  } catch {
    return null;
  }
})();
const RIC_BIN = RIC?.bin;
const RIC_MISSING = RIC ? false : `aws-lambda-ric is not installed in ${RIC_PKG} (tests/e2e/run.sh installs it)`;
if (RIC_MISSING && process.env.LANEPOOL_E2E_REQUIRE_RIC === '1') throw new Error(RIC_MISSING);

// Lambda Managed Instances' multi-concurrent mode: aws-lambda-ric 4.x (Node >= 22) with
// AWS_LAMBDA_MAX_CONCURRENCY set runs the handler in AWS_LAMBDA_NODEJS_WORKER_COUNT worker threads,
// each polling GET /next again as soon as it has an invocation, so each serves several at once.
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
const RIC_MAJOR = RIC ? Number(RIC.version.split('.')[0]) : 0;
const LMI_MISSING = RIC_MISSING
  || (RIC_MAJOR < 4 && `aws-lambda-ric ${RIC.version} has no multi-concurrent mode (4.x has, on Node >= 22)`)
  || (NODE_MAJOR < 22 && `Node ${process.versions.node}: aws-lambda-ric 4.x needs Node >= 22`);
if (LMI_MISSING && process.env.LANEPOOL_E2E_REQUIRE_LMI === '1') throw new Error(LMI_MISSING);

/** The runtimes the handler runs under: our minimal loop, and AWS's client from npm. */
const RUNTIMES = [
  { name: 'node_bootstrap.js', skip: false },
  { name: 'aws-lambda-ric', skip: RIC_MISSING },
];

// The command that runs the handler (`handler.handler`, cwd EXAMPLE_DIR) against AWS_LAMBDA_RUNTIME_API.
function runtimeCommand(runtime) {
  if (runtime === 'aws-lambda-ric') return [process.execPath, [RIC_BIN, 'handler.handler']];
  return [process.execPath, [path.join(HERE, 'node_bootstrap.js')]];
}

// ---- the semantics, independent of lanepool (as in examples/events/generate.py)
function identifier(r) {
  if (r.eventSource === 'aws:sqs') return r.messageId;
  return r.kinesis !== undefined ? r.kinesis.sequenceNumber : r.dynamodb.SequenceNumber;
}
function laneOf(r) {
  if (r.eventSource === 'aws:sqs') return r.attributes?.MessageGroupId ?? null;
  if (r.kinesis !== undefined) return r.kinesis.partitionKey;
  // A DynamoDB item: its keys, whatever their order in the record.
  return JSON.stringify(Object.entries(r.dynamodb.Keys).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
function payload(r) {
  if ('body' in r) return r.body;
  if (r.kinesis !== undefined) return Buffer.from(r.kinesis.data, 'base64').toString('utf8');
  return JSON.stringify(r.dynamodb.NewImage ?? {});
}

// Kafka, as generate.py's kafka_records (the records object's key order, then each partition's
// array), kafka_record_id and kafka_lane (a lane as JSON: [partition] or [partition, key]).
const isKafka = (event) => event.eventSource === 'aws:kafka';
const kafkaRecords = (event) => Object.values(event.records).flat();
const kafkaRecordId = (r) => `${r.topic}-${r.partition}@${r.offset}`;
function kafkaLane(r, ordering) {
  const partition = `${r.topic}-${r.partition}`;
  return JSON.stringify(ordering === 'auto' ? [partition] : [partition, r.key ?? null]);
}

// {id (as in the record log), lane (null: none), payload} of each record, in event order.
function logRecords(event, ordering = 'auto') {
  if (isKafka(event)) {
    return kafkaRecords(event).map((r) => ({
      id: kafkaRecordId(r),
      lane: kafkaLane(r, ordering),
      payload: r.value == null ? '' : Buffer.from(r.value, 'base64').toString('utf8'),
    }));
  }
  return event.Records.map((r) => ({ id: identifier(r), lane: laneOf(r), payload: payload(r) }));
}

function recordsThatRun(event, ordering = 'auto') {
  const failedLanes = new Set();
  const ran = [];
  for (const { id, lane, payload: p } of logRecords(event, ordering)) {
    if (lane !== null && failedLanes.has(lane)) continue;
    ran.push(id);
    if (p.includes('poison') && lane !== null) failedLanes.add(lane);
  }
  return ran;
}

// <name>.expected.json; a Kafka event under ordering key: <name>.key.expected.json (other sources
// have the same lanes under key as under auto).
function expectedFile(file, event, ordering) {
  return file.replace(/\.json$/, isKafka(event) && ordering === 'key' ? '.key.expected.json' : '.expected.json');
}

function load(name, ordering = 'auto') {
  const file = fs.existsSync(path.join(EVENTS, name)) ? path.join(EVENTS, name) : path.join(REPO, 'examples', 'events', name);
  const event = JSON.parse(fs.readFileSync(file, 'utf8'));
  return [event, JSON.parse(fs.readFileSync(expectedFile(file, event, ordering), 'utf8'))];
}

function processState(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}

// {pos (byte offset), phase, recordId, ms} of the invocation's lines in the record log.
function logLines(log, requestId) {
  const lines = [];
  let pos = 0;
  for (const raw of log.split(/(?<=\n)/)) {
    if (!raw) continue;
    const [phase, rid, recordId, ns] = raw.trim().split(' ');
    if (rid === requestId) lines.push({ pos, phase, recordId, ms: Number(BigInt(ns) / 1000n) / 1000 });
    pos += Buffer.byteLength(raw);
  }
  return lines;
}

// Nothing after the response, no foreign records, each record at most once, lanes in order, and
// (exact) the records that ran are exactly those the semantics run; lanes and skipped records as
// `ordering` (the runtime's LANEPOOL_ORDERING) makes them.
function checkLog(name, requestId, event, log, offsetAtResponse, { exact = true, ordering = 'auto' } = {}) {
  const lines = logLines(log, requestId);
  const late = lines.filter((l) => l.pos >= offsetAtResponse);
  assert.deepEqual(late, [], `${name}: record log lines written after the response was posted`);

  // The example tags each line with the invocation current when it is written, so a record of an
  // earlier invocation that ran on into this one shows up here as a foreign record.
  const records = logRecords(event, ordering);
  const own = new Set(records.map((r) => r.id));
  const foreign = [...new Set(lines.filter((l) => !own.has(l.recordId)).map((l) => l.recordId))];
  assert.deepEqual(foreign, [], `${name}: records of another event ran during this invocation (an earlier invocation's record still running after its response was posted?)`);

  const expectRun = recordsThatRun(event, ordering).sort();
  const starts = lines.filter((l) => l.phase === 'start').map((l) => l.recordId);
  const ends = lines.filter((l) => l.phase === 'end').map((l) => l.recordId);
  const twice = [...new Set(starts.filter((id, i) => starts.indexOf(id) !== i))];
  assert.deepEqual(twice, [], `${name}: records started more than once`);
  assert.deepEqual([...starts].sort(), [...ends].sort(), `${name}: a record started but never ended (or the reverse)`);
  if (exact) assert.deepEqual([...starts].sort(), expectRun, `${name}: the records started are not the ones that should run (ordering ${ordering})`);

  // Per lane: one record at a time, in event order.
  const lane = new Map(records.map((r) => [r.id, r.lane]));
  const order = new Map(records.map((r, i) => [r.id, i]));
  const running = new Map();
  const last = new Map();
  for (const { phase, recordId } of lines) {
    const l = lane.get(recordId);
    if (l === null) continue;
    if (phase === 'start') {
      assert.ok(!running.has(l), `${name}: ${recordId} started while ${running.get(l)} of lane ${l} was running`);
      assert.ok(order.get(recordId) > (last.get(l) ?? -1), `${name}: lane ${l} ran out of event order`);
      running.set(l, recordId);
      last.set(l, order.get(recordId));
    } else {
      assert.equal(running.get(l), recordId, `${name}: unexpected end of ${recordId}`);
      running.delete(l);
    }
  }
}

const DEADLINE_MARGIN_MS = 500; // lanepool's default deadlineMarginMs, which the example keeps
const TOLERANCE_MS = 100; // between the scheduler's decision to start a record and the example's log line

function expectedFailures(event) {
  const failedLanes = new Set();
  const failed = new Set();
  for (const r of event.Records) {
    const lane = laneOf(r);
    if (lane !== null && failedLanes.has(lane)) failed.add(identifier(r));
    else if (payload(r).includes('poison')) {
      failed.add(identifier(r));
      if (lane !== null) failedLanes.add(lane);
    }
  }
  return failed;
}

// An invocation whose deadline falls mid-batch: it answers before the deadline, starts nothing at
// or after deadline - margin, reports every record it did not finish (in event order), and still
// leaves nothing running after the response (the example's records give up on the AbortSignal).
function checkDeadline(name, requestId, event, log, result, deadlineMs) {
  assert.equal(result.kind, 'response', `${name}: the handler failed: ${JSON.stringify(result.body)}`);
  assert.ok(result.timeMs < deadlineMs, `${name}: the response came after the deadline`);
  checkLog(name, requestId, event, log, result.logOffset, { exact: false });

  const ids = event.Records.map(identifier);
  const position = new Map(ids.map((id, i) => [id, i]));
  const failed = result.body.batchItemFailures.map((f) => f.itemIdentifier);
  const positions = failed.map((f) => position.get(f));
  assert.deepEqual(positions, [...positions].sort((a, b) => a - b), `${name}: failures not in event order`);
  assert.equal(new Set(failed).size, failed.length, `${name}: a failure listed twice`);

  const cutoff = deadlineMs - DEADLINE_MARGIN_MS + TOLERANCE_MS;
  const lines = logLines(log, requestId);
  const started = new Map(lines.filter((l) => l.phase === 'start').map((l) => [l.recordId, l.ms]));
  const ended = new Map(lines.filter((l) => l.phase === 'end').map((l) => [l.recordId, l.ms]));
  const lateStarts = [...started].filter(([, ms]) => ms >= cutoff).map(([id]) => id);
  assert.deepEqual(lateStarts, [], `${name}: records started after deadline - margin`);
  const notStarted = ids.filter((id) => !started.has(id));
  assert.ok(notStarted.length > 0, `${name}: the deadline was never reached (every record started): make the timeout shorter`);
  const failedSet = new Set(failed);
  assert.deepEqual(notStarted.filter((id) => !failedSet.has(id)), [], `${name}: records that never ran are not reported`);

  // Records that finished well before the cutoff have their ordinary outcome.
  const expectedFail = expectedFailures(event);
  for (const id of ids) {
    if (ended.has(id) && ended.get(id) < cutoff - 2 * TOLERANCE_MS) {
      assert.equal(failedSet.has(id), expectedFail.has(id), `${name}: wrong outcome for ${id}, which finished in time`);
    }
  }
}

// `env`: more environment for the runtime process; `maxConcurrency`: the Runtime API hands out at
// most that many invocations at once (Lambda Managed Instances' AWS_LAMBDA_MAX_CONCURRENCY).
async function withRuntime(runtime, label, fn, { env = {}, maxConcurrency = null } = {}) {
  const dir = fs.mkdtempSync(path.join(tmp, `${label}-`));
  const logPath = path.join(dir, 'records.log');
  fs.writeFileSync(logPath, '');
  const api = await new RuntimeApi({ logPath, maxConcurrency }).start();
  const [cmd, args] = runtimeCommand(runtime);
  const out = [];
  const inherited = { ...process.env };
  delete inherited.AWS_LAMBDA_MAX_CONCURRENCY; // a runtime in multi-concurrent mode only when asked
  delete inherited.AWS_LAMBDA_NODEJS_WORKER_COUNT;
  delete inherited.LANEPOOL_ORDERING; // the example's default (auto) unless the test sets it
  const child = spawn(cmd, args, {
    cwd: EXAMPLE_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...inherited,
      NODE_PATH: nodePath,
      AWS_LAMBDA_RUNTIME_API: api.address,
      LAMBDA_TASK_ROOT: EXAMPLE_DIR,
      _HANDLER: 'handler.handler',
      LANEPOOL_EXAMPLE_LOG: logPath,
      AWS_LAMBDA_FUNCTION_NAME: 'lanepool-example',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/lanepool-example',
      AWS_LAMBDA_LOG_STREAM_NAME: '2026/01/01/[$LATEST]e2e',
      AWS_REGION: 'us-east-1',
      ...env,
    },
  });
  child.stdout.on('data', (c) => out.push(c));
  child.stderr.on('data', (c) => out.push(c));
  let exited = false;
  let exitStatus = '';
  child.on('exit', (code, sig) => {
    exited = true;
    exitStatus = `\n[runtime process exited: code ${code}, signal ${sig}]`;
  });
  const rt = {
    api,
    child,
    logPath,
    ordering: env.LANEPOOL_ORDERING || 'auto', // the lanes the example uses
    alive: () => !exited,
    output: () => Buffer.concat(out).toString().slice(-4000) + exitStatus,
  };
  try {
    await fn(rt);
  } catch (err) {
    err.message += `\n--- runtime output ---\n${rt.output()}`;
    throw err;
  } finally {
    if (!exited) {
      try {
        process.kill(child.pid, 'SIGCONT');
      } catch {}
      child.kill('SIGKILL');
      await new Promise((resolve) => (exited ? resolve() : child.once('exit', resolve)));
    }
    await api.close();
  }
}

// The states of every thread of the process (worker threads included).
function threadStates(pid) {
  return fs.readdirSync(`/proc/${pid}/task`).map((tid) => {
    try {
      return processState(`${pid}/task/${tid}`);
    } catch {
      return 'T'; // a thread gone meanwhile
    }
  });
}

async function freezeAndThaw(rt, frozenMs = 300) {
  process.kill(rt.child.pid, 'SIGSTOP');
  const deadline = Date.now() + 5000;
  while (processState(rt.child.pid) !== 'T' || threadStates(rt.child.pid).some((st) => st !== 'T')) {
    assert.ok(Date.now() < deadline, 'the runtime process did not stop');
    await sleep(5);
  }
  const size = fs.statSync(rt.logPath).size;
  await sleep(frozenMs);
  assert.equal(fs.statSync(rt.logPath).size, size, 'a frozen process wrote to the record log');
  process.kill(rt.child.pid, 'SIGCONT');
}

// The response equals the expected one; an all-failed batch is the error BatchFailedError.
function checkResult(rt, name, event, expected, result) {
  if (expected.error) {
    assert.equal(result.kind, 'error', `${name}: expected an invocation error, got ${JSON.stringify(result.body)}`);
    assert.equal(result.body.errorType, expected.error, `${name}: ${JSON.stringify(result.body)}`);
  } else {
    assert.equal(result.kind, 'response', `${name}: the handler failed: ${JSON.stringify(result.body)}`);
    const file = path.basename(expectedFile(name, event, rt.ordering));
    assert.deepEqual(result.body, expected, `${name}: response differs from ${file} (LANEPOOL_ORDERING=${rt.ordering})`);
  }
}

async function runInvocations(rt, names, { freeze = true } = {}) {
  const { api } = rt;
  await api.waitPolls(1, { timeoutMs: 60_000, alive: rt.alive }); // INIT done: asking for work
  const invocations = [];
  for (const [i, item] of names.entries()) {
    // An item is an event file name, or [name, timeoutMs] for an invocation whose deadline is that close.
    const [name, timeoutMs] = Array.isArray(item) ? item : [item, undefined];
    const [event, expected] = load(name, rt.ordering);
    const requestId = api.invoke(event, timeoutMs);
    const result = await api.waitResult(requestId, { timeoutMs: 60_000, alive: rt.alive });
    // The loop posts, then comes straight back to GET /next: Lambda freezes it there.
    await api.waitPolls(i + 2, { timeoutMs: 30_000, alive: rt.alive });
    await sleep(50); // give a stray record (there must be none) a chance to show up in the log
    if (freeze) await freezeAndThaw(rt);
    invocations.push({ name, timeoutMs, requestId, event, expected, result });
  }
  const log = fs.readFileSync(rt.logPath, 'utf8');
  for (const { name, timeoutMs, requestId, event, expected, result } of invocations) {
    if (timeoutMs !== undefined) {
      checkDeadline(name, requestId, event, log, result, api.deadlinesMs.get(requestId));
      continue;
    }
    checkResult(rt, name, event, expected, result);
    checkLog(name, requestId, event, log, result.logOffset, { ordering: rt.ordering });
  }
}

// Two small MSK batches, an all-poison one (BatchFailedError), FIFO between, then the bundled
// 1,200-record sample; the expected responses per the runtime's ordering.
const KAFKA_INVOCATIONS = ['kafka-1.json', 'kafka-2.json', 'kafka-all-poison.json', 'fifo-1.json', 'kafka-1.json', 'kafka.json'];

for (const { name: runtime, skip } of RUNTIMES) {
  test(`[${runtime}] several SQS FIFO invocations, frozen with SIGSTOP between them`, { skip }, () =>
    withRuntime(runtime, 'fifo', (rt) =>
      runInvocations(rt, ['fifo-1.json', 'fifo-2.json', 'fifo-3.json', 'fifo-4.json', 'fifo-1.json']),
    ));

  test(`[${runtime}] standard SQS, Kinesis, an all-poison batch (BatchFailedError to /error), then FIFO again`, { skip }, () =>
    withRuntime(runtime, 'other', (rt) =>
      runInvocations(rt, ['standard-1.json', 'kinesis-1.json', 'fifo-all-poison.json', 'fifo-2.json']),
    ));

  test(`[${runtime}] a deadline mid-batch: the 1,000-record FIFO sample with 1.2 s left, then a whole invocation`, { skip }, () =>
    withRuntime(runtime, 'deadline', (rt) => runInvocations(rt, [['sqs-fifo.json', 1200], 'fifo-1.json'])));

  test(`[${runtime}] the bundled sample events in examples/events`, { skip }, () =>
    withRuntime(runtime, 'samples', (rt) =>
      runInvocations(rt, ['sqs-fifo.json', 'sqs-standard.json', 'kinesis.json', 'dynamodb.json']),
    ));

  test(`[${runtime}] Kafka, LANEPOOL_ORDERING unset (auto: a lane per topic-partition), frozen between invocations`, { skip }, () =>
    withRuntime(runtime, 'kafka-auto', (rt) => runInvocations(rt, KAFKA_INVOCATIONS)));

  test(`[${runtime}] Kafka, LANEPOOL_ORDERING=key (a lane per topic-partition and key), frozen between invocations`, { skip }, () =>
    withRuntime(runtime, 'kafka-key', (rt) => runInvocations(rt, KAFKA_INVOCATIONS), { env: { LANEPOOL_ORDERING: 'key' } }));
}

test('the Kafka events expect other responses under ordering key than under auto', () => {
  for (const name of ['kafka-1.json', 'kafka-2.json', 'kafka.json']) {
    assert.notDeepEqual(load(name, 'key')[1], load(name, 'auto')[1], `${name}: the same expected response for auto and key`);
  }
});

// Lambda Managed Instances: each round's events are queued at once and the Runtime API hands out
// at most `maxConcurrency` at a time to the runtime's worker threads; between rounds, with every
// result posted and every worker thread back on GET /next, the process (all its threads) is frozen.
async function runConcurrent(rt, { workers, maxConcurrency }, rounds) {
  const { api } = rt;
  // INIT done in every worker thread: each asks for work (one GET /next each, nothing queued yet).
  await api.waitPolls(workers, { timeoutMs: 60_000, alive: rt.alive });
  const invocations = [];
  let handed = 0;
  for (const names of rounds) {
    const round = names.map((name) => {
      const [event, expected] = load(name, rt.ordering);
      return { name, event, expected, requestId: api.invoke(event) };
    });
    for (const inv of round) inv.result = await api.waitResult(inv.requestId, { timeoutMs: 60_000, alive: rt.alive });
    handed += names.length;
    // A worker thread asks for the next invocation as soon as it has one: one more GET /next each.
    await api.waitPolls(workers + handed, { timeoutMs: 30_000, alive: rt.alive });
    await sleep(50); // give a stray record (there must be none) a chance to show up in the log
    await freezeAndThaw(rt);
    invocations.push(...round);
  }

  const log = fs.readFileSync(rt.logPath, 'utf8');
  for (const { name, requestId, event, expected, result } of invocations) {
    checkResult(rt, name, event, expected, result);
    checkLog(name, requestId, event, log, result.logOffset, { ordering: rt.ordering });
  }

  // Several at once: each invocation ran on one worker thread (never the main thread), every worker
  // thread served some, and some worker thread had two invocations running at the same time.
  const spans = new Map(); // request id -> { threads, first, last } from its record log lines
  for (const raw of log.split('\n')) {
    if (!raw) continue;
    const [, rid, , ns, thread] = raw.split(' ');
    const ms = Number(BigInt(ns) / 1000n) / 1000;
    const span = spans.get(rid) ?? { threads: new Set(), first: ms, last: ms };
    span.threads.add(thread);
    span.first = Math.min(span.first, ms);
    span.last = Math.max(span.last, ms);
    spans.set(rid, span);
  }
  const byThread = new Map();
  for (const { name, requestId } of invocations) {
    const span = spans.get(requestId);
    assert.ok(span, `${name}: no record of it ran`);
    assert.equal(span.threads.size, 1, `${name}: its records ran on several threads: ${[...span.threads]}`);
    const [thread] = span.threads;
    assert.ok(!thread.endsWith('/0'), `${name}: ran on the main thread (${thread}), not in a worker thread`);
    if (!byThread.has(thread)) byThread.set(thread, []);
    byThread.get(thread).push(span);
  }
  assert.equal(byThread.size, workers, `invocations ran on ${byThread.size} threads (${[...byThread.keys()]}), not the ${workers} worker threads`);
  const overlapping = [...byThread.values()].some((list) => {
    list.sort((a, b) => a.first - b.first);
    return list.some((span, i) => i > 0 && span.first < Math.max(...list.slice(0, i).map((s) => s.last)));
  });
  assert.ok(overlapping, 'no worker thread ran two invocations at the same time');
  assert.ok(api.peakInFlight >= 2 && api.peakInFlight <= maxConcurrency, `${api.peakInFlight} invocations out at once at most`);
}

test(`[aws-lambda-ric] Lambda Managed Instances (AWS_LAMBDA_MAX_CONCURRENCY=4, AWS_LAMBDA_NODEJS_WORKER_COUNT=2): several invocations at once, frozen between rounds`, { skip: LMI_MISSING }, () =>
  withRuntime(
    'aws-lambda-ric',
    'lmi',
    (rt) =>
      runConcurrent(rt, { workers: 2, maxConcurrency: 4 }, [
        ['fifo-1.json', 'fifo-2.json', 'fifo-3.json', 'fifo-4.json'],
        // more than AWS_LAMBDA_MAX_CONCURRENCY: two wait for a result
        ['standard-1.json', 'kinesis-1.json', 'fifo-all-poison.json', 'fifo-2.json', 'fifo-3.json', 'fifo-1.json'],
        ['sqs-fifo.json', 'sqs-standard.json', 'kinesis.json', 'dynamodb.json'],
        ['kafka-1.json', 'kafka-2.json', 'kafka-all-poison.json', 'kafka.json'],
      ]),
    { env: { AWS_LAMBDA_MAX_CONCURRENCY: '4', AWS_LAMBDA_NODEJS_WORKER_COUNT: '2' }, maxConcurrency: 4 },
  ));

test(`[aws-lambda-ric] Lambda Managed Instances with LANEPOOL_ORDERING=key: Kafka and FIFO invocations at once`, { skip: LMI_MISSING }, () =>
  withRuntime(
    'aws-lambda-ric',
    'lmi-key',
    (rt) =>
      runConcurrent(rt, { workers: 2, maxConcurrency: 4 }, [
        ['kafka-1.json', 'kafka-2.json', 'fifo-1.json', 'kafka-all-poison.json'],
        ['kafka.json', 'kafka-2.json', 'kafka-1.json', 'fifo-2.json'],
      ]),
    { env: { AWS_LAMBDA_MAX_CONCURRENCY: '4', AWS_LAMBDA_NODEJS_WORKER_COUNT: '2', LANEPOOL_ORDERING: 'key' }, maxConcurrency: 4 },
  ));

// Node.js 24's Lambda runtime (and Node.js 22's on Managed Instances) refuses callback-style
// handlers, (event, context, callback): the example's handler is an async (event, context).
test('examples/node/handler.js exports an async handler of (event, context)', () => {
  const probe = spawnSync(process.execPath, ['-e', `const { handler } = require(${JSON.stringify(path.join(EXAMPLE_DIR, 'handler.js'))});
    console.log(JSON.stringify({ kind: handler.constructor.name, params: handler.length }));`], {
    env: { ...process.env, NODE_PATH: nodePath },
    encoding: 'utf8',
  });
  assert.equal(probe.status, 0, probe.stderr);
  assert.deepEqual(JSON.parse(probe.stdout), { kind: 'AsyncFunction', params: 2 });
});
