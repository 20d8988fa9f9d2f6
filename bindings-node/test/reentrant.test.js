'use strict';
// Re-entrant use: handlers that use their own pool (process, scope, map, three deep, with every
// slot of every level busy) finish without deadlock; independent batches run side by side on one
// pool; a pool dropped while idle keeps nothing alive (the process exits by itself).

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { Pool } = require('lanepool');
const { sqsRecord, delay } = require('./helpers');

/** Rejects when `promise` has not settled within `ms`: a deadlock fails instead of hanging. */
function within(ms, promise, what) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms (deadlock?)`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

const fifo = (prefix, n, groups) => ({
  Records: Array.from({ length: n }, (_, i) => sqsRecord(`${prefix}${i}`, groups ? `g${i % groups}` : undefined)),
});

test('process, scope and map used from inside handlers of the same pool, three deep, every slot busy', async () => {
  const CONCURRENCY = 2;
  const pool = new Pool({ concurrency: CONCURRENCY });
  let inFlight = 0;
  let peak = 0;
  const busy = async (fn) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    try {
      await delay(1);
      return await fn();
    } finally {
      inFlight--;
    }
  };
  const leaves = [];
  // depth 3: a map of a scope of a batch; each level has more work than slots
  const level3 = (tag) =>
    pool.map([0, 1, 2, 3], (x) =>
      busy(async () => {
        leaves.push(`${tag}/${x}`);
        return x;
      }),
    );
  const level2 = (tag) =>
    pool.scope(async (s) => {
      const parts = [0, 1, 2].map((k) => s.spawn(() => busy(() => level3(`${tag}/s${k}`))));
      return (await Promise.all(parts)).flat();
    });
  const outer = pool.process(fifo('o', 4), (record) => busy(() => level2(record.messageId)).then((xs) => {
    assert.deepEqual(xs, [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
  }));
  const response = await within(10_000, outer, 'nested process/scope/map');
  assert.deepEqual(response, { batchItemFailures: [] });
  assert.equal(leaves.length, 4 * 3 * 4);
  // every level filled its slots while the levels above waited on it
  assert.ok(peak > CONCURRENCY * 2, `peak in flight ${peak}`);
});

test('a batch processed from inside a batch handler of the same pool (same lanes, failures inside)', async () => {
  const pool = new Pool({ concurrency: 1 });
  const inner = [];
  const outer = pool.runBatch(fifo('a', 3, 1), async (record) => {
    const report = await pool.runBatch(
      fifo(`${record.messageId}-`, 3, 1),
      async (r) => {
        inner.push(r.messageId);
        if (r.messageId.endsWith('-1')) throw new Error('inner fails');
      },
      { throwOnFullBatchFailure: false },
    );
    // the inner lane: -0 ok, -1 error, -2 skipped
    assert.deepEqual(
      report.failures.map((f) => f.reason),
      ['error', 'skipped'],
    );
    if (record.messageId === 'a1') throw new Error('outer fails');
  });
  const report = await within(10_000, outer, 'batch inside a batch');
  assert.deepEqual(report.succeeded, ['a0']);
  assert.deepEqual(
    report.failures.map((f) => [f.itemIdentifier, f.reason]),
    [
      ['a1', 'error'],
      ['a2', 'skipped'],
    ],
  );
  assert.deepEqual(inner, ['a0-0', 'a0-1', 'a1-0', 'a1-1']);
});

test('independent batches side by side on one pool: each gets its own outcome and limit', async () => {
  const pool = new Pool({ concurrency: 3 });
  const peaks = new Map();
  const run = (k) => {
    let inFlight = 0;
    let peak = 0;
    return pool
      .runBatch(
        fifo(`b${k}-`, 12, 3),
        async (record) => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          await delay((k + Number(record.messageId.split('-')[1])) % 3);
          inFlight--;
          if (record.messageId === `b${k}-${k % 12}`) throw new Error('one failure per batch');
        },
        { throwOnFullBatchFailure: false },
      )
      .then((report) => {
        peaks.set(k, peak);
        return report;
      });
  };
  const reports = await within(10_000, Promise.all(Array.from({ length: 8 }, (_, k) => run(k))), '8 batches at once');
  reports.forEach((report, k) => {
    const failed = k % 12;
    // the failed record's lane (g{failed % 3}) skips its later records; other lanes succeed
    const expected = [];
    for (let i = failed; i < 12; i += 3) expected.push(`b${k}-${i}`);
    assert.deepEqual(report.response.batchItemFailures.map((f) => f.itemIdentifier), expected, `batch ${k}`);
    assert.ok(peaks.get(k) <= 3, `batch ${k} had ${peaks.get(k)} in flight`);
  });
});

test('a pool dropped while idle keeps nothing alive: the process exits by itself', () => {
  const script = `
    const { Pool } = require(${JSON.stringify(path.dirname(require.resolve('lanepool')))});
    (async () => {
      let pool = new Pool({ concurrency: 4 });
      const event = { Records: [{ eventSource: 'aws:sqs', messageId: 'm0', body: '' }] };
      await pool.process(event, async () => {});
      await pool.scope((s) => { s.spawn(async () => {}); });
      await pool.map([1, 2], async (x) => x);
      pool = null;
      globalThis.gc?.();
      process.stdout.write('done\\n');
    })();
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.error, undefined, `the process did not exit by itself: ${r.error}`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'done\n');
});
