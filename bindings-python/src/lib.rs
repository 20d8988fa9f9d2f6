//! The Python face of lanepool: `lanepool._lanepool`, wrapped by the `lanepool` package.

mod aio;
mod batch;
mod errors;
mod gil;
mod json;
mod pool;

use pyo3::prelude::*;

/// Rust core of the `lanepool` package (use `lanepool`, not this module).
#[pymodule(gil_used = true)]
fn _lanepool(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<pool::PyPool>()?;
    m.add_class::<pool::PyScope>()?;
    m.add_class::<pool::PyTask>()?;
    m.add_class::<batch::PyReport>()?;
    m.add_class::<batch::PyFailure>()?;
    m.add_class::<aio::PyBatchRun>()?;
    m.add_function(wrap_pyfunction!(aio::start_batch, m)?)?;
    // The core's defaults, which the Python signatures show.
    let millis = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    m.add(
        "DEFAULT_DEADLINE_MARGIN_MS",
        millis(lanepool::batch::DEFAULT_DEADLINE_MARGIN),
    )?;
    m.add(
        "DEFAULT_RETRY_BACKOFF_MS",
        millis(lanepool::lanes::Backoff::default().base),
    )?;
    Ok(())
}
