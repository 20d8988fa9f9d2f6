//! [`BatchReport`]: every answer about a batch, built from one `Vec<Outcome>`.

use std::time::Duration;

use crate::event::{Identifiers, Source};
use crate::lanes::{Outcome, Reason, SchedulerStats};

/// The outcome of a whole batch: one [`Outcome`] per record, in event order.
///
/// ```
/// use lanepool::batch::BatchReport;
/// use lanepool::lanes::Outcome;
/// let report = BatchReport::new(
///     vec!["a".into(), "b".into()],
///     vec![Outcome::Succeeded { attempts: 1 }, Outcome::Failed { error: "boom", attempts: 1 }],
///     None,
///     Default::default(),
///     std::time::Duration::ZERO,
/// );
/// assert_eq!(report.succeeded(), ["a"]);
/// assert_eq!(report.response().to_json(), r#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#);
/// ```
#[derive(Clone, Debug)]
pub struct BatchReport<E> {
    identifiers: Identifiers,
    outcomes: Vec<Outcome<E>>,
    summary: BatchSummary,
}

/// One reported record.
#[derive(Debug)]
pub struct Failure<'a, E> {
    /// The record's index in the batch.
    pub index: usize,
    /// The record's identifier (a Kafka record's as text, `"<topic>-<partition>@<offset>"`:
    /// see [`ItemIdentifier`]).
    pub item_identifier: &'a str,
    /// Why it is reported.
    pub reason: Reason,
    /// The error kept with it (the handler's error, or a stopped handler's error).
    pub error: Option<&'a E>,
    /// Handler calls made for it.
    pub attempts: u32,
}

/// Lambda's partial batch response: `{"batchItemFailures": [{"itemIdentifier": "..."}]}`
/// (Kafka: `{"itemIdentifier": {"partition": "<topic>-<partition>", "offset": <offset>}}`).
///
/// ```
/// use lanepool::batch::BatchResponse;
/// use lanepool::event::Source;
/// assert_eq!(BatchResponse::default().to_json(), r#"{"batchItemFailures":[]}"#);
/// let kafka = BatchResponse { batch_item_failures: vec!["orders-0@15".into()], source: Some(Source::Kafka) };
/// assert_eq!(kafka.to_value(), serde_json::json!({"batchItemFailures": [
///     {"itemIdentifier": {"partition": "orders-0", "offset": 15}}]}));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchResponse {
    /// Identifiers of every reported record, in event order, as identifier text (see
    /// [`ItemIdentifier`]).
    pub batch_item_failures: Vec<String>,
    /// The batch's source: it decides how identifiers are written (Kafka: as objects).
    pub source: Option<Source>,
}

/// How Lambda names a record in the response: a string, or for Kafka an object.
///
/// The report keeps every identifier as text; a Kafka record's text is
/// `"<topic>-<partition>@<offset>"` (no Kafka topic holds `@`), read back here.
///
/// ```
/// use lanepool::batch::ItemIdentifier;
/// use lanepool::event::Source;
/// let id = ItemIdentifier::of("orders-0@15", Some(Source::Kafka));
/// assert_eq!(id, ItemIdentifier::Kafka { partition: "orders-0", offset: 15 });
/// assert_eq!(id.to_value(), serde_json::json!({"partition": "orders-0", "offset": 15}));
/// assert_eq!(ItemIdentifier::of("m1", Some(Source::Sqs)), ItemIdentifier::Text("m1"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemIdentifier<'a> {
    /// SQS `messageId`, Kinesis / DynamoDB sequence number.
    Text(&'a str),
    /// A Kafka record: its `"<topic>-<partition>"` and offset.
    Kafka {
        /// `"<topic>-<partition>"`.
        partition: &'a str,
        /// The record's offset.
        offset: u64,
    },
}

impl<'a> ItemIdentifier<'a> {
    /// The identifier of a record of `source` whose identifier text is `text`.
    pub fn of(text: &'a str, source: Option<Source>) -> Self {
        if source.is_some_and(Source::is_kafka) {
            if let Some((partition, offset)) = text.rsplit_once('@') {
                if let Ok(offset) = offset.parse() {
                    return ItemIdentifier::Kafka { partition, offset };
                }
            }
        }
        ItemIdentifier::Text(text)
    }

    /// The `itemIdentifier` value Lambda expects.
    pub fn to_value(&self) -> serde_json::Value {
        match *self {
            ItemIdentifier::Text(text) => text.into(),
            ItemIdentifier::Kafka { partition, offset } => {
                serde_json::json!({ "partition": partition, "offset": offset })
            }
        }
    }
}

impl BatchResponse {
    /// Every reported record's identifier as Lambda names it, in event order.
    pub fn item_identifiers(&self) -> impl Iterator<Item = ItemIdentifier<'_>> {
        self.batch_item_failures
            .iter()
            .map(|id| ItemIdentifier::of(id, self.source))
    }

    /// The response as Lambda expects it, as a JSON value.
    pub fn to_value(&self) -> serde_json::Value {
        let items: Vec<serde_json::Value> = self
            .item_identifiers()
            .map(|id| serde_json::json!({ "itemIdentifier": id.to_value() }))
            .collect();
        serde_json::json!({ "batchItemFailures": items })
    }

    /// The response as a JSON string.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }
}

#[cfg(feature = "aws")]
mod aws_responses {
    use super::BatchResponse;
    use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
    use aws_lambda_events::event::streams::{
        DynamoDbBatchItemFailure, DynamoDbEventResponse, KinesisBatchItemFailure,
        KinesisEventResponse,
    };

    impl From<&BatchResponse> for SqsBatchResponse {
        fn from(r: &BatchResponse) -> Self {
            let mut out = SqsBatchResponse::default();
            for id in &r.batch_item_failures {
                let mut item = BatchItemFailure::default();
                item.item_identifier = id.clone();
                out.batch_item_failures.push(item);
            }
            out
        }
    }

    impl From<&BatchResponse> for KinesisEventResponse {
        fn from(r: &BatchResponse) -> Self {
            let mut out = KinesisEventResponse::default();
            for id in &r.batch_item_failures {
                let mut item = KinesisBatchItemFailure::default();
                item.item_identifier = Some(id.clone());
                out.batch_item_failures.push(item);
            }
            out
        }
    }

    impl From<&BatchResponse> for DynamoDbEventResponse {
        fn from(r: &BatchResponse) -> Self {
            let mut out = DynamoDbEventResponse::default();
            for id in &r.batch_item_failures {
                let mut item = DynamoDbBatchItemFailure::default();
                item.item_identifier = Some(id.clone());
                out.batch_item_failures.push(item);
            }
            out
        }
    }
}

/// Summary figures of one batch: what the opt-in log line and every face's report show.
///
/// ```
/// use lanepool::batch::BatchSummary;
/// let s = BatchSummary { records: 3, succeeded: 2, error: 1, ..Default::default() };
/// assert_eq!(s.failed(), 1);
/// let line: serde_json::Value = serde_json::from_str(&s.to_log_line()).unwrap();
/// assert_eq!(line["failed_by_reason"]["error"], 1);
/// assert_eq!(line["slot_wait_ms"], 0.0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchSummary {
    /// The batch's source, when known.
    pub source: Option<Source>,
    /// Records in the batch.
    pub records: usize,
    /// Records that succeeded.
    pub succeeded: usize,
    /// Records whose handler failed.
    pub error: usize,
    /// Records skipped after a failure in their lane.
    pub skipped: usize,
    /// Records not started (or stopped) at the deadline.
    pub deadline: usize,
    /// Time from the call's start to its return.
    pub duration: Duration,
    /// Most handlers in flight at once.
    pub peak_in_flight: usize,
    /// Distinct lanes.
    pub lanes: usize,
    /// Retry attempts made.
    pub retries: u64,
    /// Time records waited for a slot of a shared [`crate::limit::InFlightLimit`], added up
    /// over records (a record waits from when it could have started, lanes and the call's
    /// `concurrency` allowing, to its start, or to the deadline when it never started). Zero
    /// without a limit.
    pub slot_wait: Duration,
    /// The longest any one record waited for a shared slot.
    pub slot_wait_max: Duration,
    /// Records whose last attempt ran longer than the attempt timeout
    /// ([`BatchOptions::attempt_timeout`](crate::batch::BatchOptions::attempt_timeout)).
    pub timeout: usize,
    /// Time the batch was held back by its start rate
    /// ([`BatchOptions::max_per_second`](crate::batch::BatchOptions::max_per_second)):
    /// the spans in which an attempt could have started but for the rate, added up. Zero
    /// without a rate.
    pub rate_wait: Duration,
    /// The time left before the deadline when the batch started, the margin not taken off
    /// (`None`: the batch had no deadline). Zero when the time was already up.
    pub remaining_at_start: Option<Duration>,
    /// The time kept back before the deadline ([`BatchOptions::deadline_margin`](crate::batch::BatchOptions::deadline_margin)).
    pub deadline_margin: Duration,
}

/// `d` in milliseconds, rounded to 0.01 ms.
fn round_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

/// `d` as whole milliseconds, for messages.
fn whole_ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

impl BatchSummary {
    /// Why no record succeeded, as the all-failed error says it
    /// ([`BatchError::AllFailed`](crate::batch::BatchError::AllFailed)): the record count,
    /// the count of each reason (`error`, `skipped`, `deadline`, those above zero), and with
    /// `deadline` records the remaining time at the start and the margin.
    ///
    /// ```
    /// use lanepool::batch::BatchSummary;
    /// use std::time::Duration;
    /// let s = BatchSummary { records: 3, error: 2, skipped: 1, ..Default::default() };
    /// assert_eq!(s.failure_breakdown(), "3 records: 2 error, 1 skipped");
    /// let s = BatchSummary {
    ///     records: 1,
    ///     deadline: 1,
    ///     remaining_at_start: Some(Duration::from_millis(1)),
    ///     deadline_margin: Duration::from_millis(500),
    ///     ..Default::default()
    /// };
    /// assert_eq!(
    ///     s.failure_breakdown(),
    ///     "1 record: 1 deadline; the remaining time was 1 ms at the start and the deadline margin 500 ms"
    /// );
    /// ```
    pub fn failure_breakdown(&self) -> String {
        let noun = if self.records == 1 {
            "record"
        } else {
            "records"
        };
        let mut out = format!("{} {noun}", self.records);
        let reasons = [
            ("error", self.error),
            ("skipped", self.skipped),
            ("deadline", self.deadline),
        ];
        let mut first = true;
        for (name, n) in reasons.into_iter().filter(|(_, n)| *n > 0) {
            out.push_str(if first { ": " } else { ", " });
            out.push_str(&format!("{n} {name}"));
            first = false;
        }
        if let (true, Some(remaining)) = (self.deadline > 0, self.remaining_at_start) {
            out.push_str(&format!(
                "; the remaining time was {} at the start and the deadline margin {}",
                whole_ms(remaining),
                whole_ms(self.deadline_margin)
            ));
        }
        out
    }

    /// Records reported failed, for any reason.
    pub fn failed(&self) -> usize {
        self.error + self.skipped + self.deadline + self.timeout
    }

    /// One structured JSON log line, in the shape Lambda's JSON log format and CloudWatch Logs
    /// Insights read (`timestamp`, `level`, `message`, then the figures as top-level fields).
    pub fn to_log_line(&self) -> String {
        serde_json::json!({
            "timestamp": rfc3339_now(),
            "level": "INFO",
            "logger": "lanepool",
            "message": "lanepool batch summary",
            "source": self.source.map(Source::as_str),
            "records": self.records,
            "succeeded": self.succeeded,
            "failed": self.failed(),
            "failed_by_reason": {
                "error": self.error,
                "skipped": self.skipped,
                "deadline": self.deadline,
                "timeout": self.timeout,
            },
            "duration_ms": round_ms(self.duration),
            "peak_in_flight": self.peak_in_flight,
            "lanes": self.lanes,
            "retries": self.retries,
            "slot_wait_ms": self.slot_wait.as_secs_f64() * 1000.0,
            "slot_wait_max_ms": self.slot_wait_max.as_secs_f64() * 1000.0,
            "rate_wait_ms": self.rate_wait.as_secs_f64() * 1000.0,
        })
        .to_string()
    }
}

impl<E> BatchReport<E> {
    /// A report from every record's identifier and outcome (same length, event order).
    ///
    /// # Panics
    /// When the two lists differ in length: that is a driver bug, not bad input.
    pub fn new(
        identifiers: Vec<String>,
        outcomes: Vec<Outcome<E>>,
        source: Option<Source>,
        stats: SchedulerStats,
        duration: Duration,
    ) -> Self {
        Self::with_identifiers(identifiers.into(), outcomes, source, stats, duration)
    }

    /// [`BatchReport::new`] with identifiers as a plan keeps them.
    pub(crate) fn with_identifiers(
        identifiers: Identifiers,
        outcomes: Vec<Outcome<E>>,
        source: Option<Source>,
        stats: SchedulerStats,
        duration: Duration,
    ) -> Self {
        assert_eq!(identifiers.len(), outcomes.len(), "one outcome per record");
        let mut summary = BatchSummary {
            source,
            records: outcomes.len(),
            duration,
            peak_in_flight: stats.peak_in_flight,
            lanes: stats.lanes,
            retries: stats.retries,
            slot_wait: stats.slot_wait_total,
            slot_wait_max: stats.slot_wait_max,
            rate_wait: stats.rate_wait_total,
            ..BatchSummary::default()
        };
        for outcome in &outcomes {
            match outcome.reason() {
                None => summary.succeeded += 1,
                Some(Reason::Error) => summary.error += 1,
                Some(Reason::Skipped) => summary.skipped += 1,
                Some(Reason::Deadline) => summary.deadline += 1,
                Some(Reason::Timeout) => summary.timeout += 1,
            }
        }
        BatchReport {
            identifiers,
            outcomes,
            summary,
        }
    }

    /// The same report with the deadline it ran under: the time left before the deadline at
    /// the start (`None`: no deadline) and the margin kept back (see
    /// [`BatchSummary::remaining_at_start`]). [`BatchRun`](crate::batch::BatchRun) sets them.
    ///
    /// ```
    /// use lanepool::batch::BatchReport;
    /// use lanepool::lanes::Outcome;
    /// use std::time::Duration;
    /// let report: BatchReport<()> = BatchReport::new(
    ///     vec!["a".into()], vec![Outcome::Deadline { error: None, attempts: 0 }],
    ///     None, Default::default(), Duration::ZERO,
    /// )
    /// .with_deadline(Some(Duration::from_millis(1)), Duration::from_millis(500));
    /// assert_eq!(report.summary().remaining_at_start, Some(Duration::from_millis(1)));
    /// assert_eq!(report.summary().deadline_margin, Duration::from_millis(500));
    /// ```
    pub fn with_deadline(mut self, remaining_at_start: Option<Duration>, margin: Duration) -> Self {
        self.summary.remaining_at_start = remaining_at_start;
        self.summary.deadline_margin = margin;
        self
    }

    /// The first reported record, in event order, that keeps an error (a handler's error, or
    /// the error of a handler stopped at the deadline): the error
    /// [`BatchError::AllFailed`](crate::batch::BatchError::AllFailed) gives as its source.
    ///
    /// ```
    /// use lanepool::batch::BatchReport;
    /// use lanepool::lanes::Outcome;
    /// let report = BatchReport::new(
    ///     vec!["a".into(), "b".into(), "c".into()],
    ///     vec![
    ///         Outcome::Deadline { error: None, attempts: 0 },
    ///         Outcome::Failed { error: "first", attempts: 1 },
    ///         Outcome::Failed { error: "second", attempts: 1 },
    ///     ],
    ///     None, Default::default(), std::time::Duration::ZERO,
    /// );
    /// let first = report.first_error().unwrap();
    /// assert_eq!((first.index, first.error), (1, Some(&"first")));
    /// ```
    pub fn first_error(&self) -> Option<Failure<'_, E>> {
        self.failures().into_iter().find(|f| f.error.is_some())
    }

    /// Every record's outcome, in event order.
    pub fn outcomes(&self) -> &[Outcome<E>] {
        &self.outcomes
    }

    /// Every record's identifier, in event order.
    pub fn identifiers(&self) -> &[String] {
        self.identifiers.as_slice()
    }

    /// Identifiers of the records that succeeded, in event order.
    pub fn succeeded(&self) -> Vec<&str> {
        self.outcomes
            .iter()
            .enumerate()
            .filter(|(_, o)| o.reason().is_none())
            .map(|(index, _)| self.identifiers.get(index))
            .collect()
    }

    /// Every reported record, in event order.
    pub fn failures(&self) -> Vec<Failure<'_, E>> {
        self.outcomes
            .iter()
            .enumerate()
            .filter_map(|(index, outcome)| {
                // The reason first: a record that succeeded has its identifier not looked up.
                let reason = outcome.reason()?;
                Some(Failure {
                    index,
                    item_identifier: self.identifiers.get(index),
                    reason,
                    error: outcome.error(),
                    attempts: outcome.attempts(),
                })
            })
            .collect()
    }

    /// Lambda's partial batch response.
    pub fn response(&self) -> BatchResponse {
        BatchResponse {
            batch_item_failures: self
                .failures()
                .into_iter()
                .map(|f| f.item_identifier.to_owned())
                .collect(),
            source: self.summary.source,
        }
    }

    /// Whether the batch is non-empty and no record succeeded (the all-failed rule).
    pub fn all_failed(&self) -> bool {
        self.summary.records > 0 && self.summary.succeeded == 0
    }

    /// The summary figures.
    pub fn summary(&self) -> &BatchSummary {
        &self.summary
    }

    /// Converts every kept error.
    pub fn map_errors<F>(self, mut f: impl FnMut(E) -> F) -> BatchReport<F> {
        BatchReport {
            identifiers: self.identifiers,
            outcomes: self
                .outcomes
                .into_iter()
                .map(|o| o.map_error(&mut f))
                .collect(),
            summary: self.summary,
        }
    }

    /// The identifiers and outcomes, for faces that build their own objects.
    pub fn into_parts(self) -> (Vec<String>, Vec<Outcome<E>>, BatchSummary) {
        (self.identifiers.into_vec(), self.outcomes, self.summary)
    }
}

/// The current UTC time as RFC 3339 with milliseconds (no date library needed).
fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_has_the_right_shape() {
        let t = super::rfc3339_now();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'), "{t}");
    }
}
