//! Kafka events through the Rust face's entry points: each handler gets its own record (in
//! event order across the groups), and the response names records by object.

use std::sync::Mutex;

use lanepool::batch::{process_event_async, BatchOptions, ItemIdentifier};
use lanepool::event::LaneOrdering;
use lanepool::Pool;
use serde_json::{json, Value};

/// Two groups in unsorted key order; offset 11 of `payments-1` is poison.
fn event() -> Value {
    json!({
        "eventSource": "aws:kafka",
        "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/c/1",
        "records": {
            "payments-1": [
                {"topic": "payments", "partition": 1, "offset": 10, "key": "YQ==", "value": "b2s="},
                {"topic": "payments", "partition": 1, "offset": 11, "key": "Yg==", "value": "cG9pc29u"},
                {"topic": "payments", "partition": 1, "offset": 12, "key": "YQ==", "value": "b2s="},
            ],
            "orders-0": [
                {"topic": "orders", "partition": 0, "offset": 3, "key": null, "value": null},
            ],
        }
    })
}

fn poison(record: &Value) -> Result<(), String> {
    match record["value"].as_str() {
        Some("cG9pc29u") => Err(format!("offset {}", record["offset"])),
        _ => Ok(()),
    }
}

#[test]
fn the_thread_pool_hands_each_handler_its_own_record_and_names_records_by_object() {
    let pool = Pool::new(2).unwrap();
    let seen = Mutex::new(Vec::new());
    let report = pool
        .process_event(&event(), &BatchOptions::new(), |record| {
            seen.lock()
                .unwrap()
                .push(record["offset"].as_u64().unwrap());
            poison(record)
        })
        .unwrap();
    let mut seen = seen.into_inner().unwrap();
    seen.sort_unstable();
    // Offset 12 shares offset 11's partition: skipped, never run.
    assert_eq!(seen, [3, 10, 11]);
    assert_eq!(
        report.identifiers(),
        [
            "payments-1@10",
            "payments-1@11",
            "payments-1@12",
            "orders-0@3"
        ]
    );
    let response = report.response();
    assert_eq!(
        response.item_identifiers().collect::<Vec<_>>(),
        [
            ItemIdentifier::Kafka {
                partition: "payments-1",
                offset: 11
            },
            ItemIdentifier::Kafka {
                partition: "payments-1",
                offset: 12
            },
        ]
    );
    assert_eq!(
        response.to_json(),
        r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"payments-1","offset":11}},{"itemIdentifier":{"partition":"payments-1","offset":12}}]}"#
    );
    assert_eq!(
        report.summary().source.map(|s| s.as_str()),
        Some("aws:kafka")
    );
}

#[test]
fn the_async_driver_with_key_lanes_skips_only_the_failed_key() {
    let options = BatchOptions::new().ordering(LaneOrdering::Key);
    let event = event();
    let run = process_event_async(&event, &options, |record| async move { poison(record) });
    let report = futures::executor::block_on(run).unwrap();
    // Offset 12 has key "a", offset 11 key "b": another lane, so 12 runs and succeeds.
    assert_eq!(report.response().batch_item_failures, ["payments-1@11"]);
    assert_eq!(
        report.response().to_value(),
        json!({"batchItemFailures": [{"itemIdentifier": {"partition": "payments-1", "offset": 11}}]})
    );
}

#[test]
fn a_malformed_kafka_event_runs_no_handler() {
    let mut bad = event();
    bad["records"]["orders-0"][0]["offset"] = json!(-3);
    let pool = Pool::new(2).unwrap();
    let err = pool
        .process_event(&bad, &BatchOptions::new(), |_| -> Result<(), ()> {
            panic!("no handler runs")
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed event: record 3 (records[\"orders-0\"]): field `offset`: expected a non-negative integer, got -3"
    );
}
