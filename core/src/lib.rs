//! lanepool: a scoped worker pool and per-lane ordered batch processing.
//! (crate docs are completed with the semantics table once the modules land)

pub mod async_scope;
pub mod event;
pub mod lanes;
pub mod pool;
pub mod batch;
