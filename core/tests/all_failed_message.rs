//! The all-failed error says why no record succeeded: counts by reason, the deadline's
//! figures, and the first record's error as its source.

use std::error::Error;
use std::time::Duration;

use lanepool::batch::{process_event_async, BatchError, BatchOptions, RecordError};
use lanepool::Pool;
use serde_json::{json, Value};

fn sqs(ids: &[(&str, Option<&str>)]) -> Value {
    let records: Vec<Value> = ids
        .iter()
        .map(|(id, group)| match group {
            Some(g) => json!({"eventSource": "aws:sqs", "messageId": id, "attributes": {"MessageGroupId": g}}),
            None => json!({"eventSource": "aws:sqs", "messageId": id}),
        })
        .collect();
    json!({ "Records": records })
}

#[test]
fn counts_by_reason_and_the_first_error_as_source() {
    let pool = Pool::new(2).unwrap();
    let event = sqs(&[("m0", Some("g")), ("m1", None), ("m2", Some("g"))]);
    let err = pool
        .process_event(&event, &BatchOptions::new(), |r| {
            Err::<(), String>(format!("bad record {}", r["messageId"].as_str().unwrap()))
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "every record of the batch failed (3 records: 2 error, 1 skipped)"
    );
    // The first record in event order that keeps an error, whichever ran first.
    let source = err.source().expect("a source");
    assert_eq!(source.to_string(), "bad record m0");
    let source = source.downcast_ref::<RecordError<String>>().unwrap();
    assert_eq!(source, &RecordError::Error("bad record m0".to_string()));
}

#[test]
fn one_record_is_singular() {
    let pool = Pool::new(1).unwrap();
    let err = pool
        .process_event(&sqs(&[("m0", None)]), &BatchOptions::new(), |_| {
            Err::<(), _>("down")
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "every record of the batch failed (1 record: 1 error)"
    );
    assert_eq!(err.source().unwrap().to_string(), "down");
}

#[test]
fn deadline_records_say_the_remaining_time_and_the_margin() {
    let pool = Pool::new(2).unwrap();
    // A context whose remaining time reads as 1 ms, the default 500 ms margin: nothing starts.
    let options = BatchOptions::new().remaining_millis(1);
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let err = pool
        .process_event(&sqs(&[("m0", None), ("m1", None)]), &options, |_| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok::<(), String>(())
        })
        .unwrap_err();
    assert_eq!(calls.into_inner(), 0);
    let text = err.to_string();
    // The remaining time is measured at the batch's start, a moment after the options were
    // made: 1 ms, or 0 ms on a slow machine.
    let one = "every record of the batch failed (2 records: 2 deadline; the remaining time was 1 ms at the start and the deadline margin 500 ms)";
    let zero = one.replace("was 1 ms", "was 0 ms");
    assert!(text == one || text == zero, "{text}");
    let summary = err.report().unwrap().summary();
    assert!(summary.remaining_at_start.unwrap() <= Duration::from_millis(1));
    assert_eq!(summary.deadline_margin, Duration::from_millis(500));
    assert!(err.source().is_none(), "no record kept an error");
}

#[test]
fn a_time_already_up_reads_zero() {
    let pool = Pool::new(1).unwrap();
    let options = BatchOptions::new()
        .remaining_millis(-20)
        .deadline_margin(Duration::from_millis(100));
    let err = pool
        .process_event(&sqs(&[("m0", None)]), &options, |_| Ok::<(), String>(()))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "every record of the batch failed (1 record: 1 deadline; the remaining time was 0 ms at the start and the deadline margin 100 ms)"
    );
}

#[test]
fn the_async_driver_says_the_same() {
    let event = sqs(&[("m0", Some("g")), ("m1", Some("g"))]);
    let result = futures::executor::block_on(process_event_async(
        &event,
        &BatchOptions::new(),
        |_| async { Err::<(), _>("bad record") },
    ));
    let err = result.unwrap_err();
    assert!(matches!(err, BatchError::AllFailed(_)));
    assert_eq!(
        err.to_string(),
        "every record of the batch failed (2 records: 1 error, 1 skipped)"
    );
    assert_eq!(err.source().unwrap().to_string(), "bad record");
}

#[test]
fn no_deadline_means_no_remaining_time_in_the_summary() {
    let pool = Pool::new(1).unwrap();
    let options = BatchOptions::new().raise_on_full_batch_failure(false);
    let report = pool
        .process_event(&sqs(&[("m0", None)]), &options, |_| Ok::<(), String>(()))
        .unwrap();
    assert_eq!(report.summary().remaining_at_start, None);
}

#[test]
fn the_log_line_rounds_duration_to_hundredths_of_a_millisecond() {
    let summary = lanepool::batch::BatchSummary {
        records: 1,
        duration: Duration::from_nanos(1_234_567),
        ..Default::default()
    };
    let line: Value = serde_json::from_str(&summary.to_log_line()).unwrap();
    assert_eq!(line["duration_ms"], json!(1.23));
    let summary = lanepool::batch::BatchSummary {
        duration: Duration::from_nanos(7_005_000),
        ..summary
    };
    let line: Value = serde_json::from_str(&summary.to_log_line()).unwrap();
    assert_eq!(line["duration_ms"], json!(7.01));
}
