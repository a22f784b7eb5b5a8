//! Shared state of a runtime: the heap storage the core engine runs on, and the parking
//! and notification machinery around it.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};
#[cfg(feature = "tracing")]
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ringdag_core::dag::NodeId;
use ringdag_core::ring::RingBuffer;
use ringdag_core::sched::{
    Bodies, Context, Engine, Entry, Failure, Finished, Hooks, ItemCell, NodeCell, Queue, RunId,
    RunSlot, SerialPlan, Shared, WorkerDeque,
};

use crate::graph::Graph;

/// How often an idle worker of a runtime with serial runs and several workers looks for a
/// run that a worker has held at one node since its last look (two looks at least this far
/// apart; a parked worker wakes for it while a worker holds a serial run). A node that
/// blocks, on another node of its run even, holds the run's other nodes back for about this
/// long, up to twice. Not shorter: a worker whose thread loses its core (to the host, on a
/// VM) for this long looks stalled, and its run goes on counted.
const STALL_LOOK: Duration = Duration::from_millis(2);
use crate::sleep::{Sleep, Work};
use crate::slot_wait::SlotWait;
use crate::trace::{TraceEvent, TraceLog};
use crate::waiter::{Finish, Waiter};

/// Runtime lifecycle.
pub(crate) const RUNNING: u8 = 0;
pub(crate) const DRAINING: u8 = 1;
pub(crate) const STOPPING: u8 = 2;

/// A node whose last attempt panicked, and the panic message.
pub(crate) type PanicRecord = (NodeId, String);

pub(crate) struct Inner<I, V, E> {
    pub(crate) graph: Graph<I, V, E>,
    runs: Box<[RunSlot<I, E>]>,
    cells: Box<[NodeCell<V>]>,
    items: Box<[ItemCell<V>]>,
    item_stride: usize,
    queues: [Box<dyn Queue<Entry> + Send>; 2],
    shared: Shared,
    /// One per worker: ready successors its nodes made (stolen by idle workers).
    deques: Box<[WorkerDeque]>,
    /// Per run slot: where its handle waits ([`Waiter`]).
    pub(crate) waiters: Box<[Waiter<RunId>]>,
    /// Per run slot: the node and message of each panic on a node's last attempt (empty
    /// unless a node panicked; cleared, keeping its capacity, when the slot is freed).
    pub(crate) panics: Box<[Mutex<Vec<PanicRecord>>]>,
    /// Per run slot: the `tracing` span of the slot's latest run (`spans.rs`). In an `Arc`,
    /// so that a worker takes a handle to it under the slot's lock without calling into the
    /// subscriber there (`Span::clone` would).
    #[cfg(feature = "tracing")]
    run_spans: crate::spans::RunSpans<RunId, Arc<tracing::Span>>,
    /// Idle workers' parking and waking (`sleep.rs`).
    pub(crate) sleep: Sleep,
    /// Where `submit_wait` waits for a run slot (`slot_wait.rs`).
    pub(crate) slot_wait: SlotWait,
    pub(crate) lifecycle: AtomicU8,
    pub(crate) clock: Instant,
    pub(crate) batch: usize,
    pub(crate) spins: u32,
    pub(crate) workers: usize,
    /// Runs start serially (a graph of tasks and conditions without retry back-off, room in
    /// the rings, not turned off: see `Builder::workers`).
    pub(crate) serial: bool,
    /// What the serial loop may skip reading for this graph.
    pub(crate) plan: SerialPlan,
    pub(crate) trace: TraceLog,
}

/// A ring of `N` entries, allocated zeroed on the heap (never built on the stack).
fn zeroed_ring<const N: usize>() -> Box<dyn Queue<Entry> + Send> {
    // SAFETY: all-zero bytes are a valid empty `RingBuffer` (documented in `ringdag_core::ring`:
    // positions 0 and every stamp "empty for lap 0"; atomics and `MaybeUninit` accept zeros).
    let ring: Box<RingBuffer<Entry, N>> = unsafe { Box::new_zeroed().assume_init() };
    ring
}

/// A task ring of at least `capacity` entries (a power of two from 2^6 to 2^24).
pub(crate) fn task_ring(capacity: usize) -> Box<dyn Queue<Entry> + Send> {
    match capacity
        .clamp(64, 1 << 24)
        .next_power_of_two()
        .trailing_zeros()
    {
        6 => zeroed_ring::<{ 1 << 6 }>(),
        7 => zeroed_ring::<{ 1 << 7 }>(),
        8 => zeroed_ring::<{ 1 << 8 }>(),
        9 => zeroed_ring::<{ 1 << 9 }>(),
        10 => zeroed_ring::<{ 1 << 10 }>(),
        11 => zeroed_ring::<{ 1 << 11 }>(),
        12 => zeroed_ring::<{ 1 << 12 }>(),
        13 => zeroed_ring::<{ 1 << 13 }>(),
        14 => zeroed_ring::<{ 1 << 14 }>(),
        15 => zeroed_ring::<{ 1 << 15 }>(),
        16 => zeroed_ring::<{ 1 << 16 }>(),
        17 => zeroed_ring::<{ 1 << 17 }>(),
        18 => zeroed_ring::<{ 1 << 18 }>(),
        19 => zeroed_ring::<{ 1 << 19 }>(),
        20 => zeroed_ring::<{ 1 << 20 }>(),
        21 => zeroed_ring::<{ 1 << 21 }>(),
        22 => zeroed_ring::<{ 1 << 22 }>(),
        23 => zeroed_ring::<{ 1 << 23 }>(),
        _ => zeroed_ring::<{ 1 << 24 }>(),
    }
}

fn boxed<T>(n: usize, make: impl Fn() -> T) -> Box<[T]> {
    (0..n).map(|_| make()).collect()
}

/// [`boxed`] for the storage whose size the user picks (run slots × nodes): `None` when it
/// cannot be allocated, instead of aborting the process.
fn try_boxed<T>(n: Option<usize>, make: impl Fn() -> T) -> Option<Box<[T]>> {
    let n = n?;
    let mut v = Vec::new();
    v.try_reserve_exact(n).ok()?;
    v.extend((0..n).map(|_| make()));
    Some(v.into_boxed_slice())
}

/// Why [`Inner::new`] could not allocate the run storage.
pub(crate) const STORAGE_TOO_LARGE: &str =
    "run storage (max_runs × the graph's nodes and item slots) cannot be allocated";

pub(crate) struct Config {
    pub(crate) runs: usize,
    pub(crate) ring: usize,
    pub(crate) batch: usize,
    pub(crate) spins: u32,
    pub(crate) workers: usize,
    pub(crate) trace: bool,
    pub(crate) serial: bool,
}

impl<I: Copy + Send + Sync, V: Copy + Send + Sync, E: Copy + Send + Sync> Inner<I, V, E> {
    /// # Errors
    ///
    /// [`STORAGE_TOO_LARGE`] when the cells or item slots of `cfg.runs` runs cannot be
    /// allocated.
    pub(crate) fn new(graph: Graph<I, V, E>, cfg: &Config) -> Result<Self, &'static str> {
        let n = graph.len();
        let item_stride = graph.view().items as usize;
        let cells = try_boxed(cfg.runs.checked_mul(n), NodeCell::new);
        let items = try_boxed(cfg.runs.checked_mul(item_stride), ItemCell::new);
        let (Some(cells), Some(items)) = (cells, items) else {
            return Err(STORAGE_TOO_LARGE);
        };
        Ok(Self {
            runs: boxed(cfg.runs, RunSlot::new),
            cells,
            items,
            item_stride,
            queues: [task_ring(cfg.ring), task_ring(cfg.ring)],
            shared: Shared::new(),
            deques: boxed(cfg.workers, WorkerDeque::new),
            waiters: boxed(cfg.runs, Waiter::default),
            panics: boxed(cfg.runs, || Mutex::new(Vec::new())),
            #[cfg(feature = "tracing")]
            run_spans: crate::spans::RunSpans::new(cfg.runs),
            sleep: Sleep::new(),
            slot_wait: SlotWait::new(),
            lifecycle: AtomicU8::new(RUNNING),
            clock: Instant::now(),
            batch: cfg.batch,
            spins: cfg.spins,
            workers: cfg.workers,
            // A worker runs a run's nodes one at a time in the DAG's topological order, the
            // cheapest, until they prove slow enough to share with the other workers (see
            // `Builder::workers`). The rings (room for a token per run in flight) always
            // have room for every run's token.
            serial: cfg.serial && cfg.ring >= cfg.runs && SerialPlan::of(&graph.view()).eligible(),
            plan: SerialPlan::of(&graph.view()),
            trace: TraceLog::new(cfg.trace),
            graph,
        })
    }

    /// The core engine over this storage (a bundle of references).
    #[inline]
    pub(crate) fn engine(&self) -> Engine<'_, I, V, E> {
        // SAFETY: `new` sized `cells` as runs × nodes and `items` as runs × the graph's item
        // slots, with 1..=4096 runs (checked by the builder); the view is the compiled graph's.
        let engine = unsafe {
            Engine::new_unchecked(
                self.graph.view(),
                &self.runs,
                &self.cells,
                self.graph.len(),
                &self.items,
                self.item_stride,
                [&*self.queues[0], &*self.queues[1]],
                None,
                &self.shared,
            )
        };
        engine.with_hooks(self).with_serial(self.serial, self.plan)
    }

    /// Entries in the workers' deques (a snapshot).
    pub(crate) fn deque_depth(&self) -> usize {
        self.deques.iter().map(WorkerDeque::len).sum()
    }

    /// Milliseconds since start: the runtime's tick.
    #[inline]
    pub(crate) fn tick(&self) -> u32 {
        self.clock.elapsed().as_millis() as u32
    }

    /// Where the handle of `run` waits.
    pub(crate) fn waiter(&self, run: RunId) -> &Waiter<RunId> {
        &self.waiters[run.slot()]
    }

    /// The worker loop: step, spin briefly when idle, then park until woken.
    pub(crate) fn work(&self, index: usize) {
        let bodies = WorkerBodies {
            inner: self,
            worker: index as u16,
        };
        // SAFETY: worker `index` is the only thread that uses `deques[index]` as its own (one
        // thread per index, spawned once); the deques belong to this storage.
        let engine = unsafe { self.engine().with_worker(&self.deques, index) };
        let mut idle = 0;
        // Serial runs with several workers: what this worker saw of each run slot's cursor
        // when it last looked for a stalled one, and when that was (allocated once, here).
        let stealing = self.serial && self.workers > 1;
        let mut seen = if stealing {
            vec![0u64; engine.run_slots()]
        } else {
            Vec::new()
        };
        let mut looked = Instant::now();
        loop {
            engine.sync_tick(self.tick());
            // The engine takes at most half a fair share of the ring per batch (entries popped
            // together wait behind the first one; a blocking node must not hold back work an
            // idle worker could run), and steals from the other workers' deques when idle.
            if engine.step(&bodies, self.batch) > 0 {
                idle = 0;
                continue;
            }
            if self.lifecycle.load(Ordering::Acquire) != RUNNING && engine.active_runs() == 0 {
                break;
            }
            // A serial run that a worker has held at one node since this worker's last look
            // (`STALL_LOOK` ago or more) goes on counted, for the idle workers to share: its
            // node may block, on another node of the run even.
            if stealing && looked.elapsed() >= STALL_LOOK {
                looked = Instant::now();
                if engine.steal_stalled(&mut seen) > 0 {
                    idle = 0;
                    continue;
                }
            }
            if idle < self.spins {
                idle += 1;
                std::hint::spin_loop();
                continue;
            }
            self.park(&engine);
            idle = 0;
        }
        // Let the other workers see the exit condition too.
        self.sleep.wake_all();
    }

    fn park(&self, engine: &Engine<'_, I, V, E>) {
        self.sleep.park(&EngineWork {
            engine,
            lifecycle: &self.lifecycle,
            // While a worker holds a serial run, a parked one comes back to look whether it
            // stalled.
            look_in: (self.serial && self.workers > 1).then_some(STALL_LOOK),
        });
    }

    /// Frees the slot of a finished run whose handle is gone.
    fn discard(&self, id: RunId) {
        if let Some(done) = self.engine().take(id) {
            self.free_slot(done);
        }
    }

    /// Frees the slot of a taken run (`RunResult`'s drop, `discard`): clears its panic
    /// records, drops `done` (the engine frees the slot), then wakes a submitter waiting in
    /// `submit_wait` for a slot.
    pub(crate) fn free_slot(&self, done: Finished<'_, I, V, E>) {
        self.panics[done.id().slot()]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        drop(done);
        self.slot_wait.slot_freed();
    }

    /// Opens the `run` span of a run the engine just accepted (on the submitting thread,
    /// before any of its nodes is published, so every node finds it) and emits "ringdag run
    /// submitted" in it. The span belongs to the subscriber current here (a scoped one
    /// included): the run's node spans, its "finished" event and its bodies' own events go
    /// to that subscriber too, whichever thread they happen on. That context travels with
    /// the span: a run whose span the subscriber filters out (below DEBUG) has none, and
    /// its nodes trace to the worker's own default subscriber.
    ///
    /// The slot may still hold the span of its previous run, finished but not yet closed by
    /// its `run_finished` (see `spans.rs`): it is closed here, with its "finished" event, so
    /// each run gets exactly one. A disabled span is not stored (nor allocated for).
    #[cfg(feature = "tracing")]
    fn open_run_span(&self, run: RunId) {
        // The subscriber's code runs here; a panic in it must not unwind into the engine's
        // submit (the slot would stay claimed). The run then has no span.
        let span = catch_unwind(|| {
            let span = tracing::debug_span!("run", run = run.to_bits());
            tracing::debug!(parent: &span, run = run.to_bits(), "ringdag run submitted");
            span
        })
        .unwrap_or_else(|payload| {
            drop_payload(payload);
            tracing::Span::none()
        });
        if span.is_disabled() {
            return;
        }
        if let Some((earlier, span)) = self.run_spans.open(run.slot(), run, Arc::new(span)) {
            finish_run_span(earlier, span);
        }
    }

    /// Closes the span of a finished run, unless the slot's next run closed it already.
    #[cfg(feature = "tracing")]
    fn close_run_span(&self, run: RunId) {
        if let Some(span) = self.run_spans.close(run.slot(), run) {
            finish_run_span(run, span);
        }
    }

    /// Enters the `node` span of one execution, a child of its run's span, with the run's
    /// subscriber as this thread's default until the returned scope drops (so the body's
    /// own events go there, inside the node span). Without a run span, the node span is the
    /// worker's, in its current context.
    ///
    /// Subscriber code runs here and when the scope drops, on a worker between the engine's
    /// steps: a panic in it is caught (the node then runs without its span), or it would end
    /// the worker with the node unresolved.
    #[cfg(feature = "tracing")]
    fn node_span(&self, cx: &Context<'_, I, V>) -> NodeScope {
        // No run span and no node span can be enabled below DEBUG (the cheap static check
        // first: no lock per node unless some subscriber wants these levels).
        if !tracing::level_enabled!(tracing::Level::DEBUG) {
            return NodeScope::default();
        }
        let run = cx.run();
        let name = cx.name();
        let setup = catch_unwind(AssertUnwindSafe(|| {
            // `None` when the run has no span (disabled, or its subscriber panicked at submit).
            let run_span = self.run_spans.get(run.slot(), run);
            let mut default = None;
            let parent = run_span.as_deref().and_then(|span| {
                span.with_subscriber(|(id, dispatch)| {
                    default = Some(tracing::dispatcher::set_default(dispatch));
                    id.clone()
                })
            });
            let span = match parent {
                Some(id) => tracing::trace_span!(parent: id, "node", name, run = run.to_bits()),
                None => tracing::trace_span!("node", name, run = run.to_bits()),
            };
            NodeScope {
                node: Some(span.entered()),
                _default: default,
            }
        }));
        setup.unwrap_or_else(|payload| {
            drop_payload(payload);
            NodeScope::default()
        })
    }
}

/// A node execution's place in `tracing` ([`Inner::node_span`]): its entered span, and the
/// run's subscriber set as the thread's default. Fields drop in order: the span exits and
/// closes in its subscriber, then the worker's own default comes back.
#[cfg(feature = "tracing")]
#[derive(Default)]
struct NodeScope {
    node: Option<tracing::span::EnteredSpan>,
    /// Held for its `Drop` (it restores the thread's previous default).
    _default: Option<tracing::dispatcher::DefaultGuard>,
}

#[cfg(feature = "tracing")]
impl Drop for NodeScope {
    fn drop(&mut self) {
        // Exiting and closing the span is subscriber code (see `node_span`).
        let node = self.node.take();
        if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(node))) {
            drop_payload(payload);
        }
    }
}

/// Emits "ringdag run finished" in a run's span, to the span's subscriber, and closes the
/// span; on a worker (`run_finished`) or a submitter (`open_run_span`). Both steps are
/// subscriber code: a panic in either is caught, and the span is dropped outside the event's
/// unwinding.
#[cfg(feature = "tracing")]
fn finish_run_span(run: RunId, span: Arc<tracing::Span>) {
    let emit = || {
        span.with_subscriber(|(id, dispatch)| {
            tracing::dispatcher::with_default(dispatch, || {
                tracing::debug!(parent: id.clone(), run = run.to_bits(), "ringdag run finished");
            });
        });
    };
    if let Err(payload) = catch_unwind(AssertUnwindSafe(emit)) {
        drop_payload(payload);
    }
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(span))) {
        drop_payload(payload);
    }
}

impl<I: Copy + Send + Sync, V: Copy + Send + Sync, E: Copy + Send + Sync> Hooks for Inner<I, V, E> {
    fn clock(&self) -> Option<u32> {
        Some(self.tick())
    }

    fn run_held(&self) {
        if self.workers > 1 {
            self.sleep.run_held();
        }
    }

    fn pace_clock(&self) -> Option<u64> {
        // Nanoseconds since start: 584 years before it wraps.
        Some(self.clock.elapsed().as_nanos() as u64)
    }

    fn work_available(&self) {
        self.sleep.work_available();
    }

    #[cfg(feature = "tracing")]
    fn run_submitted(&self, run: RunId) {
        self.open_run_span(run);
    }

    fn run_finished(&self, run: RunId) {
        #[cfg(feature = "tracing")]
        self.close_run_span(run);
        let waiter = self.waiter(run);
        match waiter.finished(run, || self.engine().is_active(run)) {
            Finish::Abandoned => self.discard(run),
            Finish::Wake(waker, blocked) => {
                // Woken outside the lock: an executor that polls inline must not find it
                // held. The executor's code runs on this worker: a panic in it must not end
                // the worker (the run is complete; this waker's task is the executor's to
                // recover).
                if let Some(waker) = waker {
                    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || waker.wake())) {
                        drop_payload(payload);
                    }
                }
                if blocked {
                    waiter.notify();
                }
            }
        }
    }
}

/// What a parking worker of this runtime asks about the work: its engine's view.
struct EngineWork<'e, 'a, I, V, E> {
    engine: &'e Engine<'a, I, V, E>,
    lifecycle: &'e AtomicU8,
    look_in: Option<Duration>,
}

impl<I: Copy, V: Copy, E: Copy> Work for EngineWork<'_, '_, I, V, E> {
    fn ready(&self) -> bool {
        self.engine.has_ready_work()
    }
    fn paused(&self) -> bool {
        self.engine.is_paused()
    }
    fn exiting(&self) -> bool {
        self.lifecycle.load(Ordering::Acquire) != RUNNING && self.engine.active_runs() == 0
    }
    fn retry_in(&self) -> Option<u32> {
        self.engine.next_retry_in()
    }
    fn backlog(&self) -> usize {
        // Entries parked for lack of ring space count: a second worker picks them up too.
        self.engine.queued() + self.engine.parked()
    }
    fn look_in(&self) -> Option<Duration> {
        self.look_in.filter(|_| self.engine.holds_serial_run())
    }
}

/// Calls the graph's closures for one worker: catches panics (the node fails with the
/// message) and records trace events when tracing is on. (The worker loop keeps the tick
/// current: `Engine::sync_tick`.)
struct WorkerBodies<'a, I, V, E> {
    inner: &'a Inner<I, V, E>,
    worker: u16,
}

/// Drops a caught panic's payload without letting a panic in its `Drop` escape: that would
/// unwind through the engine's step and end the worker with a node unresolved (its run would
/// never end). A payload whose drop panics is leaked, with the second payload.
pub(crate) fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

impl<I: Copy + Send + Sync, V: Copy + Send + Sync, E: Copy + Send + Sync> Bodies<I, V, E>
    for WorkerBodies<'_, I, V, E>
{
    #[inline(always)]
    fn call(&self, node: NodeId, cx: &mut Context<'_, I, V>) -> Result<V, Failure<E>> {
        let inner = self.inner;
        if inner.trace.enabled() {
            return self.call_traced(node, cx);
        }
        let body = inner.graph.body(node);
        #[cfg(feature = "tracing")]
        let _span = inner.node_span(cx);
        let result = catch_unwind(AssertUnwindSafe(|| body(cx)));
        self.outcome(node, cx, result)
    }
}

impl<I: Copy + Send + Sync, V: Copy + Send + Sync, E: Copy + Send + Sync>
    WorkerBodies<'_, I, V, E>
{
    /// [`call`](Bodies::call) while a trace is recorded: the body's start and end times go
    /// to the trace log. Out of line, so that the untraced call keeps no timing state.
    #[inline(never)]
    fn call_traced(&self, node: NodeId, cx: &mut Context<'_, I, V>) -> Result<V, Failure<E>> {
        let inner = self.inner;
        let body = inner.graph.body(node);
        let start = inner.clock.elapsed();
        #[cfg(feature = "tracing")]
        let _span = inner.node_span(cx);
        let result = catch_unwind(AssertUnwindSafe(|| body(cx)));
        let end = inner.clock.elapsed();
        inner.trace.record(TraceEvent {
            run: cx.run().to_bits(),
            node: node.index() as u32,
            item: cx.item().map_or(u32::MAX, |(i, _)| i as u32),
            worker: self.worker,
            start_ns: start.as_nanos() as u64,
            end_ns: end.as_nanos() as u64,
        });
        self.outcome(node, cx, result)
    }

    /// A body's result as the engine takes it.
    #[inline(always)]
    fn outcome(
        &self,
        node: NodeId,
        cx: &Context<'_, I, V>,
        result: std::thread::Result<Result<V, E>>,
    ) -> Result<V, Failure<E>> {
        match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Failure::Error(e)),
            Err(payload) => Err(self.panicked(node, cx, payload)),
        }
    }

    /// A body panicked: keeps its message for the run's error report (last attempt only)
    /// and drops the payload without letting its `Drop` unwind into the engine.
    #[cold]
    #[inline(never)]
    fn panicked(
        &self,
        node: NodeId,
        cx: &Context<'_, I, V>,
        payload: Box<dyn Any + Send>,
    ) -> Failure<E> {
        let inner = self.inner;
        // Kept only for a node's last attempt: a panic that a retry recovers from is not the
        // run's failure.
        let attempts = u32::from(inner.graph.view().nodes[node.index()].retry.attempts);
        if cx.attempt() + 1 >= attempts {
            let mut slot = inner.panics[cx.run().slot()]
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            // One record per node: when several nodes panic at once, the engine picks the
            // run's failure (the first to set it), and its message must be here whichever
            // that is.
            if slot.iter().all(|(n, _)| *n != node) {
                slot.push((node, panic_message(&*payload)));
            }
        }
        drop_payload(payload);
        Failure::Panicked
    }
}
