//! `BatchRun`: one batch's scheduling state for the asyncio driver (`lanepool/_aio.py`).

use lanepool::batch::{BatchRun, Step};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::batch::{self, PyReport, RawOptions};

/// The core's batch state (lanes, skips, retries, deadline, all-failed rule), driven step by
/// step from Python: `step()`, run the handler, `complete()`, ..., `finish()`.
#[pyclass(module = "lanepool._lanepool", name = "BatchRun")]
pub struct PyBatchRun {
    run: Option<BatchRun<Py<PyAny>>>,
    cancel_at_deadline: bool,
}

impl PyBatchRun {
    fn run(&mut self) -> PyResult<&mut BatchRun<Py<PyAny>>> {
        self.run
            .as_mut()
            .ok_or_else(|| PyRuntimeError::new_err("the batch has finished"))
    }
}

/// Decodes `event` and starts a batch: returns `(run, records)` where `records` are the
/// caller's own record objects. Raises `EventError` for a malformed event.
/// `cancel_at_deadline`: running handlers are to be cancelled at the deadline (see
/// `cancel_due()`) rather than awaited.
#[allow(clippy::too_many_arguments)]
#[pyfunction]
#[pyo3(signature = (event, workers, context, ordering, group_key, retries, deadline_margin_ms,
                    raise_on_full_batch_failure, log_summary, retry_backoff_ms,
                    cancel_at_deadline=true))]
pub fn start_batch<'py>(
    py: Python<'py>,
    event: Bound<'py, PyAny>,
    workers: usize,
    context: Option<Bound<'py, PyAny>>,
    ordering: String,
    group_key: Option<Bound<'py, PyAny>>,
    retries: i64,
    deadline_margin_ms: f64,
    raise_on_full_batch_failure: bool,
    log_summary: bool,
    retry_backoff_ms: f64,
    cancel_at_deadline: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    let raw = RawOptions {
        context,
        ordering,
        group_key,
        retries,
        deadline_margin_ms,
        raise_on_full_batch_failure,
        log_summary,
        retry_backoff_ms,
    };
    let options = batch::batch_options(&raw)?.cancel_at_deadline(cancel_at_deadline);
    let (plan, records) = batch::decode(&event, options.ordering, raw.group_key.as_ref())?;
    let run = PyBatchRun {
        run: Some(BatchRun::new(plan, &options, workers.max(1))),
        cancel_at_deadline: options.cancel_at_deadline,
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
    fn step<'py>(&mut self, py: Python<'py>) -> PyResult<(u8, Bound<'py, PyAny>)> {
        Ok(match self.run()?.step() {
            Step::Run(ticket) => (0, ticket.index.into_pyobject(py)?.into_any()),
            Step::Wait(Some(t)) => (1, t.as_secs_f64().into_pyobject(py)?.into_any()),
            Step::Wait(None) => (1, py.None().into_bound(py)),
            Step::Done => (2, py.None().into_bound(py)),
        })
    }

    /// Records the result of record `index`'s running attempt: `None` for success, else the
    /// exception it raised.
    #[pyo3(signature = (index, exception=None))]
    fn complete(&mut self, index: usize, exception: Option<Py<PyAny>>) -> PyResult<()> {
        let result = exception.map_or(Ok(()), Err);
        self.run()?
            .complete(index, result)
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Records that record `index`'s running attempt was stopped at the deadline.
    #[pyo3(signature = (index, exception=None))]
    fn cancel(&mut self, index: usize, exception: Option<Py<PyAny>>) -> PyResult<()> {
        self.run()?
            .cancel(index, exception)
            .map_err(|e| PyValueError::new_err(e.to_string()))
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

    /// The report (raises `BatchFailedError` under the all-failed rule).
    fn finish(&mut self, py: Python<'_>) -> PyResult<Py<PyReport>> {
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
