// The CommonJS package is usable from ESM: named imports and the default import.
import test from 'node:test';
import assert from 'node:assert/strict';
import lanepool, { Pool, EventError, BatchFailedError } from 'lanepool';

test('ESM import: named exports and default export', async () => {
  assert.equal(Pool, lanepool.Pool);
  assert.equal(EventError, lanepool.EventError);
  assert.equal(BatchFailedError, lanepool.BatchFailedError);
  const pool = new Pool({ concurrency: 2 });
  const event = { Records: [{ eventSource: 'aws:sqs', messageId: 'a' }, { eventSource: 'aws:sqs', messageId: 'b' }] };
  const response = await pool.process(event, async (record) => {
    if (record.messageId === 'b') throw new Error('b');
  });
  assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: 'b' }] });
});
