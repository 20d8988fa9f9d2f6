//! Async scope (in progress).
