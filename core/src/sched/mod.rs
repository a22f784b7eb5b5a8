//! The scheduler: runs of a [`Dag`](crate::dag::Dag) over fixed storage.
//!
//! # Model
//!
//! A *run* is one execution of the DAG with its own input, per-node pending counters and
//! value slots, all in a run slot of fixed storage. [`TaskManager::submit`] claims a free slot
//! (or returns [`SubmitError::Busy`]), initialises it and pushes the DAG's roots onto a task
//! ring: one entry per root, or, for a DAG with more than 32 roots, one *root token* that
//! workers hand on while each claims the next 32 roots. The slot's node cells are not
//! cleared: the previous run left them ready (see [`Engine::submit_with`]), except every
//! 64th run of a slot, which clears them (a loop over the nodes). Task-ring entries are
//! 8-byte `Copy` values ([`Entry`]: run slot + node + attempt), so batches move as `memcpy`;
//! payloads stay in the run's slots.
//!
//! A worker ([`TaskManager::step`]) pops a batch of entries and executes each node. When a node
//! finishes, the worker itself decrements each successor's pending counter (one atomic
//! read-modify-write per edge, no central result processor); a successor whose counter reaches
//! zero is ready: the worker continues with the first one directly and pushes the others.
//! An edge that is its target's only incoming edge (chains, trees) is not counted at all:
//! the target is ready when the edge resolves.
//! A driver with several worker threads (the std runtime) gives each one a [`WorkDeque`]
//! ([`Engine::with_worker`]): the others go there, the worker takes its newest entry first,
//! and idle workers steal the oldest ones; a push onto a deque wakes parked workers as a ring
//! push does.
//! When the last node of a run resolves, the run's id goes onto the result ring, where
//! [`TaskManager::poll`] (a firmware main loop, a submitter, an observer) picks it up.
//!
//! # Guarantees
//!
//! - Every node of a run resolves exactly once: it runs (after all its predecessors resolved)
//!   or it is skipped (branch not taken, run failed or cancelled).
//! - Nothing is dropped. A ready entry that does not fit in the task ring is parked in its
//!   node cell and picked up by the next worker that finds the ring empty; a completion that
//!   does not fit in the result ring is found by `poll` scanning the run slots.
//! - Every accepted run ends with exactly one result ([`Finished`]).
//!
//! # Priorities
//!
//! Two levels, one task ring each. A worker takes a batch from the high ring first, except
//! that every fourth batch (counted manager-wide) is taken from the low ring first: under
//! sustained high-priority load the low level still gets at least a quarter of the batches.
//! With worker deques (high priority only), batches are counted per worker and every fourth
//! one goes to the rings before the worker's own deque, alternately low and high ring first:
//! low-priority work then gets at least an eighth of a busy worker's batches.
//!
//! # Failure, retry, timeouts, cancel
//!
//! A node body returns `Result<V, E>`. An error is retried per the node's
//! [`RetryPolicy`](crate::dag::RetryPolicy); back-off is counted in ticks advanced by the
//! caller ([`TaskManager::advance_tick`]), so nothing sleeps in a worker. When the attempts are
//! used up the run fails: nodes not yet started are skipped, nodes already running finish,
//! and the run's result is [`RunError::Failed`] naming the node and its error. Other runs are
//! unaffected. A node with a timeout fails with [`RunError::Timeout`] when it returns late; a
//! run with a deadline fails with [`RunError::DeadlineExceeded`] at the first node started
//! after it. [`TaskManager::cancel`] skips what has not started and ends the run with
//! [`RunError::Cancelled`].
//!
//! # Example (single-threaded, as on firmware)
//!
//! ```
//! use ringdag_core::dag::{Dag, DagBuilder};
//! use ringdag_core::sched::{Context, TaskManager};
//!
//! fn read(cx: &mut Context<'_, u32, u32>) -> Result<u32, ()> { Ok(*cx.input()) }
//! fn double(cx: &mut Context<'_, u32, u32>) -> Result<u32, ()> {
//!     Ok(cx.inputs().map(|(_, v)| v * 2).sum())
//! }
//!
//! static DAG: Dag<u32, u32, (), 2, 1> = Dag::new_or_panic(
//!     DagBuilder::new().task("read", read).task("double", double).edge("read", "double").build(),
//! );
//! static TM: TaskManager<u32, u32, (), 2, 1, 4, 0, 16> = TaskManager::new(&DAG);
//!
//! let run = TM.submit(21).unwrap();
//! while TM.step() > 0 {}
//! let done = TM.poll().unwrap();
//! assert_eq!(done.id(), run);
//! assert!(done.outcome().is_ok());
//! assert_eq!(done.value(DAG.find("double").unwrap()), Some(42));
//! ```

mod context;
/// Needs 64-bit atomics (hosts; loom).
#[cfg(any(target_has_atomic = "64", loom))]
mod deque;
mod engine;
mod manager;
mod storage;

pub use context::{Context, TooManyItems};
#[cfg(any(target_has_atomic = "64", loom))]
pub use deque::WorkDeque;
#[cfg(any(target_has_atomic = "64", loom))]
pub use engine::WorkerDeque;
pub use engine::{
    Bodies, Engine, Finished, Hooks, NoHooks, Queue, SerialPlan, StorageError, PACE_CHECK_NS,
    SHARE_PACE_NS,
};
pub use manager::TaskManager;
pub use storage::{ItemCell, NodeCell, RunSlot, Shared};

/// The most entries one [`Engine::step`] pops at once: a larger `max_batch` acts as this.
pub const MAX_BATCH: usize = engine::BATCH;

use core::fmt;

use crate::dag::NodeId;

/// Identifies a run: its slot and the slot's generation, so a stale id does not match the
/// slot's later runs: `take`, `cancel` and `is_active` of a stale id answer as for a run that
/// has ended.
///
/// The generation has 20 bits: after 2^20 runs through the same slot it wraps, and an id
/// kept that long matches the run then in the slot. Drop ids once their run is taken (the
/// std runtime's `RunHandle` does this for you: it answers from its own state once its
/// result was taken).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct RunId(pub(crate) u32);

impl RunId {
    pub(crate) const SLOT_BITS: u32 = 12;
    /// Most run slots a manager can have.
    pub const MAX_SLOTS: usize = 1 << Self::SLOT_BITS;

    pub(crate) const fn new(slot: usize, generation: u32) -> Self {
        Self((generation << Self::SLOT_BITS) | slot as u32)
    }

    /// The run slot.
    pub const fn slot(self) -> usize {
        (self.0 & ((1 << Self::SLOT_BITS) - 1)) as usize
    }

    /// The slot's generation when the run was submitted (wraps after 2^20 reuses).
    pub const fn generation(self) -> u32 {
        self.0 >> Self::SLOT_BITS
    }

    /// The packed form.
    pub const fn to_bits(self) -> u32 {
        self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run {}.{}", self.slot(), self.generation())
    }
}

/// A task-ring entry: run slot, node, attempt, and whether the node is live (to run) or
/// resolved dead (to skip). 8 bytes, `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Entry(u64);

impl Entry {
    const NODE_BITS: u32 = 24;
    /// Most nodes a scheduled DAG can have.
    pub const MAX_NODES: usize = 1 << Self::NODE_BITS;
    const RUN_SHIFT: u32 = Self::NODE_BITS;
    const ATTEMPT_SHIFT: u32 = Self::RUN_SHIFT + RunId::SLOT_BITS;
    const LIVE: u64 = 1 << (Self::ATTEMPT_SHIFT + 5);
    const ROOTS: u64 = 1 << (Self::ATTEMPT_SHIFT + 6);

    #[inline(always)]
    pub(crate) const fn new(slot: usize, node: u32, attempt: u32, live: bool) -> Self {
        Self(
            node as u64
                | (slot as u64) << Self::RUN_SHIFT
                | (attempt as u64) << Self::ATTEMPT_SHIFT
                | if live { Self::LIVE } else { 0 },
        )
    }

    /// The root token of the run in `slot`: whoever takes it claims the run's next roots
    /// (a DAG with many roots is not pushed root by root).
    #[inline(always)]
    pub(crate) const fn roots(slot: usize) -> Self {
        Self((slot as u64) << Self::RUN_SHIFT | Self::LIVE | Self::ROOTS)
    }

    /// Whether this is a run's root token rather than one node.
    #[inline(always)]
    pub const fn is_roots(self) -> bool {
        self.0 & Self::ROOTS != 0
    }

    /// The run slot.
    #[inline(always)]
    pub const fn slot(self) -> usize {
        ((self.0 >> Self::RUN_SHIFT) & ((1 << RunId::SLOT_BITS) - 1)) as usize
    }

    /// The node index.
    #[inline(always)]
    pub const fn node(self) -> u32 {
        (self.0 & ((1 << Self::NODE_BITS) - 1)) as u32
    }

    /// Attempt number (0 = first).
    #[inline(always)]
    pub const fn attempt(self) -> u32 {
        ((self.0 >> Self::ATTEMPT_SHIFT) & 0x1f) as u32
    }

    /// Live (run it) or dead (skip it).
    #[inline(always)]
    pub const fn live(self) -> bool {
        self.0 & Self::LIVE != 0
    }

    /// The packed bits (for queues that store entries in atomics).
    #[inline(always)]
    pub const fn to_bits(self) -> u64 {
        self.0
    }

    /// An entry from [`to_bits`](Self::to_bits) (any bits decode; only an engine's own
    /// entries mean anything to it).
    #[inline(always)]
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }
}

/// Why a run did not succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunError<E> {
    /// A node returned an error on its last attempt.
    Failed {
        /// The node.
        node: NodeId,
        /// Its error.
        error: E,
    },
    /// A node panicked (std runtime only; the runtime keeps the message).
    Panicked {
        /// The node.
        node: NodeId,
    },
    /// A node returned after its timeout.
    Timeout {
        /// The node.
        node: NodeId,
    },
    /// An iterator emitted more than its `max_items`.
    TooManyItems {
        /// The iterator.
        node: NodeId,
        /// Its limit.
        max: u16,
    },
    /// The run's deadline passed before it finished.
    DeadlineExceeded,
    /// The run was cancelled.
    Cancelled,
}

impl<E> RunError<E> {
    /// The node that caused the failure, if a node did.
    pub fn node(&self) -> Option<NodeId> {
        match self {
            Self::Failed { node, .. }
            | Self::Panicked { node }
            | Self::Timeout { node }
            | Self::TooManyItems { node, .. } => Some(*node),
            Self::DeadlineExceeded | Self::Cancelled => None,
        }
    }
}

impl<E: fmt::Debug> fmt::Display for RunError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed { node, error } => write!(f, "node {node} failed: {error:?}"),
            Self::Panicked { node } => write!(f, "node {node} panicked"),
            Self::Timeout { node } => write!(f, "node {node} exceeded its timeout"),
            Self::TooManyItems { node, max } => {
                write!(f, "iterator {node} emitted more than {max} items")
            }
            Self::DeadlineExceeded => write!(f, "run deadline exceeded"),
            Self::Cancelled => write!(f, "run cancelled"),
        }
    }
}

/// How a node body failed (what [`Bodies::call`] returns on failure).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure<E> {
    /// The body returned an error.
    Error(E),
    /// The body panicked (caught by the std runtime).
    Panicked,
}

/// Why `submit` refused a run. The input is given back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SubmitError<I> {
    /// No free run slot, or the task ring is full: try again later.
    Busy(I),
    /// The DAG has no root to start from (it is empty).
    EmptyDag(I),
}

impl<I> SubmitError<I> {
    /// The input that was not submitted.
    pub fn into_input(self) -> I {
        match self {
            Self::Busy(i) | Self::EmptyDag(i) => i,
        }
    }
}

impl<I> fmt::Debug for SubmitError<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Busy(_) => f.write_str("Busy(..)"),
            Self::EmptyDag(_) => f.write_str("EmptyDag(..)"),
        }
    }
}

impl<I> fmt::Display for SubmitError<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Busy(_) => f.write_str("busy: no free run slot or the task ring is full"),
            Self::EmptyDag(_) => f.write_str("the DAG has no nodes"),
        }
    }
}

/// Priority level of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Priority {
    /// Taken first (but see the fairness rule in the module docs).
    #[default]
    High,
    /// Taken at least every fourth batch.
    Low,
}

/// Options of [`TaskManager::submit_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SubmitOptions {
    /// The priority level.
    pub priority: Priority,
    /// This many ticks after submission the run stops starting nodes: the first node that
    /// would start after the deadline fails the run with [`RunError::DeadlineExceeded`] (a node
    /// already running is not interrupted; a run whose last node finishes late still ends
    /// `Ok`). At most 2^30 - 1 ticks (more counts as that).
    pub deadline_ticks: Option<u32>,
}

/// Why `cancel` did nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelError {
    /// The id names no active run (finished, taken, or never submitted).
    NotActive,
}

impl fmt::Display for CancelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no active run with this id")
    }
}

/// A snapshot of the scheduler's counters.
///
/// A worker adds its `tasks_run`, `retries` and `failures` once per `step`, at its end: a
/// snapshot taken as soon as a run has finished may not count that run's last ones yet (the
/// run counters, `runs_completed` and the others, are counted before the run is handed
/// over).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Counters {
    /// Node bodies executed (each attempt and each iterator item counts).
    pub tasks_run: usize,
    /// Retries scheduled (none for a node whose run has already stopped).
    pub retries: usize,
    /// Nodes that failed for good.
    pub failures: usize,
    /// Entries that did not fit in the task ring (parked instead).
    pub ring_full: usize,
    /// `submit` calls answered with `Busy`.
    pub busy: usize,
    /// Runs accepted.
    pub runs_submitted: usize,
    /// Runs finished successfully.
    pub runs_completed: usize,
    /// Runs finished with a failure.
    pub runs_failed: usize,
    /// Runs finished cancelled.
    pub runs_cancelled: usize,
    /// Most entries seen in a task ring, at most its capacity. Sampled by the worker that
    /// pops a batch (what it left plus what it took), so under concurrent pushes it may
    /// count a few entries pushed just after that pop.
    pub ring_high_water: usize,
    /// Most runs in flight at once.
    pub runs_high_water: usize,
    /// Serial runs whose nodes proved slow enough to share: they went on counted, so that
    /// other workers could take their ready nodes (a runtime with several workers; see the
    /// runtime's `Builder::workers`).
    pub runs_shared: usize,
}

impl<E: fmt::Debug> core::error::Error for RunError<E> {}
impl<I> core::error::Error for SubmitError<I> {}
impl core::error::Error for CancelError {}
impl core::error::Error for context::TooManyItems {}
