//! The runtime-agnostic timer, under `futures::executor::block_on` and tokio.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use lanepool::timer::{sleep, sleep_until, Sleep};

fn assert_traits<X: Future<Output = ()> + Send + Sync + Unpin>() {}

#[test]
fn sleep_is_send_unpin() {
    assert_traits::<Sleep>();
}

async fn sleep_50ms_accuracy() {
    let start = Instant::now();
    sleep(Duration::from_millis(50)).await;
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(50),
        "woke early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(500),
        "woke late: {elapsed:?}"
    );

    let deadline = Instant::now() + Duration::from_millis(50);
    sleep_until(deadline).await;
    let now = Instant::now();
    assert!(now >= deadline);
    assert!(now - deadline < Duration::from_millis(450));
}

#[test]
fn accuracy_block_on() {
    futures::executor::block_on(sleep_50ms_accuracy());
}

#[test]
fn accuracy_tokio_current_thread() {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(sleep_50ms_accuracy());
}

#[test]
fn accuracy_tokio_multi_thread() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
        .block_on(async { tokio::spawn(sleep_50ms_accuracy()).await.unwrap() });
}

#[test]
fn past_deadline_is_ready_at_once() {
    let mut s = sleep_until(Instant::now() - Duration::from_millis(1));
    let waker = futures::task::noop_waker();
    assert!(Pin::new(&mut s)
        .poll(&mut Context::from_waker(&waker))
        .is_ready());
    assert!(sleep(Duration::ZERO).is_elapsed());
    // absurd durations saturate instead of panicking
    assert!(!sleep(Duration::MAX).is_elapsed());
}

#[test]
fn earlier_sleep_registered_later_fires_first() {
    // A long sleep is registered first; the timer thread must wake up for a shorter one after it.
    futures::executor::block_on(async {
        let mut long = sleep(Duration::from_secs(3));
        let waker = futures::task::noop_waker();
        assert!(Pin::new(&mut long)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        let start = Instant::now();
        sleep(Duration::from_millis(20)).await;
        assert!(start.elapsed() < Duration::from_millis(500));
    });
}

#[test]
fn many_pending_sleeps_fire_in_deadline_order() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let fired = Arc::new(AtomicUsize::new(0));
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let base = Instant::now() + Duration::from_millis(20);
        let mut tasks = Vec::new();
        for i in 0..10_000u64 {
            let deadline = base + Duration::from_micros((i * 7919) % 100_000);
            let (fired, order) = (fired.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                sleep_until(deadline).await;
                assert!(Instant::now() >= deadline);
                fired.fetch_add(1, Ordering::SeqCst);
                order.lock().unwrap().push(deadline);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(fired.load(Ordering::SeqCst), 10_000);
        assert!(base.elapsed() < Duration::from_secs(5));
    });
}

#[test]
fn dropped_sleeps_do_not_wake_and_are_compacted() {
    // Many cancelled long sleeps, then a short one: it still fires on time.
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    for _ in 0..5 {
        let mut v: Vec<Sleep> = (0..1000).map(|_| sleep(Duration::from_secs(600))).collect();
        for s in &mut v {
            assert!(Pin::new(s).poll(&mut cx).is_pending());
        }
        drop(v);
    }
    let start = Instant::now();
    futures::executor::block_on(sleep(Duration::from_millis(10)));
    assert!(start.elapsed() < Duration::from_millis(500));
}

#[test]
fn repoll_with_new_waker_is_honoured() {
    // Poll once with a no-op waker, then await under block_on: the new waker must be used.
    let mut s = sleep(Duration::from_millis(30));
    let waker = futures::task::noop_waker();
    assert!(Pin::new(&mut s)
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    let start = Instant::now();
    futures::executor::block_on(poll_fn(|cx| Pin::new(&mut s).poll(cx)));
    assert!(start.elapsed() < Duration::from_millis(500));
    // Polling again after completion stays ready.
    let w = futures::task::noop_waker();
    assert_eq!(
        Pin::new(&mut s).poll(&mut Context::from_waker(&w)),
        Poll::Ready(())
    );
}
