// Type-checked by test.sh (tsc --noEmit): the declarations accept typical use and reject misuse.
import type {
  Context,
  DynamoDBStreamEvent,
  KinesisStreamEvent,
  MSKEvent,
  MSKRecord,
  SelfManagedKafkaEvent,
  SQSBatchResponse,
  SQSEvent,
  SQSHandler,
} from 'aws-lambda';
import {
  BatchFailedError,
  DEFAULT_CONCURRENCY,
  DEFAULT_DEADLINE_MARGIN_MS,
  DEFAULT_RETRY_BACKOFF_MS,
  EventError,
  MAX_CONCURRENCY,
  Pool,
  version,
  type BatchReport,
  type KafkaBatchResponse,
  type KafkaItemIdentifier,
  type Scope,
  type JobReport,
} from 'lanepool';

const pool = new Pool({ concurrency: 16 });
const n: number = pool.concurrency;
// Lambda Managed Instances: one pool per worker thread, a limit across its concurrent invocations
const shared = new Pool({ concurrency: 16, maxInFlight: 64 });
export const limit: number | null = shared.maxInFlight;
export async function waited(event: SQSEvent): Promise<number> {
  const { summary } = await shared.runBatch(event, async () => {});
  return summary.slotWaitMs + summary.slotWaitMaxMs;
}
export const defaults: number[] = [DEFAULT_CONCURRENCY, DEFAULT_DEADLINE_MARGIN_MS, DEFAULT_RETRY_BACKOFF_MS, MAX_CONCURRENCY];
export const packageVersion: string = version;
// @ts-expect-error the version is a string
export const versionNumber: number = version;
export const failed = new BatchFailedError('every record of the batch failed (1 record: 1 error)', {} as BatchReport, {
  cause: new Error('bad record'),
});
export const failedCause: unknown = failed.cause;

export const handler: SQSHandler = async (event: SQSEvent, context: Context) =>
  pool.process(event, async (record, { signal }) => {
    const body: string = record.body;
    const group: string | undefined = record.attributes.MessageGroupId;
    if (signal.aborted) throw new Error(body + group);
  }, { context, retries: 1, deadlineMarginMs: 500, throwOnFullBatchFailure: true, ordering: 'auto' });

export async function kinesis(event: KinesisStreamEvent, context: Context) {
  const report = await pool.runBatch(event, (record) => {
    const key: string = record.kinesis.partitionKey;
    return key;
  }, { context, groupKey: (r) => r.kinesis.partitionKey, logSummary: true, cancelAtDeadline: false });
  const ids: string[] = report.succeeded;
  const reason: 'error' | 'skipped' | 'deadline' | 'timeout' = report.failures[0].reason;
  const first: string | undefined = report.response.batchItemFailures[0]?.itemIdentifier;
  return { ids, reason, first, n };
}

export async function dynamo(event: DynamoDBStreamEvent): Promise<BatchReport['summary']> {
  const response = await pool.process(event, async (record) => record.dynamodb?.SequenceNumber);
  response.batchItemFailures.forEach((f) => f.itemIdentifier);
  try {
    return (await pool.runBatch(event, () => {})).summary;
  } catch (e) {
    if (e instanceof EventError) console.log(e.index, e.field);
    if (e instanceof BatchFailedError) return e.report.summary;
    throw e;
  }
}

export async function scopes(): Promise<number[]> {
  const total: number = await pool.scope(async (s) => {
    const one: Promise<number> = s.spawn(async () => 1);
    s.spawn(() => {
      s.spawn(async () => 'nested');
    });
    // The task is handed the scope: spawn from it without closing over `s`.
    const nested: Promise<string> = s.spawn((inner: Scope) => inner.spawn(async () => 'nested'));
    const same: Promise<boolean> = s.spawn((inner) => inner === s);
    await Promise.all([nested, same]);
    return one;
  });
  const doubled: number[] = await pool.map([1, 2, 3], async (x, i) => x * i);
  return [total, ...doubled];
}

export const sqsResponse = (e: SQSEvent): Promise<SQSBatchResponse> => pool.process(e, () => undefined);

// Kafka: records are MSKRecord / SelfManagedKafkaRecord, identifiers { partition, offset }.
export async function msk(event: MSKEvent, context: Context): Promise<KafkaBatchResponse> {
  return pool.process(event, async (record: MSKRecord, { signal }) => {
    const where: string = `${record.topic}-${record.partition}@${record.offset}`;
    if (signal.aborted) throw new Error(where + record.value);
  }, { context, ordering: 'key', groupKey: (r) => r.offset });
}

export async function selfManaged(event: SelfManagedKafkaEvent) {
  const report = await pool.runBatch(event, (record) => record.key, { ordering: 'key' });
  const ids: KafkaItemIdentifier[] = report.succeeded;
  const failed: KafkaItemIdentifier | undefined = report.failures[0]?.itemIdentifier;
  const first = report.response.batchItemFailures[0]?.itemIdentifier;
  const offset: number | undefined = first?.offset;
  const partition: string | undefined = first?.partition;
  return { ids, failed, offset, partition, source: report.summary.source };
}

export async function anyEvent(event: SQSEvent | MSKEvent) {
  const response = await pool.process(event, () => {});
  // a string for SQS, an object for Kafka
  return response.batchItemFailures.map((f) => (typeof f.itemIdentifier === 'string' ? f.itemIdentifier : f.itemIdentifier.partition));
}

// Misuse is rejected.
// @ts-expect-error a Kafka record's identifier is an object, not a string
pool.process({} as MSKEvent, () => {}).then((r): string => r.batchItemFailures[0].itemIdentifier);
// @ts-expect-error an MSK record has no body
pool.process({} as MSKEvent, (r) => r.body);
// @ts-expect-error groupKey returns a string, a number, a bigint, null or undefined
pool.process({} as MSKEvent, () => {}, { groupKey: (r) => r.offset > 0 });
// @ts-expect-error ordering takes 'auto' | 'unordered' | 'key'
pool.process({ Records: [] } as SQSEvent, () => {}, { ordering: 'fifo' });
// @ts-expect-error an SQS record has no kinesis field
pool.process({ Records: [] } as SQSEvent, (r) => r.kinesis);
// @ts-expect-error concurrency is a number
new Pool({ concurrency: '4' });
// @ts-expect-error maxInFlight is a number
new Pool({ maxInFlight: '64' });
// @ts-expect-error maxInFlight is read-only
shared.maxInFlight = 3;
// @ts-expect-error a task's one argument is the scope, not a number
pool.scope((s) => s.spawn((inner: number) => inner));

// Jobs: runJobs with the per-attempt options; results typed by what fn returns.
export async function fanOut(urls: string[], context: Context): Promise<number[]> {
  const report: JobReport<string, number> = await pool.runJobs(
    urls,
    async (url, { signal, index, attempt }) => {
      if (signal.aborted) throw new Error(`${index} ${attempt}`);
      return url.length;
    },
    { concurrency: 8, key: (url) => new URL(url).host, retries: 2, retryBackoffMs: 20, attemptTimeoutMs: 300, maxPerSecond: 45, context },
  );
  const r: 'error' | 'skipped' | 'deadline' | 'timeout' | undefined = report.failures[0]?.reason;
  const waited: number = report.summary.rateWaitMs + report.summary.timeout;
  if (!report.ok || r !== undefined) return [waited];
  return report.results.map((n) => n ?? 0);
}
export const timedBatch = (event: SQSEvent) => pool.process(event, async () => {}, { attemptTimeoutMs: 100, maxPerSecond: 10 });
// @ts-expect-error runJobs takes no batch-only option such as groupKey
pool.runJobs([1], (x) => x, { groupKey: () => 'k' });
// @ts-expect-error a job's result is what fn returns
export const wrong: Promise<JobReport<number, string>> = pool.runJobs([1], (x: number) => x * 2);
