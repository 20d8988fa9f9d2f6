//! Kafka events (Amazon MSK and self-managed Apache Kafka): the records, grouped by
//! topic-partition, and each record's identifier and lane.
//!
//! ```json
//! {"eventSource": "aws:kafka", "records": {"orders-0": [
//!     {"topic": "orders", "partition": 0, "offset": 15, "key": "dXNlci0x", "value": "e30=", ...}
//! ]}}
//! ```
//!
//! Event order is the `records` object's key order, then each array's order. A record is
//! named in the response by `{"partition": "<topic>-<partition>", "offset": <offset>}`, built
//! from its own `topic` and `partition`, which must agree with its group's key.

use super::source::lookup;
use super::{EventError, JsonKind, JsonView, LaneOrdering, Source};

/// The event's `records` object: each group's key and its array, in the object's order.
fn groups<V: JsonView>(event: &V) -> Result<Vec<(String, V)>, EventError> {
    const FIELD: &str = "records";
    let records = event
        .member(FIELD)
        .ok_or_else(|| EventError::event(Some(FIELD), "missing"))?;
    let groups = records.members().ok_or_else(|| {
        EventError::event(
            Some(FIELD),
            format!("expected an object, got {}", records.type_name()),
        )
    })?;
    for (key, group) in &groups {
        if group.kind() != JsonKind::Array {
            return Err(EventError::event(
                Some(FIELD),
                format!("expected an array of records, got {}", group.type_name()),
            )
            .in_group(key.as_str()));
        }
    }
    Ok(groups)
}

/// Calls `each(index, record, group)` for every record in event order (`index` counting
/// across the groups), after checking `records` and that each record is an object; every
/// error names the group.
pub(crate) fn each_record<V, F>(event: &V, mut each: F) -> Result<(), EventError>
where
    V: JsonView,
    F: FnMut(usize, V, &str) -> Result<(), EventError>,
{
    let mut index = 0;
    for (group, records) in groups(event)? {
        for i in 0..records.array_len().unwrap_or(0) {
            let in_group = |e: EventError| e.in_group(group.as_str());
            let record = records
                .item(i)
                .ok_or_else(|| in_group(EventError::record(index, "missing")))?;
            if record.kind() != JsonKind::Object {
                return Err(in_group(EventError::record(
                    index,
                    format!("expected an object, got {}", record.type_name()),
                )));
            }
            each(index, record, &group).map_err(in_group)?;
            index += 1;
        }
    }
    Ok(())
}

/// The Kafka source named by the event's own `eventSource`, if any.
pub(crate) fn event_source<V: JsonView>(event: &V) -> Option<Source> {
    let text = event.member("eventSource")?.text()?.into_owned();
    Source::parse(&text).filter(|s| s.is_kafka())
}

/// Reads record `index` (in group `group` when it is known): its identifier text
/// (`"<topic>-<partition>@<offset>"`) and its lane for `ordering`.
pub(crate) fn read<V: JsonView>(
    record: &V,
    index: usize,
    group: Option<&str>,
    ordering: LaneOrdering,
) -> Result<(String, Option<String>), EventError> {
    read_with(record, index, group, ordering, |id, lane| {
        let lane = lane.of(&id).map(str::to_owned);
        (id, lane)
    })
}

/// A Kafka record's lane, beside its identifier.
pub(crate) enum KafkaLane {
    /// No lane (ordering `unordered`).
    None,
    /// The identifier's first `n` bytes: its `"<topic>-<partition>"` (ordering `auto`).
    Prefix(usize),
    /// A lane of its own (ordering `key`).
    Own(String),
}

impl KafkaLane {
    /// The lane's text, for the record whose identifier is `id`.
    pub(crate) fn of<'a>(&'a self, id: &'a str) -> Option<&'a str> {
        match self {
            KafkaLane::None => None,
            KafkaLane::Prefix(n) => id.get(..*n),
            KafkaLane::Own(lane) => Some(lane),
        }
    }
}

/// [`read`], the lane handed to `f` beside the identifier, without a copy when it is the
/// identifier's own `"<topic>-<partition>"` (ordering `auto`).
pub(crate) fn read_with<V: JsonView, R>(
    record: &V,
    index: usize,
    group: Option<&str>,
    ordering: LaneOrdering,
    f: impl FnOnce(String, KafkaLane) -> R,
) -> Result<R, EventError> {
    let topic =
        lookup(record, "topic").ok_or_else(|| EventError::at_field(index, "topic", "missing"))?;
    let topic_view = topic;
    let topic = topic_view.text().ok_or_else(|| {
        EventError::at_field(
            index,
            "topic",
            format!("expected a string, got {}", topic_view.type_name()),
        )
    })?;
    if topic.is_empty() {
        return Err(EventError::at_field(index, "topic", "empty"));
    }
    let partition = integer(record, index, "partition")?;
    let offset = integer(record, index, "offset")?;
    let mut id = format!("{topic}-{partition}");
    let topic_partition_len = id.len();
    push_offset(&mut id, offset);
    let topic_partition = &id[..topic_partition_len];
    if let Some(group) = group.filter(|g| *g != topic_partition) {
        let field = if group
            .strip_prefix(topic.as_ref())
            .is_some_and(|r| r.starts_with('-'))
        {
            "partition"
        } else {
            "topic"
        };
        return Err(EventError::at_field(
            index,
            field,
            format!("the record is {topic_partition:?}, but its group in records is {group:?}"),
        ));
    }
    let lane = match ordering {
        LaneOrdering::Unordered => KafkaLane::None,
        LaneOrdering::Auto => KafkaLane::Prefix(topic_partition.len()),
        LaneOrdering::Key => KafkaLane::Own(key_lane(record, index, topic_partition)?),
    };
    Ok(f(id, lane))
}

/// A record's identifier text, `"<topic>-<partition>@<offset>"`, from its
/// `"<topic>-<partition>"` (the short path's: [`super::BatchPlan::decode_read_kafka`]).
pub(crate) fn identifier_of(topic_partition: &str, offset: u64) -> String {
    let mut id = String::with_capacity(topic_partition.len() + 21);
    id.push_str(topic_partition);
    push_offset(&mut id, offset);
    id
}

/// Appends an identifier's `"@<offset>"` (in decimal, as `u64` displays).
fn push_offset(id: &mut String, mut offset: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (offset % 10) as u8;
        offset /= 10;
        if offset == 0 {
            break;
        }
    }
    id.push('@');
    // Only ASCII digits were written.
    id.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// Whether `text` is `"<topic>-<partition>"` (a group key a record of `topic` and
/// `partition` agrees with), with `partition` in decimal as `u64` displays.
pub(crate) fn is_topic_partition(text: &str, topic: &str, partition: u64) -> bool {
    let Some(digits) = text
        .strip_prefix(topic)
        .and_then(|rest| rest.strip_prefix('-'))
    else {
        return false;
    };
    // No sign, no leading zero (but "0" itself), no more digits than a u64 has.
    let canonical = !digits.is_empty()
        && digits.len() <= 20
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    canonical && digits.parse::<u64>() == Ok(partition)
}

/// The lane of ordering `key`: one per (topic-partition, record key); records with no key
/// (absent or null) share one lane per partition.
fn key_lane<V: JsonView>(
    record: &V,
    index: usize,
    topic_partition: &str,
) -> Result<String, EventError> {
    match record.member("key") {
        None => Ok(key_lane_of(topic_partition, None)),
        Some(k) if k.kind() == JsonKind::Null => Ok(key_lane_of(topic_partition, None)),
        Some(k) => match k.text() {
            Some(text) => Ok(key_lane_of(topic_partition, Some(&text))),
            None => Err(EventError::at_field(
                index,
                "key",
                format!("expected a base64 string or null, got {}", k.type_name()),
            )),
        },
    }
}

/// The lane of ordering `key` for a record of `topic_partition` with record key `key`
/// (`None`: no key). The separators are in no topic name (Kafka topics are `[a-zA-Z0-9._-]`),
/// and an empty key is not no key.
pub(crate) fn key_lane_of(topic_partition: &str, key: Option<&str>) -> String {
    match key {
        None => format!("{topic_partition}\0-"),
        Some(key) => format!("{topic_partition}\0+{key}"),
    }
}

fn integer<V: JsonView>(record: &V, index: usize, field: &str) -> Result<u64, EventError> {
    let value =
        lookup(record, field).ok_or_else(|| EventError::at_field(index, field, "missing"))?;
    let wrong = || {
        let got = match value.number() {
            Some(super::JsonNumber::Int(n)) => format!("{n}"),
            Some(super::JsonNumber::Float(x)) => format!("{x}"),
            None => value.type_name().into_owned(),
        };
        EventError::at_field(
            index,
            field,
            format!("expected a non-negative integer, got {got}"),
        )
    };
    if value.kind() != JsonKind::Number {
        return Err(wrong());
    }
    value
        .number()
        .and_then(super::JsonNumber::non_negative_integer)
        .ok_or_else(wrong)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(topic: &str, partition: u64, offset: u64) -> serde_json::Value {
        json!({"topic": topic, "partition": partition, "offset": offset, "key": null, "value": "e30="})
    }

    #[test]
    fn identifier_and_lanes_by_ordering() {
        let r = json!({"topic": "orders", "partition": 2, "offset": 15, "key": "dXNlci0x"});
        let read_as = |o| read(&&r, 0, Some("orders-2"), o).unwrap();
        assert_eq!(
            read_as(LaneOrdering::Unordered),
            ("orders-2@15".into(), None)
        );
        assert_eq!(read_as(LaneOrdering::Auto).1.as_deref(), Some("orders-2"));
        assert_eq!(
            read_as(LaneOrdering::Key).1.as_deref(),
            Some("orders-2\0+dXNlci0x")
        );
        let no_key = record("orders", 2, 16);
        let lane = read(&&no_key, 1, None, LaneOrdering::Key).unwrap().1;
        assert_eq!(lane.as_deref(), Some("orders-2\0-"));
        let empty_key = json!({"topic": "orders", "partition": 2, "offset": 17, "key": ""});
        let lane = read(&&empty_key, 1, None, LaneOrdering::Key).unwrap().1;
        assert_ne!(
            lane.as_deref(),
            Some("orders-2\0-"),
            "an empty key is not no key"
        );
    }

    #[test]
    fn a_record_disagreeing_with_its_group_names_the_field() {
        let r = record("orders", 1, 3);
        let e = read(&&r, 4, Some("orders-0"), LaneOrdering::Auto).unwrap_err();
        assert_eq!((e.index(), e.field()), (Some(4), Some("partition")));
        let e = read(&&r, 4, Some("payments-1"), LaneOrdering::Auto).unwrap_err();
        assert_eq!((e.index(), e.field()), (Some(4), Some("topic")));
        // A topic that is a prefix of the group's topic is still the topic's fault.
        let e = read(
            &&record("order", 1, 3),
            0,
            Some("orders-1"),
            LaneOrdering::Auto,
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("topic"));
    }

    #[test]
    fn identifiers_and_group_keys_are_written_as_u64_displays() {
        for n in [0u64, 7, 10, 4_294_967_296, u64::MAX] {
            assert_eq!(identifier_of("t-1", n), format!("t-1@{n}"));
            assert!(is_topic_partition(&format!("t-{n}"), "t", n));
            assert!(!is_topic_partition(&format!("t-0{n}"), "t", n));
        }
        assert!(!is_topic_partition("t-1", "t", 2));
        assert!(!is_topic_partition("t-+1", "t", 1));
        assert!(!is_topic_partition("t1", "t", 1));
        assert!(!is_topic_partition("t-", "t", 0));
        assert!(!is_topic_partition("u-1", "t", 1));
        // A topic with a `-` of its own.
        assert!(is_topic_partition("a-b-3", "a-b", 3));
        assert!(!is_topic_partition("a-b-3", "a", 3));
    }

    #[test]
    fn mistyped_numbers_are_named() {
        for (offset, shown) in [
            (json!(-1), "got -1"),
            (json!(1.5), "got 1.5"),
            (json!("15"), "got string"),
            (json!(null), "got null"),
        ] {
            let r = json!({"topic": "t", "partition": 0, "offset": offset});
            let e = read(&&r, 2, None, LaneOrdering::Auto).unwrap_err();
            assert_eq!((e.index(), e.field()), (Some(2), Some("offset")));
            assert!(e.problem().ends_with(shown), "{}", e.problem());
        }
        let r = json!({"topic": 5, "partition": 0, "offset": 0});
        assert_eq!(
            read(&&r, 0, None, LaneOrdering::Auto).unwrap_err().field(),
            Some("topic")
        );
    }

    #[test]
    fn a_key_that_is_not_a_string_is_an_error_only_for_ordering_key() {
        let r = json!({"topic": "t", "partition": 0, "offset": 0, "key": 5});
        assert!(read(&&r, 0, None, LaneOrdering::Auto).is_ok());
        let e = read(&&r, 0, None, LaneOrdering::Key).unwrap_err();
        assert_eq!(e.field(), Some("key"));
    }
}
