//! Jobs and the per-attempt options: a plain list of jobs as a plan ([`jobs_plan`]), and a
//! batch started with the options the fast `Plan::start` leaves out ([`start_batch`]: the
//! attempt timeout, the start rate, the all-failed rule), checked by the core's
//! [`BatchOptions::check_for`] for a driver that can stop its handlers (their signals).

use lanepool::batch::BatchRun;
use lanepool::event::BatchPlan;
use lanepool::lanes::StartRate;
use napi::Result;
use napi_derive::napi;

use crate::batch::Batch;
use crate::plan::Plan;
use crate::{millis, used};

/// The plan of `n` jobs ([`BatchPlan::jobs`]): identifiers `"0"`, `"1"`, ..., no lanes (give
/// them lanes with `setKeysFrom`, the core's key rule).
#[napi]
pub fn jobs_plan(n: u32) -> Plan {
    Plan {
        plan: Some(BatchPlan::jobs(n as usize)),
    }
}

/// The core's rule for a start rate ([`StartRate::per_second`]): `null` when `per_second` is
/// one, else the core's message, naming the option as the Node face spells it.
#[napi]
pub fn rate_error(per_second: f64) -> Option<String> {
    StartRate::per_second(per_second)
        .err()
        .map(|e| e.to_string().replace("max_per_second", "maxPerSecond"))
}

/// Starts `plan`'s batch like `Plan::start`, with an attempt timeout (`attempt_timeout_ms`
/// <= 0: none), a start rate (`max_per_second` <= 0: none) and the all-failed rule
/// (`all_failed_rule`: false for jobs). The options are checked as the core's drivers do
/// ([`BatchOptions::check_for`], handlers that can be stopped); `lib/options.js` checked them
/// first, so a refusal here is a driver mistake.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn start_batch(
    plan: &mut Plan,
    concurrency: u32,
    retries: u32,
    backoff_ms: f64,
    remaining_ms: f64,
    margin_ms: f64,
    attempt_timeout_ms: f64,
    max_per_second: f64,
    all_failed_rule: bool,
) -> Result<Batch> {
    let mut options =
        crate::plan::batch_options(concurrency, retries, backoff_ms, remaining_ms, margin_ms)
            .raise_on_full_batch_failure(all_failed_rule);
    if attempt_timeout_ms > 0.0 {
        options = options.attempt_timeout(millis(attempt_timeout_ms));
    }
    if max_per_second > 0.0 {
        options = options.max_per_second(max_per_second);
    }
    options
        .check_for(true)
        .map_err(|e| napi::Error::from_reason(format!("lanepool: {e}")))?;
    let plan = plan.plan.take().ok_or_else(used)?;
    Ok(Batch::new(BatchRun::new(
        plan,
        &options,
        concurrency as usize,
    )))
}
