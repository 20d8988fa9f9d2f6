//! [`KeyValue`]: what a caller's lane key function returned, and the one rule that turns it
//! into a lane key or an [`EventError`].
//!
//! Every face converts its native value into a [`KeyValue`] without judging it (a Python
//! `str`, `int`, `float`, `None`...; a JavaScript string, number, bigint, `undefined`...;
//! a Rust `&str`, integer, `serde_json::Value`); what is accepted, what it becomes and the
//! error text live here, once.

use std::borrow::Cow;

use super::EventError;

/// The field named in the [`EventError`] of an invalid key: the `group_key` option.
pub const GROUP_KEY_FIELD: &str = "group_key";

/// The largest integer a JSON number (an IEEE 754 double) holds exactly: `2^53 - 1`.
pub const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// A lane key as a key function returned it, before the rule judges it.
///
/// The rule ([`KeyValue::into_lane_key`]):
///
/// | value | lane |
/// |---|---|
/// | a string, including `""` | that string (keys are opaque text, compared exactly) |
/// | an integer (`Int`, `BigInt`) | its decimal string: `7` and `"7"` are one lane |
/// | a floating-point number (`Float`) whose value is an integer within ±(2^53 − 1) | its decimal string (JSON and JavaScript do not tell `7.0` from `7`) |
/// | `None` (`None` / `null` / `undefined`) | no lane: the record is unkeyed |
/// | anything else: another number, a boolean, an object, a list... (`Float`, `Invalid`) | an [`EventError`] naming the record and the field `group_key` |
///
/// A face hands its booleans over as `Invalid` even where its language counts them as
/// integers (Python's `bool` is an `int`).
///
/// ```
/// use lanepool::event::KeyValue;
/// assert_eq!(KeyValue::from("tenant-1").into_lane_key(0).unwrap().as_deref(), Some("tenant-1"));
/// assert_eq!(KeyValue::Int(7).into_lane_key(0).unwrap().as_deref(), Some("7"));
/// assert_eq!(KeyValue::Float(7.0).into_lane_key(0).unwrap().as_deref(), Some("7"));
/// assert_eq!(KeyValue::None.into_lane_key(0).unwrap(), None);
///
/// let err = KeyValue::Float(7.5).into_lane_key(3).unwrap_err();
/// assert_eq!((err.index(), err.field()), (Some(3), Some("group_key")));
/// assert_eq!(err.to_string(),
///     "record 3: field `group_key`: expected a string, an integer or null, got the number 7.5");
/// let err = KeyValue::Invalid("bool".into()).into_lane_key(1).unwrap_err();
/// assert_eq!(err.problem(), "expected a string, an integer or null, got bool");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum KeyValue {
    /// A string.
    Str(String),
    /// An integer of the face's integer type (Python `int`, JavaScript `bigint`, a Rust
    /// integer, a JSON number written without fraction or exponent).
    Int(i128),
    /// An integer beyond `i128`, as the decimal text the face's language writes for it
    /// (Python `str(n)`, JavaScript `n.toString()`): `-` and digits only.
    BigInt(String),
    /// A floating-point number (a JavaScript `number`, a Python `float`, a JSON number
    /// `serde_json` holds as `f64`).
    Float(f64),
    /// No key: the record is unkeyed.
    None,
    /// A value of any other type, named as the face's language names it (`bool`, `dict`,
    /// `object`...).
    Invalid(Cow<'static, str>),
}

impl KeyValue {
    /// Applies the rule: the lane key of record `index` (`None`: unkeyed), or the
    /// [`EventError`] at field [`GROUP_KEY_FIELD`] saying what was given.
    pub fn into_lane_key(self, index: usize) -> Result<Option<String>, EventError> {
        let invalid = |what: String| {
            EventError::at_field(
                index,
                GROUP_KEY_FIELD,
                format!("expected a string, an integer or null, got {what}"),
            )
        };
        match self {
            KeyValue::Str(s) => Ok(Some(s)),
            KeyValue::Int(n) => Ok(Some(n.to_string())),
            KeyValue::BigInt(text) => {
                let digits = text.strip_prefix('-').unwrap_or(&text);
                let canonical = !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && (digits == "0" || !digits.starts_with('0'))
                    && text != "-0";
                if canonical {
                    Ok(Some(text))
                } else {
                    Err(invalid(format!("the integer text {text:?}")))
                }
            }
            KeyValue::Float(x) => {
                if x.fract() == 0.0 && x.abs() <= MAX_SAFE_INTEGER {
                    // Exact: |x| < 2^53, so the cast loses nothing (and -0.0 becomes 0).
                    Ok(Some((x as i64).to_string()))
                } else if x.is_finite() && x.fract() == 0.0 {
                    Err(invalid(format!(
                        "the number {x} (beyond ±(2^53 - 1): not exact in JSON)"
                    )))
                } else {
                    Err(invalid(format!("the number {x}")))
                }
            }
            KeyValue::None => Ok(None),
            KeyValue::Invalid(type_name) => Err(invalid(type_name.into_owned())),
        }
    }
}

impl From<String> for KeyValue {
    fn from(s: String) -> Self {
        KeyValue::Str(s)
    }
}

impl From<&str> for KeyValue {
    fn from(s: &str) -> Self {
        KeyValue::Str(s.to_owned())
    }
}

impl<T: Into<KeyValue>> From<Option<T>> for KeyValue {
    /// `None` is unkeyed; `Some(v)` is `v`.
    fn from(value: Option<T>) -> Self {
        value.map_or(KeyValue::None, Into::into)
    }
}

macro_rules! key_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for KeyValue {
            fn from(n: $t) -> Self {
                KeyValue::Int(i128::from(n))
            }
        }
    )*};
}
key_from_int!(i8, i16, i32, i64, u8, u16, u32, u64, i128);

impl From<&serde_json::Value> for KeyValue {
    /// A JSON value as it is: a string, an integer number, a number with a fraction or
    /// exponent (`Float`), `null`, or an invalid boolean, array or object.
    ///
    /// ```
    /// use lanepool::event::KeyValue;
    /// use serde_json::json;
    /// assert_eq!(KeyValue::from(&json!(7)), KeyValue::Int(7));
    /// assert_eq!(KeyValue::from(&json!(null)), KeyValue::None);
    /// assert_eq!(KeyValue::from(&json!(true)), KeyValue::Invalid("boolean".into()));
    /// ```
    fn from(value: &serde_json::Value) -> Self {
        use serde_json::Value;
        match value {
            Value::Null => KeyValue::None,
            Value::String(s) => KeyValue::Str(s.clone()),
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => KeyValue::Int(i128::from(i)),
                (_, Some(u), _) => KeyValue::Int(i128::from(u)),
                (_, _, Some(x)) => KeyValue::Float(x),
                // Only with serde_json's arbitrary_precision: keep the text as written.
                _ => KeyValue::BigInt(n.to_string()),
            },
            Value::Bool(_) => KeyValue::Invalid("boolean".into()),
            Value::Array(_) => KeyValue::Invalid("array".into()),
            Value::Object(_) => KeyValue::Invalid("object".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(value: impl Into<KeyValue>) -> Result<Option<String>, EventError> {
        value.into().into_lane_key(4)
    }

    #[test]
    fn strings_are_kept_as_they_are_including_the_empty_string() {
        assert_eq!(lane("a b").unwrap().as_deref(), Some("a b"));
        assert_eq!(lane("").unwrap().as_deref(), Some(""));
        assert_eq!(lane("007").unwrap().as_deref(), Some("007"));
    }

    #[test]
    fn integers_become_their_decimal_string() {
        assert_eq!(lane(7u8).unwrap().as_deref(), Some("7"));
        assert_eq!(lane(-12i64).unwrap().as_deref(), Some("-12"));
        assert_eq!(
            lane(u64::MAX).unwrap().as_deref(),
            Some("18446744073709551615")
        );
        assert_eq!(
            KeyValue::Int(i128::MIN)
                .into_lane_key(0)
                .unwrap()
                .as_deref(),
            Some("-170141183460469231731687303715884105728")
        );
    }

    #[test]
    fn big_integers_keep_their_decimal_text_when_it_is_canonical() {
        let big = "340282366920938463463374607431768211455";
        assert_eq!(
            KeyValue::BigInt(big.into())
                .into_lane_key(0)
                .unwrap()
                .as_deref(),
            Some(big)
        );
        for bad in ["", "-", "-0", "01", "1e3", "+1", "12a", " 1"] {
            let err = KeyValue::BigInt(bad.into()).into_lane_key(2).unwrap_err();
            assert_eq!(
                (err.index(), err.field()),
                (Some(2), Some("group_key")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn integral_floats_within_the_safe_range_are_integers() {
        assert_eq!(lane(KeyValue::Float(7.0)).unwrap().as_deref(), Some("7"));
        assert_eq!(lane(KeyValue::Float(-0.0)).unwrap().as_deref(), Some("0"));
        assert_eq!(
            lane(KeyValue::Float(MAX_SAFE_INTEGER)).unwrap().as_deref(),
            Some("9007199254740991")
        );
        assert_eq!(
            lane(KeyValue::Float(-MAX_SAFE_INTEGER)).unwrap().as_deref(),
            Some("-9007199254740991")
        );
    }

    #[test]
    fn other_floats_are_errors_naming_the_number() {
        for (x, shown) in [
            (7.5, "the number 7.5"),
            (f64::NAN, "the number NaN"),
            (f64::INFINITY, "the number inf"),
            (
                MAX_SAFE_INTEGER + 1.0,
                "the number 9007199254740992 (beyond",
            ),
        ] {
            let err = lane(KeyValue::Float(x)).unwrap_err();
            assert_eq!((err.index(), err.field()), (Some(4), Some(GROUP_KEY_FIELD)));
            assert!(err.problem().contains(shown), "{x}: {}", err.problem());
        }
    }

    #[test]
    fn none_is_unkeyed_and_other_types_are_errors_naming_the_type() {
        assert_eq!(lane(KeyValue::None).unwrap(), None);
        assert_eq!(lane(None::<String>).unwrap(), None);
        let err = lane(KeyValue::Invalid("dict".into())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "record 4: field `group_key`: expected a string, an integer or null, got dict"
        );
    }

    #[test]
    fn json_values_convert_as_they_are() {
        use serde_json::json;
        assert_eq!(KeyValue::from(&json!("7")), KeyValue::Str("7".into()));
        assert_eq!(KeyValue::from(&json!(-3)), KeyValue::Int(-3));
        assert_eq!(
            KeyValue::from(&json!(u64::MAX)),
            KeyValue::Int(u64::MAX.into())
        );
        assert_eq!(KeyValue::from(&json!(7.5)), KeyValue::Float(7.5));
        assert_eq!(
            KeyValue::from(&json!([1])),
            KeyValue::Invalid("array".into())
        );
        assert_eq!(
            KeyValue::from(&json!({})),
            KeyValue::Invalid("object".into())
        );
        // 7 and "7" are one lane.
        assert_eq!(
            KeyValue::from(&json!(7)).into_lane_key(0).unwrap(),
            KeyValue::from(&json!("7")).into_lane_key(0).unwrap()
        );
    }
}
