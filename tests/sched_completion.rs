//! A run is completed as soon as its last node resolves, before the same worker starts a node
//! of another run: that node's body may block (even on the first run's result), and the first
//! run must not wait for it.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use ringdag::dag::{Dag, DagBuilder};
use ringdag::sched::{Context, TaskManager};

/// Runs still active when run 1's node started (`usize::MAX`: not yet seen).
static SEEN_ACTIVE: AtomicUsize = AtomicUsize::new(usize::MAX);

fn only(cx: &mut Context<'_, u32, u32>) -> Result<u32, ()> {
    if *cx.input() == 1 {
        SEEN_ACTIVE.store(TM.active_runs(), Relaxed);
    }
    Ok(*cx.input())
}

static DAG: Dag<u32, u32, (), 1, 0> =
    Dag::new_or_panic(DagBuilder::new().task("only", only).build());
static TM: TaskManager<u32, u32, (), 1, 0, 4, 0, 16> = TaskManager::new(&DAG);

#[test]
fn a_finished_run_completes_before_the_next_runs_node_starts() {
    let first = TM.submit(0).unwrap();
    let second = TM.submit(1).unwrap();
    // One step takes both roots in one batch: run 0's only node, then run 1's.
    assert_eq!(TM.step(), 2);
    assert_eq!(
        SEEN_ACTIVE.load(Relaxed),
        1,
        "run 0 was still active while run 1's node ran"
    );
    let mut ids = [TM.poll().unwrap().id(), TM.poll().unwrap().id()];
    ids.sort_by_key(|id| id.to_bits());
    let mut want = [first, second];
    want.sort_by_key(|id| id.to_bits());
    assert_eq!(ids, want);
}
