//! The engine's `Hooks`, seen by a driver: `run_submitted` comes once per accepted run, before
//! any node of that run starts; `run_finished` once, after its last node; a refused submit
//! calls neither. Completed, failed and cancelled runs alike, with two runs sharing the rings.
//!
//! Runs on the test thread, so Miri runs it.

use std::sync::Mutex;

use ringdag::dag::{DagBuilder, DagView};
use ringdag::ring::RingBuffer;
use ringdag::sched::{
    Context, Engine, Entry, Hooks, ItemCell, NodeCell, RunError, RunId, RunSlot, Shared,
    SubmitError,
};

/// What the driver saw, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    Submitted(RunId),
    Node(RunId, u32),
    Finished(RunId),
}

static LOG: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

fn log(s: Seen) {
    LOG.lock().unwrap().push(s);
}

struct Recording;

impl Hooks for Recording {
    fn run_submitted(&self, run: RunId) {
        log(Seen::Submitted(run));
    }
    fn run_finished(&self, run: RunId) {
        log(Seen::Finished(run));
    }
}

type Cx<'a> = Context<'a, u32, u32>;

fn body(cx: &mut Cx<'_>) -> Result<u32, u32> {
    log(Seen::Node(cx.run(), cx.node().index() as u32));
    // Input 1 fails its middle node.
    if *cx.input() == 1 && cx.node().index() == 1 {
        return Err(7);
    }
    Ok(*cx.input())
}

#[test]
fn run_submitted_comes_before_every_node_and_run_finished_after_the_last() {
    const NODES: usize = 3;
    let dag = DagBuilder::<u32, u32, u32, NODES, NODES>::new()
        .task("a", body)
        .task("b", body)
        .task("c", body)
        .edge("a", "b")
        .edge("b", "c")
        .build()
        .unwrap();
    let view: DagView<'_> = dag.view();
    let runs = [RunSlot::<u32, u32>::new(), RunSlot::new()];
    let cells: Vec<NodeCell<u32>> = (0..2 * NODES).map(|_| NodeCell::new()).collect();
    let items: [ItemCell<u32>; 0] = [];
    let high = RingBuffer::<Entry, 8>::new();
    let low = RingBuffer::<Entry, 8>::new();
    let results = RingBuffer::<RunId, 4>::new();
    let shared = Shared::new();
    // SAFETY: the view is a built DAG's; the storage is fresh and sized for it (two run slots
    // of `NODES` cells, no items).
    let engine = unsafe {
        Engine::new(
            view,
            &runs,
            &cells,
            NODES,
            &items,
            0,
            [&high, &low],
            Some(&results),
            &shared,
            &Recording,
        )
    }
    .unwrap();

    // Two runs share the rings; a third is refused (both slots taken) and calls no hook.
    let ok = engine.submit(0).unwrap();
    let failing = engine.submit(1).unwrap();
    assert!(matches!(engine.submit(2), Err(SubmitError::Busy(2))));
    while engine.step(&dag, 2) > 0 {}
    assert_eq!(engine.take(ok).unwrap().outcome(), Ok(()));
    assert_eq!(
        engine.take(failing).unwrap().outcome(),
        Err(RunError::Failed {
            node: dag.find("b").unwrap(),
            error: 7,
        })
    );
    // A run cancelled before any node ran: both hooks all the same, and no node between.
    let cancelled = engine.submit(3).unwrap();
    engine.cancel(cancelled).unwrap();
    while engine.step(&dag, 2) > 0 {}
    assert_eq!(
        engine.take(cancelled).unwrap().outcome(),
        Err(RunError::Cancelled)
    );

    let seen = LOG.lock().unwrap().clone();
    let expect_nodes = [(ok, 3), (failing, 2), (cancelled, 0)];
    for (run, nodes) in expect_nodes {
        let mine: Vec<Seen> = seen
            .iter()
            .copied()
            .filter(|s| match *s {
                Seen::Submitted(r) | Seen::Node(r, _) | Seen::Finished(r) => r == run,
            })
            .collect();
        assert_eq!(mine.len(), nodes + 2, "run {run:?}: {mine:?}");
        assert_eq!(mine[0], Seen::Submitted(run), "run {run:?}: {mine:?}");
        assert_eq!(
            mine[nodes + 1],
            Seen::Finished(run),
            "run {run:?}: {mine:?}"
        );
        for (i, s) in mine[1..=nodes].iter().enumerate() {
            assert_eq!(*s, Seen::Node(run, i as u32), "run {run:?}: {mine:?}");
        }
    }
    // Nothing for the refused submit: three runs, six hook calls.
    let hooks = seen.iter().filter(|s| !matches!(s, Seen::Node(..))).count();
    assert_eq!(hooks, 6, "{seen:?}");
}
