//! Decoding an event with the core's rules: [`decode`] over the live object (through
//! [`crate::view`]), [`decode_read`] and [`decode_projected`] over the values `lib/decode.js`
//! read (see [`crate::projected`]), and the [`Plan`] they make, which [`Plan::start`] turns into a
//! [`Batch`].

use lanepool::batch::{BatchOptions, BatchRun};
use lanepool::event::{BatchPlan, EventError, LaneOrdering, Source};
use napi::bindgen_prelude::Either;
use napi::{sys, Env, JsUnknown, NapiRaw, NapiValue, Result};
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
    /// The group of a grouped event the problem is in (a Kafka event's `records` key).
    pub group: Option<String>,
}

impl From<EventError> for EventErrorInfo {
    fn from(e: EventError) -> Self {
        EventErrorInfo {
            message: e.to_string(),
            index: e.index().map(|i| i as u32),
            field: e.field().map(str::to_owned),
            group: e.group().map(str::to_owned),
        }
    }
}

/// A decoded event: identifiers and lanes, before the batch starts.
#[napi]
pub struct Plan {
    pub(crate) plan: Option<BatchPlan>,
}

/// The core's [`LaneOrdering`] named by the `ordering` option (`'auto'`, `'unordered'`,
/// `'key'`); `lib/options.js` has checked it.
pub(crate) fn ordering_of(ordering: &str) -> Result<LaneOrdering> {
    match ordering {
        "auto" => Ok(LaneOrdering::Auto),
        "unordered" => Ok(LaneOrdering::Unordered),
        "key" => Ok(LaneOrdering::Key),
        other => Err(napi::Error::from_reason(format!(
            "lanepool: unknown ordering {other:?}"
        ))),
    }
}

/// Decodes `event` with the core's rules, lanes by `ordering` (`'unordered'` is also the
/// first step of a custom `groupKey`, whose keys then come through [`Plan::set_keys_from`]).
#[napi]
pub fn decode(
    env: Env,
    event: JsUnknown,
    ordering: String,
) -> Result<Either<Plan, EventErrorInfo>> {
    let ordering = ordering_of(&ordering)?;
    let reader = Reader::new(&env);
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

/// The records of `event` in the core's event order (`Records`, or a Kafka event's `records`
/// groups one after another, [`BatchPlan::records`]): the caller's own objects, for the
/// handlers. An [`EventErrorInfo`] if the event is malformed (it was decoded before, so only
/// when reading it again gave something else).
#[napi]
pub fn records(env: Env, event: JsUnknown) -> Result<Either<JsUnknown, EventErrorInfo>> {
    let reader = Reader::new(&env);
    // SAFETY: the value belongs to this call's env.
    let listed = match reader.view(unsafe { event.raw() }) {
        Some(view) => BatchPlan::records(&view).map(|records| {
            records
                .iter()
                .map(|r| r.raw())
                .collect::<Vec<sys::napi_value>>()
        }),
        None => Ok(Vec::new()),
    };
    if let Some(e) = reader.into_failure() {
        return Err(e);
    }
    let values = match listed {
        Ok(values) => values,
        Err(e) => return Ok(Either::B(e.into())),
    };
    let mut array = env.create_array_with_length(values.len())?;
    for (i, value) in values.into_iter().enumerate() {
        // SAFETY: a value read in this call, of this env.
        array.set_element(i as u32, unsafe {
            JsUnknown::from_raw_unchecked(env.raw(), value)
        })?;
    }
    Ok(Either::A(array.into_unknown()))
}

/// The values `lib/decode.js` reads of each record of `source` for the fast decode (see
/// [`projected`]): a flat list `[parent, key, mode, parent, key, mode, ...]`, parent -1 the
/// record itself, else the position of an earlier triple, mode a `MODE_*` constant. `null`:
/// decode the live event (an unknown source, or a lane key that needs more than a few fields).
#[napi]
pub fn projection(
    source: String,
    ordering: String,
) -> Result<Option<Vec<Either<i32, &'static str>>>> {
    let ordering = ordering_of(&ordering)?;
    let Some(spec) = Source::parse(&source).and_then(|s| projected::nodes(s, ordering)) else {
        return Ok(None);
    };
    Ok(Some(
        spec.nodes
            .into_iter()
            .flat_map(|(parent, key, mode)| {
                [
                    Either::A(parent),
                    Either::B(key),
                    Either::A(mode.number() as i32),
                ]
            })
            .collect(),
    ))
}

/// Decodes the projection `lib/decode.js` read of an event whose records have `eventSource`
/// `source` (see [`projection`] and [`projected`]): `kinds` one byte per value (each record,
/// then each node), `slots` one number per node of each record (a `MODE_TEXT` string's number
/// in the table of texts, 1 or 0 for a non-empty or empty `MODE_KEPT` string, a
/// `MODE_NUMBER` number's value, else 0), `text` the table's texts in turn (different texts
/// never one number; equal texts may have two) and `text_lens` their UTF-16 lengths. `groups`: for a Kafka event, `[eventSource text, key text, length,
/// ...]` of its `records` groups in order (the records follow one another in event order);
/// `null` for `Records`. Returns `null` unless the core accepts it as it stands: then decode
/// the live event with [`decode`] (which names any error exactly). The plan's identifiers are
/// checked, not read (Kafka's are read): `Batch.finish` reads those the report names from the
/// texts the driver kept.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn decode_projected(
    env: Env,
    source: String,
    ordering: String,
    records: u32,
    kinds: JsUnknown,
    slots: JsUnknown,
    text: JsUnknown,
    text_lens: JsUnknown,
    groups: Option<JsUnknown>,
) -> Result<Option<Plan>> {
    let raw = env.raw();
    // SAFETY: argument values of this call; the slices are dropped before it returns.
    let kinds: &[u8] =
        unsafe { typed_array::typed(raw, kinds.raw(), sys::TypedarrayType::uint8_array)? };
    let slots: &[f64] =
        unsafe { typed_array::typed(raw, slots.raw(), sys::TypedarrayType::float64_array)? };
    let texts = Texts {
        text,
        text_lens,
        groups,
    };
    with_projection(raw, &source, &ordering, records, texts, |p| {
        projected::Projection::new(
            p.spec,
            p.groups,
            records as usize,
            kinds,
            slots,
            p.text_lens,
            p.scratch,
        )?
        .decode(p.ordering)
    })
}

/// The table of texts a projected decode is given: `text` the texts joined, `text_lens` their
/// UTF-16 lengths, `groups` a Kafka event's groups (see [`decode_projected`]).
struct Texts {
    text: JsUnknown,
    text_lens: JsUnknown,
    groups: Option<JsUnknown>,
}

/// What a projected decode plans with: the source's projection, the event's groups, the
/// table of texts' lengths and the scratch holding its texts.
struct Projected<'a> {
    spec: &'a projected::Spec,
    groups: Option<&'a projected::Groups>,
    ordering: LaneOrdering,
    text_lens: &'a [u32],
    scratch: &'a mut projected::Scratch,
}

/// Reads what both projected decodes share (the ordering, the source's projection, the
/// groups, the table of texts into the thread's scratch) and plans with `plan`; `null` when
/// any part disagrees or `plan` declines.
fn with_projection(
    raw: sys::napi_env,
    source: &str,
    ordering: &str,
    records: u32,
    Texts {
        text,
        text_lens,
        groups,
    }: Texts,
    plan: impl FnOnce(Projected<'_>) -> Option<BatchPlan>,
) -> Result<Option<Plan>> {
    let ordering = ordering_of(ordering)?;
    let Some(source) = Source::parse(source) else {
        return Ok(None);
    };
    let Some(spec) = projected::nodes(source, ordering) else {
        return Ok(None);
    };
    // SAFETY: an argument value of this call; the slice is dropped before it returns.
    let text_lens: &[u32] =
        unsafe { typed_array::typed(raw, text_lens.raw(), sys::TypedarrayType::uint32_array)? };
    let groups = match groups_of(raw, source, groups, records, text_lens.len())? {
        Ok(groups) => groups,
        Err(()) => return Ok(None),
    };
    let total: usize = text_lens.iter().map(|&l| l as usize).sum();
    projected::SCRATCH.with(|scratch| {
        let Ok(mut scratch) = scratch.try_borrow_mut() else {
            return Ok(None);
        };
        let planned = read_text(raw, text, total, &mut scratch)
            .then(|| {
                plan(Projected {
                    spec: &spec,
                    groups: groups.as_ref(),
                    ordering,
                    text_lens,
                    scratch: &mut scratch,
                })
            })
            .flatten();
        scratch.trim();
        Ok(planned.map(|plan| Plan { plan: Some(plan) }))
    })
}

/// Reads `text`, the table of texts joined (`total` UTF-16 units), into the scratch: as
/// UTF-8 into `scratch.all` when it is all ASCII (its UTF-8 length is its UTF-16 length: any
/// other unit takes two bytes or more), else as units into `scratch.units`. False if it is
/// not a string of that length.
fn read_text(
    raw: sys::napi_env,
    text: JsUnknown,
    total: usize,
    scratch: &mut projected::Scratch,
) -> bool {
    let (mut units, mut bytes) = (0usize, 0usize);
    // SAFETY: a null buffer asks only for the length; a non-string fails with a status.
    let measured = unsafe {
        sys::napi_get_value_string_utf16(raw, text.raw(), std::ptr::null_mut(), 0, &mut units)
            == sys::Status::napi_ok
            && sys::napi_get_value_string_utf8(raw, text.raw(), std::ptr::null_mut(), 0, &mut bytes)
                == sys::Status::napi_ok
    };
    if !measured || units != total {
        return false;
    }
    let mut written = 0usize;
    if bytes == total {
        scratch.ascii = true;
        scratch.units.clear();
        // Room for the terminating NUL napi writes.
        scratch.all.clear();
        scratch.all.resize(total + 1, 0);
        // SAFETY: a buffer of total + 1 bytes, and napi writes at most that many.
        let status = unsafe {
            sys::napi_get_value_string_utf8(
                raw,
                text.raw(),
                scratch.all.as_mut_ptr().cast(),
                total + 1,
                &mut written,
            )
        };
        scratch.all.truncate(written);
        return status == sys::Status::napi_ok && written == total;
    }
    scratch.ascii = false;
    scratch.units.clear();
    // Room for the terminating NUL napi writes (the length is checked above).
    scratch.units.resize(total + 1, 0);
    // SAFETY: a buffer of total + 1 units, and napi writes at most that many.
    let status = unsafe {
        sys::napi_get_value_string_utf16(
            raw,
            text.raw(),
            scratch.units.as_mut_ptr(),
            total + 1,
            &mut written,
        )
    };
    if status != sys::Status::napi_ok || written != total {
        return false;
    }
    scratch.units.truncate(total);
    true
}

/// The core's short path over a lean projection `lib/decode.js` read (see
/// [`projected::decode_lean`]): `values` one number per value node of each record (the
/// nodes [`projection`] lists whose mode is not `MODE_SHAPE`, in order), coded as the
/// `V_*` constants say; `text`, `text_lens` and `groups` as for [`decode_projected`].
/// Returns `null` unless the short path plans the event as it stands: then read the full
/// projection for [`decode_projected`].
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn decode_read(
    env: Env,
    source: String,
    ordering: String,
    records: u32,
    values: JsUnknown,
    text: JsUnknown,
    text_lens: JsUnknown,
    groups: Option<JsUnknown>,
) -> Result<Option<Plan>> {
    let raw = env.raw();
    // SAFETY: an argument value of this call; the slice is dropped before it returns.
    let values: &[f64] =
        unsafe { typed_array::typed(raw, values.raw(), sys::TypedarrayType::float64_array)? };
    let texts = Texts {
        text,
        text_lens,
        groups,
    };
    with_projection(raw, &source, &ordering, records, texts, |p| {
        projected::decode_lean(
            p.spec,
            p.groups,
            records as usize,
            values,
            p.text_lens,
            p.scratch,
            p.ordering,
        )
    })
}

/// A Kafka event's groups from `[eventSource text, key text, length, ...]` (`Ok(None)`: a
/// `Records` batch; `Err(())`: the parts disagree, or groups where none belong).
fn groups_of(
    raw: sys::napi_env,
    source: Source,
    groups: Option<JsUnknown>,
    records: u32,
    texts: usize,
) -> Result<std::result::Result<Option<projected::Groups>, ()>> {
    Ok(match groups {
        Some(groups) if source.is_kafka() => {
            // SAFETY: an argument value of this call; the slice is dropped before it returns.
            let flat: &[f64] = unsafe {
                typed_array::typed(raw, groups.raw(), sys::TypedarrayType::float64_array)?
            };
            projected::Groups::new(flat, records as usize, texts)
                .map(Some)
                .ok_or(())
        }
        None if !source.is_kafka() => Ok(None),
        _ => Err(()),
    })
}

#[napi]
impl Plan {
    /// Whether the event's records are grouped (a Kafka event's `records`, rather than
    /// `Records`): then `records()` lists them in event order.
    #[napi(getter)]
    pub fn grouped(&self) -> bool {
        self.plan
            .as_ref()
            .and_then(BatchPlan::source)
            .is_some_and(Source::is_kafka)
    }

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
        let options = batch_options(concurrency, retries, backoff_ms, remaining_ms, margin_ms);
        Ok(Batch::new(BatchRun::new(
            plan,
            &options,
            concurrency as usize,
        )))
    }
}

/// The core's options of a call from the driver's numbers (a negative time: the core's default,
/// or no deadline); `Plan.start` and `Plan.startPaced` (`jobs.rs`) build on it.
pub(crate) fn batch_options(
    concurrency: u32,
    retries: u32,
    backoff_ms: f64,
    remaining_ms: f64,
    margin_ms: f64,
) -> BatchOptions {
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
    options
}
