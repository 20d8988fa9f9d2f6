//! Node face of lanepool: the native half of the npm package `lanepool`.
//!
//! Only the runtime-free state of a batch lives here, reached by small synchronous calls from
//! the JavaScript driver (`lib/driver.js`): decoding the event with the core's rules
//! ([`plan`], over [`view`] or [`projected`]), one running batch ([`batch`]), custom lane keys
//! ([`custom_keys`]), jobs and the per-attempt options ([`jobs`]), a pool's shared in-flight limit ([`limit`]), and the core's defaults
//! ([`defaults`]). No JavaScript value is held across
//! calls: handlers, records, errors and promises stay in JavaScript.

#![deny(clippy::all)]

use std::time::Duration;

use napi_derive::napi;

pub mod batch;
pub mod custom_keys;
pub mod jobs;
pub mod limit;
pub mod plan;
pub mod projected;
pub mod typed_array;
mod view;

/// The core's defaults, which the JavaScript face uses and re-exports.
#[napi(object)]
pub struct Defaults {
    /// Handlers in flight at once when a `Pool` is given no `concurrency`.
    pub concurrency: u32,
    /// Time kept back before the Lambda deadline, in milliseconds.
    pub deadline_margin_ms: f64,
    /// Base delay of the jittered retry backoff, in milliseconds.
    pub retry_backoff_ms: f64,
    /// The version this addon was built as (the workspace's, which is package.json's):
    /// `binding.js` checks it against the package's own without reading another package.json.
    pub version: String,
}

/// The core's defaults (see [`Defaults`]).
#[napi]
pub fn defaults() -> Defaults {
    Defaults {
        concurrency: lanepool::batch::DEFAULT_ASYNC_CONCURRENCY as u32,
        deadline_margin_ms: ms_of(lanepool::batch::DEFAULT_DEADLINE_MARGIN),
        retry_backoff_ms: ms_of(lanepool::lanes::Backoff::default().base),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

fn millis(ms: f64) -> Duration {
    Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::MAX)
}

fn ms_of(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn used() -> napi::Error {
    napi::Error::from_reason("lanepool: this batch has already finished")
}

/// The core's concurrency rule (1 to `MAX_CONCURRENCY`) for an integer `n` the JavaScript
/// face checked is one: `null` when valid, else the core's message.
#[napi]
pub fn concurrency_error(n: f64) -> Option<String> {
    lanepool::batch::check_concurrency(n as i128)
        .err()
        .map(|e| e.to_string())
}

/// The most handlers in flight a `Pool` may be given (the core's `MAX_CONCURRENCY`).
#[napi]
pub const MAX_CONCURRENCY: u32 = lanepool::batch::MAX_CONCURRENCY as u32;

/// The core's rule for a time option named `name` given as the number `ms`: `null` when
/// valid (finite, not negative), else the core's message.
#[napi]
pub fn millis_error(name: String, ms: f64) -> Option<String> {
    lanepool::batch::check_millis(&name, ms)
        .err()
        .map(|e| e.to_string())
}

/// How `lib/options.js` read the context, for [`remaining_ms`]: no context.
#[napi]
pub const CONTEXT_ABSENT: u32 = 0;
/// A context without `getRemainingTimeInMillis` (`shown`: the context).
#[napi]
pub const CONTEXT_NO_METHOD: u32 = 1;
/// The method returned the number `ms`.
#[napi]
pub const CONTEXT_NUMBER: u32 = 2;
/// The method returned something else (`shown`: that value).
#[napi]
pub const CONTEXT_OTHER: u32 = 3;

/// The core's context rule (`lanepool::batch::remaining_time`) over what `lib/options.js`
/// read (`kind` one of the `CONTEXT_*` codes): the remaining milliseconds (-1: no deadline),
/// or the core's message as a string when the context gives no usable time.
#[napi]
pub fn remaining_ms(
    kind: u32,
    shown: String,
    ms: f64,
) -> napi::Result<napi::bindgen_prelude::Either<f64, String>> {
    use lanepool::batch::{remaining_time, ContextReading, ContextValue};
    const METHOD: &str = "getRemainingTimeInMillis";
    let reading = match kind {
        CONTEXT_ABSENT => ContextReading::Absent,
        CONTEXT_NO_METHOD => ContextReading::MissingMethod {
            method: METHOD,
            absent: "undefined",
            context: &shown,
        },
        CONTEXT_NUMBER => ContextReading::Returned {
            method: METHOD,
            value: ContextValue::Number(ms),
        },
        CONTEXT_OTHER => ContextReading::Returned {
            method: METHOD,
            value: ContextValue::Other(&shown),
        },
        _ => {
            return Err(napi::Error::from_reason(format!(
                "lanepool: bad context code {kind}"
            )))
        }
    };
    Ok(match remaining_time(reading) {
        Ok(None) => napi::bindgen_prelude::Either::A(-1.0),
        Ok(Some(d)) => napi::bindgen_prelude::Either::A(ms_of(d)),
        Err(e) => napi::bindgen_prelude::Either::B(e.to_string()),
    })
}
