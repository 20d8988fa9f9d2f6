//! `BatchRun`: one batch's scheduling state for the asyncio driver (`lanepool/_aio.py`).

use lanepool::batch::{BatchOptions, BatchRun, Step};
use lanepool::event::BatchPlan;
use lanepool::lanes::SchedulerError;
use lanepool::limit::{InFlightLimit, LimitedCall};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::interrupt::Interrupt;
use crate::report::PyReport;
use crate::wake::LoopWake;

/// The core's batch state (lanes, skips, retries, deadline, all-failed rule), driven step by
/// step from Python: `step()`, run the handler, `complete()`, ..., `finish()`. With the pool's
/// in-flight limit, the call is registered with it: a record starts only with a slot
/// (`BatchRun::step_limited`), each ended attempt gives its slot back, and the limit wakes the
/// driver (`set_wake`) when a slot is handed to it.
/// How the core is told of an attempt the driver stopped: `BatchRun::cancel` (the deadline)
/// or `BatchRun::time_out` (its timeout).
type StopAttempt =
    fn(&mut BatchRun<Py<PyAny>>, usize, Option<Py<PyAny>>) -> Result<(), SchedulerError>;

#[pyclass(module = "lanepool._lanepool", name = "BatchRun")]
pub struct PyBatchRun {
    run: Option<BatchRun<Py<PyAny>>>,
    /// This call's membership of the pool's limit; dropped (every slot given back) when the
    /// batch finishes or is closed.
    call: Option<LimitedCall>,
    cancel_at_deadline: bool,
    /// A handler's exception that stops the call (`finish()` raises it).
    interrupt: Interrupt,
}

impl PyBatchRun {
    fn run(&mut self) -> PyResult<&mut BatchRun<Py<PyAny>>> {
        self.run
            .as_mut()
            .ok_or_else(|| PyRuntimeError::new_err("the batch has finished"))
    }

    /// Records that record `index`'s running attempt, which the driver stopped (at the
    /// deadline: `BatchRun::cancel`; for its timeout: `BatchRun::time_out`), ended with
    /// `exception`; one other than the `CancelledError` it was sent that stops the call is
    /// what `finish()` raises.
    fn stopped(
        &mut self,
        py: Python<'_>,
        index: usize,
        exception: Option<Py<PyAny>>,
        how: StopAttempt,
    ) -> PyResult<()> {
        if let Some(exc) = &exception {
            self.interrupt.catch_cancelled(exc.bind(py));
        }
        how(self.run()?, index, exception).map_err(|e| PyValueError::new_err(e.to_string()))?;
        self.release();
        Ok(())
    }

    /// Gives back the slot of an attempt that ended (a no-op without a limit).
    fn release(&self) {
        if let Some(call) = &self.call {
            // Every started attempt holds one slot: `NotHeld` cannot happen.
            let _ = call.release();
        }
    }
}

/// Starts a run of `plan` (a decoded batch, or a list of jobs) with at most `workers`
/// handlers in flight (and, with `limit`, within the limit shared by the pool's calls): returns
/// `(run, records)` where `records` are the caller's own record (or item) objects.
/// `lanepool._lanepool.Pool.start_batch` and `start_jobs` call it, after checking the handler
/// and the options.
pub fn start_run<'py>(
    py: Python<'py>,
    plan: BatchPlan,
    records: Vec<Py<PyAny>>,
    core: &BatchOptions,
    workers: usize,
    limit: Option<&InFlightLimit>,
) -> PyResult<Bound<'py, PyTuple>> {
    let run = PyBatchRun {
        run: Some(BatchRun::new(plan, core, workers.max(1))),
        call: limit.map(InFlightLimit::register),
        cancel_at_deadline: core.cancel_at_deadline,
        interrupt: Interrupt::default(),
    };
    let records = PyList::new(py, records)?;
    PyTuple::new(
        py,
        [Py::new(py, run)?.into_any(), records.into_any().unbind()],
    )
}

#[pymethods]
impl PyBatchRun {
    /// What to do next: `(0, index)` run record `index`; `(1, timeout)` wait for a completion
    /// or at most `timeout` seconds (None: no limit); `(2, None)` done, call `finish()`.
    /// With the pool's limit a record starts only with a slot; while none is free the call
    /// waits (`(1, ...)`) until the `set_wake` callback runs (or a completion, or the timeout).
    fn step<'py>(&mut self, py: Python<'py>) -> PyResult<(u8, Bound<'py, PyAny>)> {
        let run = self
            .run
            .as_mut()
            .ok_or_else(|| PyRuntimeError::new_err("the batch has finished"))?;
        let step = match &self.call {
            Some(call) => run.step_limited(call),
            None => run.step(),
        };
        Ok(match step {
            Step::Run(ticket) => (0, ticket.index.into_pyobject(py)?.into_any()),
            Step::Wait(Some(t)) => (1, t.as_secs_f64().into_pyobject(py)?.into_any()),
            Step::Wait(None) => (1, py.None().into_bound(py)),
            Step::Done => (2, py.None().into_bound(py)),
        })
    }

    /// Records the result of record `index`'s running attempt: `None` for success, else the
    /// exception it raised. One that stops the call (see `interrupt.rs`) halts the batch
    /// (running handlers still complete) and is what `finish()` raises.
    #[pyo3(signature = (index, exception=None))]
    fn complete(
        &mut self,
        py: Python<'_>,
        index: usize,
        exception: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        if let Some(exc) = &exception {
            if self.interrupt.catch_value(exc.bind(py)) {
                self.run()?.halt();
            }
        }
        let result = exception.map_or(Ok(()), Err);
        self.run()?
            .complete(index, result)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        self.release();
        Ok(())
    }

    /// `complete(index, exception)` then `step()`, in one call: the asyncio driver's worker
    /// reports the attempt it ran and asks for the next record at once, one crossing of the
    /// boundary per record (the hot path of `process_async`).
    #[pyo3(signature = (index, exception=None))]
    fn complete_step<'py>(
        &mut self,
        py: Python<'py>,
        index: usize,
        exception: Option<Py<PyAny>>,
    ) -> PyResult<(u8, Bound<'py, PyAny>)> {
        self.complete(py, index, exception)?;
        self.step(py)
    }

    /// The records whose running attempt has run past the attempt timeout: the driver
    /// cancels them and, once each ended, reports it with `time_out`.
    fn timed_out(&mut self) -> PyResult<Vec<usize>> {
        Ok(self.run()?.timed_out())
    }

    /// Records that record `index`'s running attempt was cancelled because it timed out,
    /// ending with `exception`: without retries left the record ends as `timeout` and skips
    /// the rest of its lane. One other than a `CancelledError` that stops the call is what
    /// `finish()` raises.
    #[pyo3(signature = (index, exception=None))]
    fn time_out(
        &mut self,
        py: Python<'_>,
        index: usize,
        exception: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        self.stopped(py, index, exception, BatchRun::time_out)
    }

    /// Records that record `index`'s running attempt was stopped at the deadline, ending with
    /// `exception`; one other than the `CancelledError` it was sent that stops the call is
    /// what `finish()` raises.
    #[pyo3(signature = (index, exception=None))]
    fn cancel(
        &mut self,
        py: Python<'_>,
        index: usize,
        exception: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        self.stopped(py, index, exception, BatchRun::cancel)
    }

    /// Whether the call shares the pool's in-flight limit.
    #[getter]
    fn limited(&self) -> bool {
        self.call.is_some()
    }

    /// Sets what wakes the driver when the limit hands this call a slot:
    /// `event_loop.call_soon_threadsafe(callback)`, scheduled from a helper thread (the slot
    /// may be given back on any thread). A no-op without a limit.
    fn set_wake(&self, event_loop: Py<PyAny>, callback: Py<PyAny>) {
        if let Some(call) = &self.call {
            let wake = LoopWake::new(event_loop, callback);
            call.set_wake_hook(move || wake.wake());
        }
    }

    /// Leaves the pool's limit, giving back every slot the call holds: for a driver that
    /// stops without finishing (its caller was cancelled). `finish()` does it too.
    fn close(&mut self) {
        self.call = None;
    }

    /// Whether the deadline (`deadline - margin`) has passed (False without a deadline).
    fn deadline_passed(&mut self) -> PyResult<bool> {
        Ok(self.run()?.deadline_passed())
    }

    /// Seconds left until the deadline (`deadline - margin`; 0.0 once passed), or None
    /// without a deadline.
    #[getter]
    fn time_to_deadline(&mut self) -> PyResult<Option<f64>> {
        Ok(self.run()?.time_to_deadline().map(|d| d.as_secs_f64()))
    }

    /// Whether handlers still running must be cancelled now: the deadline has passed and
    /// the batch was started with `cancel_at_deadline`. Each cancelled attempt is then
    /// reported with `cancel(index, exception)`.
    fn cancel_due(&mut self) -> PyResult<bool> {
        let cancel = self.cancel_at_deadline;
        Ok(cancel && self.run()?.deadline_passed())
    }

    /// Whether the batch cancels running handlers at the deadline (else it awaits them).
    #[getter]
    fn cancel_at_deadline(&self) -> bool {
        self.cancel_at_deadline
    }

    /// Stops starting records; running ones still complete.
    fn halt(&mut self) -> PyResult<()> {
        self.run()?.halt();
        Ok(())
    }

    /// Most handlers in flight at once.
    #[getter]
    fn concurrency(&mut self) -> PyResult<usize> {
        Ok(self.run()?.concurrency())
    }

    /// The report (raises `BatchFailedError` under the all-failed rule); raises instead the
    /// first handler exception that stopped the call, if any.
    fn finish(&mut self, py: Python<'_>) -> PyResult<Py<PyReport>> {
        self.call = None;
        if let Some(err) = self.interrupt.take() {
            self.run = None;
            return Err(err);
        }
        let run = self
            .run
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("the batch has finished"))?;
        if !run.scheduler().is_done() {
            self.run = Some(run);
            return Err(PyRuntimeError::new_err(
                "finish() before every record has its outcome",
            ));
        }
        PyReport::into_result(py, run.finish(), |e| e)
    }
}
