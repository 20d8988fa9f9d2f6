//! [`BatchPlan`]: what the scheduler and the report need of a batch, and nothing more.

use std::collections::HashMap;

use super::source::lookup;
use super::{BatchRecord, EventError, JsonKind, JsonView, Source};
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
}

/// A failure while decoding with a caller's key function.
#[derive(Debug, thiserror::Error)]
pub enum KeyError<X> {
    /// The event is malformed.
    #[error(transparent)]
    Event(#[from] EventError),
    /// The key function failed for record `index`.
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
    identifiers: Vec<String>,
    lanes: Vec<Option<LaneId>>,
    lane_count: usize,
}

impl BatchPlan {
    /// Decodes a Lambda event (`{"Records": [...]}`) with lanes by `ordering`.
    pub fn decode<V: JsonView>(event: V, ordering: LaneOrdering) -> Result<Self, EventError> {
        let decoded =
            Self::decode_inner::<V, std::convert::Infallible, _>(event, |source, index, record| {
                match ordering {
                    LaneOrdering::Auto => source.lane_key(record, index).map_err(KeyError::Event),
                    LaneOrdering::Unordered => Ok(None),
                }
            });
        decoded.map_err(|e| match e {
            KeyError::Event(e) => e,
            KeyError::Key { error, .. } => match error {},
        })
    }

    /// Decodes a Lambda event with lanes given by a caller's key function (`None`: unkeyed).
    /// The function runs once per record, in order, after that record's source and identifier
    /// were checked; decoding stops at the first error.
    ///
    /// ```
    /// use lanepool::event::BatchPlan;
    /// let event = serde_json::json!({"Records": [
    ///     {"eventSource": "aws:sqs", "messageId": "a", "body": "t1"},
    ///     {"eventSource": "aws:sqs", "messageId": "b", "body": "t1"},
    /// ]});
    /// let plan = BatchPlan::decode_with_keys(&event, |_, r| {
    ///     Ok::<_, ()>(r["body"].as_str().map(str::to_owned))
    /// }).unwrap();
    /// assert_eq!(plan.lanes(), [Some(0), Some(0)]);
    /// ```
    pub fn decode_with_keys<V, X, F>(event: V, mut key: F) -> Result<Self, KeyError<X>>
    where
        V: JsonView,
        F: FnMut(usize, &V) -> Result<Option<String>, X>,
    {
        Self::decode_inner(event, |_, index, record| {
            key(index, record).map_err(|error| KeyError::Key { index, error })
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
            let lane = match ordering {
                LaneOrdering::Auto => record.lane_key(),
                LaneOrdering::Unordered => None,
            };
            builder.push(id.into_owned(), lane.as_deref());
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

    fn decode_inner<V, X, F>(event: V, mut lane_of: F) -> Result<Self, KeyError<X>>
    where
        V: JsonView,
        F: FnMut(Source, usize, &V) -> Result<Option<String>, KeyError<X>>,
    {
        let records = records_of(&event)?;
        let len = records.array_len().unwrap_or(0);
        let mut builder = PlanBuilder::with_capacity(len);
        let mut batch_source: Option<Source> = None;
        for index in 0..len {
            let record = records
                .item(index)
                .ok_or_else(|| EventError::record(index, "missing"))?;
            if record.kind() != JsonKind::Object {
                return Err(EventError::record(
                    index,
                    format!("expected an object, got {}", record.type_name()),
                )
                .into());
            }
            let source = source_of(&record, index, batch_source)?;
            batch_source.get_or_insert(source);
            let id = source.identifier(&record, index)?;
            let lane = lane_of(source, index, &record)?;
            builder.push(id, lane.as_deref());
        }
        Ok(builder.finish(batch_source))
    }

    /// The batch's source (`None` for an empty batch or typed records).
    pub fn source(&self) -> Option<Source> {
        self.source
    }

    /// Records in the batch.
    pub fn len(&self) -> usize {
        self.identifiers.len()
    }

    /// Whether the batch has no records.
    pub fn is_empty(&self) -> bool {
        self.identifiers.is_empty()
    }

    /// Every record's identifier, in event order.
    pub fn identifiers(&self) -> &[String] {
        &self.identifiers
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

    /// Splits the plan into its identifiers (for the report) and source.
    pub fn into_identifiers(self) -> Vec<String> {
        self.identifiers
    }
}

/// The `Records` array of an event.
///
/// ```
/// let event = serde_json::json!({"Records": []});
/// assert_eq!(lanepool::event::BatchPlan::decode(&event, Default::default()).unwrap().len(), 0);
/// ```
fn records_of<V: JsonView>(event: &V) -> Result<V, EventError> {
    if event.kind() != JsonKind::Object {
        return Err(EventError::event(
            None,
            format!("expected an object, got {}", event.type_name()),
        ));
    }
    let records = event
        .member("Records")
        .ok_or_else(|| EventError::event(Some("Records"), "missing"))?;
    if records.kind() != JsonKind::Array {
        return Err(EventError::event(
            Some("Records"),
            format!("expected an array, got {}", records.type_name()),
        ));
    }
    Ok(records)
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
    let source = Source::parse(&text).ok_or_else(|| {
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
}

impl PlanBuilder {
    fn with_capacity(n: usize) -> Self {
        PlanBuilder {
            identifiers: Vec::with_capacity(n),
            lanes: Vec::with_capacity(n),
            lane_ids: HashMap::new(),
        }
    }

    fn push(&mut self, id: String, lane: Option<&str>) {
        let lane = lane.map(|key| {
            let next = self.lane_ids.len() as LaneId;
            *self.lane_ids.entry(key.to_owned()).or_insert(next)
        });
        self.identifiers.push(id);
        self.lanes.push(lane);
    }

    fn finish(self, source: Option<Source>) -> BatchPlan {
        BatchPlan {
            source,
            lane_count: self.lane_ids.len(),
            identifiers: self.identifiers,
            lanes: self.lanes,
        }
    }
}
