//! Fuzzed events: random JSON values, and valid SQS / SQS FIFO / Kinesis / DynamoDB events
//! with fields removed, retyped, emptied or made huge, through `BatchPlan::decode`,
//! `Pool::process_event` and `process_event_async`. Every call ends in
//! `BatchError::Event(EventError)` naming exactly the record and field an independent
//! reference decoder names, or in the report the reference model predicts (identifiers in
//! order, lanes honoured, every record run exactly once); never a panic.
//!
//! `PROPTEST_CASES` raises the case count (default 256 per property).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use lanepool::batch::{process_event_async, BatchError, BatchOptions};
use lanepool::event::{BatchPlan, EventError, LaneOrdering};
use lanepool::Pool;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------- reference decoder

/// What the reference says about an event: every record's (identifier, lane key), or the
/// (record index, field) of the first problem.
type Reference = Result<Vec<(String, Option<String>)>, (Option<usize>, Option<String>)>;

fn at<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = v;
    for part in path.split('.') {
        cur = cur.as_object()?.get(part)?;
    }
    Some(cur)
}

fn reference(event: &Value) -> Reference {
    let Some(obj) = event.as_object() else {
        return Err((None, None));
    };
    let Some(records) = obj.get("Records") else {
        return Err((None, Some("Records".into())));
    };
    let Some(records) = records.as_array() else {
        return Err((None, Some("Records".into())));
    };
    let mut out = Vec::new();
    let mut first: Option<&str> = None;
    for (i, r) in records.iter().enumerate() {
        if !r.is_object() {
            return Err((Some(i), None));
        }
        let err = |f: &str| Err((Some(i), Some(f.to_owned())));
        let source = match at(r, "eventSource").and_then(Value::as_str) {
            Some(s @ ("aws:sqs" | "aws:kinesis" | "aws:dynamodb")) => s,
            _ => return err("eventSource"),
        };
        if first.is_some_and(|f| f != source) {
            return err("eventSource");
        }
        first.get_or_insert(source);
        let id_field = match source {
            "aws:sqs" => "messageId",
            "aws:kinesis" => "kinesis.sequenceNumber",
            _ => "dynamodb.SequenceNumber",
        };
        let id = match at(r, id_field).and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => return err(id_field),
        };
        let lane = match source {
            "aws:sqs" => match at(r, "attributes.MessageGroupId") {
                None | Some(Value::Null) => None,
                Some(Value::String(g)) => Some(format!("g:{g}")),
                Some(_) => return err("attributes.MessageGroupId"),
            },
            "aws:kinesis" => match at(r, "kinesis.partitionKey") {
                Some(Value::String(k)) => Some(format!("k:{k}")),
                _ => return err("kinesis.partitionKey"),
            },
            _ => {
                let Some(keys) = at(r, "dynamodb.Keys").and_then(Value::as_object) else {
                    return err("dynamodb.Keys");
                };
                if keys.is_empty() {
                    return err("dynamodb.Keys");
                }
                let mut parts = Vec::new();
                for (name, attr) in keys {
                    match attr.as_object() {
                        Some(m) if m.len() == 1 => {
                            let (tag, v) = m.iter().next().unwrap();
                            match v.as_str() {
                                Some(t) => parts.push((name.clone(), tag.clone(), t.to_owned())),
                                None => return err("dynamodb.Keys"),
                            }
                        }
                        _ => return err("dynamodb.Keys"),
                    }
                }
                parts.sort();
                Some(format!("d:{}", serde_json::to_string(&parts).unwrap()))
            }
        };
        out.push((id, lane));
    }
    Ok(out)
}

const FIELDS: &[&str] = &[
    "Records",
    "eventSource",
    "messageId",
    "kinesis.sequenceNumber",
    "dynamodb.SequenceNumber",
    "attributes.MessageGroupId",
    "kinesis.partitionKey",
    "dynamodb.Keys",
];

/// The core's error names exactly what the reference names, and only real places.
fn check_error(event: &Value, e: &EventError, want: &(Option<usize>, Option<String>)) {
    assert_eq!(
        (e.index(), e.field().map(str::to_owned)),
        want.clone(),
        "error {e} differs from the reference"
    );
    if let Some(i) = e.index() {
        let n = event["Records"].as_array().map_or(0, Vec::len);
        assert!(i < n, "error names record {i} of {n}");
    }
    if let Some(f) = e.field() {
        assert!(FIELDS.contains(&f), "unknown field {f}");
    }
    assert!(!e.to_string().is_empty());
}

// ---------------------------------------------------------------- running and the model

/// Runs the event on the sync or async driver with handlers failing the records in `fail`,
/// and checks everything against the reference.
fn run_and_check(pool: &Pool, event: &Value, fail: &[bool], use_async: bool) {
    let want = reference(event);
    match (BatchPlan::decode(event, LaneOrdering::Auto), &want) {
        (Ok(plan), Ok(records)) => {
            let ids: Vec<&str> = records.iter().map(|(id, _)| id.as_str()).collect();
            assert_eq!(plan.identifiers(), ids);
        }
        (Err(e), Err(w)) => check_error(event, &e, w),
        (got, _) => panic!("decode gave {got:?}, the reference {want:?}"),
    }
    let records = event
        .as_object()
        .and_then(|o| o.get("Records"))
        .and_then(Value::as_array);
    let n = records.map_or(0, Vec::len);
    let calls: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
    let log = Mutex::new(Vec::new());
    let should_fail = |i: usize| fail.get(i % fail.len().max(1)).copied().unwrap_or(false);
    let index_of = |r: &Value| {
        records
            .unwrap()
            .iter()
            .position(|x| std::ptr::eq(x, r))
            .expect("the handler gets one of the event's own records")
    };
    let handle = |r: &Value| {
        let i = index_of(r);
        calls[i].fetch_add(1, Ordering::SeqCst);
        log.lock().unwrap().push(i);
        if should_fail(i) {
            Err(format!("record {i} failed"))
        } else {
            Ok(())
        }
    };
    let options = BatchOptions::new()
        .concurrency(3)
        .raise_on_full_batch_failure(false);
    let result = if use_async {
        futures::executor::block_on(process_event_async(event, &options, |r| {
            let out = handle(r);
            async move { out }
        }))
    } else {
        pool.process_event(event, &options, handle)
    };
    match (result, want) {
        (Err(BatchError::Event(e)), Err(w)) => {
            check_error(event, &e, &w);
            assert!(
                log.lock().unwrap().is_empty(),
                "a handler ran on a bad event"
            );
        }
        (Ok(report), Ok(records)) => {
            // The model: a failure skips the rest of its lane; everything else runs once.
            let mut failed_lanes: Vec<&str> = Vec::new();
            let mut response = Vec::new();
            for (i, (id, lane)) in records.iter().enumerate() {
                let skipped = lane.as_deref().is_some_and(|l| failed_lanes.contains(&l));
                let ran = calls[i].load(Ordering::SeqCst);
                assert_eq!(ran, u32::from(!skipped), "record {i} ran {ran} times");
                if skipped || should_fail(i) {
                    response.push(id.clone());
                }
                if !skipped && should_fail(i) {
                    if let Some(l) = lane.as_deref() {
                        failed_lanes.push(l);
                    }
                }
            }
            assert_eq!(report.identifiers().len(), records.len());
            assert_eq!(report.response().batch_item_failures, response);
            // Lanes honoured: each lane's records started in event order.
            let log = log.into_inner().unwrap();
            let mut last: HashMap<&str, usize> = HashMap::new();
            for i in log {
                if let Some(l) = records[i].1.as_deref() {
                    if let Some(prev) = last.insert(l, i) {
                        assert!(prev < i, "lane {l}: record {i} ran after {prev}");
                    }
                }
            }
        }
        (got, want) => panic!(
            "driver gave {:?}, the reference {want:?}",
            got.map(|r| r.response())
        ),
    }
}

// ---------------------------------------------------------------- strategies

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "Records", "eventSource", "messageId", "attributes", "MessageGroupId", "kinesis",
            "sequenceNumber", "partitionKey", "dynamodb", "SequenceNumber", "Keys", "S", "N",
            "body",
        ])
        .prop_map(str::to_owned),
        1 => "[a-zA-Z\u{e9}\u{1F600}]{0,6}",
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(vec!["aws:sqs", "aws:kinesis", "aws:dynamodb", "aws:s3", "", "1", "g"])
            .prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from), // NaN/inf become null
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Random values, shaped more and more like events so the deeper rules are reached.
fn random_event() -> impl Strategy<Value = Value> {
    prop_oneof![
        json_value(),
        prop::collection::vec(json_value(), 0..6).prop_map(|r| json!({ "Records": r })),
        prop::collection::vec(
            (
                prop::sample::select(vec!["aws:sqs", "aws:kinesis", "aws:dynamodb"]),
                prop::collection::vec((key(), json_value()), 0..5),
            ),
            0..6
        )
        .prop_map(|recs| {
            let records: Vec<Value> = recs
                .into_iter()
                .map(|(src, kv)| {
                    let mut m: Map<String, Value> = kv.into_iter().collect();
                    m.insert("eventSource".into(), src.into());
                    Value::Object(m)
                })
                .collect();
            json!({ "Records": records })
        }),
    ]
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Sqs,
    Fifo,
    Kinesis,
    DynamoDb,
}

fn valid_record(kind: Kind, i: usize, lane: u8) -> Value {
    let id = format!("id-{i}");
    let key = format!("key{lane}");
    match kind {
        Kind::Sqs => json!({"eventSource": "aws:sqs", "messageId": id, "body": "b",
                            "attributes": {"ApproximateReceiveCount": "1"}}),
        Kind::Fifo => json!({"eventSource": "aws:sqs", "messageId": id, "body": "b",
                             "attributes": {"MessageGroupId": key}}),
        Kind::Kinesis => json!({"eventSource": "aws:kinesis",
                                "kinesis": {"sequenceNumber": id, "partitionKey": key, "data": "ZA=="}}),
        Kind::DynamoDb => json!({"eventSource": "aws:dynamodb",
                                 "dynamodb": {"SequenceNumber": id,
                                              "Keys": {"pk": {"S": key}, "sk": {"N": "1"}}}}),
    }
}

const PATHS: &[&str] = &[
    "",
    "eventSource",
    "messageId",
    "attributes",
    "attributes.MessageGroupId",
    "body",
    "kinesis",
    "kinesis.sequenceNumber",
    "kinesis.partitionKey",
    "dynamodb",
    "dynamodb.SequenceNumber",
    "dynamodb.Keys",
    "dynamodb.Keys.pk",
    "dynamodb.Keys.pk.S",
    "dynamodb.Keys.sk",
];

#[derive(Clone, Debug)]
enum Op {
    Remove,
    Retype(Value),
    Empty,
    Huge,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Remove),
        prop_oneof![
            Just(Value::Null),
            Just(json!(true)),
            Just(json!(12.5)),
            Just(json!(7)),
            Just(json!("str")),
            Just(json!([1, "a"])),
            Just(json!({"S": "x"})),
            Just(json!({"S": 1})),
            Just(json!({"a": {"S": "1", "N": "2"}})),
            Just(json!("aws:kinesis")),
            Just(json!("aws:dynamodb")),
        ]
        .prop_map(Op::Retype),
        Just(Op::Empty),
        Just(Op::Huge),
    ]
}

/// A 1 MB string, or a big container, in place of the value.
fn huge(v: &Value) -> Value {
    match v {
        Value::Object(_) => Value::Object(
            (0..2_000)
                .map(|i| (format!("k{i}"), json!({ "S": format!("v{i}") })))
                .collect(),
        ),
        Value::Array(_) => Value::Array((0..5_000).map(Value::from).collect()),
        _ => Value::String("x".repeat(1 << 20)),
    }
}

fn mutate(event: &mut Value, target: Option<usize>, path: &str, op: &Op) {
    // `target` None: the mutation hits the event or its `Records` instead of a record.
    let (slot, parent_key): (&mut Value, Option<String>) = match target {
        None => {
            if path.is_empty() {
                (event, None)
            } else {
                let parent = event;
                let v = match op {
                    Op::Remove => {
                        parent.as_object_mut().unwrap().remove("Records");
                        return;
                    }
                    _ => parent.get_mut("Records").unwrap(),
                };
                (v, Some("Records".into()))
            }
        }
        Some(i) => {
            let records = event["Records"].as_array_mut().unwrap();
            let i = i % records.len();
            let mut cur = &mut records[i];
            let parts: Vec<&str> = if path.is_empty() {
                vec![]
            } else {
                path.split('.').collect()
            };
            for (k, part) in parts.iter().enumerate() {
                let last = k + 1 == parts.len();
                let Some(obj) = cur.as_object_mut() else {
                    return;
                };
                if !obj.contains_key(*part) {
                    return; // the path does not exist in this record's kind
                }
                if last {
                    if let Op::Remove = op {
                        obj.remove(*part);
                        return;
                    }
                }
                cur = obj.get_mut(*part).unwrap();
            }
            (cur, parts.last().map(|s| s.to_string()))
        }
    };
    let _ = parent_key;
    *slot = match op {
        Op::Remove => Value::Null, // removing the event itself: nothing left
        Op::Retype(v) => v.clone(),
        Op::Empty => match slot {
            Value::Object(_) => json!({}),
            Value::Array(_) => json!([]),
            _ => json!(""),
        },
        Op::Huge => huge(slot),
    };
}

fn mutated_event() -> impl Strategy<Value = Value> {
    let kind = prop::sample::select(vec![Kind::Sqs, Kind::Fifo, Kind::Kinesis, Kind::DynamoDb]);
    let mutation = (
        prop::option::weighted(0.9, 0usize..16),
        prop::sample::select(PATHS.to_vec()),
        op(),
    );
    (
        kind,
        prop::collection::vec(0u8..3, 0..10),
        prop::collection::vec(mutation, 0..3),
    )
        .prop_map(|(kind, lanes, mutations)| {
            let records: Vec<Value> = lanes
                .iter()
                .enumerate()
                .map(|(i, l)| valid_record(kind, i, *l))
                .collect();
            let mut event = json!({ "Records": records });
            for (target, path, op) in &mutations {
                let has_records = event
                    .get("Records")
                    .and_then(Value::as_array)
                    .is_some_and(|r| !r.is_empty());
                match target {
                    Some(_) if !has_records => {}
                    Some(_) => mutate(&mut event, *target, path, op),
                    None if event.is_object() && event.get("Records").is_some() => mutate(
                        &mut event,
                        None,
                        if path.len() % 2 == 0 { "" } else { "Records" },
                        op,
                    ),
                    None => {}
                }
            }
            event
        })
}

fn pool() -> &'static Pool {
    static POOL: std::sync::OnceLock<Pool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| Pool::new(3).unwrap())
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), ..ProptestConfig::default() })]

    #[test]
    fn random_json_ends_in_an_event_error_or_a_correct_report(
        event in random_event(),
        fail in prop::collection::vec(prop::bool::weighted(0.2), 1..8),
        use_async in any::<bool>(),
    ) {
        run_and_check(pool(), &event, &fail, use_async);
    }

    #[test]
    fn damaged_valid_events_end_in_an_event_error_or_a_correct_report(
        event in mutated_event(),
        fail in prop::collection::vec(prop::bool::weighted(0.2), 1..8),
        use_async in any::<bool>(),
    ) {
        run_and_check(pool(), &event, &fail, use_async);
    }

    #[test]
    fn checked_decoding_agrees_with_decoding(
        event in prop_oneof![random_event(), mutated_event()],
        ordering in prop_oneof![
            Just(LaneOrdering::Auto),
            Just(LaneOrdering::Unordered),
            Just(LaneOrdering::Key),
        ],
    ) {
        // The same rules, the same errors, the same lanes; only the identifier texts differ
        // (left for the face to give, except Kafka's, which are read).
        let read = BatchPlan::decode(&event, ordering);
        let checked = BatchPlan::decode_checked(&event, ordering);
        match (read, checked) {
            (Ok(read), Ok(checked)) => {
                prop_assert_eq!(read.lanes(), checked.lanes());
                prop_assert_eq!(read.source(), checked.source());
                prop_assert_eq!(read.lane_count(), checked.lane_count());
                let kafka = read.source().is_some_and(|s| s.is_kafka());
                prop_assert_eq!(checked.identifiers_unread(), !kafka && !read.is_empty());
                if checked.identifiers_unread() {
                    prop_assert!(checked.identifiers().iter().all(String::is_empty));
                    prop_assert_eq!(checked.len(), read.len());
                } else {
                    prop_assert_eq!(read.identifiers(), checked.identifiers());
                }
            }
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            (a, b) => prop_assert!(false, "decode gave {:?}, decode_checked {:?}", a, b),
        }
    }

    #[test]
    fn unordered_decoding_reads_no_lane_field(event in mutated_event()) {
        // With ordering `unordered`, only the source and identifier rules apply.
        let got = BatchPlan::decode(&event, LaneOrdering::Unordered);
        match reference(&event) {
            Ok(records) => {
                let plan = got.expect("a valid event decodes unordered too");
                prop_assert!(plan.lanes().iter().all(Option::is_none));
                prop_assert_eq!(plan.len(), records.len());
            }
            Err((_, Some(f))) if ["attributes.MessageGroupId", "kinesis.partitionKey", "dynamodb.Keys"].contains(&f.as_str()) => {
                // A lane field problem is no problem without lanes... unless an earlier/later
                // record has a source or identifier problem; either way no panic.
                if let Err(e) = got {
                    prop_assert!(!["attributes.MessageGroupId", "kinesis.partitionKey", "dynamodb.Keys"]
                        .contains(&e.field().unwrap_or("")));
                }
            }
            Err(w) => {
                let e = got.expect_err("the reference found a source/identifier problem");
                let _ = w;
                prop_assert!(e.field().is_none_or(|f| FIELDS.contains(&f)));
            }
        }
    }
}

/// Hand-picked edges the strategies might miss.
#[test]
fn edge_events() {
    let edges = [
        json!(null),
        json!([]),
        json!({}),
        json!({"Records": null}),
        json!({"Records": {}}),
        json!({"Records": []}),
        json!({"Records": [null]}),
        json!({"Records": [{}]}),
        json!({"Records": [{"eventSource": "aws:sqs", "messageId": ""}]}),
        json!({"Records": [{"eventSource": "aws:sqs", "messageId": "a", "attributes": "x"}]}),
        json!({"Records": [{"eventSource": "aws:sqs", "messageId": "a", "attributes": {"MessageGroupId": null}}]}),
        json!({"Records": [{"eventSource": "aws:sqs", "messageId": "a"}, {"eventSource": "aws:kinesis"}]}),
        json!({"Records": [{"eventSource": "aws:kinesis", "kinesis": {"sequenceNumber": "1", "partitionKey": ""}}]}),
        json!({"Records": [{"eventSource": "aws:dynamodb", "dynamodb": {"SequenceNumber": "1", "Keys": {}}}]}),
        json!({"Records": [{"eventSource": "aws:dynamodb", "dynamodb": {"SequenceNumber": "1", "Keys": {"a": {}}}}]}),
        json!({"Records": [{"eventSource": "x".repeat(1 << 20), "messageId": "a"}]}),
        json!({"Records": [{"eventSource": "aws:sqs", "messageId": "\u{0}\u{1F600}"}]}),
    ];
    for (k, e) in edges.iter().enumerate() {
        for use_async in [false, true] {
            let r = std::panic::catch_unwind(|| run_and_check(pool(), e, &[k % 2 == 0], use_async));
            assert!(r.is_ok(), "edge {k} ({use_async}) failed");
        }
    }
}
