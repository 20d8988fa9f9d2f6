//! The short path for a Kafka event a face has read itself: [`BatchPlan::decode_read_kafka`].
//!
//! The Kafka twin of [`BatchPlan::decode_read`]: a face that read each record's `topic`,
//! `partition`, `offset` (and, for [`LaneOrdering::Key`], `key`) hands the core what it saw,
//! a [`ReadKafkaRecord`], with the event's `eventSource` and its `records` groups (each
//! group's key and length, in the object's order). The core plans the batch in one pass,
//! with no view walked and no lane text built per record, but only when the event is plainly
//! well formed; anything else is `None`, and the face decodes the event the long way
//! ([`BatchPlan::decode_checked`]), where every rule and its error is stated. Where both
//! accept, both make the same plan (`tests/read_props.rs` checks it over random events).

use std::collections::HashMap;

use super::identifiers::{Identifiers, KafkaParts};
use super::kafka;
use super::read::LanesByText;
use super::{BatchPlan, JsonNumber, LaneOrdering, ReadValue, Source, TextNumber};
use crate::lanes::LaneId;

/// One record of a Kafka event as a face read it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReadKafkaRecord {
    /// Whether the record is an object (nothing else about it counts when it is not).
    pub object: bool,
    /// Its `topic`.
    pub topic: ReadValue,
    /// Its `partition` when that is a number (`None`: absent, or anything else).
    pub partition: Option<f64>,
    /// Its `offset` when that is a number (`None`: absent, or anything else).
    pub offset: Option<f64>,
    /// Its `key`; only looked at with [`LaneOrdering::Key`].
    pub key: ReadValue,
}

/// One group of a Kafka event's `records` as a face read it: its key, and how many of the
/// records (which follow one another in event order) it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadKafkaGroup {
    /// The group's key, by its number in the table of texts.
    pub key: TextNumber,
    /// How many records the group holds.
    pub records: usize,
}

/// What the pass remembers of the group it is in: the `(topic, partition)` its first
/// record was checked against, the group's key text, and (ordering `key`) its lanes.
struct GroupState<'t> {
    key: &'t str,
    checked: Option<(TextNumber, u64)>,
    /// The lane of records with no key (ordering `key`), or of every record (`auto`).
    plain_lane: Option<LaneId>,
}

/// The lane of a lane text, given as its parts; a new one (the next number) for parts not
/// seen before, as the long way numbers lanes in the order their texts first appear.
fn lane_by_text<'t>(
    lane_of: &mut LanesByText<(&'t str, Option<&'t str>)>,
    topic_partition: &'t str,
    key: Option<&'t str>,
) -> LaneId {
    let next = lane_of.len() as LaneId;
    *lane_of.entry((topic_partition, key)).or_insert(next)
}

impl BatchPlan {
    /// Plans a Kafka event from what a face read: its `eventSource` and `records` groups
    /// (`event_source` and each group's key are numbers in `texts`, the table of distinct
    /// texts) and each record in event order. The identifiers are the long way's, kept as
    /// each record's group and offset and written when the report names them. `None` unless the
    /// event is plainly well formed: then decode it the long way, which gives the plan or
    /// names what is wrong. Never `Some` where [`BatchPlan::decode_checked`] is an error,
    /// and `Some` of the plan it makes.
    ///
    /// ```
    /// use lanepool::event::{BatchPlan, LaneOrdering, ReadKafkaGroup, ReadKafkaRecord, ReadValue};
    /// let record = |offset| ReadKafkaRecord {
    ///     object: true,
    ///     topic: ReadValue::Text(1),
    ///     partition: Some(0.0),
    ///     offset: Some(offset),
    ///     key: ReadValue::Null,
    /// };
    /// let texts = ["aws:kafka", "orders", "orders-0"];
    /// let groups = [ReadKafkaGroup { key: 2, records: 2 }];
    /// let plan = BatchPlan::decode_read_kafka(0, &groups, [record(7.0), record(8.0)], &texts, LaneOrdering::Auto)
    ///     .unwrap();
    /// assert_eq!(plan.identifiers(), ["orders-0@7", "orders-0@8"]);
    /// assert_eq!(plan.lanes(), [Some(0), Some(0)]);
    /// // A record that disagrees with its group is an error the long way names: not planned here.
    /// let other = ReadKafkaRecord { partition: Some(1.0), ..record(9.0) };
    /// let groups = [ReadKafkaGroup { key: 2, records: 1 }];
    /// assert!(BatchPlan::decode_read_kafka(0, &groups, [other], &texts, LaneOrdering::Auto).is_none());
    /// ```
    pub fn decode_read_kafka<I>(
        event_source: TextNumber,
        groups: &[ReadKafkaGroup],
        records: I,
        texts: &[&str],
        ordering: LaneOrdering,
    ) -> Option<Self>
    where
        I: IntoIterator<Item = ReadKafkaRecord>,
        I::IntoIter: ExactSizeIterator,
    {
        let source = Source::parse(texts.get(event_source)?).filter(|s| s.is_kafka())?;
        let mut records = records.into_iter();
        let n = records.len();
        if n == 0 || groups.iter().map(|g| g.records).sum::<usize>() != n {
            return None;
        }
        let mut identifiers = KafkaParts::with_capacity(n);
        let mut lanes: Vec<Option<LaneId>> = Vec::with_capacity(n);
        // Lanes by text, as the long way numbers them: a topic-partition (ordering `auto`),
        // or a topic-partition and a record key (`key`; `None`: no key).
        let mut lane_of: LanesByText<(&str, Option<&str>)> = HashMap::default();
        // Ordering `key`: a key number's lane in the current group, stamped with the group.
        let mut keyed: Vec<(usize, LaneId)> = Vec::new();
        for (g, group) in groups.iter().enumerate() {
            let key = *texts.get(group.key)?;
            // A `\0` in a topic could make two lanes' texts equal the long way: let it decide.
            if ordering == LaneOrdering::Key && key.contains('\0') {
                return None;
            }
            if group.records > 0 {
                identifiers.start_group(key);
            }
            let mut state = GroupState {
                key,
                checked: None,
                plain_lane: None,
            };
            for _ in 0..group.records {
                let record = records.next()?;
                let ReadKafkaRecord {
                    object: true,
                    topic: ReadValue::Text(topic),
                    partition: Some(partition),
                    offset: Some(offset),
                    key: record_key,
                } = record
                else {
                    return None;
                };
                let partition = JsonNumber::Float(partition).non_negative_integer()?;
                let offset = JsonNumber::Float(offset).non_negative_integer()?;
                if state.checked != Some((topic, partition)) {
                    let topic_text = *texts.get(topic)?;
                    if topic_text.is_empty()
                        || !kafka::is_topic_partition(state.key, topic_text, partition)
                    {
                        return None;
                    }
                    state.checked = Some((topic, partition));
                }
                let record_lane = match ordering {
                    LaneOrdering::Unordered => None,
                    LaneOrdering::Auto => Some(
                        *state
                            .plain_lane
                            .get_or_insert_with(|| lane_by_text(&mut lane_of, state.key, None)),
                    ),
                    LaneOrdering::Key => Some(match record_key {
                        ReadValue::Absent | ReadValue::Null => *state
                            .plain_lane
                            .get_or_insert_with(|| lane_by_text(&mut lane_of, state.key, None)),
                        ReadValue::Text(k) => match keyed.get(k) {
                            Some(&(stamp, l)) if stamp == g + 1 => l,
                            _ => {
                                let l = lane_by_text(&mut lane_of, state.key, Some(*texts.get(k)?));
                                if keyed.len() <= k {
                                    keyed.resize(k + 1, (0, 0));
                                }
                                keyed[k] = (g + 1, l);
                                l
                            }
                        },
                        _ => return None,
                    }),
                };
                identifiers.push(offset);
                lanes.push(record_lane);
            }
        }
        let lane_count = lane_of.len();
        Some(BatchPlan::read(
            Some(source),
            Identifiers::kafka(identifiers),
            lanes,
            lane_count,
        ))
    }
}
