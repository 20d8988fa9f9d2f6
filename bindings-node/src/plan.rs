//! Decoding an event with the core's rules: [`decode`] over the live object (through
//! [`crate::view`]), [`decode_projected`] over the values `lib/decode.js` read (see
//! [`crate::projected`]), and the [`Plan`] they make, which [`Plan::start`] turns into a
//! [`Batch`].

use lanepool::batch::{BatchOptions, BatchRun};
use lanepool::event::{BatchPlan, EventError, LaneOrdering, Source};
use napi::bindgen_prelude::Either;
use napi::{sys, Env, JsUnknown, NapiRaw, Result};
use napi_derive::napi;

use crate::batch::Batch;
use crate::view::Reader;
use crate::{millis, projected, typed_array, used};

/// A malformed event, as the core names it: `EventError` is built from this in JavaScript.
#[napi(object)]
pub struct EventErrorInfo {
    pub message: String,
    pub index: Option<u32>,
    pub field: Option<String>,
}

impl From<EventError> for EventErrorInfo {
    fn from(e: EventError) -> Self {
        EventErrorInfo {
            message: e.to_string(),
            index: e.index().map(|i| i as u32),
            field: e.field().map(str::to_owned),
        }
    }
}

/// A decoded event: identifiers and lanes, before the batch starts.
#[napi]
pub struct Plan {
    pub(crate) plan: Option<BatchPlan>,
}

/// Decodes `event` with the core's rules. `unordered`: no lanes (also the first step of a
/// custom `groupKey`, whose keys then come through [`Plan::set_keys`]).
#[napi]
pub fn decode(env: Env, event: JsUnknown, unordered: bool) -> Result<Either<Plan, EventErrorInfo>> {
    let reader = Reader::new(&env);
    let ordering = if unordered {
        LaneOrdering::Unordered
    } else {
        LaneOrdering::Auto
    };
    // SAFETY: the value belongs to this call's env.
    let decoded = match reader.view(unsafe { event.raw() }) {
        Some(view) => BatchPlan::decode(view, ordering),
        None => Ok(BatchPlan::default()),
    };
    if let Some(e) = reader.into_failure() {
        return Err(e);
    }
    Ok(match decoded {
        Ok(plan) => Either::A(Plan { plan: Some(plan) }),
        Err(e) => Either::B(e.into()),
    })
}

/// The values `lib/decode.js` reads of each record of `source` for the fast decode (see
/// [`projected`]): a flat list `[parent, key, parent, key, ...]`, parent -1 the record itself,
/// else the position of an earlier pair. `null`: decode the live event (an unknown source, or
/// a lane key that needs more than a few fields).
#[napi]
pub fn projection(source: String, unordered: bool) -> Option<Vec<Either<i32, &'static str>>> {
    let nodes = projected::nodes(Source::parse(&source)?, unordered)?;
    Some(
        nodes
            .into_iter()
            .flat_map(|(parent, key)| [Either::A(parent), Either::B(key)])
            .collect(),
    )
}

/// Decodes the projection `lib/decode.js` read of an event whose record 0 has `eventSource` `source`
/// (see [`projection`]): `kinds` one byte per value (each record, then each node), `lens` the
/// UTF-16 length of each node's text (0 unless a string), `text` every string node's text in
/// order. `null` unless the core accepts it as it stands: then decode the live event with
/// [`decode`] (which names any error exactly).
#[napi]
pub fn decode_projected(
    env: Env,
    source: String,
    unordered: bool,
    records: u32,
    kinds: JsUnknown,
    lens: JsUnknown,
    text: JsUnknown,
) -> Result<Option<Plan>> {
    let Some(nodes) = Source::parse(&source).and_then(|s| projected::nodes(s, unordered)) else {
        return Ok(None);
    };
    let raw = env.raw();
    // SAFETY: argument values of this call; the slices are dropped before it returns.
    let kinds: &[u8] =
        unsafe { typed_array::typed(raw, kinds.raw(), sys::TypedarrayType::uint8_array)? };
    let lens: &[u32] =
        unsafe { typed_array::typed(raw, lens.raw(), sys::TypedarrayType::uint32_array)? };
    let needed = (records as usize).saturating_mul(nodes.len());
    let Some(lens) = lens.get(..needed) else {
        return Ok(None);
    };
    let total: usize = lens.iter().map(|&l| l as usize).sum();
    projected::SCRATCH.with(|scratch| {
        let Ok(mut scratch) = scratch.try_borrow_mut() else {
            return Ok(None);
        };
        let plan = decode_with(
            raw,
            &nodes,
            unordered,
            records,
            kinds,
            lens,
            total,
            text,
            &mut scratch,
        );
        scratch.trim();
        plan
    })
}

#[allow(clippy::too_many_arguments)]
fn decode_with(
    raw: sys::napi_env,
    nodes: &[(i32, &'static str)],
    unordered: bool,
    records: u32,
    kinds: &[u8],
    lens: &[u32],
    total: usize,
    text: JsUnknown,
    scratch: &mut projected::Scratch,
) -> Result<Option<Plan>> {
    scratch.units.clear();
    // One unit more than expected: a longer string shows as written > total.
    scratch.units.resize(total + 2, 0);
    let mut written = 0usize;
    // SAFETY: a buffer of total + 2 units; a non-string fails with a status, not UB.
    let status = unsafe {
        sys::napi_get_value_string_utf16(
            raw,
            text.raw(),
            scratch.units.as_mut_ptr(),
            total + 2,
            &mut written,
        )
    };
    if status != sys::Status::napi_ok || written != total {
        return Ok(None);
    }
    scratch.units.truncate(total);
    let Some(projection) =
        projected::Projection::new(nodes, records as usize, kinds, lens, scratch)
    else {
        return Ok(None);
    };
    let ordering = if unordered {
        LaneOrdering::Unordered
    } else {
        LaneOrdering::Auto
    };
    Ok(projection
        .decode(ordering)
        .map(|plan| Plan { plan: Some(plan) }))
}

#[napi]
impl Plan {
    /// Records in the event.
    #[napi(getter)]
    pub fn length(&self) -> u32 {
        self.plan.as_ref().map_or(0, |p| p.len() as u32)
    }

    /// Starts the batch's clock. `remaining_ms` < 0: no deadline; `margin_ms`, `backoff_ms`
    /// < 0: the core's defaults.
    #[napi]
    pub fn start(
        &mut self,
        concurrency: u32,
        retries: u32,
        backoff_ms: f64,
        remaining_ms: f64,
        margin_ms: f64,
    ) -> Result<Batch> {
        let plan = self.plan.take().ok_or_else(used)?;
        let mut options = BatchOptions::new()
            .concurrency(concurrency as usize)
            .retries(retries);
        if backoff_ms >= 0.0 {
            options = options.retry_backoff(millis(backoff_ms));
        }
        if margin_ms >= 0.0 {
            options = options.deadline_margin(millis(margin_ms));
        }
        if remaining_ms >= 0.0 {
            options = options.remaining_time(millis(remaining_ms));
        }
        Ok(Batch::new(BatchRun::new(
            plan,
            &options,
            concurrency as usize,
        )))
    }
}
