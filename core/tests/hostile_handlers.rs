//! Hostile handlers: panics with non-string payloads, a 10 MB panic message, a panicking
//! `Drop` of a value the handler (or its future) holds. Each must end as that record's failure
//! with a readable reason, and the batch goes on.

mod common;

use common::within;

use std::any::Any;
use std::panic::{catch_unwind, panic_any};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use lanepool::batch::{run_plan_async, BatchOptions, RecordError, RecordReport};
use lanepool::event::BatchPlan;
use lanepool::lanes::Outcome;
use lanepool::Pool;

fn plan(n: usize, lane: Option<&str>) -> BatchPlan {
    BatchPlan::from_parts(
        None,
        (0..n).map(|i| (format!("r{i}"), lane.map(str::to_owned))),
    )
}

/// The size of the huge panic message: 10 MB (64 KB under Miri, which is too slow for 10 MB).
const BIG: usize = if cfg!(miri) { 64 << 10 } else { 10 << 20 };

/// How long a test may take before it counts as hung (Miri runs far slower).
const LIMIT: Duration = Duration::from_secs(if cfg!(miri) { 600 } else { 60 });

/// A struct payload, not a string.
#[derive(Debug)]
struct Oops {
    #[allow(dead_code)]
    code: u32,
}

/// Panics when dropped (unless already unwinding, which would abort the process).
struct PanicOnDrop(&'static str);
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic!("{}", self.0);
        }
    }
}

fn panic_text<E: std::fmt::Debug>(report: &RecordReport<E>, index: usize) -> String {
    match &report.outcomes()[index] {
        Outcome::Failed {
            error: RecordError::Panic(m),
            ..
        } => m.clone(),
        other => panic!("record {index}: expected a panic failure, got {other:?}"),
    }
}

fn quiet_panics() {
    // Keep the test output readable: these tests panic on purpose, some with 10 MB messages.
    std::panic::set_hook(Box::new(|info| {
        let text = lanepool::pool::panic_message(info.payload());
        let short: String = text.chars().take(120).collect();
        eprintln!("panic at {:?}: {short}", info.location());
    }));
}

/// Every kind of hostile payload, one per record, unkeyed so the batch goes on around them.
fn hostile(index: usize) -> Result<(), String> {
    match index {
        0 => panic_any(42_i32),
        1 => panic_any(Oops { code: 7 }),
        2 => {
            let inner: Box<dyn Any + Send> = Box::new(String::from("boxed string payload"));
            panic_any(inner)
        }
        3 => {
            let inner: Box<dyn Any + Send> = Box::new(3.5_f64);
            panic_any(inner)
        }
        4 => std::panic::resume_unwind(Box::new(())),
        5 => panic!("{}", "x".repeat(BIG)),
        6 => {
            // A value whose Drop panics, dropped on the handler's normal return.
            let _guard = PanicOnDrop("drop of a handler's value panicked");
            Ok(())
        }
        7 => Err(String::from("plain error")),
        _ => Ok(()),
    }
}

fn check_hostile_report(report: &RecordReport<String>, n: usize) {
    let non_string = "non-string panic payload";
    assert_eq!(panic_text(report, 0), non_string);
    assert_eq!(panic_text(report, 1), non_string);
    assert_eq!(panic_text(report, 2), "boxed string payload");
    assert_eq!(panic_text(report, 3), non_string);
    assert_eq!(panic_text(report, 4), non_string);
    let big = panic_text(report, 5);
    assert_eq!(big.len(), BIG);
    assert!(big.bytes().all(|b| b == b'x'));
    assert_eq!(panic_text(report, 6), "drop of a handler's value panicked");
    assert!(matches!(
        &report.outcomes()[7],
        Outcome::Failed { error: RecordError::Error(e), .. } if e == "plain error"
    ));
    for i in 8..n {
        assert!(
            matches!(report.outcomes()[i], Outcome::Succeeded { attempts: 1 }),
            "record {i}: {:?}",
            report.outcomes()[i].reason()
        );
    }
    // Every reason is readable as text (what the faces and the log line show).
    for f in report.failures() {
        let text = f.error.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            !text.is_empty(),
            "record {} has no readable reason",
            f.index
        );
        assert!(std::str::from_utf8(text.as_bytes()).is_ok());
    }
    assert_eq!(report.summary().error, 8);
    assert_eq!(report.summary().succeeded, n - 8);
}

#[test]
fn sync_driver_turns_every_hostile_panic_into_that_records_failure() {
    quiet_panics();
    let pool = Pool::new(3).unwrap();
    let n = 12;
    let report = within(LIMIT, move || {
        pool.run_plan(plan(n, None), &BatchOptions::new(), |t, _| hostile(t.index))
            .unwrap()
    });
    check_hostile_report(&report, n);
}

#[test]
fn async_driver_turns_every_hostile_panic_into_that_records_failure() {
    quiet_panics();
    let n = 12;
    let report = within(LIMIT, move || {
        futures::executor::block_on(run_plan_async(
            plan(n, None),
            &BatchOptions::new(),
            |t| async move {
                lanepool::timer::sleep(Duration::from_millis(1)).await;
                hostile(t.index)
            },
        ))
        .unwrap()
    });
    check_hostile_report(&report, n);
}

#[test]
fn a_hostile_panic_skips_its_lane_and_retries_like_any_failure() {
    quiet_panics();
    let pool = Pool::new(2).unwrap();
    let calls = AtomicUsize::new(0);
    let options = BatchOptions::new()
        .retries(2)
        .retry_backoff(Duration::from_millis(1))
        .raise_on_full_batch_failure(false);
    let report = pool
        .run_plan(plan(4, Some("lane")), &options, |t, _| {
            if t.index == 1 {
                calls.fetch_add(1, Ordering::SeqCst);
                panic_any(Oops { code: 1 });
            }
            Ok::<(), ()>(())
        })
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3, "1 attempt + 2 retries");
    let reasons: Vec<_> = report.outcomes().iter().map(|o| o.reason()).collect();
    use lanepool::lanes::Reason::*;
    assert_eq!(reasons, [None, Some(Error), Some(Skipped), Some(Skipped)]);
    assert_eq!(report.outcomes()[1].attempts(), 3);
}

#[test]
fn an_async_handlers_future_dropping_a_panicking_value_fails_only_its_record() {
    quiet_panics();
    let report =
        futures::executor::block_on(run_plan_async(plan(6, None), &BatchOptions::new(), |t| {
            // Captured by the future, dropped inside its last poll when it completes.
            let guard = (t.index == 2).then(|| PanicOnDrop("captured value's Drop panicked"));
            async move {
                lanepool::timer::sleep(Duration::from_millis(1)).await;
                drop(guard);
                Ok::<(), ()>(())
            }
        }))
        .unwrap();
    assert_eq!(panic_text(&report, 2), "captured value's Drop panicked");
    assert_eq!(report.summary().succeeded, 5);
}

/// A panic payload whose own `Drop` panics.
struct PayloadPanicsOnDrop;
impl Drop for PayloadPanicsOnDrop {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic!("the panic payload's Drop panicked");
        }
    }
}

/// The sync driver drops a caught panic's payload inside `catch_unwind` and leaks a second
/// panic's payload: a payload whose `Drop` panics fails only its record (it used to unwind out
/// of the runner with the record still counted as running, and the batch hung).
#[test]
fn a_panic_payload_whose_drop_panics_fails_only_its_record() {
    quiet_panics();
    let pool = Pool::new(2).unwrap();
    let report = within(LIMIT, move || {
        pool.run_plan(plan(4, None), &BatchOptions::new(), |t, _| {
            if t.index == 1 {
                panic_any(PayloadPanicsOnDrop);
            }
            Ok::<(), ()>(())
        })
        .unwrap()
    });
    assert_eq!(panic_text(&report, 1), "non-string panic payload");
    assert_eq!(report.summary().succeeded, 3);
}

/// A future that keeps a value after it completes (a hand-written future, not an `async`
/// block, so the value is dropped when the driver drops the finished future).
struct HoldsAfterReady(#[allow(dead_code)] Option<PanicOnDrop>);
impl std::future::Future for HoldsAfterReady {
    type Output = Result<(), ()>;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// The async driver drops a finished (or, with `cancel_at_deadline`, a cancelled) handler
/// future inside `catch_unwind`: a panicking `Drop` of a value the future holds fails its
/// record instead of unwinding out of the whole call and losing the batch's report.
#[test]
fn a_future_whose_drop_panics_after_completion_fails_only_its_record() {
    quiet_panics();
    let result = catch_unwind(|| {
        futures::executor::block_on(run_plan_async(plan(3, None), &BatchOptions::new(), |t| {
            HoldsAfterReady((t.index == 1).then(|| PanicOnDrop("future's Drop panicked")))
        }))
    });
    let report = result
        .expect("the panic of a future's Drop escaped the batch call")
        .unwrap();
    assert_eq!(panic_text(&report, 1), "future's Drop panicked");
    assert_eq!(report.summary().succeeded, 2);
}

/// The async driver calls the handler (which builds the record's future) inside
/// `catch_unwind`: a handler that panics before it returns its future fails its record.
#[test]
fn an_async_handler_panicking_before_returning_its_future_fails_only_its_record() {
    quiet_panics();
    let result = catch_unwind(|| {
        futures::executor::block_on(run_plan_async(plan(3, None), &BatchOptions::new(), |t| {
            assert!(t.index != 1, "could not read record {}", t.index);
            async { Ok::<(), ()>(()) }
        }))
    });
    let report = result
        .expect("a handler's synchronous panic escaped the batch call")
        .unwrap();
    assert_eq!(panic_text(&report, 1), "could not read record 1");
    assert_eq!(report.summary().succeeded, 2);
}
