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
//! stores its message (a `String`); [`RunResult::items`] returns a `Vec` (use
//! [`RunResult::with_items`] instead); `.await` stores the task's `Waker` (cloning it may
//! allocate, depending on the executor); trace export allocates.
#![warn(missing_docs)]

mod graph;
mod inner;
mod runtime;
mod trace;

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
