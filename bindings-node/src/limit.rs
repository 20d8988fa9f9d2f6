//! A pool's shared in-flight limit: the core's [`InFlightLimit`], held by the JavaScript
//! `Pool` (`new Pool({ maxInFlight })`) and joined by each of its batches
//! ([`crate::batch::Batch::join`]).
//!
//! Everything runs on the pool's own thread (a `Pool` and its batches belong to one JavaScript
//! environment): a batch gives a slot back inside its own `drive()` call, and the core calls
//! the hook of the call the slot was handed to right there. The hook only notes that call's id
//! here; `lib/driver.js` sees the note (`drive()` counts the notes for it), takes them
//! ([`Limit::take_woken`]) and schedules those calls' drivers on the event loop. Which call
//! gets a slot, and in which turn, is the core's rule.

use std::sync::{Arc, Mutex, MutexGuard};

use lanepool::limit::{InFlightLimit, LimitedCall};
use napi::Result;
use napi_derive::napi;

/// Ids of calls a slot was handed to, not yet taken by the driver.
#[derive(Clone, Default)]
pub(crate) struct Woken(Arc<Mutex<Vec<f64>>>);

impl Woken {
    fn lock(&self) -> MutexGuard<'_, Vec<f64>> {
        // A panic cannot happen while the list is held (push, len, take), so a poisoned lock
        // still holds a consistent list.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// One batch's membership of its pool's limit.
pub(crate) struct Joined {
    pub(crate) call: LimitedCall,
    pub(crate) woken: Woken,
}

/// A limit on handlers in flight across every batch of one pool (see the module docs).
#[napi]
pub struct Limit {
    limit: InFlightLimit,
    woken: Woken,
}

#[napi]
impl Limit {
    /// A limit of `slots` handlers in flight at once (`lib/driver.js` has checked it is >= 1).
    #[napi(constructor)]
    pub fn new(slots: u32) -> Result<Self> {
        let limit = InFlightLimit::new(slots as usize)
            .map_err(|e| napi::Error::from_reason(format!("lanepool: {e}")))?;
        Ok(Limit {
            limit,
            woken: Woken::default(),
        })
    }

    /// The most handlers in flight at once.
    #[napi(getter)]
    pub fn slots(&self) -> u32 {
        self.limit.limit() as u32
    }

    /// Slots taken now (held by running handlers, or handed to a call not yet started).
    #[napi(getter)]
    pub fn in_flight(&self) -> u32 {
        self.limit.in_flight() as u32
    }

    /// Calls registered now (batches that have not finished).
    #[napi(getter)]
    pub fn calls(&self) -> u32 {
        self.limit.calls() as u32
    }

    /// The ids of the calls slots were handed to since the last call, in hand-over order.
    #[napi]
    pub fn take_woken(&self) -> Vec<f64> {
        std::mem::take(&mut *self.woken.lock())
    }
}

impl Limit {
    /// Registers one batch: its id, and its membership, whose hook notes the id.
    pub(crate) fn join(&self) -> (f64, Joined) {
        let call = self.limit.register();
        let id = call.id().get() as f64;
        let woken = self.woken.clone();
        let note = woken.clone();
        call.set_wake_hook(move || note.lock().push(id));
        (id, Joined { call, woken })
    }
}
