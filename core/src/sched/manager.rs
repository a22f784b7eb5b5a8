//! [`TaskManager`]: the scheduler with all of its storage inline, constructible in a `static`.

use core::fmt;

use crate::dag::{Dag, DagError, NodeId};
use crate::ring::RingBuffer;

use super::engine::{Bodies, Engine, Finished};
use super::storage::{ItemCell, NodeCell, RunSlot, Shared};
use super::{CancelError, Context, Counters, Entry, Failure, RunId, SubmitError, SubmitOptions};

impl<I, V, E, const NODES: usize, const EDGES: usize> Bodies<I, V, E>
    for Dag<I, V, E, NODES, EDGES>
{
    #[inline(always)]
    fn call(&self, node: NodeId, cx: &mut Context<'_, I, V>) -> Result<V, Failure<E>> {
        match self.body(node.0) {
            Some(f) => f(cx).map_err(Failure::Error),
            // Unreachable for a built DAG: every node has a body.
            None => Err(Failure::Panicked),
        }
    }
}

/// The DAG scheduler over static storage: `RUNS` concurrent runs of a DAG with at most
/// `NODES` nodes and `EDGES` edges, `ITEMS` iterator item slots per run, and task rings of
/// `RING` entries (one per priority level, plus a result ring of the same size).
///
/// `const fn new`, so it can live in a `static`: no heap, no lazy initialisation. The run
/// storage starts all zero, but the manager holds a reference to its DAG (and its retry hint
/// starts non-zero), so a `static` manager is placed in `.data` and its size counts in flash
/// as well as RAM (1 600 bytes for the firmware example's 5-node, 4-run manager with rings of
/// 16 on thumbv7em). See the [module docs](super) for the model, and [`Engine`] for the
/// operations, which this type forwards.
///
/// Memory: `size_of` grows as `RUNS × NODES × (12 + size_of::<V>())` (node cells, rounded to
/// `V`'s alignment) `+ RUNS × ITEMS × size_of::<V>()` `+ 3 × (2 cache lines + RING × 16)`
/// (rings, on 64-bit) plus small per-run and shared state; the unit tests print it for the
/// configurations in the README.
///
/// # Panics
///
/// Building a manager whose `RUNS` is 0 or above [`RunId::MAX_SLOTS`], or whose `NODES` is
/// [`Entry::MAX_NODES`] or more, fails to compile (when `new` is compiled for that type:
/// `cargo build`, not `cargo check`). `new` panics, at compile time when evaluated in a
/// `const` or `static`, if the DAG's iterators need more than `ITEMS` item slots;
/// [`try_new`](Self::try_new) returns that case as an error.
pub struct TaskManager<
    'd,
    I,
    V,
    E,
    const NODES: usize,
    const EDGES: usize,
    const RUNS: usize,
    const ITEMS: usize,
    const RING: usize,
> {
    dag: &'d Dag<I, V, E, NODES, EDGES>,
    runs: [RunSlot<I, E>; RUNS],
    cells: [[NodeCell<V>; NODES]; RUNS],
    items: [[ItemCell<V>; ITEMS]; RUNS],
    high: RingBuffer<Entry, RING>,
    low: RingBuffer<Entry, RING>,
    results: RingBuffer<RunId, RING>,
    shared: Shared,
}

impl<
        I,
        V,
        E,
        const NODES: usize,
        const EDGES: usize,
        const RUNS: usize,
        const ITEMS: usize,
        const RING: usize,
    > fmt::Debug for TaskManager<'_, I, V, E, NODES, EDGES, RUNS, ITEMS, RING>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskManager")
            .field("dag", self.dag)
            .field("runs", &RUNS)
            .field("ring", &RING)
            .finish_non_exhaustive()
    }
}

impl<
        'd,
        I: Copy,
        V: Copy,
        E: Copy,
        const NODES: usize,
        const EDGES: usize,
        const RUNS: usize,
        const ITEMS: usize,
        const RING: usize,
    > TaskManager<'d, I, V, E, NODES, EDGES, RUNS, ITEMS, RING>
{
    /// `RUNS` and `NODES` in the scheduler's range (what [`Engine::new`] checks at run time):
    /// evaluated when `new` is compiled for a manager type, so a bad value is a build error
    /// wherever a manager is built, not only in a `static`.
    const CAPACITY_IN_RANGE: () = {
        assert!(
            RUNS >= 1 && RUNS <= RunId::MAX_SLOTS,
            "TaskManager: RUNS must be 1..=4096"
        );
        assert!(
            NODES < Entry::MAX_NODES,
            "TaskManager: NODES must be below 2^24"
        );
    };

    /// A manager for `dag` with every run slot free.
    ///
    /// `RUNS` outside 1..=4096 is a build error:
    ///
    /// ```
    /// # use ringdag_core::dag::{Dag, DagBuilder};
    /// # use ringdag_core::sched::{Context, TaskManager};
    /// # fn one(_: &mut Context<'_, u32, u32>) -> Result<u32, ()> { Ok(1) }
    /// let dag: Dag<u32, u32, (), 1, 1> = DagBuilder::new().task("a", one).build().unwrap();
    /// let tm = TaskManager::<u32, u32, (), 1, 1, 1, 0, 4>::new(&dag); // RUNS = 1
    /// # let _ = tm;
    /// ```
    ///
    /// ```compile_fail
    /// # use ringdag_core::dag::{Dag, DagBuilder};
    /// # use ringdag_core::sched::{Context, TaskManager};
    /// # fn one(_: &mut Context<'_, u32, u32>) -> Result<u32, ()> { Ok(1) }
    /// let dag: Dag<u32, u32, (), 1, 1> = DagBuilder::new().task("a", one).build().unwrap();
    /// let tm = TaskManager::<u32, u32, (), 1, 1, 0, 0, 4>::new(&dag); // RUNS = 0
    /// # let _ = tm;
    /// ```
    ///
    /// # Panics
    ///
    /// If the DAG's iterators need more than `ITEMS` item slots
    /// ([`Dag::item_slots`](crate::dag::Dag::item_slots)): a compile error when `new` is
    /// evaluated in a `static` or `const`, a panic at run time. [`try_new`](Self::try_new)
    /// returns that case as an error instead.
    #[cfg(not(loom))]
    pub const fn new(dag: &'d Dag<I, V, E, NODES, EDGES>) -> Self {
        let () = Self::CAPACITY_IN_RANGE;
        assert!(
            dag.item_slots() <= ITEMS,
            "TaskManager: the DAG's iterators need more than ITEMS item slots"
        );
        Self {
            dag,
            runs: [const { RunSlot::new() }; RUNS],
            cells: [const { [const { NodeCell::new() }; NODES] }; RUNS],
            items: [const { [const { ItemCell::new() }; ITEMS] }; RUNS],
            high: RingBuffer::new(),
            low: RingBuffer::new(),
            results: RingBuffer::new(),
            shared: Shared::new(),
        }
    }

    /// A manager for `dag` (loom build).
    #[cfg(loom)]
    pub fn new(dag: &'d Dag<I, V, E, NODES, EDGES>) -> Self {
        let () = Self::CAPACITY_IN_RANGE;
        assert!(
            dag.item_slots() <= ITEMS,
            "TaskManager: the DAG's iterators need more than ITEMS item slots"
        );
        Self {
            dag,
            runs: core::array::from_fn(|_| RunSlot::new()),
            cells: core::array::from_fn(|_| core::array::from_fn(|_| NodeCell::new())),
            items: core::array::from_fn(|_| core::array::from_fn(|_| ItemCell::new())),
            high: RingBuffer::new(),
            low: RingBuffer::new(),
            results: RingBuffer::new(),
            shared: Shared::new(),
        }
    }

    /// [`new`](Self::new), with a DAG that needs more item slots than `ITEMS` returned as
    /// an error.
    ///
    /// # Errors
    ///
    /// [`DagError::NotEnoughItemSlots`] when `dag.item_slots() > ITEMS`.
    pub fn try_new(dag: &'d Dag<I, V, E, NODES, EDGES>) -> Result<Self, DagError> {
        if dag.item_slots() > ITEMS {
            return Err(DagError::NotEnoughItemSlots {
                needed: dag.item_slots(),
                capacity: ITEMS,
            });
        }
        Ok(Self::new(dag))
    }

    /// The engine over this manager's storage (a bundle of references, cheap to build).
    #[inline(always)]
    pub fn engine(&self) -> Engine<'_, I, V, E> {
        // SAFETY: the storage is sized by the same const generics as the DAG (`NODES` cells
        // per run, `ITEMS >= dag.item_slots()` checked in `new`, 1..=4096 runs checked in
        // `new`), and the view comes from a built `Dag`.
        unsafe {
            Engine::new_unchecked(
                self.dag.view(),
                &self.runs,
                self.cells.as_flattened(),
                NODES,
                self.items.as_flattened(),
                ITEMS,
                [&self.high, &self.low],
                Some(&self.results),
                &self.shared,
            )
        }
    }

    /// The DAG.
    pub fn dag(&self) -> &'d Dag<I, V, E, NODES, EDGES> {
        self.dag
    }

    /// Submits a run (high priority, no deadline). Never blocks: safe in an interrupt handler.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Busy`] when every run slot is in use or the task ring is full.
    pub fn submit(&self, input: I) -> Result<RunId, SubmitError<I>> {
        self.engine().submit(input)
    }

    /// Submits a run with options (priority, deadline).
    ///
    /// # Errors
    ///
    /// As [`submit`](Self::submit).
    pub fn submit_with(&self, input: I, opts: SubmitOptions) -> Result<RunId, SubmitError<I>> {
        self.engine().submit_with(input, opts)
    }

    /// Executes one batch of ready nodes (following ready successors directly). Returns how
    /// many nodes were executed or skipped; 0 means nothing is ready now (a run may still be
    /// waiting for a retry tick).
    ///
    /// How long one call takes: up to a batch of entries, each followed along its chain (the
    /// call goes on with a successor that a node it ran made ready, and so on, until a node
    /// makes none ready or the manager is [paused](Self::pause)), and up to 64 of an
    /// iterator's items per body token. A driver that must return to its loop often keeps
    /// chains short, or pauses the manager from a body or an interrupt handler.
    pub fn step(&self) -> usize {
        self.engine().step(self.dag, super::engine::BATCH)
    }

    /// The next finished run, if any. Dropping the returned value frees its slot.
    pub fn poll(&self) -> Option<Finished<'_, I, V, E>> {
        self.engine().poll()
    }

    /// The result of run `id` if it has finished.
    pub fn take(&self, id: RunId) -> Option<Finished<'_, I, V, E>> {
        self.engine().take(id)
    }

    /// Cancels run `id`.
    ///
    /// # Errors
    ///
    /// [`CancelError::NotActive`] if it already finished or the id is stale.
    pub fn cancel(&self, id: RunId) -> Result<(), CancelError> {
        self.engine().cancel(id)
    }

    /// Stops `step` from starting work.
    pub fn pause(&self) {
        self.engine().pause()
    }

    /// Resumes after [`pause`](Self::pause).
    pub fn resume(&self) {
        self.engine().resume()
    }

    /// Whether [`pause`](Self::pause) is in effect.
    pub fn is_paused(&self) -> bool {
        self.engine().is_paused()
    }

    /// Advances the tick counter by `ticks` (e.g. from a timer interrupt).
    pub fn advance_tick(&self, ticks: u32) {
        self.engine().advance_tick(ticks)
    }

    /// The current tick.
    pub fn now(&self) -> u32 {
        self.engine().now()
    }

    /// Ticks until the earliest retry waiting out its back-off may be due (`Some(0)`: step
    /// now); `None` when no retry waits. A main loop with nothing else to do can sleep (or
    /// set its timer) that long; a retry parked, or a run cancelled or failed, meanwhile
    /// shortens it.
    pub fn next_retry_in(&self) -> Option<u32> {
        self.engine().next_retry_in()
    }

    /// Runs in flight.
    pub fn active_runs(&self) -> usize {
        self.engine().active_runs()
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.engine().counters()
    }
}

#[cfg(test)]
mod tests {
    use super::TaskManager;
    use crate::dag::{Dag, DagBuilder};
    use crate::sched::Context;

    fn one(_: &mut Context<'_, u32, u32>) -> Result<u32, ()> {
        Ok(1)
    }

    /// The configuration quoted in the README: a 16-node DAG, 4 concurrent runs, rings of 64.
    type Manager16x4<'d> = TaskManager<'d, u32, u32, (), 16, 16, 4, 0, 64>;

    #[test]
    fn size_of_a_16_node_4_run_manager_is_what_the_readme_says() {
        let size = core::mem::size_of::<Manager16x4<'static>>();
        std::println!("size_of TaskManager<16 nodes, 4 runs, rings of 64> = {size} bytes");
        #[cfg(target_arch = "x86_64")]
        assert_eq!(size, SIZE_X86_64);
        let _ = size;
    }

    #[cfg(target_arch = "x86_64")]
    const SIZE_X86_64: usize = 6400;

    #[test]
    fn a_static_manager_runs_a_chain() {
        static DAG: Dag<u32, u32, (), 16, 16> = Dag::new_or_panic(
            DagBuilder::new()
                .task("a", one)
                .task("b", one)
                .edge("a", "b")
                .build(),
        );
        static TM: Manager16x4<'static> = TaskManager::new(&DAG);
        let id = TM.submit(1).unwrap();
        while TM.step() > 0 {}
        let done = TM.poll().unwrap();
        assert_eq!(done.id(), id);
        assert_eq!(done.outcome(), Ok(()));
    }
}
