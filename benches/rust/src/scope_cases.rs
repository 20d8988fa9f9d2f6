//! The two scope cases of the benches, written once for lanepool's and rayon's pools (their
//! `scope` and `spawn` have the same shape but no trait in common).

/// Tasks in the flat case.
pub const TASKS: usize = 10_000;
/// Outer tasks in the nested case, each spawning `INNER` tasks.
pub const OUTER: usize = 100;
/// Tasks each outer task spawns in the nested case.
pub const INNER: usize = 100;

/// One scope on `$pool`: `TASKS` empty tasks (`$nested` false), or `OUTER` tasks each spawning
/// `INNER` (`$nested` true); every leaf adds one to the `AtomicUsize` `$n`.
macro_rules! scope_case {
    ($pool:expr, $nested:expr, $n:expr) => {
        $pool.scope(|s| {
            if $nested {
                for _ in 0..$crate::scope_cases::OUTER {
                    s.spawn(|s| {
                        for _ in 0..$crate::scope_cases::INNER {
                            s.spawn(|_| {
                                $n.fetch_add(1, ::std::sync::atomic::Ordering::Relaxed);
                            });
                        }
                    });
                }
            } else {
                for _ in 0..$crate::scope_cases::TASKS {
                    s.spawn(|_| {
                        $n.fetch_add(1, ::std::sync::atomic::Ordering::Relaxed);
                    });
                }
            }
        })
    };
}
pub(crate) use scope_case;
