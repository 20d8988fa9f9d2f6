//! The sync batch driver of the Python face: runners on the pool's threads (the caller being
//! one), each holding the GIL while it runs Python code and across consecutive records, and
//! releasing it whenever it blocks (in a handler that releases it, or waiting for work).
//!
//! The rules stay in the core's `BatchRun`; this only differs from the core's `Pool::run_plan`
//! in how it treats the GIL. Taking the GIL per call (as a plain `run_plan` handler must, since
//! the core's runners block between calls) hands the GIL between threads on every record, which
//! costs ~10 us per record on two CPUs; a runner that keeps it costs ~0.3 us.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use lanepool::batch::{BatchError, BatchReport, BatchRun, Step};
use parking_lot::{Condvar, Mutex};
use pyo3::exceptions::{PyException, PyRuntimeError};
use pyo3::prelude::*;

use crate::exec::{self, Pool};

type Exc = Py<PyAny>;

struct State {
    run: BatchRun<Exc>,
    /// Bumped on every completion: a runner that saw `Wait` sleeps only if nothing completed
    /// since (no lost wake-ups although it releases the lock to release the GIL).
    generation: u64,
    halted: bool,
    interrupt: Option<PyErr>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

/// What a sync batch returns: the core's result, or the BaseException that stopped it.
pub enum Ended {
    Finished(Result<BatchReport<Exc>, BatchError<Exc>>),
    Interrupted(PyErr),
}

/// Runs `run` with `call(py, index)` as the handler on `pool`.
pub fn run_batch<F>(py: Python<'_>, pool: &Pool, run: BatchRun<Exc>, call: F) -> Ended
where
    F: Fn(Python<'_>, usize) -> PyResult<()> + Sync,
{
    let runners = run.concurrency().min(run.len());
    let shared = Shared {
        state: Mutex::new(State {
            run,
            generation: 0,
            halted: false,
            interrupt: None,
        }),
        changed: Condvar::new(),
    };
    if runners > 0 {
        py.detach(|| {
            exec::broadcast(pool, runners, |_| {
                crate::gil::attach(|py| runner(py, &shared, &call));
            })
        });
    }
    let state = shared.state.into_inner();
    match state.interrupt {
        Some(err) => Ended::Interrupted(err),
        None => Ended::Finished(state.run.finish()),
    }
}

fn runner<F>(py: Python<'_>, shared: &Shared, call: &F)
where
    F: Fn(Python<'_>, usize) -> PyResult<()>,
{
    loop {
        let (step, generation) = {
            let mut st = shared.state.lock();
            if st.halted {
                st.run.halt();
            }
            (st.run.step(), st.generation)
        };
        match step {
            Step::Run(ticket) => {
                let result = match catch_unwind(AssertUnwindSafe(|| {
                    exec::as_task(|| call(py, ticket.index))
                })) {
                    Ok(result) => result,
                    Err(_) => Err(PyRuntimeError::new_err("lanepool: handler call panicked")),
                };
                let mut st = shared.state.lock();
                let result = result.map_err(|err| {
                    if !err.is_instance_of::<PyException>(py) {
                        // KeyboardInterrupt, SystemExit, ...: stop starting records.
                        st.halted = true;
                        if st.interrupt.is_none() {
                            st.interrupt = Some(err.clone_ref(py));
                        }
                    }
                    err.into_value(py).into_any()
                });
                st.run
                    .complete(ticket.index, result)
                    .expect("the ticket's record is running");
                st.generation += 1;
                drop(st);
                shared.changed.notify_all();
            }
            Step::Wait(timeout) => py.detach(|| {
                let mut st = shared.state.lock();
                if st.generation == generation {
                    match timeout {
                        Some(t) => {
                            shared
                                .changed
                                .wait_for(&mut st, t.max(Duration::from_micros(50)));
                        }
                        None => shared.changed.wait(&mut st),
                    }
                }
            }),
            Step::Done => {
                shared.changed.notify_all();
                return;
            }
        }
    }
}
