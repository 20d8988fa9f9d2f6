//! The typed-record rule (feature `aws`): a typed record's type names its source, so its
//! `eventSource` is neither required nor read; its identifier is required, as in untyped
//! events, whose `eventSource` is required.
#![cfg(feature = "aws")]

use aws_lambda_events::event::kinesis::KinesisEventRecord;
use aws_lambda_events::event::sqs::SqsMessage;
use lanepool::batch::{process_async, BatchOptions};
use lanepool::event::{BatchPlan, LaneOrdering, Source};
use lanepool::Pool;
use serde_json::json;

fn message(value: serde_json::Value) -> SqsMessage {
    serde_json::from_value(value).unwrap()
}

#[test]
fn a_typed_sqs_message_without_event_source_is_processed() {
    let records = [
        message(json!({"messageId": "m0", "body": "ok"})),
        message(
            json!({"messageId": "m1", "body": "poison", "attributes": {"MessageGroupId": "g"}}),
        ),
        message(json!({"messageId": "m2", "body": "ok", "attributes": {"MessageGroupId": "g"}})),
    ];
    assert!(records.iter().all(|r| r.event_source.is_none()));
    let pool = Pool::new(2).unwrap();
    let report = pool
        .process(&records, &BatchOptions::new(), |m: &SqsMessage| {
            match m.body.as_deref() {
                Some("poison") => Err("poison"),
                _ => Ok(()),
            }
        })
        .unwrap();
    assert_eq!(report.response().batch_item_failures, ["m1", "m2"]);
    assert_eq!(report.summary().source, Some(Source::Sqs));
}

#[test]
fn the_same_json_untyped_is_an_event_error_naming_event_source() {
    let event = json!({"Records": [{"messageId": "m0", "body": "ok"}]});
    let err = BatchPlan::decode(&event, LaneOrdering::Auto).unwrap_err();
    assert_eq!((err.index(), err.field()), (Some(0), Some("eventSource")));
}

#[test]
fn a_typed_record_naming_another_source_is_still_its_type() {
    let records = [message(
        json!({"messageId": "m0", "eventSource": "aws:kinesis"}),
    )];
    let plan = BatchPlan::from_records(&records, LaneOrdering::Auto).unwrap();
    assert_eq!(plan.source(), Some(Source::Sqs));
    assert_eq!(plan.identifiers(), ["m0"]);
}

#[test]
fn a_typed_record_needs_its_identifier() {
    let records = [
        message(json!({"messageId": "m0"})),
        message(json!({"body": "no id"})),
    ];
    let err = BatchPlan::from_records(&records, LaneOrdering::Auto).unwrap_err();
    assert_eq!((err.index(), err.field()), (Some(1), Some("messageId")));
    let records = [message(json!({"messageId": ""}))];
    let err = BatchPlan::from_records(&records, LaneOrdering::Auto).unwrap_err();
    assert_eq!((err.index(), err.field()), (Some(0), Some("messageId")));
    // Through a driver: the error comes before any handler runs.
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let result = futures::executor::block_on(process_async(
        &records,
        &BatchOptions::new(),
        |_: &SqsMessage| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async { Ok::<(), String>(()) }
        },
    ));
    assert!(result.is_err());
    assert_eq!(calls.into_inner(), 0);
}

#[test]
fn typed_kinesis_records_take_their_source_from_the_type() {
    let mut record = KinesisEventRecord::default();
    record.kinesis.sequence_number = "4954".into();
    record.kinesis.partition_key = "user-1".into();
    assert!(record.event_source.is_none());
    let plan = BatchPlan::from_records(&[record], LaneOrdering::Auto).unwrap();
    assert_eq!(plan.source(), Some(Source::Kinesis));
    assert_eq!(plan.identifiers(), ["4954"]);
}
