//! Node face of lanepool: the native half of the npm package `lanepool`.
//!
//! Only the runtime-free state of a batch lives here, reached by small synchronous calls from
//! the JavaScript driver (`lib/driver.js`): decoding the event with the core's rules
//! ([`plan`], over [`view`] or [`projected`]), one running batch ([`batch`]), custom lane keys
//! ([`custom_keys`]), a pool's shared in-flight limit ([`limit`]), and the core's defaults
//! ([`defaults`]). No JavaScript value is held across
//! calls: handlers, records, errors and promises stay in JavaScript.

#![deny(clippy::all)]

use std::time::Duration;

use napi_derive::napi;

pub mod batch;
pub mod custom_keys;
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
}

/// The core's defaults (see [`Defaults`]).
#[napi]
pub fn defaults() -> Defaults {
    Defaults {
        concurrency: lanepool::batch::DEFAULT_ASYNC_CONCURRENCY as u32,
        deadline_margin_ms: ms_of(lanepool::batch::DEFAULT_DEADLINE_MARGIN),
        retry_backoff_ms: ms_of(lanepool::lanes::Backoff::default().base),
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
