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
use lanepool::event::{BatchPlan, EventError, JsonKind, JsonView, LaneOrdering};
use napi::bindgen_prelude::Either;
use napi::{JsObject, JsUnknown, KeyCollectionMode, KeyConversion, KeyFilter, Result, ValueType};
use napi_derive::napi;

/// A JavaScript value seen through the core's [`JsonView`]. A getter or proxy that throws
/// ends the read (`None`) and the first such error is kept in `failure`, to be rethrown.
struct NodeView<'a> {
    value: JsUnknown,
    failure: &'a RefCell<Option<napi::Error>>,
}

impl<'a> NodeView<'a> {
    fn new(value: JsUnknown, failure: &'a RefCell<Option<napi::Error>>) -> Self {
        NodeView { value, failure }
    }

    fn wrap(&self, value: JsUnknown) -> Self {
        NodeView::new(value, self.failure)
    }

    fn ok<T>(&self, result: Result<T>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.failure.borrow_mut().get_or_insert(e);
                None
            }
        }
    }

    fn value_type(&self) -> ValueType {
        self.value.get_type().unwrap_or(ValueType::Unknown)
    }

    fn is_array(&self) -> bool {
        self.value.is_array().unwrap_or(false)
    }

    /// The value as a plain (non-array) object.
    fn object(&self) -> Option<JsObject> {
        if self.value_type() == ValueType::Object && !self.is_array() {
            // SAFETY: the value's type was checked to be an object.
            Some(unsafe { self.value.cast::<JsObject>() })
        } else {
            None
        }
    }

    fn array(&self) -> Option<JsObject> {
        if self.is_array() {
            // SAFETY: arrays are objects.
            Some(unsafe { self.value.cast::<JsObject>() })
        } else {
            None
        }
    }

    /// `undefined` is an absent member, as in JSON.
    fn present(&self, value: JsUnknown) -> Option<Self> {
        match value.get_type() {
            Ok(ValueType::Undefined) => None,
            _ => Some(self.wrap(value)),
        }
    }
}

impl JsonView for NodeView<'_> {
    fn kind(&self) -> JsonKind {
        match self.value_type() {
            ValueType::Undefined | ValueType::Null => JsonKind::Null,
            ValueType::Boolean => JsonKind::Bool,
            ValueType::Number => JsonKind::Number,
            ValueType::String => JsonKind::String,
            ValueType::Object if self.is_array() => JsonKind::Array,
            ValueType::Object => JsonKind::Object,
            _ => JsonKind::Other,
        }
    }

    fn type_name(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self.value_type() {
            ValueType::Undefined => "undefined",
            ValueType::Null => "null",
            ValueType::Boolean => "boolean",
            ValueType::Number => "number",
            ValueType::String => "string",
            ValueType::Object if self.is_array() => "array",
            ValueType::Object => "object",
            ValueType::Function => "function",
            ValueType::BigInt => "bigint",
            ValueType::Symbol => "symbol",
            _ => "non-JSON value",
        })
    }

    fn member(&self, key: &str) -> Option<Self> {
        let object = self.object()?;
        let value = self.ok(object.get_named_property::<JsUnknown>(key))?;
        self.present(value)
    }

    fn array_len(&self) -> Option<usize> {
        let array = self.array()?;
        self.ok(array.get_array_length()).map(|n| n as usize)
    }

    fn item(&self, index: usize) -> Option<Self> {
        let array = self.array()?;
        let value = self.ok(array.get_element::<JsUnknown>(index as u32))?;
        Some(self.wrap(value))
    }

    fn text(&self) -> Option<Cow<'_, str>> {
        if self.value_type() != ValueType::String {
            return None;
        }
        // SAFETY: the value's type was checked to be a string.
        let string = unsafe { self.value.cast::<napi::JsString>() };
        let utf8 = self.ok(string.into_utf8())?;
        self.ok(utf8.into_owned()).map(Cow::Owned)
    }

    fn members(&self) -> Option<Vec<(String, Self)>> {
        let object = self.object()?;
        let names = self.ok(object.get_all_property_names(
            KeyCollectionMode::OwnOnly,
            KeyFilter::Enumerable,
            KeyConversion::NumbersToStrings,
        ))?;
        let len = self.ok(names.get_array_length())?;
        let mut out = Vec::with_capacity(len as usize);
        for i in 0..len {
            let name = self.ok(names.get_element::<JsUnknown>(i))?;
            if name.get_type().ok() != Some(ValueType::String) {
                continue; // a symbol key is not JSON
            }
            // SAFETY: the key's type was checked to be a string.
            let name = unsafe { name.cast::<napi::JsString>() };
            let name = self.ok(name.into_utf8().and_then(|s| s.into_owned()))?;
            let value = self.ok(object.get_named_property::<JsUnknown>(&name))?;
            out.push((name, self.wrap(value)));
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
pub fn decode(event: JsUnknown, unordered: bool) -> Result<Either<Plan, EventErrorInfo>> {
    let failure = RefCell::new(None);
    let ordering = if unordered {
        LaneOrdering::Unordered
    } else {
        LaneOrdering::Auto
    };
    let decoded = BatchPlan::decode(NodeView::new(event, &failure), ordering);
    if let Some(e) = failure.into_inner() {
        return Err(e);
    }
    Ok(match decoded {
        Ok(plan) => Either::A(Plan { plan: Some(plan) }),
        Err(e) => Either::B(e.into()),
    })
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
            wait_ms: -1.0,
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
    pub failures: Vec<FailureInfo>,
    /// Identifiers that succeeded (only when asked for).
    pub succeeded: Option<Vec<String>>,
    pub summary: SummaryInfo,
    /// The core's one-line JSON summary (only when asked for).
    pub log_line: Option<String>,
}

fn finish_info(
    report: &BatchReport<()>,
    all_failed: Option<String>,
    full: bool,
    log: bool,
) -> FinishInfo {
    let s = report.summary();
    FinishInfo {
        all_failed,
        batch_item_failures: report.response().batch_item_failures,
        failures: report
            .failures()
            .into_iter()
            .map(|f| FailureInfo {
                item_identifier: f.item_identifier.to_owned(),
                index: f.index as u32,
                reason: f.reason.as_str().to_owned(),
                attempts: f.attempts,
            })
            .collect(),
        succeeded: full.then(|| report.succeeded().into_iter().map(str::to_owned).collect()),
        summary: SummaryInfo {
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
        },
        log_line: log.then(|| s.to_log_line()),
    }
}

/// One running batch: the core's [`BatchRun`] with errors kept in JavaScript.
#[napi]
pub struct Batch {
    run: Option<BatchRun<()>>,
    wait_ms: f64,
}

/// `step()` results below 0.
const DONE: f64 = -1.0;
const WAIT: f64 = -2.0;

impl Batch {
    fn run(&mut self) -> Result<&mut BatchRun<()>> {
        self.run.as_mut().ok_or_else(used)
    }
}

fn protocol(e: impl std::fmt::Display) -> napi::Error {
    napi::Error::from_reason(format!("lanepool driver: {e}"))
}

#[napi]
impl Batch {
    /// What to do next: a record index (>= 0) to run now, -1 when every record has its
    /// outcome, -2 to wait for a completion or [`Batch::wait_ms`] milliseconds.
    #[napi]
    pub fn step(&mut self) -> Result<f64> {
        Ok(match self.run()?.step() {
            Step::Run(ticket) => ticket.index as f64,
            Step::Wait(timeout) => {
                self.wait_ms = timeout.map_or(-1.0, ms_of);
                WAIT
            }
            Step::Done => DONE,
        })
    }

    /// After a wait step: milliseconds until something falls due (-1: only a completion).
    #[napi]
    pub fn wait_ms(&self) -> f64 {
        self.wait_ms
    }

    /// The attempt running record `index` ended (`ok`: it succeeded).
    #[napi]
    pub fn complete(&mut self, index: u32, ok: bool) -> Result<()> {
        let result = if ok { Ok(()) } else { Err(()) };
        self.run()?
            .complete(index as usize, result)
            .map_err(protocol)
    }

    /// The attempt running record `index` gave up at the deadline.
    #[napi]
    pub fn cancel(&mut self, index: u32) -> Result<()> {
        self.run()?
            .cancel(index as usize, Some(()))
            .map_err(protocol)
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
