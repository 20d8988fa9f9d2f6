//! [`BatchRecord`] for the `aws_lambda_events` record types (feature `aws`).
//!
//! # The typed-record rule
//!
//! A typed record's Rust type names its source: an `SqsMessage` is an SQS record whatever
//! its `event_source` field says. So a typed record's `eventSource` is neither required nor
//! read (a record deserialized without it, or built by hand, is accepted; one that names
//! another source is still read as its type's), and the response and summary take the
//! source from the type ([`BatchRecord::source`]). What a typed record must have is its
//! identifier, as untyped records must: an `SqsMessage` without `message_id`, or with an
//! empty one, is an [`EventError`](super::EventError) naming the record's index and field
//! `messageId` (Kinesis `kinesis.sequenceNumber`, DynamoDB `dynamodb.SequenceNumber`), before
//! any handler runs. Untyped events (`serde_json::Value`, and the Python and Node faces) have
//! no type to name the source, so there every record's `eventSource` is required.
//!
//! ```
//! use aws_lambda_events::event::sqs::SqsMessage;
//! use lanepool::event::{BatchPlan, LaneOrdering, Source};
//! let record = serde_json::json!({"messageId": "m1", "body": "hello"}); // no eventSource
//! let typed: SqsMessage = serde_json::from_value(record.clone()).unwrap();
//! let plan = BatchPlan::from_records(&[typed], LaneOrdering::Auto).unwrap();
//! assert_eq!((plan.identifiers(), plan.source()), (&["m1".to_string()][..], Some(Source::Sqs)));
//! // The same JSON as an untyped event: eventSource is required.
//! let err = BatchPlan::decode(&serde_json::json!({"Records": [record]}), LaneOrdering::Auto).unwrap_err();
//! assert_eq!((err.index(), err.field()), (Some(0), Some("eventSource")));
//! // A typed record without its identifier is an error at its index.
//! let err = BatchPlan::from_records(&[SqsMessage::default()], LaneOrdering::Auto).unwrap_err();
//! assert_eq!((err.index(), err.field()), (Some(0), Some("messageId")));
//! ```
//!
//! ```
//! use aws_lambda_events::event::sqs::SqsMessage;
//! use lanepool::event::BatchRecord;
//! let mut message = SqsMessage::default();
//! message.message_id = Some("m1".into());
//! message.attributes.insert("MessageGroupId".into(), "g1".into());
//! assert_eq!(message.lane_key().as_deref(), Some("g1"));
//! ```

use std::borrow::Cow;

use aws_lambda_events::event::dynamodb::EventRecord as DynamoDbRecord;
use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use aws_lambda_events::event::kinesis::KinesisEventRecord;
use aws_lambda_events::event::sqs::SqsMessage;

use super::{BatchRecord, LaneOrdering, Source};

impl BatchRecord for SqsMessage {
    fn item_identifier(&self) -> Option<Cow<'_, str>> {
        self.message_id.as_deref().map(Cow::Borrowed)
    }
    fn lane_key(&self) -> Option<Cow<'_, str>> {
        self.attributes
            .get("MessageGroupId")
            .map(|g| Cow::Borrowed(g.as_str()))
    }
    fn identifier_field(&self) -> &'static str {
        Source::Sqs.identifier_field()
    }
    /// The type's source (see the typed-record rule): `event_source` is not read.
    fn source(&self) -> Option<Source> {
        Some(Source::Sqs)
    }
}

impl BatchRecord for KinesisEventRecord {
    fn item_identifier(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.kinesis.sequence_number))
    }
    fn lane_key(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.kinesis.partition_key))
    }
    fn identifier_field(&self) -> &'static str {
        Source::Kinesis.identifier_field()
    }
    /// The type's source (see the typed-record rule): `event_source` is not read.
    fn source(&self) -> Option<Source> {
        Some(Source::Kinesis)
    }
}

impl BatchRecord for DynamoDbRecord {
    fn item_identifier(&self) -> Option<Cow<'_, str>> {
        self.change.sequence_number.as_deref().map(Cow::Borrowed)
    }
    /// The same canonical form of `dynamodb.Keys` as untyped events get, so a typed and an
    /// untyped batch put the same records in the same lanes.
    fn lane_key(&self) -> Option<Cow<'_, str>> {
        let keys = serde_json::to_value(&self.change.keys).ok()?;
        let record = serde_json::json!({ "dynamodb": { "Keys": keys } });
        Source::DynamoDb
            .lane_key(&&record, 0)
            .ok()
            .flatten()
            .map(Cow::Owned)
    }
    fn identifier_field(&self) -> &'static str {
        Source::DynamoDb.identifier_field()
    }
    /// The type's source (see the typed-record rule): `event_source` is not read.
    fn source(&self) -> Option<Source> {
        Some(Source::DynamoDb)
    }
}

/// A Kafka record (Amazon MSK or self-managed): identifier `"<topic>-<partition>@<offset>"`
/// (the response writes it as `{"partition": "<topic>-<partition>", "offset": <offset>}`),
/// lane its topic-partition (ordering `Key`: and its `key`, as for untyped events). A record
/// without `topic` or with a negative offset or partition has no identifier.
///
/// ```
/// use aws_lambda_events::event::kafka::KafkaRecord;
/// use lanepool::event::BatchRecord;
/// let mut record = KafkaRecord::default();
/// record.topic = Some("orders".into());
/// record.partition = 0;
/// record.offset = 15;
/// assert_eq!(record.item_identifier().as_deref(), Some("orders-0@15"));
/// assert_eq!(record.lane_key().as_deref(), Some("orders-0"));
/// ```
impl BatchRecord for KafkaRecord {
    fn item_identifier(&self) -> Option<Cow<'_, str>> {
        let offset = u64::try_from(self.offset).ok()?;
        Some(Cow::Owned(format!("{}@{offset}", self.lane_key()?)))
    }
    fn lane_key(&self) -> Option<Cow<'_, str>> {
        let topic = self.topic.as_deref().filter(|t| !t.is_empty())?;
        let partition = u64::try_from(self.partition).ok()?;
        Some(Cow::Owned(format!("{topic}-{partition}")))
    }
    fn identifier_field(&self) -> &'static str {
        Source::Kafka.identifier_field()
    }
    fn source(&self) -> Option<Source> {
        Some(Source::Kafka)
    }
    fn lane_key_for(&self, ordering: LaneOrdering) -> Option<Cow<'_, str>> {
        let partition = self.lane_key()?;
        match ordering {
            LaneOrdering::Auto => Some(partition),
            LaneOrdering::Key => Some(Cow::Owned(super::kafka::key_lane_of(
                &partition,
                self.key.as_deref(),
            ))),
            LaneOrdering::Unordered => None,
        }
    }
}

/// References to the records of a typed Kafka event (no record is copied), in a stable order: by topic-partition, then each
/// partition's own order. `KafkaEvent` keeps `records` in a `HashMap`, which has lost the
/// event's group order (decode the event as a `serde_json::Value` to keep it); the order
/// within a partition, the one lanes keep, is the event's.
///
/// ```
/// use aws_lambda_events::event::kafka::KafkaEvent;
/// use lanepool::event::{aws::kafka_records, BatchPlan, LaneOrdering};
/// let event: KafkaEvent = serde_json::from_value(serde_json::json!({
///     "eventSource": "aws:kafka",
///     "records": {"orders-1": [
///         {"topic": "orders", "partition": 1, "offset": 7, "timestamp": 0, "key": null, "value": null, "headers": []}
///     ]}
/// })).unwrap();
/// let records = kafka_records(&event);
/// let plan = BatchPlan::from_records(&records, LaneOrdering::Auto).unwrap();
/// assert_eq!(plan.identifiers(), ["orders-1@7"]);
/// assert_eq!(plan.source(), Some(lanepool::event::Source::Kafka));
/// ```
///
/// With ordering `Key`, records of one partition with different keys are different lanes:
///
/// ```
/// use aws_lambda_events::event::kafka::KafkaRecord;
/// use lanepool::event::{BatchPlan, LaneOrdering};
/// let record = |offset, key: Option<&str>| {
///     let mut r = KafkaRecord::default();
///     (r.topic, r.partition, r.offset, r.key) = (Some("orders".into()), 0, offset, key.map(Into::into));
///     r
/// };
/// let records = [record(1, Some("dXNlci0x")), record(2, None), record(3, Some("dXNlci0x")), record(4, None)];
/// let plan = BatchPlan::from_records(&records, LaneOrdering::Key).unwrap();
/// assert_eq!(plan.lanes(), [Some(0), Some(1), Some(0), Some(1)]);
/// let plan = BatchPlan::from_records(&records, LaneOrdering::Auto).unwrap();
/// assert_eq!(plan.lane_count(), 1);
/// ```
pub fn kafka_records(event: &KafkaEvent) -> Vec<&KafkaRecord> {
    let mut groups: Vec<(&String, &Vec<KafkaRecord>)> = event.records.iter().collect();
    groups.sort_by(|a, b| a.0.cmp(b.0));
    groups
        .into_iter()
        .flat_map(|(_, records)| records.iter())
        .collect()
}
