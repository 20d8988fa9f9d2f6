//! Waking an asyncio driver whose call was handed a slot of the pool's in-flight limit.
//!
//! The limit calls a call's wake hook on whichever thread gave the slot back, outside the
//! limit's lock but maybe inside another driver's own lock (the sync driver releases a slot
//! while it holds its run state). Running Python code there could deadlock: taking the GIL, or
//! `loop.call_soon_threadsafe` releasing it while it writes to the loop's self-pipe, lets a
//! thread that holds the GIL wait for that same lock. So the hook only hands the call to one
//! waker thread, which takes the GIL with no lock held and calls
//! `loop.call_soon_threadsafe(callback)`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use pyo3::prelude::*;

/// One asyncio call's wake-up: `event_loop.call_soon_threadsafe(callback)`.
pub struct LoopWake {
    event_loop: Py<PyAny>,
    callback: Py<PyAny>,
    /// Set while a wake-up is on its way: later ones before it runs are the same wake-up.
    pending: AtomicBool,
}

impl LoopWake {
    pub fn new(event_loop: Py<PyAny>, callback: Py<PyAny>) -> Arc<Self> {
        Arc::new(LoopWake {
            event_loop,
            callback,
            pending: AtomicBool::new(false),
        })
    }

    /// Schedules the callback on the loop, from any thread, touching no Python object here.
    pub fn wake(self: &Arc<Self>) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            send(Arc::clone(self));
        }
    }
}

/// The waker thread's queue, with the process it was started in (a forked child starts its
/// own: the parent's thread is not there).
static WAKER: Mutex<Option<(u32, mpsc::Sender<Arc<LoopWake>>)>> = Mutex::new(None);

fn send(target: Arc<LoopWake>) {
    let mut waker = WAKER.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    let target = match &*waker {
        Some((started_in, queue)) if *started_in == pid => match queue.send(target) {
            Ok(()) => return,
            Err(mpsc::SendError(target)) => target,
        },
        _ => target,
    };
    let (queue, wakes) = mpsc::channel::<Arc<LoopWake>>();
    let started = std::thread::Builder::new()
        .name("lanepool-waker".into())
        .spawn(move || {
            for target in wakes {
                target.pending.store(false, Ordering::Release);
                crate::gil::attach(|py| {
                    let callback = target.callback.clone_ref(py);
                    // A closed loop raises RuntimeError: its call has ended, nothing to wake.
                    let _ = target
                        .event_loop
                        .call_method1(py, "call_soon_threadsafe", (callback,));
                    drop(target);
                });
            }
        });
    if started.is_ok() && queue.send(target).is_ok() {
        *waker = Some((pid, queue));
    }
}
