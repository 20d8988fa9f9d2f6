//! # lanepool
//!
//! A scoped worker pool and per-lane ordered batch processing, built to process a batch of
//! records inside one serverless invocation (AWS Lambda SQS, SQS FIFO, Kinesis, DynamoDB
//! streams and Kafka), and a fine scoped pool anywhere else.
//!
//! - [`Pool`]: persistent worker threads (create once, at INIT) with [`Pool::scope`]: tasks
//!   borrow from the caller's stack, spawn nested tasks, and all of them have finished when
//!   the scope returns; the caller helps with its own scope's tasks only.
//! - [`async_scope`]: the same guarantee for futures, with a concurrency limit, on any
//!   executor.
//! - [`lanes::LaneScheduler`]: the runtime-free lane scheduler every driver (and the Python
//!   and Node faces) shares.
//! - [`batch`]: batch processing: [`Pool::process`] for sync handlers,
//!   [`batch::process_async`] for async ones, [`batch::BatchReport`] for the outcome and
//!   Lambda's partial batch response.
//! - jobs: a plain list of items on the same scheduler, for a coordinator's fan-out
//!   ([`Pool::run_jobs`], [`batch::run_jobs_async`], keyed variants for lanes), returning a
//!   [`batch::JobReport`] with one result per item.
//! - [`BatchOptions::attempt_timeout`] (async handlers: a hung attempt is cancelled and
//!   retried) and [`BatchOptions::max_per_second`] (a start rate), for batches and jobs.
//! - [`limit::InFlightLimit`]: a limit on handlers in flight shared by many calls at once
//!   (Lambda Managed Instances run many invocations in one environment), free slots handed to
//!   the waiting calls in turn; give it to each call with
//!   [`BatchOptions::in_flight_limit`].
//!
//! ```
//! use lanepool::{batch::BatchOptions, Pool};
//! let pool = Pool::new(4).unwrap();
//! let event = serde_json::json!({"Records": [
//!     {"eventSource": "aws:sqs", "messageId": "1", "attributes": {"MessageGroupId": "a"}, "body": "ok"},
//!     {"eventSource": "aws:sqs", "messageId": "2", "attributes": {"MessageGroupId": "a"}, "body": "poison"},
//!     {"eventSource": "aws:sqs", "messageId": "3", "attributes": {"MessageGroupId": "a"}, "body": "ok"},
//!     {"eventSource": "aws:sqs", "messageId": "4", "attributes": {"MessageGroupId": "b"}, "body": "ok"},
//! ]});
//! let report = pool
//!     .process_event(&event, &BatchOptions::new(), |record| match record["body"].as_str() {
//!         Some("poison") => Err("poison"),
//!         _ => Ok(()),
//!     })
//!     .unwrap();
//! // "2" failed, so "3" (same group, later) is skipped; group "b" is untouched.
//! assert_eq!(report.response().to_json(),
//!     r#"{"batchItemFailures":[{"itemIdentifier":"2"},{"itemIdentifier":"3"}]}"#);
//! ```
//!
//! ## A Lambda handler
//!
//! With feature `aws`, the typed records of [`aws_lambda_events`](https://docs.rs/aws_lambda_events)
//! go straight in and the report converts to Lambda's response type. A complete SQS function
//! on [`lambda_runtime`](https://docs.rs/lambda_runtime) (and `tokio`), the one the README shows:
//!
#![cfg_attr(feature = "aws", doc = "```no_run")]
#![cfg_attr(not(feature = "aws"), doc = "```ignore")]
//! use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
//! use lambda_runtime::{service_fn, Error, LambdaEvent};
//! use lanepool::batch::{process_async, BatchOptions};
//! use std::time::{Duration, UNIX_EPOCH};
//!
//! async fn handle(message: &SqsMessage) -> Result<(), String> {
//!     let _body = message.body.as_deref().unwrap_or_default(); // your code for one message
//!     Ok(()) // `Err` fails it and skips the rest of its FIFO message group
//! }
//!
//! async fn handler(event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
//!     let options = BatchOptions::new()
//!         .concurrency(16)
//!         .deadline_at(UNIX_EPOCH + Duration::from_millis(event.context.deadline));
//!     let report = process_async(&event.payload.records, &options, handle).await?;
//!     Ok(SqsBatchResponse::from(&report.response()))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     lambda_runtime::run(service_fn(handler)).await
//! }
//! ```
//!
//! Turn on `ReportBatchItemFailures` on the event source mapping, or Lambda ignores the partial
//! response. The same program with a summary log line is the crate's `examples/lambda_sqs.rs`.
//!
//! ## Feature `aws`
//!
//! Off by default; it adds the dependency `aws_lambda_events` (default features off; its `sqs`,
//! `kinesis`, `dynamodb` and `streams` features on) and implements:
//!
//! | `aws_lambda_events` type | what lanepool implements | identifier | lane (`auto`) |
//! |---|---|---|---|
//! | `event::sqs::SqsMessage` | [`event::BatchRecord`] | `message_id` | `attributes["MessageGroupId"]` (none: unkeyed) |
//! | `event::kinesis::KinesisEventRecord` | [`event::BatchRecord`] | `kinesis.sequence_number` | `kinesis.partition_key` |
//! | `event::dynamodb::EventRecord` | [`event::BatchRecord`] | `change.sequence_number` | `change.keys`, in the same canonical form as untyped events |
//! | `event::sqs::SqsBatchResponse` | `From<&`[`batch::BatchResponse`]`>` | | |
//! | `event::streams::KinesisEventResponse` | `From<&`[`batch::BatchResponse`]`>` | | |
//! | `event::streams::DynamoDbEventResponse` | `From<&`[`batch::BatchResponse`]`>` | | |
//!
//! A typed record's type names its source, so its `eventSource` is neither required nor read;
//! its identifier is required, as for untyped records (see [`event::aws`], the typed-record
//! rule). Untyped events have no type to say it: there every record's `eventSource` is required.
//!
//! So `&event.payload.records` of an `SqsEvent`, `KinesisEvent` or `DynamoDbEvent` goes to
//! [`batch::process_async`] or [`Pool::process`] as it is, and `report.response()` converts to
//! the response type the function returns. Without the feature, untyped `serde_json::Value`
//! events go to [`Pool::process_event`] (above) with the same rules.
//!
//! ## Semantics every face shares
//!
//! | rule | what happens |
//! |---|---|
//! | lanes | records of one lane run one at a time, in event order; lanes and unkeyed records run concurrently, at most `concurrency` at once |
//! | lane keys (`auto`) | SQS: `attributes.MessageGroupId` (absent: unkeyed); Kinesis: `kinesis.partitionKey`; DynamoDB: the canonical `dynamodb.Keys`; Kafka: the topic-partition |
//! | lane keys (`key`) | Kafka: the topic-partition and the record's `key` (no key: one lane per partition); other sources as `auto` |
//! | custom lane keys | a key function's value, by one rule ([`event::KeyValue`]): a string (`""` included) is the key; an integer is its decimal string (`7` and `"7"` are one lane); none/`null` is unkeyed; anything else (a fraction, a boolean, an object...) is an [`event::EventError`] at the record's index, field `group_key`. The whole event is validated first; then keys in event order, the first error stopping it; a key function's own error is raised unchanged. See [`event::BatchPlan::decode_with_keys`] |
//! | identifiers | SQS `messageId`, Kinesis `kinesis.sequenceNumber`, DynamoDB `dynamodb.SequenceNumber`, Kafka the object `{"partition": "<topic>-<partition>", "offset": <offset>}` ([`batch::ItemIdentifier`]) |
//! | Kafka events | `eventSource` `aws:kafka` (MSK), `SelfManagedKafka` or `aws:SelfManagedKafka`; records from `records`, an object of arrays keyed by `"<topic>-<partition>"`; event order is the object's key order, then each array's (for `serde_json::Value` events with the feature `preserve_order`, else sorted by key) |
//! | failure | a handler error or panic, after its retries (exponential backoff with jitter; the lane waits) |
//! | skip | a failed record skips the rest of its lane (reason `skipped`); other lanes go on |
//! | attempt timeout | with [`BatchOptions::attempt_timeout`], an async handler attempt running longer is cancelled and fails (reason `timeout`), retried while retries remain (the lane waits); a record whose last attempt timed out is reported and skips the rest of its lane; an attempt due at or after the deadline is the deadline's; sync drivers refuse the option ([`batch::BatchError::Options`]) |
//! | start rate | with [`BatchOptions::max_per_second`], attempts (retries included) start at most that many per second on average, in bursts of at most that many (a token bucket, full at the start); nothing is postponed past the deadline (what cannot start is `deadline`); the summary's `rate_wait` is the time held back |
//! | jobs | a plain list: job `i` is named `"i"`; an optional key per item gives lanes by the key rule (no key: no lane); results aligned with the items; the all-failed rule does not apply (a report with `ok() == false` is not an error) |
//! | exactly once | every record ends once, as succeeded or reported (`error`, `skipped`, `deadline`, `timeout`); the response lists reported records in event order |
//! | malformed event | not an object, no `Records` array, a record not an object, a missing/unknown/mixed `eventSource`, a missing identifier, a malformed lane key; Kafka: `records` not an object of arrays, a missing or mistyped `topic` / `partition` / `offset` (non-negative integers), a record whose `topic`/`partition` disagree with its group's key: an [`event::EventError`] naming the record index (in event order), the Kafka group and the field, before any handler runs |
//! | empty batch | empty response; the handler is never called |
//! | all failed | a non-empty batch with no success is an error carrying the report ([`batch::BatchError::AllFailed`]) unless turned off; its message counts the records by reason (for `deadline` ones with the remaining time at the start and the margin) and its source is the first failed record's error |
//! | context | the Python and Node faces read the deadline from the Lambda context by one rule, [`batch::remaining_time`]: no context, no deadline; no remaining-time method or no number returned (NaN included) is an error naming it; negative is time already up; +infinity is no deadline |
//! | options | a `concurrency` from 1 to [`batch::MAX_CONCURRENCY`] ([`BatchOptions::validate`]: 0 is an error, never 1); a pool of 1 to [`pool::MAX_WORKERS`] threads |
//! | deadline | nothing starts at or after `deadline - margin` (reported `deadline`); async handlers still running then are cancelled (reported `deadline`); sync ones are awaited |
//! | time already up | a remaining time of zero or less ([`BatchOptions::remaining_millis`]; Lambda Managed Instances enforce no timeout): nothing starts, every record is `deadline` with 0 attempts, the call returns at once |
//! | shared limit | with [`BatchOptions::in_flight_limit`], handlers in flight across every call sharing it stay within it, each call's `concurrency` still holding; free slots go to the waiting calls in turn; waiting for a slot is not an attempt |
//! | no leaks | when any call returns, no task it started is still running |
//!
//! The conformance vectors in the repository's `tests/vectors/` state each rule once; every
//! face runs them.
//!
//! A Kafka batch (here self-managed), whose response names records by object:
//!
//! ```
//! use lanepool::{batch::BatchOptions, event::LaneOrdering, Pool};
//! let pool = Pool::new(2).unwrap();
//! let event = serde_json::json!({"eventSource": "SelfManagedKafka", "records": {
//!     "orders-0": [
//!         {"topic": "orders", "partition": 0, "offset": 15, "key": "dXNlci0x", "value": "cG9pc29u"},
//!         {"topic": "orders", "partition": 0, "offset": 16, "key": "dXNlci0y", "value": "b2s="},
//!         {"topic": "orders", "partition": 0, "offset": 17, "key": "dXNlci0x", "value": "b2s="},
//!     ],
//! }});
//! let options = BatchOptions::new().ordering(LaneOrdering::Key);
//! let report = pool
//!     .process_event(&event, &options, |record| match record["value"].as_str() {
//!         Some("cG9pc29u") => Err("poison"),
//!         _ => Ok(()),
//!     })
//!     .unwrap();
//! // Offset 15 failed: 17 (same key) is skipped, 16 (another key) succeeded.
//! assert_eq!(report.response().to_value(), serde_json::json!({"batchItemFailures": [
//!     {"itemIdentifier": {"partition": "orders-0", "offset": 15}},
//!     {"itemIdentifier": {"partition": "orders-0", "offset": 17}},
//! ]}));
//! ```
//!
//! ## Dependencies
//!
//! `crossbeam-deque` and `crossbeam-utils` (work queues and parking), `parking_lot` (small,
//! fast locks), `thiserror` (error types), `num_cpus` (CPU count), `serde_json` (untyped
//! events and the JSON summary line: most Lambda handlers already link it).
//! `aws_lambda_events` only with feature `aws`; serde_json's `preserve_order` (`indexmap`)
//! only with feature `preserve_order`. No async runtime: timers come from one
//! lazily started thread ([`timer`]).

#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod async_scope;
pub mod batch;
pub mod event;
pub mod lanes;
pub mod limit;
pub mod pool;
mod sync;
pub mod timer;

/// The pool's synchronisation protocol types, public only for the model check under
/// `--cfg loom` (`core/tests/loom_pool.rs`, run by `scripts/loom`); not part of the API.
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_model {
    pub use crate::pool::idle::IdleWorkers;
    pub use crate::pool::latch::CountLatch;
    pub use crate::sync::{Parker, Unparker};
}

pub use batch::{BatchOptions, NoGate, RunnerGate};
pub use limit::InFlightLimit;
pub use pool::{OwnedScope, Pool, PoolBuilder, PoolError};
