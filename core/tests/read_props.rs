//! `BatchPlan::decode_read` (the short path over what a face read) against
//! `BatchPlan::decode_checked` (the long way, where every rule is stated): over random
//! events, the short path never accepts what the long way rejects, and where it accepts it
//! makes the very plan the long way makes.

use lanepool::event::{BatchPlan, LaneOrdering, ReadRecord, ReadValue, Source};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// A field's value: mostly the plain one (`None`), else anything JSON has.
fn value(plain: Value) -> impl Strategy<Value = Option<Value>> {
    let any = prop_oneof![
        Just(Value::Null),
        Just(json!("")),
        Just(json!("aws:sqs")),
        Just(json!("aws:kinesis")),
        Just(json!("aws:dynamodb")),
        Just(json!("aws:kafka")),
        Just(json!("g1")),
        Just(json!(7)),
        Just(json!(true)),
        Just(json!({})),
        Just(json!(["g1"])),
    ];
    prop_oneof![8 => Just(Some(plain)), 1 => Just(None), 2 => any.prop_map(Some)]
}

/// A record of source `source` (`aws:sqs`, ...) with identifier `id` and lane key `lane`,
/// each field maybe replaced (or absent), and sometimes no object at all.
fn record(source: &'static str, id: usize) -> impl Strategy<Value = Value> {
    (
        value(json!(source)),
        value(json!(format!("id-{id}"))),
        value(json!(format!("id-{id}"))),
        (0..3usize).prop_flat_map(|g| value(json!(format!("g{g}")))),
        prop_oneof![6 => Just(true), 1 => Just(false)],
        prop_oneof![20 => Just(true), 1 => Just(false)],
    )
        .prop_map(
            move |(event_source, message_id, sequence, lane, nested, object)| {
                if !object {
                    return json!("not a record");
                }
                let mut r = Map::new();
                let put = |map: &mut Map<String, Value>, key: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        map.insert(key.to_owned(), v);
                    }
                };
                put(&mut r, "eventSource", event_source);
                put(&mut r, "messageId", message_id);
                let mut inner = Map::new();
                put(&mut inner, "sequenceNumber", sequence.clone());
                put(&mut inner, "SequenceNumber", sequence);
                put(&mut inner, "partitionKey", lane.clone());
                put(&mut inner, "MessageGroupId", lane);
                if nested {
                    for key in ["attributes", "kinesis", "dynamodb"] {
                        r.insert(key.to_owned(), Value::Object(inner.clone()));
                    }
                }
                Value::Object(r)
            },
        )
}

fn event() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("aws:sqs"), Just("aws:kinesis"), Just("aws:dynamodb")],
        1usize..12,
    )
        .prop_flat_map(|(source, n)| {
            (0..n)
                .map(|i| record(source, i))
                .collect::<Vec<_>>()
                .prop_map(|records| json!({ "Records": records }))
        })
}

/// What a face reads of `records` for `source`'s fields: every string numbered in `texts`
/// (equal texts one number, unless `split`, which gives each string its own).
fn read_of(records: &[Value], source: Source, split: bool) -> (Vec<ReadRecord>, Vec<String>) {
    let mut texts: Vec<String> = Vec::new();
    let mut number = |t: &str| match texts.iter().position(|x| x == t).filter(|_| !split) {
        Some(n) => n,
        None => {
            texts.push(t.to_owned());
            texts.len() - 1
        }
    };
    let at = |record: &Value, path: &str| -> Option<Value> {
        let mut v = record;
        for key in path.split('.') {
            v = v.as_object()?.get(key)?;
        }
        Some(v.clone())
    };
    let mut read = Vec::new();
    for record in records {
        let mut kind = |v: Option<Value>, kept: bool| match v {
            None => ReadValue::Absent,
            Some(Value::Null) => ReadValue::Null,
            Some(Value::String(s)) if kept => ReadValue::Kept {
                empty: s.is_empty(),
            },
            Some(Value::String(s)) => ReadValue::Text(number(&s)),
            Some(_) => ReadValue::Other,
        };
        read.push(ReadRecord {
            object: record.is_object(),
            event_source: kind(at(record, "eventSource"), false),
            identifier: kind(at(record, source.identifier_field()), true),
            lane: kind(at(record, source.lane_field()), false),
        });
    }
    (read, texts)
}

fn orderings() -> impl Strategy<Value = LaneOrdering> {
    prop_oneof![
        Just(LaneOrdering::Auto),
        Just(LaneOrdering::Key),
        Just(LaneOrdering::Unordered)
    ]
}

/// The source a face reads the fields of: record 0's, when it names one.
fn projected_source(records: &[Value]) -> Option<Source> {
    Source::parse(records.first()?.get("eventSource")?.as_str()?)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_short_path_makes_the_long_ways_plan_or_declines(
        event in event(),
        ordering in orderings(),
        split in any::<bool>(),
    ) {
        let records = event["Records"].as_array().unwrap();
        let long = BatchPlan::decode_checked(&event, ordering);
        if let Some(source) = projected_source(records) {
            let (read, texts) = read_of(records, source, split);
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            if let Some(short) = BatchPlan::decode_read(read, &texts, ordering) {
                prop_assert_eq!(Ok(short), long, "event {}", event);
            }
        }
    }
}

#[test]
fn plainly_well_formed_batches_take_the_short_path() {
    let sqs = |i: usize, group: Option<&str>| {
        let mut r = json!({"eventSource": "aws:sqs", "messageId": format!("m{i}")});
        if let Some(g) = group {
            r["attributes"] = json!({ "MessageGroupId": g });
        }
        r
    };
    let kinesis = |i: usize| {
        json!({"eventSource": "aws:kinesis",
               "kinesis": {"sequenceNumber": format!("{i}"), "partitionKey": format!("k{}", i % 2)}})
    };
    let events = [
        (vec![sqs(0, None), sqs(1, None)], Source::Sqs),
        (
            vec![sqs(0, Some("a")), sqs(1, Some("b")), sqs(2, Some("a"))],
            Source::Sqs,
        ),
        ((0..5).map(kinesis).collect(), Source::Kinesis),
    ];
    for (records, source) in events {
        for ordering in [
            LaneOrdering::Auto,
            LaneOrdering::Key,
            LaneOrdering::Unordered,
        ] {
            // Equal texts with one number, as the Node face gives them (a record whose
            // `eventSource` has another number than record 0's goes the long way).
            let (read, texts) = read_of(&records, source, false);
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            let event = json!({ "Records": records });
            let short = BatchPlan::decode_read(read, &texts, ordering).expect("planned");
            assert!(short.identifiers_unread());
            assert_eq!(Ok(short), BatchPlan::decode_checked(&event, ordering));
        }
    }
}

#[test]
fn a_text_number_outside_the_table_declines() {
    let record = ReadRecord {
        object: true,
        event_source: ReadValue::Text(0),
        identifier: ReadValue::Kept { empty: false },
        lane: ReadValue::Text(5),
    };
    assert!(BatchPlan::decode_read([record], &["aws:sqs"], LaneOrdering::Auto).is_none());
    let source_out = ReadRecord {
        event_source: ReadValue::Text(3),
        ..record
    };
    assert!(BatchPlan::decode_read([source_out], &["aws:sqs"], LaneOrdering::Unordered).is_none());
}
