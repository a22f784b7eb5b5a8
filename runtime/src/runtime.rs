//! [`Runtime`]: worker threads driving the core scheduler, and [`RunHandle`]s.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ringdag_core::dag::{DagError, NodeId};
use ringdag_core::sched::{
    CancelError, Counters, Finished, Priority, RunError, RunId, SubmitOptions,
};

use crate::graph::Graph;
use crate::inner::{Config, Inner, DRAINING, RUNNING, STOPPING};
use crate::trace::write_chrome_trace;

/// What idle workers do before parking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleStrategy {
    /// Spin this many rounds (checking for work each time), then park.
    SpinThenPark(u32),
    /// Park at once.
    Park,
}

impl Default for IdleStrategy {
    fn default() -> Self {
        Self::SpinThenPark(256)
    }
}

/// How [`Runtime::shutdown`] treats runs in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// Refuse new runs, finish every accepted run, then stop the workers.
    Graceful,
    /// Refuse new runs, cancel the accepted ones (they end as `RunError::Cancelled`, unless
    /// they had failed or finished first; nodes already running finish), then stop the
    /// workers.
    Immediate,
}

/// Configures a [`Runtime`]. From [`Runtime::builder`].
#[derive(Clone, Debug)]
pub struct Builder {
    workers: Option<usize>,
    batch: usize,
    ring: Option<usize>,
    runs: usize,
    idle: IdleStrategy,
    trace: bool,
    serial: bool,
}

/// Why [`Builder::build`] failed.
#[derive(Debug)]
pub enum BuildError {
    /// A setting is out of range (named).
    Config(&'static str),
    /// The graph is too big for the scheduler (more than 2^24 nodes).
    Graph(DagError),
    /// A worker thread could not be spawned.
    Spawn(io::Error),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(what) => write!(f, "invalid runtime setting: {what}"),
            Self::Graph(e) => write!(f, "graph rejected: {e}"),
            Self::Spawn(e) => write!(f, "could not spawn a worker thread: {e}"),
        }
    }
}

impl std::error::Error for BuildError {}

impl Default for Builder {
    fn default() -> Self {
        Self {
            workers: None,
            batch: ringdag_core::sched::MAX_BATCH,
            ring: None,
            runs: 256,
            idle: IdleStrategy::default(),
            trace: false,
            serial: true,
        }
    }
}

impl Builder {
    /// Worker threads. Default: one per logical CPU ([`crate::default_workers`]).
    ///
    /// A graph of tasks and conditions whose retries have no back-off runs **serially** (see
    /// [`serial_runs`](Self::serial_runs), on by default): each run starts on one worker,
    /// which executes its nodes one after the other in the graph's topological order (index
    /// order where every edge goes from a lower index to a higher one), with no readiness
    /// counters, ready queues or read-modify-writes shared with other workers. Runs in flight
    /// take turns of 256 nodes, round robin through the task ring of their priority (a turn
    /// goes on while nothing else waits); `pause`, `cancel`, deadlines, timeouts, retries,
    /// panics and shutdown behave as for any run.
    ///
    /// With several workers, a serial run is **shared** (it goes on counted, and idle
    /// workers take its ready nodes) once it proves slow:
    /// - its pace: about every 20 µs (at most every node, at least every turn) its worker
    ///   reads a clock, and two spans in a row (of 2 µs at least) at 200 ns or more per node
    ///   ([`sched::SHARE_PACE_NS`](ringdag_core::sched::SHARE_PACE_NS)) share it: nodes that
    ///   slow gain from other cores, faster ones lose to what handing them over costs;
    /// - a stall: an idle worker looks every 2 ms (a parked one wakes for it while a worker
    ///   holds a serial run) for a run held at the same node since its last look, and takes
    ///   the rest of it while that node runs. A node that blocks, on another node of its run
    ///   even, holds the run's other nodes back for 2 to 4 ms, not for good.
    ///
    /// So nanosecond nodes run one at a time on one core, and slow or blocking ones spread
    /// over the workers as counted runs do. The metrics count the runs shared
    /// ([`Counters::runs_shared`](ringdag_core::sched::Counters::runs_shared)).
    ///
    /// Not serial: graphs with iterators or retry back-offs, a
    /// [`ring_capacity`](Self::ring_capacity) below [`max_runs`](Self::max_runs) (each
    /// run's turn goes back through a ring), or `serial_runs(false)`: those are counted from
    /// their roots.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n);
        self
    }

    /// Whether runs of a graph that allows it start serially (default `true`; see
    /// [`workers`](Self::workers)). `false`: every run is counted from its roots, its ready
    /// nodes spread over the workers from the start. Better so: nodes that wait on other
    /// nodes of their run (a serial run makes them wait 2 to 4 ms first), and
    /// perhaps wide graphs of nanosecond nodes on many cores (on 16 cores, counted runs of
    /// the embarrassingly parallel and binary-tree shapes took 1.9 and 3.1 ns a node, where
    /// one core takes about 7; measured before serial runs, see the README).
    pub fn serial_runs(mut self, on: bool) -> Self {
        self.serial = on;
        self
    }

    /// Most entries a worker takes from the task ring at once. Default 32, which is also the
    /// most a worker takes ([`sched::MAX_BATCH`](ringdag_core::sched::MAX_BATCH), the size of
    /// its batch buffer): a larger value acts as 32, and 0 is an error at
    /// [`build`](Self::build). A worker takes at most half its fair share of the queued entries
    /// (queue depth / 2 / workers), so batches are large only when the ring is deep. Entries
    /// taken together run one after the other on that worker: with nodes that block for long,
    /// `batch_size(1)` guarantees that no entry waits behind a blocked node while another
    /// worker is idle.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch = n;
        self
    }

    /// Task ring capacity (rounded up to a power of two, 64 to 2^24). Default: room for every
    /// node of every run slot, at most 2^20. A smaller ring never loses work: entries that do
    /// not fit are parked and picked up later.
    pub fn ring_capacity(mut self, n: usize) -> Self {
        self.ring = Some(n);
        self
    }

    /// Runs in flight at once (1 to 4096). Default 256. `submit` answers `Busy` beyond.
    pub fn max_runs(mut self, n: usize) -> Self {
        self.runs = n;
        self
    }

    /// What idle workers do. Default: spin 256 rounds, then park.
    pub fn idle_strategy(mut self, idle: IdleStrategy) -> Self {
        self.idle = idle;
        self
    }

    /// Record per-node timing events for [`Runtime::write_chrome_trace`]. Allocates a
    /// 65 536-event ring (2.5 MiB) at build time; default off.
    pub fn trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// Starts the workers for `graph`.
    ///
    /// # Errors
    ///
    /// [`BuildError`] for out-of-range settings, run storage that cannot be allocated
    /// (`max_runs` × the graph's nodes), or a failed thread spawn.
    pub fn build<I, V, E>(self, graph: Graph<I, V, E>) -> Result<Runtime<I, V, E>, BuildError>
    where
        I: Copy + Send + Sync + 'static,
        V: Copy + Send + Sync + 'static,
        E: Copy + Send + Sync + 'static,
    {
        let workers = self.workers.unwrap_or_else(crate::default_workers);
        if workers == 0 || workers > 1024 {
            return Err(BuildError::Config("workers must be 1..=1024"));
        }
        if self.batch == 0 {
            return Err(BuildError::Config("batch size must be at least 1"));
        }
        if self.runs == 0 || self.runs > RunId::MAX_SLOTS {
            return Err(BuildError::Config("max_runs must be 1..=4096"));
        }
        if graph.len() >= ringdag_core::sched::Entry::MAX_NODES {
            return Err(BuildError::Graph(DagError::TooManyNodes {
                capacity: ringdag_core::sched::Entry::MAX_NODES - 1,
            }));
        }
        // Saturating: on a 32-bit target the product can exceed `usize` (`Inner::new` then
        // reports the storage as too large).
        let per_run = graph.len().saturating_add(graph.view().items as usize);
        let ring = self
            .ring
            .unwrap_or(self.runs.saturating_mul(per_run).clamp(1024, 1 << 20));
        let spins = match self.idle {
            IdleStrategy::SpinThenPark(n) => n,
            IdleStrategy::Park => 0,
        };
        let cfg = Config {
            runs: self.runs,
            ring,
            // `step` takes at most `sched::MAX_BATCH` whatever is asked.
            batch: self.batch,
            spins,
            workers,
            trace: self.trace,
            serial: self.serial,
        };
        let inner = Arc::new(Inner::new(graph, &cfg).map_err(BuildError::Config)?);
        let mut threads = Vec::with_capacity(workers);
        for index in 0..workers {
            let worker = Arc::clone(&inner);
            let spawned = std::thread::Builder::new()
                .name(format!("ringdag-{index}"))
                .spawn(move || worker.work(index));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    let rt = Runtime { inner, threads };
                    drop(rt);
                    return Err(BuildError::Spawn(e));
                }
            }
        }
        Ok(Runtime { inner, threads })
    }
}

/// Why [`Runtime::submit`] refused a run; the input is given back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SubmitError<I> {
    /// Every run slot is in use or the task ring is full: retry later.
    Busy(I),
    /// The runtime is shutting down. Not returned by this version: [`Runtime::shutdown`] and
    /// `Drop` take the runtime itself, so no `submit` can come after them or race them. Kept
    /// so that a shared way to stop the runtime can be added without a breaking change.
    ShutDown(I),
    /// The graph has no nodes.
    EmptyGraph(I),
}

impl<I> SubmitError<I> {
    /// The input that was not submitted.
    pub fn into_input(self) -> I {
        match self {
            Self::Busy(i) | Self::ShutDown(i) | Self::EmptyGraph(i) => i,
        }
    }
}

impl<I> fmt::Debug for SubmitError<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Busy(_) => "Busy(..)",
            Self::ShutDown(_) => "ShutDown(..)",
            Self::EmptyGraph(_) => "EmptyGraph(..)",
        })
    }
}

impl<I> fmt::Display for SubmitError<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Busy(_) => "busy: every run slot is in use or the task ring is full",
            Self::ShutDown(_) => "the runtime is shutting down",
            Self::EmptyGraph(_) => "the graph has no nodes",
        })
    }
}

impl<I> std::error::Error for SubmitError<I> {}

/// A metrics snapshot.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    /// The scheduler's counters.
    pub counters: Counters,
    /// Entries in the high and low task rings now.
    pub ring_depths: [usize; 2],
    /// Entries in the workers' own deques now (ready successors not yet run or stolen).
    pub deque_depth: usize,
    /// Runs in flight now.
    pub active_runs: usize,
    /// Retries waiting out their back-off now (all runs).
    pub retries_waiting: usize,
    /// Worker threads.
    pub workers: usize,
    /// Times a worker parked (went to sleep).
    pub parks: u64,
    /// Times a submit or a worker woke a parked worker.
    pub wakes: u64,
    /// Blocking waits in [`Runtime::submit_wait`]: each one lasts until a run slot is freed,
    /// or up to 1 ms (a submitter held back for long counts up to 1 000 a second).
    pub submit_waits: u64,
    /// Time since the runtime started.
    pub uptime: Duration,
    /// `counters.tasks_run` per second of uptime.
    pub tasks_per_second: f64,
    /// Trace events that did not fit in the trace ring.
    pub trace_dropped: u64,
}

/// A thread pool running one [`Graph`]: submit inputs, get [`RunHandle`]s.
///
/// Dropping the runtime shuts it down like [`Shutdown::Immediate`] and joins every worker.
/// The one exception is a runtime dropped (or shut down) on one of its own worker threads:
/// from a task body that held the last handle, or from a waker the runtime called. That call
/// cannot wait for the run it is part of, so it stops the runtime without joining; the
/// workers exit on their own once the runs have ended: as soon as the body returns and the
/// other workers' running bodies have returned (dropped or [`Shutdown::Immediate`]), or once
/// every accepted run has drained ([`Shutdown::Graceful`]).
///
/// # Blocking in bodies
///
/// A body runs on a worker and holds it until it returns. Three ways to wait forever follow:
/// - a body that waits ([`RunHandle::wait`]) for another run of the same runtime while every
///   worker is in such a body: nothing is left to run the runs they wait for (with one worker,
///   a single such body does it);
/// - a body that waits for its own run;
/// - a body in [`Runtime::submit_wait`] while every run slot is held by runs that need a
///   worker, and every worker is in such a body;
/// - dropping the runtime (which joins the workers, after their running bodies return) on a
///   thread that a running body waits for.
///
/// A body that captures the runtime itself (to submit follow-up runs) keeps it alive: the
/// runtime owns the graph, which owns the body. Its threads then stop only once the body's
/// copy is dropped (keep it in an `Option` or a `Mutex` the body can take it out of).
///
/// # Examples
///
/// ```
/// use ringdag_runtime::{GraphBuilder, Runtime};
///
/// let mut b = GraphBuilder::<u64, u64, ()>::new();
/// let a = b.task("a", |cx| Ok(*cx.input() + 1));
/// let c = b.task("c", move |cx| Ok(cx.value(a).unwrap() * 10));
/// b.edge(a, c);
/// let rt = Runtime::builder().workers(2).build(b.build().unwrap()).unwrap();
/// let result = rt.submit(4).unwrap().wait();
/// assert_eq!(result.outcome(), Ok(()));
/// assert_eq!(result.value(c), Some(50));
/// ```
pub struct Runtime<
    I: Copy + Send + Sync + 'static,
    V: Copy + Send + Sync + 'static,
    E: Copy + Send + Sync + 'static,
> {
    inner: Arc<Inner<I, V, E>>,
    threads: Vec<JoinHandle<()>>,
}

impl<I: Copy + Send + Sync, V: Copy + Send + Sync, E: Copy + Send + Sync> fmt::Debug
    for Runtime<I, V, E>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.threads.len())
            .field("graph", &self.inner.graph)
            .finish()
    }
}

impl Runtime<(), (), ()> {
    /// A [`Builder`] with the defaults.
    pub fn builder() -> Builder {
        Builder::default()
    }
}

impl<I: Copy + Send + Sync, V: Copy + Send + Sync, E: Copy + Send + Sync> Runtime<I, V, E> {
    /// Submits a run (high priority, no deadline). Never blocks.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Busy`] when full, [`SubmitError::ShutDown`] after shutdown began.
    pub fn submit(&self, input: I) -> Result<RunHandle<I, V, E>, SubmitError<I>> {
        self.submit_with(input, Priority::High, None)
    }

    /// Submits a run with a priority and an optional deadline for the whole run (the run
    /// fails with `RunError::DeadlineExceeded` if a node would start after it).
    ///
    /// The deadline is kept in the runtime's millisecond ticks: it never passes before
    /// `deadline` has elapsed, and passes at most 2 ms after (a zero deadline has passed
    /// already: the run fails before its first node). Deadlines longer than 2^30 - 1 ms
    /// (about 12.4 days) count as that.
    ///
    /// # Errors
    ///
    /// As [`submit`](Self::submit).
    pub fn submit_with(
        &self,
        input: I,
        priority: Priority,
        deadline: Option<Duration>,
    ) -> Result<RunHandle<I, V, E>, SubmitError<I>> {
        if self.inner.lifecycle.load(Ordering::Acquire) != RUNNING {
            return Err(SubmitError::ShutDown(input));
        }
        let engine = self.inner.engine();
        engine.sync_tick(self.inner.tick());
        let opts = SubmitOptions {
            priority,
            // One tick more than the deadline rounded up: the tick at submit may be up to a
            // millisecond old, and a deadline must not pass early.
            deadline_ticks: deadline.map(|d| match crate::ticks_ceil(d) {
                0 => 0,
                t => t.saturating_add(1),
            }),
        };
        match engine.submit_with(input, opts) {
            Ok(id) => Ok(RunHandle {
                inner: Arc::clone(&self.inner),
                id,
                finished: false,
            }),
            Err(ringdag_core::sched::SubmitError::Busy(i)) => Err(SubmitError::Busy(i)),
            Err(ringdag_core::sched::SubmitError::EmptyDag(i)) => Err(SubmitError::EmptyGraph(i)),
        }
    }

    /// Submits, waiting while the runtime is busy (every run slot taken, or the task ring
    /// full).
    ///
    /// It tries again at once a few times, yielding the thread in between; then it blocks
    /// until a run slot is freed (a [`RunResult`] dropped, or the result of a run whose
    /// handle was dropped discarded), and tries again. A full task ring sends no wake-up (its
    /// entries drain as workers pop them): a blocked submitter also tries again after a
    /// timeout, 50 µs at first, doubling up to 1 ms. So a waiting submitter uses no CPU
    /// between tries. [`Metrics::submit_waits`] counts the times a submitter blocked.
    ///
    /// If the calling thread itself holds [`RunHandle`]s or results for every run slot, it
    /// never returns (it tries again every millisecond). Called from a node body, it holds
    /// that worker while it waits (see "Blocking in bodies" in the [`Runtime`] docs).
    ///
    /// # Errors
    ///
    /// [`SubmitError::ShutDown`] or [`SubmitError::EmptyGraph`]; never `Busy`.
    pub fn submit_wait(&self, mut input: I) -> Result<RunHandle<I, V, E>, SubmitError<I>> {
        /// Tries that only yield before the first blocking wait.
        const QUICK_TRIES: u32 = 16;
        let mut busy = 0u32;
        loop {
            // Past the quick tries, count in as waiting before the try: a slot freed between
            // this try and the wait below then ends the wait at once (`slot_wait.rs`).
            let waiting = (busy >= QUICK_TRIES).then(|| self.inner.slot_wait.enter());
            match self.submit(input) {
                Err(SubmitError::Busy(i)) => input = i,
                other => return other,
            }
            match waiting {
                None => std::thread::yield_now(),
                Some(w) => {
                    let doublings = (busy - QUICK_TRIES).min(5);
                    w.wait(Duration::from_micros(50 << doublings).min(Duration::from_millis(1)));
                }
            }
            busy = busy.saturating_add(1);
        }
    }

    /// The graph.
    pub fn graph(&self) -> &Graph<I, V, E> {
        &self.inner.graph
    }

    /// Worker threads.
    pub fn workers(&self) -> usize {
        self.threads.len()
    }

    /// Whether runs start serially, in the graph's topological order (a graph that allows
    /// it, and room in the rings for every run's turn: see [`Builder::workers`]).
    pub fn runs_serially(&self) -> bool {
        self.inner.serial
    }

    /// Stops workers from starting nodes and iterator items (running ones finish, and a
    /// worker running items whose queues are all full runs them on); a chain a worker is
    /// following stops at its next node, which waits queued for [`resume`](Self::resume).
    /// Submits are still accepted. A worker may start one more node before it sees the
    /// pause (the flag is read with no ordering).
    /// [`shutdown`](Self::shutdown), in either mode, and `Drop` resume a paused runtime.
    pub fn pause(&self) {
        self.inner.engine().pause();
    }

    /// Resumes after [`pause`](Self::pause).
    pub fn resume(&self) {
        self.inner.engine().resume();
        // Paused workers sleep; wake them all, not just one.
        self.inner.sleep.wake_all();
    }

    /// A metrics snapshot.
    pub fn metrics(&self) -> Metrics {
        let engine = self.inner.engine();
        let counters = engine.counters();
        let uptime = self.inner.clock.elapsed();
        Metrics {
            counters,
            ring_depths: engine.ring_depths(),
            deque_depth: self.inner.deque_depth(),
            active_runs: engine.active_runs(),
            retries_waiting: engine.deferred(),
            workers: self.inner.workers,
            parks: self.inner.sleep.parks.load(Ordering::Relaxed),
            wakes: self.inner.sleep.wakes.load(Ordering::Relaxed),
            submit_waits: self.inner.slot_wait.blocked.load(Ordering::Relaxed),
            uptime,
            tasks_per_second: counters.tasks_run as f64 / uptime.as_secs_f64().max(1e-9),
            trace_dropped: self.inner.trace.dropped(),
        }
    }

    /// Writes the timeline of run `run` as Chrome trace JSON (open it in Perfetto or
    /// `chrome://tracing`): one track per worker, one slice per node execution. Needs
    /// [`Builder::trace`]; without it the trace has no slices.
    ///
    /// # Errors
    ///
    /// Whatever `out` returns.
    pub fn write_chrome_trace<W: io::Write>(&self, run: RunId, out: &mut W) -> io::Result<()> {
        let events = self.inner.trace.events_of(run);
        write_chrome_trace(
            &self.inner.graph.view(),
            run,
            self.inner.workers,
            &events,
            out,
        )
    }

    /// Shuts down (see [`Shutdown`]) and joins every worker thread (on one of this runtime's
    /// own workers, it stops them without joining: see [`Runtime`]).
    pub fn shutdown(mut self, mode: Shutdown) {
        self.stop(mode);
    }

    fn stop(&mut self, mode: Shutdown) {
        let inner = &self.inner;
        match mode {
            Shutdown::Graceful => {
                let _ = inner.lifecycle.compare_exchange(
                    RUNNING,
                    DRAINING,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
                // A paused runtime could never drain.
                inner.engine().resume();
            }
            Shutdown::Immediate => {
                inner.lifecycle.store(STOPPING, Ordering::Release);
                let engine = inner.engine();
                engine.resume();
                for slot in 0..engine.run_slots() {
                    if let Some(id) = engine.active_in(slot) {
                        let _ = engine.cancel(id);
                    }
                }
            }
        }
        inner.sleep.wake_all();
        let me = std::thread::current().id();
        if self.threads.iter().any(|t| t.thread().id() == me) {
            // Called on one of this runtime's own workers: from a task body (it held the last
            // handle to the runtime) or from a waker the runtime called. Joining would wait
            // for the run this very call holds up (a worker exits only when no run is
            // active), and a thread cannot join itself. The workers are detached instead;
            // each exits on its own once the runs have ended, which they do as soon as this
            // call returns to the worker (an immediate shutdown has cancelled them).
            self.threads.clear();
            return;
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl<I: Copy + Send + Sync, V: Copy + Send + Sync, E: Copy + Send + Sync> Drop
    for Runtime<I, V, E>
{
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.stop(Shutdown::Immediate);
        }
    }
}

/// A submitted run. Wait for it ([`wait`](Self::wait), [`wait_timeout`](Self::wait_timeout),
/// or `.await`: it is a [`Future`]), or [`cancel`](Self::cancel) it. Dropping the handle
/// detaches the run: it still runs to completion and its slot is freed when it finishes.
///
/// As a future it yields the [`RunResult`] once. Polled again after that, it stays
/// `Pending` and touches nothing (the run slot may hold another run by then, whose waker
/// must stay registered); it never panics. Code that may poll a finished future again
/// (`select!` in a loop) should fuse it, as for any future.
pub struct RunHandle<
    I: Copy + Send + Sync + 'static,
    V: Copy + Send + Sync + 'static,
    E: Copy + Send + Sync + 'static,
> {
    inner: Arc<Inner<I, V, E>>,
    id: RunId,
    finished: bool,
}

impl<I: Copy + Send + Sync, V: Copy + Send + Sync, E: Copy + Send + Sync> fmt::Debug
    for RunHandle<I, V, E>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunHandle").field("id", &self.id).finish()
    }
}

impl<I: Copy + Send + Sync, V: Copy + Send + Sync, E: Copy + Send + Sync> RunHandle<I, V, E> {
    /// The run's id.
    pub fn id(&self) -> RunId {
        self.id
    }

    /// Cancels the run: nodes not started are skipped; it ends with `RunError::Cancelled`.
    ///
    /// # Errors
    ///
    /// [`CancelError::NotActive`] if it already finished.
    pub fn cancel(&self) -> Result<(), CancelError> {
        if self.finished {
            // Its result was taken (`poll` returned it): the slot may hold a later run by
            // now, whose id this one matches again once the generation wraps.
            return Err(CancelError::NotActive);
        }
        self.inner.engine().cancel(self.id)
    }

    /// Whether the run has finished (its result is ready, or was taken by `poll`).
    pub fn is_finished(&self) -> bool {
        self.finished || !self.inner.engine().is_active(self.id)
    }

    /// Fails loudly where waiting could only hang: the result was handed out already.
    fn assert_not_taken(&self, what: &str) {
        assert!(
            !self.finished,
            "RunHandle::{what} after `poll` returned the run's result"
        );
    }

    fn try_take(&mut self) -> Option<RunResult<I, V, E>> {
        let done = self.inner.engine().take(self.id)?;
        self.finished = true;
        Some(RunResult {
            inner: Arc::clone(&self.inner),
            id: done.into_raw(),
        })
    }

    /// Blocks until the run finishes.
    ///
    /// # Panics
    ///
    /// If the handle was polled as a `Future` to completion already (its result was
    /// returned there; waiting for it again could only hang).
    pub fn wait(mut self) -> RunResult<I, V, E> {
        self.assert_not_taken("wait");
        let inner = Arc::clone(&self.inner);
        inner.waiter(self.id).wait(|| self.try_take())
    }

    /// Blocks until the run finishes or `timeout` passes; on timeout the handle is given back.
    ///
    /// # Errors
    ///
    /// `Err(self)` when the run did not finish in time.
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait), after `poll` returned the result.
    pub fn wait_timeout(mut self, timeout: Duration) -> Result<RunResult<I, V, E>, Self> {
        self.assert_not_taken("wait_timeout");
        // A timeout past what `Instant` can represent (`Duration::MAX`) is no timeout.
        let Some(until) = Instant::now().checked_add(timeout) else {
            return Ok(self.wait());
        };
        let inner = Arc::clone(&self.inner);
        match inner.waiter(self.id).wait_until(|| self.try_take(), until) {
            Some(result) => Ok(result),
            None => Err(self),
        }
    }
}

impl<I: Copy + Send + Sync, V: Copy + Send + Sync, E: Copy + Send + Sync> Future
    for RunHandle<I, V, E>
{
    type Output = RunResult<I, V, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.finished {
            // Polled again after `Ready`: the slot may belong to another run by now, whose
            // handle's waker must not be replaced by ours.
            return Poll::Pending;
        }
        let inner = Arc::clone(&this.inner);
        let id = this.id;
        match inner.waiter(id).poll(id, || this.try_take(), cx.waker()) {
            Ok(result) => Poll::Ready(result),
            Err(replaced) => {
                // The executor's code (a waker's drop may run a task's destructor): not under
                // the slot's lock, which the worker finishing a run takes.
                drop(replaced);
                Poll::Pending
            }
        }
    }
}

impl<I: Copy + Send + Sync, V: Copy + Send + Sync, E: Copy + Send + Sync> Drop
    for RunHandle<I, V, E>
{
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let inner = Arc::clone(&self.inner);
        let id = self.id;
        let (result, waker) = inner.waiter(id).abandon(id, || self.try_take());
        // Outside the lock, and after the run is marked abandoned: the waker's drop is the
        // executor's code (as in `poll`), and a panic in it must not leak the slot.
        drop(result);
        drop(waker);
    }
}

/// The result of a finished run: its outcome and node values. Dropping it frees the run
/// slot (nothing is allocated or freed on the heap).
pub struct RunResult<
    I: Copy + Send + Sync + 'static,
    V: Copy + Send + Sync + 'static,
    E: Copy + Send + Sync + 'static,
> {
    inner: Arc<Inner<I, V, E>>,
    id: RunId,
}

impl<I: Copy + Send + Sync, V: Copy + Send + Sync, E: Copy + Send + Sync> fmt::Debug
    for RunResult<I, V, E>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunResult")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<I: Copy + Send + Sync, V: Copy + Send + Sync, E: Copy + Send + Sync> RunResult<I, V, E> {
    fn with<R>(&self, f: impl FnOnce(&Finished<'_, I, V, E>) -> R) -> R {
        // `self.id` came from `Finished::into_raw` on this runtime's engine (in
        // `RunHandle::try_take`), and this `RunResult` is its only owner. The temporary handle
        // is never dropped (`ManuallyDrop`, also if `f` panics): the slot is freed only in
        // `drop`.
        // SAFETY: the contract of `Finished::from_raw`, as described above.
        let done = core::mem::ManuallyDrop::new(unsafe {
            Finished::from_raw(self.inner.engine(), self.id)
        });
        f(&done)
    }

    /// The run's id.
    pub fn id(&self) -> RunId {
        self.id
    }

    /// `Ok` if every node that had to run succeeded; otherwise why not.
    pub fn outcome(&self) -> Result<(), RunError<E>> {
        self.with(|d| d.outcome())
    }

    /// The panic message, when the outcome is `RunError::Panicked` (the message of the
    /// panicking node's last attempt).
    pub fn panic_message(&self) -> Option<String> {
        let Err(RunError::Panicked { node }) = self.outcome() else {
            return None;
        };
        let stored = self.inner.panics[self.id.slot()]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        stored
            .iter()
            .find(|(n, _)| *n == node)
            .map(|(_, msg)| msg.clone())
    }

    /// The value of `node`, if it ran and succeeded.
    pub fn value(&self, node: NodeId) -> Option<V> {
        self.with(|d| d.value(node))
    }

    /// Whether `node` ran and succeeded.
    pub fn ran(&self, node: NodeId) -> bool {
        self.with(|d| d.ran(node))
    }

    /// The body results of iterator `iterator`, in item order.
    pub fn items(&self, iterator: NodeId) -> Vec<V> {
        self.with(|d| d.items(iterator).to_vec())
    }

    /// Calls `f` with the body results of `iterator`, in item order, without allocating.
    pub fn with_items<R>(&self, iterator: NodeId, f: impl FnOnce(&[V]) -> R) -> R {
        self.with(|d| f(d.items(iterator)))
    }

    /// The run's input.
    pub fn input(&self) -> I {
        self.with(|d| d.input())
    }
}

impl<I: Copy + Send + Sync, V: Copy + Send + Sync, E: Copy + Send + Sync> Drop
    for RunResult<I, V, E>
{
    fn drop(&mut self) {
        // SAFETY: as in `with`; dropping the handle frees the slot, exactly once.
        let done = unsafe { Finished::from_raw(self.inner.engine(), self.id) };
        self.inner.free_slot(done);
    }
}
