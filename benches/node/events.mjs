// The events the Node benchmarks run on (bench.mjs, ab.mjs): SQS standard and FIFO, Kinesis and
// Amazon MSK batches, built in JavaScript with the fields Lambda gives, then handed over as the
// runtime hands them (`asDelivered`).

/**
 * `event` as a handler receives it: the Lambda runtime gives the handler `JSON.parse` of the
 * invocation body, so the benchmarks do too. The shape of the strings matters to what a record
 * costs: JSON.parse gives flat strings, and one string object for equal short ones (V8 keeps them
 * in a cache), where strings built in JavaScript (template literals, `slice` and `+`) are
 * concatenations and each record's copy a string of its own, so a lane key's lookup compares
 * characters instead of pointers (figures: benches/README.md, "Node face: where the time goes").
 */
export const asDelivered = (event) => JSON.parse(JSON.stringify(event));

export function sqsRecord(i, group) {
  const attributes = {
    ApproximateReceiveCount: '1',
    SentTimestamp: '1700000000000',
    SenderId: 'AIDAEXAMPLE',
    ApproximateFirstReceiveTimestamp: '1700000000001',
  };
  let arn = 'arn:aws:sqs:us-east-1:123456789012:bench';
  if (group !== undefined) {
    attributes.MessageGroupId = group;
    attributes.MessageDeduplicationId = `dedup-${i}`;
    attributes.SequenceNumber = String(18800000000000000000n + BigInt(i));
    arn += '.fifo';
  }
  return {
    messageId: `msg-${String(i).padStart(6, '0')}`,
    receiptHandle: `handle-${i}`,
    body: `{"n": ${i}}`,
    attributes,
    messageAttributes: {},
    md5OfBody: 'd41d8cd98f00b204e9800998ecf8427e',
    eventSource: 'aws:sqs',
    eventSourceARN: arn,
    awsRegion: 'us-east-1',
  };
}

/** An SQS standard event of `n` records, as delivered. */
export const standardEvent = (n) =>
  asDelivered({ Records: Array.from({ length: n }, (_, i) => sqsRecord(i)) });

/** An SQS FIFO event of `n` records over `groups` message groups, `group-0` and on, as delivered. */
export const fifoEvent = (n, groups) =>
  asDelivered({ Records: Array.from({ length: n }, (_, i) => sqsRecord(i, `group-${i % groups}`)) });

/**
 * An MSK event of `n` records: record i in partition i % partitions of topic "bench", with key
 * (i / partitions) % keys, offsets in order; as delivered.
 */
export function kafkaEvent(n, partitions, keys) {
  const records = {};
  for (let p = 0; p < partitions; p++) records[`bench-${p}`] = [];
  const b64 = (s) => Buffer.from(s).toString('base64');
  for (let i = 0; i < n; i++) {
    const p = i % partitions;
    records[`bench-${p}`].push({
      topic: 'bench',
      partition: p,
      offset: 1000 + Math.floor(i / partitions),
      timestamp: 1700000000000 + i,
      timestampType: 'CREATE_TIME',
      key: b64(`key-${Math.floor(i / partitions) % keys}`),
      value: b64(`{"n": ${i}}`),
      headers: [],
    });
  }
  return asDelivered({
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/bench/abc-1',
    bootstrapServers: 'b-1.bench.kafka.us-east-1.example:9098',
    records,
  });
}

/**
 * A random-looking version 4 UUID, the same for the same `i`: the partition key a producer
 * gives each record when it only wants them spread over the shards.
 */
export function uuidOf(i) {
  let h = (i + 1) * 0x9e3779b1;
  let hex = '';
  for (let k = 0; k < 4; k++) {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) ^ k;
    hex += (h >>> 0).toString(16).padStart(8, '0');
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * A Kinesis event of `n` records over `keys` partition keys, `key-0` and on; with `keys`
 * 'uuid', a UUID of its own for each record (`uuidOf`); as delivered.
 */
export function kinesisEvent(n, keys) {
  return asDelivered({
    Records: Array.from({ length: n }, (_, i) => ({
      eventSource: 'aws:kinesis',
      eventID: `shardId-000000000000:${i}`,
      eventSourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/bench',
      awsRegion: 'us-east-1',
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: keys === 'uuid' ? uuidOf(i) : `key-${i % keys}`,
        sequenceNumber: String(49590338271490256608559692538361571095921575989136588898n + BigInt(i)),
        data: Buffer.from(`{"n": ${i}}`).toString('base64'),
        approximateArrivalTimestamp: 1700000000 + i / 1000,
      },
    })),
  });
}

/**
 * The events of case (f) (bench.mjs, ab.mjs), `n` records each, by the name their rows have:
 * SQS standard, SQS FIFO (100 groups), Kinesis (100 keys), Kafka (100 partitions), and Kinesis
 * with a UUID key per record (no goal: what 10,000 lanes cost).
 */
export function perRecordEvents(n) {
  return {
    'SQS standard': standardEvent(n),
    'SQS FIFO (100 groups)': fifoEvent(n, 100),
    'Kinesis (100 keys)': kinesisEvent(n, 100),
    'Kafka (100 partitions)': kafkaEvent(n, 100, 10),
    'Kinesis (a UUID key per record)': kinesisEvent(n, 'uuid'),
  };
}
