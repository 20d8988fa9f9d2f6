//! `InFlightLimit` against hostile hooks and handlers: a wake-up hook that panics, a hook whose
//! captures panic when dropped, a handler that panics (sync and async) and a handler future
//! whose `Drop` panics. The limit's counts stay right and no slot is lost.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{within, PanicOnDrop, LIMIT};
use lanepool::batch::{run_plan_async, BatchOptions, InFlightLimit};
use lanepool::event::BatchPlan;
use lanepool::Pool;

#[test]
fn a_panicking_wake_hook_does_not_unwind_out_of_release() {
    let limit = InFlightLimit::new(1).unwrap();
    let (a, b) = (limit.register(), limit.register());
    let woken = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&woken);
    b.set_wake_hook(move || {
        count.fetch_add(1, Ordering::SeqCst);
        panic!("hook");
    });
    assert!(a.try_acquire() && !b.try_acquire());
    let released = catch_unwind(AssertUnwindSafe(|| a.release()));
    assert_eq!(released.expect("release does not unwind"), Ok(Some(b.id())));
    assert_eq!(woken.load(Ordering::SeqCst), 1);
    assert!(b.try_acquire(), "the slot was handed over all the same");
    assert_eq!(limit.in_flight(), 1);
}

#[test]
fn a_hook_whose_drop_panics_is_dropped_safely() {
    let limit = InFlightLimit::new(1).unwrap();
    let call = limit.register();
    let bomb = PanicOnDrop("hook captures");
    call.set_wake_hook(move || {
        let _keep = &bomb;
    });
    // Replacing the hook drops the old one; dropping the call drops the new one.
    let bomb = PanicOnDrop("second hook captures");
    let replaced = catch_unwind(AssertUnwindSafe(|| {
        call.set_wake_hook(move || {
            let _keep = &bomb;
        })
    }));
    assert!(replaced.is_ok(), "replacing a hook does not unwind");
    assert!(call.try_acquire());
    let dropped = catch_unwind(AssertUnwindSafe(|| drop(call)));
    assert!(dropped.is_ok(), "dropping the call does not unwind");
    assert_eq!(limit.in_flight(), 0, "its slot came back");
    assert_eq!(limit.calls(), 0);
}

fn plan(n: usize) -> BatchPlan {
    BatchPlan::from_parts(None, (0..n).map(|i| (format!("r{i}"), None)))
}

#[test]
fn panicking_handlers_give_their_slots_back() {
    within(LIMIT, || {
        let pool = Pool::new(2).unwrap();
        let limit = InFlightLimit::new(2).unwrap();
        let options = BatchOptions::new()
            .retries(1)
            .retry_backoff(std::time::Duration::ZERO)
            .raise_on_full_batch_failure(false)
            .in_flight_limit(limit.clone());
        // Sync: every other record panics, on both attempts.
        let report = pool
            .run_plan(plan(10), &options, |t, _| {
                if t.index % 2 == 1 {
                    panic!("record {}", t.index);
                }
                Ok::<(), ()>(())
            })
            .unwrap();
        assert_eq!(report.summary().error, 5);
        assert_eq!(limit.in_flight(), 0);
        // Async: a panic before the future exists, a panic while polled, a future whose
        // `Drop` panics when it ends.
        let report = futures::executor::block_on(run_plan_async(plan(12), &options, |t| {
            if t.index % 3 == 0 {
                panic!("before the future");
            }
            let bomb = (t.index % 3 == 2).then_some(PanicOnDrop("future state"));
            async move {
                let _bomb = bomb;
                if t.index % 3 == 1 {
                    panic!("while polled");
                }
                Ok::<(), ()>(())
            }
        }))
        .unwrap();
        assert_eq!(report.summary().error, 12);
        assert_eq!(limit.in_flight(), 0);
        assert_eq!(limit.calls(), 0);
    });
}
