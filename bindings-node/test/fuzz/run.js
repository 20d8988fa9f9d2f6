'use strict';
// The fuzz loop, run in a child process by test/fuzz.test.js (a crash of the addon fails the
// test instead of the test runner). Every generated event goes through Pool.process; each call
// must end in EventError with the model's index/field, or BatchFailedError / a response equal to
// the model's. Any other outcome is printed and the process exits 1.
//
//   node test/fuzz/run.js [seconds] [seed]   (defaults: LANEPOOL_FUZZ_SECONDS or 8, seed 1)

const { Pool, EventError, BatchFailedError } = require('lanepool');
const { rng, generate } = require('./generate');
const { decode, respond } = require('./model');

const seconds = Number(process.argv[2] ?? process.env.LANEPOOL_FUZZ_SECONDS ?? 8);
const seed = Number(process.argv[3] ?? process.env.LANEPOOL_FUZZ_SEED ?? 1);

/** Which records the handler fails: by a hash of the record's index and the case number. */
const failsOf = (iteration) => (i) => ((i + 1) * 2654435761 + iteration) % 5 === 0;

function describe(event) {
  const text = JSON.stringify(event, (k, v) => (typeof v === 'string' && v.length > 200 ? `<${v.length} chars>` : v));
  return text === undefined ? String(event) : text.slice(0, 2000);
}

async function main() {
  const r = rng(seed);
  const pool = new Pool({ concurrency: 4 });
  const stats = { cases: 0, eventErrors: 0, responses: 0, batchFailed: 0, records: 0, kafka: 0 };
  const until = performance.now() + seconds * 1000;
  for (let iteration = 0; performance.now() < until; iteration++) {
    const event = generate(r);
    const ordering = r.chance(0.2) ? 'unordered' : r.chance(0.25) ? 'key' : 'auto';
    const model = decode(event, ordering);
    const fails = failsOf(iteration);
    const index = new Map();
    const groups = event?.records;
    const records = Array.isArray(event?.Records)
      ? event.Records
      : groups !== null && typeof groups === 'object' && !Array.isArray(groups)
        ? Object.values(groups).filter(Array.isArray).flat()
        : [];
    records.forEach((rec, i) => {
      if (rec !== null && typeof rec === 'object') index.set(rec, i);
    });
    let calls = 0;
    const handler = (record) => {
      calls++;
      if (fails(index.get(record))) throw new Error('fuzz failure');
    };
    let outcome;
    try {
      outcome = { response: await pool.process(event, handler, { ordering }) };
    } catch (error) {
      outcome = { error };
    }
    const fail = (why) => {
      console.error(`FUZZ MISMATCH (seed ${seed}, case ${iteration}, ordering ${ordering}): ${why}`);
      console.error(`event: ${describe(event)}`);
      console.error(`model: ${JSON.stringify(model).slice(0, 2000)}`);
      console.error(`got: ${outcome.error ? outcome.error.stack : JSON.stringify(outcome.response).slice(0, 2000)}`);
      process.exit(1);
    };
    stats.cases++;
    if (event !== null && typeof event === 'object' && !Array.isArray(event) && event.Records === undefined && 'records' in event) stats.kafka++;
    if (model.error) {
      if (!(outcome.error instanceof EventError)) fail('expected EventError');
      const { index: i, field, group } = outcome.error;
      if (i !== model.error.index || field !== model.error.field || group !== model.error.group) {
        fail(`EventError at ${i}/${field}/${group}, expected ${model.error.index}/${model.error.field}/${model.error.group}`);
      }
      if (calls !== 0) fail('a handler ran despite the EventError');
      stats.eventErrors++;
      continue;
    }
    stats.records += model.ids.length;
    const want = respond(model, fails);
    let got;
    if (want.allFailed) {
      if (!(outcome.error instanceof BatchFailedError)) fail('expected BatchFailedError');
      got = outcome.error.report.response;
      stats.batchFailed++;
    } else {
      if (outcome.error) fail('unexpected error');
      got = outcome.response;
      stats.responses++;
    }
    if (JSON.stringify(got) !== JSON.stringify({ batchItemFailures: want.batchItemFailures })) fail('response differs');
  }
  console.log(JSON.stringify({ seed, seconds, ...stats }));
}

main().catch((e) => {
  console.error(`fuzz loop crashed: ${e && e.stack}`);
  process.exit(1);
});
