//! `BatchPlan::decode_read` (the short path over what a face read) against
//! `BatchPlan::decode_checked` (the long way, where every rule is stated): over random
//! events, the short path never accepts what the long way rejects, and where it accepts it
//! makes the very plan the long way makes.

use lanepool::event::{
    BatchPlan, LaneOrdering, ReadKafkaGroup, ReadKafkaRecord, ReadRecord, ReadValue, Source,
};
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

/// The table of distinct texts a face hands over: equal texts one number, unless `split`
/// (then each string its own, as a face may give them).
struct TextTable {
    texts: Vec<String>,
    split: bool,
}

impl TextTable {
    fn new(split: bool) -> Self {
        TextTable {
            texts: Vec::new(),
            split,
        }
    }

    fn number(&mut self, t: &str) -> usize {
        match self
            .texts
            .iter()
            .position(|x| x == t)
            .filter(|_| !self.split)
        {
            Some(n) => n,
            None => {
                self.texts.push(t.to_owned());
                self.texts.len() - 1
            }
        }
    }
}

/// What a face reads of `records` for `source`'s fields: every string numbered in `texts`
/// (equal texts one number, unless `split`, which gives each string its own).
fn read_of(records: &[Value], source: Source, split: bool) -> (Vec<ReadRecord>, Vec<String>) {
    let mut table = TextTable::new(split);
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
            Some(Value::String(s)) => ReadValue::Text(table.number(&s)),
            Some(_) => ReadValue::Other,
        };
        read.push(ReadRecord {
            object: record.is_object(),
            event_source: kind(at(record, "eventSource"), false),
            identifier: kind(at(record, source.identifier_field()), true),
            lane: kind(at(record, source.lane_field()), false),
        });
    }
    (read, table.texts)
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
            // Equal texts with one number, and each string with its own (as the Node face
            // sends a node's texts once it has many distinct ones): both planned, alike.
            for split in [false, true] {
                let (read, texts) = read_of(&records, source, split);
                let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
                let event = json!({ "Records": records });
                let short = BatchPlan::decode_read(read, &texts, ordering)
                    .unwrap_or_else(|| panic!("planned, split {split}: {event}"));
                assert!(short.identifiers_unread());
                assert_eq!(Ok(short), BatchPlan::decode_checked(&event, ordering));
            }
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

// ------------------------------------------------------------------ Kafka

/// A Kafka record of topic-partition `(topic, partition)` at `offset` with key `key`, each
/// field maybe replaced (or absent), and sometimes no object at all.
fn kafka_record(topic: &'static str, partition: u64, offset: u64) -> impl Strategy<Value = Value> {
    let number = |plain: u64| {
        prop_oneof![
            10 => Just(Some(json!(plain))),
            1 => Just(None),
            1 => prop_oneof![
                Just(json!(-1)),
                Just(json!(1.5)),
                Just(json!(1e300)),
                Just(json!(9_007_199_254_740_993u64)),
                Just(json!("7")),
                Just(Value::Null),
                Just(json!(plain + 1)),
            ]
            .prop_map(Some),
        ]
    };
    (
        value(json!(topic)),
        number(partition),
        number(offset),
        prop_oneof![
            Just(None),
            Just(Some(Value::Null)),
            Just(Some(json!("a2V5LTE="))),
            Just(Some(json!("a2V5LTI="))),
            Just(Some(json!(""))),
            Just(Some(json!(5))),
        ],
        prop_oneof![20 => Just(true), 1 => Just(false)],
    )
        .prop_map(move |(topic, partition, offset, key, object)| {
            if !object {
                return json!(7);
            }
            let mut r = Map::new();
            for (name, v) in [
                ("topic", topic),
                ("partition", partition),
                ("offset", offset),
                ("key", key),
            ] {
                if let Some(v) = v {
                    r.insert(name.to_owned(), v);
                }
            }
            Value::Object(r)
        })
}

/// A Kafka event: up to three groups (`t-0`, `t-1`, `a-b-0`, sometimes a key that is no
/// record's), their records in order, and the event's own `eventSource`.
fn kafka_event() -> impl Strategy<Value = Value> {
    let groups = [("t", 0u64, "t-0"), ("t", 1, "t-1"), ("a-b", 0, "a-b-0")];
    (
        prop::sample::subsequence(groups.to_vec(), 1..=3),
        prop_oneof![
            8 => Just(Some("aws:kafka")),
            2 => Just(Some("SelfManagedKafka")),
            1 => Just(Some("aws:sqs")),
            1 => Just(None),
        ],
        prop_oneof![10 => Just(None), 1 => Just(Some("t-00")), 1 => Just(Some("t-2"))],
    )
        .prop_flat_map(|(groups, source, wrong_key)| {
            let groups: Vec<_> = groups
                .into_iter()
                .enumerate()
                .map(move |(g, (topic, partition, key))| {
                    let key = if g == 0 {
                        wrong_key.unwrap_or(key)
                    } else {
                        key
                    };
                    (0usize..5)
                        .prop_flat_map(move |n| {
                            (0..n)
                                .map(|i| kafka_record(topic, partition, 100 + i as u64))
                                .collect::<Vec<_>>()
                        })
                        .prop_map(move |records| (key, records))
                })
                .collect();
            groups.prop_map(move |groups| {
                let mut records = Map::new();
                for (key, list) in groups {
                    records.insert(key.to_owned(), Value::Array(list));
                }
                let mut event = Map::new();
                if let Some(s) = source {
                    event.insert("eventSource".to_owned(), json!(s));
                }
                event.insert("records".to_owned(), Value::Object(records));
                Value::Object(event)
            })
        })
}

/// What a face hands the Kafka short path: the `eventSource` text's number, the groups, the
/// records and the table of texts.
type ReadKafka = (
    usize,
    Vec<ReadKafkaGroup>,
    Vec<ReadKafkaRecord>,
    Vec<String>,
);

/// What a face reads of a Kafka event (`None`: it has no `eventSource` text to hand over):
/// strings numbered in `texts` (equal texts one number, unless `split`).
fn read_kafka_of(event: &Value, split: bool) -> Option<ReadKafka> {
    let mut table = TextTable::new(split);
    let source = table.number(event.get("eventSource")?.as_str()?);
    let mut groups = Vec::new();
    let mut read = Vec::new();
    for (key, list) in event["records"].as_object()? {
        let list = list.as_array()?;
        groups.push(ReadKafkaGroup {
            key: table.number(key),
            records: list.len(),
        });
        for record in list {
            let mut text = |v: Option<&Value>| match v {
                None => ReadValue::Absent,
                Some(Value::Null) => ReadValue::Null,
                Some(Value::String(s)) => ReadValue::Text(table.number(s)),
                Some(_) => ReadValue::Other,
            };
            read.push(ReadKafkaRecord {
                object: record.is_object(),
                topic: text(record.get("topic")),
                partition: record.get("partition").and_then(Value::as_f64),
                offset: record.get("offset").and_then(Value::as_f64),
                key: text(record.get("key")),
            });
        }
    }
    Some((source, groups, read, table.texts))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn the_kafka_short_path_makes_the_long_ways_plan_or_declines(
        event in kafka_event(),
        ordering in orderings(),
        split in any::<bool>(),
    ) {
        let long = BatchPlan::decode_checked(&event, ordering);
        if let Some((source, groups, read, texts)) = read_kafka_of(&event, split) {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            if let Some(short) = BatchPlan::decode_read_kafka(source, &groups, read, &texts, ordering) {
                prop_assert_eq!(Ok(short), long, "event {}", event);
            }
        }
    }
}

#[test]
fn plainly_well_formed_kafka_events_take_the_short_path() {
    let record = |topic: &str, partition: u64, offset: u64, key: Value| json!({"topic": topic, "partition": partition, "offset": offset, "key": key, "value": "e30="});
    let event = json!({"eventSource": "aws:kafka", "records": {
        "t-0": [record("t", 0, 5, json!("azE=")), record("t", 0, 6, Value::Null), record("t", 0, 7, json!("azE="))],
        "a-b-12": [record("a-b", 12, 1, json!("azI=")), record("a-b", 12, 2, json!("azE="))],
        "t-1": [],
    }});
    for split in [false, true] {
        for ordering in [
            LaneOrdering::Auto,
            LaneOrdering::Key,
            LaneOrdering::Unordered,
        ] {
            let (source, groups, read, texts) = read_kafka_of(&event, split).unwrap();
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            let short = BatchPlan::decode_read_kafka(source, &groups, read, &texts, ordering)
                .expect("planned");
            assert!(!short.identifiers_unread());
            assert_eq!(
                short.identifiers(),
                ["t-0@5", "t-0@6", "t-0@7", "a-b-12@1", "a-b-12@2"]
            );
            assert_eq!(Ok(short), BatchPlan::decode_checked(&event, ordering));
        }
    }
    // Ordering `key`: records of one partition with different keys get lanes of their own.
    let (source, groups, read, texts) = read_kafka_of(&event, false).unwrap();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let plan =
        BatchPlan::decode_read_kafka(source, &groups, read, &texts, LaneOrdering::Key).unwrap();
    assert_eq!(plan.lanes(), [Some(0), Some(1), Some(0), Some(2), Some(3)]);
}

#[test]
fn kafka_parts_that_disagree_decline() {
    let record = ReadKafkaRecord {
        object: true,
        topic: ReadValue::Text(1),
        partition: Some(0.0),
        offset: Some(1.0),
        key: ReadValue::Absent,
    };
    let texts = ["aws:kafka", "t", "t-0", "aws:sqs"];
    let group = |records| [ReadKafkaGroup { key: 2, records }];
    let plan = |source, groups: &[ReadKafkaGroup], records: Vec<ReadKafkaRecord>| {
        BatchPlan::decode_read_kafka(source, groups, records, &texts, LaneOrdering::Auto)
    };
    assert!(plan(0, &group(1), vec![record]).is_some());
    // Groups that hold more or fewer records than were read.
    assert!(plan(0, &group(2), vec![record]).is_none());
    assert!(plan(0, &group(0), vec![record]).is_none());
    // Not a Kafka source; a text number outside the table.
    assert!(plan(3, &group(1), vec![record]).is_none());
    assert!(plan(9, &group(1), vec![record]).is_none());
    assert!(plan(0, &[ReadKafkaGroup { key: 9, records: 1 }], vec![record]).is_none());
    let far = ReadKafkaRecord {
        topic: ReadValue::Text(9),
        ..record
    };
    assert!(plan(0, &group(1), vec![far]).is_none());
    // An empty event is the long way's to plan.
    assert!(plan(0, &[], vec![]).is_none());
}

#[test]
fn a_kafka_short_path_plan_reports_as_the_long_ways_does() {
    use lanepool::batch::{BatchOptions, BatchRun, Step};
    let records: Vec<Value> = (0..6)
        .map(|i| json!({"topic": "t", "partition": i % 2, "offset": 40 + i}))
        .collect();
    let event = json!({"eventSource": "aws:kafka", "records": {
        "t-0": records.iter().filter(|r| r["partition"] == 0).collect::<Vec<_>>(),
        "t-1": records.iter().filter(|r| r["partition"] == 1).collect::<Vec<_>>(),
    }});
    let (source, groups, read, texts) = read_kafka_of(&event, false).unwrap();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let short = BatchPlan::decode_read_kafka(source, &groups, read, &texts, LaneOrdering::Auto)
        .expect("planned");
    let long = BatchPlan::decode(&event, LaneOrdering::Auto).unwrap();
    // Record 1 of each partition fails: the rest of its lane is skipped.
    let report = |plan: BatchPlan| {
        let mut run: BatchRun<()> = BatchRun::new(plan, &BatchOptions::new(), 4);
        while let Step::Run(t) = run.step() {
            let fail = t.index == 1 || t.index == 4;
            run.complete(t.index, if fail { Err(()) } else { Ok(()) })
                .unwrap();
        }
        let mut read = 0;
        run.read_identifiers(false, |_| {
            read += 1;
            Ok::<_, ()>(String::new())
        })
        .unwrap()
        .unwrap();
        assert_eq!(
            read, 0,
            "a Kafka plan's identifiers are the core's to write"
        );
        let report = run.finish().unwrap();
        (
            report.response(),
            report
                .succeeded()
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
            report.identifiers().to_vec(),
        )
    };
    let (short_response, short_ok, short_ids) = report(short);
    assert_eq!(
        short_response.batch_item_failures,
        ["t-0@42", "t-0@44", "t-1@43", "t-1@45"]
    );
    assert_eq!((short_response, short_ok, short_ids), report(long));
}
