//! The short path for a `Records` batch a face has read itself: [`BatchPlan::decode_read`].
//!
//! A face that reads each record's few fields in its own language (as the Node face does,
//! with inline caches) hands the core what it saw of each one, a [`ReadRecord`], and a
//! table of the texts its string values have (each distinct text once, or, for a value with
//! many distinct texts, each record's own). The core then plans the batch in one tight pass,
//! but only when every record is plainly well formed: anything else (a missing field, a
//! value of the wrong kind, mixed or unknown sources, an ordering whose key is not a single
//! string) is `None`, and the face decodes the event the long way ([`BatchPlan::decode`] or
//! [`BatchPlan::decode_checked`] over a [`super::JsonView`]), where every rule and its error
//! is stated. So this pass never makes an error and never accepts what the long way would
//! reject; where both accept, both make the same plan (`tests/read_props.rs` checks it over
//! random events).

use std::collections::HashMap;

use super::{BatchPlan, LaneOrdering, Source};
use crate::lanes::LaneId;

/// Lanes by their text on the short paths: hashed with foldhash, a few nanoseconds a key
/// where SipHash takes tens, since a face may send as many texts as records; seeded at random
/// per map. Lane texts come from the event (producers choose group ids and partition keys), so
/// keys could be made to collide on purpose: a batch's size (at most 10,000 records on
/// Lambda) bounds what that costs.
pub(super) type LanesByText<K> = HashMap<K, LaneId, foldhash::fast::RandomState>;

/// A string value a face read: its number in the table of texts the face gives
/// with the records (equal texts may share a number; they need not).
pub type TextNumber = usize;

/// What a face saw of a value the rules read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadValue {
    /// Absent: the member is missing (`undefined` in JavaScript), or a step of its path is
    /// absent or not an object.
    Absent,
    /// `null`.
    Null,
    /// A string, by its number in the table of texts.
    Text(TextNumber),
    /// A string whose text the face kept (the identifier): only whether it is empty.
    Kept {
        /// Whether the string is empty.
        empty: bool,
    },
    /// Anything else (a number, an object, an array, ...).
    Other,
}

/// One record of a `Records` batch as a face read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadRecord {
    /// Whether the record is an object (nothing else about it counts when it is not).
    pub object: bool,
    /// Its `eventSource`.
    pub event_source: ReadValue,
    /// Its identifier ([`Source::identifier_field`] of the batch's source).
    pub identifier: ReadValue,
    /// Its lane field ([`Source::lane_field`]); not looked at when unordered.
    pub lane: ReadValue,
}

impl BatchPlan {
    /// Plans a `Records` batch from what a face read of each record, `texts` the table its
    /// [`ReadValue::Text`] numbers index, with identifiers checked, not read (as
    /// [`BatchPlan::decode_checked`] makes them). `None` unless every record is plainly well
    /// formed (see the module's text): then decode the event the long way, which gives the
    /// plan or names what is wrong. Never `Some` where `decode_checked` is an error, and
    /// `Some` of the plan it makes.
    ///
    /// ```
    /// use lanepool::event::{BatchPlan, LaneOrdering, ReadRecord, ReadValue};
    /// let record = |group| ReadRecord {
    ///     object: true,
    ///     event_source: ReadValue::Text(0),
    ///     identifier: ReadValue::Kept { empty: false },
    ///     lane: ReadValue::Text(group),
    /// };
    /// let texts = ["aws:sqs", "g1", "g2"];
    /// let plan = BatchPlan::decode_read([record(1), record(2), record(1)], &texts, LaneOrdering::Auto)
    ///     .unwrap();
    /// assert_eq!(plan.lanes(), [Some(0), Some(1), Some(0)]);
    /// // An empty identifier is an error the long way names: not planned here.
    /// let bad = ReadRecord { identifier: ReadValue::Kept { empty: true }, ..record(1) };
    /// assert!(BatchPlan::decode_read([bad], &texts, LaneOrdering::Auto).is_none());
    /// ```
    pub fn decode_read<I>(records: I, texts: &[&str], ordering: LaneOrdering) -> Option<Self>
    where
        I: IntoIterator<Item = ReadRecord>,
        I::IntoIter: ExactSizeIterator,
    {
        let records = records.into_iter();
        let n = records.len();
        let mut lanes: Vec<Option<LaneId>> = Vec::with_capacity(n);
        // The batch's source, by record 0's text: every record must have that text (most often
        // its very number).
        let mut source: Option<(Source, TextNumber)> = None;
        // Lanes by text number (every number is below `texts.len()`), and by text. A face may
        // send each record's lane text on its own (see [`TextNumber`]): as many texts as
        // records, each hashed once here.
        let mut lane_of_number: Vec<Option<LaneId>> = vec![None; texts.len()];
        let mut lane_of_text: LanesByText<&str> =
            HashMap::with_capacity_and_hasher(texts.len().min(n), Default::default());
        for record in records {
            let ReadRecord {
                object: true,
                event_source: ReadValue::Text(number),
                identifier: ReadValue::Kept { empty: false },
                lane,
            } = record
            else {
                return None;
            };
            let batch_source = match source {
                Some((s, first))
                    if first == number || texts.get(number)? == texts.get(first)? =>
                {
                    s
                }
                Some(_) => return None,
                None => {
                    let s = Source::parse(texts.get(number)?)?;
                    if s.is_kafka() {
                        return None;
                    }
                    source = Some((s, number));
                    s
                }
            };
            let keyed = match (ordering, batch_source, lane) {
                (LaneOrdering::Unordered, _, _) => None,
                (_, Source::Sqs, ReadValue::Absent | ReadValue::Null) => None,
                (_, Source::Sqs | Source::Kinesis, ReadValue::Text(t)) => Some(t),
                _ => return None,
            };
            let lane = match keyed {
                None => None,
                // A number seen before has its lane; a new one, its text's (equal texts with
                // different numbers share a lane, as they do the long way).
                Some(t) => Some(match *lane_of_number.get(t)? {
                    Some(lane) => lane,
                    None => {
                        let next = lane_of_text.len() as LaneId;
                        let lane = *lane_of_text.entry(texts.get(t)?).or_insert(next);
                        lane_of_number[t] = Some(lane);
                        lane
                    }
                }),
            };
            lanes.push(lane);
        }
        Some(BatchPlan::checked(
            source.map(|(s, _)| s),
            lanes,
            lane_of_text.len(),
        ))
    }
}
