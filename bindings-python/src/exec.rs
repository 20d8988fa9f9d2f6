//! TEMPORARY stand-in for `lanepool::pool::Pool` while the core's pool is being written:
//! same method names, plain `std::thread` underneath. Swapped for the core pool once it lands.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use lanepool::batch::{BatchError, BatchOptions, BatchReport, BatchRun, RecordError, Step};
use lanepool::event::BatchPlan;
use lanepool::lanes::Ticket;
use parking_lot::{Condvar, Mutex};

pub type BatchResult<E> = Result<BatchReport<RecordError<E>>, BatchError<RecordError<E>>>;

#[derive(Debug, Default)]
pub struct Halt(AtomicBool);

impl Halt {
    pub fn halt(&self) {
        self.0.store(true, Ordering::Release);
    }
    pub fn is_halted(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

pub struct Pool {
    workers: usize,
}

impl Pool {
    pub fn new(workers: usize) -> Result<Pool, String> {
        if workers == 0 {
            return Err("workers must be at least 1".into());
        }
        Ok(Pool { workers })
    }

    pub fn default_workers() -> usize {
        std::thread::available_parallelism().map_or(4, |n| n.get())
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Runs `f(i)` for `runners` runners, the caller being runner 0.
    pub fn broadcast<F: Fn(usize) + Sync>(&self, runners: usize, f: F) {
        std::thread::scope(|s| {
            for i in 1..runners {
                let f = &f;
                s.spawn(move || f(i));
            }
            if runners > 0 {
                f(0);
            }
        });
    }

    pub fn run_plan<E, H>(&self, plan: BatchPlan, options: &BatchOptions, handler: H) -> BatchResult<E>
    where
        E: Send,
        H: Fn(Ticket, &Halt) -> Result<(), E> + Sync,
    {
        let run = BatchRun::new(plan, options, self.workers());
        let runners = run.concurrency().min(run.len());
        let run = Mutex::new(run);
        let wake = Condvar::new();
        let halt = Halt::default();
        self.broadcast(runners, |_| {
            let mut guard = run.lock();
            loop {
                if halt.is_halted() {
                    guard.halt();
                }
                match guard.step() {
                    Step::Run(ticket) => {
                        let result = parking_lot::MutexGuard::unlocked(&mut guard, || {
                            handler(ticket, &halt).map_err(RecordError::Error)
                        });
                        guard.complete(ticket.index, result).expect("running");
                        wake.notify_all();
                    }
                    Step::Wait(Some(t)) => {
                        wake.wait_for(&mut guard, t);
                    }
                    Step::Wait(None) => wake.wait(&mut guard),
                    Step::Done => {
                        wake.notify_all();
                        return;
                    }
                }
            }
        });
        run.into_inner().finish()
    }

    pub fn owned_scope(&self) -> OwnedScope {
        OwnedScope {
            state: Arc::new((Mutex::new(0), Condvar::new())),
        }
    }
}

#[derive(Clone)]
pub struct OwnedScope {
    state: Arc<(Mutex<usize>, Condvar)>,
}

impl OwnedScope {
    pub fn spawn(&self, f: impl FnOnce(&OwnedScope) + Send + 'static) {
        *self.state.0.lock() += 1;
        let me = self.clone();
        std::thread::spawn(move || {
            f(&me);
            let mut n = me.state.0.lock();
            *n -= 1;
            if *n == 0 {
                me.state.1.notify_all();
            }
        });
    }

    pub fn wait(&self) {
        let mut n = self.state.0.lock();
        while *n > 0 {
            self.state.1.wait(&mut n);
        }
    }
}
