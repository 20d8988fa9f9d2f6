//! The Python face of lanepool: `lanepool._lanepool`, wrapped by the `lanepool` package.

mod batch_run;
mod decode;
mod errors;
mod gil;
mod group_key;
mod interrupt;
mod json;
mod options;
mod pool;
mod report;
mod wake;

use pyo3::prelude::*;

/// Rust core of the `lanepool` package (use `lanepool`, not this module).
#[pymodule(gil_used = true)]
fn _lanepool(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<pool::PyPool>()?;
    m.add_class::<pool::PyScope>()?;
    m.add_class::<pool::PyTask>()?;
    m.add_class::<options::PyBatchOptions>()?;
    m.add_class::<report::PyReport>()?;
    m.add_class::<report::PyFailure>()?;
    m.add_class::<batch_run::PyBatchRun>()?;
    m.add_function(wrap_pyfunction!(errors::py_expect_callable, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULT_WORKERS", pool::DEFAULT_WORKERS)?;
    // The core's defaults, which `BatchOptions` applies.
    m.add(
        "DEFAULT_DEADLINE_MARGIN_MS",
        options::default_deadline_margin_ms(),
    )?;
    m.add(
        "DEFAULT_RETRY_BACKOFF_MS",
        options::default_retry_backoff_ms(),
    )?;
    Ok(())
}
