//! [`BatchRecord`] for the `aws_lambda_events` record types (feature `aws`).
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
use aws_lambda_events::event::kinesis::KinesisEventRecord;
use aws_lambda_events::event::sqs::SqsMessage;

use super::{BatchRecord, Source};

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
}
