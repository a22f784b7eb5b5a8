//! Serial runs (`Engine::with_serial`, what the std runtime uses with one worker) against runs
//! scheduled by readiness counting, on the same DAGs: the same nodes run, with the same
//! values and outcomes; serial runs start their nodes in the DAG's topological order; the
//! tags that mark a condition's taken edges never leak into a later run of the slot (over
//! many generations, serial and counted runs alternating in one slot).
//!
//! Serial runs that are shared part-way (`Engine::share`, what the std runtime does with
//! several workers once a run's nodes prove slow) against counted runs too, shared at every
//! node of the order, on DAGs in index order and in Kahn's order, with conditions, retries,
//! failures and more roots than a root token's chunk.
//!
//! Single-threaded (every body runs on the test thread, which logs it in a thread-local), so
//! Miri runs the whole file.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

use ringdag::dag::{DagBuilder, NodeId, RetryPolicy};
use ringdag::sched::{
    Context, Hooks, RunError, SerialPlan, TaskManager, WorkerDeque, SHARE_PACE_NS,
};

type Cx<'a> = Context<'a, u64, u64>;
type Dag = ringdag::dag::Dag<u64, u64, u8, 16, 32>;
type Tm<'d> = TaskManager<'d, u64, u64, u8, 16, 32, 1, 0, 16>;

thread_local! {
    /// (input, node) of every body start on this thread.
    static LOG: RefCell<Vec<(u64, u32)>> = const { RefCell::new(Vec::new()) };
}

thread_local! {
    /// A virtual clock for the pace of shared runs, in nanoseconds: every body start moves
    /// it on, 1 ns for the first `SLOW_FROM` starts of its run and 1 ms for the later ones.
    static TICKS: Cell<u64> = const { Cell::new(0) };
    static SLOW_FROM: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn log(cx: &Cx<'_>) {
    let input = *cx.input();
    let started = LOG.with(|l| {
        let mut l = l.borrow_mut();
        l.push((input, cx.node().index() as u32));
        l.iter().filter(|&&(i, _)| i == input).count() - 1
    });
    let cost = if started >= SLOW_FROM.with(Cell::get) {
        1_000_000
    } else {
        1
    };
    TICKS.with(|t| t.set(t.get() + cost));
    // The body start a thief waits for: it takes the run while this body waits.
    let gate = STEAL_GATE.with(|g| g.borrow().clone());
    if let Some((at, gate)) = gate {
        if started == at {
            gate.in_node.store(true, SeqCst);
            while !gate.go.load(SeqCst) {
                std::thread::yield_now();
            }
        }
    }
}

/// A body start and a thief meeting (`run_as` with `steal_at`).
#[derive(Default)]
struct StealGate {
    /// The body is waiting (set by the body).
    in_node: AtomicBool,
    /// The run is over on the stepping thread without the body having waited.
    finished: AtomicBool,
    /// The thief is done (set by the thief).
    go: AtomicBool,
}

thread_local! {
    static STEAL_GATE: RefCell<Option<(usize, Arc<StealGate>)>> = const { RefCell::new(None) };
}

/// The engine's pace clock: [`TICKS`] (the test thread steps every run).
struct VirtualClock;
impl Hooks for VirtualClock {
    fn pace_clock(&self) -> Option<u64> {
        Some(TICKS.with(Cell::get))
    }
}

/// Value: the node's bit plus the bits of every input it saw, times a factor of the input.
fn mix(cx: &mut Cx<'_>) -> Result<u64, u8> {
    log(cx);
    let seen = cx.inputs().fold(0u64, |m, (p, v)| m | 1 << p.index() | v);
    Ok(seen | 1 << cx.node().index())
}

/// Chooses `input % 4` (3: no edge carries it, so the default branch). When `input % 7 == 3`
/// its first attempt chooses 2 and then fails: the retry must not inherit that choice.
fn route(cx: &mut Cx<'_>) -> Result<u64, u8> {
    log(cx);
    if *cx.input() % 7 == 3 && cx.attempt() == 0 {
        cx.choose(2);
        return Err(3);
    }
    cx.choose((*cx.input() % 4) as u8);
    Ok(1)
}

/// Fails on its first attempt when `input % 3 == 0` (retried at once), for good when
/// `input % 5 == 4`.
fn flaky(cx: &mut Cx<'_>) -> Result<u64, u8> {
    log(cx);
    let input = *cx.input();
    if input % 5 == 4 {
        return Err(7);
    }
    if input % 3 == 0 && cx.attempt() == 0 {
        return Err(1);
    }
    mix(cx)
}

/// Declared sink first, so that edges go from higher indices to lower ones: the
/// topological order is Kahn's, not the index order.
fn dag() -> Dag {
    DagBuilder::new()
        .task("sink", mix)
        .task("always", mix)
        .task("join", mix)
        .task("tail", flaky)
        .task("two", mix)
        .task("one", mix)
        .task("other", mix)
        .task("side", mix)
        .condition("route", route)
        .task("root2", mix)
        .branch("route", "one", 1)
        .branch("route", "two", 2)
        .default_branch("route", "other")
        .edge("one", "join")
        .edge("two", "join")
        .edge("other", "join")
        .edge("two", "side")
        .edge("side", "tail")
        .edge("join", "tail")
        .edge("root2", "tail")
        .edge("tail", "sink")
        // A plain edge out of a condition: always taken.
        .edge("route", "always")
        .edge("always", "tail")
        .retry(
            "route",
            RetryPolicy {
                attempts: 2,
                backoff_ticks: 0,
            },
        )
        .retry(
            "tail",
            RetryPolicy {
                attempts: 2,
                backoff_ticks: 0,
            },
        )
        .build()
        .unwrap()
}

/// What a run left: outcome, per node whether it ran and its value, and the tasks run,
/// retries and failures it added to the counters.
type Seen = (
    Result<(), RunError<u8>>,
    Vec<(bool, Option<u64>)>,
    [usize; 3],
);

fn run<const N: usize, const E: usize, const R: usize>(
    tm: &TaskManager<'_, u64, u64, u8, N, E, 1, 0, R>,
    dag: &ringdag::dag::Dag<u64, u64, u8, N, E>,
    input: u64,
    serial: bool,
) -> Seen {
    run_as(tm, dag, input, serial, None).0
}

/// What `run_as` does besides a plain run.
#[derive(Clone, Copy)]
enum Take {
    /// Shared by its holder's pace check, with its `k`-th body start and the later ones slow
    /// (one node after the first span that holds a slow node: two slow spans in a row, if
    /// the run gets there).
    Slow(usize),
    /// Taken by a thief (`Engine::steal_stalled`, another thread stepping as a second
    /// worker) while its `k`-th body start waits.
    Steal(usize),
}

/// `run`, or with `take` a serial run stepped as one of two workers and taken as `take`
/// says. Also returns whether it was shared.
fn run_as<const N: usize, const E: usize, const R: usize>(
    tm: &TaskManager<'_, u64, u64, u8, N, E, 1, 0, R>,
    dag: &ringdag::dag::Dag<u64, u64, u8, N, E>,
    input: u64,
    serial: bool,
    take: Option<Take>,
) -> (Seen, bool) {
    let counts = |tm: &TaskManager<'_, u64, u64, u8, N, E, 1, 0, R>| {
        let c = tm.counters();
        [c.tasks_run, c.retries, c.failures, c.runs_shared]
    };
    let before = counts(tm);
    let engine = tm.engine().with_serial(serial, SerialPlan::of(&dag.view()));
    let id;
    if let Some(Take::Slow(k)) = take {
        SLOW_FROM.with(|s| s.set(k));
        let deques = [WorkerDeque::new(), WorkerDeque::new()];
        let engine = engine.with_hooks(&VirtualClock).with_pace(SHARE_PACE_NS, 0);
        id = engine.submit(input).unwrap();
        // SAFETY: this thread alone uses deque 0 as its own; deque 1 has no owner (nothing
        // is pushed there: it is only stolen from).
        let worker = unsafe { engine.with_worker(&deques, 0) };
        while worker.step(dag, 32) > 0 {}
        assert!(deques.iter().all(|d| d.is_empty()));
        SLOW_FROM.with(|s| s.set(usize::MAX));
    } else if let Some(Take::Steal(k)) = take {
        let deques = [WorkerDeque::new(), WorkerDeque::new()];
        let gate = Arc::new(StealGate::default());
        STEAL_GATE.with(|g| *g.borrow_mut() = Some((k, gate.clone())));
        id = engine.submit(input).unwrap();
        std::thread::scope(|scope| {
            let thief = scope.spawn(|| {
                // SAFETY: the thief alone uses deque 1 as its own (the stepping thread 0).
                let thief = unsafe { engine.with_worker(&deques, 1) };
                while !gate.in_node.load(SeqCst) && !gate.finished.load(SeqCst) {
                    std::thread::yield_now();
                }
                // Two looks at the same cursor: the run stalled there.
                let mut seen = [0u64; 1];
                let taken = thief.steal_stalled(&mut seen) + thief.steal_stalled(&mut seen);
                gate.go.store(true, SeqCst);
                taken
            });
            // SAFETY: this thread alone uses deque 0 as its own.
            let worker = unsafe { engine.with_worker(&deques, 0) };
            while worker.step(dag, 32) > 0 {}
            gate.finished.store(true, SeqCst);
            let taken = thief.join().unwrap();
            // Whatever the thief queued after the last step looked (it found the run
            // stalled only while a body waited, and the stepping thread then went on).
            while worker.step(dag, 32) > 0 {}
            assert!(taken <= 1);
        });
        STEAL_GATE.with(|g| *g.borrow_mut() = None);
        assert!(deques.iter().all(|d| d.is_empty()));
    } else {
        id = engine.submit(input).unwrap();
        while tm.step() > 0 {}
    }
    let done = tm.poll().expect("the run finished");
    assert_eq!(done.id(), id);
    let nodes = (0..dag.len())
        .map(|v| {
            let n = NodeId::from_index(v);
            (done.ran(n), done.value(n))
        })
        .collect();
    let outcome = done.outcome();
    drop(done);
    let after = counts(tm);
    (
        (outcome, nodes, [0, 1, 2].map(|k| after[k] - before[k])),
        after[3] > before[3],
    )
}

fn started(input: u64) -> Vec<u32> {
    LOG.with(|l| {
        l.borrow()
            .iter()
            .filter(|(i, _)| *i == input)
            .map(|&(_, n)| n)
            .collect()
    })
}

#[test]
fn serial_runs_match_counted_runs_and_follow_the_topological_order() {
    let dag = dag();
    let view = dag.view();
    assert!(view.runs_serially());
    let plan = SerialPlan::of(&view);
    assert!(plan.eligible() && !plan.index_order() && !plan.plain());
    let serial_tm: Tm<'_> = TaskManager::new(&dag);
    let counted_tm: Tm<'_> = TaskManager::new(&dag);
    // 93 runs through the serial manager's one slot: its generation passes 64, where its
    // cells are cleared; in between, every earlier run's tags are still in the cells.
    for input in 0..70u64 {
        let serial = run(&serial_tm, &dag, input, true);
        let order = started(input);
        LOG.with(|l| l.borrow_mut().clear());
        let counted = run(&counted_tm, &dag, input, false);
        assert_eq!(serial, counted, "input {input}");
        if input % 3 == 1 {
            // A counted run in the serial runs' slot: what they left there does not matter.
            LOG.with(|l| l.borrow_mut().clear());
            assert_eq!(run(&serial_tm, &dag, input, false), serial, "input {input}");
        }
        // Started in topological order, each node once (a retry starts its node again).
        let mut pos = [usize::MAX; 16];
        for (i, &v) in order.iter().enumerate() {
            if pos[v as usize] == usize::MAX {
                pos[v as usize] = i;
            } else {
                assert_eq!(
                    order[i - 1],
                    v,
                    "input {input}: {v} started twice, not retried"
                );
            }
        }
        let topo_pos = |v: u32| view.topo.iter().position(|&t| t == v).unwrap();
        for w in order.windows(2) {
            assert!(topo_pos(w[0]) <= topo_pos(w[1]), "input {input}: {order:?}");
        }
        // The outcome follows the input.
        let tail = dag.find("tail").unwrap();
        if input % 5 == 4 {
            assert_eq!(
                serial.0,
                Err(RunError::Failed {
                    node: tail,
                    error: 7
                })
            );
        } else {
            assert_eq!(serial.0, Ok(()));
        }
        LOG.with(|l| l.borrow_mut().clear());
    }
    // Inputs 4, 9, ..., 69 fail; 4, 19, 34, 49, 64 also in the counted runs of that slot.
    // (`route`'s failure on inputs 3, 10, ... is retried, and its retry succeeds.)
    assert_eq!(
        serial_tm.counters().runs_completed + serial_tm.counters().runs_failed,
        70 + 23
    );
    assert_eq!(serial_tm.counters().runs_failed, 14 + 5);
}

fn add(cx: &mut Cx<'_>) -> Result<u64, u8> {
    log(cx);
    let input = *cx.input();
    if input % 4 == 1 && cx.node().index() == 1 && cx.attempt() == 0 {
        return Err(2);
    }
    if input % 4 == 3 && cx.node().index() == 4 {
        return Err(9);
    }
    Ok(1 + cx.inputs().map(|(_, v)| v).sum::<u64>())
}

/// Tasks only, every edge forward: the serial loop's fast path, in index order.
fn plain_dag() -> Dag {
    DagBuilder::new()
        .task("a", add)
        .task("b", add)
        .task("c", add)
        .task("d", add)
        .task("e", add)
        .edge("a", "b")
        .edge("a", "c")
        .edge("b", "c")
        .edge("c", "e")
        .edge("d", "e")
        .retry(
            "b",
            RetryPolicy {
                attempts: 2,
                backoff_ticks: 0,
            },
        )
        .build()
        .unwrap()
}

#[test]
fn plain_dags_take_the_fast_path_with_the_same_results() {
    let dag = plain_dag();
    let plan = SerialPlan::of(&dag.view());
    assert!(plan.eligible() && plan.index_order() && plan.plain());
    let serial_tm: Tm<'_> = TaskManager::new(&dag);
    let counted_tm: Tm<'_> = TaskManager::new(&dag);
    for input in 0..12u64 {
        let serial = run(&serial_tm, &dag, input, true);
        let order = started(input);
        LOG.with(|l| l.borrow_mut().clear());
        let counted = run(&counted_tm, &dag, input, false);
        LOG.with(|l| l.borrow_mut().clear());
        assert_eq!(serial, counted, "input {input}");
        // Index order, `b` twice when retried (`e`, the sink, fails for good on 3).
        let want: Vec<u32> = match input % 4 {
            1 => vec![0, 1, 1, 2, 3, 4],
            _ => vec![0, 1, 2, 3, 4],
        };
        assert_eq!(order, want, "input {input}");
        if input % 4 == 3 {
            assert_eq!(
                serial.0,
                Err(RunError::Failed {
                    node: NodeId::from_index(4),
                    error: 9
                })
            );
        } else {
            assert_eq!(serial.0, Ok(()));
            assert_eq!(
                serial.1[4].1,
                Some(1 + 4 + 1),
                "e = 1 + c + d; c = 1 + a + b"
            );
        }
    }
}

/// Nodes of the DAG below: more than two turns (256 nodes, 8 under Miri, where a smaller DAG
/// keeps the test short) of skips in a row.
const LONG: usize = if cfg!(miri) { 40 } else { 522 };
type LongDag = ringdag::dag::Dag<u64, u64, u8, LONG, LONG>;

/// `d000`, `d001`, ...: the chain's node names, 4 bytes each, in one static string.
const NAME_BYTES: [u8; 4 * LONG] = {
    let mut b = [0u8; 4 * LONG];
    let mut i = 0;
    while i < LONG {
        b[4 * i] = b'd';
        b[4 * i + 1] = b'0' + (i / 100) as u8;
        b[4 * i + 2] = b'0' + (i / 10 % 10) as u8;
        b[4 * i + 3] = b'0' + (i % 10) as u8;
        i += 1;
    }
    b
};
static NAMES: &str = match core::str::from_utf8(&NAME_BYTES) {
    Ok(s) => s,
    Err(_) => panic!("ASCII"),
};

fn pick_first(cx: &mut Cx<'_>) -> Result<u64, u8> {
    cx.choose(0);
    Ok(0)
}

fn one(_: &mut Cx<'_>) -> Result<u64, u8> {
    Ok(1)
}

/// `c` takes its branch to `t` (the last node); its default branch, `LONG - 2` nodes in a
/// chain, is skipped.
fn long_skip_dag() -> LongDag {
    let names: Vec<&'static str> = (0..LONG - 2).map(|i| &NAMES[4 * i..4 * i + 4]).collect();
    let mut b = DagBuilder::new().condition("c", pick_first);
    for &n in &names {
        b = b.task(n, one);
    }
    b = b
        .task("t", one)
        .branch("c", "t", 0)
        .default_branch("c", names[0]);
    for w in names.windows(2) {
        b = b.edge(w[0], w[1]);
    }
    b.build().unwrap()
}

#[test]
fn turns_of_skipped_nodes_count_as_steps() {
    // A driver that steps while `step` returns work (`while tm.step() > 0 {}`) must not stop
    // with the run's token still queued after a turn that only skipped nodes.
    let dag = long_skip_dag();
    assert!(SerialPlan::of(&dag.view()).index_order());
    let tm: TaskManager<'_, u64, u64, u8, LONG, LONG, 1, 0, 4> = TaskManager::new(&dag);
    let (outcome, nodes, [tasks, retries, failures]) = run(&tm, &dag, 0, true);
    assert_eq!(outcome, Ok(()));
    assert!(nodes[0].0 && nodes[LONG - 1].0);
    assert!(nodes[1..LONG - 1].iter().all(|&(ran, _)| !ran));
    assert_eq!([tasks, retries, failures], [2, 0, 0], "skips are not tasks");
}

/// Nodes of the wide DAGs below; the first `WIDE_ROOTS` (in logical order) are roots, more
/// than a root token's chunk (32; 2 under Miri) when a run shares early.
const WIDE: usize = if cfg!(miri) { 24 } else { 80 };
const WIDE_ROOTS: usize = WIDE * 5 / 9;
const WIDE_EDGES: usize = 4 * WIDE;
type WideDag = ringdag::dag::Dag<u64, u64, u8, WIDE, WIDE_EDGES>;
type WideTm<'d> = TaskManager<'d, u64, u64, u8, WIDE, WIDE_EDGES, 1, 0, 128>;

/// `1 + node + input + Σ inputs`; node 7 fails its first attempt when `input % 4 == 1` (it
/// is retried), node `3 WIDE / 8` fails for good when `input % 4 == 3`.
fn sum(cx: &mut Cx<'_>) -> Result<u64, u8> {
    log(cx);
    let input = *cx.input();
    let v = cx.node().index();
    if input % 4 == 1 && v == 7 && cx.attempt() == 0 {
        return Err(2);
    }
    if input % 4 == 3 && v == WIDE * 3 / 8 {
        return Err(9);
    }
    let seen = cx.inputs().fold(0u64, |a, (_, x)| a.wrapping_add(x));
    Ok(seen.wrapping_add(1 + v as u64 + input))
}

/// Logical node `i` from `WIDE_ROOTS` on has the predecessors `i - WIDE_ROOTS` and those of
/// the 16 nodes before it that a hash picks: joins of 1 to 6 edges, some nodes with one
/// predecessor (no counter). `reversed`: declared last to first, so that every edge goes
/// from a higher index to a lower one (Kahn's order, not the index order).
fn wide_dag(reversed: bool) -> WideDag {
    let index = |i: usize| if reversed { WIDE - 1 - i } else { i };
    let name = |i: usize| &NAMES[4 * index(i)..4 * index(i) + 4];
    let mut b = DagBuilder::new();
    for k in 0..WIDE {
        b = b.task(&NAMES[4 * k..4 * k + 4], sum);
    }
    for i in WIDE_ROOTS..WIDE {
        b = b.edge(name(i - WIDE_ROOTS), name(i));
        for j in i.saturating_sub(16)..i {
            if j != i - WIDE_ROOTS && (5 * i + 3 * j) % 7 < 2 {
                b = b.edge(name(j), name(i));
            }
        }
    }
    b.retry(
        &NAMES[28..32],
        RetryPolicy {
            attempts: 2,
            backoff_ticks: 0,
        },
    )
    .build()
    .unwrap()
}

/// Runs of `dag` shared at every position of its order (or not at all, when the run ends or
/// fails first) leave what counted runs leave: the same outcome, the same values, the same
/// counts; every node starts once (a retry again, at once). `WIDE_FAILS`: `dag` is a wide DAG
/// of [`sum`] nodes, whose failing runs are checked against the values instead.
fn shared_like_counted<const N: usize, const E: usize, const R: usize, const WIDE_FAILS: bool>(
    tm: &TaskManager<'_, u64, u64, u8, N, E, 1, 0, R>,
    dag: &ringdag::dag::Dag<u64, u64, u8, N, E>,
    inputs: &[u64],
    take: fn(usize) -> Take,
) -> usize {
    let step = if cfg!(miri) { 4 } else { 1 };
    let mut shared_runs = 0;
    for &input in inputs {
        LOG.with(|l| l.borrow_mut().clear());
        let counted = run(tm, dag, input, false);
        for k in (0..dag.len()).step_by(step) {
            LOG.with(|l| l.borrow_mut().clear());
            let (seen, shared) = run_as(tm, dag, input, true, Some(take(k)));
            if counted.0.is_ok() || !WIDE_FAILS {
                assert_eq!(seen, counted, "input {input}, slow from start {k}");
            } else {
                // Which nodes start before the failure stops the run depends on the order:
                // the same failure, and each node that ran did so after its predecessors,
                // with their values.
                assert_eq!(seen.0, counted.0, "input {input}, k {k}");
                let view = dag.view();
                for (v, &(ran, value)) in seen.1.iter().enumerate() {
                    if !ran {
                        continue;
                    }
                    let span = view.pred_span[v];
                    let preds = &view.pred[span.start as usize..(span.start + span.len) as usize];
                    assert!(
                        preds.iter().all(|&p| seen.1[p as usize].0),
                        "input {input}, k {k}"
                    );
                    let want = preds
                        .iter()
                        .fold(0u64, |a, &p| a.wrapping_add(seen.1[p as usize].1.unwrap()))
                        .wrapping_add(1 + v as u64 + input);
                    assert_eq!(value, Some(want), "input {input}, k {k}, node {v}");
                }
                let ran = seen.1.iter().filter(|n| n.0).count();
                assert_eq!(
                    seen.2[0],
                    ran + seen.2[1] + seen.2[2],
                    "input {input}, k {k}"
                );
            }
            shared_runs += usize::from(shared);
            let order = started(input);
            for (i, &v) in order.iter().enumerate() {
                if order[..i].contains(&v) {
                    assert_eq!(order[i - 1], v, "input {input}, k {k}: {v} started twice");
                }
            }
        }
    }
    LOG.with(|l| l.borrow_mut().clear());
    shared_runs
}

#[test]
fn shared_runs_match_counted_runs_wherever_they_share() {
    // A span of fast nodes is judged only once it lasts 2 µs: with 1-ns nodes, the first
    // span goes on, doubling, until a slow node is in it; the run is shared one node after
    // that span's end (at positions 2, 3, 5, 9, 17, 33 and 65), if it gets there.
    let shared_at = |k: usize| {
        let mut end = 1;
        while end < k + 1 {
            end *= 2;
        }
        end + 1
    };
    let step = if cfg!(miri) { 4 } else { 1 };
    let want = (0..WIDE)
        .step_by(step)
        .filter(|&k| shared_at(k) < WIDE)
        .count();
    shared_or_stolen(Take::Slow, want);
}

#[test]
fn stolen_runs_match_counted_runs_wherever_they_are_taken() {
    // Taken at the node whose body waits: every node but none past the last.
    let step = if cfg!(miri) { 4 } else { 1 };
    shared_or_stolen(Take::Steal, (0..WIDE).step_by(step).count());
}

/// Runs taken (`take`) at every node of wide DAGs, of the DAG with conditions and of the
/// plain one match counted runs; on the wide DAGs, with input 0 (no failure), `want` of
/// them are taken (runs that get to where `take` takes them).
fn shared_or_stolen(take: fn(usize) -> Take, want: usize) {
    for reversed in [false, true] {
        let dag = wide_dag(reversed);
        let plan = SerialPlan::of(&dag.view());
        assert!(plan.eligible() && plan.plain());
        assert_eq!(plan.index_order(), !reversed);
        assert_eq!(dag.view().roots.len(), WIDE_ROOTS);
        let tm: WideTm<'_> = TaskManager::new(&dag);
        // Input 0: every node runs; a run shares wherever its nodes are slow twice in a row
        // before its last node.
        let shared = shared_like_counted::<_, _, _, true>(&tm, &dag, &[0], take);
        assert_eq!(shared, want, "reversed {reversed}");
        // A retry, a failure, another input.
        let more: &[u64] = if cfg!(miri) { &[3] } else { &[1, 2, 3] };
        assert!(shared_like_counted::<_, _, _, true>(&tm, &dag, more, take) > 0);
    }
    // Conditions (taken edges and skips), retries and a failure, in Kahn's order.
    let dag = dag();
    let tm: Tm<'_> = TaskManager::new(&dag);
    let inputs: Vec<u64> = if cfg!(miri) {
        vec![3, 4]
    } else {
        (0..12).collect()
    };
    assert!(shared_like_counted::<_, _, _, false>(&tm, &dag, &inputs, take) > 0);
    // The plain DAG in index order, with its retry and failure.
    let dag = plain_dag();
    let tm: Tm<'_> = TaskManager::new(&dag);
    let inputs: &[u64] = if cfg!(miri) { &[1, 3] } else { &[0, 1, 2, 3] };
    assert!(shared_like_counted::<_, _, _, false>(&tm, &dag, inputs, take) > 0);
}
