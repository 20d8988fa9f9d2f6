//! [`EventError`]: a malformed event, named by record index and field.

use std::fmt;

/// A malformed event: what is wrong and where. Raised before any handler runs.
///
/// ```
/// use lanepool::event::EventError;
/// let e = EventError::at_field(3, "messageId", "missing");
/// assert_eq!(e.to_string(), "record 3: field `messageId`: missing");
/// assert_eq!((e.index(), e.field()), (Some(3), Some("messageId")));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventError {
    index: Option<usize>,
    field: Option<String>,
    group: Option<String>,
    problem: String,
}

impl std::error::Error for EventError {}

impl EventError {
    /// A problem with the event as a whole (`field` is `None` for the event itself).
    pub fn event(field: Option<&str>, problem: impl Into<String>) -> Self {
        EventError {
            index: None,
            field: field.map(str::to_owned),
            group: None,
            problem: problem.into(),
        }
    }

    /// A problem with record `index` itself (not an object).
    pub fn record(index: usize, problem: impl Into<String>) -> Self {
        EventError {
            index: Some(index),
            field: None,
            group: None,
            problem: problem.into(),
        }
    }

    /// A problem with field `field` (a dotted path) of record `index`.
    pub fn at_field(index: usize, field: &str, problem: impl Into<String>) -> Self {
        EventError {
            index: Some(index),
            field: Some(field.to_owned()),
            group: None,
            problem: problem.into(),
        }
    }

    /// The same problem, placed in the group `group` of a grouped event (a Kafka event's
    /// `records` key, `"<topic>-<partition>"`).
    ///
    /// ```
    /// use lanepool::event::EventError;
    /// let e = EventError::at_field(3, "offset", "missing").in_group("orders-0");
    /// assert_eq!(e.to_string(), r#"record 3 (records["orders-0"]): field `offset`: missing"#);
    /// assert_eq!(e.group(), Some("orders-0"));
    /// ```
    pub fn in_group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// The record's index in `Records`, when the problem is in a record.
    pub fn index(&self) -> Option<usize> {
        self.index
    }

    /// The field's dotted path (relative to the record, or `Records` at event level).
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The group of a grouped event the problem is in (a Kafka event's `records` key).
    pub fn group(&self) -> Option<&str> {
        self.group.as_deref()
    }

    /// What is wrong, without the location.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "record {i}")?,
            None => f.write_str("event")?,
        }
        if let Some(group) = &self.group {
            write!(f, " (records[{}])", serde_json::Value::from(group.as_str()))?;
        }
        match &self.field {
            Some(field) => write!(f, ": field `{field}`: {}", self.problem),
            None => write!(f, ": {}", self.problem),
        }
    }
}
