//! The context rule: how a face turns what it read from a Lambda context into a deadline.
//!
//! Python and Node hand lanepool the invocation's context object; its remaining-time method
//! (`get_remaining_time_in_millis()` / `getRemainingTimeInMillis()`) gives the deadline. The
//! face reads the context with its own FFI and says what it found as a [`ContextReading`];
//! [`remaining_time`] applies the one rule every face shares:
//!
//! | the face read | result |
//! |---|---|
//! | no context (`None`, `undefined`, `null`) | no deadline |
//! | a context without the method | [`ContextError::MissingMethod`], naming the context and the method |
//! | the method returned something other than a number (a string, `None`/`null`, a boolean, a mock...) | [`ContextError::NotANumber`], naming the value |
//! | the method returned NaN | [`ContextError::NotANumber`] (`NaN` is no number of milliseconds) |
//! | a negative number (or -0, or -infinity) | zero: the time is already up, nothing starts |
//! | +infinity, or a time too long for the clock | no deadline |
//! | any other number | that many milliseconds |
//!
//! A boolean is not a number here, even where the language counts it as one (Python's `True`
//! is the integer 1): a context returning `True` is a mistake, not a 1 ms deadline.
//!
//! A face may read one more value of its language as "no context": the Python face reads a
//! plain `dict` (or any mapping) as no context, because `handler(event, {})` is how Python
//! Lambda handlers are called in tests and local runs, with an empty dict standing for the
//! context. Node has no such stand-in (every JavaScript object can be a context), so there an
//! object without the method is the error.
//!
//! ```
//! use lanepool::batch::{remaining_time, ContextReading, ContextValue};
//! use std::time::Duration;
//! let method = "getRemainingTimeInMillis";
//! assert_eq!(remaining_time(ContextReading::Absent), Ok(None));
//! let read = |value| ContextReading::Returned { method, value };
//! assert_eq!(remaining_time(read(ContextValue::Number(1500.0))), Ok(Some(Duration::from_millis(1500))));
//! assert_eq!(remaining_time(read(ContextValue::Number(-3.0))), Ok(Some(Duration::ZERO)));
//! assert_eq!(remaining_time(read(ContextValue::Number(f64::INFINITY))), Ok(None));
//! let err = remaining_time(read(ContextValue::Other("string '30000'"))).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "context.getRemainingTimeInMillis() must return a number of milliseconds, got string '30000'"
//! );
//! ```

use std::time::Duration;

/// What a face found when it read the context's remaining time.
///
/// ```
/// use lanepool::batch::{remaining_time, ContextReading};
/// // A Python face given `context=None`:
/// assert_eq!(remaining_time(ContextReading::Absent), Ok(None));
/// // A Node face given `{ awsRequestId: 'r' }`:
/// let read = ContextReading::MissingMethod {
///     method: "getRemainingTimeInMillis",
///     absent: "undefined",
///     context: "Object {awsRequestId}",
/// };
/// assert!(remaining_time(read).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ContextReading<'a> {
    /// No context was given (`None`, `undefined`, `null`).
    Absent,
    /// A context without the method: `method` is the face's name for it
    /// (`get_remaining_time_in_millis`), `absent` the face's word for "no context" (`None`,
    /// `undefined`), `context` the context's type and value as the face shows them.
    MissingMethod {
        /// The method's name in this face, without `()`.
        method: &'a str,
        /// The face's word for "no context", for the message ("... or be None").
        absent: &'a str,
        /// The context as the face shows it (its type name, then a short form of it).
        context: &'a str,
    },
    /// The method was called and returned `value`.
    Returned {
        /// The method's name in this face, without `()`.
        method: &'a str,
        /// What it returned.
        value: ContextValue<'a>,
    },
}

/// What the remaining-time method returned.
///
/// ```
/// use lanepool::batch::{remaining_time, ContextReading, ContextValue};
/// use std::time::Duration;
/// let returned = |value| ContextReading::Returned { method: "get_remaining_time_in_millis", value };
/// assert_eq!(remaining_time(returned(ContextValue::Number(2.0))), Ok(Some(Duration::from_millis(2))));
/// assert!(remaining_time(returned(ContextValue::Other("bool True"))).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ContextValue<'a> {
    /// A number (Python `int` or `float` but not `bool`, a JavaScript `number`).
    Number(f64),
    /// Anything else, as the face shows it (its type name, then a short form of it:
    /// `str '30000'`, `bool True`, `undefined`).
    Other(&'a str),
}

/// A context that gives no usable remaining time.
///
/// ```
/// use lanepool::batch::{remaining_time, ContextError, ContextReading, ContextValue};
/// let read = ContextReading::Returned {
///     method: "get_remaining_time_in_millis",
///     value: ContextValue::Other("None"),
/// };
/// let err = remaining_time(read).unwrap_err();
/// assert!(matches!(err, ContextError::NotANumber { nan: false, .. }));
/// assert_eq!(
///     err.to_string(),
///     "context.get_remaining_time_in_millis() must return a number of milliseconds, got None"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// The context has no remaining-time method.
    #[error("context must have {method}() (a Lambda context) or be {absent}, got {context}")]
    MissingMethod {
        /// The method's name in the face.
        method: String,
        /// The face's word for "no context".
        absent: String,
        /// The context as the face shows it.
        context: String,
    },
    /// The method returned something other than a number of milliseconds (NaN included).
    #[error("context.{method}() must return a number of milliseconds, got {value}")]
    NotANumber {
        /// The method's name in the face.
        method: String,
        /// The value as the face shows it (`nan` for NaN).
        value: String,
        /// Whether the value was a number, NaN (Python raises `ValueError` for it, as for
        /// other out-of-range numbers; `TypeError` otherwise).
        nan: bool,
    },
}

/// The remaining time by the context rule (the table in `tests/vectors/README.md`, "The context rule"): `Ok(None)` for no
/// deadline, `Ok(Some(ZERO))` when the time is already up.
///
/// # Errors
/// [`ContextError`] for a context without the method or a method that returns no number.
///
/// ```
/// use lanepool::batch::{remaining_time, ContextError, ContextReading, ContextValue};
/// let missing = ContextReading::MissingMethod {
///     method: "get_remaining_time_in_millis",
///     absent: "None",
///     context: "object <object object at 0x1>",
/// };
/// assert_eq!(
///     remaining_time(missing).unwrap_err().to_string(),
///     "context must have get_remaining_time_in_millis() (a Lambda context) or be None, got object <object object at 0x1>"
/// );
/// let nan = ContextReading::Returned { method: "getRemainingTimeInMillis", value: ContextValue::Number(f64::NAN) };
/// assert!(matches!(remaining_time(nan), Err(ContextError::NotANumber { nan: true, .. })));
/// ```
pub fn remaining_time(reading: ContextReading<'_>) -> Result<Option<Duration>, ContextError> {
    match reading {
        ContextReading::Absent => Ok(None),
        ContextReading::MissingMethod {
            method,
            absent,
            context,
        } => Err(ContextError::MissingMethod {
            method: method.to_owned(),
            absent: absent.to_owned(),
            context: context.to_owned(),
        }),
        ContextReading::Returned { method, value } => match value {
            ContextValue::Other(shown) => Err(ContextError::NotANumber {
                method: method.to_owned(),
                value: shown.to_owned(),
                nan: false,
            }),
            ContextValue::Number(ms) if ms.is_nan() => Err(ContextError::NotANumber {
                method: method.to_owned(),
                value: "nan".to_owned(),
                nan: true,
            }),
            ContextValue::Number(ms) if ms <= 0.0 => Ok(Some(Duration::ZERO)),
            ContextValue::Number(ms) => Ok(Duration::try_from_secs_f64(ms / 1000.0).ok()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "getRemainingTimeInMillis";

    fn number(ms: f64) -> Result<Option<Duration>, ContextError> {
        remaining_time(ContextReading::Returned {
            method: M,
            value: ContextValue::Number(ms),
        })
    }

    #[test]
    fn numbers() {
        assert_eq!(number(250.5), Ok(Some(Duration::from_micros(250_500))));
        assert_eq!(number(0.0), Ok(Some(Duration::ZERO)));
        assert_eq!(number(-0.0), Ok(Some(Duration::ZERO)));
        assert_eq!(number(f64::NEG_INFINITY), Ok(Some(Duration::ZERO)));
        assert_eq!(number(f64::INFINITY), Ok(None));
        assert_eq!(number(1e300), Ok(None), "too long for a Duration");
    }

    #[test]
    fn nan_and_other_values_are_errors_naming_the_method() {
        let e = number(f64::NAN).unwrap_err();
        assert_eq!(
            e.to_string(),
            "context.getRemainingTimeInMillis() must return a number of milliseconds, got nan"
        );
        let e = remaining_time(ContextReading::Returned {
            method: M,
            value: ContextValue::Other("boolean true"),
        })
        .unwrap_err();
        assert!(matches!(e, ContextError::NotANumber { nan: false, .. }));
        assert!(e.to_string().ends_with("got boolean true"), "{e}");
    }
}
