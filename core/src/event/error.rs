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
    problem: String,
}

impl std::error::Error for EventError {}

impl EventError {
    /// A problem with the event as a whole (`field` is `None` for the event itself).
    pub fn event(field: Option<&str>, problem: impl Into<String>) -> Self {
        EventError {
            index: None,
            field: field.map(str::to_owned),
            problem: problem.into(),
        }
    }

    /// A problem with record `index` itself (not an object).
    pub fn record(index: usize, problem: impl Into<String>) -> Self {
        EventError {
            index: Some(index),
            field: None,
            problem: problem.into(),
        }
    }

    /// A problem with field `field` (a dotted path) of record `index`.
    pub fn at_field(index: usize, field: &str, problem: impl Into<String>) -> Self {
        EventError {
            index: Some(index),
            field: Some(field.to_owned()),
            problem: problem.into(),
        }
    }

    /// The record's index in `Records`, when the problem is in a record.
    pub fn index(&self) -> Option<usize> {
        self.index
    }

    /// The field's dotted path (relative to the record, or `Records` at event level).
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// What is wrong, without the location.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.index, &self.field) {
            (Some(i), Some(field)) => write!(f, "record {i}: field `{field}`: {}", self.problem),
            (Some(i), None) => write!(f, "record {i}: {}", self.problem),
            (None, Some(field)) => write!(f, "event: field `{field}`: {}", self.problem),
            (None, None) => write!(f, "event: {}", self.problem),
        }
    }
}
