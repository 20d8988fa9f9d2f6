// Type-checked by test.sh (tsc --noEmit): the declarations accept typical use and reject misuse.
import type { Context, DynamoDBStreamEvent, KinesisStreamEvent, SQSBatchResponse, SQSEvent, SQSHandler } from 'aws-lambda';
import {
  BatchFailedError,
  DEFAULT_CONCURRENCY,
  DEFAULT_DEADLINE_MARGIN_MS,
  DEFAULT_RETRY_BACKOFF_MS,
  EventError,
  Pool,
  type BatchReport,
  type Scope,
} from 'lanepool';

const pool = new Pool({ concurrency: 16 });
const n: number = pool.concurrency;
export const defaults: number[] = [DEFAULT_CONCURRENCY, DEFAULT_DEADLINE_MARGIN_MS, DEFAULT_RETRY_BACKOFF_MS];

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
  const reason: 'error' | 'skipped' | 'deadline' = report.failures[0].reason;
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

// Misuse is rejected.
// @ts-expect-error ordering takes 'auto' | 'unordered'
pool.process({ Records: [] } as SQSEvent, () => {}, { ordering: 'fifo' });
// @ts-expect-error an SQS record has no kinesis field
pool.process({ Records: [] } as SQSEvent, (r) => r.kinesis);
// @ts-expect-error concurrency is a number
new Pool({ concurrency: '4' });
// @ts-expect-error a task's one argument is the scope, not a number
pool.scope((s) => s.spawn((inner: number) => inner));
