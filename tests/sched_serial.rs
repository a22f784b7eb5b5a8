//! Serial runs (`Engine::with_serial`, what the std runtime uses with one worker) against runs
//! scheduled by readiness counting, on the same DAGs: the same nodes run, with the same
//! values and outcomes; serial runs start their nodes in the DAG's topological order; the
//! tags that mark a condition's taken edges never leak into a later run of the slot (over
//! many generations, serial and counted runs alternating in one slot).
//!
//! Single-threaded (every body runs on the test thread, which logs it in a thread-local), so
//! Miri runs the whole file.

use std::cell::RefCell;

use ringdag::dag::{DagBuilder, NodeId, RetryPolicy};
use ringdag::sched::{Context, RunError, SerialPlan, TaskManager};

type Cx<'a> = Context<'a, u64, u64>;
type Dag = ringdag::dag::Dag<u64, u64, u8, 16, 32>;
type Tm<'d> = TaskManager<'d, u64, u64, u8, 16, 32, 1, 0, 16>;

thread_local! {
    /// (input, node) of every body start on this thread.
    static LOG: RefCell<Vec<(u64, u32)>> = const { RefCell::new(Vec::new()) };
}

fn log(cx: &Cx<'_>) {
    LOG.with(|l| l.borrow_mut().push((*cx.input(), cx.node().index() as u32)));
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
    let counts = |tm: &TaskManager<'_, u64, u64, u8, N, E, 1, 0, R>| {
        let c = tm.counters();
        [c.tasks_run, c.retries, c.failures]
    };
    let before = counts(tm);
    let engine = tm.engine().with_serial(serial, SerialPlan::of(&dag.view()));
    let id = engine.submit(input).unwrap();
    while tm.step() > 0 {}
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
    (outcome, nodes, [0, 1, 2].map(|k| after[k] - before[k]))
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
