//! Decoding a batch event: which source, each record's identifier and lane key.
//!
//! Decoding reads only what the semantics need. Payloads are never copied: the faces keep
//! the caller's own record objects and hand those to handlers. Each face reads fields through
//! its own FFI by implementing the small [`JsonView`] trait (a `PyDict` lookup, a napi
//! property get, a `serde_json::Value`); the rules (which field, which source, what is
//! malformed, the error text) live here, once.

mod error;
mod identifiers;
mod json;
mod kafka;
mod key;
mod plan;
mod read;
mod read_kafka;
mod source;

#[cfg(feature = "aws")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
pub mod aws;

pub use error::EventError;
pub(crate) use identifiers::Identifiers;
pub use key::{KeyValue, GROUP_KEY_FIELD, MAX_SAFE_INTEGER};
pub use plan::{BatchPlan, KeyError, LaneOrdering};
pub use read::{ReadRecord, ReadValue, TextNumber};
pub use read_kafka::{ReadKafkaGroup, ReadKafkaRecord};
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

/// A number as a face holds it: an integer type, or a floating-point number.
///
/// ```
/// use lanepool::event::{JsonNumber, JsonView};
/// assert_eq!((&serde_json::json!(15)).number(), Some(JsonNumber::Int(15)));
/// assert_eq!((&serde_json::json!(1.5)).number(), Some(JsonNumber::Float(1.5)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum JsonNumber {
    /// An integer (Python `int` but not `bool`, a JSON integer `serde_json` holds as one).
    Int(i128),
    /// A floating-point number (a JavaScript `number`, a Python `float`).
    Float(f64),
}

impl JsonNumber {
    /// The number when it is a non-negative integer held exactly: an `Int` from 0 to
    /// `u64::MAX`, a `Float` whose value is an integer from 0 to 2^53 - 1.
    ///
    /// ```
    /// use lanepool::event::JsonNumber;
    /// assert_eq!(JsonNumber::Float(15.0).non_negative_integer(), Some(15));
    /// assert_eq!(JsonNumber::Float(1.5).non_negative_integer(), None);
    /// assert_eq!(JsonNumber::Int(-1).non_negative_integer(), None);
    /// assert_eq!(JsonNumber::Float(-0.0).non_negative_integer(), Some(0));
    /// assert_eq!(JsonNumber::Float(9007199254740991.0).non_negative_integer(), Some((1 << 53) - 1));
    /// assert_eq!(JsonNumber::Float(9007199254740992.0).non_negative_integer(), None);
    /// assert_eq!(JsonNumber::Float(f64::NAN).non_negative_integer(), None);
    /// assert_eq!(JsonNumber::Float(0.5).non_negative_integer(), None);
    /// ```
    pub fn non_negative_integer(self) -> Option<u64> {
        match self {
            JsonNumber::Int(n) => u64::try_from(n).ok(),
            // Within 0..=2^53 - 1 (no NaN), `as` truncates: the value is whole when the
            // truncation gives it back (no libm `trunc` call, as `fract` makes on x86-64).
            JsonNumber::Float(x)
                if (0.0..=MAX_SAFE_INTEGER).contains(&x) && (x as u64) as f64 == x =>
            {
                Some(x as u64)
            }
            JsonNumber::Float(_) => None,
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
    /// The value at a dotted path of member names (`"kinesis.partitionKey"`), as member after
    /// member would find it: `None` when any step is absent or not an object. The default
    /// does just that; a view that knows its paths (a projection of the fields the rules
    /// read) finds it at once.
    ///
    /// ```
    /// use lanepool::event::JsonView;
    /// let v = serde_json::json!({"kinesis": {"partitionKey": "k"}, "n": 1});
    /// let v = &v;
    /// let key = v.path("kinesis.partitionKey").unwrap();
    /// assert_eq!(key.text().as_deref(), Some("k"));
    /// assert!(v.path("n.x").is_none());
    /// ```
    fn path(&self, path: &str) -> Option<Self> {
        source::follow(self, path)
    }
    /// For a string, a number for its text when the view numbers the texts of an event (a
    /// projection that sends each text once, or each record's on its own): different
    /// numbers for different texts within one decode; equal texts share one or not. `None`
    /// (the default): not numbered. Only a speed-up: the decoder looks lane keys up by it
    /// before it hashes their text, and the text stays what the rules read.
    ///
    /// ```
    /// use lanepool::event::JsonView;
    /// let v = serde_json::json!("k");
    /// assert_eq!((&v).text_number(), None);
    /// ```
    fn text_number(&self) -> Option<usize> {
        None
    }
    /// The length of an array (`None` when this is not an array).
    fn array_len(&self) -> Option<usize>;
    /// Item `index` of an array.
    fn item(&self, index: usize) -> Option<Self>;
    /// The text of a string (`None` when this is not a string).
    fn text(&self) -> Option<Cow<'_, str>>;
    /// Whether a string is empty (`None` when this is not a string), without its text: all
    /// [`BatchPlan::decode_checked`] asks of an identifier. The default reads the text; a
    /// view that can say it without the text implements it.
    ///
    /// ```
    /// use lanepool::event::JsonView;
    /// let v = serde_json::json!({"a": "", "b": "x", "c": 1});
    /// let v = &v;
    /// assert_eq!(v.member("a").unwrap().string_is_empty(), Some(true));
    /// assert_eq!(v.member("b").unwrap().string_is_empty(), Some(false));
    /// assert_eq!(v.member("c").unwrap().string_is_empty(), None);
    /// ```
    fn string_is_empty(&self) -> Option<bool> {
        self.text().map(|t| t.is_empty())
    }
    /// The members of an object, in the object's own order (`None` when this is not an
    /// object). Used for the small `dynamodb.Keys` map and a Kafka event's `records`.
    fn members(&self) -> Option<Vec<(String, Self)>>;
    /// The value of a number (`None` when this is not a number). Read for a Kafka record's
    /// `partition` and `offset`. The default reads no number, so a face that keeps it sees
    /// every Kafka record as malformed: faces implement it.
    fn number(&self) -> Option<JsonNumber> {
        None
    }
}
