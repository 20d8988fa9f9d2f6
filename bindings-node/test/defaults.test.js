'use strict';
// The defaults lanepool exports are the core's, used by the driver, and what the docs say.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Pool, DEFAULT_CONCURRENCY, DEFAULT_DEADLINE_MARGIN_MS, DEFAULT_RETRY_BACKOFF_MS } = require('lanepool');
const { delay } = require('./helpers');

const sqs = (id) => ({ eventSource: 'aws:sqs', messageId: id, body: id });

test('the defaults are numbers from the addon, and a Pool without concurrency uses its default', () => {
  for (const v of [DEFAULT_CONCURRENCY, DEFAULT_DEADLINE_MARGIN_MS, DEFAULT_RETRY_BACKOFF_MS]) {
    assert.equal(typeof v, 'number');
    assert.ok(v > 0);
  }
  assert.equal(new Pool().concurrency, DEFAULT_CONCURRENCY);
});

test('without deadlineMarginMs the batch keeps DEFAULT_DEADLINE_MARGIN_MS back', async () => {
  const pool = new Pool({ concurrency: 1 });
  const event = { Records: [sqs('a'), sqs('b')] };
  const context = { getRemainingTimeInMillis: () => DEFAULT_DEADLINE_MARGIN_MS + 40 };
  const handler = async (record) => {
    if (record.body === 'a') await delay(120);
  };
  // The default margin: the deadline is 40 ms away, so 'b' (queued behind 'a') never starts.
  const report = await pool.runBatch(event, handler, { context, cancelAtDeadline: false, throwOnFullBatchFailure: false });
  assert.deepEqual(
    report.failures.map((f) => [f.itemIdentifier, f.reason, f.attempts]),
    [['b', 'deadline', 0]],
  );
  // No margin: the deadline is DEFAULT_DEADLINE_MARGIN_MS + 40 ms away and both run.
  const all = await pool.runBatch(event, handler, { context, deadlineMarginMs: 0 });
  assert.deepEqual(all.succeeded, ['a', 'b']);
});

test('the README and index.d.ts state the exported defaults', () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const dts = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8');
  assert.ok(readme.includes(`// default ${DEFAULT_CONCURRENCY}: suits I/O-bound handlers`));
  assert.ok(readme.includes(`\`deadlineMarginMs\` (default ${DEFAULT_DEADLINE_MARGIN_MS})`));
  assert.ok(readme.includes(`jittered backoff, default ${DEFAULT_RETRY_BACKOFF_MS})`));
  assert.ok(dts.includes(`Time kept back before the Lambda deadline: no record starts later (default ${DEFAULT_DEADLINE_MARGIN_MS})`));
  assert.ok(dts.includes(`(default: the core's, ${DEFAULT_RETRY_BACKOFF_MS})`));
  assert.ok(dts.includes(`in flight at once in one call; default ${DEFAULT_CONCURRENCY}.`));
});
