//! Ready work is visible to idle workers. The module docs: "a successor whose counter reaches
//! zero is ready: the worker continues with the first one directly and pushes the others".
//! So while one worker runs a slow node, a sibling made ready by the same predecessor must be
//! available to another, idle worker, not held back until the slow node returns.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use ringdag::dag::{Dag, DagBuilder};
use ringdag::sched::{Context, TaskManager};

type Cx<'a> = Context<'a, u64, u64>;

/// How long the slow node waits for its siblings.
const PATIENCE: Duration = Duration::from_secs(2);

/// Siblings started so far.
static SIBLINGS_STARTED: AtomicUsize = AtomicUsize::new(0);

fn idle() {
    if cfg!(miri) {
        std::thread::sleep(Duration::from_micros(50));
    } else {
        std::thread::yield_now();
    }
}

fn root(_: &mut Cx<'_>) -> Result<u64, ()> {
    Ok(0)
}

/// Waits (up to `PATIENCE`) until all 3 siblings have started; returns how many did.
fn slow(_: &mut Cx<'_>) -> Result<u64, ()> {
    let start = Instant::now();
    while SIBLINGS_STARTED.load(SeqCst) < 3 && start.elapsed() < PATIENCE {
        idle();
    }
    Ok(SIBLINGS_STARTED.load(SeqCst) as u64)
}

fn sibling(_: &mut Cx<'_>) -> Result<u64, ()> {
    SIBLINGS_STARTED.fetch_add(1, SeqCst);
    Ok(1)
}

/// `slow` is root's first successor (continued directly by the worker that ran `root`); the
/// three siblings become ready at the same moment.
static DAG: Dag<u64, u64, (), 8, 8> = Dag::new_or_panic(
    DagBuilder::new()
        .task("root", root)
        .task("slow", slow)
        .task("s1", sibling)
        .task("s2", sibling)
        .task("s3", sibling)
        .edge("root", "slow")
        .edge("root", "s1")
        .edge("root", "s2")
        .edge("root", "s3")
        .build(),
);

#[test]
fn ready_siblings_run_while_a_slow_node_runs() {
    let tm = Box::new(TaskManager::<u64, u64, (), 8, 8, 2, 0, 16>::new(&DAG));
    let tm = &*tm;
    let stop = AtomicBool::new(false);
    let done = std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                while !stop.load(SeqCst) {
                    if tm.step() == 0 {
                        idle();
                    }
                }
            });
        }
        tm.submit(0).unwrap();
        let start = Instant::now();
        let result = loop {
            if let Some(done) = tm.poll() {
                break Some(done.value(DAG.find("slow").unwrap()));
            }
            if start.elapsed() > PATIENCE * 5 {
                break None;
            }
            idle();
        };
        stop.store(true, SeqCst);
        result
    });
    let seen = done.expect("the run finished");
    assert_eq!(
        seen,
        Some(3),
        "only {seen:?} of 3 ready siblings started while `slow` ran on one of 4 workers: \
         the others were held back by the worker running `slow`"
    );
}
