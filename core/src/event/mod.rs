//! Decoding a batch event: which source, each record's identifier and lane key.
//!
//! Decoding reads only what the semantics need. Payloads are never copied: the faces keep
//! the caller's own record objects and hand those to handlers. Each face reads fields through
//! its own FFI by implementing the small [`JsonView`] trait (a `PyDict` lookup, a napi
//! property get, a `serde_json::Value`); the rules (which field, which source, what is
//! malformed, the error text) live here, once.

mod error;
mod json;
mod key;
mod plan;
mod source;

#[cfg(feature = "aws")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
pub mod aws;

pub use error::EventError;
pub use key::{KeyValue, GROUP_KEY_FIELD, MAX_SAFE_INTEGER};
pub use plan::{BatchPlan, KeyError, LaneOrdering};
pub use source::{BatchRecord, Source};

use std::borrow::Cow;

/// The kinds of value a [`JsonView`] can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonKind {
    /// `null` / `None` / `undefined`.
    Null,
    /// A boolean.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array / list.
    Array,
    /// An object / dict / map.
    Object,
    /// Anything else a host language has (a Python set, a JS function, ...).
    Other,
}

impl JsonKind {
    /// The name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            JsonKind::Null => "null",
            JsonKind::Bool => "boolean",
            JsonKind::Number => "number",
            JsonKind::String => "string",
            JsonKind::Array => "array",
            JsonKind::Object => "object",
            JsonKind::Other => "non-JSON value",
        }
    }
}

/// Read access to a JSON-like value, implemented by each face over its own objects.
///
/// Only the few fields the rules need are ever read.
///
/// ```
/// use lanepool::event::{JsonKind, JsonView};
/// let v = &serde_json::json!({"Records": [1, 2]});
/// assert_eq!(v.kind(), JsonKind::Object);
/// assert_eq!(v.member("Records").unwrap().array_len(), Some(2));
/// ```
pub trait JsonView: Sized {
    /// What kind of value this is.
    fn kind(&self) -> JsonKind;
    /// The name of the value's type for error messages (defaults to the JSON kind's name).
    fn type_name(&self) -> Cow<'static, str> {
        Cow::Borrowed(self.kind().name())
    }
    /// The member `key` of an object (`None` when absent or when this is not an object).
    fn member(&self, key: &str) -> Option<Self>;
    /// The length of an array (`None` when this is not an array).
    fn array_len(&self) -> Option<usize>;
    /// Item `index` of an array.
    fn item(&self, index: usize) -> Option<Self>;
    /// The text of a string (`None` when this is not a string).
    fn text(&self) -> Option<Cow<'_, str>>;
    /// The members of an object (`None` when this is not an object). Only used for the
    /// small `dynamodb.Keys` map.
    fn members(&self) -> Option<Vec<(String, Self)>>;
}
