//! `lanepool._lanepool.Pool`: the thread pool, sync batches, scopes and map.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::{Condvar, Mutex};
use pyo3::exceptions::{PyBaseException, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

use crate::decode::decode;
use crate::errors::{self, expect_callable};
use crate::gil::GilGate;
use crate::interrupt::Interrupt;
use crate::options::PyBatchOptions;
use crate::report::PyReport;
use lanepool::batch::{BatchOptions, RecordError, DEFAULT_ASYNC_CONCURRENCY};
use lanepool::event::BatchPlan;
use lanepool::limit::InFlightLimit;
use lanepool::pool::{panic_message, OwnedScope, Pool, PoolError};

/// The worker pool (Rust threads). Use `lanepool.Pool`, which wraps this.
#[pyclass(frozen, module = "lanepool._lanepool", name = "Pool")]
pub struct PyPool {
    pool: Pool,
    /// `max_in_flight`: the limit on handlers in flight across every batch call of the pool,
    /// sync and async, shared fairly by the calls (the core's `InFlightLimit`).
    limit: Option<InFlightLimit>,
}

/// Runs `f(i)` for `i` in `0..runners` on the pool, `f(0)` on the calling thread, and returns
/// when every one returned.
fn broadcast<F: Fn(usize) + Sync>(pool: &Pool, runners: usize, f: F) {
    match runners {
        0 => {}
        1 => f(0),
        _ => pool.scope(|s| {
            let f = &f;
            for i in 1..runners {
                s.spawn(move |_| f(i));
            }
            f(0);
        }),
    }
}

/// Workers of a pool made with no `workers`: sized for I/O-bound handlers (the GIL is
/// released while they wait), the same number as the core's async drivers keep in flight.
pub const DEFAULT_WORKERS: usize = DEFAULT_ASYNC_CONCURRENCY;

fn workers_arg(value: &Bound<'_, PyAny>) -> PyResult<Option<i64>> {
    if value.is_none() {
        return Ok(None);
    }
    crate::options::int_arg("workers", value).map(Some)
}

fn max_in_flight_arg(value: &Bound<'_, PyAny>) -> PyResult<Option<i64>> {
    if value.is_none() {
        return Ok(None);
    }
    crate::options::int_arg("max_in_flight", value).map(Some)
}

#[pymethods]
impl PyPool {
    #[new]
    #[pyo3(signature = (workers=None, max_in_flight=None))]
    fn new(
        #[pyo3(from_py_with = workers_arg)] workers: Option<i64>,
        #[pyo3(from_py_with = max_in_flight_arg)] max_in_flight: Option<i64>,
    ) -> PyResult<Self> {
        let workers = match workers {
            None => DEFAULT_WORKERS,
            Some(n) if n >= 1 => n as usize,
            Some(n) => {
                return Err(PyValueError::new_err(format!(
                    "workers must be at least 1, got {n}"
                )))
            }
        };
        let limit = match max_in_flight {
            None => None,
            Some(n) => {
                let slots = usize::try_from(n).ok().filter(|&n| n >= 1).ok_or_else(|| {
                    PyValueError::new_err(format!("max_in_flight must be at least 1, got {n}"))
                })?;
                Some(InFlightLimit::new(slots).map_err(|e| PyValueError::new_err(e.to_string()))?)
            }
        };
        // Too many workers is a bad argument (naming the maximum); a thread the system
        // refuses is a runtime failure.
        let pool = Pool::new(workers).map_err(|e| match e {
            PoolError::TooManyWorkers { .. } => PyValueError::new_err(format!("workers: {e}")),
            e => PyRuntimeError::new_err(e.to_string()),
        })?;
        Ok(PyPool { pool, limit })
    }

    /// The most handlers in flight at once across every call of the pool, or None.
    #[getter]
    fn max_in_flight(&self) -> Option<usize> {
        self.limit.as_ref().map(InFlightLimit::limit)
    }

    /// Handlers in flight now across the pool's calls, under `max_in_flight` (0 without it).
    #[getter]
    fn in_flight(&self) -> usize {
        self.limit.as_ref().map_or(0, InFlightLimit::in_flight)
    }

    /// Decodes `event` and starts a batch for the asyncio driver: `(run, records)` (see
    /// `BatchRun`), at most `workers` handlers in flight, within `max_in_flight` when set.
    /// `cancellable`: whether the handler can be stopped (an `async def` one), which the
    /// attempt timeout needs.
    #[pyo3(signature = (event, handler, options, cancellable=true))]
    fn start_batch<'py>(
        &self,
        py: Python<'py>,
        event: Bound<'py, PyAny>,
        handler: Bound<'py, PyAny>,
        options: PyRef<'py, PyBatchOptions>,
        cancellable: bool,
    ) -> PyResult<Bound<'py, PyTuple>> {
        crate::errors::expect_callable("handler", &handler)?;
        options.check_for(cancellable)?;
        let core = options.for_batch(py)?;
        let (plan, records) = decode(&event, &options)?;
        crate::batch_run::start_run(
            py,
            plan,
            records,
            &core,
            self.pool.workers(),
            self.limit.as_ref(),
        )
    }

    /// Starts a list of jobs for the asyncio driver, as `start_batch` does a batch: `(run,
    /// items)`, job `i` identified by `"i"`, in the lane `key(item)` gives (None: no lane; no
    /// `key`: no lanes), without the all-failed rule.
    #[pyo3(signature = (items, key, handler, options, cancellable=true))]
    fn start_jobs<'py>(
        &self,
        py: Python<'py>,
        items: Bound<'py, PyList>,
        key: Option<Bound<'py, PyAny>>,
        handler: Bound<'py, PyAny>,
        options: PyRef<'py, PyBatchOptions>,
        cancellable: bool,
    ) -> PyResult<Bound<'py, PyTuple>> {
        crate::errors::expect_callable("fn", &handler)?;
        options.check_for(cancellable)?;
        let core = options.for_jobs(py)?;
        let (plan, items) = jobs_plan(&items, key.as_ref())?;
        crate::batch_run::start_run(
            py,
            plan,
            items,
            &core,
            self.pool.workers(),
            self.limit.as_ref(),
        )
    }

    /// Runs a list of jobs with a sync `fn` on the pool's threads, as `run_batch` runs a
    /// batch, storing each succeeded job's value in `results` at its index; returns the report.
    #[pyo3(signature = (items, key, r#fn, options, results))]
    fn run_jobs<'py>(
        &self,
        py: Python<'py>,
        items: Bound<'py, PyList>,
        key: Option<Bound<'py, PyAny>>,
        r#fn: Bound<'py, PyAny>,
        options: PyRef<'py, PyBatchOptions>,
        results: Bound<'py, PyList>,
    ) -> PyResult<Py<PyReport>> {
        expect_callable("fn", &r#fn)?;
        options.check_for(false)?;
        let mut core = options.for_jobs(py)?;
        if let Some(limit) = &self.limit {
            core = core.in_flight_limit(limit.clone());
        }
        let (plan, items) = jobs_plan(&items, key.as_ref())?;
        self.run_plan(py, plan, items, r#fn, &core, Some(results))
    }

    /// Threads that run handlers (the calling thread counts as one of them while it waits).
    #[getter]
    fn workers(&self) -> usize {
        self.pool.workers()
    }

    /// Workers for CPU-bound handlers: the CPUs this process may use, lowered inside AWS
    /// Lambda to the CPU share of the function's memory size (1 up to 1,769 MB).
    #[staticmethod]
    fn cpu_workers() -> usize {
        Pool::default_workers()
    }

    /// Runs a batch with a sync handler on the pool's threads and returns its report.
    ///
    /// `results` (used by `lanepool.powertools`): a list as long as the batch, in which each
    /// record's handler return value is stored at the record's index when it succeeds.
    #[pyo3(signature = (event, handler, options, results=None))]
    fn run_batch<'py>(
        &self,
        py: Python<'py>,
        event: Bound<'py, PyAny>,
        handler: Bound<'py, PyAny>,
        options: PyRef<'py, PyBatchOptions>,
        results: Option<Bound<'py, PyList>>,
    ) -> PyResult<Py<PyReport>> {
        expect_callable("handler", &handler)?;
        options.check_for(false)?;
        let mut core = options.for_batch(py)?;
        if let Some(limit) = &self.limit {
            core = core.in_flight_limit(limit.clone());
        }
        let (plan, records) = decode(&event, &options)?;
        self.run_plan(py, plan, records, handler, &core, results)
    }
    /// A new scope (see `lanepool.Pool.scope`).
    fn scope(&self) -> PyScope {
        PyScope {
            scope: Some(self.pool.owned_scope()),
            tasks: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        }
    }

    /// `[fn(item) for item in items]` on the pool, results in input order.
    #[pyo3(signature = (r#fn, items))]
    fn map<'py>(
        &self,
        py: Python<'py>,
        r#fn: Bound<'py, PyAny>,
        items: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        expect_callable("fn", &r#fn)?;
        let func = r#fn;
        let items: Vec<Py<PyAny>> = items
            .try_iter()?
            .map(|item| item.map(Bound::unbind))
            .collect::<PyResult<_>>()?;
        let n = items.len();
        let func = func.unbind();
        let results: Vec<Mutex<Option<PyResult<Py<PyAny>>>>> =
            (0..n).map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        let interrupt = Interrupt::default();
        let halted = AtomicBool::new(false);
        let runners = self.pool.workers().min(n);
        let pool = &self.pool;
        py.detach(|| {
            // Each runner keeps the GIL across its calls (released while a call blocks).
            broadcast(pool, runners, |_| {
                crate::gil::attach(|py| loop {
                    if halted.load(Ordering::Acquire) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    let r = func.bind(py).call1((items[i].bind(py),));
                    if let Err(err) = &r {
                        if interrupt.catch(py, err) {
                            halted.store(true, Ordering::Release);
                        }
                    }
                    *results[i].lock() = Some(r.map(Bound::unbind));
                })
            })
        });
        drop(interrupt);
        let mut values = Vec::with_capacity(n);
        let mut failed = Vec::new();
        for slot in results {
            match slot.into_inner() {
                Some(Ok(v)) => values.push(v),
                Some(Err(e)) => failed.push(e.into_value(py).into_any()),
                None => {}
            }
        }
        if !failed.is_empty() {
            let message = format!("map: {} of {n} calls failed", failed.len());
            return Err(errors::group(py, message, failed));
        }
        PyList::new(py, values)
    }
}

impl PyPool {
    /// Runs `plan` with a sync `handler` called with `records[index]` on the pool's threads
    /// (`run_batch` and `run_jobs`); `results`, when given, receives each succeeded value.
    fn run_plan<'py>(
        &self,
        py: Python<'py>,
        plan: BatchPlan,
        records: Vec<Py<PyAny>>,
        handler: Bound<'py, PyAny>,
        core: &BatchOptions,
        results: Option<Bound<'py, PyList>>,
    ) -> PyResult<Py<PyReport>> {
        if let Some(results) = &results {
            if results.len() != records.len() {
                return Err(PyValueError::new_err(format!(
                    "results must be a list of {} items (one per record), got {}",
                    records.len(),
                    results.len()
                )));
            }
        }
        let results = results.map(Bound::unbind);
        let handler = handler.unbind();
        let call = |py: Python<'_>, index: usize| -> PyResult<()> {
            let value = handler.bind(py).call1((records[index].bind(py),))?;
            if is_awaitable(&value) {
                // A sync-looking callable returned an awaitable (e.g. an async function behind a
                // plain decorator): never report that as a success.
                if value.hasattr("close")? {
                    value.call_method0("close")?;
                }
                return Err(PyTypeError::new_err(
                    "the handler returned an awaitable: pass an `async def` handler (or use \
                     run_batch_async) so that lanepool awaits it",
                ));
            }
            if let Some(results) = &results {
                results.bind(py).set_item(index, value)?;
            }
            Ok(())
        };
        let interrupt = Interrupt::default();
        // A second reference to every error, dropped here with the GIL: the core may drop a
        // failed attempt's error under its run lock, which must then run no Python code.
        let errors: Mutex<Vec<Py<PyAny>>> = Mutex::new(Vec::new());
        let pool = &self.pool;
        // Runners on the pool's threads (the caller being one), each keeping the GIL across its
        // records and releasing it whenever it blocks (see `GilGate`).
        let result = py.detach(|| {
            pool.run_plan_gated(plan, core, &GilGate, |ticket, halt| {
                // SAFETY: handlers run inside `GilGate::run`, which holds the GIL.
                let py = unsafe { Python::assume_attached() };
                call(py, ticket.index).map_err(|err| {
                    if interrupt.catch(py, &err) {
                        // KeyboardInterrupt, SystemExit, ...: stop starting records.
                        halt.halt();
                    }
                    let value = err.into_value(py).into_any();
                    errors.lock().push(value.clone_ref(py));
                    value
                })
            })
        });
        drop(errors);
        if let Some(err) = interrupt.take() {
            return Err(err);
        }
        PyReport::into_result(py, result, |e| match e {
            RecordError::Error(value) => value,
            RecordError::Panic(message) => {
                PyRuntimeError::new_err(format!("lanepool: handler call panicked: {message}"))
                    .into_value(py)
                    .into_any()
            }
        })
    }
}

/// Job `i`'s plan entry (identifier `"i"`, lane `key(item)`) for each item, and the items.
fn jobs_plan(
    items: &Bound<'_, PyList>,
    key: Option<&Bound<'_, PyAny>>,
) -> PyResult<(BatchPlan, Vec<Py<PyAny>>)> {
    let py = items.py();
    let owned: Vec<Py<PyAny>> = items.iter().map(Bound::unbind).collect();
    let plan = match key {
        None => BatchPlan::jobs(owned.len()),
        Some(key) => {
            let values = owned
                .iter()
                .map(|item| crate::group_key::key_value(&key.call1((item.bind(py),))?))
                .collect::<PyResult<Vec<_>>>()?;
            BatchPlan::jobs_keyed(values).map_err(|e| errors::event_error(py, &e))?
        }
    };
    Ok((plan, owned))
}

enum TaskState {
    Pending,
    Returned(Py<PyAny>),
    Raised(Py<PyBaseException>),
    /// Emptied by the garbage collector (`__clear__`), which found the task in a cycle.
    Cleared,
}

/// A function spawned in a scope.
#[pyclass(frozen, module = "lanepool", name = "Task")]
pub struct PyTask {
    state: Mutex<TaskState>,
    finished: Condvar,
}

impl PyTask {
    fn wait(&self, py: Python<'_>) {
        if self.done() {
            return;
        }
        py.detach(|| {
            let mut state = self.state.lock();
            while matches!(*state, TaskState::Pending) {
                self.finished.wait(&mut state);
            }
        });
    }
}

#[pymethods]
impl PyTask {
    /// Whether the task finished.
    fn done(&self) -> bool {
        !matches!(*self.state.lock(), TaskState::Pending)
    }

    /// The task's return value, or raises its exception (waits for it first).
    fn result(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.wait(py);
        match &*self.state.lock() {
            TaskState::Returned(v) => Ok(v.clone_ref(py)),
            TaskState::Raised(e) => Err(PyErr::from_value(e.bind(py).clone().into_any())),
            TaskState::Cleared => Err(cleared()),
            TaskState::Pending => unreachable!("waited"),
        }
    }

    /// The task's exception, or None (waits for it first).
    fn exception(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.wait(py);
        match &*self.state.lock() {
            TaskState::Raised(e) => Some(e.clone_ref(py).into_any()),
            _ => None,
        }
    }

    fn __repr__(&self) -> &'static str {
        match &*self.state.lock() {
            TaskState::Pending => "<Task pending>",
            TaskState::Returned(_) => "<Task finished>",
            TaskState::Raised(_) => "<Task failed>",
            TaskState::Cleared => "<Task cleared>",
        }
    }

    /// What the task holds, for the garbage collector: its return value or exception may refer
    /// back to the task (a cycle).
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // The lock is only ever held briefly; if it is held now, nothing is reported, which
        // only keeps the objects alive longer (never frees a live one).
        if let Some(state) = self.state.try_lock() {
            match &*state {
                TaskState::Returned(v) => visit.call(v)?,
                TaskState::Raised(e) => visit.call(e)?,
                TaskState::Pending | TaskState::Cleared => {}
            }
        }
        Ok(())
    }

    /// Breaks a cycle through the task's result (the collector found it unreachable).
    fn __clear__(&self) {
        let old = match self.state.try_lock() {
            Some(mut state) if !matches!(*state, TaskState::Pending) => {
                std::mem::replace(&mut *state, TaskState::Cleared)
            }
            _ => return,
        };
        // Freed after the lock is released: freeing may run Python code that reads this task.
        drop(old);
    }
}

fn cleared() -> PyErr {
    PyRuntimeError::new_err("lanepool: this task's result was cleared by the garbage collector")
}

/// A scope: every task spawned in it (nested ones too) finishes before it exits.
#[pyclass(frozen, module = "lanepool", name = "Scope")]
pub struct PyScope {
    /// Always `Some` until dropped (see `Drop`).
    scope: Option<OwnedScope>,
    tasks: Mutex<Vec<Py<PyTask>>>,
    closed: AtomicBool,
}

#[pymethods]
impl PyScope {
    /// Starts `fn(*args, **kwargs)` on the pool; returns its task.
    #[pyo3(signature = (func, /, *args, **kwargs))]
    fn spawn(
        &self,
        py: Python<'_>,
        func: Py<PyAny>,
        args: Py<PyTuple>,
        kwargs: Option<Py<PyDict>>,
    ) -> PyResult<Py<PyTask>> {
        expect_callable("func", func.bind(py))?;
        if self.closed.load(Ordering::Acquire) {
            return Err(PyRuntimeError::new_err("spawn on a scope that has exited"));
        }
        let task = Py::new(
            py,
            PyTask {
                state: Mutex::new(TaskState::Pending),
                finished: Condvar::new(),
            },
        )?;
        self.tasks.lock().push(task.clone_ref(py));
        let handle = task.clone_ref(py);
        self.scope().spawn(move |_| {
            crate::gil::attach(|py| {
                let r = func
                    .bind(py)
                    .call(args.bind(py), kwargs.as_ref().map(|k| k.bind(py)))
                    .map(Bound::unbind);
                let state = match r {
                    Ok(value) => TaskState::Returned(value),
                    Err(err) => TaskState::Raised(err.into_value(py)),
                };
                let task = handle.get();
                *task.state.lock() = state;
                task.finished.notify_all();
                drop(func);
                drop(args);
                drop(kwargs);
                drop(handle);
            })
        });
        Ok(task)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Waits for every task (nested ones too); raises an ExceptionGroup of their exceptions.
    #[pyo3(signature = (_exc_type=None, exc=None, _tb=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<Bound<'_, PyAny>>,
        exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.wait_all(py)?;
        let tasks = std::mem::take(&mut *self.tasks.lock());
        let total = tasks.len();
        let mut failed: Vec<Py<PyAny>> = Vec::new();
        for task in &tasks {
            if let TaskState::Raised(e) = &*task.get().state.lock() {
                failed.push(e.clone_ref(py).into_any());
            }
        }
        if failed.is_empty() {
            return Ok(false);
        }
        let message = format!("scope: {} of {total} tasks failed", failed.len());
        if let Some(exc) = exc.filter(|e| !e.is_none()) {
            failed.insert(0, exc.unbind());
        }
        Err(errors::group(py, message, failed))
    }
}

impl PyScope {
    fn scope(&self) -> &OwnedScope {
        self.scope
            .as_ref()
            .expect("a scope has its OwnedScope until dropped")
    }

    /// Waits for every task: a thread outside the pool (the `with` block's) only sleeps, so
    /// at most `workers` tasks run at once; inside a pool task it runs this scope's tasks too.
    fn wait_all(&self, py: Python<'_>) -> PyResult<()> {
        let scope = self.scope();
        let ended = py.detach(|| scope.try_wait_on_workers());
        self.closed.store(true, Ordering::Release);
        ended.map_err(|payload| {
            PyRuntimeError::new_err(format!(
                "lanepool: scope task panicked: {}",
                panic_message(&*payload)
            ))
        })
    }
}

impl Drop for PyScope {
    /// A scope dropped without `__exit__` still waits for its tasks (the core's `OwnedScope`
    /// does on drop), with the GIL released so that they can finish. Dropped by one of its own
    /// tasks, it does not wait (for itself).
    fn drop(&mut self) {
        if let Some(scope) = self.scope.take() {
            if scope.pending() == 0 {
                drop(scope);
            } else {
                Python::attach(|py| py.detach(move || drop(scope)));
            }
        }
    }
}

/// Whether `value` can be awaited: its type fills the `am_await` slot, as coroutines, futures,
/// tasks and classes defining `__await__` do. (`hasattr(value, "__await__")` would raise and
/// discard an AttributeError for every handler that returns a plain value: a microsecond each.)
fn is_awaitable(value: &Bound<'_, PyAny>) -> bool {
    if value.is_none() {
        return false;
    }
    // SAFETY: a live type object; PyType_GetSlot takes static types too since Python 3.10,
    // the oldest this extension (abi3-py310) loads in.
    let slot = unsafe {
        pyo3::ffi::PyType_GetSlot(value.get_type().as_type_ptr(), pyo3::ffi::Py_am_await)
    };
    !slot.is_null()
}
