//! The per-source rules: where each source keeps a record's identifier and lane key.

use std::borrow::Cow;

use super::{EventError, JsonKind, JsonView, LaneOrdering};

/// An event source lanepool understands, read from each record's `eventSource` (Kafka: the
/// event's own `eventSource`, its records being grouped in `records`).
///
/// | source | identifier | lane (ordering `auto`) |
/// |---|---|---|
/// | `aws:sqs` | `messageId` | `attributes.MessageGroupId` (FIFO; absent: unkeyed) |
/// | `aws:kinesis` | `kinesis.sequenceNumber` | `kinesis.partitionKey` |
/// | `aws:dynamodb` | `dynamodb.SequenceNumber` | canonical `dynamodb.Keys` |
/// | `aws:kafka`, `SelfManagedKafka` (or `aws:SelfManagedKafka`) | `{"partition": "<topic>-<partition>", "offset": <offset>}` | `"<topic>-<partition>"` (ordering `key`: and the record's `key`) |
///
/// ```
/// use lanepool::event::Source;
/// assert_eq!(Source::parse("aws:kinesis"), Some(Source::Kinesis));
/// assert_eq!(Source::Sqs.identifier_field(), "messageId");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// Amazon SQS, standard or FIFO.
    Sqs,
    /// Amazon Kinesis Data Streams.
    Kinesis,
    /// Amazon DynamoDB Streams.
    DynamoDb,
    /// Amazon MSK (Managed Streaming for Apache Kafka): `eventSource` `aws:kafka`.
    Kafka,
    /// Self-managed Apache Kafka: `eventSource` `SelfManagedKafka` (`aws:SelfManagedKafka`
    /// is read as the same).
    SelfManagedKafka,
}

impl Source {
    /// The `eventSource` value of this source.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Sqs => "aws:sqs",
            Source::Kinesis => "aws:kinesis",
            Source::DynamoDb => "aws:dynamodb",
            Source::Kafka => "aws:kafka",
            Source::SelfManagedKafka => "SelfManagedKafka",
        }
    }

    /// Whether this is a Kafka source, whose events group records by topic-partition and
    /// whose identifiers are objects.
    pub fn is_kafka(self) -> bool {
        matches!(self, Source::Kafka | Source::SelfManagedKafka)
    }

    /// The source named by an `eventSource` value.
    pub fn parse(event_source: &str) -> Option<Source> {
        match event_source {
            "aws:sqs" => Some(Source::Sqs),
            "aws:kinesis" => Some(Source::Kinesis),
            "aws:dynamodb" => Some(Source::DynamoDb),
            "aws:kafka" => Some(Source::Kafka),
            "SelfManagedKafka" | "aws:SelfManagedKafka" => Some(Source::SelfManagedKafka),
            _ => None,
        }
    }

    /// Dotted path of the record's identifier (the `itemIdentifier` reported to Lambda; Kafka:
    /// `offset`, the identifier being built from `topic`, `partition` and `offset`).
    pub fn identifier_field(self) -> &'static str {
        match self {
            Source::Sqs => "messageId",
            Source::Kinesis => "kinesis.sequenceNumber",
            Source::DynamoDb => "dynamodb.SequenceNumber",
            Source::Kafka | Source::SelfManagedKafka => "offset",
        }
    }

    /// Dotted path of the record's lane key when ordering is `auto` (Kafka: `partition`, the
    /// lane being `"<topic>-<partition>"`).
    pub fn lane_field(self) -> &'static str {
        match self {
            Source::Sqs => "attributes.MessageGroupId",
            Source::Kinesis => "kinesis.partitionKey",
            Source::DynamoDb => "dynamodb.Keys",
            Source::Kafka | Source::SelfManagedKafka => "partition",
        }
    }

    /// Reads the identifier of record `index` (Kafka: its identifier text, see
    /// [`ItemIdentifier`](crate::batch::ItemIdentifier)).
    pub fn identifier<V: JsonView>(self, record: &V, index: usize) -> Result<String, EventError> {
        if self.is_kafka() {
            return super::kafka::read(record, index, None, LaneOrdering::Unordered).map(|r| r.0);
        }
        let field = self.identifier_field();
        let value =
            lookup(record, field).ok_or_else(|| EventError::at_field(index, field, "missing"))?;
        let text = required_text(&value, index, field)?;
        if text.is_empty() {
            return Err(EventError::at_field(index, field, "empty"));
        }
        Ok(text.into_owned())
    }

    /// Checks the identifier of record `index` as [`Source::identifier`] does (present, a
    /// string, not empty), without reading its text: for a face that keeps the text itself
    /// ([`BatchPlan::decode_checked`](super::BatchPlan::decode_checked)). Kafka identifiers
    /// are built from several fields, so for Kafka this reads it (and drops it).
    ///
    /// ```
    /// use lanepool::event::Source;
    /// let record = serde_json::json!({"messageId": ""});
    /// let err = Source::Sqs.check_identifier(&&record, 3).unwrap_err();
    /// assert_eq!(err.to_string(), "record 3: field `messageId`: empty");
    /// ```
    pub fn check_identifier<V: JsonView>(self, record: &V, index: usize) -> Result<(), EventError> {
        if self.is_kafka() {
            return self.identifier(record, index).map(drop);
        }
        let field = self.identifier_field();
        let value =
            lookup(record, field).ok_or_else(|| EventError::at_field(index, field, "missing"))?;
        match value.string_is_empty() {
            None => Err(not_a_string(&value, index, field)),
            Some(true) => Err(EventError::at_field(index, field, "empty")),
            Some(false) => Ok(()),
        }
    }

    /// Reads the lane key of record `index` for ordering `auto` (`None`: unkeyed).
    pub fn lane_key<V: JsonView>(
        self,
        record: &V,
        index: usize,
    ) -> Result<Option<String>, EventError> {
        self.with_lane_key(record, index, |key| key.map(|(text, _)| text.to_owned()))
    }

    /// [`Source::lane_key`] handed to `f` without a copy of its text (the decoder interns it),
    /// with the view's number for the text when it has one ([`JsonView::text_number`]).
    pub(crate) fn with_lane_key<V: JsonView, R>(
        self,
        record: &V,
        index: usize,
        f: impl FnOnce(Option<(&str, Option<usize>)>) -> R,
    ) -> Result<R, EventError> {
        let field = self.lane_field();
        let value = lookup(record, field);
        match self {
            Source::Sqs => match value {
                None => Ok(f(None)),
                Some(v) if v.kind() == JsonKind::Null => Ok(f(None)),
                Some(v) => required_text(&v, index, field).map(|t| f(Some((&t, v.text_number())))),
            },
            Source::Kinesis => {
                let v = value.ok_or_else(|| EventError::at_field(index, field, "missing"))?;
                required_text(&v, index, field).map(|t| f(Some((&t, v.text_number()))))
            }
            Source::DynamoDb => {
                let v = value.ok_or_else(|| EventError::at_field(index, field, "missing"))?;
                canonical_keys(&v, index).map(|k| f(Some((&k, None))))
            }
            Source::Kafka | Source::SelfManagedKafka => {
                super::kafka::read(record, index, None, LaneOrdering::Auto)
                    .map(|r| f(r.1.as_deref().map(|k| (k, None))))
            }
        }
    }
}

/// A typed record that knows its identifier and lane key (implemented for the
/// `aws_lambda_events` record types behind feature `aws`, and by any caller's own type).
///
/// ```
/// use lanepool::event::BatchRecord;
/// use std::borrow::Cow;
/// struct Job { id: String, tenant: Option<String> }
/// impl BatchRecord for Job {
///     fn item_identifier(&self) -> Option<Cow<'_, str>> { Some(Cow::Borrowed(&self.id)) }
///     fn lane_key(&self) -> Option<Cow<'_, str>> { self.tenant.as_deref().map(Cow::Borrowed) }
/// }
/// let job = Job { id: "j1".into(), tenant: None };
/// assert_eq!(job.item_identifier().as_deref(), Some("j1"));
/// ```
pub trait BatchRecord {
    /// The identifier reported when the record fails (`None`: malformed record).
    fn item_identifier(&self) -> Option<Cow<'_, str>>;
    /// The lane key for ordering `auto` (`None`: unkeyed, runs freely).
    fn lane_key(&self) -> Option<Cow<'_, str>>;
    /// The field named in the error when the identifier is missing.
    fn identifier_field(&self) -> &'static str {
        "itemIdentifier"
    }
    /// The record's source, when it has one: it decides how the response names the record
    /// (a Kafka record by an object). Default: `None`, identifiers are plain strings.
    fn source(&self) -> Option<Source> {
        None
    }
    /// The lane key for `ordering` (`None`: unkeyed). Default: [`BatchRecord::lane_key`] for
    /// `Auto` and `Key`, none for `Unordered`; a Kafka record's `Key` lane adds its key.
    fn lane_key_for(&self, ordering: LaneOrdering) -> Option<Cow<'_, str>> {
        match ordering {
            LaneOrdering::Auto | LaneOrdering::Key => self.lane_key(),
            LaneOrdering::Unordered => None,
        }
    }
}

/// A reference to a record is that record (so plans can be built over borrowed records).
impl<R: BatchRecord + ?Sized> BatchRecord for &R {
    fn item_identifier(&self) -> Option<Cow<'_, str>> {
        (**self).item_identifier()
    }
    fn lane_key(&self) -> Option<Cow<'_, str>> {
        (**self).lane_key()
    }
    fn identifier_field(&self) -> &'static str {
        (**self).identifier_field()
    }
    fn source(&self) -> Option<Source> {
        (**self).source()
    }
    fn lane_key_for(&self, ordering: LaneOrdering) -> Option<Cow<'_, str>> {
        (**self).lane_key_for(ordering)
    }
}

/// The value at a dotted path ([`JsonView::path`]); `None` when any step is absent or not an
/// object.
pub(crate) fn lookup<V: JsonView>(value: &V, path: &str) -> Option<V> {
    value.path(path)
}

/// Follows a dotted path member by member (the default [`JsonView::path`]).
pub(crate) fn follow<V: JsonView>(value: &V, path: &str) -> Option<V> {
    // Paths are a few bytes: a plain scan beats a searcher.
    match path.bytes().position(|b| b == b'.') {
        None => value.member(path),
        Some(dot) => follow(&value.member(&path[..dot])?, &path[dot + 1..]),
    }
}

fn required_text<'v, V: JsonView>(
    value: &'v V,
    index: usize,
    field: &str,
) -> Result<Cow<'v, str>, EventError> {
    value
        .text()
        .ok_or_else(|| not_a_string(value, index, field))
}

fn not_a_string<V: JsonView>(value: &V, index: usize, field: &str) -> EventError {
    EventError::at_field(
        index,
        field,
        format!("expected a string, got {}", value.type_name()),
    )
}

/// The canonical lane key of a DynamoDB `Keys` map: members sorted by name, each attribute
/// value a one-tag object with a string value, written as compact JSON.
fn canonical_keys<V: JsonView>(keys: &V, index: usize) -> Result<String, EventError> {
    const FIELD: &str = "dynamodb.Keys";
    let mut members = keys.members().ok_or_else(|| {
        EventError::at_field(
            index,
            FIELD,
            format!("expected an object, got {}", keys.type_name()),
        )
    })?;
    if members.is_empty() {
        return Err(EventError::at_field(index, FIELD, "empty"));
    }
    members.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::from("{");
    for (n, (name, value)) in members.iter().enumerate() {
        let tagged = value.members().filter(|m| m.len() == 1);
        let (tag, text) = match tagged.as_deref() {
            Some([(tag, v)]) => match v.text() {
                Some(text) => (tag.clone(), text.into_owned()),
                None => return Err(bad_attribute(index, name)),
            },
            _ => return Err(bad_attribute(index, name)),
        };
        if n > 0 {
            out.push(',');
        }
        push_json_string(&mut out, name);
        out.push_str(":{");
        push_json_string(&mut out, &tag);
        out.push(':');
        push_json_string(&mut out, &text);
        out.push('}');
    }
    out.push('}');
    Ok(out)
}

fn bad_attribute(index: usize, name: &str) -> EventError {
    EventError::at_field(
        index,
        "dynamodb.Keys",
        format!("attribute `{name}` is not a key attribute value like {{\"S\": \"...\"}}"),
    )
}

fn push_json_string(out: &mut String, text: &str) {
    out.push_str(&serde_json::Value::from(text).to_string());
}
