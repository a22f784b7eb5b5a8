//! Scheduling overhead on the five DAG shapes of `shared/BENCH-SHAPES.md` (Taskflow's suite):
//! ns per task of running a graph that is already built, body `slot[v] += 1`.
//!
//! One criterion group per shape; its benchmarks, side by side (`runner/threads`):
//! - `ringdag/1`, `ringdag/2`: `ringdag::runtime` (`Graph::from_csr`, `max_runs(1)`), one
//!   `submit(()).wait()` per iteration (runs start serially, the default);
//! - `ringdag_counted/2`: the same with `serial_runs(false)`: every run counted from its
//!   roots;
//! - `sequential/1`: a topological loop: nodes in id order (ids are topological), each edge
//!   counted off a plain in-degree counter;
//! - `ready_lifo/1`, `ready_fifo/1`: not peers but floors: the same loop over a private
//!   worklist of ready nodes, continuing with the first ready successor and stacking the others
//!   (LIFO, a work-stealing worker's order) or queueing them (FIFO). No atomics and no shared
//!   queue: what remains is the cost of meeting the nodes in readiness order instead of id
//!   order (random addresses on `graph_traversal`);
//! - `crossbeam_channel/2`: workers pull ready node ids from an unbounded crossbeam channel,
//!   decrement successors' atomic in-degree counters and push the newly ready ones;
//! - `std_mpsc/2`: the same over `std::sync::mpsc` (receiver behind a `Mutex`);
//! - `rayon_scope/2`: a rayon scope; each ready successor is spawned into the scope;
//! - `tokio_per_node/2`: tokio multi-thread runtime, dagrs style: one task spawned per node
//!   up front, each awaiting a per-node `Notify` that its last predecessor fires.
//!
//! Slots are one `AtomicU64` per node (relaxed load + store, each node touching only its own
//! slot). Only the runs are timed (`iter_custom`); after each run every slot is checked to
//! have been incremented exactly once. Per-run setup (resetting in-degree counters, channels,
//! worker threads of the channel runners) is inside the timing, as ringdag's `submit` is; pools
//! (ringdag, rayon, tokio) are built before.
//!
//! Size: full (2^20 nodes) by default; `DAG_SHAPES_SIZE=2^18` (or `18`, or `262144`) scales
//! every shape down; test mode (`cargo test --benches`, no `--bench` argument) uses 2^10.
//!
//! Run: `cargo bench --bench dag_shapes` (about 5 to 6 minutes on 2 cores at full size).
//!
//! Scaling mode: `DAG_SHAPES_SCALING=1,2,4,8,16 cargo bench --bench dag_shapes` skips
//! criterion and runs every runner at each thread count, `DAG_SHAPES_RUNS` times (default 5;
//! the tokio runner 3), printing the median ns/task as a markdown table. Each run is checked
//! like the criterion runs.

#[path = "shapes/mod.rs"]
mod shapes;

use core::sync::atomic::Ordering::{AcqRel, Relaxed};
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize};
use core::time::Duration;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use ringdag::runtime::{Graph, Runtime};
use shapes::{Csr, Shape};

/// Threads of the parallel runners (this machine has 2 cores).
const THREADS: usize = 2;

/// One counter per node.
struct Slots(Vec<AtomicU64>);

impl Slots {
    fn new(n: usize) -> Self {
        Self((0..n).map(|_| AtomicU64::new(0)).collect())
    }

    /// The task body: `slot[v] += 1` (only node `v` touches its slot).
    #[inline(always)]
    fn bump(&self, v: usize) {
        let s = &self.0[v];
        s.store(s.load(Relaxed) + 1, Relaxed);
    }

    fn reset(&self) {
        self.0.iter().for_each(|s| s.store(0, Relaxed));
    }

    fn check(&self, runs: u64, who: &str) {
        if let Some(v) = self.0.iter().position(|s| s.load(Relaxed) != runs) {
            panic!(
                "{who}: node {v} ran {} times in {runs} runs",
                self.0[v].load(Relaxed)
            );
        }
    }
}

/// Times `run` (one full run of the graph per iteration), checking the slots after each.
fn bench(
    group: &mut BenchmarkGroup<'_, WallTime>,
    slots: &Slots,
    runner: &str,
    threads: usize,
    mut run: impl FnMut(),
) {
    slots.reset();
    let mut runs = 0;
    let who = format!("{runner}/{threads}");
    group.bench_function(BenchmarkId::new(runner, threads), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                run();
                total += t.elapsed();
                runs += 1;
                slots.check(runs, &who);
            }
            total
        });
    });
}

// ------------------------------------------------------------------------ peer runners

fn reset_pending(g: &Csr, pending: &[AtomicU32]) {
    for (p, &d) in pending.iter().zip(&g.indeg) {
        p.store(d, Relaxed);
    }
}

/// Node ids are a topological order: run them in id order, counting each edge off its
/// target's in-degree (and checking that every node's predecessors all ran before it).
fn sequential(g: &Csr, slots: &Slots, pending: &mut [u32]) {
    pending.copy_from_slice(&g.indeg);
    for v in 0..g.len() {
        assert_eq!(pending[v], 0, "sequential: node {v} not ready");
        slots.bump(v);
        for &t in g.successors(v) {
            pending[t as usize] -= 1;
        }
    }
}

/// The nodes in the order a scheduler meets them, with none of its costs: one thread, plain
/// in-degree counters, and a private worklist of ready nodes. `Lifo`: continue with the first
/// successor that becomes ready and stack the others (a work-stealing worker alone); `Fifo`:
/// a queue (a shared ready queue drained by one thread). Not a
/// peer: the floor that any runner executing in readiness order pays on this shape's memory.
#[derive(Clone, Copy)]
enum ReadyOrder {
    Lifo,
    Fifo,
}

fn ready_order(
    order: ReadyOrder,
    g: &Csr,
    slots: &Slots,
    roots: &[u32],
    pending: &mut [u32],
    list: &mut std::collections::VecDeque<u32>,
) {
    pending.copy_from_slice(&g.indeg);
    list.clear();
    // Either way the roots come out in id order.
    match order {
        ReadyOrder::Lifo => list.extend(roots.iter().rev()),
        ReadyOrder::Fifo => list.extend(roots),
    }
    let mut next = None;
    loop {
        let v = match order {
            ReadyOrder::Lifo => match next.take().or_else(|| list.pop_back()) {
                Some(v) => v,
                None => break,
            },
            ReadyOrder::Fifo => match list.pop_front() {
                Some(v) => v,
                None => break,
            },
        };
        slots.bump(v as usize);
        for &t in g.successors(v as usize) {
            pending[t as usize] -= 1;
            if pending[t as usize] == 0 {
                match order {
                    // The first ready successor next, the others stacked (last first).
                    ReadyOrder::Lifo if next.is_none() => next = Some(t),
                    _ => list.push_back(t),
                }
            }
        }
    }
}

/// The ready queue of a channel runner.
trait ReadyQueue: Sync {
    fn push(&self, v: u32);
    fn try_pop(&self) -> Option<u32>;
    fn pop(&self) -> u32;
}

struct Crossbeam(
    crossbeam_channel::Sender<u32>,
    crossbeam_channel::Receiver<u32>,
);

impl ReadyQueue for Crossbeam {
    fn push(&self, v: u32) {
        self.0.send(v).unwrap();
    }
    fn try_pop(&self) -> Option<u32> {
        self.1.try_recv().ok()
    }
    fn pop(&self) -> u32 {
        self.1.recv().unwrap()
    }
}

struct StdMpsc(mpsc::Sender<u32>, Mutex<mpsc::Receiver<u32>>);

impl ReadyQueue for StdMpsc {
    fn push(&self, v: u32) {
        self.0.send(v).unwrap();
    }
    fn try_pop(&self) -> Option<u32> {
        // `try_lock`: a worker blocked in `pop` holds the lock; waiting for it here, with
        // nodes not yet counted off `remaining`, could wait forever.
        self.1.try_lock().ok()?.try_recv().ok()
    }
    fn pop(&self) -> u32 {
        self.1.lock().unwrap().recv().unwrap()
    }
}

const STOP: u32 = u32::MAX;

/// Runs the graph with `threads` scoped workers sharing the ready queue `q`. A worker counts
/// its nodes locally and subtracts them from `remaining` before it may block (`try_pop` never
/// blocks); the one that takes it to zero sends a `STOP` per worker.
fn channel_run<Q: ReadyQueue>(
    q: Q,
    g: &Csr,
    slots: &Slots,
    roots: &[u32],
    pending: &[AtomicU32],
    threads: usize,
) {
    reset_pending(g, pending);
    let remaining = AtomicUsize::new(g.len());
    for &r in roots {
        q.push(r);
    }
    let worker = || {
        let mut done = 0;
        loop {
            let v = match q.try_pop() {
                Some(v) => v,
                None => {
                    if done > 0 && remaining.fetch_sub(done, AcqRel) == done {
                        (0..threads).for_each(|_| q.push(STOP));
                    }
                    done = 0;
                    q.pop()
                }
            };
            if v == STOP {
                return;
            }
            slots.bump(v as usize);
            for &t in g.successors(v as usize) {
                if pending[t as usize].fetch_sub(1, AcqRel) == 1 {
                    q.push(t);
                }
            }
            done += 1;
        }
    };
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(worker);
        }
    });
}

fn rayon_node<'s>(
    s: &rayon::Scope<'s>,
    v: u32,
    g: &'s Csr,
    slots: &'s Slots,
    pending: &'s [AtomicU32],
) {
    slots.bump(v as usize);
    for &t in g.successors(v as usize) {
        if pending[t as usize].fetch_sub(1, AcqRel) == 1 {
            s.spawn(move |s| rayon_node(s, t, g, slots, pending));
        }
    }
}

fn rayon_run(
    pool: &rayon::ThreadPool,
    g: &Csr,
    slots: &Slots,
    roots: &[u32],
    pending: &[AtomicU32],
) {
    reset_pending(g, pending);
    pool.scope(|s| {
        for &r in roots {
            s.spawn(move |s| rayon_node(s, r, g, slots, pending));
        }
    });
}

/// State of the tokio runner, shared by its tasks.
struct TokioDag {
    g: Arc<Csr>,
    slots: Arc<Slots>,
    pending: Vec<AtomicU32>,
    /// Fired (once per run) by a node's last predecessor; a node with predecessors always
    /// awaits it, so each run consumes exactly the permit it produced.
    ready: Vec<tokio::sync::Notify>,
    remaining: AtomicUsize,
    done: tokio::sync::Notify,
}

impl TokioDag {
    fn new(g: &Arc<Csr>, slots: &Arc<Slots>) -> Arc<Self> {
        let n = g.len();
        Arc::new(Self {
            g: Arc::clone(g),
            slots: Arc::clone(slots),
            pending: (0..n).map(|_| AtomicU32::new(0)).collect(),
            ready: (0..n).map(|_| tokio::sync::Notify::new()).collect(),
            remaining: AtomicUsize::new(0),
            done: tokio::sync::Notify::new(),
        })
    }
}

fn rayon_pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("rayon pool")
}

fn tokio_runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .build()
        .expect("tokio runtime")
}

async fn tokio_node(st: Arc<TokioDag>, v: usize) {
    if st.g.indeg[v] > 0 {
        st.ready[v].notified().await;
    }
    st.slots.bump(v);
    for &t in st.g.successors(v) {
        if st.pending[t as usize].fetch_sub(1, AcqRel) == 1 {
            st.ready[t as usize].notify_one();
        }
    }
    if st.remaining.fetch_sub(1, AcqRel) == 1 {
        st.done.notify_one();
    }
}

fn tokio_run(rt: &tokio::runtime::Runtime, st: &Arc<TokioDag>) {
    rt.block_on(async {
        reset_pending(&st.g, &st.pending);
        st.remaining.store(st.g.len(), Relaxed);
        for v in 0..st.g.len() {
            tokio::spawn(tokio_node(Arc::clone(st), v));
        }
        st.done.notified().await;
    });
}

// ------------------------------------------------------------------------ driver

fn ringdag_runtime(
    g: &Csr,
    slots: &Arc<Slots>,
    threads: usize,
    serial: bool,
) -> Runtime<(), (), ()> {
    let body_slots = Arc::clone(slots);
    let graph = Graph::<(), (), ()>::from_csr("n", &g.off, &g.succ, move |cx| {
        body_slots.bump(cx.node().index());
        Ok(())
    })
    .expect("valid graph");
    Runtime::builder()
        .workers(threads)
        .max_runs(1)
        .serial_runs(serial)
        .build(graph)
        .expect("runtime")
}

fn shape_group(c: &mut Criterion, shape: Shape, log2: u32) {
    let g = Arc::new(shape.build(log2));
    let n = g.len();
    let roots = g.roots();
    let slots = Arc::new(Slots::new(n));
    let pending: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();

    let mut group = c.benchmark_group(shape.name());
    group
        .throughput(Throughput::Elements(n as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    for threads in [1, THREADS] {
        let rt = ringdag_runtime(&g, &slots, threads, true);
        bench(&mut group, &slots, "ringdag", threads, || {
            let result = rt.submit(()).expect("submit").wait();
            assert_eq!(result.outcome(), Ok(()));
        });
    }
    // The same runtime with serial runs turned off: every run counted from its roots.
    {
        let rt = ringdag_runtime(&g, &slots, THREADS, false);
        bench(&mut group, &slots, "ringdag_counted", THREADS, || {
            let result = rt.submit(()).expect("submit").wait();
            assert_eq!(result.outcome(), Ok(()));
        });
    }

    let mut seq_pending = vec![0; n];
    bench(&mut group, &slots, "sequential", 1, || {
        sequential(&g, &slots, &mut seq_pending);
    });

    let mut list = std::collections::VecDeque::with_capacity(n);
    for (name, order) in [
        ("ready_lifo", ReadyOrder::Lifo),
        ("ready_fifo", ReadyOrder::Fifo),
    ] {
        bench(&mut group, &slots, name, 1, || {
            ready_order(order, &g, &slots, &roots, &mut seq_pending, &mut list);
        });
    }

    bench(&mut group, &slots, "crossbeam_channel", THREADS, || {
        let (tx, rx) = crossbeam_channel::unbounded();
        channel_run(Crossbeam(tx, rx), &g, &slots, &roots, &pending, THREADS);
    });

    bench(&mut group, &slots, "std_mpsc", THREADS, || {
        let (tx, rx) = mpsc::channel();
        channel_run(
            StdMpsc(tx, Mutex::new(rx)),
            &g,
            &slots,
            &roots,
            &pending,
            THREADS,
        );
    });

    {
        let pool = rayon_pool(THREADS);
        bench(&mut group, &slots, "rayon_scope", THREADS, || {
            rayon_run(&pool, &g, &slots, &roots, &pending);
        });
    }

    {
        let rt = tokio_runtime(THREADS);
        let st = TokioDag::new(&g, &slots);
        bench(&mut group, &slots, "tokio_per_node", THREADS, || {
            tokio_run(&rt, &st);
        });
    }

    group.finish();
}

/// `DAG_SHAPES_SIZE` as log2 of the node count: `2^18`, `18` or `262144`.
fn size_log2(bench_mode: bool) -> u32 {
    let Ok(s) = std::env::var("DAG_SHAPES_SIZE") else {
        return if bench_mode { 20 } else { 10 };
    };
    let s = s.trim();
    let log2 = if let Some(k) = s.strip_prefix("2^") {
        k.parse().ok()
    } else {
        match s.parse::<u64>() {
            Ok(k) if k <= 24 => Some(k as u32),
            Ok(k) if k.is_power_of_two() => Some(k.trailing_zeros()),
            _ => None,
        }
    };
    match log2 {
        Some(k @ 2..=24) => k,
        _ => panic!("DAG_SHAPES_SIZE={s}: want 2^k, k, or a power of two, with 2 <= k <= 24"),
    }
}

/// Median ns per task of `runs` timed runs of `run` (after one untimed warm-up run); every
/// slot is checked after each run.
fn timed(slots: &Slots, who: &str, runs: usize, mut run: impl FnMut()) -> f64 {
    slots.reset();
    run();
    let mut done = 1;
    slots.check(done, who);
    let mut ns: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            run();
            let e = t.elapsed().as_nanos() as f64;
            done += 1;
            slots.check(done, who);
            e / slots.0.len() as f64
        })
        .collect();
    ns.sort_by(f64::total_cmp);
    ns[ns.len() / 2]
}

/// Scaling mode (`DAG_SHAPES_SCALING`): every runner at each thread count, plain timing.
fn scaling(threads: &[usize], log2: u32, runs: usize) {
    println!("| shape | threads | ringdag | crossbeam-channel | std mpsc | rayon scope | tokio per node | sequential (1 thread) |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for shape in Shape::ALL {
        let g = Arc::new(shape.build(log2));
        let n = g.len();
        let roots = g.roots();
        let slots = Arc::new(Slots::new(n));
        let pending: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
        let mut seq_pending = vec![0; n];
        let seq = timed(&slots, "sequential", runs, || {
            sequential(&g, &slots, &mut seq_pending)
        });
        for &t in threads {
            let rt = ringdag_runtime(&g, &slots, t, true);
            let ours = timed(&slots, "ringdag", runs, || {
                let result = rt.submit(()).expect("submit").wait();
                assert_eq!(result.outcome(), Ok(()));
            });
            drop(rt);
            let cb = timed(&slots, "crossbeam_channel", runs, || {
                let (tx, rx) = crossbeam_channel::unbounded();
                channel_run(Crossbeam(tx, rx), &g, &slots, &roots, &pending, t);
            });
            let std = timed(&slots, "std_mpsc", runs, || {
                let (tx, rx) = mpsc::channel();
                channel_run(StdMpsc(tx, Mutex::new(rx)), &g, &slots, &roots, &pending, t);
            });
            let pool = rayon_pool(t);
            let ray = timed(&slots, "rayon_scope", runs, || {
                rayon_run(&pool, &g, &slots, &roots, &pending)
            });
            drop(pool);
            let trt = tokio_runtime(t);
            let st = TokioDag::new(&g, &slots);
            let tok = timed(&slots, "tokio_per_node", runs.min(3), || {
                tokio_run(&trt, &st)
            });
            drop(trt);
            println!(
                "| {} | {t} | {ours:.1} | {cb:.1} | {std:.1} | {ray:.1} | {tok:.1} | {seq:.1} |",
                shape.name()
            );
        }
    }
}

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let log2 = size_log2(bench_mode);
    if let Ok(list) = std::env::var("DAG_SHAPES_SCALING") {
        let threads: Vec<usize> = list
            .split(',')
            .map(|t| match t.trim().parse() {
                Ok(k) if k > 0 => k,
                _ => panic!("DAG_SHAPES_SCALING={list}: want thread counts like 1,2,4,8,16"),
            })
            .collect();
        let runs = match std::env::var("DAG_SHAPES_RUNS") {
            Ok(r) => r.trim().parse().expect("DAG_SHAPES_RUNS: a number of runs"),
            Err(_) => 5,
        };
        eprintln!("dag_shapes scaling: 2^{log2} nodes per shape, threads {threads:?}, {runs} runs");
        scaling(&threads, log2, runs.max(1));
        return;
    }
    eprintln!("dag_shapes: 2^{log2} nodes per shape");
    let mut c = Criterion::default().configure_from_args();
    for shape in Shape::ALL {
        shape_group(&mut c, shape, log2);
    }
    c.final_summary();
}
