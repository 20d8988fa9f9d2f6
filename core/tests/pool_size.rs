//! Pool sizes: absurd worker counts are an error naming the maximum, never an abort or a
//! panic; a thread the system refuses is `PoolError::Spawn`.

use lanepool::pool::{Pool, PoolError, MAX_WORKERS};

#[test]
fn counts_above_the_maximum_are_an_error_naming_it() {
    for requested in [MAX_WORKERS + 1, 100_000, 1 << 40, usize::MAX] {
        let err = Pool::new(requested).unwrap_err();
        match err {
            PoolError::TooManyWorkers { requested: r, max } => {
                assert_eq!((r, max), (requested, MAX_WORKERS));
            }
            other => panic!("{requested}: {other:?}"),
        }
        let text = err_text(requested);
        assert!(text.contains(&MAX_WORKERS.to_string()), "{text}");
        assert!(text.contains(&requested.to_string()), "{text}");
    }
}

fn err_text(requested: usize) -> String {
    Pool::builder()
        .workers(requested)
        .build()
        .unwrap_err()
        .to_string()
}

#[test]
fn the_maximum_itself_starts_and_runs_tasks() {
    let pool = Pool::builder()
        .workers(MAX_WORKERS)
        .stack_size(64 << 10)
        .build()
        .unwrap();
    assert_eq!(pool.workers(), MAX_WORKERS);
    let sum = std::sync::atomic::AtomicUsize::new(0);
    pool.scope(|s| {
        for i in 0..64 {
            let sum = &sum;
            s.spawn(move |_| {
                sum.fetch_add(i, std::sync::atomic::Ordering::Relaxed);
            });
        }
    });
    assert_eq!(sum.into_inner(), (0..64).sum::<usize>());
}

#[test]
fn a_thread_the_system_refuses_is_a_spawn_error() {
    // A stack larger than the address space: the system cannot map it for any thread.
    let err = Pool::builder()
        .workers(2)
        .stack_size(1 << 47)
        .build()
        .unwrap_err();
    assert!(matches!(err, PoolError::Spawn(_)), "{err:?}");
    assert!(
        err.to_string().starts_with("failed to spawn worker thread"),
        "{err}"
    );
    // Nothing was left behind: a normal pool still starts.
    assert_eq!(Pool::new(2).unwrap().workers(), 2);
}

#[test]
fn the_default_count_is_within_the_maximum() {
    let n = Pool::default_workers();
    assert!((1..=MAX_WORKERS).contains(&n), "{n}");
    assert_eq!(lanepool::pool::workers_for(usize::MAX, None), MAX_WORKERS);
}
