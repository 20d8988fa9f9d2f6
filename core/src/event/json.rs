//! [`JsonView`] over `&serde_json::Value`: how Rust callers pass untyped events (borrowed,
//! never cloned).

use std::borrow::Cow;

use serde_json::Value;

use super::{JsonKind, JsonNumber, JsonView};

impl JsonView for &Value {
    fn kind(&self) -> JsonKind {
        match self {
            Value::Null => JsonKind::Null,
            Value::Bool(_) => JsonKind::Bool,
            Value::Number(_) => JsonKind::Number,
            Value::String(_) => JsonKind::String,
            Value::Array(_) => JsonKind::Array,
            Value::Object(_) => JsonKind::Object,
        }
    }
    fn member(&self, key: &str) -> Option<Self> {
        self.as_object()?.get(key)
    }
    fn array_len(&self) -> Option<usize> {
        self.as_array().map(Vec::len)
    }
    fn item(&self, index: usize) -> Option<Self> {
        self.as_array()?.get(index)
    }
    fn text(&self) -> Option<Cow<'_, str>> {
        self.as_str().map(Cow::Borrowed)
    }
    fn number(&self) -> Option<JsonNumber> {
        let n = self.as_number()?;
        match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Some(JsonNumber::Int(i.into())),
            (_, Some(u)) => Some(JsonNumber::Int(u.into())),
            _ => n.as_f64().map(JsonNumber::Float),
        }
    }
    /// Members in the map's order: the event's own order only with serde_json's
    /// `preserve_order` feature (lanepool's feature `preserve_order`), else sorted by key.
    fn members(&self) -> Option<Vec<(String, Self)>> {
        Some(
            self.as_object()?
                .iter()
                .map(|(k, v)| (k.clone(), v))
                .collect(),
        )
    }
}
