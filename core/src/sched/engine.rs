//! [`Engine`]: the scheduling logic over borrowed storage. The static
//! [`TaskManager`](super::TaskManager) and the std runtime both drive this one implementation.

use core::fmt;
use core::mem::MaybeUninit;

use crate::dag::{DagView, NodeHot, NodeId, NodeKind, Succ};
use crate::ring::RingBuffer;
use crate::sync::Ordering::{AcqRel, Acquire, Relaxed, Release};

use super::context::Context;
use super::storage::{flag, node, phase, ItemCell, NodeCell, RunSlot, Shared};
use super::{
    CancelError, Counters, Entry, Failure, Priority, RunError, RunId, SubmitError, SubmitOptions,
};

/// Low 16 bits of `NodeCell::pending`: predecessors not yet resolved.
const PENDING_MASK: u32 = 0xffff;
/// One live arrival, in the high 16 bits of `NodeCell::pending`.
const LIVE_UNIT: u32 = 1 << 16;
/// Entries popped per batch by `step`.
pub(crate) const BATCH: usize = 32;
/// Ready successors collected before one push to the ring.
const SPILL: usize = 16;
/// Whether workers can have deques (`Engine::with_worker`): targets with 64-bit atomics.
const DEQUES: bool = cfg!(any(target_has_atomic = "64", loom));
/// At most this many item tokens are out per iterator execution (the one kept included).
/// An engine built `with_worker` knows its workers and puts out no more tokens than workers.
const MAX_TOKENS: usize = 64;
/// Generations wrap at this mask (20 bits, as in [`RunId`]).
const GEN_MASK: u32 = (1 << (32 - RunId::SLOT_BITS)) - 1;
/// `flags` bits above this shift hold the run's generation.
const FLAG_GEN_SHIFT: u32 = 8;
/// Set in `flags` when the run completes; `cancel` refuses afterwards.
const FINAL: u32 = 1 << 5;
/// Longest deadline or back-off in ticks. Ticks compare by wrapping difference, so anything up
/// to 2^31 - 1 ahead would compare right from the tick it was set at; half of that leaves
/// room for a thread whose view of the tick lags (by up to 2^30 ticks) to compare it too.
const MAX_HORIZON: u32 = (1 << 30) - 1;
/// The retry hint is kept at most this far ahead of the tick of whoever writes it (an earlier
/// hint is still a lower bound), for the same reason.
pub(crate) const HINT_HORIZON: u32 = 1 << 30;
/// Phase of a run that is done but whose id could not be pushed to the result ring.
const DONE_UNLISTED: u32 = 5;

/// A bounded queue of `Copy` values that the scheduler can use as a task or result ring.
/// Implemented by [`RingBuffer`].
///
/// # Safety
///
/// The scheduler's memory safety relies on it: every value pushed is popped at most once, and
/// a push happens-before the pop that returns the value (Release/Acquire), as for
/// [`RingBuffer`].
pub unsafe trait Queue<T>: Sync {
    /// Pushes a prefix of `items`; returns how many.
    fn push_slice(&self, items: &[T]) -> usize;
    /// Pops into a prefix of `out`; returns how many.
    fn pop_slice(&self, out: &mut [T]) -> usize;
    /// Current length (snapshot).
    fn len(&self) -> usize;
    /// `len() == 0` (snapshot).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Capacity.
    fn capacity(&self) -> usize;
}

// SAFETY: the ring pops each pushed value exactly once, and publishes each slot with a
// Release stamp store that the popping claim acquires (see `ring::mpmc`).
unsafe impl<T: Copy + Send, const N: usize> Queue<T> for RingBuffer<T, N> {
    #[inline]
    fn push_slice(&self, items: &[T]) -> usize {
        RingBuffer::push_slice(self, items)
    }
    #[inline]
    fn pop_slice(&self, out: &mut [T]) -> usize {
        RingBuffer::pop_slice(self, out)
    }
    fn len(&self) -> usize {
        RingBuffer::len(self)
    }
    fn capacity(&self) -> usize {
        N
    }
}

/// The node bodies of a DAG, called by node id.
///
/// A body must return, not unwind: a panic that leaves [`Engine::step`] loses the entries of
/// that `step` not yet run and its tally, so their runs never finish and their slots stay
/// taken. On firmware a panic ends the program anyway; a hosted driver catches it around the
/// call (the std runtime turns it into [`Failure::Panicked`]).
pub trait Bodies<I, V, E> {
    /// Runs the body of `node`.
    ///
    /// # Errors
    ///
    /// What the body returned ([`Failure::Error`]), or [`Failure::Panicked`] if the caller
    /// caught a panic.
    fn call(&self, node: NodeId, cx: &mut Context<'_, I, V>) -> Result<V, Failure<E>>;
}

/// Callbacks from the engine to its driver (the std runtime wakes workers and handles with
/// them). Each runs on the thread that caused the event and must not block.
pub trait Hooks: Sync {
    /// Entries were pushed to a task ring or parked.
    fn work_available(&self) {}
    /// A run was accepted. Called on the submitting thread after the run's slot is claimed
    /// and before any of its nodes is published, so whatever the driver records here
    /// happens-before every node of the run (the std runtime opens the run's `tracing` span).
    /// It runs in `submit`'s context (on firmware perhaps an interrupt handler) and delays
    /// the run's publication: keep it short. It must not panic: the slot would stay
    /// claimed, and the run would never start.
    fn run_submitted(&self, _run: RunId) {}
    /// A run finished: its result could be taken from the moment before this call, so by
    /// now it may have been taken and the slot reused, even by a run with the same id once
    /// the slot's 20-bit generation has wrapped (check `is_active` under the lock that
    /// guards what the driver keeps per run, as the std runtime does).
    fn run_finished(&self, _run: RunId) {}
    /// The current tick from a clock, for drivers whose ticks follow real time. The engine asks
    /// just before it checks a run deadline or a node timeout, so those use a fresh tick;
    /// `None` (the default) means ticks only move through `advance_tick`.
    fn clock(&self) -> Option<u32> {
        None
    }
    /// A worker started a turn of a serial run on an engine with several workers: until it
    /// moves on, the run is held, and only a driver's idle worker can take it over (see
    /// [`Engine::steal_stalled`]). The std runtime wakes workers that sleep without a time
    /// limit, so that one of them looks. Called once per turn; must not block.
    fn run_held(&self) {}
    /// Nanoseconds from a monotonic clock, for the pace of serial runs on an engine with
    /// several workers (see [`Engine::with_serial`]): a serial run reads it when its turn
    /// starts and every so often after (about every [`PACE_CHECK_NS`], at most once per node),
    /// and goes on counted, for the other workers to share, once its nodes take
    /// [`SHARE_PACE_NS`] or more each. Only differences between two readings on one thread
    /// matter. `None` (the default): serial runs are never shared.
    fn pace_clock(&self) -> Option<u64> {
        None
    }
}

/// Hooks that do nothing (firmware: `poll` finds finished runs in the result ring).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;
impl Hooks for NoHooks {}

/// Why [`Engine::new`] rejected the storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageError {
    /// `cells` is smaller than `runs × stride` (or that product overflows), or `stride` is
    /// smaller than the DAG.
    Cells,
    /// `items` is smaller than `runs × item_stride` (or that product overflows), or
    /// `item_stride` smaller than the DAG needs.
    Items,
    /// No run slot, more than [`RunId::MAX_SLOTS`], or more than [`Entry::MAX_NODES`] nodes.
    Limits,
}

/// The scheduler over borrowed storage. `Copy`: a bundle of references.
///
/// Build one with [`Engine::new`] when you bring your own storage (the std runtime does, on
/// the heap); firmware uses [`TaskManager`](super::TaskManager), which owns static storage
/// and builds its engine on each call.
pub struct Engine<'a, I, V, E> {
    dag: DagView<'a>,
    runs: &'a [RunSlot<I, E>],
    cells: &'a [NodeCell<V>],
    stride: usize,
    items: &'a [ItemCell<V>],
    item_stride: usize,
    queues: [&'a dyn Queue<Entry>; 2],
    results: Option<&'a dyn Queue<RunId>>,
    shared: &'a Shared,
    hooks: &'a dyn Hooks,
    /// Every worker's deque and the index of the calling worker's own, when the driver
    /// gives each worker one (the std runtime); `None`: the rings only.
    #[cfg(any(target_has_atomic = "64", loom))]
    worker: Option<(&'a [WorkerDeque], usize)>,
    /// Runs submitted through this engine execute serially, in topological order (see
    /// [`with_serial`](Self::with_serial)).
    serial: bool,
    /// What a serial run may skip: see [`SerialPlan`].
    plan: SerialPlan,
    /// When a serial run stepped by this engine checks its pace, and when it shares.
    pace: PaceLimits,
}

/// When a serial run checks its pace and when it is shared (see [`Engine::with_pace`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PaceLimits {
    share_ns: u64,
    check_ns: u64,
}

impl PaceLimits {
    const DEFAULT: Self = Self {
        share_ns: SHARE_PACE_NS,
        check_ns: PACE_CHECK_NS,
    };
}

/// What a DAG allows a serial run ([`Engine::with_serial`]): whether it may run serially
/// at all, and what the serial loop may skip reading per node. Made by [`SerialPlan::of`]
/// (the default allows nothing); a serial run carries it in its flags, so whichever engine
/// steps the run follows it.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SerialPlan {
    /// The DAG's nodes, for a sanity check against the engine's.
    nodes: usize,
    /// [`DagView::runs_serially`].
    eligible: bool,
    /// The topological order is the index order (`topo[i] == i`): the loop does not read
    /// `topo`.
    index_order: bool,
    /// No node has a timeout and none is a condition: the loop takes its fast path for
    /// every node (no packed word read, no successor marked live).
    plain: bool,
}

impl SerialPlan {
    /// What `dag` allows (loops over its nodes).
    pub fn of(dag: &DagView<'_>) -> Self {
        Self {
            nodes: dag.len(),
            eligible: dag.runs_serially(),
            index_order: dag.topo.iter().enumerate().all(|(i, &v)| v as usize == i),
            plain: dag
                .nodes
                .iter()
                .all(|n| n.timeout_ticks.is_none() && !matches!(n.kind, NodeKind::Condition)),
        }
    }

    /// Whether runs of the DAG may run serially ([`DagView::runs_serially`]).
    pub fn eligible(&self) -> bool {
        self.eligible
    }

    /// Whether the DAG's topological order is its index order.
    pub fn index_order(&self) -> bool {
        self.index_order
    }

    /// Whether every node is a task without a timeout.
    pub fn plain(&self) -> bool {
        self.plain
    }
}

/// A serial run's cursor (`Tally::next_root`): the position in the topological order of the
/// next node to execute, and in the bits above, the attempt it is at (a retry interrupted by
/// the end of a turn or a pause resumes at its attempt).
const CURSOR_BITS: u32 = Entry::MAX_NODES.trailing_zeros();
const CURSOR_MASK: u32 = (1 << CURSOR_BITS) - 1;
/// In a serial run's cursor word: a worker holds the run (it is executing the node at the
/// cursor, or about to) and moves the word by compare-exchange, so that a thief can take the
/// run from it there (engines with several workers; see `Engine::steal_stalled`).
const HELD: u32 = 1 << 29;
/// In a held cursor word: the run was taken at the cursor (it goes on counted).
const STOLEN: u32 = 1 << 30;
const _: () = assert!(CURSOR_BITS + 5 <= 29);

/// Moves a held serial run's cursor word from `*held` to `to` (position and attempt), for an
/// engine whose runs can be stolen; false: the run was taken at `*held`'s node. Release:
/// pairs with the Acquire of a thief's compare-exchange (every node before the cursor is
/// visible to it). A failure reads a thief's mark, and nothing else of the thief's through
/// it: what both write next meets on the successors' counters, read-modify-writes of their
/// own (Acquire on failure is more than needed; the holder's other compare-exchanges on the
/// word use the same pair).
#[inline(always)]
fn advance(word: &crate::sync::AtomicU32, held: &mut u32, to: u32, stealable: bool) -> bool {
    if !stealable {
        return true;
    }
    match word.compare_exchange(*held, to | HELD, Release, Acquire) {
        Ok(_) => {
            *held = to | HELD;
            true
        }
        Err(_) => false,
    }
}

/// A serial run whose nodes take this long each or longer, on average over two pace checks'
/// spans in a row, goes on counted so that other workers share it (see
/// [`Engine::with_serial`]): 200 ns. On the 2-core machine (2 workers, graphs of 2^16 nodes)
/// sharing paid from about 50 to 150 ns a node, depending on the shape (graph_traversal,
/// where counting costs most, last); see PERFORMANCE.md, "Sharing a serial run".
pub const SHARE_PACE_NS: u64 = 200;

/// The shortest span a pace check judges: 2 µs. A shorter one goes on (a run's first nodes
/// meet cold caches, and one node or two then took more than [`SHARE_PACE_NS`] each in
/// runs of 1-ns nodes).
const PACE_SPAN_NS: u64 = 2_000;

/// About how often a serial run on an engine with several workers checks its pace: 20 µs
/// (at most once per node, at least once per turn of 256 nodes). A check is one
/// reading of [`Hooks::pace_clock`].
pub const PACE_CHECK_NS: u64 = 20_000;

/// A worker's deque as the engine uses it (256 entries, 2 KiB).
#[cfg(any(target_has_atomic = "64", loom))]
pub type WorkerDeque = super::WorkDeque<256>;

/// Node executions (chains included) a `step` runs from its worker's own deque before it
/// returns to the driver.
const DRAIN: usize = 64;
/// Nodes a serial run executes per turn (`run_serial`) before its token goes back to a
/// queue: other runs, a pause and the driver's tick are served between turns. Longer than
/// [`DRAIN`]: a turn's hand-off costs about 300 instructions, 1 per node at this length. (1
/// under loom, so that the models hand the token over; 8 under Miri, so that its tests
/// cross turns with small DAGs.)
#[cfg(not(any(loom, miri)))]
const SERIAL_TURN: usize = 256;
#[cfg(loom)]
const SERIAL_TURN: usize = 1;
#[cfg(all(miri, not(loom)))]
const SERIAL_TURN: usize = 8;
/// Items one body token runs in a row before it goes back to a queue (`process_items`).
const ITEM_BUDGET: usize = DRAIN;

// A run slot's generation wraps (at GEN_MASK + 1) onto a multiple of the tag period, where the
// slot's cells are cleared: a stale DONE tag can never match across the wrap.
const _: () = assert!((GEN_MASK + 1).is_multiple_of(node::TAG_PERIOD));

/// Roots claimed per take of a run's root token (the fewest, for a worker with a deque); a DAG
/// with more roots than this is submitted as one token instead of one entry per root. (2
/// under loom, to keep the models small.)
#[cfg(not(loom))]
const ROOT_CHUNK: usize = 32;
#[cfg(loom)]
const ROOT_CHUNK: usize = 2;
/// The most roots a worker with a deque claims per take: each hand-off of the token moves
/// cache lines between cores (the deque's, the cursor's), which costs far more than running a
/// few roots (2 workers: 14 ns per root with chunks of 32, 8.5 with chunks of 1024).
#[cfg(not(loom))]
const ROOT_CHUNK_MAX: usize = 1024;
#[cfg(loom)]
const ROOT_CHUNK_MAX: usize = 2;

/// The roots a worker claimed through a run's token and has not run yet.
#[derive(Clone, Copy, Default)]
struct RootRange {
    slot: usize,
    next: usize,
    end: usize,
    /// The token could not be handed on (deque and ring full): this worker takes the next
    /// chunk itself when this one is done.
    held: bool,
    /// A root of this range has been taken (and the run's context set up before it ran).
    started: bool,
}

impl<I, V, E> Clone for Engine<'_, I, V, E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<I, V, E> Copy for Engine<'_, I, V, E> {}

impl<I, V, E> fmt::Debug for Engine<'_, I, V, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("nodes", &self.dag.len())
            .field("runs", &self.runs.len())
            .finish_non_exhaustive()
    }
}

/// Runs a worker tallies resolved nodes for at once ([`Local::resolved`]).
const TALLY_RUNS: usize = 4;

/// Worker-local counts, flushed to the shared counters once per `step`. Resolved nodes are
/// counted off their run's `remaining` here too, so the hot path does not touch the run's
/// shared counter once per node.
#[derive(Default)]
struct Local {
    tasks: usize,
    retries: usize,
    failures: usize,
    /// (run slot, nodes resolved) not yet subtracted from `remaining`.
    resolved: [(usize, u32); TALLY_RUNS],
    resolved_len: usize,
}

/// A serial turn's pace check (`Engine::pace_check`): when it last read the clock, its
/// executions and skips then (the cursor plus the retries), where it reads it next, and
/// whether the span before was slow.
struct Pace {
    at: u64,
    from: usize,
    check: usize,
    slow: bool,
}

/// Executions until the next pace check, at a pace of `per_node` nanoseconds per node (0:
/// not known yet, the first check follows the first node): about `check_ns` apart
/// ([`PACE_CHECK_NS`] unless a test says otherwise), at most a turn.
#[inline(always)]
fn pace_gap(per_node: u32, check_ns: u64) -> usize {
    if per_node == 0 {
        1
    } else {
        (check_ns / u64::from(per_node)).clamp(1, SERIAL_TURN as u64) as usize
    }
}

/// How a serial turn ended (`Engine::serial_loop`).
enum Turn {
    /// The run is over: every node ran or was skipped, or it stopped.
    Over,
    /// The turn is over: the token went back to a queue.
    Yield,
    /// The run's nodes proved slow: it goes on counted.
    Share,
    /// A thief took the run at the cursor's node before this worker started it.
    Lost,
    /// A thief took the run while this worker was executing the node at the cursor: what
    /// became of it.
    Taken(Serial),
}

/// What a serial run does after one of its nodes (`Engine::serial_node`).
#[derive(Clone, Copy)]
enum Serial {
    /// On to the next node (this one ran, failed for good, or was `skipped`); a condition's
    /// `choice`.
    Next { skipped: bool, choice: Option<u8> },
    /// The node again, at its next attempt.
    Retry,
}

/// Whether a condition's edge labelled `label` is taken when the body chose `chosen` (a
/// `Succ` label code, `None` without a choice) and `has_match`: some edge carries it. A plain
/// edge out of a condition is always taken; labelled ones by the choice, else the default.
#[inline(always)]
fn takes(label: u16, chosen: Option<u16>, has_match: bool) -> bool {
    label == Succ::ALWAYS
        || if has_match {
            Some(label) == chosen
        } else {
            label == Succ::DEFAULT
        }
}

/// Hints the CPU to fetch `r`'s cache line (x86_64; nothing elsewhere).
#[inline(always)]
fn prefetch<T>(r: Option<&T>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(r) = r {
        // SAFETY: a prefetch is a hint: it reads nothing architecturally and never faults.
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                (r as *const T).cast(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

#[inline(always)]
fn tick_reached(now: u32, due: u32) -> bool {
    (now.wrapping_sub(due) as i32) >= 0
}

/// How far ahead of `now` tick `t` is, for the retry hint: 0 once reached, at most
/// [`HINT_HORIZON`] (ahead by more counts as that: the hint is a lower bound). Compared as
/// unsigned, so no value wins a comparison by wrapping.
#[inline]
fn hint_ahead(now: u32, t: u32) -> u32 {
    if tick_reached(now, t) {
        0
    } else {
        t.wrapping_sub(now).min(HINT_HORIZON)
    }
}

impl<'a, I: Copy, V: Copy, E: Copy> Engine<'a, I, V, E> {
    /// An engine over the given storage: `runs.len()` run slots; `cells[r * stride + v]` is node
    /// `v` of run slot `r`; `items[r * item_stride ..]` the item storage of run slot `r`;
    /// `queues[0]` the high-priority task ring, `queues[1]` the low one; `results` the result
    /// ring (or `None` when `hooks.run_finished` is how completions are consumed).
    ///
    /// # Errors
    ///
    /// [`StorageError`] when the storage does not fit the DAG.
    ///
    /// # Safety
    ///
    /// `dag` must be a view of a validated DAG, as [`Dag::view`](crate::dag::Dag::view) or
    /// the runtime's `Graph::view` return: the output of [`compile`](crate::dag::compile) for
    /// its nodes and edges. `DagView`'s fields are public for reading; a view assembled by
    /// hand (repeated roots, overlapping item ranges, `hot` words that disagree with `nodes`
    /// and `succ_span`) would let two executions write the same cell.
    ///
    /// The run slots and cells must be new together (as their `new` makes them), or have been
    /// used together only by engines over this same DAG and stride: a slot's cells are not
    /// cleared before each run, only when its generation is a multiple of 64 (see
    /// [`submit_with`](Self::submit_with)). Otherwise runs may hang or report wrong values
    /// (never a node run twice, nor a value read that its run did not write).
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn new(
        dag: DagView<'a>,
        runs: &'a [RunSlot<I, E>],
        cells: &'a [NodeCell<V>],
        stride: usize,
        items: &'a [ItemCell<V>],
        item_stride: usize,
        queues: [&'a dyn Queue<Entry>; 2],
        results: Option<&'a dyn Queue<RunId>>,
        shared: &'a Shared,
        hooks: &'a dyn Hooks,
    ) -> Result<Self, StorageError> {
        if runs.is_empty() || runs.len() > RunId::MAX_SLOTS || dag.len() >= Entry::MAX_NODES {
            return Err(StorageError::Limits);
        }
        // Checked: slices this long cannot exist, so an overflowing product is a bad stride.
        if stride < dag.len()
            || runs
                .len()
                .checked_mul(stride)
                .is_none_or(|n| cells.len() < n)
        {
            return Err(StorageError::Cells);
        }
        if item_stride < dag.items as usize
            || runs
                .len()
                .checked_mul(item_stride)
                .is_none_or(|n| items.len() < n)
        {
            return Err(StorageError::Items);
        }
        Ok(Self {
            dag,
            runs,
            cells,
            stride,
            items,
            item_stride,
            queues,
            results,
            shared,
            hooks,
            #[cfg(any(target_has_atomic = "64", loom))]
            worker: None,
            serial: false,
            plan: SerialPlan::default(),
            pace: PaceLimits::DEFAULT,
        })
    }

    /// Builds without the checks of [`new`](Self::new), for drivers that checked once (the
    /// `TaskManager` by construction, the runtime at build time).
    ///
    /// # Safety
    ///
    /// The arguments must pass [`new`](Self::new)'s checks: `stride >= dag.len()`, `cells`
    /// and `items` at least `runs.len()` times their strides, `item_stride >= dag.items`,
    /// 1 to [`RunId::MAX_SLOTS`] run slots. Overlapping storage would let two runs write the
    /// same cells. As for `new`, the run slots and cells are new together, or were used
    /// together only over this DAG and stride.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    #[doc(hidden)]
    pub unsafe fn new_unchecked(
        dag: DagView<'a>,
        runs: &'a [RunSlot<I, E>],
        cells: &'a [NodeCell<V>],
        stride: usize,
        items: &'a [ItemCell<V>],
        item_stride: usize,
        queues: [&'a dyn Queue<Entry>; 2],
        results: Option<&'a dyn Queue<RunId>>,
        shared: &'a Shared,
    ) -> Self {
        Self {
            dag,
            runs,
            cells,
            stride,
            items,
            item_stride,
            queues,
            results,
            shared,
            hooks: &NoHooks,
            #[cfg(any(target_has_atomic = "64", loom))]
            worker: None,
            serial: false,
            plan: SerialPlan::default(),
            pace: PaceLimits::DEFAULT,
        }
    }

    /// The same engine, for the worker whose deque is `deques[index]`: ready successors of
    /// high-priority runs go to that deque (last in, first out) before the shared ring, `step`
    /// takes from it first, and steals from the other deques when it and the rings are empty.
    ///
    /// Such workers are expected to spin on `step` while idle, with a tick that follows a
    /// clock (as the runtime's does): when only retries wait, the engines look for due ones
    /// once the earliest may be due, at most once per tick between them, and a retry of a run
    /// cancelled or failed meanwhile is skipped at the next tick. An engine without a deque
    /// looks on every `step` that finds the rings empty once the earliest retry may be due
    /// (or any run was cancelled or failed since the last look).
    ///
    /// # Safety
    ///
    /// At any time at most one engine uses `deques[index]` as its own (see
    /// [`WorkDeque::push`](super::WorkDeque::push)); the deques are used with this engine's
    /// storage only (their entries name its run slots and nodes). `index < deques.len()`.
    /// Every engine that uses these deques is given the same slice: an engine steals from the
    /// others in its slice only, and one whose slice is a single deque pops it without
    /// guarding against thieves (`WorkDeque::pop_unshared`).
    #[cfg(any(target_has_atomic = "64", loom))]
    #[inline(always)]
    pub unsafe fn with_worker(mut self, deques: &'a [WorkerDeque], index: usize) -> Self {
        debug_assert!(index < deques.len());
        self.worker = Some((deques, index));
        self
    }

    /// The same engine, submitting serial runs (`on`): a run submitted through it executes
    /// its nodes one after the other, in the DAG's topological order
    /// ([`DagView::topo`](crate::dag::DagView::topo)), on whichever engine holds its root
    /// token, without readiness counting, ready queues or atomic read-modify-writes shared
    /// with other workers. A `step` runs such a run for a turn of [`SERIAL_TURN`] nodes
    /// (executions, skips and retries; a runtime worker's turn goes on while no other work
    /// waits) and puts its token back in its ring, behind the runs queued there, so that runs
    /// in flight take turns and `pause`, `cancel`, deadlines and the driver's tick are served
    /// between turns as between batches; a stop, a pause or a failure is also seen between
    /// any two nodes.
    ///
    /// On an engine with several workers ([`with_worker`](Self::with_worker)) the run can go
    /// on counted from where it is: its holder's pace checks ([`Hooks::pace_clock`]) find its
    /// nodes slow, or an idle worker finds it held at one node for a while
    /// ([`steal_stalled`](Self::steal_stalled)). While a worker holds such a run, it moves
    /// the run's cursor word by compare-exchange from node to node, so that exactly one of
    /// the two owns each node.
    ///
    /// Only where `plan` ([`SerialPlan::of`] this engine's DAG) says the DAG allows it: tasks
    /// and conditions whose retry policies have no back-off (a retry runs at once;
    /// [`DagView::runs_serially`](crate::dag::DagView::runs_serially)); otherwise runs are
    /// counted as usual. The driver's rings must always have room for a run's token (room
    /// for every run slot's token per level: the runtime checks it before it asks); where a
    /// token finds no room, its holder keeps running the run (past its turn and a `pause`)
    /// rather than lose it.
    ///
    /// No effect on targets without 64-bit atomics (firmware keeps its flash; its
    /// `TaskManager` does not ask).
    #[doc(hidden)]
    #[inline(always)]
    pub fn with_serial(mut self, on: bool, plan: SerialPlan) -> Self {
        self.serial = on && DEQUES && plan.eligible && plan.nodes == self.dag.len();
        self.plan = plan;
        self
    }

    /// The same engine, with its serial runs checking their pace about every `check_ns`
    /// nanoseconds (at most every node: 0) and shared once their nodes take `share_ns` each
    /// ([`PACE_CHECK_NS`] and [`SHARE_PACE_NS`] by default). For tests, which make runs
    /// share at a node of their choosing with a clock of their own.
    #[doc(hidden)]
    #[inline(always)]
    pub fn with_pace(mut self, share_ns: u64, check_ns: u64) -> Self {
        self.pace = PaceLimits { share_ns, check_ns };
        self
    }

    /// The calling worker's own deque.
    #[cfg(any(target_has_atomic = "64", loom))]
    #[inline(always)]
    fn own(&self) -> Option<&'a WorkerDeque> {
        self.worker.and_then(|(all, i)| all.get(i))
    }

    /// Pops from the worker's own deque.
    #[inline(always)]
    fn local_pop(&self) -> Option<Entry> {
        #[cfg(any(target_has_atomic = "64", loom))]
        if let Some((all, i)) = self.worker {
            let d = all.get(i)?;
            // SAFETY: `with_worker`'s contract: this engine is the deque's only owner, and all
            // engines share one slice. With one deque in it there is nobody to steal from it
            // (`steal` takes from the others in the slice only).
            return unsafe {
                if all.len() == 1 {
                    d.pop_unshared()
                } else {
                    d.pop()
                }
            };
        }
        None
    }

    /// Pushes as many of `entries` as fit onto the worker's own deque; returns how many.
    #[inline(always)]
    fn local_push(&self, entries: &[Entry]) -> usize {
        #[cfg(any(target_has_atomic = "64", loom))]
        if let Some(d) = self.own() {
            let mut k = 0;
            for &e in entries {
                // SAFETY: `with_worker`'s contract: this engine is the deque's only owner.
                if unsafe { d.push(e) }.is_err() {
                    break;
                }
                k += 1;
            }
            return k;
        }
        let _ = entries;
        0
    }

    /// Steals one entry from another worker's deque (each tried once, from the next one on).
    fn steal(&self) -> Option<Entry> {
        #[cfg(any(target_has_atomic = "64", loom))]
        if let Some((all, me)) = self.worker {
            let n = all.len();
            for k in 1..n {
                if let Some(e) = all[(me + k) % n].steal() {
                    return Some(e);
                }
            }
        }
        None
    }

    /// Entries in the workers' deques (a snapshot).
    fn deque_len(&self) -> usize {
        #[cfg(any(target_has_atomic = "64", loom))]
        if let Some((all, _)) = self.worker {
            return all.iter().map(|d| d.len()).sum();
        }
        0
    }

    /// The same engine, reporting to `hooks`.
    #[inline(always)]
    pub fn with_hooks(mut self, hooks: &'a dyn Hooks) -> Self {
        self.hooks = hooks;
        self
    }

    /// The DAG.
    pub fn dag(&self) -> DagView<'a> {
        self.dag
    }

    /// Number of run slots.
    pub fn run_slots(&self) -> usize {
        self.runs.len()
    }

    /// The id of the run active in `slot`, if one is.
    pub fn active_in(&self, slot: usize) -> Option<RunId> {
        let state = self.runs.get(slot)?.state.load(Acquire);
        (state & phase::MASK == phase::ACTIVE).then(|| RunId::new(slot, state >> phase::BITS))
    }

    #[inline(always)]
    fn cell(&self, slot: usize, v: u32) -> &'a NodeCell<V> {
        &self.cells[slot * self.stride + v as usize]
    }

    #[inline(always)]
    fn run_cells(&self, slot: usize) -> &'a [NodeCell<V>] {
        &self.cells[slot * self.stride..slot * self.stride + self.dag.len()]
    }

    #[inline(always)]
    fn level(flags: u32) -> usize {
        (flags & flag::LOW_PRIORITY != 0) as usize
    }

    // ---------------------------------------------------------------- submit

    /// Submits a run with default options (high priority, no deadline).
    ///
    /// # Errors
    ///
    /// [`SubmitError::Busy`] when no run slot is free or the task ring is full;
    /// [`SubmitError::EmptyDag`] for a DAG without nodes. The input is given back.
    pub fn submit(&self, input: I) -> Result<RunId, SubmitError<I>> {
        self.submit_with(input, SubmitOptions::default())
    }

    /// Submits a run. Safe to call from an interrupt handler: it never blocks or waits.
    ///
    /// Its cost is the DAG's roots (pushed to the task ring), not its size: the run slot's
    /// node cells are left ready by the slot's previous run. Once every 64 runs of a slot
    /// (its generation a multiple of 64, the first run included) it also clears the slot's
    /// cells, a loop over every node.
    ///
    /// # Errors
    ///
    /// As [`submit`](Self::submit).
    pub fn submit_with(&self, input: I, opts: SubmitOptions) -> Result<RunId, SubmitError<I>> {
        if self.dag.roots.is_empty() {
            return Err(SubmitError::EmptyDag(input));
        }
        let level = (opts.priority == Priority::Low) as usize;
        let queue = self.queues[level];
        if queue.len() >= queue.capacity() {
            self.shared.c.busy.fetch_add(1, Relaxed);
            return Err(SubmitError::Busy(input));
        }
        let Some((slot, generation)) = self.claim_slot() else {
            self.shared.c.busy.fetch_add(1, Relaxed);
            return Err(SubmitError::Busy(input));
        };
        let run = &self.runs[slot];
        // SAFETY: the slot is in SETUP, claimed by this thread alone (CAS in `claim_slot`);
        // nobody reads the input before the slot is ACTIVE and its entries are published.
        run.input.with_mut(|p| unsafe { (*p).write(input) });
        let mut flags = generation << FLAG_GEN_SHIFT;
        if level == 1 {
            flags |= flag::LOW_PRIORITY;
        }
        if let Some(d) = opts.deadline_ticks {
            flags |= flag::HAS_DEADLINE;
            // Ticks compare by wrapping difference (see `MAX_HORIZON`).
            run.deadline
                .store(self.now().wrapping_add(d.min(MAX_HORIZON)), Relaxed);
        }
        run.flags.store(flags, Relaxed);
        // Many roots: one root token, which holds one unit of `remaining` until the last roots
        // are claimed. A serial run is its token: one unit, until its holder is done with the
        // run, besides its nodes (a holder counts off those it passed once per turn).
        let token = self.serial || self.dag.roots.len() > ROOT_CHUNK;
        if self.serial {
            flags |= flag::SERIAL;
            if self.plan.index_order {
                flags |= flag::INDEX_ORDER;
            }
            if self.plan.plain {
                flags |= flag::PLAIN;
            }
            run.flags.store(flags, Relaxed);
        }
        run.tally
            .remaining
            .store(self.dag.len() as u32 + u32::from(token), Relaxed);
        run.parked.store(0, Relaxed);
        run.tally.next_root.store(0, Relaxed);
        run.tally.pace.store(0, Relaxed);
        // The cells are left ready by the slot's previous run: every counter it counted down
        // was set back to its in-degree by the worker that took it to zero (`rearm`), and
        // `DONE` bits carry that run's tag. Every 64th generation (0 included: fresh storage)
        // clears them all, so that a stale tag can never match (see `node::TAG_SHIFT`). `aux`
        // is written before it is read, except by a serial run of a DAG with conditions,
        // which compares it with its own tag (see `serial_node`): this clear resets it too.
        if generation.is_multiple_of(node::TAG_PERIOD) {
            for (v, cell) in self.run_cells(slot).iter().enumerate() {
                cell.pending.store(self.dag.pred_span[v].len, Relaxed);
                cell.state.store(0, Relaxed);
                cell.aux.store(0, Relaxed);
            }
        }
        // Still in SETUP: nothing of the run can be seen yet, so neither can its finish.
        let id = RunId::new(slot, generation);
        self.hooks.run_submitted(id);
        // Release: pairs with the Acquire loads of `state` in `is_active` (which `cancel`
        // checks) and `active_in`: a thread that finds the run active also sees its
        // initialisation above (its flags, which `cancel` then sets a bit in, included).
        // (`take` reads the DONE store in `complete`, not this one.)
        run.state
            .store(generation << phase::BITS | phase::ACTIVE, Release);
        let c = &self.shared.c;
        c.runs_submitted.fetch_add(1, Relaxed);
        let active = c.runs_active.fetch_add(1, Relaxed) + 1;
        if active > c.runs_high_water.load(Relaxed) {
            c.runs_high_water.fetch_max(active, Relaxed);
        }
        // The ring's Release publication of the token or of each root entry carries the
        // initialisation to the worker that pops it.
        if token {
            if self.queues[level].push_slice(&[Entry::roots(slot)]) == 1 {
                self.hooks.work_available();
                return Ok(id);
            }
            // The room checked above was taken by a racing push: the roots go one by one
            // (parked where they do not fit), as for a small DAG, and a serial run runs as any
            // other (its counters are armed: a serial run never touches them). Nothing of the
            // run is out yet, so `remaining` is still ours to set; `cancel` may have set a bit
            // in the flags since the slot became active, hence the read-modify-write.
            run.tally.remaining.store(self.dag.len() as u32, Relaxed);
            if self.serial {
                run.flags.fetch_and(!flag::SERIAL, Relaxed);
            }
        }
        // One wake-up after the first chunk and one at the end, not one per chunk: a worker
        // that drains the ring faster than we fill it would otherwise park and be woken (a
        // syscall on each side) once per chunk.
        let mut buf = [Entry::default(); SPILL];
        for (i, chunk) in self.dag.roots.chunks(SPILL).enumerate() {
            for (b, &r) in buf.iter_mut().zip(chunk) {
                *b = Entry::new(slot, r, 0, true);
            }
            let pushed = self.queues[level].push_slice(&buf[..chunk.len()]);
            for &e in &buf[pushed..chunk.len()] {
                self.park(e, node::OVERFLOW);
            }
            if i == 0 {
                self.hooks.work_available();
            }
        }
        if self.dag.roots.len() > SPILL {
            self.hooks.work_available();
        }
        Ok(id)
    }

    /// Claims a free run slot (FREE -> SETUP); returns it and its generation.
    fn claim_slot(&self) -> Option<(usize, u32)> {
        let n = self.runs.len();
        // Reduced before the loop adds to it: `start + k` cannot overflow (`usize` is 32 bits
        // wide on firmware, and the counter wraps there after 2^32 submits).
        let start = self.shared.next_slot.fetch_add(1, Relaxed) as usize % n;
        for k in 0..n {
            let slot = (start + k) % n;
            let state = self.runs[slot].state.load(Relaxed);
            if state & phase::MASK != phase::FREE {
                continue;
            }
            let generation = state >> phase::BITS;
            // Acquire: pairs with the Release store of FREE in `release`; the previous run's
            // reads of this slot happen-before our writes.
            if self.runs[slot]
                .state
                .compare_exchange(
                    state,
                    generation << phase::BITS | phase::SETUP,
                    Acquire,
                    Relaxed,
                )
                .is_ok()
            {
                return Some((slot, generation));
            }
        }
        None
    }

    // ---------------------------------------------------------------- queues

    /// Pushes ready entries; what does not fit is parked in its node cell (never dropped).
    fn enqueue(&self, level: usize, entries: &[Entry]) {
        let pushed = self.queues[level].push_slice(entries);
        for &e in &entries[pushed..] {
            self.park(e, node::OVERFLOW);
        }
        self.hooks.work_available();
    }

    /// Parks `e` in its node cell: `OVERFLOW` (ring full) or `DEFERRED` (retry tick in `aux`).
    fn park(&self, e: Entry, why: u32) {
        if why == node::OVERFLOW {
            self.shared.c.ring_full.fetch_add(1, Relaxed);
        }
        // Counted before the bit is set, so a scanner that claims the bit never finds the
        // counters at zero.
        self.runs[e.slot()].parked.fetch_add(1, Relaxed);
        let counter = if why == node::OVERFLOW {
            &self.shared.parked
        } else {
            &self.shared.deferred
        };
        counter.fetch_add(1, Relaxed);
        let live = if e.live() { node::LIVE } else { 0 };
        // Release: pairs with the Acquire load and compare-exchange of `state` in `unpark`;
        // what this thread wrote for the node (its value, the retry tick in `aux`)
        // happens-before the claimer's access.
        let cell = self.cell(e.slot(), e.node());
        cell.state
            .fetch_or(why | live | e.attempt() << node::ATTEMPT_SHIFT, Release);
        if why == node::DEFERRED {
            let run = &self.runs[e.slot()];
            self.lower_retry_hint(self.retry_due(run, cell.aux.load(Relaxed)));
            // A cancel or failure of the run whose lowering came before ours in the hint's
            // order is seen here (Acquire of our read-modify-write: that lowering heads a
            // release sequence of read-modify-writes), even if a sweep published a later hint
            // in between without this cell; one after it lowers the hint itself.
            if self.run_stopping(run, self.now()) {
                self.lower_retry_hint(self.now());
            }
        }
    }

    /// When a retry parked with due tick `due` in `run` must be looked at: at `due`, or at the
    /// run's deadline if that comes first (the retry is then skipped).
    fn retry_due(&self, run: &RunSlot<I, E>, due: u32) -> u32 {
        if run.flags.load(Relaxed) & flag::HAS_DEADLINE != 0 {
            let deadline = run.deadline.load(Relaxed);
            if tick_reached(due, deadline) {
                return deadline;
            }
        }
        due
    }

    /// Lowers the retry hint (no deferred retry is due before it) to `due` if that is
    /// earlier, ticks compared from now (they wrap): a `due` already reached counts as now,
    /// one more than [`HINT_HORIZON`] ahead as that (see [`hint_ahead`]).
    ///
    /// A sweep computes the hint anew from the retries it sees waiting and publishes it with
    /// a compare-exchange (see `unpark`). Counting `retry_epoch` first, and always writing the
    /// hint (a read-modify-write also when it stays), is what lets that sweep tell whether a
    /// lowering it may not have seen came in between.
    fn lower_retry_hint(&self, due: u32) {
        // Release: pairs with the Acquire loads of `retry_epoch` in `unpark`: a sweep that
        // reads this count (or a later one) at its start sees what this thread did before (a
        // park's counts and cell bits, a cancel's or failure's flag).
        self.shared.retry_epoch.fetch_add(1, Release);
        let now = self.now();
        let due_ahead = hint_ahead(now, due);
        // AcqRel. Release: a sweep whose publishing compare-exchange reads this write, or a
        // later one (every write of the hint is a read-modify-write, so they are in this
        // write's release sequence), then sees the epoch count above. Acquire: pairs with the
        // same Release of earlier writers (see `park`).
        let _ = self
            .shared
            .retry_hint
            .fetch_update(AcqRel, Acquire, |hint| {
                Some(if due_ahead < hint_ahead(now, hint) {
                    now.wrapping_add(due_ahead)
                } else {
                    hint
                })
            });
    }

    /// Collects parked entries that can run now (overflowed, or deferred and due) into
    /// `out`; returns how many. Scans from where the last scan stopped, skipping runs with
    /// nothing parked, so repeated scans sweep the storage once rather than restarting.
    fn unpark(&self, out: &mut [Entry]) -> usize {
        let overflow = self.shared.parked.load(Relaxed) != 0;
        let now = self.now();
        // Retries waiting for a tick are looked at by a scan (a scan only happens when the
        // rings are empty, or every 16th batch) once the earliest of them may be due, and by
        // runtime workers at most once per tick (below); a sweep that is not cut short by a
        // full `out` goes round the whole storage from the cursor, so no due retry is missed.
        let deferred = self.shared.deferred.load(Relaxed) != 0;
        let n = self.dag.len();
        let total = self.runs.len() * n;
        if (!overflow && !deferred) || total == 0 {
            return 0;
        }
        // With only retries waiting, no sweep before the earliest of them can be due: the
        // hint is a lower bound of their due ticks (and of their runs' deadlines), lowered to
        // the current tick when any run is cancelled or fails. Relaxed: a hint read late
        // delays a sweep by one `step`; the sweep itself synchronises below.
        if !overflow && !tick_reached(now, self.shared.retry_hint.load(Relaxed)) {
            return 0;
        }
        // Runtime workers (engines with a deque) call this on every idle spin, and their
        // tick follows the wall clock: with only retries waiting, one sweep per tick finds
        // every one that came due (a retry comes due when the tick advances; one of a run
        // stopped meanwhile is found on the next tick's sweep). Without this, idle workers
        // would sweep back to back through a tick in which a cancel lowered the hint. Engines
        // without a deque (firmware drivers, whose tick may stand still) are not limited.
        // Relaxed: a hint; a stale value costs one extra sweep or one tick of delay.
        let swept_mark = now.wrapping_add(1);
        let rate_limited = !overflow && self.has_deque();
        if rate_limited && self.shared.deferred_swept.swap(swept_mark, Relaxed) == swept_mark {
            return 0;
        }
        // A sweep that goes round the whole storage sees every retry waiting, so it computes
        // the hint anew: the earliest tick at which one it leaves waiting may be due. It
        // publishes that only if the hint is still what it read here (a compare-exchange:
        // otherwise a lowering, or another sweep's publication, changed it meanwhile; each is
        // a lower bound by itself, and it stays), and lowers it to now if `retry_epoch` moved
        // meanwhile (a lowering it may not have seen, for a retry it may have missed, whose
        // write of the hint came before the publication). Until it publishes, the hint stays
        // as it was: other engines may sweep meanwhile.
        // Acquire: pairs with the Release increment in `lower_retry_hint`; every lowering
        // counted before this load is seen by the loop (its park's cell bits, its run's flag).
        let start = if deferred {
            let epoch = self.shared.retry_epoch.load(Acquire);
            Some((epoch, self.shared.retry_hint.load(Relaxed)))
        } else {
            None
        };
        // How far ahead of `now` the earliest retry left waiting may be due.
        let mut earliest = HINT_HORIZON;
        let mut i = self.shared.scan_cursor.load(Relaxed) as usize % total;
        let mut scanned = 0;
        let mut found = 0;
        while scanned < total && found < out.len() {
            let (slot, v) = (i / n, i % n);
            let run = &self.runs[slot];
            if run.parked.load(Relaxed) == 0 {
                // Nothing parked in this run: jump to the next one.
                scanned += n - v;
                i = if slot + 1 == self.runs.len() {
                    0
                } else {
                    (slot + 1) * n
                };
                continue;
            }
            scanned += 1;
            i = if i + 1 == total { 0 } else { i + 1 };
            let cell = self.cell(slot, v as u32);
            // Acquire: pairs with the Release `fetch_or` in `park`, which follows the `aux`
            // store of a deferred entry, so the due tick read below is the one parked with it.
            let state = cell.state.load(Acquire);
            let why = if state & node::OVERFLOW != 0 {
                node::OVERFLOW
            } else if state & node::DEFERRED != 0 {
                let due = cell.aux.load(Relaxed);
                if !tick_reached(now, due) && !self.run_stopping(run, now) {
                    // Left waiting: the next sweep happens when it may be due.
                    earliest = earliest.min(hint_ahead(now, self.retry_due(run, due)));
                    continue;
                }
                node::DEFERRED
            } else {
                continue;
            };
            let clear = why | node::LIVE | node::ATTEMPT_MASK;
            // Claim exactly the parked entry we inspected: a blind `fetch_and` could clear the
            // bits of a later park of the same cell (after another worker claimed and re-parked
            // it). Acquire: pairs with the Release `fetch_or` in `park`.
            if cell
                .state
                .compare_exchange(state, state & !clear, Acquire, Relaxed)
                .is_err()
            {
                continue; // claimed or re-parked by another worker meanwhile
            }
            let old = state;
            run.parked.fetch_sub(1, Relaxed);
            let counter = if why == node::OVERFLOW {
                &self.shared.parked
            } else {
                &self.shared.deferred
            };
            counter.fetch_sub(1, Relaxed);
            let attempt = (old & node::ATTEMPT_MASK) >> node::ATTEMPT_SHIFT;
            let entry = Entry::new(slot, v as u32, attempt, old & node::LIVE != 0);
            // The word claimed can be a later park than the one inspected above, bit for bit
            // the same: the run failed, its slot was reused, and the same node was parked
            // again with the same attempt (a failed node keeps its old tag bits). Its due
            // tick is read again: our Acquire CAS read that park's Release `fetch_or`, which
            // follows its `aux` store. Not due yet (and its run not stopping): parked again.
            if why == node::DEFERRED
                && !tick_reached(now, cell.aux.load(Relaxed))
                && !self.run_stopping(run, now)
            {
                self.park(entry, node::DEFERRED);
                continue;
            }
            out[found] = entry;
            found += 1;
        }
        self.shared.scan_cursor.store(i as u32, Relaxed);
        if let Some((epoch, hint)) = start {
            if found == out.len() {
                // `out` filled up before the sweep ended: there may be more due this tick, and
                // the hint stays (not raised past retries not looked at).
                if rate_limited {
                    self.shared.deferred_swept.store(now, Relaxed);
                }
            } else if self
                .shared
                .retry_hint
                // AcqRel: Acquire pairs with the Release of `lower_retry_hint`'s write: if
                // this reads that write (the value unchanged) or a later one, the epoch load
                // below sees that lowering's count. Release: for the next writers' Acquire.
                .compare_exchange(hint, now.wrapping_add(earliest), AcqRel, Relaxed)
                .is_ok()
                // Acquire: as at the start.
                && self.shared.retry_epoch.load(Acquire) != epoch
            {
                // A driver may have read the published hint meanwhile and be sleeping on it.
                self.lower_retry_hint(now);
                self.hooks.work_available();
            }
        }
        found
    }

    /// Whether a run will start no more nodes: failed, cancelled, or past its deadline. Its
    /// deferred retries are due at once (to be skipped).
    fn run_stopping(&self, run: &RunSlot<I, E>, now: u32) -> bool {
        let flags = run.flags.load(Relaxed);
        flags & (flag::FAILED | flag::CANCELLED) != 0
            || (flags & flag::HAS_DEADLINE != 0 && tick_reached(now, run.deadline.load(Relaxed)))
    }

    // ---------------------------------------------------------------- execution

    /// Pops one batch (up to `max_batch`, at most [`MAX_BATCH`](super::MAX_BATCH)) and
    /// executes it, following ready successors directly. Returns the number of node
    /// executions and skips performed; 0 when there was nothing to do now (or the manager is
    /// paused).
    ///
    /// On an engine built [`with_worker`](Self::with_worker): the batch is the newest entry of
    /// the worker's own deque when it has one (every fourth batch looks at the rings first);
    /// from a ring, at most half a fair share of its entries (entries popped together wait
    /// behind the first); otherwise one entry stolen from another worker's deque. After the
    /// batch, the step keeps running entries from its own deque, up to 64 executions.
    pub fn step<B: Bodies<I, V, E> + ?Sized>(&self, bodies: &B, max_batch: usize) -> usize {
        if self.is_paused() {
            return 0;
        }
        let mut buf = [Entry::default(); BATCH];
        let mut max = max_batch.clamp(1, BATCH);
        let round = self.next_round();
        let mut n = 0;
        // A worker's own deque first, except every fourth batch: then the rings first, so that
        // runs queued there are not held back by one that keeps its workers busy.
        let rings_first = round % 4 == 3;
        let mut skipped_local = false;
        if !rings_first {
            if let Some(e) = self.local_pop() {
                buf[0] = e;
                n = 1;
            }
        } else {
            skipped_local = self.local_len() > 0;
        }
        if n == 0 {
            // Fairness: every fourth batch looks at the low-priority ring first; when that batch
            // was taken from the rings ahead of the worker's own (high-priority) deque, every
            // other one looks at the high ring first, so new high-priority runs get a turn too.
            let low_first = rings_first && !(skipped_local && round % 8 == 3);
            let order = if low_first { [1, 0] } else { [0, 1] };
            for level in order {
                let q = self.queues[level];
                if self.worker_count() > 1 {
                    // Take at most half a fair share of what is queued: entries popped
                    // together wait behind the first one, so a node that blocks must not hold
                    // back work an idle worker could run.
                    max = (q.len() / (2 * self.worker_count())).clamp(1, max);
                }
                n = q.pop_slice(&mut buf[..max]);
                if n > 0 {
                    // The depth before this pop: what is left plus what was taken. Pushes
                    // racing between the pop and `len` can inflate the sum, never past what
                    // the ring holds.
                    let len = (q.len() + n).min(q.capacity());
                    let hw = &self.shared.c.ring_high_water;
                    if len > hw.load(Relaxed) {
                        hw.fetch_max(len, Relaxed);
                    }
                    break;
                }
            }
        }
        if n == 0 && rings_first {
            if let Some(e) = self.local_pop() {
                buf[0] = e;
                n = 1;
            }
        }
        if n == 0 {
            if let Some(e) = self.steal() {
                buf[0] = e;
                n = 1;
            }
        }
        // Parked entries are picked up when the queues are empty, and, so that they cannot
        // starve under sustained load, on every 16th batch.
        if n < max && (n == 0 || round.is_multiple_of(16)) {
            n += self.unpark(&mut buf[n..max]);
            if n == 0 {
                return 0;
            }
        }
        // The batch's node data is needed next, in an order no prefetcher guesses.
        for &e in &buf[..n] {
            self.prefetch_entry(e);
        }
        let mut local = Local::default();
        let mut done = 0;
        let mut taken = 0;
        let mut roots = RootRange::default();
        // The context of the last chain's run, kept for the next chain of the same run (the
        // run's part of a context is the same for all its nodes).
        let mut run_cx: Option<Context<'_, I, V>> = None;
        loop {
            // Claimed roots first, then the batch, then what it made ready on the worker's own
            // deque, up to a budget (one loop, so that `execute` is inlined once).
            let mut same_run = false;
            let first = if roots.next < roots.end {
                // After the first root of a claimed range, the next ones continue the same run
                // with nothing in between: its context is the kept one, and the local tally
                // holds no other run (the setup before the first root flushed them; chains
                // continue only with entries of their own run). The run cannot end before its
                // last root resolves, so the kept context's id is still the slot's.
                same_run = roots.started;
                roots.started = true;
                roots.next += 1;
                Entry::new(roots.slot, self.dag.roots[roots.next - 1], 0, true)
            } else if roots.held {
                roots = self.take_roots(roots.slot, &mut local);
                continue;
            } else if taken < n {
                taken += 1;
                buf[taken - 1]
            } else if done < DRAIN && !self.is_paused() {
                match self.local_pop() {
                    Some(e) => e,
                    None => break,
                }
            } else {
                break;
            };
            if !same_run {
                if first.is_roots() {
                    // (Targets without deques never submit serial runs: no serial code in
                    // their flash.)
                    if DEQUES && self.runs[first.slot()].flags.load(Relaxed) & flag::SERIAL != 0 {
                        self.flush_other_runs(first, &mut local);
                        // Entries of this batch still to run wait for its turn to end.
                        let alone = taken >= n;
                        done +=
                            self.run_serial(bodies, first.slot(), SERIAL_TURN, alone, &mut local);
                        continue;
                    }
                    roots = self.take_roots(first.slot(), &mut local);
                    continue;
                }
                self.flush_other_runs(first, &mut local);
                // One context for the chain: every entry it continues with is of the same run
                // (successors of a node are), so the run's part is built once; `execute` sets
                // the node's part. The run cannot end while the chain holds one of its
                // entries. A context kept from an earlier chain is reused only if it is of
                // `first`'s run (the slot's current id: that run is live, as `first` is one of
                // its entries); one of a run that has ended since is never read again, only
                // replaced.
                let id = self.run_id(first.slot());
                if !matches!(&run_cx, Some(cx) if cx.run == id) {
                    run_cx = Some(self.context(first.slot(), first.node(), 0, 0, None));
                }
            }
            debug_assert!(
                !same_run
                    || (matches!(&run_cx, Some(cx) if cx.run == self.run_id(first.slot()))
                        && local.resolved[..local.resolved_len]
                            .iter()
                            .all(|&(slot, _)| slot == first.slot())),
                "a root continued without its run's context, or with another run tallied"
            );
            // Set above, on this pass or (same run) on the first root's; built here only if
            // that invariant ever broke (never drop `first`: its run would never complete).
            let cx =
                run_cx.get_or_insert_with(|| self.context(first.slot(), first.node(), 0, 0, None));
            let mut next = Some(first);
            while let Some(e) = next {
                next = self.execute(bodies, e, cx, &mut local);
                done += 1;
            }
        }
        self.flush_resolved(&mut local);
        let c = &self.shared.c;
        c.tasks_run.fetch_add(local.tasks, Relaxed);
        if local.retries != 0 {
            c.retries.fetch_add(local.retries, Relaxed);
        }
        if local.failures != 0 {
            c.failures.fetch_add(local.failures, Relaxed);
        }
        done
    }

    /// This worker holds the token of the serial run in `slot` (see
    /// [`with_serial`](Self::with_serial)): executes nodes from the run's cursor in
    /// topological order, up to `budget` executions and skips, then hands the token back to
    /// the run's ring (behind the other runs there: runs in flight take turns), or counts it
    /// off the run when no node is left or the run stopped. Returns the executions and skips
    /// (retries included), as `step` counts them.
    ///
    /// Every node before the cursor has run or been skipped (or the run has stopped), so the
    /// node at the cursor has all its predecessors' values: no counter is needed. A node that
    /// fails for good fails the run, and nothing after it starts, as for any run.
    ///
    /// On an engine with several workers whose driver has a [`Hooks::pace_clock`], the turn
    /// checks its pace now and then ([`pace_check`](Self::pace_check)); once its nodes prove
    /// slow, the run goes on counted for the rest ([`share`](Self::share)), and this worker
    /// goes on with its ready nodes as any worker does.
    #[inline(never)]
    fn run_serial<B: Bodies<I, V, E> + ?Sized>(
        &self,
        bodies: &B,
        slot: usize,
        budget: usize,
        alone: bool,
        local: &mut Local,
    ) -> usize {
        // The run's plan, set by the engine that submitted it.
        let flags = self.runs[slot].flags.load(Relaxed);
        let plain = flags & flag::PLAIN != 0;
        // Without other workers nobody can take the run: a loop without the cursor's moves.
        match (flags & flag::INDEX_ORDER != 0, self.worker_count() > 1) {
            (true, true) => {
                self.serial_loop::<B, true, true>(bodies, slot, budget, plain, alone, local)
            }
            (true, false) => {
                self.serial_loop::<B, true, false>(bodies, slot, budget, plain, alone, local)
            }
            (false, true) => {
                self.serial_loop::<B, false, true>(bodies, slot, budget, plain, alone, local)
            }
            (false, false) => {
                self.serial_loop::<B, false, false>(bodies, slot, budget, plain, alone, local)
            }
        }
    }

    /// [`run_serial`](Self::run_serial)'s loop, `INDEX_ORDER`: the DAG's topological order
    /// is the index order; `STEALABLE`: the engine has other workers; `plain`: every node is
    /// a task without a timeout.
    ///
    /// On an engine with several workers the run can be taken from this worker while it
    /// holds it (see [`steal_stalled`](Self::steal_stalled) and [`share`](Self::share)): the
    /// cursor word (`Tally::next_root`) then carries [`HELD`], and the worker moves it from
    /// node to node by compare-exchange. A move that fails means that the run was taken at
    /// the node the cursor names: the rest is counted, and that node is this worker's to
    /// finish as a counted node ([`serial_handover`](Self::serial_handover)).
    #[inline(always)]
    fn serial_loop<B: Bodies<I, V, E> + ?Sized, const INDEX_ORDER: bool, const STEALABLE: bool>(
        &self,
        bodies: &B,
        slot: usize,
        budget: usize,
        plain: bool,
        alone: bool,
        local: &mut Local,
    ) -> usize {
        let run = &self.runs[slot];
        let word = &run.tally.next_root;
        let topo = self.dag.topo;
        let total = topo.len();
        // Relaxed: the token has one holder at a time, and it reaches each one through a
        // queue's Release/Acquire, which orders the previous holder's store before this load.
        let cursor = word.load(Relaxed);
        debug_assert_eq!(cursor & (HELD | STOLEN), 0, "a queued serial run is held");
        let first = (cursor & CURSOR_MASK) as usize;
        let mut attempt = cursor >> CURSOR_BITS;
        let stealable = STEALABLE;
        let mut held = cursor;
        if stealable {
            held |= HELD;
            // Release: pairs with the Acquire of a thief's compare-exchange (from this value
            // or from one of this worker's moves after it): every node before the cursor,
            // run by this worker or an earlier holder, is visible to the thief.
            word.store(held, Release);
            self.hooks.run_held();
        }
        let mut next = first;
        let mut end = first.saturating_add(budget).min(total);
        let mut cx = self.context(slot, 0, 0, 0, None);
        // (A slot's cells are at least the DAG's nodes; this bound lets the compiler drop the
        // per-node check in index order.)
        let cells = &cx.cells[..total];
        let done = node::done(cx.run.generation());
        let mut retries = 0;
        let mut skips = 0;
        // The turn's pace, where other workers could share the run (see `share`).
        let mut pace = if stealable {
            self.hooks.pace_clock().map(|at| Pace {
                at,
                from: first,
                check: first + pace_gap(run.tally.pace.load(Relaxed), self.pace.check_ns),
                slow: false,
            })
        } else {
            None
        };
        let end_of_turn = loop {
            // One test of the flags for the common case; `stopped` reads them again.
            let flags = run.flags.load(Relaxed);
            if flags & (flag::FAILED | flag::CANCELLED | flag::HAS_DEADLINE) != 0
                && self.stopped(slot)
            {
                break Turn::Over;
            }
            if next >= total {
                break Turn::Over;
            }
            if let Some(p) = &mut pace {
                // Executions and skips so far; the node at the cursor is at its first attempt
                // (checked after its retries).
                let at = next + retries;
                if at >= p.check && attempt == 0 && self.pace_check(run, p, at) {
                    break Turn::Share;
                }
            }
            if next + retries >= end
                && alone
                && !cfg!(loom)
                && self.has_deque()
                && !self.is_paused()
            {
                // A runtime worker's turn goes on while no other work waits (nothing in the
                // rings, the deques or parked, nor in the batch this worker took: a snapshot,
                // looked at again a turn later), so that an idle worker does not take the run
                // over, cold, for the next turn.
                // The tick is brought up to date as between steps. (Not under loom: the
                // models hand the token on at every turn.)
                if !self.has_ready_work() {
                    end = (next + retries).saturating_add(budget);
                    self.fresh_now();
                }
            }
            if next + retries >= end || self.is_paused() {
                // Back to the run's ring, behind the runs queued there; the worker's own deque
                // if the ring is full. The cursor word is released first (a thief takes only
                // a held run; orderings as in `advance`); Relaxed without thieves: published
                // to the next holder by the push's Release.
                let cursor = next as u32 | attempt << CURSOR_BITS;
                if !stealable {
                    word.store(cursor, Relaxed);
                } else if word
                    .compare_exchange(held, cursor, Release, Acquire)
                    .is_err()
                {
                    break Turn::Lost;
                }
                let token = Entry::roots(slot);
                let level = Self::level(flags);
                if self.queues[level].push_slice(&[token]) == 1
                    || (level == 0 && self.local_push(&[token]) == 1)
                {
                    self.hooks.work_available();
                    break Turn::Yield;
                }
                // No room anywhere (the driver promised room; see `with_serial`): keep
                // running rather than lose the token (held again: nobody else writes the
                // word while it is not held).
                if stealable {
                    word.store(held, Release);
                }
            }
            let v = if INDEX_ORDER { next as u32 } else { topo[next] };
            debug_assert!(
                matches!(
                    self.dag.hot[v as usize].kind(),
                    NodeHot::TASK | NodeHot::CONDITION
                ),
                "a serial run met an iterator"
            );
            if !plain || attempt != 0 {
                let outcome = self.serial_node(bodies, slot, v, attempt, &mut cx, local);
                match outcome {
                    Serial::Next { skipped, .. } => {
                        if !advance(word, &mut held, next as u32 + 1, stealable) {
                            break Turn::Taken(outcome);
                        }
                        next += 1;
                        attempt = 0;
                        skips += usize::from(skipped);
                    }
                    Serial::Retry => {
                        if !advance(
                            word,
                            &mut held,
                            next as u32 | (attempt + 1) << CURSOR_BITS,
                            stealable,
                        ) {
                            break Turn::Taken(outcome);
                        }
                        attempt += 1;
                        retries += 1;
                    }
                }
                continue;
            }
            // A stretch of plain tasks at their first attempt, up to the end of the turn or the
            // next pace check: the same checks between nodes (a stop, a pause), fewer of them.
            let mut stretch_end = end.saturating_sub(retries).min(total);
            if let Some(p) = &pace {
                stretch_end = stretch_end.min(p.check.saturating_sub(retries).max(next + 1));
            }
            let mut v = v;
            let taken = loop {
                let cell = &cells[v as usize];
                // The node's part of the context; `attempt`, `choice` and `overflowed` are
                // left 0, `None` and `false` by every path (a plain task's `choice` is never
                // read).
                cx.node = v;
                cx.now = self.now();
                match bodies.call(NodeId(v), &mut cx) {
                    Ok(value) if !cx.overflowed => {
                        // SAFETY: node `v` of this run is executed by the token's holder alone
                        // (one holder at a time; a thief that takes the run leaves the node at
                        // the cursor to it); nobody reads the value before DONE.
                        cell.value.with_mut(|p| unsafe { (*p).write(value) });
                        // Release: as in `mark_done`.
                        cell.state.store(done, Release);
                        if !advance(word, &mut held, next as u32 + 1, stealable) {
                            break Some(Serial::Next {
                                skipped: false,
                                choice: None,
                            });
                        }
                        next += 1;
                    }
                    result => {
                        let start = cx.now;
                        let outcome = self.serial_settle(slot, v, &mut cx, result, start, local);
                        match outcome {
                            Serial::Next { .. } => {
                                if !advance(word, &mut held, next as u32 + 1, stealable) {
                                    break Some(outcome);
                                }
                                next += 1;
                            }
                            Serial::Retry => {
                                if !advance(
                                    word,
                                    &mut held,
                                    next as u32 | 1 << CURSOR_BITS,
                                    stealable,
                                ) {
                                    break Some(outcome);
                                }
                                attempt = 1;
                                retries += 1;
                            }
                        }
                        break None;
                    }
                }
                if next >= stretch_end
                    || run.flags.load(Relaxed)
                        & (flag::FAILED | flag::CANCELLED | flag::HAS_DEADLINE)
                        != 0
                    || self.is_paused()
                {
                    break None;
                }
                v = if INDEX_ORDER { next as u32 } else { topo[next] };
            };
            if let Some(outcome) = taken {
                break Turn::Taken(outcome);
            }
        };
        let passed = next - first;
        local.tasks += passed - skips + retries;
        // The nodes this turn passed, counted off `remaining` in one tally, and once the run
        // is no longer this worker's, the unit its holder keeps.
        // The nodes this turn passed, and the unit of `remaining` the holder keeps: counted
        // off here when the run is over, or when this worker shared it; it travels with the
        // token at the end of a turn, and goes to the thief that took the run (which counts
        // it off once it has published the rest: until then the run cannot end, nor its slot
        // be reused under the thief).
        let mut resolved = passed as u32;
        match end_of_turn {
            Turn::Yield => {}
            Turn::Over => {
                // Released (orderings as in `advance`): past the last node nobody takes the
                // run (a thief's compare-exchange fails on this worker's last move). A run
                // that stopped counts the nodes it will not start off here.
                let released = if !stealable {
                    true
                } else if next >= total {
                    word.store(held & !HELD, Relaxed);
                    true
                } else {
                    word.compare_exchange(held, held & !HELD, Release, Acquire)
                        .is_ok()
                };
                if released {
                    resolved += (total - next) as u32 + 1;
                } else {
                    self.serial_handover(slot, next, attempt, None, &cx, local);
                }
            }
            Turn::Share => {
                // On counted from the cursor, unless a thief took the run there first.
                // AcqRel: as a thief's (see `steal_stalled`).
                if word
                    .compare_exchange(held, held | STOLEN, AcqRel, Acquire)
                    .is_ok()
                {
                    self.share(slot, next);
                    resolved += 1;
                }
                self.serial_handover(slot, next, attempt, None, &cx, local);
            }
            Turn::Lost => self.serial_handover(slot, next, attempt, None, &cx, local),
            Turn::Taken(outcome) => {
                self.serial_handover(slot, next, attempt, Some(outcome), &cx, local);
            }
        }
        if resolved != 0 {
            self.count_resolved(slot, resolved, local);
        }
        passed + retries + usize::from(matches!(end_of_turn, Turn::Taken(_)))
    }

    /// [`run_serial`](Self::run_serial) for a node that is not a plain task at its first
    /// attempt: a retry, a node with a timeout (its start tick fresh from the driver's
    /// clock), or a node of a DAG with conditions. There a node runs if it is a root or a
    /// predecessor marked it live (a live predecessor that took the edge: the same rule as
    /// the counters' live arrivals), and a node that succeeds marks the successors it takes,
    /// with the run's tag in their `aux` word (otherwise unused by a serial run; the slot's
    /// clear every 64 generations resets it, so a stale tag never matches).
    #[inline(never)]
    fn serial_node<B: Bodies<I, V, E> + ?Sized>(
        &self,
        bodies: &B,
        slot: usize,
        v: u32,
        attempt: u32,
        cx: &mut Context<'_, I, V>,
        local: &mut Local,
    ) -> Serial {
        let hot = self.dag.hot[v as usize];
        let tag = node::done(cx.run.generation());
        let conditions = self.runs[slot].flags.load(Relaxed) & flag::PLAIN == 0;
        // Relaxed: written by an earlier node of this run, on this thread or before the token
        // reached it through a queue's Release/Acquire.
        if conditions
            && attempt == 0
            && self.dag.pred_span[v as usize].len != 0
            && cx.cells[v as usize].aux.load(Relaxed) != tag
        {
            return Serial::Next {
                skipped: true,
                choice: None,
            };
        }
        let start = self.start_tick(hot);
        cx.node = v;
        cx.attempt = attempt;
        cx.now = start;
        cx.choice = None;
        cx.overflowed = false;
        let result = bodies.call(NodeId(v), cx);
        let choice = cx.choice;
        let mut next = self.serial_settle(slot, v, cx, result, start, local);
        if let Serial::Next { choice: c, .. } = &mut next {
            *c = choice;
        }
        if conditions && matches!(next, Serial::Next { skipped: false, .. }) && self.ran(cx, v) {
            let succ = &self.dag.succ[hot.successors().range()];
            let condition = hot.kind() == NodeHot::CONDITION;
            let chosen = choice.map(|c| 2 + u16::from(c));
            let has_match = condition && chosen.is_some_and(|c| succ.iter().any(|s| s.label == c));
            for s in succ {
                if !condition || takes(s.label, chosen, has_match) {
                    cx.cells[s.to as usize].aux.store(tag, Relaxed);
                }
            }
        }
        next
    }

    /// A serial turn reached its pace check `p` with `at` executions and skips: whether the
    /// run's nodes took [`SHARE_PACE_NS`] or more each since the last check, over a span of
    /// [`PACE_SPAN_NS`] at least (twice in a row: the run is then to be shared); otherwise
    /// records the pace (for the run's next turn too) and sets the
    /// next check about [`PACE_CHECK_NS`] ahead, at most twice as many nodes ahead as the
    /// span just timed.
    #[inline(never)]
    fn pace_check(&self, run: &RunSlot<I, E>, p: &mut Pace, at: usize) -> bool {
        let Some(now) = self.hooks.pace_clock() else {
            p.check = usize::MAX;
            return false;
        };
        let span = now.saturating_sub(p.at);
        if span < PACE_SPAN_NS {
            // Too short to judge (a run's first nodes meet cold caches, a clock reading
            // costs tens of nanoseconds): the span goes on, twice as long.
            p.check = at + (at - p.from).max(1);
            return false;
        }
        let per_node = span / (at - p.from).max(1) as u64;
        if per_node >= self.pace.share_ns {
            // Twice in a row: once may be the thread losing its core for a while (a slow
            // node is slow again), so the next node is timed alone first.
            if p.slow {
                return true;
            }
            *p = Pace {
                at: now,
                from: at,
                check: at + 1,
                slow: true,
            };
            return false;
        }
        let per_node = per_node.max(1) as u32;
        // Relaxed: the token's holder alone reads it, as the cursor.
        run.tally.pace.store(per_node, Relaxed);
        // The span grows at most twofold: nodes that turn slow after fast ones are found
        // within as many nodes as ran before them (in a run's first turn; later, within a
        // turn).
        let gap = pace_gap(per_node, self.pace.check_ns).min(2 * (at - p.from));
        *p = Pace {
            at: now,
            from: at,
            check: at + gap,
            slow: false,
        };
        false
    }

    /// The serial run in `slot`, taken at position `pos` of the topological order (by its
    /// holder, whose pace check found its nodes slow, or by a thief: see
    /// [`steal_stalled`](Self::steal_stalled)), goes on counted: its nodes after `pos` are
    /// left as the counted scheduler would have left them had it run the nodes before `pos`
    /// and were it running the node at `pos` (every node before `pos` has run or been
    /// skipped; the node at `pos` is the holder's to finish, and counted as a node in flight:
    /// see [`serial_handover`](Self::serial_handover)). `remaining` already counts every
    /// node the run has not resolved.
    ///
    /// - A node with some but not all of its predecessors behind the cursor has those edges
    ///   resolved on its counter, with a live arrival if one of them was (a plain DAG's
    ///   always; a DAG with conditions: the tag `serial_node` left in its `aux` word). The
    ///   holder may resolve the node at `pos` meanwhile: read-modify-writes, and whichever
    ///   takes a counter to zero queues its node, as for any counted edges.
    /// - A node with all of them behind the cursor is ready: its entry is queued (its
    ///   counter, untouched, stays armed as after its last edge), live or to be skipped.
    /// - The roots after the cursor (the last ones of `roots`: in either order, roots come in
    ///   index order) go out through a root token (with a unit of `remaining` of its own) as
    ///   a submit sends them, or as entries.
    ///
    /// Once per shared run: a pass over the edges into the nodes left (nodes that were slow,
    /// or one that stalled).
    #[cold]
    #[inline(never)]
    fn share(&self, slot: usize, pos: usize) {
        let run = &self.runs[slot];
        let dag = self.dag;
        let topo = dag.topo;
        let cells = self.run_cells(slot);
        let flags = run.flags.load(Relaxed);
        let plain = flags & flag::PLAIN != 0;
        let index_order = flags & flag::INDEX_ORDER != 0;
        let generation = flags >> FLAG_GEN_SHIFT;
        let tag = node::done(generation);
        self.shared.c.runs_shared.fetch_add(1, Relaxed);
        // Outside the index order, the nodes behind the cursor are marked in their `aux`
        // word: no other use of it is left to them in this run, and no counted execution of
        // such a DAG writes one (no back-off, no iterator). The mark has the run's generation
        // (the slot's clear every 64 generations resets it) and never equals a tag (bit 1,
        // not `DONE`).
        let behind_mark = (tag & !node::DONE) | 2;
        let mut roots_behind = 0;
        for &u in &topo[..pos] {
            if dag.pred_span[u as usize].len == 0 {
                roots_behind += 1;
            }
            if !index_order {
                cells[u as usize].aux.store(behind_mark, Relaxed);
            }
        }
        let behind = |p: u32| {
            if index_order {
                (p as usize) < pos
            } else {
                cells[p as usize].aux.load(Relaxed) == behind_mark
            }
        };
        // The root token's cursor, before the token is out; the held word is replaced (no
        // move of the holder's can succeed now, and no thief takes a word that is not held).
        run.tally.next_root.store(roots_behind, Relaxed);
        // A read-modify-write: `cancel` may set a bit meanwhile. A root token goes to
        // `take_roots` from now on.
        run.flags.fetch_and(!flag::SERIAL, Relaxed);
        let mut buf = [Entry::default(); SPILL];
        let mut k = 0;
        for &s in &topo[pos + 1..] {
            let span = dag.pred_span[s as usize];
            if span.len == 0 {
                continue;
            }
            let n = dag.pred[span.range()]
                .iter()
                .filter(|&&p| behind(p))
                .count() as u32;
            if n == 0 {
                continue;
            }
            // Relaxed: written by a node behind the cursor (this thread, or published to it
            // with the cursor), or by the holder for a successor of the node at `pos` (then
            // that node takes the edge, and one live arrival is as good as two).
            let live = plain || cells[s as usize].aux.load(Relaxed) == tag;
            let mut live = live;
            let ready = if n == span.len {
                true
            } else {
                // AcqRel: as in `resolve_many`, against the holder's resolution of `pos`.
                let arrivals = if live { LIVE_UNIT } else { 0 };
                let cell = &cells[s as usize];
                let old = cell.pending.fetch_add(arrivals.wrapping_sub(n), AcqRel);
                if old & PENDING_MASK == n {
                    // The holder resolved the node at `pos` first: its arrival counts too.
                    live |= old >> 16 != 0;
                    self.rearm(cell, span.len as u16);
                    true
                } else {
                    false
                }
            };
            if ready {
                buf[k] = Entry::new(slot, s, 0, live);
                k += 1;
                if k == SPILL {
                    self.enqueue_ready(slot, &buf);
                    k = 0;
                }
            }
        }
        if k > 0 {
            self.enqueue_ready(slot, &buf[..k]);
        }
        let roots = &dag.roots[roots_behind as usize..];
        let roots = match roots.first() {
            // The node at `pos` is the holder's, root or not.
            Some(&r) if r == topo[pos] => &roots[1..],
            _ => roots,
        };
        debug_assert!(
            roots.iter().all(|&r| !behind(r)),
            "a root behind the cursor"
        );
        if roots.is_empty() {
            return;
        }
        let level = Self::level(flags);
        if roots.len() > ROOT_CHUNK {
            // Its own unit, taken before it is out (the run cannot end before: its roots
            // are not resolved).
            run.tally.remaining.fetch_add(1, Relaxed);
            run.tally
                .next_root
                .store(dag.roots.len() as u32 - roots.len() as u32, Relaxed);
            let token = Entry::roots(slot);
            if (level == 0 && self.local_push(&[token]) == 1)
                || self.queues[level].push_slice(&[token]) == 1
            {
                self.hooks.work_available();
                return;
            }
            run.tally.remaining.fetch_sub(1, Relaxed);
        }
        for chunk in roots.chunks(SPILL) {
            for (b, &r) in buf.iter_mut().zip(chunk) {
                *b = Entry::new(slot, r, 0, true);
            }
            self.enqueue_ready(slot, &buf[..chunk.len()]);
        }
    }

    /// A worker that held the serial run in `slot` lost it at position `pos` of the order
    /// (to a thief, or to its own `share`): the run is counted now, and the node at `pos` is
    /// this worker's to resolve as a counted node. `outcome`: what became of the node at
    /// its attempt `attempt` (this worker executed or skipped it, and wrote what a serial
    /// node writes); `None`: not started, it is queued as an entry.
    #[cold]
    #[inline(never)]
    fn serial_handover(
        &self,
        slot: usize,
        pos: usize,
        attempt: u32,
        outcome: Option<Serial>,
        cx: &Context<'_, I, V>,
        local: &mut Local,
    ) {
        let v = self.dag.topo[pos];
        let next = match outcome {
            None => {
                // As `serial_node` decides: a root, a retry, a plain DAG's node, or one that a
                // live predecessor took the edge to runs; the others are skipped.
                let flags = self.runs[slot].flags.load(Relaxed);
                let live = attempt != 0
                    || flags & flag::PLAIN != 0
                    || self.dag.pred_span[v as usize].len == 0
                    || cx.cells[v as usize].aux.load(Relaxed) == node::done(cx.run.generation());
                Some(Entry::new(slot, v, attempt, live))
            }
            Some(Serial::Retry) => {
                local.tasks += 1;
                Some(Entry::new(slot, v, attempt + 1, true))
            }
            Some(Serial::Next { skipped: true, .. }) => self.resolve(slot, v, false, None, local),
            Some(Serial::Next { choice, .. }) => {
                local.tasks += 1;
                // Done (its value is written), or failed for good (the run failed).
                let ran = self.ran(cx, v);
                self.resolve(slot, v, ran, if ran { choice } else { None }, local)
            }
        };
        if let Some(e) = next {
            self.enqueue_ready(slot, &[e]);
        }
    }

    /// For a driver's idle worker on an engine with several workers: takes over the serial
    /// runs that a worker has held at the same node since this worker's previous call (a
    /// node that blocks, perhaps on another node of its run), as [`share`](Self::share)
    /// does for a slow run: the rest goes counted to this worker's deque and the rings,
    /// while the holder finishes its node. `seen` keeps what each call saw, a word per run
    /// slot (zeros at first: the run's generation and its cursor word); the driver spaces
    /// the calls (the std runtime: 2 ms apart). Returns how many runs it took.
    #[doc(hidden)]
    pub fn steal_stalled(&self, seen: &mut [u64]) -> usize {
        let mut taken = 0;
        for (slot, (run, seen)) in self.runs.iter().zip(seen.iter_mut()).enumerate() {
            let word = &run.tally.next_root;
            let w = word.load(Relaxed);
            if w & (HELD | STOLEN) != HELD || (w & CURSOR_MASK) as usize >= self.dag.len() {
                *seen = 0;
                continue;
            }
            // With the run's generation: the next run of the slot held at the same node is
            // not the same stall.
            let now = u64::from(run.flags.load(Relaxed) >> FLAG_GEN_SHIFT) << 32 | u64::from(w);
            if *seen != now {
                *seen = now;
                continue;
            }
            *seen = 0;
            // Acquire: pairs with the holder's Release store or move of this value: every
            // node before the cursor is visible here. A word that changed since (the holder
            // moved on, or the run ended and its slot was reused) is left alone; a run of the
            // slot held at the same word is as good a candidate.
            if word
                .compare_exchange(w, w | STOLEN, Acquire, Relaxed)
                .is_ok()
            {
                // The holder's unit of `remaining` is this thread's now: the run cannot end
                // before `share` has published its rest, then it is counted off (completing
                // the run if the holder has resolved every node meanwhile).
                self.share(slot, (w & CURSOR_MASK) as usize);
                let mut local = Local::default();
                self.count_resolved(slot, 1, &mut local);
                self.flush_resolved(&mut local);
                taken += 1;
            }
        }
        taken
    }

    /// Whether a worker holds a serial run that a thief could take (see
    /// [`steal_stalled`](Self::steal_stalled)): a snapshot of every run slot.
    #[doc(hidden)]
    pub fn holds_serial_run(&self) -> bool {
        self.runs
            .iter()
            .any(|run| run.tally.next_root.load(Relaxed) & (HELD | STOLEN) == HELD)
    }

    /// Whether node `v` of `cx`'s run is done (this worker just wrote it, or not).
    #[inline(always)]
    fn ran(&self, cx: &Context<'_, I, V>, v: u32) -> bool {
        node::is_done(
            cx.cells[v as usize].state.load(Relaxed),
            cx.run.generation(),
        )
    }

    /// What follows a serial node's body when it did not simply succeed at its first attempt
    /// without a timeout: its value, or its failure: a retry while attempts are left (a
    /// serial DAG has no back-off; the loop runs it, after its checks for a stop or a
    /// pause), else the run's error. Leaves `cx`'s `attempt`, `choice` and `overflowed` as
    /// the fast path expects them.
    #[inline(never)]
    fn serial_settle(
        &self,
        slot: usize,
        v: u32,
        cx: &mut Context<'_, I, V>,
        result: Result<V, Failure<E>>,
        start: u32,
        local: &mut Local,
    ) -> Serial {
        let attempt = cx.attempt;
        let verdict = self.judge(v, cx, result, start);
        cx.attempt = 0;
        cx.choice = None;
        cx.overflowed = false;
        match verdict {
            Ok(value) => {
                let cell = &cx.cells[v as usize];
                // SAFETY: as in `run_serial`: the token's holder alone executes `v`.
                cell.value.with_mut(|p| unsafe { (*p).write(value) });
                self.mark_done(cell, cx.run);
            }
            Err((error, retryable)) => {
                let info = &self.dag.nodes[v as usize];
                debug_assert_eq!(info.retry.backoff_ticks, 0, "a serial run met a back-off");
                // As in `settle`: no retry once the run has stopped.
                if retryable && attempt + 1 < info.retry.attempts as u32 && !self.stopped(slot) {
                    local.retries += 1;
                    return Serial::Retry;
                }
                local.failures += 1;
                self.fail(slot, error);
            }
        }
        Serial::Next {
            skipped: false,
            choice: None,
        }
    }

    /// This worker holds the root token of the run in `slot`: claims the next roots and hands
    /// the token on before they run (to the worker's own deque, where an idle worker can steal
    /// it, or the run's ring), so that other workers take the next chunks meanwhile. The last
    /// chunk drops the token's unit of `remaining`.
    ///
    /// A chunk is [`ROOT_CHUNK`] roots for an engine without a deque (a firmware `step` stays
    /// short); a runtime worker takes a quarter of its fair share of the roots left, between
    /// [`ROOT_CHUNK`] and [`ROOT_CHUNK_MAX`] (guided self-scheduling: few hand-offs while much
    /// is left, small chunks at the end so that the workers finish together).
    #[inline(never)]
    fn take_roots(&self, slot: usize, local: &mut Local) -> RootRange {
        let run = &self.runs[slot];
        let total = self.dag.roots.len();
        // Relaxed: the token has one holder at a time, and it reaches each one through a
        // queue's Release/Acquire, which orders the previous holder's store before this load.
        let start = run.tally.next_root.load(Relaxed) as usize;
        let chunk = if self.has_deque() {
            ((total - start) / (4 * self.worker_count())).clamp(ROOT_CHUNK, ROOT_CHUNK_MAX)
        } else {
            ROOT_CHUNK
        };
        let end = (start + chunk).min(total);
        run.tally.next_root.store(end as u32, Relaxed);
        let mut held = false;
        if end < total {
            let token = Entry::roots(slot);
            let level = Self::level(run.flags.load(Relaxed));
            let handed = (level == 0 && self.local_push(&[token]) == 1)
                || self.queues[level].push_slice(&[token]) == 1;
            if handed {
                self.hooks.work_available();
            } else {
                // Nowhere to put it (never parked: a token has no cell): keep it.
                held = true;
            }
        } else {
            self.count_resolved(slot, 1, local);
        }
        RootRange {
            slot,
            next: start,
            end,
            held,
            started: false,
        }
    }

    /// Before executing `next`: subtracts the local tally of other runs from their `remaining`
    /// (completing those that reach zero), so that a run whose last node this worker resolved
    /// is not held back while `next`'s body runs (it may block, even on that run's result).
    /// Nodes of `next`'s own run stay tallied.
    #[inline(always)]
    fn flush_other_runs(&self, next: Entry, local: &mut Local) {
        let others = local.resolved[..local.resolved_len]
            .iter()
            .any(|&(slot, _)| slot != next.slot());
        if others {
            self.flush_resolved(local);
        }
    }

    /// Entries in the worker's own deque (0 without one).
    #[inline(always)]
    fn local_len(&self) -> usize {
        #[cfg(any(target_has_atomic = "64", loom))]
        if let Some(d) = self.own() {
            return d.len();
        }
        0
    }

    /// Whether this engine is a worker's with its own deque (`with_worker`).
    #[inline(always)]
    fn has_deque(&self) -> bool {
        #[cfg(any(target_has_atomic = "64", loom))]
        if self.own().is_some() {
            return true;
        }
        false
    }

    /// Workers sharing the rings, as far as this engine knows (1 without `with_worker`).
    #[inline(always)]
    fn worker_count(&self) -> usize {
        #[cfg(any(target_has_atomic = "64", loom))]
        if let Some((all, _)) = self.worker {
            return all.len();
        }
        1
    }

    /// This batch's number, for the fairness rules: counted per worker when the engine has
    /// one (its own cache line), manager-wide otherwise.
    #[inline(always)]
    fn next_round(&self) -> u32 {
        #[cfg(any(target_has_atomic = "64", loom))]
        if let Some(d) = self.own() {
            return d.next_round();
        }
        self.shared.rounds.fetch_add(1, Relaxed)
    }

    /// Prefetches what executing `e` reads first: its node description, successor span and
    /// cell.
    #[inline(always)]
    fn prefetch_entry(&self, e: Entry) {
        let v = e.node() as usize;
        prefetch(self.dag.hot.get(v));
        prefetch(self.cells.get(e.slot() * self.stride + v));
    }

    /// Whether the run in `slot` should stop starting nodes (failed, cancelled, past its
    /// deadline). Marks a missed deadline as the run's failure.
    #[inline(always)]
    fn stopped(&self, slot: usize) -> bool {
        let run = &self.runs[slot];
        let flags = run.flags.load(Relaxed);
        if flags & (flag::FAILED | flag::CANCELLED) != 0 {
            return true;
        }
        if flags & flag::HAS_DEADLINE != 0
            && tick_reached(self.fresh_now(), run.deadline.load(Relaxed))
        {
            self.fail(slot, RunError::DeadlineExceeded);
            return true;
        }
        false
    }

    /// Executes (or skips) one entry; returns a ready successor to continue with.
    ///
    /// Inlined into `step`: the common case (a live task without a timeout, in a run that is
    /// not stopping, that succeeds) runs here; everything else in the out-of-line
    /// [`execute_general`](Self::execute_general) and [`settle`](Self::settle).
    #[inline(always)]
    fn execute<B: Bodies<I, V, E> + ?Sized>(
        &self,
        bodies: &B,
        e: Entry,
        cx: &mut Context<'_, I, V>,
        local: &mut Local,
    ) -> Option<Entry> {
        let (slot, v) = (e.slot(), e.node());
        debug_assert_eq!(cx.run.slot(), slot, "a chain continued into another run");
        // The packed word only: `NodeInfo` is read on the cold paths (iterators, failures).
        let hot = self.dag.hot[v as usize];
        if hot.kind() != NodeHot::TASK
            || hot.has_timeout()
            || !e.live()
            || self.stopped(slot)
            || self.is_paused()
        {
            return self.execute_general(bodies, e, local);
        }
        // Its successor list is read after the body: fetch it meanwhile. Nodes that become
        // ready in random order (graph levels, tree walks) miss there; a single successor (a
        // chain's) is next to the previous node's and already fetched by the hardware.
        if hot.successors().len > 1 {
            prefetch(self.dag.succ.get(hot.successors().start as usize));
        }
        let cell = &cx.cells[v as usize];
        let start = self.now();
        // The node's part of the context; a plain task's body can change only `choice` and
        // `overflowed` (it has no emit range, so `emit` fails without counting).
        cx.node = v;
        cx.attempt = e.attempt();
        cx.now = start;
        cx.choice = None;
        cx.overflowed = false;
        local.tasks += 1;
        let result = bodies.call(NodeId(v), cx);
        match result {
            Ok(value) if !cx.overflowed => {
                // SAFETY: this worker executes node `v` of this run alone (the entry was
                // popped/claimed once); nobody reads the value before DONE or the successors'
                // pending counters publish it.
                cell.value.with_mut(|p| unsafe { (*p).write(value) });
                self.mark_done(cell, cx.run);
                self.resolve_inline(slot, v, hot, true, cx.choice, local)
            }
            result => self.settle(e, hot, cx, result, start, local),
        }
    }

    /// [`execute`](Self::execute) for everything but a live task without a timeout: iterator
    /// bodies, skips, iterators, conditions, nodes with timeouts, stopping runs.
    #[inline(never)]
    fn execute_general<B: Bodies<I, V, E> + ?Sized>(
        &self,
        bodies: &B,
        e: Entry,
        local: &mut Local,
    ) -> Option<Entry> {
        let (slot, v) = (e.slot(), e.node());
        let hot = self.dag.hot[v as usize];
        let kind = hot.kind();
        if kind != NodeHot::BODY && self.is_paused() {
            // Nothing starts while paused, a chain's next node and the rest of a batch
            // included: the entry goes where a ready node that is not continued goes (its
            // run's deque or ring, or parked in its cell if the ring is full), for `resume`.
            // (A body token hands itself back in `process_items`, before its next item.)
            self.enqueue_ready(slot, &[e]);
            return None;
        }
        if kind == NodeHot::BODY {
            // The packed word and the description come from the same compiled node.
            if let NodeKind::Body { iterator } = self.dag.nodes[v as usize].kind {
                return self.process_items(bodies, slot, v, iterator.0, local);
            }
        }
        if !e.live() || self.stopped(slot) {
            return self.resolve(slot, v, false, None, local);
        }
        let (emit_offset, emit_max) = if kind == NodeHot::ITERATOR {
            match self.dag.nodes[v as usize].kind {
                NodeKind::Iterator {
                    item_offset,
                    max_items,
                    ..
                } => (item_offset as usize, max_items),
                _ => (0, 0),
            }
        } else {
            (0, 0)
        };
        let start = self.start_tick(hot);
        let mut cx = Context {
            emit_offset,
            emit_max,
            ..self.context(slot, v, e.attempt(), start, None)
        };
        local.tasks += 1;
        let result = bodies.call(NodeId(v), &mut cx);
        self.settle(e, hot, &cx, result, start, local)
    }

    /// What follows a node's body: its value, or its failure (retry, back-off, or the run's
    /// error), then its resolution.
    #[inline(never)]
    fn settle(
        &self,
        e: Entry,
        hot: NodeHot,
        cx: &Context<'_, I, V>,
        result: Result<V, Failure<E>>,
        start: u32,
        local: &mut Local,
    ) -> Option<Entry> {
        let (slot, v) = (e.slot(), e.node());
        let cell = self.cell(slot, v);
        let kind = hot.kind();
        let info = &self.dag.nodes[v as usize];
        match self.judge(v, cx, result, start) {
            Ok(value) => {
                // SAFETY: node `v` of this run is executed by this worker alone (the entry
                // was popped/claimed once); nobody reads the value before DONE or the
                // successors' pending counters publish it.
                cell.value.with_mut(|p| unsafe { (*p).write(value) });
                if kind == NodeHot::ITERATOR {
                    if cx.emitted > 0 {
                        return self.fan_out_of(slot, v, cx.emitted, local);
                    }
                    // No items: the body cell's count (read by `items`) may be an earlier
                    // run's; published by the Release in `mark_done`.
                    if let NodeKind::Iterator { body, .. } = info.kind {
                        self.cell(slot, body.0).state.store(0, Relaxed);
                    }
                }
                self.mark_done(cell, cx.run);
                self.resolve(slot, v, true, cx.choice, local)
            }
            Err((error, retryable)) => {
                let attempt = e.attempt();
                // No retry is scheduled (it would only be skipped) or counted once the run
                // failed, was cancelled or passed its deadline while the body ran: the node
                // fails for good, and the run keeps the error that stopped it (the first).
                if retryable && attempt + 1 < info.retry.attempts as u32 && !self.stopped(slot) {
                    local.retries += 1;
                    let again = Entry::new(slot, v, attempt + 1, true);
                    if info.retry.backoff_ticks == 0 {
                        return Some(again);
                    }
                    let backoff = info.retry.backoff_ticks.min(MAX_HORIZON);
                    // From now, not from the tick this worker last synced: the body may have
                    // run for longer than the back-off.
                    cell.aux
                        .store(self.fresh_now().wrapping_add(backoff), Relaxed);
                    self.park(again, node::DEFERRED);
                    self.hooks.work_available();
                    return None;
                }
                local.failures += 1;
                self.fail(slot, error);
                self.resolve(slot, v, false, None, local)
            }
        }
    }

    /// What a body's result makes of node `v`'s execution that started at tick `start`: its
    /// value, or the error it fails with and whether that error may be retried.
    #[inline(always)]
    fn judge(
        &self,
        v: u32,
        cx: &Context<'_, I, V>,
        result: Result<V, Failure<E>>,
        start: u32,
    ) -> Result<V, (RunError<E>, bool)> {
        let info = &self.dag.nodes[v as usize];
        let node = NodeId(v);
        match result {
            // Emitting past the limit fails the node as TooManyItems whatever the body returned
            // afterwards (typically the error of `emit(..)?`); deterministic, so not retried.
            _ if cx.overflowed => Err((
                RunError::TooManyItems {
                    node,
                    max: cx.emit_max,
                },
                false,
            )),
            Ok(_)
                if info
                    .timeout_ticks
                    .is_some_and(|t| self.fresh_now().wrapping_sub(start) > t) =>
            {
                Err((RunError::Timeout { node }, true))
            }
            Ok(value) => Ok(value),
            Err(Failure::Error(error)) => Err((RunError::Failed { node, error }, true)),
            Err(Failure::Panicked) => Err((RunError::Panicked { node }, true)),
        }
    }

    /// Iterator `v` emitted `count > 0` items: fans them out to its body.
    fn fan_out_of(&self, slot: usize, v: u32, count: usize, local: &mut Local) -> Option<Entry> {
        match self.dag.nodes[v as usize].kind {
            NodeKind::Iterator { body, .. } => self.fan_out(slot, body.0, count),
            // Not reached: the packed word and the description come from the same node.
            _ => {
                self.mark_done(self.cell(slot, v), self.run_id(slot));
                self.resolve(slot, v, true, None, local)
            }
        }
    }

    /// The tick a node execution starts at: fresh from the driver's clock when the node has
    /// a timeout, the counter otherwise.
    #[inline(always)]
    fn start_tick(&self, hot: NodeHot) -> u32 {
        if hot.has_timeout() {
            self.fresh_now()
        } else {
            self.now()
        }
    }

    /// The context of one execution of node `v` of the run in `slot` (no emit range; the
    /// caller sets one for iterators).
    #[inline(always)]
    fn context(
        &self,
        slot: usize,
        v: u32,
        attempt: u32,
        now: u32,
        item: Option<(usize, V)>,
    ) -> Context<'_, I, V> {
        let run = &self.runs[slot];
        Context {
            // A context that `step` keeps past its run's end is never read, only replaced.
            // SAFETY: written before the slot became ACTIVE and its first entry was published
            // (Release/Acquire); not written again until the run ends (needs this node).
            input: run.input.with(|p| unsafe { &*(*p).as_ptr() }),
            run: self.run_id(slot),
            node: v,
            attempt,
            now,
            dag: &self.dag,
            cells: self.run_cells(slot),
            items: self.items,
            item_base: slot * self.item_stride,
            item,
            emit_offset: 0,
            emit_max: 0,
            emitted: 0,
            overflowed: false,
            choice: None,
        }
    }

    /// The id of the run in `slot` (read by a worker holding one of its entries).
    fn run_id(&self, slot: usize) -> RunId {
        RunId::new(slot, self.runs[slot].state.load(Relaxed) >> phase::BITS)
    }

    #[inline(always)]
    fn mark_done(&self, cell: &NodeCell<V>, run: RunId) {
        // While its node executes, a cell's `state` is written by that worker only (parking
        // happens before the entry is claimed, and claiming clears the park bits), so a plain
        // store suffices; it replaces what an earlier run of the slot left (a stale tag).
        let generation = run.generation();
        // Release: pairs with the Acquire loads of `state` in `Context::value`/`items`; the
        // value write happens-before their reads. (`Finished` reads after `take`'s Acquire,
        // which the run's completion orders after this store.)
        cell.state.store(node::done(generation), Release);
    }

    /// Records the run's failure: the first one wins and is the run's error, unless the run was
    /// cancelled first (then it stays cancelled).
    fn fail(&self, slot: usize, error: RunError<E>) {
        let run = &self.runs[slot];
        let mut flags = run.flags.load(Relaxed);
        loop {
            if flags & (flag::FAILED | flag::CANCELLED) != 0 {
                // The run ends otherwise already: failed first (that error stands), or
                // cancelled first (it ends `Cancelled`, as `cancel` documents).
                return;
            }
            // Relaxed: read-modify-writes of one word are totally ordered, so this CAS and
            // `cancel`'s decide between them by atomicity alone (whichever comes first sets
            // the outcome), and only the thread that sets FAILED writes the error below. The
            // error reaches the finisher through this worker's AcqRel subtraction from
            // `remaining`, not through this word.
            match run
                .flags
                .compare_exchange_weak(flags, flags | flag::FAILED, Relaxed, Relaxed)
            {
                Ok(_) => break,
                Err(now) => flags = now,
            }
        }
        // The error is read once `remaining` reaches zero, which this write happens-before:
        // through this thread's own resolve (AcqRel on `remaining`), or, for a body item (or
        // a deadline seen by a body token), through the body cell's `pending` (this token's
        // Release decrement, the last token's AcqRel one) and then that token's resolve.
        // SAFETY: only the thread that set FAILED writes the error, once per run, before it
        // is read (above).
        run.error.with_mut(|p| unsafe { (*p).write(error) });
        // Its retries waiting for a tick are due at once (to be skipped): a parked runtime
        // worker may be sleeping until the earliest one was due.
        self.lower_retry_hint(self.now());
        if self.shared.deferred.load(Relaxed) != 0 {
            self.hooks.work_available();
        }
    }

    /// An iterator emitted `count > 0` items: the body cell counts them and the body runs on
    /// interchangeable tokens (each claims the next item index until none is left). Returns
    /// one token for this worker to continue with; pushes up to `MAX_TOKENS - 1` more, and on
    /// an engine built [`with_worker`](Self::with_worker) at most one per other worker: a
    /// token runs items until none is left, so one token per worker lets every worker help,
    /// and each token beyond that would only be popped, find nothing and hold back the
    /// iterator's resolution until it is dropped.
    fn fan_out(&self, slot: usize, body: u32, count: usize) -> Option<Entry> {
        let cell = self.cell(slot, body);
        cell.state
            .store((count as u32) << node::COUNT_SHIFT, Relaxed);
        cell.aux.store(0, Relaxed);
        let token = Entry::new(slot, body, 0, true);
        let tokens_out = if self.has_deque() {
            self.worker_count().min(MAX_TOKENS)
        } else {
            MAX_TOKENS
        };
        let extra = (count - 1).min(tokens_out - 1);
        // `pending` counts the items not yet processed plus the tokens still out (the one we
        // keep and every one pushed): the run cannot complete, and its slot cannot be reused,
        // while a token that could still touch this cell exists.
        cell.pending.store((count + 1 + extra) as u32, Relaxed);
        if extra > 0 {
            // The push's Release publishes the items and the counters above to the workers
            // that take the tokens.
            let pushed = self.queue_tokens(slot, &[token; MAX_TOKENS][..extra]);
            // Tokens that did not fit are not needed (the one we keep processes every item no
            // other token claims); drop their references. Cannot reach zero: ours remains.
            if pushed < extra {
                cell.pending.fetch_sub((extra - pushed) as u32, Relaxed);
            }
        }
        Some(token)
    }

    /// Runs items of iterator `iterator`'s body until none is left to claim; the worker that
    /// finishes the last item resolves the iterator.
    fn process_items<B: Bodies<I, V, E> + ?Sized>(
        &self,
        bodies: &B,
        slot: usize,
        body: u32,
        iterator: u32,
        local: &mut Local,
    ) -> Option<Entry> {
        let cell = self.cell(slot, body);
        let count = (cell.state.load(Relaxed) >> node::COUNT_SHIFT) as usize;
        let NodeKind::Iterator { item_offset, .. } = self.dag.nodes[iterator as usize].kind else {
            return None;
        };
        let info = &self.dag.nodes[body as usize];
        let items = &self.items[slot * self.item_stride..];
        // Items this token ran since `step` handed it over (see the end of the loop).
        let mut ran = 0;
        loop {
            // One `execute` of a token must not run every item (up to 65 535) on its own:
            // `pause` is to stop new work, and `step`'s budgets (`BATCH` entries, `DRAIN`
            // executions) bound a call only if each execution is bounded. So after
            // `ITEM_BUDGET` items, or when paused, the token goes back to a queue (with its
            // reference) before it claims another, and `step` decides when it runs on. If no
            // queue has room, it keeps going: a body token is never parked (its cell's words
            // hold the items' count and next index, not park bits). A token that would find
            // no item left goes on to drop its reference instead (the iterator's resolution
            // needs no new work, and is not held up by a pause).
            if (ran >= ITEM_BUDGET || self.is_paused()) && (cell.aux.load(Relaxed) as usize) < count
            {
                if self.hand_back(slot, body) {
                    return None;
                }
                ran = 0;
            }
            // Relaxed: the RMW alone makes each index claimed once; the items' data arrived
            // with the token (the ring's or deque's Acquire) or is ours (continuation).
            let i = cell.aux.fetch_add(1, Relaxed) as usize;
            if i >= count {
                // No item left for this token: drop its reference (see `fan_out`).
                return self.item_done(slot, iterator, cell, local);
            }
            let item_cell = &items[item_offset as usize + i];
            if !self.stopped(slot) {
                // SAFETY: item `i` was written by the iterator before the tokens were
                // published, and is accessed only by the execution that claimed index `i`.
                let item = item_cell.value.with(|p| unsafe { (*p).assume_init_read() });
                let mut attempt = 0;
                loop {
                    let start = self.start_tick(self.dag.hot[body as usize]);
                    let mut cx = self.context(slot, body, attempt, start, Some((i, item)));
                    local.tasks += 1;
                    let node_id = NodeId(body);
                    let result = bodies.call(node_id, &mut cx);
                    // As in `settle`: an `emit` (a body has no room for items) fails the item
                    // whatever the body returned, and is not retried (it would emit again).
                    let retryable = !cx.overflowed;
                    let result = match result {
                        _ if cx.overflowed => Err(RunError::TooManyItems {
                            node: node_id,
                            max: cx.emit_max,
                        }),
                        Ok(_)
                            if info
                                .timeout_ticks
                                .is_some_and(|t| self.fresh_now().wrapping_sub(start) > t) =>
                        {
                            Err(RunError::Timeout { node: node_id })
                        }
                        Ok(v) => Ok(v),
                        Err(Failure::Error(error)) => Err(RunError::Failed {
                            node: node_id,
                            error,
                        }),
                        Err(Failure::Panicked) => Err(RunError::Panicked { node: node_id }),
                    };
                    match result {
                        Ok(value) => {
                            // SAFETY: index `i` is ours (claimed above).
                            item_cell.value.with_mut(|p| unsafe { (*p).write(value) });
                            break;
                        }
                        Err(_) if retryable && attempt + 1 < info.retry.attempts as u32 => {
                            if self.stopped(slot) {
                                // The run failed, was cancelled or passed its deadline
                                // meanwhile: no more attempts, and the item failed for good
                                // (as a task's retry in `settle`). The run keeps its error.
                                local.failures += 1;
                                break;
                            }
                            attempt += 1;
                            local.retries += 1;
                        }
                        Err(error) => {
                            local.failures += 1;
                            self.fail(slot, error);
                            break;
                        }
                    }
                }
            }
            // Release: publishes our item result to whoever drops the last reference (an RMW,
            // so the chain of decrements carries it). Never the last reference: this token's
            // own is still held.
            let before = cell.pending.fetch_sub(1, Release);
            debug_assert!(before > 1, "an item completion took the last reference");
            ran += 1;
        }
    }

    /// Queues a body token of the run in `slot` to run on later (see `queue_tokens`); whether
    /// it was queued.
    #[inline(never)]
    fn hand_back(&self, slot: usize, body: u32) -> bool {
        self.queue_tokens(slot, &[Entry::new(slot, body, 0, true)]) == 1
    }

    /// Queues body tokens of the run in `slot`: the worker's own deque for a run of high
    /// priority (where idle workers steal them one at a time; a batch popped from a ring could
    /// take two, and hold the second behind the first), the run's ring otherwise or for what
    /// does not fit, as `enqueue_ready` does, but never parked (see `process_items`); returns
    /// how many were queued. The push's Release carries the items' data and this worker's
    /// results to whoever takes a token. (A wake-up while paused finds nothing to do; `resume`
    /// wakes workers again.)
    fn queue_tokens(&self, slot: usize, tokens: &[Entry]) -> usize {
        let level = Self::level(self.runs[slot].flags.load(Relaxed));
        let local = if level == 0 {
            self.local_push(tokens)
        } else {
            0
        };
        let queued = local + self.queues[level].push_slice(&tokens[local..]);
        if queued > 0 {
            self.hooks.work_available();
        }
        queued
    }

    /// A token's reference to the body cell is dropped; the last one resolves the iterator and
    /// returns its first ready successor.
    #[inline]
    fn item_done(
        &self,
        slot: usize,
        iterator: u32,
        cell: &NodeCell<V>,
        local: &mut Local,
    ) -> Option<Entry> {
        // AcqRel: Release publishes our item result; the worker that takes the count to zero
        // acquires every item's result before the iterator's successors run.
        let before = cell.pending.fetch_sub(1, AcqRel);
        debug_assert_ne!(
            before, 0,
            "a body token dropped a reference it did not hold"
        );
        if before != 1 {
            return None;
        }
        // Failed or cancelled only, not `stopped`: resolving the iterator starts no node, so a
        // deadline that passed while the last item ran does not fail the run (as for a task
        // that finishes late; a successor is checked when it starts). A skipped item (the run
        // stopping, its deadline included) has set FAILED or CANCELLED already.
        let live = self.runs[slot].flags.load(Relaxed) & (flag::FAILED | flag::CANCELLED) == 0;
        if live {
            self.mark_done(self.cell(slot, iterator), self.run_id(slot));
        }
        self.resolve(slot, iterator, live, None, local)
    }

    /// Node `v` is resolved: done (`live`) or skipped. Resolves its edges in its successors'
    /// pending counters (a successor with no other predecessor is ready at once, uncounted),
    /// hands back the first ready successor, pushes the others, and counts the node (plus the
    /// body, for an iterator) off the run.
    #[inline(never)]
    fn resolve(
        &self,
        slot: usize,
        v: u32,
        live: bool,
        choice: Option<u8>,
        local: &mut Local,
    ) -> Option<Entry> {
        self.resolve_inline(slot, v, self.dag.hot[v as usize], live, choice, local)
    }

    /// [`resolve`](Self::resolve), inlined: for the one hot call site (a node that ran and
    /// succeeded), so that the other sites share one out-of-line copy (flash on firmware).
    #[inline(always)]
    fn resolve_inline(
        &self,
        slot: usize,
        v: u32,
        hot: NodeHot,
        live: bool,
        choice: Option<u8>,
        local: &mut Local,
    ) -> Option<Entry> {
        debug_assert_eq!(hot, self.dag.hot[v as usize]);
        let succ = &self.dag.succ[hot.successors().range()];
        let condition = live && hot.kind() == NodeHot::CONDITION;
        let count = if hot.kind() == NodeHot::ITERATOR {
            2
        } else {
            1
        };
        // +1 live arrival and -1 pending, or just -1 pending.
        let delta_of = |taken: bool| if taken { LIVE_UNIT - 1 } else { u32::MAX };
        if succ.len() <= 1 && !condition {
            // The common case (chains, joins): one plain edge or none.
            let mut next = None;
            if let Some(s) = succ.first() {
                if s.preds == 1 {
                    // Our edge is the successor's only one: it is ready now, with nothing to
                    // count (see `resolve_many`).
                    next = Some(Entry::new(slot, s.to, 0, live));
                } else {
                    // AcqRel: as in the general loop below.
                    let cell = self.cell(slot, s.to);
                    let old = cell.pending.fetch_add(delta_of(live), AcqRel);
                    if old & PENDING_MASK == 1 {
                        self.rearm(cell, s.preds);
                        next = Some(Entry::new(slot, s.to, 0, live || old >> 16 != 0));
                    }
                }
            }
            self.count_resolved(slot, count, local);
            return next;
        }
        if let [a, b] = *succ {
            // Targets without deques (no 64-bit atomics: firmware) leave it to
            // `resolve_many`: no second copy of the queueing code in flash.
            if DEQUES && !condition && a.preds == 1 && b.preds == 1 {
                return self.resolve_pair(slot, live, a, b, count, local);
            }
        }
        self.resolve_many(slot, live, condition, choice, succ, count, local)
    }

    /// [`resolve`](Self::resolve) of a two-way fan-out into nodes that have only this
    /// predecessor (every internal node of a binary tree): both are ready now, with nothing to
    /// count (see [`resolve_many`](Self::resolve_many)). The caller continues with `a`; `b` is
    /// queued as `resolve_many` queues its spill ([`enqueue_ready`](Self::enqueue_ready)):
    /// this worker's own deque for a run of high priority (its push's Release fence carries
    /// this node's writes to a thief), or the run's ring (low priority, no deque, or the deque
    /// full). `resolve_many` would do the same with more set-up (its spill buffer). Out of
    /// line, but short.
    #[inline(never)]
    fn resolve_pair(
        &self,
        slot: usize,
        live: bool,
        a: Succ,
        b: Succ,
        count: u32,
        local: &mut Local,
    ) -> Option<Entry> {
        debug_assert!(a.preds == 1 && b.preds == 1);
        self.enqueue_ready(slot, &[Entry::new(slot, b.to, 0, live)]);
        self.count_resolved(slot, count, local);
        Some(Entry::new(slot, a.to, 0, live))
    }

    /// A node's counter reached zero (its last edge resolved): no other edge touches it in
    /// this run, so it is set back to the node's in-degree `preds` (carried by the edge) for
    /// the slot's next run. Relaxed: the
    /// next run's first access happens-after this run's completion (this worker's tally is
    /// released into `remaining` after this store, and the slot is reused only after that).
    #[inline(always)]
    fn rearm(&self, cell: &NodeCell<V>, preds: u16) {
        cell.pending.store(u32::from(preds), Relaxed);
    }

    /// [`resolve`](Self::resolve) for a condition or a node with several successors.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn resolve_many(
        &self,
        slot: usize,
        live: bool,
        condition: bool,
        choice: Option<u8>,
        succ: &[Succ],
        count: u32,
        local: &mut Local,
    ) -> Option<Entry> {
        let mut spill = [MaybeUninit::<Entry>::uninit(); SPILL];
        let mut next = None;
        let mut k = 0;
        // Queues `e` behind the first ready successor, SPILL at a time. (Macros, not closures:
        // the compiler kept a closure out of line.)
        macro_rules! spill {
            ($e:expr) => {{
                spill[k].write($e);
                k += 1;
                if k == SPILL {
                    // SAFETY: `spill[..SPILL]` was written since `k` was last 0.
                    unsafe { self.enqueue_full_spill(slot, &spill) };
                    k = 0;
                }
            }};
        }
        // The first ready successor is the caller's to continue with; the others are queued.
        macro_rules! ready {
            ($e:expr) => {{
                let e = $e;
                if next.is_none() {
                    next = Some(e);
                } else {
                    spill!(e);
                }
            }};
        }
        // A successor whose only incoming edge is from this node is ready as soon as this
        // node resolves, and nobody else touches its counter: no RMW. Its entry carries what
        // this thread did (the value written, DONE) to whoever runs it: this thread; a thief
        // or popper through the deque's or ring's Release/Acquire; or, when the ring is full,
        // the worker that unparks it (`park`'s Release `fetch_or`, `unpark`'s Acquire CAS).
        if !condition && succ.iter().all(|s| s.preds == 1) {
            // Every successor is such a one (a tree's fan-out): all are ready now.
            next = succ.first().map(|s| Entry::new(slot, s.to, 0, live));
            for s in succ.iter().skip(1) {
                spill!(Entry::new(slot, s.to, 0, live));
            }
        } else {
            let delta_of = |taken: bool| if taken { LIVE_UNIT - 1 } else { u32::MAX };
            let cells = self.run_cells(slot);
            // Issue the successors' cache misses together, before the serialising RMWs below (a
            // sole successor's cell is not touched here).
            for s in succ {
                if s.preds != 1 {
                    prefetch(cells.get(s.to as usize));
                }
                prefetch(self.dag.hot.get(s.to as usize));
            }
            if !condition {
                let delta = delta_of(live);
                for s in succ {
                    if s.preds == 1 {
                        ready!(Entry::new(slot, s.to, 0, live));
                        continue;
                    }
                    // AcqRel: as below.
                    let cell = &cells[s.to as usize];
                    let old = cell.pending.fetch_add(delta, AcqRel);
                    if old & PENDING_MASK == 1 {
                        self.rearm(cell, s.preds);
                        ready!(Entry::new(slot, s.to, 0, live || old >> 16 != 0));
                    }
                }
            } else {
                let chosen = choice.map(|c| 2 + c as u16);
                let has_match = chosen.is_some_and(|c| succ.iter().any(|s| s.label == c));
                for s in succ {
                    // A plain edge out of a condition is always taken; labelled ones by the choice.
                    let taken = takes(s.label, chosen, has_match);
                    if s.preds == 1 {
                        ready!(Entry::new(slot, s.to, 0, taken));
                        continue;
                    }
                    // AcqRel: Release publishes this node's value (and all it saw) to whoever
                    // resolves the successor; Acquire lets the last predecessor see the others'
                    // values.
                    let cell = &cells[s.to as usize];
                    let old = cell.pending.fetch_add(delta_of(taken), AcqRel);
                    if old & PENDING_MASK == 1 {
                        self.rearm(cell, s.preds);
                        ready!(Entry::new(slot, s.to, 0, taken || old >> 16 != 0));
                    }
                }
            }
        }
        if k > 0 {
            // SAFETY: `spill[..k]` was written since `k` was last 0.
            unsafe { self.enqueue_spill(slot, &spill, k) };
        }
        self.count_resolved(slot, count, local);
        next
    }

    /// [`enqueue_spill`](Self::enqueue_spill) of a full `spill`, out of line: rare, a node
    /// that makes more than `SPILL` successors ready at once.
    ///
    /// # Safety
    ///
    /// Every entry of `spill` is initialised.
    #[cold]
    #[inline(never)]
    unsafe fn enqueue_full_spill(&self, slot: usize, spill: &[MaybeUninit<Entry>; SPILL]) {
        // SAFETY: the caller's contract: `spill[..SPILL]` is initialised.
        unsafe { self.enqueue_spill(slot, spill, SPILL) };
    }

    /// Enqueues the first `k` entries of `spill` ([`enqueue_ready`](Self::enqueue_ready)).
    ///
    /// # Safety
    ///
    /// `k <= SPILL` and `spill[..k]` is initialised.
    #[inline(always)]
    unsafe fn enqueue_spill(&self, slot: usize, spill: &[MaybeUninit<Entry>; SPILL], k: usize) {
        // SAFETY: the caller's contract: `spill[..k]` is initialised (and in bounds);
        // `MaybeUninit<Entry>` has `Entry`'s layout.
        let ready = unsafe { core::slice::from_raw_parts(spill.as_ptr().cast::<Entry>(), k) };
        self.enqueue_ready(slot, ready);
    }

    /// Enqueues entries of run `slot` that are ready to run, at the run's priority level.
    #[inline(always)]
    fn enqueue_ready(&self, slot: usize, ready: &[Entry]) {
        let level = Self::level(self.runs[slot].flags.load(Relaxed));
        // High priority: the worker's own deque first (low-priority entries stay in their
        // ring, where the fairness rule sees them).
        let local = if level == 0 {
            self.local_push(ready)
        } else {
            0
        };
        if local < ready.len() {
            self.enqueue(level, &ready[local..]);
        } else if self.worker_count() > 1 {
            // Idle workers may steal them.
            self.hooks.work_available();
        }
    }

    /// Adds `count` resolved nodes of run `slot` to the worker-local tally.
    #[inline(always)]
    fn count_resolved(&self, slot: usize, count: u32, local: &mut Local) {
        for entry in &mut local.resolved[..local.resolved_len] {
            if entry.0 == slot {
                entry.1 += count;
                return;
            }
        }
        if local.resolved_len == local.resolved.len() {
            self.flush_resolved(local);
        }
        local.resolved[local.resolved_len] = (slot, count);
        local.resolved_len += 1;
    }

    /// Subtracts the local tally from the runs' `remaining`; completes runs that reach zero.
    /// Every subtraction comes before the first completion: a completion calls the driver's
    /// `run_finished` (a waker, perhaps an executor polling inline), which must not wait on a
    /// run whose last nodes sit in this tally.
    fn flush_resolved(&self, local: &mut Local) {
        let mut finished = [0usize; TALLY_RUNS];
        let mut k = 0;
        for &(slot, count) in &local.resolved[..local.resolved_len] {
            // AcqRel: Release publishes everything this worker did for the run; the thread that
            // takes the count to zero acquires all of it before completing the run.
            if self.runs[slot].tally.remaining.fetch_sub(count, AcqRel) == count {
                finished[k] = slot;
                k += 1;
            }
        }
        local.resolved_len = 0;
        for &slot in &finished[..k] {
            self.complete(slot);
        }
    }

    /// The last node of the run in `slot` resolved.
    fn complete(&self, slot: usize) {
        let run = &self.runs[slot];
        // Relaxed: FINAL freezes the flags by atomicity alone (a `cancel` or `fail` CAS after
        // this one sees FINAL or a FAILED/CANCELLED bit, and leaves the word; one before it
        // is in the value read here). Every node's writes reached this worker through
        // `remaining`'s AcqRel, and reach the taker through the Release store of DONE below.
        let flags = run.flags.fetch_or(FINAL, Relaxed);
        let c = &self.shared.c;
        if flags & flag::FAILED != 0 {
            c.runs_failed.fetch_add(1, Relaxed);
        } else if flags & flag::CANCELLED != 0 {
            c.runs_cancelled.fetch_add(1, Relaxed);
        } else {
            c.runs_completed.fetch_add(1, Relaxed);
        }
        c.runs_active.fetch_sub(1, Relaxed);
        let generation = run.state.load(Relaxed) >> phase::BITS;
        let id = RunId::new(slot, generation);
        // Release: pairs with the Acquire CAS in `take`; everything the run did happens-before
        // the taker's reads.
        run.state
            .store(generation << phase::BITS | phase::DONE, Release);
        if let Some(results) = self.results {
            if results.push_slice(&[id]) == 0 {
                // Not listed: mark it so that `poll` finds it by scanning. Fails harmlessly
                // if the run was taken by id meanwhile.
                let done = generation << phase::BITS | phase::DONE;
                let unlisted = generation << phase::BITS | DONE_UNLISTED;
                if run
                    .state
                    .compare_exchange(done, unlisted, Release, Relaxed)
                    .is_ok()
                {
                    self.shared.unlisted.fetch_add(1, Relaxed);
                }
            }
        }
        self.hooks.run_finished(id);
    }

    // ---------------------------------------------------------------- results

    /// Takes the result of run `id` if it has finished (and was not taken yet). The run slot
    /// is freed when the returned [`Finished`] is dropped.
    pub fn take(&self, id: RunId) -> Option<Finished<'a, I, V, E>> {
        let run = self.runs.get(id.slot())?;
        let generation = id.generation();
        let taken = generation << phase::BITS | phase::TAKEN;
        for ph in [phase::DONE, DONE_UNLISTED] {
            // Acquire: pairs with the Release store of DONE in `complete`.
            if run
                .state
                .compare_exchange(generation << phase::BITS | ph, taken, Acquire, Relaxed)
                .is_ok()
            {
                if ph == DONE_UNLISTED {
                    // May run before `complete`'s increment (this CAS can read the unlisted
                    // mark before the count is raised): the count is then briefly
                    // `u32::MAX`, which only costs a `poll` a scan that finds nothing.
                    self.shared.unlisted.fetch_sub(1, Relaxed);
                }
                return Some(Finished { engine: *self, id });
            }
        }
        None
    }

    /// The next finished run, if any: from the result ring, or found by scanning when a
    /// completion did not fit there.
    pub fn poll(&self) -> Option<Finished<'a, I, V, E>> {
        if let Some(results) = self.results {
            let mut id = [RunId::default()];
            while results.pop_slice(&mut id) == 1 {
                if let Some(done) = self.take(id[0]) {
                    return Some(done);
                }
            }
        }
        if self.shared.unlisted.load(Relaxed) != 0 {
            for (slot, run) in self.runs.iter().enumerate() {
                let state = run.state.load(Relaxed);
                if state & phase::MASK == DONE_UNLISTED {
                    if let Some(done) = self.take(RunId::new(slot, state >> phase::BITS)) {
                        return Some(done);
                    }
                }
            }
        }
        None
    }

    /// Whether run `id` is still in flight.
    pub fn is_active(&self, id: RunId) -> bool {
        self.runs.get(id.slot()).is_some_and(|run| {
            run.state.load(Acquire) == id.generation() << phase::BITS | phase::ACTIVE
        })
    }

    /// Cancels run `id`: nodes not started are skipped, running ones finish, and the run ends
    /// with [`RunError::Cancelled`], unless it failed first (a node failing after the cancel,
    /// one that was running or a deadline that passes, does not change that).
    ///
    /// # Errors
    ///
    /// [`CancelError::NotActive`] if the run already finished or the id is stale.
    pub fn cancel(&self, id: RunId) -> Result<(), CancelError> {
        let run = self.runs.get(id.slot()).ok_or(CancelError::NotActive)?;
        let mut flags = run.flags.load(Relaxed);
        loop {
            if flags >> FLAG_GEN_SHIFT != id.generation()
                || flags & FINAL != 0
                || !self.is_active(id)
            {
                return Err(CancelError::NotActive);
            }
            // Relaxed: the flag is a request; workers read it with Relaxed loads, and the
            // order of this CAS against `complete`'s FINAL and `fail`'s FAILED on the same
            // word (read-modify-writes are totally ordered) decides whether it counted.
            match run
                .flags
                .compare_exchange_weak(flags, flags | flag::CANCELLED, Relaxed, Relaxed)
            {
                Ok(_) => {
                    // Its retries waiting for a tick are due at once (to be skipped).
                    self.lower_retry_hint(self.now());
                    self.hooks.work_available();
                    return Ok(());
                }
                Err(now) => flags = now,
            }
        }
    }

    /// Frees the slot of a taken run.
    fn release(&self, id: RunId) {
        let next = (id.generation() + 1) & GEN_MASK;
        let taken = id.generation() << phase::BITS | phase::TAKEN;
        // Only from TAKEN of this generation, so a second release is a no-op.
        // Release: pairs with the Acquire CAS in `claim_slot`; our reads of the slot
        // happen-before the next run's writes.
        let _ = self.runs[id.slot()].state.compare_exchange(
            taken,
            next << phase::BITS | phase::FREE,
            Release,
            Relaxed,
        );
    }

    // ---------------------------------------------------------------- control

    /// Stops `step` from starting work (running nodes finish). `submit` still accepts runs.
    /// A `step` under way starts nothing more either: the next node of a chain it is
    /// following, the rest of its batch and the roots it claimed are queued for
    /// [`resume`](Self::resume) (a `step` that queued entries this way still returns their
    /// number, as if it had run them). An iterator's items are work too: a worker running
    /// them stops before its next item, and leaves the rest queued (unless every queue is
    /// full: then it keeps going, as it never drops or parks them).
    ///
    /// Relaxed: a request. A step that has not yet seen the store can start one more node;
    /// once `pause` has returned, a step on the same thread starts nothing.
    pub fn pause(&self) {
        self.shared.paused.store(1, Relaxed);
    }

    /// Undoes [`pause`](Self::pause).
    pub fn resume(&self) {
        self.shared.paused.store(0, Relaxed);
        self.hooks.work_available();
    }

    /// Whether paused.
    pub fn is_paused(&self) -> bool {
        self.shared.paused.load(Relaxed) != 0
    }

    /// Advances the tick counter (retry back-off, timeouts and deadlines count ticks).
    pub fn advance_tick(&self, ticks: u32) {
        self.shared.tick.fetch_add(ticks, Relaxed);
        if self.shared.deferred.load(Relaxed) != 0 {
            self.hooks.work_available();
        }
    }

    /// Moves the tick counter forward to `tick` if it is behind (for drivers that derive
    /// ticks from a clock).
    pub fn sync_tick(&self, tick: u32) {
        // Wrapping comparison (ticks wrap after 2^32): move forward only.
        let _ = self.shared.tick.fetch_update(Relaxed, Relaxed, |now| {
            (tick != now && tick_reached(tick, now)).then_some(tick)
        });
    }

    /// The current tick, first brought up to date from the driver's clock if it has one.
    fn fresh_now(&self) -> u32 {
        if let Some(t) = self.hooks.clock() {
            self.sync_tick(t);
        }
        self.now()
    }

    /// The current tick.
    #[inline(always)]
    pub fn now(&self) -> u32 {
        self.shared.tick.load(Relaxed)
    }

    /// Entries waiting for a retry tick (all runs).
    pub fn deferred(&self) -> usize {
        self.shared.deferred.load(Relaxed) as usize
    }

    /// Ticks until the earliest retry waiting for its tick may be due (0: now); `None` when
    /// none waits. A driver that sleeps while idle wakes for it then; a retry parked, or a
    /// run cancelled or failed, meanwhile calls [`Hooks::work_available`] (which the runtime
    /// may skip while another wake-up is in flight: its sleeping workers also look every
    /// 50 ms). It is a lower bound: at that tick a retry may turn out not to be due yet
    /// (the scheduler then looks again later), never the other way round.
    pub fn next_retry_in(&self) -> Option<u32> {
        if self.shared.deferred.load(Relaxed) == 0 {
            return None;
        }
        // Relaxed: a hint, as in `unpark`.
        let hint = self.shared.retry_hint.load(Relaxed);
        Some(hint_ahead(self.fresh_now(), hint))
    }

    /// Whether a task ring (or, on an engine built [`with_worker`](Self::with_worker), a
    /// worker's deque) holds entries or an entry is parked for lack of ring space: work that
    /// can run now (a snapshot; retries waiting for their tick are not counted).
    pub fn has_ready_work(&self) -> bool {
        self.queues.iter().any(|q| !q.is_empty())
            || self.shared.parked.load(Relaxed) != 0
            || self.deque_len() != 0
    }

    /// Entries queued in the rings and (on an engine built [`with_worker`](Self::with_worker))
    /// the workers' deques (a snapshot).
    pub fn queued(&self) -> usize {
        self.queues.iter().map(|q| q.len()).sum::<usize>() + self.deque_len()
    }

    /// Entries parked because a ring was full, waiting for room (a snapshot; retries waiting
    /// for their tick are [`deferred`](Self::deferred)).
    pub fn parked(&self) -> usize {
        self.shared.parked.load(Relaxed) as usize
    }

    /// Entries in the high and low task rings (a snapshot).
    pub fn ring_depths(&self) -> [usize; 2] {
        [self.queues[0].len(), self.queues[1].len()]
    }

    /// Whether any task ring (or worker deque, see [`has_ready_work`](Self::has_ready_work))
    /// holds entries or any entry is parked or deferred (a snapshot).
    pub fn has_work(&self) -> bool {
        self.queues.iter().any(|q| !q.is_empty())
            || self.deque_len() != 0
            || self.shared.parked.load(Relaxed) != 0
            || self.shared.deferred.load(Relaxed) != 0
    }

    /// Runs in flight (submitted, not finished).
    pub fn active_runs(&self) -> usize {
        self.shared.c.runs_active.load(Relaxed)
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        let c = &self.shared.c;
        Counters {
            tasks_run: c.tasks_run.load(Relaxed),
            retries: c.retries.load(Relaxed),
            failures: c.failures.load(Relaxed),
            ring_full: c.ring_full.load(Relaxed),
            busy: c.busy.load(Relaxed),
            runs_submitted: c.runs_submitted.load(Relaxed),
            runs_completed: c.runs_completed.load(Relaxed),
            runs_failed: c.runs_failed.load(Relaxed),
            runs_cancelled: c.runs_cancelled.load(Relaxed),
            ring_high_water: c.ring_high_water.load(Relaxed),
            runs_high_water: c.runs_high_water.load(Relaxed),
            runs_shared: c.runs_shared.load(Relaxed),
        }
    }
}

/// A finished run, taken from the manager: its outcome and node values. Dropping it frees
/// the run slot.
pub struct Finished<'a, I: Copy, V: Copy, E: Copy> {
    engine: Engine<'a, I, V, E>,
    id: RunId,
}

impl<I: Copy, V: Copy, E: Copy> fmt::Debug for Finished<'_, I, V, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finished")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<'a, I: Copy, V: Copy, E: Copy> Finished<'a, I, V, E> {
    /// The run.
    pub fn id(&self) -> RunId {
        self.id
    }

    /// `Ok` if every node that had to run succeeded; otherwise why not.
    pub fn outcome(&self) -> Result<(), RunError<E>> {
        let run = &self.engine.runs[self.id.slot()];
        let flags = run.flags.load(Relaxed);
        if flags & flag::FAILED != 0 {
            // The first thread to set FAILED wrote the error before its node or item was
            // counted off the run; that happens-before `complete` (see `fail`), which
            // happens-before our Acquire in `take`. Nothing writes it again until the slot is
            // released.
            // SAFETY: so the error is initialised, and nobody writes it while we read it.
            Err(run.error.with(|p| unsafe { (*p).assume_init_read() }))
        } else if flags & flag::CANCELLED != 0 {
            Err(RunError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// The run's input.
    pub fn input(&self) -> I {
        // SAFETY: written at submit, before the run started; the slot is ours until drop.
        self.engine.runs[self.id.slot()]
            .input
            .with(|p| unsafe { (*p).assume_init_read() })
    }

    /// The value of `node`, if it ran and succeeded.
    pub fn value(&self, node: NodeId) -> Option<V> {
        let cell = self.engine.run_cells(self.id.slot()).get(node.index())?;
        if !node::is_done(cell.state.load(Relaxed), self.id.generation()) {
            return None;
        }
        // SAFETY: DONE was set after the value was written; both happen-before our Acquire
        // in `take`, and nothing writes the run's storage until the slot is released.
        Some(cell.value.with(|p| unsafe { (*p).assume_init_read() }))
    }

    /// Whether `node` ran and succeeded (false if skipped or failed). Always false for an
    /// iterator's body node, whose executions are per item: see [`items`](Self::items).
    pub fn ran(&self, node: NodeId) -> bool {
        self.engine
            .run_cells(self.id.slot())
            .get(node.index())
            .is_some_and(|c| node::is_done(c.state.load(Relaxed), self.id.generation()))
    }

    /// The body results of iterator `iterator`, in item order (empty if it did not finish).
    pub fn items(&self, iterator: NodeId) -> &[V] {
        let cx: Context<'_, I, V> = Context {
            // SAFETY: as in `input`.
            input: self.engine.runs[self.id.slot()]
                .input
                .with(|p| unsafe { &*(*p).as_ptr() }),
            run: self.id,
            node: 0,
            attempt: 0,
            now: 0,
            dag: &self.engine.dag,
            cells: self.engine.run_cells(self.id.slot()),
            items: self.engine.items,
            item_base: self.id.slot() * self.engine.item_stride,
            item: None,
            emit_offset: 0,
            emit_max: 0,
            emitted: 0,
            overflowed: false,
            choice: None,
        };
        cx.items(iterator)
    }
}

impl<'a, I: Copy, V: Copy, E: Copy> Finished<'a, I, V, E> {
    /// Gives up this handle without freeing the run slot; [`Finished::from_raw`] gets it back.
    /// For drivers that keep a finished run in a structure of their own (the std runtime).
    pub fn into_raw(self) -> RunId {
        let id = self.id;
        core::mem::forget(self);
        id
    }

    /// A handle to a run taken earlier and given up with [`into_raw`](Self::into_raw).
    ///
    /// # Safety
    ///
    /// `id` came from `into_raw` of a `Finished` of this `engine`'s storage, and no other
    /// `Finished` for it exists now (each slot is freed exactly once, when the one handle is
    /// dropped).
    pub unsafe fn from_raw(engine: Engine<'a, I, V, E>, id: RunId) -> Self {
        Self { engine, id }
    }
}

impl<I: Copy, V: Copy, E: Copy> Drop for Finished<'_, I, V, E> {
    fn drop(&mut self) {
        self.engine.release(self.id);
    }
}
