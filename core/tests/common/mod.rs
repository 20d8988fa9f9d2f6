//! Helpers shared by the core's integration tests (each test binary includes this module with
//! `mod common;` and uses what it needs).
#![allow(dead_code)]

use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use lanepool::pool::Pool;
use lanepool::timer::sleep;

/// How long a test may take before it counts as hung (Miri runs far slower).
pub const LIMIT: Duration = Duration::from_secs(if cfg!(miri) { 600 } else { 60 });

/// Runs `f` on another thread and returns its result, resuming its panic; fails (instead of
/// hanging the run) after `limit`.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => v,
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("did not finish within {limit:?} (deadlock?)"),
    }
}

/// Awaits `fut`, failing if it takes longer than `limit` (lanepool's own timer).
pub async fn within_async<F: Future>(limit: Duration, fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut timeout = sleep(limit);
    poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(v);
        }
        if Pin::new(&mut timeout).poll(cx).is_ready() {
            panic!("did not complete within {limit:?}");
        }
        Poll::Pending
    })
    .await
}

/// Runs `child` in a child made by `fork` and returns its exit code (`child`'s value; 20 if it
/// panicked). The child leaves with `_exit`, running none of the parent's destructors; it is
/// killed (and the test fails) if it takes longer than `limit`.
#[cfg(unix)]
pub fn in_forked_child(limit: Duration, child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only runs `child` (this test's code) and leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = catch_unwind(AssertUnwindSafe(child)).unwrap_or(20);
        // SAFETY: ends the child without running the parent's destructors or test harness.
        unsafe { libc::_exit(code) };
    }
    let start = Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: plain waitpid on our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(r >= 0, "waitpid failed");
        if r == pid {
            break;
        }
        if start.elapsed() > limit {
            // SAFETY: killing our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("forked child hung");
        }
        thread::sleep(Duration::from_millis(5));
    }
    assert!(libc::WIFEXITED(status), "child did not exit normally");
    libc::WEXITSTATUS(status)
}

/// Whether every worker of `pool` is alive: `workers` tasks of an owned scope must all be
/// running at once (each waits, up to `limit`, for the others), with no thread waiting on the
/// scope to help.
pub fn all_workers_run_at_once(pool: &Pool, limit: Duration) -> bool {
    let n = pool.workers();
    let scope = pool.owned_scope();
    let arrived = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    for _ in 0..n {
        let arrived = Arc::clone(&arrived);
        let tx = tx.clone();
        scope.spawn(move |_| {
            arrived.fetch_add(1, Ordering::SeqCst);
            let start = Instant::now();
            while arrived.load(Ordering::SeqCst) < n && start.elapsed() < limit {
                thread::sleep(Duration::from_millis(1));
            }
            let _ = tx.send(arrived.load(Ordering::SeqCst) >= n);
        });
    }
    let mut all = true;
    for _ in 0..n {
        match rx.recv_timeout(limit + Duration::from_secs(1)) {
            Ok(ok) => all &= ok,
            Err(_) => all = false,
        }
    }
    scope.wait();
    all
}

/// Panics when dropped, unless the thread is already unwinding (which would abort).
#[derive(Debug)]
pub struct PanicOnDrop(pub &'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic!("{}", self.0);
        }
    }
}
