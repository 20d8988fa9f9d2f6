//! [`BatchPlan`]: what the scheduler and the report need of a batch, and nothing more.

use std::collections::HashMap;

use super::identifiers::Identifiers;
use super::source::lookup;
use super::{kafka, BatchRecord, EventError, JsonKind, JsonView, KeyValue, Source};
use crate::lanes::{LaneId, LaneScheduler, SchedulerConfig};

/// How records are put into lanes.
///
/// ```
/// use lanepool::event::LaneOrdering;
/// assert_eq!(LaneOrdering::default(), LaneOrdering::Auto);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LaneOrdering {
    /// By source: SQS FIFO message group, Kinesis partition key, DynamoDB item keys.
    #[default]
    Auto,
    /// No lanes: every record runs freely (lane fields are not read).
    Unordered,
    /// Kafka: one lane per topic-partition and record `key` (records with no key share one
    /// lane per partition), so records of different keys in one partition run in parallel.
    /// Other sources: the same as `Auto`.
    Key,
}

/// A failure while decoding with a caller's key function.
#[derive(Debug, thiserror::Error)]
pub enum KeyError<X> {
    /// The event is malformed, or a key is invalid (field `group_key`).
    #[error(transparent)]
    Event(#[from] EventError),
    /// The key function itself failed for record `index` (raised, threw, returned an error):
    /// faces raise `error` unchanged.
    #[error("record {index}: the group key function failed")]
    Key {
        /// The record's index.
        index: usize,
        /// What the key function returned.
        error: X,
    },
}

/// The decoded shape of a batch: source, identifiers and lanes. Payloads stay where they are.
///
/// ```
/// use lanepool::event::{BatchPlan, LaneOrdering, Source};
/// let event = serde_json::json!({"Records": [
///     {"eventSource": "aws:sqs", "messageId": "a", "attributes": {"MessageGroupId": "g1"}},
///     {"eventSource": "aws:sqs", "messageId": "b", "attributes": {"MessageGroupId": "g2"}},
///     {"eventSource": "aws:sqs", "messageId": "c", "attributes": {"MessageGroupId": "g1"}},
/// ]});
/// let plan = BatchPlan::decode(&event, LaneOrdering::Auto).unwrap();
/// assert_eq!(plan.source(), Some(Source::Sqs));
/// assert_eq!(plan.identifiers(), ["a", "b", "c"]);
/// assert_eq!(plan.lanes(), [Some(0), Some(1), Some(0)]);
///
/// let bad = serde_json::json!({"Records": [{"eventSource": "aws:sqs"}]});
/// let err = BatchPlan::decode(&bad, LaneOrdering::Auto).unwrap_err();
/// assert_eq!(err.to_string(), "record 0: field `messageId`: missing");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchPlan {
    source: Option<Source>,
    /// Every text, or only those named so far: a checked plan's
    /// ([`BatchPlan::decode_checked`]) are empty until the face gives them
    /// ([`crate::batch::BatchRun::read_identifiers`]), a Kafka short path's are written from
    /// their parts (see [`Identifiers`]).
    identifiers: Identifiers,
    lanes: Vec<Option<LaneId>>,
    lane_count: usize,
}

impl BatchPlan {
    /// Decodes a Lambda event (`{"Records": [...]}`, or a Kafka event's `records`) with lanes
    /// by `ordering`.
    pub fn decode<V: JsonView>(event: V, ordering: LaneOrdering) -> Result<Self, EventError> {
        Self::decode_event(&event, ordering, true)
    }

    /// Like [`BatchPlan::decode`], every rule applied and every error the same, but the
    /// identifiers are only checked (present, a string, not empty: [`Source::check_identifier`]),
    /// not read: for a face that keeps each record's identifier text itself and gives the
    /// core only those the report names ([`crate::batch::BatchRun::read_identifiers`]).
    /// Until then the plan's identifiers are empty. A Kafka event's identifiers are built
    /// from several fields, so they are read as by [`BatchPlan::decode`].
    ///
    /// ```
    /// use lanepool::event::{BatchPlan, LaneOrdering};
    /// let event = serde_json::json!({"Records": [
    ///     {"eventSource": "aws:sqs", "messageId": "a", "attributes": {"MessageGroupId": "g"}},
    ///     {"eventSource": "aws:sqs", "messageId": "b", "attributes": {"MessageGroupId": "g"}},
    /// ]});
    /// let plan = BatchPlan::decode_checked(&event, LaneOrdering::Auto).unwrap();
    /// assert!(plan.identifiers_unread());
    /// assert_eq!(plan.identifiers(), ["", ""]);
    /// assert_eq!(plan.lanes(), [Some(0), Some(0)]);
    /// let bad = serde_json::json!({"Records": [{"eventSource": "aws:sqs", "messageId": 7}]});
    /// let err = BatchPlan::decode_checked(&bad, LaneOrdering::Auto).unwrap_err();
    /// assert_eq!(err.to_string(), "record 0: field `messageId`: expected a string, got number");
    /// ```
    pub fn decode_checked<V: JsonView>(
        event: V,
        ordering: LaneOrdering,
    ) -> Result<Self, EventError> {
        Self::decode_event(&event, ordering, false)
    }

    /// Decodes a Lambda event with lanes given by a caller's key function, by the one key
    /// rule ([`KeyValue::into_lane_key`]): a string, an integer (as its decimal string) or
    /// none (unkeyed); anything else is an [`EventError`] at field `group_key`.
    ///
    /// The whole event is validated first, as with [`LaneOrdering::Unordered`] (lane fields
    /// are not read), so an event error always wins over a key error. Then `key` runs once
    /// per record, in event order, and decoding stops at the first key error: an invalid key
    /// ([`KeyError::Event`]) or the function's own failure ([`KeyError::Key`], to be raised
    /// unchanged). No later record's key function runs.
    ///
    /// ```
    /// use lanepool::event::{BatchPlan, KeyError, KeyValue};
    /// let event = serde_json::json!({"Records": [
    ///     {"eventSource": "aws:sqs", "messageId": "a", "body": "t1"},
    ///     {"eventSource": "aws:sqs", "messageId": "b", "body": "t1"},
    /// ]});
    /// let plan = BatchPlan::decode_with_keys(&event, |_, r| {
    ///     Ok::<_, ()>(r["body"].as_str())
    /// }).unwrap();
    /// assert_eq!(plan.lanes(), [Some(0), Some(0)]);
    ///
    /// // A number is its decimal string; a boolean is an error naming record and field.
    /// let plan = BatchPlan::decode_with_keys(&event, |i, _| Ok::<_, ()>([KeyValue::Int(7), "7".into()][i].clone()));
    /// assert_eq!(plan.unwrap().lane_count(), 1);
    /// let err = BatchPlan::decode_with_keys(&event, |_, _| Ok::<_, ()>(KeyValue::Invalid("bool".into())));
    /// match err {
    ///     Err(KeyError::Event(e)) => assert_eq!((e.index(), e.field()), (Some(0), Some("group_key"))),
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    pub fn decode_with_keys<V, K, X, F>(event: V, mut key: F) -> Result<Self, KeyError<X>>
    where
        V: JsonView,
        K: Into<KeyValue>,
        F: FnMut(usize, &V) -> Result<K, X>,
    {
        let plan = Self::decode_event(&event, LaneOrdering::Unordered, true)?;
        let records = Self::records(&event)?;
        plan.with_keys(|index| {
            let record = records
                .get(index)
                .ok_or_else(|| KeyError::Event(EventError::record(index, "missing")))?;
            key(index, record).map_err(|error| KeyError::Key { index, error })
        })
    }

    /// Replaces the plan's lanes by a caller's keys, by the one key rule (see
    /// [`BatchPlan::decode_with_keys`], which is this after decoding): `key(index)` runs for
    /// each record in event order and the first error stops it. For faces that call their
    /// key function themselves, over records they hold.
    ///
    /// ```
    /// use lanepool::event::{BatchPlan, KeyError, KeyValue};
    /// let plan = BatchPlan::from_parts(None, [("a".into(), None), ("b".into(), None), ("c".into(), None)]);
    /// let keys = [KeyValue::Int(1), KeyValue::None, KeyValue::Str("1".into())];
    /// let plan = plan.with_keys(|i| Ok::<_, KeyError<()>>(keys[i].clone())).unwrap();
    /// assert_eq!(plan.lanes(), [Some(0), None, Some(0)]);
    /// ```
    pub fn with_keys<K, X, F>(self, mut key: F) -> Result<Self, KeyError<X>>
    where
        K: Into<KeyValue>,
        F: FnMut(usize) -> Result<K, KeyError<X>>,
    {
        let mut builder = PlanBuilder::with_capacity(0);
        let mut lanes = Vec::with_capacity(self.len());
        for index in 0..self.len() {
            let lane = key(index)?.into().into_lane_key(index)?;
            lanes.push(builder.lane(lane.as_deref()));
        }
        Ok(BatchPlan {
            source: self.source,
            identifiers: self.identifiers,
            lane_count: builder.lane_ids.len(),
            lanes,
        })
    }

    /// A plan for typed records (see [`BatchRecord`]).
    ///
    /// ```
    /// use lanepool::event::{BatchPlan, BatchRecord, LaneOrdering};
    /// use std::borrow::Cow;
    /// struct Job(&'static str, Option<&'static str>);
    /// impl BatchRecord for Job {
    ///     fn item_identifier(&self) -> Option<Cow<'_, str>> { Some(self.0.into()) }
    ///     fn lane_key(&self) -> Option<Cow<'_, str>> { self.1.map(Cow::from) }
    /// }
    /// let plan = BatchPlan::from_records(&[Job("a", Some("k")), Job("b", None)], LaneOrdering::Auto).unwrap();
    /// assert_eq!(plan.lanes(), [Some(0), None]);
    /// ```
    pub fn from_records<R: BatchRecord>(
        records: &[R],
        ordering: LaneOrdering,
    ) -> Result<Self, EventError> {
        let mut builder = PlanBuilder::with_capacity(records.len());
        let source = records.first().and_then(BatchRecord::source);
        for (index, record) in records.iter().enumerate() {
            let id = record
                .item_identifier()
                .ok_or_else(|| EventError::at_field(index, record.identifier_field(), "missing"))?;
            if id.is_empty() {
                return Err(EventError::at_field(
                    index,
                    record.identifier_field(),
                    "empty",
                ));
            }
            let lane = record.lane_key_for(ordering);
            builder.push(id.into_owned(), lane.as_deref());
        }
        Ok(builder.finish(source))
    }

    /// A plan for a plain list of `n` jobs (the coordinator's fan-out): job `i`'s
    /// identifier is `i` as a decimal string (`"0"`, `"1"`, ...), no source, and no lanes:
    /// every job runs freely. Give jobs lanes with [`BatchPlan::with_keys`] or
    /// [`BatchPlan::jobs_keyed`] (one lane per key, a failure skipping the rest of its lane,
    /// as in a batch).
    ///
    /// ```
    /// use lanepool::event::{BatchPlan, KeyError, KeyValue};
    /// let plan = BatchPlan::jobs(3);
    /// assert_eq!(plan.identifiers(), ["0", "1", "2"]);
    /// assert_eq!(plan.lanes(), [None, None, None]);
    /// let keys = ["a", "b", "a"];
    /// let plan = plan.with_keys(|i| Ok::<_, KeyError<()>>(keys[i])).unwrap();
    /// assert_eq!(plan.lanes(), [Some(0), Some(1), Some(0)]);
    /// ```
    pub fn jobs(n: usize) -> Self {
        let mut builder = PlanBuilder::with_capacity(n);
        for index in 0..n {
            builder.push(index.to_string(), None);
        }
        builder.finish(None)
    }

    /// A plan for a plain list of jobs, one key per job by the one key rule
    /// ([`KeyValue::into_lane_key`]: a string, an integer as its decimal string, none for
    /// no lane; anything else is an [`EventError`] at the job's index, field `group_key`).
    /// Identifiers as in [`BatchPlan::jobs`].
    ///
    /// ```
    /// use lanepool::event::{BatchPlan, KeyValue};
    /// let plan = BatchPlan::jobs_keyed([KeyValue::Int(7), KeyValue::None, "7".into()]).unwrap();
    /// assert_eq!(plan.lanes(), [Some(0), None, Some(0)]);
    /// let err = BatchPlan::jobs_keyed([KeyValue::Float(0.5)]).unwrap_err();
    /// assert_eq!((err.index(), err.field()), (Some(0), Some("group_key")));
    /// ```
    pub fn jobs_keyed<K: Into<KeyValue>>(
        keys: impl IntoIterator<Item = K>,
    ) -> Result<Self, EventError> {
        let keys = keys.into_iter();
        let mut builder = PlanBuilder::with_capacity(keys.size_hint().0);
        for (index, key) in keys.enumerate() {
            let lane = key.into().into_lane_key(index)?;
            builder.push(index.to_string(), lane.as_deref());
        }
        Ok(builder.finish(None))
    }

    /// A plan from identifiers and lane keys already read (`None`: unkeyed).
    ///
    /// ```
    /// use lanepool::event::BatchPlan;
    /// let plan = BatchPlan::from_parts(None, vec![("a".into(), Some("x".into())), ("b".into(), None)]);
    /// assert_eq!(plan.lane_count(), 1);
    /// ```
    pub fn from_parts(
        source: Option<Source>,
        records: impl IntoIterator<Item = (String, Option<String>)>,
    ) -> Self {
        let records = records.into_iter();
        let mut builder = PlanBuilder::with_capacity(records.size_hint().0);
        for (id, lane) in records {
            builder.push(id, lane.as_deref());
        }
        builder.finish(source)
    }

    fn decode_event<V: JsonView>(
        event: &V,
        ordering: LaneOrdering,
        read: bool,
    ) -> Result<Self, EventError> {
        // Room for every record of `Records` at once (a Kafka event's groups grow it).
        let records = event.member("Records").and_then(|r| r.array_len());
        let mut builder = PlanBuilder::with_capacity(records.unwrap_or(0));
        let source = each_record(event, |index, source, record, group| {
            if let Some(group) = group {
                return kafka::read_with(&record, index, Some(group), ordering, |id, lane| {
                    let lane = builder.lane(lane.of(&id));
                    builder.push_id(id, lane);
                });
            }
            let id = if read {
                source.identifier(&record, index)?
            } else {
                source.check_identifier(&record, index)?;
                String::new()
            };
            match ordering {
                LaneOrdering::Auto | LaneOrdering::Key => {
                    source.with_lane_key(&record, index, |lane| {
                        let lane = builder.numbered_lane(lane);
                        builder.push_id(id, lane);
                    })
                }
                LaneOrdering::Unordered => {
                    builder.push(id, None);
                    Ok(())
                }
            }
        })?;
        let mut plan = builder.finish(source);
        if !read && !source.is_some_and(Source::is_kafka) {
            plan.identifiers = Identifiers::unread(plan.len());
        }
        Ok(plan)
    }

    /// A plan whose identifiers were checked, not read (one empty identifier per lane entry).
    pub(super) fn checked(
        source: Option<Source>,
        lanes: Vec<Option<LaneId>>,
        lane_count: usize,
    ) -> Self {
        BatchPlan {
            source,
            identifiers: Identifiers::unread(lanes.len()),
            lanes,
            lane_count,
        }
    }

    /// A plan with identifiers a short path kept (one per lane entry).
    pub(super) fn read(
        source: Option<Source>,
        identifiers: Identifiers,
        lanes: Vec<Option<LaneId>>,
        lane_count: usize,
    ) -> Self {
        debug_assert_eq!(identifiers.len(), lanes.len());
        BatchPlan {
            source,
            identifiers,
            lanes,
            lane_count,
        }
    }

    /// The records of an event, in event order (`Records`, or a Kafka event's `records`
    /// groups one after another): the values to hand to handlers, by a plan's index.
    ///
    /// ```
    /// use lanepool::event::BatchPlan;
    /// let event = serde_json::json!({"eventSource": "aws:kafka", "records": {
    ///     "t-0": [{"topic": "t", "partition": 0, "offset": 1}],
    ///     "t-1": [{"topic": "t", "partition": 1, "offset": 9}],
    /// }});
    /// let records = BatchPlan::records(&&event).unwrap();
    /// assert_eq!(records[1]["offset"], 9);
    /// ```
    pub fn records<V: JsonView>(event: &V) -> Result<Vec<V>, EventError> {
        let mut records = Vec::new();
        each_record(event, |_, _, record, _| {
            records.push(record);
            Ok(())
        })?;
        Ok(records)
    }

    /// The batch's source (`None` for an empty `Records` batch or typed records without one;
    /// a Kafka event's source even when `records` is empty).
    pub fn source(&self) -> Option<Source> {
        self.source
    }

    /// Records in the batch.
    pub fn len(&self) -> usize {
        self.identifiers.len()
    }

    /// Whether the batch has no records.
    pub fn is_empty(&self) -> bool {
        self.lanes.is_empty()
    }

    /// Every record's identifier, in event order.
    pub fn identifiers(&self) -> &[String] {
        self.identifiers.as_slice()
    }

    /// Every record's lane (`None`: unkeyed), in event order.
    pub fn lanes(&self) -> &[Option<LaneId>] {
        &self.lanes
    }

    /// Distinct lanes in the batch.
    pub fn lane_count(&self) -> usize {
        self.lane_count
    }

    /// A scheduler for this batch.
    pub fn scheduler<E>(&self, config: SchedulerConfig) -> LaneScheduler<E> {
        LaneScheduler::new(self.lanes.clone(), config)
    }

    /// Whether the identifiers were checked but not read ([`BatchPlan::decode_checked`]).
    pub fn identifiers_unread(&self) -> bool {
        self.identifiers.unread_by_face()
    }

    /// Splits the plan into its identifiers (for the report) and source.
    pub fn into_identifiers(self) -> Vec<String> {
        self.identifiers.into_vec()
    }

    /// Splits the plan into its identifiers and its lanes (for a scheduler, without a copy).
    pub(crate) fn into_parts(self) -> (Identifiers, Vec<Option<LaneId>>) {
        (self.identifiers, self.lanes)
    }
}

/// Calls `each(index, source, record, group)` for every record in event order, after
/// checking the event's shape and each record's source: `Records` (SQS, Kinesis, DynamoDB;
/// `group` is `None`) or a Kafka event's `records` groups (`group` is the group's key, and
/// the group is named in every error from `each`). Returns the batch's source.
///
/// ```
/// let event = serde_json::json!({"Records": []});
/// assert_eq!(lanepool::event::BatchPlan::decode(&event, Default::default()).unwrap().len(), 0);
/// ```
fn each_record<V, F>(event: &V, mut each: F) -> Result<Option<Source>, EventError>
where
    V: JsonView,
    F: FnMut(usize, Source, V, Option<&str>) -> Result<(), EventError>,
{
    if event.kind() != JsonKind::Object {
        return Err(EventError::event(
            None,
            format!("expected an object, got {}", event.type_name()),
        ));
    }
    let Some(records) = event.member("Records") else {
        let source = kafka::event_source(event)
            .ok_or_else(|| EventError::event(Some("Records"), "missing"))?;
        kafka::each_record(event, |index, record, group| {
            each(index, source, record, Some(group))
        })?;
        return Ok(Some(source));
    };
    if records.kind() != JsonKind::Array {
        return Err(EventError::event(
            Some("Records"),
            format!("expected an array, got {}", records.type_name()),
        ));
    }
    let mut batch_source: Option<Source> = None;
    // The number of record 0's `eventSource` text, when the view numbers texts: a record
    // whose text has that number has that text (see [`JsonView::text_number`]).
    let mut source_number: Option<usize> = None;
    for index in 0..records.array_len().unwrap_or(0) {
        let record = records
            .item(index)
            .ok_or_else(|| EventError::record(index, "missing"))?;
        if record.kind() != JsonKind::Object {
            return Err(EventError::record(
                index,
                format!("expected an object, got {}", record.type_name()),
            ));
        }
        let source = match (batch_source, source_number) {
            (Some(first), Some(number))
                if lookup(&record, "eventSource").and_then(|v| v.text_number()) == Some(number) =>
            {
                first
            }
            _ => {
                let source = source_of(&record, index, batch_source)?;
                if batch_source.is_none() {
                    batch_source = Some(source);
                    source_number = lookup(&record, "eventSource").and_then(|v| v.text_number());
                }
                source
            }
        };
        each(index, source, record, None)?;
    }
    Ok(batch_source)
}

fn source_of<V: JsonView>(
    record: &V,
    index: usize,
    batch_source: Option<Source>,
) -> Result<Source, EventError> {
    const FIELD: &str = "eventSource";
    let value =
        lookup(record, FIELD).ok_or_else(|| EventError::at_field(index, FIELD, "missing"))?;
    let text = value.text().ok_or_else(|| {
        EventError::at_field(
            index,
            FIELD,
            format!("expected a string, got {}", value.type_name()),
        )
    })?;
    let parsed = Source::parse(&text);
    if parsed.is_some_and(Source::is_kafka) {
        return Err(EventError::at_field(
            index,
            FIELD,
            format!(
                "{:?} is a Kafka event's own source: a Kafka event has eventSource and records \
                 (not Records) at the top",
                text.as_ref()
            ),
        ));
    }
    let source = parsed.ok_or_else(|| {
        EventError::at_field(
            index,
            FIELD,
            format!(
                "unknown source {:?} (expected aws:sqs, aws:kinesis or aws:dynamodb)",
                text.as_ref()
            ),
        )
    })?;
    match batch_source {
        Some(first) if first != source => Err(EventError::at_field(
            index,
            FIELD,
            format!(
                "{:?} differs from record 0's {:?} (mixed sources)",
                source.as_str(),
                first.as_str()
            ),
        )),
        _ => Ok(source),
    }
}

struct PlanBuilder {
    identifiers: Vec<String>,
    lanes: Vec<Option<LaneId>>,
    lane_ids: HashMap<String, LaneId>,
    /// Lanes by the view's text number ([`JsonView::text_number`]), when it numbers texts.
    numbered: Vec<Option<LaneId>>,
}

impl PlanBuilder {
    fn with_capacity(n: usize) -> Self {
        PlanBuilder {
            identifiers: Vec::with_capacity(n),
            lanes: Vec::with_capacity(n),
            lane_ids: HashMap::new(),
            numbered: Vec::new(),
        }
    }

    fn push(&mut self, id: String, lane: Option<&str>) {
        let lane = self.lane(lane);
        self.push_id(id, lane);
    }

    /// The lane of key `key` (a new one for a key not seen before).
    fn lane(&mut self, key: Option<&str>) -> Option<LaneId> {
        key.map(|key| match self.lane_ids.get(key) {
            Some(&lane) => lane,
            None => {
                let next = self.lane_ids.len() as LaneId;
                self.lane_ids.insert(key.to_owned(), next);
                next
            }
        })
    }

    /// [`PlanBuilder::lane`] of a key the view may have numbered: a number seen before is
    /// its lane at once; otherwise the text decides, and the number remembers it.
    fn numbered_lane(&mut self, key: Option<(&str, Option<usize>)>) -> Option<LaneId> {
        let (text, number) = key?;
        let Some(n) = number else {
            return self.lane(Some(text));
        };
        if let Some(&Some(lane)) = self.numbered.get(n) {
            return Some(lane);
        }
        let lane = self.lane(Some(text))?;
        if self.numbered.len() <= n {
            self.numbered.resize(n + 1, None);
        }
        self.numbered[n] = Some(lane);
        Some(lane)
    }

    fn push_id(&mut self, id: String, lane: Option<LaneId>) {
        self.identifiers.push(id);
        self.lanes.push(lane);
    }

    fn finish(self, source: Option<Source>) -> BatchPlan {
        BatchPlan {
            source,
            lane_count: self.lane_ids.len(),
            identifiers: self.identifiers.into(),
            lanes: self.lanes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn sqs(ids: &[&str]) -> Value {
        let records: Vec<Value> = ids
            .iter()
            .map(|id| json!({"eventSource": "aws:sqs", "messageId": id, "body": id}))
            .collect();
        json!({ "Records": records })
    }

    #[test]
    fn an_event_error_wins_over_any_key_and_no_key_function_runs() {
        let mut event = sqs(&["a", "b", "c"]);
        event["Records"][2]
            .as_object_mut()
            .unwrap()
            .remove("messageId");
        let mut called = 0;
        let err = BatchPlan::decode_with_keys(&event, |_, _| {
            called += 1;
            Err::<KeyValue, _>("raised")
        })
        .unwrap_err();
        match err {
            KeyError::Event(e) => assert_eq!((e.index(), e.field()), (Some(2), Some("messageId"))),
            other => panic!("{other:?}"),
        }
        assert_eq!(called, 0);
    }

    #[test]
    fn the_first_key_error_in_event_order_stops_decoding() {
        let event = sqs(&["a", "b", "c", "d"]);
        let mut called = Vec::new();
        let err = BatchPlan::decode_with_keys(&event, |i, _| {
            called.push(i);
            Ok::<_, ()>(
                [
                    KeyValue::Int(1),
                    KeyValue::Float(0.5),
                    KeyValue::Invalid("x".into()),
                ][i.min(2)]
                .clone(),
            )
        })
        .unwrap_err();
        match err {
            KeyError::Event(e) => assert_eq!((e.index(), e.field()), (Some(1), Some("group_key"))),
            other => panic!("{other:?}"),
        }
        assert_eq!(called, [0, 1]);
    }

    #[test]
    fn a_raising_key_function_is_handed_back_unchanged_with_its_index() {
        let event = sqs(&["a", "b", "c"]);
        let mut called = Vec::new();
        let err = BatchPlan::decode_with_keys(&event, |i, _| {
            called.push(i);
            if i == 1 {
                Err("lookup failed")
            } else {
                Ok(KeyValue::None)
            }
        })
        .unwrap_err();
        match err {
            KeyError::Key { index, error } => assert_eq!((index, error), (1, "lookup failed")),
            other => panic!("{other:?}"),
        }
        assert_eq!(called, [0, 1]);
    }

    #[test]
    fn keys_replace_source_lanes_and_the_function_sees_each_record_in_order() {
        let mut event = sqs(&["a", "b", "c", "d"]);
        event["Records"][0]["attributes"] = json!({"MessageGroupId": "g"});
        event["Records"][1]["attributes"] = json!({"MessageGroupId": 5});
        let mut seen = Vec::new();
        let plan = BatchPlan::decode_with_keys(&event, |i, r| {
            seen.push((i, r["messageId"].as_str().unwrap().to_owned()));
            Ok::<_, ()>(match i {
                0 => KeyValue::Int(7),
                1 => KeyValue::None,
                2 => KeyValue::Str("7".into()),
                _ => KeyValue::Float(8.0),
            })
        })
        .unwrap();
        // A numeric MessageGroupId is not read (the custom key replaces it).
        assert_eq!(plan.lanes(), [Some(0), None, Some(0), Some(1)]);
        assert_eq!(plan.lane_count(), 2);
        assert_eq!(plan.identifiers(), ["a", "b", "c", "d"]);
        assert_eq!(plan.source(), Some(Source::Sqs));
        let order: Vec<usize> = seen.iter().map(|s| s.0).collect();
        assert_eq!(order, [0, 1, 2, 3]);
        assert_eq!(seen[3].1, "d");
    }

    #[test]
    fn with_keys_keeps_identifiers_and_source() {
        let plan = BatchPlan::decode(&sqs(&["a", "b"]), LaneOrdering::Unordered).unwrap();
        let plan = plan
            .with_keys(|i| Ok::<_, KeyError<()>>(["x", "x"][i]))
            .unwrap();
        assert_eq!(plan.lanes(), [Some(0), Some(0)]);
        assert_eq!(
            (plan.source(), plan.identifiers()),
            (Some(Source::Sqs), &["a".to_string(), "b".to_string()][..])
        );
        let err = BatchPlan::from_parts(None, [("a".into(), None)])
            .with_keys(|_| Ok::<_, KeyError<()>>(KeyValue::Invalid("list".into())))
            .unwrap_err();
        assert!(matches!(err, KeyError::Event(e) if e.problem().ends_with("got list")));
    }

    #[test]
    fn a_kafka_source_inside_records_is_named_for_what_it_is() {
        let event = json!({"Records": [{"eventSource": "aws:kafka", "topic": "t", "partition": 0, "offset": 1}]});
        let err = BatchPlan::decode(&event, LaneOrdering::Auto).unwrap_err();
        assert_eq!((err.index(), err.field()), (Some(0), Some("eventSource")));
        assert!(err.problem().contains("Kafka event's own source"), "{err}");
    }

    #[test]
    fn kafka_records_come_in_event_order_and_an_empty_event_keeps_its_source() {
        let event = json!({"eventSource": "SelfManagedKafka", "records": {
            "b-1": [{"topic": "b", "partition": 1, "offset": 5}, {"topic": "b", "partition": 1, "offset": 6}],
            "a-0": [{"topic": "a", "partition": 0, "offset": 9}],
        }});
        let plan = BatchPlan::decode(&event, LaneOrdering::Auto).unwrap();
        assert_eq!(plan.identifiers(), ["b-1@5", "b-1@6", "a-0@9"]);
        assert_eq!(plan.lanes(), [Some(0), Some(0), Some(1)]);
        assert_eq!(plan.source(), Some(Source::SelfManagedKafka));
        let records = BatchPlan::records(&&event).unwrap();
        assert_eq!(records[2]["offset"], 9);
        let empty = json!({"eventSource": "aws:kafka", "records": {}});
        let plan = BatchPlan::decode(&empty, LaneOrdering::Auto).unwrap();
        assert_eq!((plan.len(), plan.source()), (0, Some(Source::Kafka)));
    }

    #[test]
    fn an_empty_event_calls_no_key_function() {
        let plan = BatchPlan::decode_with_keys(&sqs(&[]), |_, _| -> Result<KeyValue, ()> {
            panic!("no records")
        })
        .unwrap();
        assert!(plan.is_empty());
    }
}
