//! The lanepool example record handler, in Rust: the same as `examples/python/handler.py` and
//! `examples/node/handler.js`.
//!
//! [`record_handler`] gets each record of a Lambda event as the `serde_json::Value` Lambda
//! delivered. It stands in for real work: it waits 10-30 ms (as if calling another service; the
//! duration is derived from the record's identifier with SHA-256, so runs are reproducible and
//! equal the Python and Node examples') and fails a "poison" record, one whose payload (SQS
//! `body`, base64-decoded Kinesis `data`, DynamoDB `NewImage`, base64-decoded Kafka `value`)
//! contains `poison`. Returning `Err` fails that record; in its lane (a FIFO message group, a
//! Kinesis partition key, a DynamoDB item, a Kafka topic-partition) the later records are then
//! skipped (and retried by Lambda), keeping their order.
//!
//! [`ordering`] reads the lanes from `LANEPOOL_ORDERING` as the Python and Node examples do:
//! `auto` (default; Kafka: one lane per topic-partition), `key` (Kafka: one per topic-partition
//! and record key) or `unordered`. Kafka events need lanepool's feature `preserve_order` to keep
//! the partitions in the event's order (this crate turns it on).
//!
//! Run a batch with it:
//!
//! ```no_run
//! use lanepool::{batch::BatchOptions, Pool};
//! let pool = Pool::new(16).unwrap(); // once, at INIT
//! let event: serde_json::Value = serde_json::from_str(r#"{"Records": []}"#).unwrap();
//! let options = BatchOptions::new()
//!     .concurrency(16)
//!     .ordering(lanepool_example::ordering().unwrap());
//! let report = pool
//!     .process_event(&event, &options, lanepool_example::record_handler)
//!     .unwrap();
//! println!("{}", report.response().to_json());
//! ```
//!
//! The whole Lambda program (with `lambda_runtime` and typed `aws_lambda_events` records) is
//! `core/examples/lambda_sqs.rs`; `src/bin/lambda.rs` is this record handler as a Lambda function
//! for any `Records` event, on `lambda_runtime::run_concurrent` (Lambda Managed Instances:
//! `AWS_LAMBDA_MAX_CONCURRENCY` invocations at once in one process); `src/bin/demo.rs` runs the
//! bundled events locally.

pub mod coordinator;

use std::borrow::Cow;
use std::thread;
use std::time::Duration;

use base64::Engine as _;
use lanepool::event::LaneOrdering;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The lanes named by `LANEPOOL_ORDERING`: `auto` (also when unset), `key` or `unordered`.
pub fn ordering() -> Result<LaneOrdering, String> {
    match std::env::var("LANEPOOL_ORDERING").as_deref() {
        Err(_) | Ok("" | "auto") => Ok(LaneOrdering::Auto),
        Ok("key") => Ok(LaneOrdering::Key),
        Ok("unordered") => Ok(LaneOrdering::Unordered),
        Ok(other) => Err(format!(
            "LANEPOOL_ORDERING={other:?}: expected auto, key or unordered"
        )),
    }
}

/// The record's identifier: SQS `messageId`, Kinesis `kinesis.sequenceNumber`, Kafka
/// `"<topic>-<partition>@<offset>"`, DynamoDB `dynamodb.SequenceNumber` (`"?"` when none).
pub fn record_id(record: &Value) -> Cow<'_, str> {
    if let Some(id) = record.get("messageId").and_then(Value::as_str) {
        return Cow::Borrowed(id);
    }
    if let Some(kinesis) = record.get("kinesis") {
        return Cow::Borrowed(kinesis["sequenceNumber"].as_str().unwrap_or("?"));
    }
    if let Some(offset) = record.get("offset") {
        let topic = record["topic"].as_str().unwrap_or("?");
        return Cow::Owned(format!("{topic}-{}@{offset}", record["partition"]));
    }
    Cow::Borrowed(record["dynamodb"]["SequenceNumber"].as_str().unwrap_or("?"))
}

/// The record's payload as text: SQS `body`, the base64-decoded Kinesis `data`, the
/// base64-decoded Kafka `value` (empty for a tombstone, `value` null), or DynamoDB `NewImage` as
/// JSON.
pub fn payload(record: &Value) -> String {
    if let Some(body) = record.get("body").and_then(Value::as_str) {
        return body.to_owned();
    }
    let base64_text = |data: &str| {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    if let Some(kinesis) = record.get("kinesis") {
        return base64_text(kinesis["data"].as_str().unwrap_or_default());
    }
    if record.get("offset").is_some() {
        return record["value"]
            .as_str()
            .map(base64_text)
            .unwrap_or_default();
    }
    record["dynamodb"]
        .get("NewImage")
        .map_or_else(|| "{}".to_owned(), Value::to_string)
}

/// 10-30 ms, the same for a given identifier every run (and in the Python and Node examples).
pub fn io_ms(record_id: &str) -> u64 {
    10 + u64::from(Sha256::digest(record_id.as_bytes())[0]) % 21
}

/// The record handler: waits [`io_ms`] (the I/O a real handler would do), then fails a poison
/// record.
pub fn record_handler(record: &Value) -> Result<(), String> {
    let id = record_id(record);
    thread::sleep(Duration::from_millis(io_ms(&id)));
    if payload(record).contains("poison") {
        return Err(format!("poison record {id}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn io_ms_matches_the_python_and_node_examples() {
        // python3 -c "import hashlib; print(10 + hashlib.sha256(b'abc').digest()[0] % 21)"
        assert_eq!(io_ms("abc"), 10 + 0xba % 21);
        assert!((10..=30).contains(&io_ms("anything")));
    }

    #[test]
    fn poison_fails_in_every_source() {
        let sqs = json!({"messageId": "m", "body": "{\"note\":\"poison\"}"});
        let kinesis = json!({"kinesis": {"sequenceNumber": "1", "data": "cG9pc29u"}}); // "poison"
        let dynamodb =
            json!({"dynamodb": {"SequenceNumber": "9", "NewImage": {"n": {"S": "poison"}}}});
        let kafka =
            json!({"topic": "t", "partition": 0, "offset": 7, "key": null, "value": "cG9pc29u"});
        for record in [sqs, kinesis, dynamodb, kafka] {
            assert!(record_handler(&record).is_err(), "{record}");
        }
        assert_eq!(
            record_handler(&json!({"messageId": "ok", "body": "fine"})),
            Ok(())
        );
        let tombstone =
            json!({"topic": "t", "partition": 0, "offset": 8, "key": "aw==", "value": null});
        assert_eq!(record_handler(&tombstone), Ok(()));
    }

    #[test]
    fn kafka_record_id_matches_the_python_and_node_examples() {
        let r = json!({"topic": "orders", "partition": 3, "offset": 42, "value": null});
        assert_eq!(record_id(&r), "orders-3@42");
    }
}
