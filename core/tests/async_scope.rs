//! AsyncScope behaviour, each test run under tokio current-thread, tokio multi-thread (the scope
//! is moved into a spawned task, so it must be `Send`) and `futures::executor::block_on`.

mod common;

use common::within_async as within;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use lanepool::async_scope::{try_scope, AsyncScope, Spawner, TryAsyncScope};
use lanepool::timer::sleep;

// ---------- helpers ----------

/// Increments a counter when dropped.
struct DropGuard(Arc<AtomicUsize>);
impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Tracks how many futures run at once.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}
impl Gauge {
    fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }
    fn exit(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A minimal async lock flag (no runtime): `lock().await` waits until it is free.
#[derive(Default)]
struct AsyncFlag {
    held: AtomicBool,
    waiters: Mutex<Vec<Waker>>,
}
impl AsyncFlag {
    fn lock(&self) -> impl Future<Output = ()> + '_ {
        poll_fn(move |cx| {
            if self
                .held
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return Poll::Ready(());
            }
            self.waiters.lock().unwrap().push(cx.waker().clone());
            // Re-check after registering, to not miss an unlock in between.
            if self
                .held
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return Poll::Ready(());
            }
            Poll::Pending
        })
    }
    fn unlock(&self) {
        self.held.store(false, Ordering::SeqCst);
        for w in self.waiters.lock().unwrap().drain(..) {
            w.wake();
        }
    }
}

/// Yields once to the executor.
async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// Small deterministic PRNG (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

// ---------- test bodies (each run on every executor) ----------

async fn completes_after_all_nested() {
    let finished = Arc::new(AtomicUsize::new(0));
    let scope = AsyncScope::new(3);
    let spawner = scope.spawner();
    for i in 0..4u64 {
        let finished = finished.clone();
        let spawner = spawner.clone();
        scope.spawn(async move {
            sleep(Duration::from_millis(2 + i)).await;
            let f = finished.clone();
            let nested = spawner.clone();
            spawner.spawn(async move {
                sleep(Duration::from_millis(5)).await;
                let f2 = f.clone();
                // second level of nesting, spawned last
                nested.spawn(async move {
                    sleep(Duration::from_millis(3)).await;
                    f2.fetch_add(1, Ordering::SeqCst);
                    1000 + i
                });
                f.fetch_add(1, Ordering::SeqCst);
                100 + i
            });
            finished.fetch_add(1, Ordering::SeqCst);
            i
        });
    }
    let out = scope.await;
    assert_eq!(finished.load(Ordering::SeqCst), 12, "scope completed early");
    assert_eq!(out.len(), 12);
    // First the four top-level outputs in spawn order, then the nested ones.
    assert_eq!(&out[..4], &[0, 1, 2, 3]);
    let mut rest = out[4..].to_vec();
    rest.sort();
    assert_eq!(rest, vec![100, 101, 102, 103, 1000, 1001, 1002, 1003]);
    assert!(spawner.is_closed());
}

async fn outputs_in_spawn_order() {
    let scope = AsyncScope::new(4);
    for i in 0..20u64 {
        // later spawns finish first
        scope.spawn(async move {
            sleep(Duration::from_millis(20 - i)).await;
            i
        });
    }
    assert_eq!(scope.await, (0..20).collect::<Vec<_>>());
}

async fn limit_respected_and_reached() {
    for limit in [1usize, 3, 8] {
        let gauge = Arc::new(Gauge::default());
        let scope = AsyncScope::new(limit);
        let spawner = scope.spawner();
        for i in 0..25u64 {
            let gauge = gauge.clone();
            let nested = spawner.clone();
            scope.spawn(async move {
                gauge.enter();
                if i % 5 == 0 {
                    let g = gauge.clone();
                    nested.spawn(async move {
                        g.enter();
                        sleep(Duration::from_millis(1)).await;
                        g.exit();
                    });
                }
                sleep(Duration::from_millis(2 + i % 3)).await;
                yield_now().await;
                gauge.exit();
            });
        }
        let out = scope.await;
        assert_eq!(out.len(), 30);
        let peak = gauge.peak.load(Ordering::SeqCst);
        assert_eq!(peak, limit, "peak {peak} for limit {limit}");
        assert_eq!(spawner.peak_in_flight(), limit);
        assert_eq!(spawner.in_flight(), 0);
    }
}

async fn zero_limit_means_one() {
    let gauge = Arc::new(Gauge::default());
    let scope = AsyncScope::new(0);
    assert_eq!(scope.limit(), 1);
    for _ in 0..5 {
        let gauge = gauge.clone();
        scope.spawn(async move {
            gauge.enter();
            sleep(Duration::from_millis(1)).await;
            gauge.exit();
        });
    }
    scope.await;
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 1);
}

async fn borrows_from_stack() {
    let mut data: Vec<u64> = (0..16).collect();
    let factor = 3u64; // borrowed by every future
    let factor_ref = &factor;
    let scope = AsyncScope::new(4);
    for chunk in data.chunks_mut(3) {
        // mutable borrow of the caller's stack, shared borrow of `factor`
        scope.spawn(async move {
            sleep(Duration::from_millis(1)).await;
            for x in chunk.iter_mut() {
                *x *= *factor_ref;
            }
            chunk.len()
        });
    }
    let lens = scope.await;
    assert_eq!(lens, vec![3, 3, 3, 3, 3, 1]);
    assert_eq!(data, (0..16).map(|x| x * 3).collect::<Vec<_>>());

    // The `scope` convenience: the body borrows too.
    let words = vec!["alpha".to_string(), "beta".to_string(), "gamma".to_string()];
    let words = &words;
    let total = AtomicUsize::new(0);
    let total_ref = &total;
    let lens = lanepool::async_scope::scope(2, |s: Spawner<'_, usize>| async move {
        for w in words {
            s.spawn(async move {
                total_ref.fetch_add(w.len(), Ordering::SeqCst);
                w.len()
            });
        }
        sleep(Duration::from_millis(1)).await;
    })
    .await;
    assert_eq!(lens, vec![5, 4, 5]);
    assert_eq!(total.load(Ordering::SeqCst), 14);
}

async fn drop_cancels_everything() {
    let started = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let after = Arc::new(AtomicUsize::new(0));
    let scope = AsyncScope::new(4);
    let spawner = scope.spawner();
    for _ in 0..10 {
        let guard = DropGuard(dropped.clone()); // owned by the future even while queued
        let (started, after, nested) = (started.clone(), after.clone(), spawner.clone());
        let nested_guard = DropGuard(dropped.clone());
        let nested_after = after.clone();
        scope.spawn(async move {
            let _guard = guard;
            started.fetch_add(1, Ordering::SeqCst);
            // a nested, queued future that must be cancelled too
            nested.spawn(async move {
                let _g = nested_guard;
                sleep(Duration::from_millis(60)).await;
                nested_after.fetch_add(1, Ordering::SeqCst);
            });
            sleep(Duration::from_millis(60)).await;
            after.fetch_add(1, Ordering::SeqCst);
        });
    }
    // Poll the scope for 20 ms, then drop it.
    let mut scope = Some(scope);
    let mut stop = sleep(Duration::from_millis(20));
    poll_fn(|cx| {
        let s = scope.as_mut().unwrap();
        assert!(Pin::new(s).poll(cx).is_pending(), "scope completed early");
        Pin::new(&mut stop).poll(cx)
    })
    .await;
    assert_eq!(
        started.load(Ordering::SeqCst),
        4,
        "only `limit` futures started"
    );
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
    drop(scope);
    // Each top-level future owns two guards: its own, and the one it hands to its nested future
    // (4 started ones handed it over to queued nested futures, 6 queued ones still hold both).
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        20,
        "drop must cancel every future"
    );
    assert!(spawner.is_closed());
    // A spawn on a dropped scope drops the future unpolled.
    let late = DropGuard(dropped.clone());
    let late_ran = Arc::new(AtomicBool::new(false));
    let lr = late_ran.clone();
    spawner.spawn(async move {
        let _g = late;
        lr.store(true, Ordering::SeqCst);
    });
    assert_eq!(dropped.load(Ordering::SeqCst), 21);
    // Nothing runs afterwards.
    sleep(Duration::from_millis(100)).await;
    assert_eq!(after.load(Ordering::SeqCst), 0);
    assert_eq!(started.load(Ordering::SeqCst), 4);
    assert!(!late_ran.load(Ordering::SeqCst));
}

async fn no_snoozing() {
    // A waiter (spawned first) and the body (like the consumer of `buffer_unordered`) wait for a
    // lock that a holder (spawned second) keeps across an await. Every in-flight future must keep
    // being polled while the others wait, or this hangs (and `within` fails it).
    let flag = AsyncFlag::default();
    let flag = &flag;
    let order = Mutex::new(Vec::new());
    let order = &order;
    let start = Instant::now();
    let out = within(
        Duration::from_secs(2),
        lanepool::async_scope::scope(2, |s: Spawner<'_, &'static str>| async move {
            s.spawn(async move {
                while !flag.held.load(Ordering::SeqCst) {
                    yield_now().await;
                }
                flag.lock().await;
                order.lock().unwrap().push("W locked");
                flag.unlock();
                "W"
            });
            s.spawn(async move {
                flag.lock().await;
                order.lock().unwrap().push("H locked");
                sleep(Duration::from_millis(20)).await;
                yield_now().await;
                order.lock().unwrap().push("H unlocks");
                flag.unlock();
                "H"
            });
            while !flag.held.load(Ordering::SeqCst) {
                yield_now().await;
            }
            flag.lock().await;
            order.lock().unwrap().push("body locked");
            flag.unlock();
        }),
    )
    .await;
    assert_eq!(out, vec!["W", "H"]);
    let order = order.lock().unwrap().clone();
    assert_eq!(order[..2], ["H locked", "H unlocks"]);
    assert_eq!(order.len(), 4);
    assert!(start.elapsed() < Duration::from_millis(1000));
}

async fn queued_futures_not_polled() {
    let polls = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let scope = AsyncScope::new(1);
    {
        let release = release.clone();
        scope.spawn(async move {
            while !release.load(Ordering::SeqCst) {
                sleep(Duration::from_millis(1)).await;
            }
            0
        });
    }
    {
        let polls = polls.clone();
        scope.spawn(poll_fn(move |_| {
            polls.fetch_add(1, Ordering::SeqCst);
            Poll::Ready(1)
        }));
    }
    let mut scope = std::pin::pin!(scope);
    let mut phase = sleep(Duration::from_millis(15));
    poll_fn(|cx| {
        assert!(scope.as_mut().poll(cx).is_pending());
        Pin::new(&mut phase).poll(cx)
    })
    .await;
    assert_eq!(
        polls.load(Ordering::SeqCst),
        0,
        "a queued future was polled"
    );
    release.store(true, Ordering::SeqCst);
    assert_eq!(scope.await, vec![0, 1]);
    assert_eq!(polls.load(Ordering::SeqCst), 1);
}

async fn fallible_runs_all_and_returns_all_errors() {
    let finished = Arc::new(AtomicUsize::new(0));
    let scope = TryAsyncScope::new(3);
    for i in 0..12u32 {
        let finished = finished.clone();
        scope.spawn(async move {
            // failures come early, slow successes after them must still run
            sleep(Duration::from_millis(if i % 4 == 0 { 1 } else { 8 })).await;
            finished.fetch_add(1, Ordering::SeqCst);
            if i % 4 == 0 {
                Err(format!("record {i} failed"))
            } else {
                Ok(i)
            }
        });
    }
    let out = scope.await;
    assert_eq!(
        finished.load(Ordering::SeqCst),
        12,
        "an error cancelled others"
    );
    assert_eq!(
        out,
        Err(vec![
            "record 0 failed".to_string(),
            "record 4 failed".to_string(),
            "record 8 failed".to_string()
        ])
    );

    let ok = try_scope(2, |s: Spawner<'_, Result<u32, String>>| async move {
        for i in 0..5 {
            s.spawn(async move { Ok(i * 2) });
        }
    })
    .await;
    assert_eq!(ok, Ok(vec![0, 2, 4, 6, 8]));
}

/// Spawns a random tree of futures; returns nothing, records the node count in `nodes`.
fn spawn_tree(sp: &Spawner<'static, u64>, rng: &mut Rng, depth: u32, nodes: &Arc<AtomicUsize>) {
    nodes.fetch_add(1, Ordering::SeqCst);
    let children = if depth == 0 { 0 } else { rng.below(4) };
    let delay = rng.below(4);
    let seed = rng.next() | 1;
    let (sp2, nodes2) = (sp.clone(), nodes.clone());
    sp.spawn(async move {
        if delay > 0 {
            sleep(Duration::from_millis(delay)).await;
        } else {
            yield_now().await;
        }
        let mut rng = Rng(seed);
        for _ in 0..children {
            spawn_tree(&sp2, &mut rng, depth - 1, &nodes2);
        }
        delay
    });
}

async fn stress_random_nesting() {
    // An outer scope of 300 inner scopes (nested scopes), each a random tree with a random limit.
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let outer = AsyncScope::new(64);
    for _ in 0..300 {
        let limit = 1 + rng.below(5) as usize;
        let seed = rng.next() | 1;
        outer.spawn(async move {
            let mut rng = Rng(seed);
            let nodes = Arc::new(AtomicUsize::new(0));
            let inner = AsyncScope::new(limit);
            let sp = inner.spawner();
            for _ in 0..1 + rng.below(3) {
                spawn_tree(&sp, &mut rng, 3, &nodes);
            }
            let out = inner.await;
            assert_eq!(out.len(), nodes.load(Ordering::SeqCst));
            assert!(sp.peak_in_flight() <= limit);
            out.len()
        });
    }
    let sizes = within(Duration::from_secs(60), outer).await;
    assert_eq!(sizes.len(), 300);
    assert!(sizes.iter().sum::<usize>() >= 300);
}

// ---------- executors ----------

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

macro_rules! on_every_executor {
    ($($name:ident),* $(,)?) => {
        mod block_on {
            $( #[test] fn $name() { futures::executor::block_on(super::$name()) } )*
        }
        mod tokio_current_thread {
            $( #[test] fn $name() { super::current_thread().block_on(super::$name()) } )*
        }
        mod tokio_multi_thread {
            // Spawned as a task: the scope must be `Send` and may move between workers.
            $( #[test] fn $name() {
                super::multi_thread()
                    .block_on(async { tokio::spawn(super::$name()).await.unwrap() })
            } )*
        }
    };
}

on_every_executor!(
    completes_after_all_nested,
    outputs_in_spawn_order,
    limit_respected_and_reached,
    zero_limit_means_one,
    borrows_from_stack,
    drop_cancels_everything,
    no_snoozing,
    queued_futures_not_polled,
    fallible_runs_all_and_returns_all_errors,
    stress_random_nesting,
);

// ---------- panics ----------

#[test]
fn panic_propagates_under_block_on() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let guard = DropGuard(dropped.clone());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        futures::executor::block_on(async {
            let scope = AsyncScope::new(2);
            scope.spawn(async move {
                let _g = guard;
                sleep(Duration::from_secs(5)).await;
            });
            scope.spawn(async {
                sleep(Duration::from_millis(1)).await;
                panic!("boom in a spawned future");
            });
            scope.await
        })
    }));
    let err = result.expect_err("panic must propagate");
    assert_eq!(
        err.downcast_ref::<&str>().copied(),
        Some("boom in a spawned future")
    );
    // unwinding dropped the scope and with it the other future
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[test]
fn panic_propagates_to_tokio_join_handle() {
    let rt = multi_thread();
    let err = rt
        .block_on(async {
            tokio::spawn(async {
                let scope = AsyncScope::<()>::new(2);
                scope.spawn(async { panic!("boom") });
                scope.await
            })
            .await
        })
        .expect_err("panic must propagate");
    assert!(err.is_panic());
}

#[test]
#[should_panic(expected = "AsyncScope polled after a spawned future panicked")]
fn polling_after_panic_panics() {
    let scope = AsyncScope::<()>::new(1);
    scope.spawn(async { panic!("first") });
    let mut scope = Box::pin(scope);
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = scope.as_mut().poll(&mut cx);
    }));
    let _ = scope.as_mut().poll(&mut cx);
}

#[test]
fn spawns_from_another_thread_wake_the_scope() {
    // The only in-flight future waits on a lock nobody wakes it from, so the scope sleeps; a spawn
    // from another thread must wake it and start at once.
    let rt = multi_thread();
    rt.block_on(async {
        let flag = Arc::new(AsyncFlag::default());
        flag.lock().await;
        let scope: AsyncScope<'static, u8> = AsyncScope::new(4);
        let spawner = scope.spawner();
        let f = flag.clone();
        scope.spawn(async move {
            f.lock().await;
            1
        });
        let task = tokio::spawn(scope);
        sleep(Duration::from_millis(10)).await;
        let started = Arc::new(AtomicBool::new(false));
        let s = started.clone();
        std::thread::spawn(move || {
            spawner.spawn(async move {
                s.store(true, Ordering::SeqCst);
                2
            })
        })
        .join()
        .unwrap();
        let t0 = Instant::now();
        while !started.load(Ordering::SeqCst) {
            assert!(t0.elapsed() < Duration::from_secs(1), "spawn not started");
            sleep(Duration::from_millis(1)).await;
        }
        assert!(!task.is_finished());
        flag.unlock();
        assert_eq!(task.await.unwrap(), vec![1, 2]);
    });
}
