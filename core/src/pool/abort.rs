//! The pool's last resort: abort the process when its own bookkeeping panics.
//!
//! Task panics, and panics of the values tasks leave behind (payloads whose `Drop` panics),
//! are caught and contained. What is left is the pool's bookkeeping itself: the counts a
//! scope's borrow depends on, the queues, the parking. A panic there cannot be contained
//! without breaking the invariant [`Scope::spawn`](super::Scope::spawn) relies on (the scope
//! does not return, or unwind, before every task borrowing from it has finished), so, as
//! rayon-core does, the process is aborted instead of unwinding past the count.

/// Aborts the process if dropped: create it before a section that must not unwind and
/// [`disarm`](AbortIfPanic::disarm) it after. Dropped during unwinding, it prints what broke
/// and aborts.
pub(crate) struct AbortIfPanic {
    /// The section it guards, for the message.
    pub(crate) section: &'static str,
}

impl AbortIfPanic {
    /// The section ended normally.
    #[inline]
    pub(crate) fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for AbortIfPanic {
    #[cold]
    fn drop(&mut self) {
        eprintln!(
            "lanepool: unexpected panic in {}; aborting (unwinding would let tasks outlive \
             their scope)",
            self.section
        );
        std::process::abort();
    }
}
