//! Per-run and per-node state of the scheduler, in caller-provided storage.

use core::mem::MaybeUninit;

use crate::cache_padded::CachePadded;
use crate::sync::{AtomicU32, AtomicUsize, UnsafeCell};

use super::RunError;

/// Run slot phases (low bits of [`RunSlot::state`]).
pub(crate) mod phase {
    pub(crate) const FREE: u32 = 0;
    pub(crate) const SETUP: u32 = 1;
    pub(crate) const ACTIVE: u32 = 2;
    pub(crate) const DONE: u32 = 3;
    pub(crate) const TAKEN: u32 = 4;
    pub(crate) const BITS: u32 = 3;
    pub(crate) const MASK: u32 = (1 << BITS) - 1;
}

/// Run flags ([`RunSlot::flags`]).
pub(crate) mod flag {
    /// A node failed for good; the error is in the slot.
    pub(crate) const FAILED: u32 = 1 << 0;
    /// Cancelled by the user (or by immediate shutdown).
    pub(crate) const CANCELLED: u32 = 1 << 1;
    /// Priority level in bit 3 (0 = high, 1 = low).
    pub(crate) const LOW_PRIORITY: u32 = 1 << 3;
    /// The run has a deadline (in `RunSlot::deadline`).
    pub(crate) const HAS_DEADLINE: u32 = 1 << 4;
    /// The run executes serially: its root token is a cursor into the DAG's topological
    /// order, and no readiness counter is touched (see `Engine::with_serial`).
    pub(crate) const SERIAL: u32 = 1 << 6;
    /// A serial run's DAG has the index order as topological order (`SerialPlan`).
    pub(crate) const INDEX_ORDER: u32 = 1 << 7;
    /// A serial run's DAG has only tasks without timeouts (`SerialPlan`).
    pub(crate) const PLAIN: u32 = 1 << 2;
}

/// Node cell state bits ([`NodeCell::state`]).
pub(crate) mod node {
    /// The node's value is written and readable.
    pub(crate) const DONE: u32 = 1 << 0;
    /// Ready but the task ring was full: a worker finds it by scanning.
    pub(crate) const OVERFLOW: u32 = 1 << 1;
    /// Waiting for its retry tick (in `aux`).
    pub(crate) const DEFERRED: u32 = 1 << 2;
    /// The entry waiting in overflow/deferred is live (not to be skipped).
    pub(crate) const LIVE: u32 = 1 << 3;
    /// Attempt number of the waiting entry, bits 4..=8.
    pub(crate) const ATTEMPT_SHIFT: u32 = 4;
    pub(crate) const ATTEMPT_MASK: u32 = 0x1f << ATTEMPT_SHIFT;
    /// Which run set `DONE`: the run's generation modulo 64, bits 10..16. A cell's `state` is
    /// not cleared between runs: `DONE` counts only with the reading run's tag, and a run slot
    /// whose generation is a multiple of 64 clears all its cells first, so a stale tag never
    /// equals the current one.
    pub(crate) const TAG_SHIFT: u32 = 10;
    pub(crate) const TAG_MASK: u32 = 0x3f << TAG_SHIFT;
    /// Generations between two full clears of a run slot's cells.
    pub(crate) const TAG_PERIOD: u32 = 64;
    /// Body cells: the number of items, bits 16..32.
    pub(crate) const COUNT_SHIFT: u32 = 16;

    /// `DONE` with the tag of the run with generation `generation`.
    #[inline(always)]
    pub(crate) const fn done(generation: u32) -> u32 {
        DONE | (generation % TAG_PERIOD) << TAG_SHIFT
    }

    /// Whether `state` says done for the run with generation `generation`.
    #[inline(always)]
    pub(crate) const fn is_done(state: u32, generation: u32) -> bool {
        state & (DONE | TAG_MASK) == done(generation)
    }
}

/// One run slot: lifecycle, flags, input and error.
pub struct RunSlot<I, E> {
    /// `generation << phase::BITS | phase`.
    pub(crate) state: AtomicU32,
    /// [`flag`] bits.
    pub(crate) flags: AtomicU32,
    /// What workers write while the run is in flight, on a cache line of its own: `state` and
    /// `flags` are read for every node.
    pub(crate) tally: CachePadded<Tally>,
    /// Cells of this run with `OVERFLOW` or `DEFERRED` set (counted before the bit is set).
    pub(crate) parked: AtomicU32,
    /// Deadline tick (valid with `HAS_DEADLINE`).
    pub(crate) deadline: AtomicU32,
    pub(crate) input: UnsafeCell<MaybeUninit<I>>,
    pub(crate) error: UnsafeCell<MaybeUninit<RunError<E>>>,
}

// `input` is written only by the submitter between claiming the slot (SETUP) and activating
// it, then only read (shared) until the slot is freed; `error` is written once by the thread
// that sets FAILED first and read after `remaining` reaches zero (Acquire chain).
// SAFETY: sharing the slot hands `I` and `E` between threads (`Send`) and lets several
// threads read the input at once (`Sync`); the accesses are ordered as described above.
unsafe impl<I: Send + Sync, E: Send + Sync> Sync for RunSlot<I, E> {}

impl<I, E> RunSlot<I, E> {
    /// A free slot; `const`, all zero.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            state: AtomicU32::new(0),
            flags: AtomicU32::new(0),
            tally: CachePadded::new(Tally {
                remaining: AtomicU32::new(0),
                next_root: AtomicU32::new(0),
                pace: AtomicU32::new(0),
            }),
            parked: AtomicU32::new(0),
            deadline: AtomicU32::new(0),
            input: UnsafeCell::new(MaybeUninit::uninit()),
            error: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// A free slot (loom build).
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            state: AtomicU32::new(0),
            flags: AtomicU32::new(0),
            tally: CachePadded::new(Tally {
                remaining: AtomicU32::new(0),
                next_root: AtomicU32::new(0),
                pace: AtomicU32::new(0),
            }),
            parked: AtomicU32::new(0),
            deadline: AtomicU32::new(0),
            input: UnsafeCell::new(MaybeUninit::uninit()),
            error: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }
}

impl<I, E> Default for RunSlot<I, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I, E> core::fmt::Debug for RunSlot<I, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RunSlot").finish_non_exhaustive()
    }
}

/// The counters of a run that its workers write (see [`RunSlot::tally`]).
pub(crate) struct Tally {
    /// Nodes not yet resolved (done or skipped), plus one while a root token is out. Every
    /// worker subtracts from it once per batch.
    pub(crate) remaining: AtomicU32,
    /// Roots claimed so far through the run's root token (index into the DAG's roots); for a
    /// serial run, nodes executed so far (index into the DAG's topological order). Read and
    /// written only by the token's holder: one at a time, handed on through the queues'
    /// Release/Acquire. Written once per chunk of roots (32 to 1 024) or of serial nodes.
    pub(crate) next_root: AtomicU32,
    /// A serial run's pace: nanoseconds per node over its last pace check (0: none yet), so
    /// that its next turn knows when to check first (see `Engine::share`). Read and written
    /// by the token's holder only, as `next_root`.
    pub(crate) pace: AtomicU32,
}

/// Per-run state of one node.
pub struct NodeCell<V> {
    /// Low 16 bits: predecessors not yet resolved; high 16 bits: live arrivals. Between runs
    /// it holds the in-degree (re-armed by the worker that took it to zero). Never touched for
    /// a node with one predecessor (that edge hands the node on directly).
    /// Body cells: items not yet processed plus the body tokens still out (see `fan_out`).
    pub(crate) pending: AtomicU32,
    /// [`node`] bits.
    pub(crate) state: AtomicU32,
    /// Deferred retry: due tick. Body cells: next item index to claim. In a serial run of a
    /// DAG with conditions: the run's `DONE` tag once a live predecessor took the edge here
    /// (see `Engine::with_serial`).
    pub(crate) aux: AtomicU32,
    pub(crate) value: UnsafeCell<MaybeUninit<V>>,
}

// `value` is written once per run by the thread executing the node, before it sets DONE
// (Release) and before it resolves its successors (AcqRel on their `pending`, or, for a
// successor with no other predecessor, handing its entry on: same thread, or the deque's or
// ring's Release/Acquire); readers access it only after observing DONE (Acquire) or through
// that chain.
// SAFETY: values cross threads (`Send`) and are read by several at once (`Sync`), ordered above.
unsafe impl<V: Send + Sync> Sync for NodeCell<V> {}

impl<V> NodeCell<V> {
    /// An idle cell; `const`, all zero.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            pending: AtomicU32::new(0),
            state: AtomicU32::new(0),
            aux: AtomicU32::new(0),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// An idle cell (loom build).
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            pending: AtomicU32::new(0),
            state: AtomicU32::new(0),
            aux: AtomicU32::new(0),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }
}

impl<V> Default for NodeCell<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> core::fmt::Debug for NodeCell<V> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NodeCell").finish_non_exhaustive()
    }
}

/// Storage of one iterator item (its input, then the body's result for it).
#[repr(transparent)]
pub struct ItemCell<V> {
    pub(crate) value: UnsafeCell<MaybeUninit<V>>,
}

// Item `i` is written by the iterator (before its tokens are published through the task ring,
// Release/Acquire), then read and overwritten only by the single body execution that claimed
// index `i` (fetch_add on the body cell's `aux`); readers after the fan-in see it through the
// AcqRel chain on the body cell's `pending`, which tokens keep alive (see `fan_out`).
// SAFETY: items cross threads and are read by several at once, ordered as described above.
unsafe impl<V: Send + Sync> Sync for ItemCell<V> {}

impl<V> ItemCell<V> {
    /// An empty item cell; `const`.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// An empty item cell (loom build).
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }
}

impl<V> Default for ItemCell<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> core::fmt::Debug for ItemCell<V> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ItemCell").finish_non_exhaustive()
    }
}

/// Manager-wide state: ticks, pause, counters, parked work.
#[derive(Debug)]
pub struct Shared {
    pub(crate) tick: AtomicU32,
    pub(crate) paused: AtomicU32,
    /// Cells with OVERFLOW set, all runs.
    pub(crate) parked: AtomicU32,
    /// Cells with DEFERRED set, all runs.
    pub(crate) deferred: AtomicU32,
    /// Finished runs whose id is not in the result ring.
    pub(crate) unlisted: AtomicU32,
    /// Where the next scan for parked entries starts (flat cell index).
    pub(crate) scan_cursor: AtomicU32,
    /// One more than the tick of the last scan of runtime workers that found every due
    /// retry (see `Engine::unpark`).
    pub(crate) deferred_swept: AtomicU32,
    /// No deferred retry is due before this tick (a lower bound; see `Engine::unpark`).
    /// Written by read-modify-writes only.
    pub(crate) retry_hint: AtomicU32,
    /// Lowerings of `retry_hint` started (see `Engine::lower_retry_hint`).
    pub(crate) retry_epoch: AtomicU32,
    /// Where the next run-slot search starts.
    pub(crate) next_slot: AtomicU32,
    /// Fairness counter for the priority levels (written by every `step`: own cache line).
    pub(crate) rounds: CachePadded<AtomicU32>,
    /// Counters (written once per `step` by every worker: own cache line(s)).
    pub(crate) c: CachePadded<CounterCells>,
}

/// The counters behind [`Counters`](super::Counters).
#[derive(Debug)]
pub(crate) struct CounterCells {
    pub(crate) tasks_run: AtomicUsize,
    pub(crate) retries: AtomicUsize,
    pub(crate) failures: AtomicUsize,
    pub(crate) ring_full: AtomicUsize,
    pub(crate) busy: AtomicUsize,
    pub(crate) runs_submitted: AtomicUsize,
    pub(crate) runs_completed: AtomicUsize,
    pub(crate) runs_failed: AtomicUsize,
    pub(crate) runs_cancelled: AtomicUsize,
    pub(crate) ring_high_water: AtomicUsize,
    pub(crate) runs_high_water: AtomicUsize,
    pub(crate) runs_shared: AtomicUsize,
    pub(crate) runs_active: AtomicUsize,
}

macro_rules! zeroed_shared {
    ($($kw:tt)*) => {
        impl Shared {
            /// Fresh state: tick 0, not paused, counters zero.
            pub $($kw)* fn new() -> Self {
                Self {
                    tick: AtomicU32::new(0),
                    paused: AtomicU32::new(0),
                    parked: AtomicU32::new(0),
                    deferred: AtomicU32::new(0),
                    unlisted: AtomicU32::new(0),
                    scan_cursor: AtomicU32::new(0),
                    deferred_swept: AtomicU32::new(0),
                    // No retry waits: as far ahead as the hint goes.
                    retry_hint: AtomicU32::new(crate::sched::engine::HINT_HORIZON),
                    retry_epoch: AtomicU32::new(0),
                    next_slot: AtomicU32::new(0),
                    rounds: CachePadded::new(AtomicU32::new(0)),
                    c: CachePadded::new(CounterCells {
                        tasks_run: AtomicUsize::new(0),
                        retries: AtomicUsize::new(0),
                        failures: AtomicUsize::new(0),
                        ring_full: AtomicUsize::new(0),
                        busy: AtomicUsize::new(0),
                        runs_submitted: AtomicUsize::new(0),
                        runs_completed: AtomicUsize::new(0),
                        runs_failed: AtomicUsize::new(0),
                        runs_cancelled: AtomicUsize::new(0),
                        ring_high_water: AtomicUsize::new(0),
                        runs_high_water: AtomicUsize::new(0),
                        runs_shared: AtomicUsize::new(0),
                        runs_active: AtomicUsize::new(0),
                    }),
                }
            }
        }
    };
}

#[cfg(not(loom))]
zeroed_shared!(const);
#[cfg(loom)]
zeroed_shared!();

impl Default for Shared {
    fn default() -> Self {
        Self::new()
    }
}
