//! Node face of lanepool: the native half of the npm package `lanepool`.
//!
//! Only the runtime-free state of a batch lives here: decoding the event through the core's
//! rules ([`BatchPlan`]) and one [`BatchRun`] per batch, reached by small synchronous calls
//! from the JavaScript driver loop in `index.js`. No JavaScript value is held across calls:
//! handlers, records, errors and promises stay in JavaScript; the run keeps `E = ()`.

#![deny(clippy::all)]

use std::borrow::Cow;
use std::cell::RefCell;
use std::time::Duration;

use lanepool::batch::{BatchError, BatchOptions, BatchReport, BatchRun, Step};
use lanepool::event::{BatchPlan, EventError, JsonKind, JsonView, LaneOrdering, Source};
use napi::bindgen_prelude::Either;
use napi::{sys, Env, JsUnknown, NapiRaw, Result, Status};
use napi_derive::napi;
use std::ptr;

mod projected;

/// What one decode shares: the env, the first error met, and the property keys made so far
/// (each key is created once per decode, not once per record).
struct Reader {
    env: sys::napi_env,
    failure: RefCell<Option<napi::Error>>,
    keys: RefCell<Vec<(String, sys::napi_value)>>,
}

impl Reader {
    fn new(env: &Env) -> Self {
        Reader {
            env: env.raw(),
            failure: RefCell::new(None),
            keys: RefCell::new(Vec::with_capacity(8)),
        }
    }

    /// `Some(())` when the call succeeded; else keeps the first error (a getter or proxy that
    /// threw leaves its exception pending, and it is rethrown as is).
    fn check(&self, status: sys::napi_status) -> Option<()> {
        if status == sys::Status::napi_ok {
            return Some(());
        }
        let mut failure = self.failure.borrow_mut();
        if failure.is_none() {
            *failure = Some(napi::Error::new(
                Status::from(status),
                "lanepool: reading the event failed".to_owned(),
            ));
        }
        None
    }

    fn key(&self, name: &str) -> Option<sys::napi_value> {
        if let Some((_, key)) = self.keys.borrow().iter().find(|(n, _)| n == name) {
            return Some(*key);
        }
        let mut key = ptr::null_mut();
        // SAFETY: a valid env and a UTF-8 buffer of the given length.
        self.check(unsafe {
            sys::napi_create_string_utf8(self.env, name.as_ptr().cast(), name.len(), &mut key)
        })?;
        self.keys.borrow_mut().push((name.to_owned(), key));
        Some(key)
    }

    fn view(&self, value: sys::napi_value) -> Option<NodeView<'_>> {
        let mut ty = 0;
        // SAFETY: a valid env and value for the duration of the native call.
        self.check(unsafe { sys::napi_typeof(self.env, value, &mut ty) })?;
        let mut array = false;
        if ty == sys::ValueType::napi_object {
            // SAFETY: as above.
            self.check(unsafe { sys::napi_is_array(self.env, value, &mut array) })?;
        }
        Some(NodeView {
            reader: self,
            value,
            ty,
            array,
        })
    }
}

/// A JavaScript value seen through the core's [`JsonView`]; valid during one native call.
struct NodeView<'a> {
    reader: &'a Reader,
    value: sys::napi_value,
    ty: sys::napi_valuetype,
    array: bool,
}

impl NodeView<'_> {
    fn is_object(&self) -> bool {
        self.ty == sys::ValueType::napi_object && !self.array
    }

    fn get(&self, key: sys::napi_value) -> Option<sys::napi_value> {
        let mut out = ptr::null_mut();
        // SAFETY: an object value and a key created in this call.
        self.reader
            .check(unsafe { sys::napi_get_property(self.reader.env, self.value, key, &mut out) })?;
        Some(out)
    }

    fn string(&self, value: sys::napi_value) -> Option<String> {
        let env = self.reader.env;
        // Most identifiers and keys fit a small buffer: one call instead of two.
        let mut small = [0u8; 128];
        let mut written = 0usize;
        // SAFETY: a string value and a buffer of the given size.
        self.reader.check(unsafe {
            sys::napi_get_value_string_utf8(
                env,
                value,
                small.as_mut_ptr().cast(),
                small.len(),
                &mut written,
            )
        })?;
        // Unused room for a whole character (up to 4 bytes): the string ended.
        if written + 4 < small.len() {
            return String::from_utf8(small[..written].to_vec()).ok();
        }
        let mut len = 0usize;
        // SAFETY: as above; first the length, then the bytes into a buffer of len + 1.
        self.reader.check(unsafe {
            sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len)
        })?;
        let mut buf = vec![0u8; len + 1];
        self.reader.check(unsafe {
            sys::napi_get_value_string_utf8(
                env,
                value,
                buf.as_mut_ptr().cast(),
                len + 1,
                &mut written,
            )
        })?;
        buf.truncate(written);
        String::from_utf8(buf).ok()
    }
}

impl JsonView for NodeView<'_> {
    fn kind(&self) -> JsonKind {
        match self.ty {
            sys::ValueType::napi_undefined | sys::ValueType::napi_null => JsonKind::Null,
            sys::ValueType::napi_boolean => JsonKind::Bool,
            sys::ValueType::napi_number => JsonKind::Number,
            sys::ValueType::napi_string => JsonKind::String,
            sys::ValueType::napi_object if self.array => JsonKind::Array,
            sys::ValueType::napi_object => JsonKind::Object,
            _ => JsonKind::Other,
        }
    }

    fn type_name(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self.ty {
            sys::ValueType::napi_undefined => "undefined",
            sys::ValueType::napi_null => "null",
            sys::ValueType::napi_boolean => "boolean",
            sys::ValueType::napi_number => "number",
            sys::ValueType::napi_string => "string",
            sys::ValueType::napi_object if self.array => "array",
            sys::ValueType::napi_object => "object",
            sys::ValueType::napi_function => "function",
            sys::ValueType::napi_bigint => "bigint",
            sys::ValueType::napi_symbol => "symbol",
            _ => "non-JSON value",
        })
    }

    /// `undefined` is an absent member, as in JSON.
    fn member(&self, key: &str) -> Option<Self> {
        if !self.is_object() {
            return None;
        }
        let value = self.get(self.reader.key(key)?)?;
        let view = self.reader.view(value)?;
        (view.ty != sys::ValueType::napi_undefined).then_some(view)
    }

    fn array_len(&self) -> Option<usize> {
        if !self.array {
            return None;
        }
        let mut len = 0u32;
        // SAFETY: an array value.
        self.reader
            .check(unsafe { sys::napi_get_array_length(self.reader.env, self.value, &mut len) })?;
        Some(len as usize)
    }

    fn item(&self, index: usize) -> Option<Self> {
        if !self.array {
            return None;
        }
        let mut out = ptr::null_mut();
        // SAFETY: an array value.
        self.reader.check(unsafe {
            sys::napi_get_element(self.reader.env, self.value, index as u32, &mut out)
        })?;
        self.reader.view(out)
    }

    fn text(&self) -> Option<Cow<'_, str>> {
        if self.ty != sys::ValueType::napi_string {
            return None;
        }
        self.string(self.value).map(Cow::Owned)
    }

    fn members(&self) -> Option<Vec<(String, Self)>> {
        if !self.is_object() {
            return None;
        }
        let env = self.reader.env;
        let mut names = ptr::null_mut();
        // SAFETY: an object value; own, enumerable, string keys (like `Object.keys`).
        self.reader.check(unsafe {
            sys::napi_get_all_property_names(
                env,
                self.value,
                sys::KeyCollectionMode::own_only,
                sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
                sys::KeyConversion::numbers_to_strings,
                &mut names,
            )
        })?;
        let names = self.reader.view(names)?;
        let len = names.array_len()?;
        let mut out = Vec::with_capacity(len);
        for i in 0..len {
            let name = names.item(i)?;
            let text = name.text()?.into_owned();
            let value = self.reader.view(self.get(name.value)?)?;
            out.push((text, value));
        }
        Some(out)
    }
}

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
    plan: Option<BatchPlan>,
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
    if let Some(e) = reader.failure.into_inner() {
        return Err(e);
    }
    Ok(match decoded {
        Ok(plan) => Either::A(Plan { plan: Some(plan) }),
        Err(e) => Either::B(e.into()),
    })
}

/// The values `index.js` reads of each record of `source` for the fast decode (see
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

/// The data of a typed array argument of the expected type, borrowed for this call.
///
/// # Safety
/// `value` belongs to this call's env; the slice must not outlive the call.
unsafe fn typed<'a, T>(env: sys::napi_env, value: sys::napi_value, ty: i32) -> Result<&'a mut [T]> {
    let mut actual = -1;
    let mut len = 0usize;
    let mut data = ptr::null_mut();
    let mut buffer = ptr::null_mut();
    let mut offset = 0usize;
    let status = sys::napi_get_typedarray_info(
        env,
        value,
        &mut actual,
        &mut len,
        &mut data,
        &mut buffer,
        &mut offset,
    );
    if status != sys::Status::napi_ok || actual != ty {
        return Err(napi::Error::new(
            Status::InvalidArg,
            "lanepool: expected a typed array of the driver's type".to_owned(),
        ));
    }
    if len == 0 {
        return Ok(&mut []);
    }
    Ok(std::slice::from_raw_parts_mut(data.cast::<T>(), len))
}

/// Decodes the projection `index.js` read of an event whose record 0 has `eventSource` `source`
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
    let kinds: &[u8] = unsafe { typed(raw, kinds.raw(), sys::TypedarrayType::uint8_array)? };
    let lens: &[u32] = unsafe { typed(raw, lens.raw(), sys::TypedarrayType::uint32_array)? };
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

fn used() -> napi::Error {
    napi::Error::from_reason("lanepool: this batch has already finished")
}

#[napi]
impl Plan {
    /// Records in the event.
    #[napi(getter)]
    pub fn length(&self) -> u32 {
        self.plan.as_ref().map_or(0, |p| p.len() as u32)
    }

    /// Replaces the lanes by custom keys, one per record (`null`/`undefined`: unkeyed).
    #[napi]
    pub fn set_keys(&mut self, keys: Vec<Option<String>>) -> Result<()> {
        let plan = self.plan.take().ok_or_else(used)?;
        if keys.len() != plan.len() {
            return Err(napi::Error::from_reason(format!(
                "lanepool: {} keys for {} records",
                keys.len(),
                plan.len()
            )));
        }
        let source = plan.source();
        let ids = plan.into_identifiers();
        self.plan = Some(BatchPlan::from_parts(source, ids.into_iter().zip(keys)));
        Ok(())
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
        Ok(Batch {
            run: Some(BatchRun::new(plan, &options, concurrency as usize)),
        })
    }
}

fn millis(ms: f64) -> Duration {
    Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::MAX)
}

fn ms_of(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One reported record; JavaScript adds the handler's `error`.
#[napi(object)]
pub struct FailureInfo {
    pub item_identifier: String,
    pub index: u32,
    pub reason: String,
    pub attempts: u32,
}

/// Summary figures, as the core counts them.
#[napi(object)]
pub struct SummaryInfo {
    pub source: Option<String>,
    pub records: u32,
    pub succeeded: u32,
    pub failed: u32,
    pub error: u32,
    pub skipped: u32,
    pub deadline: u32,
    pub duration_ms: f64,
    pub peak_in_flight: u32,
    pub lanes: u32,
    pub retries: f64,
}

/// The finished batch: the report's parts, and whether the all-failed rule fired.
#[napi(object)]
pub struct FinishInfo {
    /// The core's all-failed error message, when the rule fired.
    pub all_failed: Option<String>,
    pub batch_item_failures: Vec<String>,
    /// Every failure (only for a full report or when the all-failed rule fired).
    pub failures: Option<Vec<FailureInfo>>,
    /// Identifiers that succeeded (only when asked for).
    pub succeeded: Option<Vec<String>>,
    /// The counts (only for a full report or when the all-failed rule fired).
    pub summary: Option<SummaryInfo>,
    /// The core's one-line JSON summary (only when asked for).
    pub log_line: Option<String>,
}

/// What `finish()` hands back: only the response for a plain `process()` (each object crossing
/// to JavaScript costs more than a small record's run), the report's parts when they are read.
fn finish_info(
    report: &BatchReport<()>,
    all_failed: Option<String>,
    full: bool,
    log: bool,
) -> FinishInfo {
    let detailed = full || all_failed.is_some();
    let s = (detailed || log).then(|| report.summary());
    FinishInfo {
        all_failed,
        batch_item_failures: report.response().batch_item_failures,
        failures: detailed.then(|| {
            report
                .failures()
                .into_iter()
                .map(|f| FailureInfo {
                    item_identifier: f.item_identifier.to_owned(),
                    index: f.index as u32,
                    reason: f.reason.as_str().to_owned(),
                    attempts: f.attempts,
                })
                .collect()
        }),
        succeeded: full.then(|| report.succeeded().into_iter().map(str::to_owned).collect()),
        summary: s.as_ref().filter(|_| detailed).map(|s| SummaryInfo {
            source: s.source.map(|x| x.as_str().to_owned()),
            records: s.records as u32,
            succeeded: s.succeeded as u32,
            failed: s.failed() as u32,
            error: s.error as u32,
            skipped: s.skipped as u32,
            deadline: s.deadline as u32,
            duration_ms: ms_of(s.duration),
            peak_in_flight: s.peak_in_flight as u32,
            lanes: s.lanes as u32,
            retries: s.retries as f64,
        }),
        log_line: s.as_ref().filter(|_| log).map(|s| s.to_log_line()),
    }
}

/// One running batch: the core's [`BatchRun`] with errors kept in JavaScript.
#[napi]
pub struct Batch {
    run: Option<BatchRun<()>>,
}

/// `step()` codes below 0: -1 every record has its outcome; -2 wait for a completion; -3 - ms
/// (<= -3): wait for a completion or `ms` milliseconds.
const DONE: f64 = -1.0;
const WAIT: f64 = -2.0;
const WAIT_FOR: f64 = -3.0;
/// `drive()` only: the run list is full, call again after starting these.
const MORE: f64 = -0.5;

/// `drive()` completion codes: `index * 4 + kind`.
const ENDED_OK: u64 = 0;
const ENDED_ERR: u64 = 1;
const ENDED_DEADLINE: u64 = 2;

impl Batch {
    fn run(&mut self) -> Result<&mut BatchRun<()>> {
        self.run.as_mut().ok_or_else(used)
    }

    fn next(&mut self) -> Result<f64> {
        Ok(match self.run()?.step() {
            Step::Run(ticket) => ticket.index as f64,
            Step::Wait(None) => WAIT,
            Step::Wait(Some(timeout)) => WAIT_FOR - ms_of(timeout),
            Step::Done => DONE,
        })
    }
}

fn protocol(e: impl std::fmt::Display) -> napi::Error {
    napi::Error::from_reason(format!("lanepool driver: {e}"))
}

#[napi]
impl Batch {
    /// What to do next: a record index (>= 0) to run now, or a code below 0 (see `DONE`,
    /// `WAIT`, `WAIT_FOR`).
    #[napi]
    pub fn step(&mut self) -> Result<f64> {
        self.next()
    }

    /// The attempt running record `index` ended (`ok`: it succeeded); returns the next step.
    #[napi]
    pub fn complete(&mut self, index: u32, ok: bool) -> Result<f64> {
        let result = if ok { Ok(()) } else { Err(()) };
        self.run()?
            .complete(index as usize, result)
            .map_err(protocol)?;
        self.next()
    }

    /// The attempt running record `index` gave up at the deadline; returns the next step.
    #[napi]
    pub fn cancel(&mut self, index: u32) -> Result<f64> {
        self.run()?
            .cancel(index as usize, Some(()))
            .map_err(protocol)?;
        self.next()
    }

    /// Many steps in one call. `io` is a `Float64Array` of `2 * cap + 1`: its first `ended`
    /// entries are attempts that ended, in the order they ended (`index * 4 + kind`, kind 0
    /// succeeded, 1 failed, 2 gave up at the deadline); the core is told each in turn, then
    /// asked what next until it says wait or done or `cap` records are to start. Those records
    /// go to `io[cap..cap + n]` (n returned, to be started in that order), the final step code
    /// to `io[2 * cap]` (`DONE`, `WAIT`, `WAIT_FOR - ms`, or `MORE`: call again).
    ///
    /// At most `limit` records start per call (1: the driver starts one, and a handler that
    /// ended at once is told before the core is asked again, as step by step). Right after a
    /// record started and filled the last free slot the core is not asked again (it could only
    /// say wait); a call that starts nothing still asks it, so a timer's call sees the deadline.
    #[napi]
    pub fn drive(&mut self, env: Env, io: JsUnknown, ended: u32, limit: u32) -> Result<u32> {
        // SAFETY: an argument value of this call; the slice is dropped before it returns.
        let io: &mut [f64] =
            unsafe { typed(env.raw(), io.raw(), sys::TypedarrayType::float64_array)? };
        if io.len() < 3 || io.len() % 2 == 0 || ended as usize > (io.len() - 1) / 2 {
            return Err(protocol("drive() buffer of the wrong size"));
        }
        let cap = (io.len() - 1) / 2;
        let limit = (limit as usize).clamp(1, cap);
        let run = self.run()?;
        for &code in &io[..ended as usize] {
            if !(code >= 0.0 && code < 2f64.powi(53)) {
                return Err(protocol(format!("bad completion code {code}")));
            }
            let code = code as u64;
            let index = (code / 4) as usize;
            match code % 4 {
                ENDED_OK => run.complete(index, Ok(())),
                ENDED_ERR => run.complete(index, Err(())),
                ENDED_DEADLINE => run.cancel(index, Some(())),
                _ => return Err(protocol(format!("bad completion code {code}"))),
            }
            .map_err(protocol)?;
        }
        let mut started = 0usize;
        let code = loop {
            if started > 0 && run.scheduler().in_flight() >= run.concurrency() {
                break WAIT;
            }
            if started == limit {
                break MORE;
            }
            match run.step() {
                Step::Run(ticket) => {
                    io[cap + started] = ticket.index as f64;
                    started += 1;
                }
                Step::Wait(None) => break WAIT,
                Step::Wait(Some(timeout)) => break WAIT_FOR - ms_of(timeout),
                Step::Done => break DONE,
            }
        };
        io[2 * cap] = code;
        Ok(started as u32)
    }

    /// Stops starting records (running ones still complete).
    #[napi]
    pub fn halt(&mut self) -> Result<()> {
        self.run()?.halt();
        Ok(())
    }

    /// Whether the deadline (margin taken off) has passed.
    #[napi]
    pub fn deadline_passed(&mut self) -> Result<bool> {
        Ok(self.run()?.deadline_passed())
    }

    /// Milliseconds until the deadline (margin taken off); -1: no deadline.
    #[napi]
    pub fn time_to_deadline(&mut self) -> Result<f64> {
        Ok(self.run()?.time_to_deadline().map_or(-1.0, ms_of))
    }

    /// The report, after `step()` returned -1. `full`: include the succeeded identifiers;
    /// `log`: include the summary's log line.
    #[napi]
    pub fn finish(&mut self, full: bool, log: bool) -> Result<FinishInfo> {
        let run = self.run.take().ok_or_else(used)?;
        if !run.scheduler().is_done() {
            self.run = Some(run);
            return Err(protocol("finish() before every record has its outcome"));
        }
        match run.finish() {
            Ok(report) => Ok(finish_info(&report, None, full, log)),
            Err(e) => {
                let text = e.to_string();
                match e {
                    BatchError::AllFailed(report) => {
                        Ok(finish_info(&report, Some(text), full, log))
                    }
                    BatchError::Event(_) => Err(protocol(text)),
                }
            }
        }
    }
}
