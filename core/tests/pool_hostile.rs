//! The pool's own bookkeeping under hostile values: panic payloads, errors and wakers whose
//! `Drop` or `wake` panics, an async scope polled while its thread unwinds, a fork, an owned
//! scope's last handle dropped far from where it was made, a cancel before the deadline.
//! Each case once broke the invariant `Pool::scope` relies on (no task outlives its scope) or
//! left a scope, lane or timer waiting forever.

mod common;

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, panic_any, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use common::{all_workers_run_at_once, within, PanicOnDrop, LIMIT};
use lanepool::async_scope::AsyncScope;
use lanepool::batch::{run_plan_async, BatchOptions, RecordError};
use lanepool::event::BatchPlan;
use lanepool::lanes::{LaneScheduler, Next, Outcome, SchedulerConfig};
use lanepool::pool::{panic_message, Pool};
use lanepool::timer::sleep;

/// Waits (up to `LIMIT`) until `flag` is set.
fn wait_for(flag: &AtomicBool) {
    let start = Instant::now();
    while !flag.load(Ordering::SeqCst) && start.elapsed() < LIMIT {
        thread::sleep(Duration::from_millis(1));
    }
}

/// Item 1. The scope's caller, helping in its wait, records a second panic whose payload's
/// `Drop` panics. That panic used to unwind out of `Pool::scope` while a worker still ran a
/// task reading the caller's stack (a use-after-free under ASan).
#[test]
#[cfg_attr(miri, ignore)] // timing-based: needs real sleeps on real threads
fn a_payload_drop_panic_on_the_caller_does_not_end_the_scope_early() {
    within(LIMIT, || {
        let pool = Pool::new(2).unwrap();
        let caller = thread::current().id();
        let first_panicked = AtomicBool::new(false);
        let caller_role_taken = AtomicBool::new(false);
        let worker_roles = AtomicUsize::new(0);
        let slow_done = Arc::new(AtomicBool::new(false));
        let slow_sum = Arc::new(AtomicUsize::new(0));
        let numbers: Vec<usize> = (1..=100).collect();
        let result = catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|s| {
                for _ in 0..3 {
                    s.spawn(|_| {
                        if thread::current().id() == caller
                            && !caller_role_taken.swap(true, Ordering::SeqCst)
                        {
                            wait_for(&first_panicked);
                            // Let the worker record its panic first (a panic hook printing a
                            // backtrace can take a while on a loaded machine).
                            thread::sleep(Duration::from_millis(300));
                            panic_any(PanicOnDrop("payload dropped"));
                        }
                        match worker_roles.fetch_add(1, Ordering::SeqCst) {
                            0 => {
                                first_panicked.store(true, Ordering::SeqCst);
                                panic!("first");
                            }
                            _ => {
                                thread::sleep(Duration::from_millis(1_000));
                                slow_sum.store(numbers.iter().sum(), Ordering::SeqCst);
                                slow_done.store(true, Ordering::SeqCst);
                            }
                        }
                    });
                }
            })
        }));
        // The scope has returned: every task borrowing `numbers` must have finished.
        let done_at_return = slow_done.load(Ordering::SeqCst);
        let payload = result.expect_err("a task panicked");
        assert!(
            done_at_return,
            "Pool::scope returned while a task still ran"
        );
        assert_eq!(slow_sum.load(Ordering::SeqCst), 5050);
        if panic_message(&*payload) != "first" {
            // The machine was slow enough that the caller's panic was recorded first: then its
            // payload is the one resumed, and it must not be dropped here.
            std::mem::forget(payload);
        }
        assert!(all_workers_run_at_once(&pool, Duration::from_secs(5)));
    });
}

/// Item 2. The same payload drop on a worker used to kill the worker: its task was never
/// counted finished, so the scope hung, and the pool stayed a worker short.
#[test]
#[cfg_attr(miri, ignore)] // timing-based
fn a_payload_drop_panic_on_a_worker_neither_hangs_nor_loses_it() {
    within(LIMIT, || {
        let pool = Pool::new(1).unwrap();
        let caller = thread::current().id();
        let worker_tasks = AtomicUsize::new(0);
        let ran = AtomicUsize::new(0);
        let result = catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|s| {
                for _ in 0..6 {
                    s.spawn(|_| {
                        ran.fetch_add(1, Ordering::SeqCst);
                        if thread::current().id() == caller {
                            // Leave the worker the others until it has panicked twice.
                            let start = Instant::now();
                            while worker_tasks.load(Ordering::SeqCst) < 2 && start.elapsed() < LIMIT
                            {
                                thread::sleep(Duration::from_millis(1));
                            }
                            thread::sleep(Duration::from_millis(100));
                        } else if worker_tasks.fetch_add(1, Ordering::SeqCst) == 0 {
                            panic!("first");
                        } else {
                            panic_any(PanicOnDrop("payload dropped"));
                        }
                    });
                }
            })
        }));
        let payload = result.expect_err("a task panicked");
        assert_eq!(ran.load(Ordering::SeqCst), 6);
        assert!(
            worker_tasks.load(Ordering::SeqCst) >= 2,
            "the case needs two worker panics"
        );
        assert_eq!(panic_message(&*payload), "first");
        assert!(all_workers_run_at_once(&pool, Duration::from_secs(5)));
    });
}

/// An error whose `Drop` panics (unless the thread is unwinding).
#[derive(Debug)]
struct BombErr;

impl Drop for BombErr {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic!("BombErr dropped");
        }
    }
}

fn two_records() -> BatchPlan {
    BatchPlan::from_parts(None, (0..2).map(|i| (format!("r{i}"), None)))
}

fn retry_once() -> BatchOptions {
    BatchOptions::new()
        .concurrency(2)
        .retries(1)
        .retry_backoff(Duration::from_millis(10))
}

/// Item 3, sync driver. A retry drops the first attempt's error: that used to happen inside
/// the scheduler, under the run's lock, with the record already out of every queue and not
/// yet running, so it never ended.
#[test]
#[cfg_attr(miri, ignore)] // spawns threads and sleeps for a backoff
fn a_retried_error_whose_drop_panics_still_ends_its_record() {
    let report = within(LIMIT, || {
        let pool = Pool::new(2).unwrap();
        let attempts = AtomicUsize::new(0);
        let report = pool
            .run_plan(two_records(), &retry_once(), |t, _| {
                if t.index == 0 && attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err(BombErr)
                } else {
                    Ok(())
                }
            })
            .unwrap();
        assert!(all_workers_run_at_once(&pool, Duration::from_secs(5)));
        let outcomes: Vec<String> = report.outcomes().iter().map(|o| format!("{o:?}")).collect();
        outcomes
    });
    assert_eq!(
        report,
        ["Succeeded { attempts: 2 }", "Succeeded { attempts: 1 }"]
    );
}

/// Item 3, async driver: the same case used to let the panic escape `run_plan_async`.
#[test]
#[cfg_attr(miri, ignore)] // sleeps for a backoff on the timer thread
fn a_retried_error_whose_drop_panics_stays_inside_the_async_driver() {
    let attempts = AtomicUsize::new(0);
    let options = retry_once();
    let run = run_plan_async(two_records(), &options, |t| {
        let fail = t.index == 0 && attempts.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if fail {
                Err(BombErr)
            } else {
                Ok(())
            }
        }
    });
    let result = catch_unwind(AssertUnwindSafe(|| {
        futures::executor::block_on(common::within_async(LIMIT, run))
    }));
    let report = result.expect("no panic escapes the driver").unwrap();
    assert!(matches!(
        report.outcomes(),
        [
            Outcome::Succeeded { attempts: 2 },
            Outcome::Succeeded { attempts: 1 }
        ]
    ));
}

/// Runs an `AsyncScope` of two futures that each yield once, from a destructor.
struct PollsScopeOnDrop {
    outputs: Arc<parking_lot::Mutex<Option<Vec<u32>>>>,
}

impl Drop for PollsScopeOnDrop {
    fn drop(&mut self) {
        let outputs = futures::executor::block_on(async {
            let scope = AsyncScope::new(2);
            for id in [1_u32, 2] {
                scope.spawn(async move {
                    YieldOnce(false).await;
                    id
                });
            }
            scope.await
        });
        *self.outputs.lock() = Some(outputs);
    }
}

/// Pending on its first poll (waking itself), ready on the second.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Item 4. An async scope polled normally from a destructor that runs during an unwind used
/// to take every poll for a panicking one and drop its futures: the outputs came back empty.
#[test]
fn an_async_scope_polled_while_the_thread_unwinds_keeps_its_futures() {
    let outputs = Arc::new(parking_lot::Mutex::new(None));
    let guard = PollsScopeOnDrop {
        outputs: Arc::clone(&outputs),
    };
    let result = catch_unwind(AssertUnwindSafe(move || {
        let _guard = guard;
        panic!("unwinding");
    }));
    assert!(result.is_err());
    assert_eq!(outputs.lock().take(), Some(vec![1, 2]));
}

/// A waker whose `wake` panics.
struct PanickingWake;

impl Wake for PanickingWake {
    fn wake(self: Arc<Self>) {
        panic!("wake panicked");
    }
}

/// Item 5. A waker whose `wake` panics used to kill the timer thread, and every later sleep in
/// the process (retry backoffs, deadlines) hung.
#[test]
#[cfg_attr(miri, ignore)] // waits on the timer thread
fn a_panicking_waker_does_not_stop_the_timer() {
    let waker = Waker::from(Arc::new(PanickingWake));
    let mut cx = Context::from_waker(&waker);
    let mut bad = sleep(Duration::from_millis(10));
    assert!(Pin::new(&mut bad).poll(&mut cx).is_pending());
    thread::sleep(Duration::from_millis(30)); // it fires, and its wake panics
    let start = Instant::now();
    within(LIMIT, || {
        futures::executor::block_on(sleep(Duration::from_millis(20)));
    });
    assert!(start.elapsed() >= Duration::from_millis(20));
    drop(bad);
}

/// Item 6. The timer thread does not exist in a forked child: a sleep there used to wait
/// forever. A sleep registered before the fork and polled in the child fires too.
#[test]
#[cfg(unix)]
#[cfg_attr(miri, ignore)] // Miri cannot fork
fn the_timer_works_in_a_forked_child() {
    futures::executor::block_on(sleep(Duration::from_millis(5))); // the timer is running
    let waker = futures::task::noop_waker();
    let mut early = sleep(Duration::from_millis(30));
    assert!(Pin::new(&mut early)
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    let code = common::in_forked_child(Duration::from_secs(20), move || {
        let start = Instant::now();
        futures::executor::block_on(sleep(Duration::from_millis(20)));
        if start.elapsed() < Duration::from_millis(20) {
            return 11;
        }
        futures::executor::block_on(early); // registered in the parent
        0
    });
    assert_eq!(code, 0, "child check failed");
}

/// An owned scope made before a fork: in the child its tasks run on the thread that waits,
/// as its docs say.
#[test]
#[cfg(unix)]
#[cfg_attr(miri, ignore)] // Miri cannot fork
fn an_owned_scope_made_before_a_fork_runs_its_tasks_on_the_waiter_in_the_child() {
    let pool = Pool::new(2).unwrap();
    let scope = pool.owned_scope();
    let total = Arc::new(AtomicUsize::new(0));
    let t = Arc::clone(&total);
    scope.spawn(move |_| {
        t.fetch_add(1, Ordering::SeqCst);
    });
    scope.wait();
    let code = common::in_forked_child(Duration::from_secs(20), || {
        let me = thread::current().id();
        let (tx, rx) = mpsc::channel();
        for i in 0..10 {
            let tx = tx.clone();
            scope.spawn(move |s| {
                let tx2 = tx.clone();
                s.spawn(move |_| tx2.send((i, thread::current().id())).unwrap());
                tx.send((i, thread::current().id())).unwrap();
            });
        }
        drop(tx);
        scope.wait();
        let ran: Vec<_> = rx.iter().collect();
        if ran.len() != 20 {
            return 11;
        }
        if ran.iter().any(|(_, id)| *id != me) {
            return 12;
        }
        0
    });
    assert_eq!(code, 0, "child check failed");
    assert_eq!(total.load(Ordering::SeqCst), 1);
}

/// Item 7. The last handle of an owned scope dropped by a task of a `Pool::scope` that one of
/// the owned scope's tasks entered, on another worker: the drop waited for the owned scope,
/// which waited for the nested scope, which waited for the drop.
#[test]
#[cfg_attr(miri, ignore)] // timing-based
fn the_last_owned_handle_dropped_in_a_nested_scope_task_does_not_wait() {
    within(LIMIT, || {
        let pool = Pool::new(2).unwrap();
        let owned = pool.owned_scope();
        let (tx, rx) = mpsc::channel::<lanepool::pool::OwnedScope>();
        let (done_tx, done_rx) = mpsc::channel();
        let inner_pool = pool.clone();
        owned.spawn(move |_| {
            let handle = rx.recv().unwrap();
            let dropper = thread::current().id();
            let dropped_on = parking_lot::Mutex::new(None);
            inner_pool.scope(|s| {
                s.spawn(|_| {
                    *dropped_on.lock() = Some(thread::current().id());
                    drop(handle);
                });
                thread::sleep(Duration::from_millis(200));
            });
            done_tx.send(*dropped_on.lock() != Some(dropper)).unwrap();
        });
        tx.send(owned).unwrap();
        // The nested task runs on the other worker while this one sleeps in the scope body.
        let on_other_thread = done_rx
            .recv_timeout(LIMIT)
            .expect("the owned task finished");
        assert!(
            on_other_thread,
            "the nested task ran where the handle was dropped"
        );
    });
}

/// A payload that reports how it ended.
fn boxed(payload: impl Any + Send) -> Box<dyn Any + Send> {
    Box::new(payload)
}

/// Item 8. `cancel` before the deadline used to leave the rest of the lane in no queue: the
/// scheduler offered neither work nor a wake-up time, and never finished.
#[test]
fn cancel_before_the_deadline_skips_the_rest_of_the_lane() {
    let config = SchedulerConfig {
        concurrency: 4,
        deadline: Some(Duration::from_secs(60)),
        ..SchedulerConfig::default()
    };
    let mut s: LaneScheduler<Box<dyn Any + Send>> =
        LaneScheduler::new(vec![Some(0), Some(0), Some(0), None], config);
    let t = Duration::ZERO;
    let Next::Run(first) = s.next(t) else {
        panic!("the lane's head runs")
    };
    let Next::Run(unkeyed) = s.next(t) else {
        panic!("the unkeyed record runs")
    };
    assert_eq!((first.index, unkeyed.index), (0, 3));
    s.cancel(first.index, Some(boxed("stopped"))).unwrap();
    s.complete(unkeyed.index, Ok(()), t).unwrap();
    assert_eq!(s.next(Duration::from_millis(1)), Next::Done);
    let outcomes = s.into_outcomes().unwrap();
    assert!(matches!(outcomes[0], Outcome::Deadline { attempts: 1, .. }));
    assert!(matches!(outcomes[1], Outcome::Skipped { after: 0 }));
    assert!(matches!(outcomes[2], Outcome::Skipped { after: 0 }));
    assert!(matches!(outcomes[3], Outcome::Succeeded { attempts: 1 }));
}

/// A retried record's old error is handed to the driver, never dropped by the scheduler.
#[test]
fn the_scheduler_hands_displaced_errors_to_the_driver() {
    let config = SchedulerConfig {
        concurrency: 1,
        retries: 2,
        backoff: lanepool::lanes::Backoff {
            base: Duration::ZERO,
            ..Default::default()
        },
        ..SchedulerConfig::default()
    };
    let mut s: LaneScheduler<BombErr> = LaneScheduler::new(vec![None], config);
    let t = Duration::ZERO;
    for attempt in 1..=2 {
        let Next::Run(ticket) = s.next(t) else {
            panic!("attempt {attempt} runs")
        };
        assert_eq!(ticket.attempt, attempt);
        s.complete(0, Err(BombErr), t).unwrap();
    }
    let Next::Run(last) = s.next(t) else {
        panic!("the last attempt runs")
    };
    assert_eq!(last.attempt, 3);
    let displaced = s.take_displaced();
    assert_eq!(displaced.len(), 2);
    std::mem::forget(displaced); // they would panic when dropped
    s.complete(0, Ok(()), t).unwrap();
    assert_eq!(s.next(t), Next::Done);
    assert!(matches!(
        s.into_outcomes().unwrap()[0],
        Outcome::Succeeded { attempts: 3 }
    ));
}

#[allow(dead_code)]
fn _record_error_is_send(e: RecordError<BombErr>) -> impl Send {
    e
}
