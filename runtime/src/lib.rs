//! `ringdag-runtime`: the std side of ringdag. Worker threads (one per CPU by default) drive
//! the core scheduler ([`ringdag_core::sched::Engine`]) over heap storage, with run handles
//! that block or `.await`, panics caught per node, metrics, DOT and Chrome-trace export.
//!
//! # Allocation
//!
//! Building a [`Graph`] and a [`Runtime`] allocates (the graph, run storage, task rings,
//! threads). After that, submitting, executing and waiting for runs allocates nothing: run
//! slots, task entries and results live in the storage allocated at build time, and a
//! [`RunHandle`] is an `Arc` clone. Exceptions, all opt-in or exceptional: a node panic
//! stores its message (a `String`, and the first panic in a run slot a small `Vec` entry that
//! is reused afterwards); [`RunResult::items`] returns a `Vec` (use
//! [`RunResult::with_items`] instead); `.await` stores the task's `Waker` (cloning it may
//! allocate, depending on the executor); trace export allocates; with the `tracing` feature,
//! each run's span is kept in an `Arc` (one allocation per run), and spans and events are the
//! subscriber's to store (most allocate per span).
#![warn(missing_docs)]

mod graph;
mod inner;
mod runtime;
mod sleep;
mod slot_wait;
#[cfg(any(feature = "tracing", test))]
mod spans;
mod trace;
mod waiter;

/// The synchronisation types `sleep.rs`, `slot_wait.rs` and `waiter.rs` are written over
/// (loom's in their model tests).
mod shim {
    pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
    pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};
}

pub use graph::{BodyFn, Graph, GraphBuilder};
pub use runtime::{
    BuildError, Builder, IdleStrategy, Metrics, RunHandle, RunResult, Runtime, Shutdown,
    SubmitError,
};
pub use trace::{TraceEvent, TRACE_EVENTS};

pub use ringdag_core as core;
pub use ringdag_core::dag::{DagError, NodeId, RetryPolicy};
pub use ringdag_core::sched::{CancelError, Context, Counters, Priority, RunError, RunId};

/// The default number of worker threads: one per logical CPU (see the README for the
/// measurement behind this default).
pub fn default_workers() -> usize {
    num_cpus::get().max(1)
}

/// `d` in the runtime's ticks (whole milliseconds), rounded up, saturating.
pub(crate) fn ticks_ceil(d: std::time::Duration) -> u32 {
    u32::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn ticks_round_up_to_whole_milliseconds_and_saturate() {
        let ms = Duration::from_millis;
        assert_eq!(super::ticks_ceil(Duration::ZERO), 0);
        assert_eq!(super::ticks_ceil(Duration::from_nanos(1)), 1);
        assert_eq!(super::ticks_ceil(Duration::from_micros(900)), 1);
        assert_eq!(super::ticks_ceil(ms(1)), 1);
        assert_eq!(super::ticks_ceil(ms(1) + Duration::from_nanos(1)), 2);
        assert_eq!(super::ticks_ceil(ms(250)), 250);
        assert_eq!(super::ticks_ceil(Duration::MAX), u32::MAX);
    }
}
