'use strict';
// Fuzzed events (test/fuzz/): random JSON values and valid SQS, SQS FIFO, Kinesis, DynamoDB and
// Kafka events with fields removed, retyped, emptied or made huge go through Pool.process in a
// child process, so a crash of the addon fails this test. Every call must end in EventError with
// the reference model's index/field (and Kafka group), or in the model's response
// (BatchFailedError when no record succeeded). About 8 s by default; LANEPOOL_FUZZ_SECONDS=600 LANEPOOL_FUZZ_SEED=7 for a long run.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const seconds = Number(process.env.LANEPOOL_FUZZ_SECONDS ?? 8);
const seed = Number(process.env.LANEPOOL_FUZZ_SEED ?? 1);

test(`fuzzed events for ${seconds} s (seed ${seed}): EventError or the model's response, never a crash`, { timeout: (seconds + 60) * 1000 }, () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'fuzz', 'run.js'), String(seconds), String(seed)], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: (seconds + 50) * 1000,
  });
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.signal, null, `the fuzz process was killed by ${r.signal}\n${r.stderr.slice(0, 4000)}`);
  assert.equal(r.status, 0, r.stderr.slice(0, 4000));
  const stats = JSON.parse(r.stdout.trim().split('\n').pop());
  // the generator reaches every kind of outcome
  assert.ok(stats.cases >= 200, `only ${stats.cases} cases`);
  assert.ok(stats.eventErrors > 0 && stats.responses > 0 && stats.batchFailed > 0, JSON.stringify(stats));
  assert.ok(stats.kafka > 0, JSON.stringify(stats));
});
