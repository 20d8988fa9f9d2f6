//! Hostile values as a class: the scope, the owned scope, the async scope, both batch drivers
//! and the timer, run with payloads, errors, results and wakers whose `Drop` or `wake` panics,
//! at random points (proptest). Each property asserts what the pool promises under any input:
//! every call returns, no task outlives its scope, no worker is lost (the pool still runs
//! `workers` tasks at once afterwards), and every record ends exactly once.

mod common;

use std::future::Future;
use std::panic::{catch_unwind, panic_any, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use common::{all_workers_run_at_once, within, PanicOnDrop, LIMIT};
use lanepool::async_scope::AsyncScope;
use lanepool::batch::{run_plan_async, BatchOptions, RecordError};
use lanepool::event::BatchPlan;
use lanepool::lanes::Outcome;
use lanepool::pool::Pool;
use lanepool::timer::sleep;
use proptest::prelude::*;

/// What one task, handler attempt or future does.
#[derive(Clone, Copy, Debug)]
enum Act {
    /// Ends normally.
    Ok,
    /// Panics with a string.
    Panic,
    /// Panics with a payload whose `Drop` panics.
    PanicBomb,
    /// Holds a value whose `Drop` panics, and lets it go when it ends (normally).
    DropBomb,
    /// Returns an error whose `Drop` panics (drivers; elsewhere as `DropBomb`).
    ErrBomb,
    /// Returns a plain error (drivers; elsewhere as `Ok`).
    Err,
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        4 => Just(Act::Ok),
        1 => Just(Act::Panic),
        2 => Just(Act::PanicBomb),
        2 => Just(Act::DropBomb),
        2 => Just(Act::ErrBomb),
        1 => Just(Act::Err),
    ]
}

/// Does `act` as a task body: returns only for the kinds that end normally.
fn act_out(act: Act) {
    match act {
        Act::Ok | Act::Err => {}
        Act::Panic => panic!("task panicked"),
        Act::PanicBomb => panic_any(PanicOnDrop("payload dropped")),
        Act::DropBomb | Act::ErrBomb => drop(PanicOnDrop("captured value dropped")),
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(miri) { 2 } else { 24 })
}

/// A task tree: each task does its act after spawning its children.
#[derive(Clone, Debug)]
struct Tree {
    workers: usize,
    /// Per task: (act, children spawned first, microseconds of sleep).
    tasks: Vec<(Act, Vec<Act>, u64)>,
}

fn tree() -> impl Strategy<Value = Tree> {
    (
        1usize..4,
        prop::collection::vec(
            (act(), prop::collection::vec(act(), 0..3), 0u64..400),
            1..10,
        ),
    )
        .prop_map(|(workers, tasks)| Tree { workers, tasks })
}

/// Counts tasks alive (started, not ended) and ended, by a guard that ends with the task
/// however it ends.
#[derive(Default)]
struct Census {
    alive: AtomicUsize,
    ended: AtomicUsize,
}

struct Alive<'a>(&'a Census);

impl<'a> Alive<'a> {
    fn new(c: &'a Census) -> Self {
        c.alive.fetch_add(1, Ordering::SeqCst);
        Alive(c)
    }
}

impl Drop for Alive<'_> {
    fn drop(&mut self) {
        self.0.ended.fetch_add(1, Ordering::SeqCst);
        self.0.alive.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether some task of `t` panics (a value dropped with a panic counts: it panics in the task).
fn expects_panic(t: &Tree) -> bool {
    t.tasks.iter().any(|(a, kids, _)| {
        std::iter::once(a)
            .chain(kids)
            .any(|a| !matches!(a, Act::Ok | Act::Err))
    })
}

fn task_count(t: &Tree) -> usize {
    t.tasks.iter().map(|(_, kids, _)| 1 + kids.len()).sum()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// `Pool::scope`: tasks borrowing the caller's stack have all ended when it returns or
    /// unwinds, and the pool keeps every worker.
    #[test]
    #[cfg_attr(miri, ignore)] // spawns many threads with real sleeps
    fn scope_survives_hostile_tasks(t in tree()) {
        let total = task_count(&t);
        let expect_panic = expects_panic(&t);
        let (ended, alive, panicked, workers_ok) = within(LIMIT, move || {
            let pool = Pool::new(t.workers).unwrap();
            let census = Census::default();
            let result = catch_unwind(AssertUnwindSafe(|| {
                pool.scope(|s| {
                    for (act, kids, micros) in &t.tasks {
                        let census = &census;
                        s.spawn(move |s| {
                            let _alive = Alive::new(census);
                            for kid in kids {
                                s.spawn(move |_| {
                                    let _alive = Alive::new(census);
                                    act_out(*kid);
                                });
                            }
                            thread::sleep(Duration::from_micros(*micros));
                            act_out(*act);
                        });
                    }
                })
            }));
            let ended = census.ended.load(Ordering::SeqCst);
            let alive = census.alive.load(Ordering::SeqCst);
            let panicked = match result {
                Ok(()) => false,
                Err(payload) => { std::mem::forget(payload); true }
            };
            (ended, alive, panicked, all_workers_run_at_once(&pool, Duration::from_secs(5)))
        });
        prop_assert_eq!(ended, total);
        prop_assert_eq!(alive, 0);
        prop_assert_eq!(panicked, expect_panic);
        prop_assert!(workers_ok, "a worker was lost");
    }

    /// `OwnedScope`: a wait returns once every task ended; the pool keeps every worker.
    #[test]
    #[cfg_attr(miri, ignore)] // spawns many threads with real sleeps
    fn owned_scope_survives_hostile_tasks(t in tree()) {
        let total = task_count(&t);
        let expect_panic = expects_panic(&t);
        let (ended, panicked, workers_ok) = within(LIMIT, move || {
            let pool = Pool::new(t.workers).unwrap();
            let census = Arc::new(Census::default());
            let scope = pool.owned_scope();
            for (act, kids, micros) in t.tasks.clone() {
                let census = Arc::clone(&census);
                scope.spawn(move |s| {
                    let _alive = Alive::new(&census);
                    for kid in kids {
                        let census = Arc::clone(&census);
                        s.spawn(move |_| {
                            let _alive = Alive::new(&census);
                            act_out(kid);
                        });
                    }
                    thread::sleep(Duration::from_micros(micros));
                    act_out(act);
                });
            }
            let panicked = match scope.try_wait() {
                Ok(()) => false,
                Err(payload) => { std::mem::forget(payload); true }
            };
            let ended = census.ended.load(Ordering::SeqCst);
            drop(scope);
            (ended, panicked, all_workers_run_at_once(&pool, Duration::from_secs(5)))
        });
        prop_assert_eq!(ended, total);
        prop_assert_eq!(panicked, expect_panic);
        prop_assert!(workers_ok, "a worker was lost");
    }
}

/// An executor's waker that panics on one chosen wake-up (then behaves).
struct HostileWaker {
    wakes: AtomicUsize,
    panic_on: usize,
    woken: AtomicBool,
}

impl Wake for HostileWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        if self.wakes.fetch_add(1, Ordering::SeqCst) == self.panic_on {
            panic!("waker panicked");
        }
    }
}

/// Polls `fut` to completion with a `HostileWaker` (spinning politely when not woken).
fn block_on_hostile<F: Future>(fut: F, panic_on: usize) -> F::Output {
    let hostile = Arc::new(HostileWaker {
        wakes: AtomicUsize::new(0),
        panic_on,
        woken: AtomicBool::new(true),
    });
    let waker = Waker::from(Arc::clone(&hostile));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        if !hostile.woken.swap(false, Ordering::SeqCst) {
            thread::sleep(Duration::from_micros(200));
        }
    }
}

/// Pending once (waking itself), then ready.
struct Yield(bool);

impl Future for Yield {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A handler's behaviour per attempt, and the record's lane.
#[derive(Clone, Debug)]
struct Batch {
    /// Per record: lane (None: unkeyed), acts of its attempts (the last repeats).
    records: Vec<(Option<u8>, Vec<Act>, u64)>,
    concurrency: usize,
    retries: u32,
    workers: usize,
    /// Remaining time given to the call, in ms (None: no deadline).
    remaining_ms: Option<u64>,
}

fn batch() -> impl Strategy<Value = Batch> {
    (
        prop::collection::vec(
            (
                prop::option::weighted(0.7, 0u8..3),
                prop::collection::vec(act(), 1..4),
                0u64..3,
            ),
            1..14,
        ),
        1usize..5,
        0u32..3,
        1usize..4,
        prop::option::weighted(0.25, 2u64..30),
    )
        .prop_map(
            |(records, concurrency, retries, workers, remaining_ms)| Batch {
                records,
                concurrency,
                retries,
                workers,
                remaining_ms,
            },
        )
}

impl Batch {
    fn plan(&self) -> BatchPlan {
        BatchPlan::from_parts(
            None,
            self.records
                .iter()
                .enumerate()
                .map(|(i, (lane, _, _))| (format!("r{i}"), lane.map(|l| format!("lane{l}")))),
        )
    }

    fn options(&self) -> BatchOptions {
        let options = BatchOptions::new()
            .concurrency(self.concurrency)
            .retries(self.retries)
            .retry_backoff(Duration::from_micros(200))
            .raise_on_full_batch_failure(false);
        match self.remaining_ms {
            Some(ms) => options.remaining_time(Duration::from_millis(ms)),
            None => options,
        }
    }

    fn act(&self, index: usize, attempt: u32) -> Act {
        let acts = &self.records[index].1;
        acts[(attempt as usize - 1).min(acts.len() - 1)]
    }
}

/// An error whose `Drop` panics, unless disarmed first.
#[derive(Debug)]
struct Bomb(#[allow(dead_code)] Option<PanicOnDrop>);

/// What a handler attempt returns for `act` (the panicking kinds panic instead).
fn attempt_result(act: Act) -> Result<(), Bomb> {
    match act {
        Act::Ok => Ok(()),
        Act::Err => Err(Bomb(None)),
        Act::ErrBomb => Err(Bomb(Some(PanicOnDrop("error dropped")))),
        other => {
            act_out(other);
            Ok(())
        }
    }
}

/// Checks one driver run: every record ended exactly once, the calls match the attempts, a
/// lane ran in order, and nothing ran after the call returned.
fn check_run(
    b: &Batch,
    outcomes: &[Outcome<RecordError<Bomb>>],
    calls: &[AtomicUsize],
    calls_after: &[usize],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(outcomes.len(), b.records.len());
    for (i, outcome) in outcomes.iter().enumerate() {
        let made = calls[i].load(Ordering::SeqCst);
        prop_assert_eq!(
            made as u32,
            outcome.attempts(),
            "record {} calls vs attempts",
            i
        );
        prop_assert_eq!(
            made,
            calls_after[i],
            "record {} ran after the call returned",
            i
        );
        prop_assert!(outcome.attempts() <= 1 + b.retries);
        if let Outcome::Skipped { after } = outcome {
            prop_assert!(*after < i);
            prop_assert_eq!(b.records[*after].0, b.records[i].0, "skipped across lanes");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// The thread-pool driver: hostile errors, panics and payloads never hang it, lose a
    /// record or a worker.
    #[test]
    #[cfg_attr(miri, ignore)] // spawns threads with real sleeps
    fn sync_driver_survives_hostile_handlers(b in batch()) {
        let b2 = b.clone();
        let (outcomes, calls, after, workers_ok) = within(LIMIT, move || {
            let b = b2;
            let pool = Pool::new(b.workers).unwrap();
            let calls: Vec<AtomicUsize> = b.records.iter().map(|_| AtomicUsize::new(0)).collect();
            let report = pool
                .run_plan(b.plan(), &b.options(), |t, _| {
                    calls[t.index].fetch_add(1, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(b.records[t.index].2));
                    attempt_result(b.act(t.index, t.attempt))
                })
                .expect("the all-failed rule is off");
            thread::sleep(Duration::from_millis(5));
            let after: Vec<usize> = calls.iter().map(|c| c.load(Ordering::SeqCst)).collect();
            let (_, outcomes, _) = report.into_parts();
            (outcomes, calls, after, all_workers_run_at_once(&pool, Duration::from_secs(5)))
        });
        check_run(&b, &outcomes, &calls, &after)?;
        prop_assert!(workers_ok, "a worker was lost");
        std::mem::forget(outcomes); // errors that panic when dropped
    }

    /// The async driver, polled by an executor whose waker panics once: a panic of the
    /// executor's own waker may end the call (it is the executor's), but the driver's records
    /// still end exactly once whenever it returns, and nothing runs after it returned or
    /// unwound.
    #[test]
    #[cfg_attr(miri, ignore)] // real sleeps on the timer thread
    fn async_driver_survives_hostile_handlers(b in batch(), panic_on in prop::option::weighted(0.3, 0usize..20)) {
        let calls: Vec<AtomicUsize> = b.records.iter().map(|_| AtomicUsize::new(0)).collect();
        let alive = Census::default();
        let options = b.options();
        let run = run_plan_async(b.plan(), &options, |t| {
            calls[t.index].fetch_add(1, Ordering::SeqCst);
            let act = b.act(t.index, t.attempt);
            let ms = b.records[t.index].2;
            let alive = &alive;
            async move {
                let _alive = Alive::new(alive);
                let _held = matches!(act, Act::DropBomb).then(|| PanicOnDrop("future dropped"));
                Yield(false).await;
                if ms > 0 {
                    sleep(Duration::from_millis(ms)).await;
                }
                attempt_result(if matches!(act, Act::DropBomb) { Act::Ok } else { act })
            }
        });
        let result = within_thread(|| catch_unwind(AssertUnwindSafe(|| {
            block_on_hostile(run, panic_on.unwrap_or(usize::MAX))
        })));
        prop_assert_eq!(alive.alive.load(Ordering::SeqCst), 0, "a handler future outlived the call");
        match result {
            Ok(report) => {
                let report = report.expect("the all-failed rule is off");
                thread::sleep(Duration::from_millis(5));
                let after: Vec<usize> = calls.iter().map(|c| c.load(Ordering::SeqCst)).collect();
                let (_, outcomes, _) = report.into_parts();
                check_run(&b, &outcomes, &calls, &after)?;
                std::mem::forget(outcomes);
            }
            Err(payload) => {
                // Only the executor's waker may make the call panic.
                prop_assert!(panic_on.is_some(), "a hostile value escaped the driver");
                prop_assert_eq!(lanepool::pool::panic_message(&*payload), "waker panicked");
            }
        }
    }

    /// The async scope under the same hostile futures and a waker that panics once: the
    /// scope's call returns or unwinds, and then no spawned future is alive.
    #[test]
    fn async_scope_survives_hostile_futures(acts in prop::collection::vec(act(), 1..10), limit in 1usize..4, panic_on in prop::option::weighted(0.3, 0usize..10)) {
        let census = Census::default();
        let result = catch_unwind(AssertUnwindSafe(|| {
            block_on_hostile(async {
                let scope = AsyncScope::new(limit);
                for act in &acts {
                    let census = &census;
                    scope.spawn(async move {
                        let _alive = Alive::new(census);
                        let _held = matches!(act, Act::DropBomb).then(|| PanicOnDrop("future dropped"));
                        Yield(false).await;
                        if matches!(act, Act::Panic | Act::PanicBomb) {
                            act_out(*act);
                        }
                    });
                }
                scope.await
            }, panic_on.unwrap_or(usize::MAX))
        }));
        prop_assert_eq!(census.alive.load(Ordering::SeqCst), 0);
        let expect_panic = acts.iter().any(|a| matches!(a, Act::Panic | Act::PanicBomb | Act::DropBomb));
        match result {
            Ok(outputs) => {
                prop_assert!(!expect_panic);
                prop_assert_eq!(outputs.len(), acts.len());
            }
            Err(payload) => {
                prop_assert!(expect_panic || panic_on.is_some());
                std::mem::forget(payload);
            }
        }
    }

    /// The timer: sleeps polled with wakers that panic never stop it; later sleeps still fire.
    #[test]
    #[cfg_attr(miri, ignore)] // waits on the timer thread
    fn the_timer_survives_hostile_wakers(delays in prop::collection::vec(0u64..4, 1..8)) {
        let mut sleeps = Vec::new();
        for (i, ms) in delays.iter().enumerate() {
            let hostile = Arc::new(HostileWaker { wakes: AtomicUsize::new(0), panic_on: i % 2, woken: AtomicBool::new(false) });
            let waker = Waker::from(hostile);
            let mut s = sleep(Duration::from_millis(*ms + 1));
            let _ = Pin::new(&mut s).poll(&mut Context::from_waker(&waker));
            sleeps.push(s);
        }
        thread::sleep(Duration::from_millis(6));
        let fired = within(Duration::from_secs(10), || {
            futures::executor::block_on(sleep(Duration::from_millis(2)));
            true
        });
        prop_assert!(fired);
        drop(sleeps);
    }
}

/// Runs `f` on a helper thread with the hang limit, returning its value.
fn within_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    thread::scope(|s| {
        let handle = s.spawn(f);
        let start = std::time::Instant::now();
        while !handle.is_finished() {
            assert!(start.elapsed() < LIMIT, "did not finish within {LIMIT:?}");
            thread::sleep(Duration::from_millis(1));
        }
        handle.join().unwrap()
    })
}
