'use strict';
// No copies: handlers get the event's own record objects (===), for a 6 MB event as for a small
// one, through the projected decode (SQS, Kinesis) and the live N-API decode (DynamoDB).

const test = require('node:test');
const assert = require('node:assert/strict');
const { Pool } = require('lanepool');
const { sqsRecord } = require('./helpers');

const bigSqs = () => ({
  Records: Array.from({ length: 10 }, (_, i) => sqsRecord(`m${i}`, `g${i % 3}`, String.fromCharCode(97 + i).repeat(600 * 1024))),
});
const bigKinesis = () => ({
  Records: Array.from({ length: 10 }, (_, i) => ({
    kinesis: { partitionKey: `p${i % 2}`, sequenceNumber: `4959${i}`, data: 'A'.repeat(600 * 1024) },
    eventSource: 'aws:kinesis',
  })),
});
const bigDynamo = () => ({
  Records: Array.from({ length: 10 }, (_, i) => ({
    eventSource: 'aws:dynamodb',
    dynamodb: { Keys: { Id: { N: `${i % 4}` } }, SequenceNumber: `${100 + i}`, NewImage: { Blob: { S: 'B'.repeat(600 * 1024) } } },
  })),
});

for (const [name, make] of Object.entries({ 'SQS FIFO': bigSqs, Kinesis: bigKinesis, DynamoDB: bigDynamo })) {
  test(`${name}, 6 MB event: each handler call gets event.Records[i] itself`, async () => {
    const event = make();
    const pool = new Pool({ concurrency: 4 });
    const seen = new Map();
    const report = await pool.runBatch(event, async (record) => {
      seen.set(event.Records.indexOf(record), record);
    });
    assert.equal(report.succeeded.length, 10);
    assert.equal(seen.size, 10);
    event.Records.forEach((record, i) => assert.equal(seen.get(i), record, `record ${i}`));
  });
}
