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

/// Chooses `input % 4` (3: no edge carries it, so the default branch).
fn route(cx: &mut Cx<'_>) -> Result<u64, u8> {
    log(cx);
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

/// What a run left: outcome, and per node whether it ran and its value.
type Seen = (Result<(), RunError<u8>>, Vec<(bool, Option<u64>)>);

fn run(tm: &Tm<'_>, dag: &Dag, input: u64, serial: bool) -> Seen {
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
    (done.outcome(), nodes)
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
    assert!(!plan.index_order && !plan.no_conditions && plan.no_timeouts);
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
    assert_eq!(
        serial_tm.counters().runs_completed + serial_tm.counters().runs_failed,
        70 + 23
    );
    assert_eq!(serial_tm.counters().runs_failed, 14 + 5);
}
