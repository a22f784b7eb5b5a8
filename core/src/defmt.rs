//! `defmt::Format` for the public types (feature `defmt`), for firmware logging.
//!
//! Every impl is written by hand here, so `defmt` stays out of the rest of the crate (no
//! `cfg_attr(derive)` on the types). The output follows the `Debug` layout of each type.
//! Generic types format their payload only where it is useful and cheap to require:
//! [`RunError<E>`] and [`Failure<E>`] need `E: Format`; [`SubmitError<I>`] never shows its
//! input (like its `Debug`), so it formats for every `I`.

use ::defmt::{write, Format, Formatter};

use crate::dag::{
    Compiled, DagError, Edge, EdgeLabel, NodeId, NodeInfo, NodeKind, RetryPolicy, Span, Succ,
};
use crate::sched::{
    CancelError, Counters, Entry, Failure, NoHooks, Priority, RunError, RunId, StorageError,
    SubmitError, SubmitOptions, TooManyItems,
};

// ------------------------------------------------------------------------------------ dag

impl Format for NodeId {
    fn format(&self, f: Formatter<'_>) {
        write!(f, "#{=u32}", self.0)
    }
}

impl Format for NodeKind {
    fn format(&self, f: Formatter<'_>) {
        match *self {
            Self::Task => write!(f, "Task"),
            Self::Condition => write!(f, "Condition"),
            Self::Iterator {
                body,
                max_items,
                item_offset,
            } => write!(
                f,
                "Iterator(body: {}, max_items: {=u16}, item_offset: {=u32})",
                body, max_items, item_offset
            ),
            Self::Body { iterator } => write!(f, "Body(iterator: {})", iterator),
        }
    }
}

impl Format for RetryPolicy {
    fn format(&self, f: Formatter<'_>) {
        write!(
            f,
            "RetryPolicy(attempts: {=u8}, backoff_ticks: {=u32})",
            self.attempts, self.backoff_ticks
        )
    }
}

impl Format for EdgeLabel {
    fn format(&self, f: Formatter<'_>) {
        match *self {
            Self::Always => write!(f, "Always"),
            Self::When(label) => write!(f, "When({=u8})", label),
            Self::Default => write!(f, "Default"),
        }
    }
}

impl Format for NodeInfo {
    fn format(&self, f: Formatter<'_>) {
        write!(
            f,
            "NodeInfo(name: {=str}, kind: {}, retry: {}, timeout_ticks: {})",
            self.name, self.kind, self.retry, self.timeout_ticks
        )
    }
}

impl Format for Edge {
    fn format(&self, f: Formatter<'_>) {
        write!(f, "Edge({} -> {}, {})", self.from, self.to, self.label)
    }
}

impl Format for Succ {
    fn format(&self, f: Formatter<'_>) {
        write!(
            f,
            "Succ(to: {=u32}, {}, target predecessors: {=u16})",
            self.to,
            self.label(),
            self.preds
        )
    }
}

impl Format for Span {
    fn format(&self, f: Formatter<'_>) {
        write!(f, "Span(start: {=u32}, len: {=u32})", self.start, self.len)
    }
}

impl Format for Compiled {
    fn format(&self, f: Formatter<'_>) {
        write!(
            f,
            "Compiled(roots: {=usize}, items: {=u32})",
            self.roots, self.items
        )
    }
}

impl Format for DagError {
    fn format(&self, f: Formatter<'_>) {
        match *self {
            Self::TooManyNodes { capacity } => {
                write!(f, "TooManyNodes(capacity: {=usize})", capacity)
            }
            Self::TooManyEdges { capacity } => {
                write!(f, "TooManyEdges(capacity: {=usize})", capacity)
            }
            Self::UnknownNode { name } => write!(f, "UnknownNode({=str})", name),
            Self::DuplicateNode { name } => write!(f, "DuplicateNode({=str})", name),
            Self::DuplicateEdge { from, to } => {
                write!(f, "DuplicateEdge({=str} -> {=str})", from, to)
            }
            Self::SelfLoop { node } => write!(f, "SelfLoop({=str})", node),
            Self::Cycle { node } => write!(f, "Cycle({=str})", node),
            Self::MissingDefault { node } => write!(f, "MissingDefault({=str})", node),
            Self::BranchOutsideCondition { node } => {
                write!(f, "BranchOutsideCondition({=str})", node)
            }
            Self::MissingBody { node } => write!(f, "MissingBody({=str})", node),
            Self::BodyWithEdges { node } => write!(f, "BodyWithEdges({=str})", node),
            Self::TooManyPredecessors { node } => {
                write!(f, "TooManyPredecessors({=str})", node)
            }
            Self::BadRetryPolicy { node } => write!(f, "BadRetryPolicy({=str})", node),
            Self::BufferTooSmall => write!(f, "BufferTooSmall"),
            Self::NotEnoughItemSlots { needed, capacity } => write!(
                f,
                "NotEnoughItemSlots(needed: {=usize}, capacity: {=usize})",
                needed, capacity
            ),
        }
    }
}

// ---------------------------------------------------------------------------------- sched

impl Format for RunId {
    fn format(&self, f: Formatter<'_>) {
        write!(f, "run {=usize}.{=u32}", self.slot(), self.generation())
    }
}

impl Format for Entry {
    fn format(&self, f: Formatter<'_>) {
        write!(
            f,
            "Entry(slot: {=usize}, node: {=u32}, attempt: {=u32}, live: {=bool})",
            self.slot(),
            self.node(),
            self.attempt(),
            self.live()
        )
    }
}

impl<E: Format> Format for RunError<E> {
    fn format(&self, f: Formatter<'_>) {
        match self {
            Self::Failed { node, error } => {
                write!(f, "Failed(node: {}, error: {})", node, error)
            }
            Self::Panicked { node } => write!(f, "Panicked(node: {})", node),
            Self::Timeout { node } => write!(f, "Timeout(node: {})", node),
            Self::TooManyItems { node, max } => {
                write!(f, "TooManyItems(node: {}, max: {=u16})", node, max)
            }
            Self::DeadlineExceeded => write!(f, "DeadlineExceeded"),
            Self::Cancelled => write!(f, "Cancelled"),
        }
    }
}

impl<E: Format> Format for Failure<E> {
    fn format(&self, f: Formatter<'_>) {
        match self {
            Self::Error(error) => write!(f, "Error({})", error),
            Self::Panicked => write!(f, "Panicked"),
        }
    }
}

/// The input is not shown (as in `Debug`), so no bound on `I`.
impl<I> Format for SubmitError<I> {
    fn format(&self, f: Formatter<'_>) {
        match self {
            Self::Busy(_) => write!(f, "Busy(..)"),
            Self::EmptyDag(_) => write!(f, "EmptyDag(..)"),
        }
    }
}

impl Format for CancelError {
    fn format(&self, f: Formatter<'_>) {
        match self {
            Self::NotActive => write!(f, "NotActive"),
        }
    }
}

impl Format for Priority {
    fn format(&self, f: Formatter<'_>) {
        match self {
            Self::High => write!(f, "High"),
            Self::Low => write!(f, "Low"),
        }
    }
}

impl Format for SubmitOptions {
    fn format(&self, f: Formatter<'_>) {
        write!(
            f,
            "SubmitOptions(priority: {}, deadline_ticks: {})",
            self.priority, self.deadline_ticks
        )
    }
}

impl Format for TooManyItems {
    fn format(&self, f: Formatter<'_>) {
        write!(f, "TooManyItems(max: {=u16})", self.max)
    }
}

impl Format for StorageError {
    fn format(&self, f: Formatter<'_>) {
        match self {
            Self::Cells => write!(f, "Cells"),
            Self::Items => write!(f, "Items"),
            Self::Limits => write!(f, "Limits"),
        }
    }
}

impl Format for NoHooks {
    fn format(&self, f: Formatter<'_>) {
        write!(f, "NoHooks")
    }
}

impl Format for Counters {
    fn format(&self, f: Formatter<'_>) {
        write!(
            f,
            "Counters(tasks_run: {=usize}, retries: {=usize}, failures: {=usize}, ring_full: {=usize}, busy: {=usize}, runs_submitted: {=usize}, runs_completed: {=usize}, runs_failed: {=usize}, runs_cancelled: {=usize}, ring_high_water: {=usize}, runs_high_water: {=usize}, runs_shared: {=usize})",
            self.tasks_run,
            self.retries,
            self.failures,
            self.ring_full,
            self.busy,
            self.runs_submitted,
            self.runs_completed,
            self.runs_failed,
            self.runs_cancelled,
            self.ring_high_water,
            self.runs_high_water,
            self.runs_shared
        )
    }
}
