//! Backpressure, never loss: `submit` answers `Busy` (giving the input back) when the run
//! slots or the task ring are full, and every accepted run still completes exactly once;
//! DAGs wider than the ring go through the overflow (parking) path; more runs finishing than
//! the result ring holds are still all delivered by `poll`, exactly once; runs that fail or are
//! cancelled while entries of theirs are parked still end exactly once.
//!
//! Every node's value is `input * (index + 1) + sum of its inputs` (wrapping), checked
//! against a sequential evaluation over the DAG's own predecessor lists.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use ringdag::dag::{Dag, DagBuilder, NodeId};
use ringdag::sched::{Context, SubmitError, TaskManager};

type Cx<'a> = Context<'a, u64, u64>;

fn acc(cx: &mut Cx<'_>) -> Result<u64, ()> {
    let own = cx.input().wrapping_mul(cx.node().index() as u64 + 1);
    Ok(cx.inputs().fold(own, |s, (_, v)| s.wrapping_add(v)))
}

/// The value of every node for `input`, evaluated sequentially in topological order.
fn model<const N: usize, const M: usize>(dag: &Dag<u64, u64, (), N, M>, input: u64) -> Vec<u64> {
    let view = dag.view();
    let mut val = vec![0u64; view.len()];
    for &v in view.topo {
        let own = input.wrapping_mul(v as u64 + 1);
        val[v as usize] = view
            .predecessors(v)
            .iter()
            .fold(own, |s, &p| s.wrapping_add(val[p as usize]));
    }
    val
}

fn check<const N: usize, const M: usize>(
    dag: &Dag<u64, u64, (), N, M>,
    done: &ringdag::sched::Finished<'_, u64, u64, ()>,
) {
    let input = done.input();
    assert_eq!(done.outcome(), Ok(()), "input {input}");
    for (v, want) in model(dag, input).into_iter().enumerate() {
        assert_eq!(
            done.value(NodeId::from_index(v)),
            Some(want),
            "input {input}, node {v}"
        );
    }
}

/// xorshift64*: deterministic schedules without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn chain() -> Dag<u64, u64, (), 4, 4> {
    DagBuilder::new()
        .task("a", acc)
        .task("b", acc)
        .task("c", acc)
        .edge("a", "b")
        .edge("b", "c")
        .build()
        .unwrap()
}

#[test]
fn busy_when_the_only_slot_is_taken() {
    let dag = chain();
    let tm = Box::new(TaskManager::<u64, u64, (), 4, 4, 1, 0, 2>::new(&dag));
    let id = tm.submit(1).unwrap();
    match tm.submit(2) {
        Err(SubmitError::Busy(input)) => assert_eq!(input, 2),
        other => panic!("expected Busy, got {other:?}"),
    }
    assert_eq!(tm.submit(3).unwrap_err().into_input(), 3);
    while tm.step() > 0 {}
    // Still busy: the finished run holds its slot until it is taken.
    assert!(matches!(tm.submit(4), Err(SubmitError::Busy(4))));
    let done = tm.poll().unwrap();
    assert_eq!(done.id(), id);
    check(&dag, &done);
    drop(done);
    let id2 = tm.submit(5).unwrap();
    assert_ne!(id2, id, "a reused slot gets a new generation");
    assert_eq!(id2.slot(), id.slot());
    while tm.step() > 0 {}
    check(&dag, &tm.poll().unwrap());
    let c = tm.counters();
    assert_eq!((c.busy, c.runs_submitted, c.runs_completed), (3, 2, 2));
}

#[test]
fn busy_when_the_task_ring_is_full() {
    let dag = chain();
    let tm = Box::new(TaskManager::<u64, u64, (), 4, 4, 4, 0, 2>::new(&dag));
    tm.submit(1).unwrap();
    tm.submit(2).unwrap();
    assert!(
        matches!(tm.submit(3), Err(SubmitError::Busy(3))),
        "the ring holds 2 roots; slots are free"
    );
    assert_eq!(tm.active_runs(), 2);
    while tm.step() > 0 {}
    let mut n = 0;
    while let Some(done) = tm.poll() {
        check(&dag, &done);
        n += 1;
    }
    assert_eq!(n, 2);
}

/// Random interleavings of submit / step / poll on RUNS 1, RING 2: every accepted run
/// completes exactly once with the right values; `Busy` is counted.
#[test]
fn random_schedule_tiny_capacities_nothing_dropped() {
    let dag = wide();
    let tm = Box::new(TaskManager::<u64, u64, (), 16, 32, 1, 0, 2>::new(&dag));
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut next_input = 0u64;
    let mut accepted = BTreeMap::new();
    let mut finished = BTreeSet::new();
    let mut busy = 0;
    let ops = if cfg!(miri) { 60 } else { 4000 };
    for _ in 0..ops {
        match rng.next() % 3 {
            0 => match tm.submit(next_input) {
                Ok(id) => {
                    accepted.insert(next_input, id);
                    next_input += 1;
                }
                Err(e) => {
                    assert_eq!(e.into_input(), next_input);
                    busy += 1;
                }
            },
            1 => {
                tm.step();
            }
            _ => {
                if let Some(done) = tm.poll() {
                    check(&dag, &done);
                    assert_eq!(accepted.get(&done.input()), Some(&done.id()));
                    assert!(finished.insert(done.input()), "delivered twice");
                }
            }
        }
    }
    loop {
        let n = tm.step();
        while let Some(done) = tm.poll() {
            check(&dag, &done);
            assert!(finished.insert(done.input()), "delivered twice");
        }
        if n == 0 && tm.active_runs() == 0 {
            break;
        }
    }
    assert!(tm.poll().is_none());
    assert_eq!(finished.len(), accepted.len());
    assert!(finished.iter().eq(accepted.keys()));
    assert!(busy > 0, "the schedule never hit Busy");
    let c = tm.counters();
    assert_eq!(c.busy, busy);
    assert_eq!(c.runs_submitted, accepted.len());
    assert_eq!(c.runs_completed, accepted.len());
    assert!(c.ring_full > 0);
    assert_eq!(c.runs_high_water, 1);
    assert!(c.ring_high_water <= 2);
}

/// Seven roots (more than the ring of 2), a hub with ten successors, joins over both.
fn wide() -> Dag<u64, u64, (), 16, 32> {
    let b = DagBuilder::new()
        .task("r0", acc)
        .task("r1", acc)
        .task("r2", acc)
        .task("r3", acc)
        .task("r4", acc)
        .task("r5", acc)
        .task("hub", acc)
        .task("h0", acc)
        .task("h1", acc)
        .task("h2", acc)
        .task("h3", acc)
        .task("h4", acc)
        .task("h5", acc)
        .task("h6", acc)
        .task("h7", acc)
        .task("join", acc);
    b.edge("r0", "join")
        .edge("r1", "join")
        .edge("r2", "join")
        .edge("r3", "join")
        .edge("r4", "join")
        .edge("r5", "join")
        .edge("hub", "h0")
        .edge("hub", "h1")
        .edge("hub", "h2")
        .edge("hub", "h3")
        .edge("hub", "h4")
        .edge("hub", "h5")
        .edge("hub", "h6")
        .edge("hub", "h7")
        .edge("h0", "join")
        .edge("h1", "join")
        .edge("h2", "join")
        .edge("h3", "join")
        .edge("h4", "join")
        .edge("h5", "join")
        .edge("h6", "join")
        .edge("h7", "join")
        .build()
        .unwrap()
}

/// Submits runs `0..total` of `dag` through a `TaskManager` with `RUNS` run slots and a task
/// ring of `RING` entries, stepping and polling on this thread: every run completes once with
/// the model's values, `step` never idles while runs are active, and the ring overflowed (the
/// parked path ran).
fn run_through_a_small_ring<
    const N: usize,
    const M: usize,
    const RUNS: usize,
    const RING: usize,
>(
    dag: &Dag<u64, u64, (), N, M>,
    total: usize,
) {
    let tm = Box::new(TaskManager::<u64, u64, (), N, M, RUNS, 0, RING>::new(dag));
    let mut next = 0u64;
    let mut finished = BTreeSet::new();
    while finished.len() < total {
        while (next as usize) < total && tm.submit(next).is_ok() {
            next += 1;
        }
        let n = tm.step();
        while let Some(done) = tm.poll() {
            check(dag, &done);
            assert!(finished.insert(done.input()));
        }
        assert!(
            n > 0 || tm.active_runs() == 0,
            "step() found nothing with {} runs active: {:?}",
            tm.active_runs(),
            tm.counters()
        );
    }
    assert!(tm.poll().is_none());
    let c = tm.counters();
    assert!(
        c.ring_full > 0,
        "the overflow path was not exercised: {c:?}"
    );
    assert_eq!(c.runs_completed, total);
    assert_eq!(c.tasks_run, total * dag.len());
}

#[test]
fn dag_wider_than_the_ring_parks_and_completes() {
    run_through_a_small_ring::<16, 32, 4, 2>(&wide(), if cfg!(miri) { 6 } else { 200 });
}

/// A hub with 40 successors, each feeding one join: all ready the moment the hub finishes,
/// more than two 16-entry spills of the scheduler's fan-out. With `side`, a second root also
/// feeds `h0`, so the hub's successors are not all sole (the general, counting loop);
/// without, they are (the sole fan-out path).
fn hub_of_sole_successors(side: bool) -> Dag<u64, u64, (), 48, 96> {
    // Names are `&'static str`: literals, not leaked strings (Miri reports leaks).
    const NAMES: [&str; 40] = [
        "h0", "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9", "h10", "h11", "h12", "h13",
        "h14", "h15", "h16", "h17", "h18", "h19", "h20", "h21", "h22", "h23", "h24", "h25", "h26",
        "h27", "h28", "h29", "h30", "h31", "h32", "h33", "h34", "h35", "h36", "h37", "h38", "h39",
    ];
    let mut b = DagBuilder::new().task("hub", acc).task("join", acc);
    for name in NAMES {
        b = b.task(name, acc).edge("hub", name).edge(name, "join");
    }
    if side {
        b = b.task("side", acc).edge("side", "h0");
    }
    b.build().unwrap()
}

#[test]
fn fan_out_wider_than_a_spill_through_a_tiny_ring_runs_every_successor_once() {
    // Task ring of 2: the hub's 39 queued successors overflow it into the parked path.
    for side in [false, true] {
        run_through_a_small_ring::<48, 96, 2, 2>(
            &hub_of_sole_successors(side),
            if cfg!(miri) { 2 } else { 50 },
        );
    }
}

fn single() -> Dag<u64, u64, (), 4, 4> {
    DagBuilder::new().task("only", acc).build().unwrap()
}

#[test]
fn result_ring_overflow_delivers_every_result_once() {
    let dag = single();
    let tm = Box::new(TaskManager::<u64, u64, (), 4, 4, 8, 0, 2>::new(&dag));
    let mut ids = HashMap::new();
    for input in 0..8u64 {
        ids.insert(tm.submit(input).unwrap(), input);
        while tm.step() > 0 {}
    }
    assert_eq!(tm.active_runs(), 0);
    // 8 finished, the result ring holds 2. Take one listed (the first) and one unlisted
    // (the last) by id; poll must deliver the other six, each once.
    let first = *ids.iter().find(|(_, &i)| i == 0).unwrap().0;
    let last = *ids.iter().find(|(_, &i)| i == 7).unwrap().0;
    for id in [first, last] {
        let done = tm.take(id).expect("finished");
        assert_eq!(done.id(), id);
        check(&dag, &done);
        assert!(tm.take(id).is_none(), "taken twice");
        ids.remove(&id);
    }
    let mut polled = Vec::new();
    while let Some(done) = tm.poll() {
        check(&dag, &done);
        assert_eq!(
            ids.remove(&done.id()),
            Some(done.input()),
            "unknown or repeated"
        );
        polled.push(done.input());
    }
    assert_eq!(polled.len(), 6, "{polled:?}");
    assert!(ids.is_empty(), "never delivered: {ids:?}");
    // The slots are free again, and the stale ids in the result ring deliver nothing.
    for input in 100..108u64 {
        tm.submit(input).unwrap();
        while tm.step() > 0 {}
    }
    let mut again = BTreeSet::new();
    while let Some(done) = tm.poll() {
        check(&dag, &done);
        assert!(again.insert(done.input()));
    }
    assert_eq!(again, (100..108).collect());
}

/// Waits a little when there is nothing to do: yields natively; under Miri sleeps (virtual
/// time), so that spinning threads do not eat the interpreter's time.
fn idle() {
    if cfg!(miri) {
        std::thread::sleep(std::time::Duration::from_micros(50));
    } else {
        std::thread::yield_now();
    }
}

struct StopOnDrop<'a>(&'a AtomicBool);
impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Relaxed);
    }
}

#[test]
fn tiny_capacities_multi_thread_nothing_dropped() {
    let dag = wide();
    let tm = Box::new(TaskManager::<u64, u64, (), 16, 32, 2, 0, 4>::new(&dag));
    let tm = &*tm;
    let total = if cfg!(miri) { 4 } else { 3000 };
    let stop = AtomicBool::new(false);
    let mut finished = BTreeSet::new();
    let mut busy = 0usize;
    std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        for _ in 0..if cfg!(miri) { 2 } else { 4 } {
            s.spawn(|| {
                while !stop.load(Relaxed) {
                    if tm.step() == 0 {
                        idle();
                    }
                }
            });
        }
        let mut next = 0u64;
        let mut last = Instant::now();
        while finished.len() < total {
            if (next as usize) < total {
                match tm.submit(next) {
                    Ok(_) => next += 1,
                    Err(SubmitError::Busy(i)) => {
                        assert_eq!(i, next);
                        busy += 1;
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
            while let Some(done) = tm.poll() {
                check(&dag, &done);
                assert!(finished.insert(done.input()), "delivered twice");
                last = Instant::now();
            }
            assert!(
                last.elapsed() < Duration::from_secs(20),
                "stalled: {} of {total} finished, {:?}",
                finished.len(),
                tm.counters()
            );
            idle();
        }
    });
    assert!(tm.poll().is_none());
    let c = tm.counters();
    assert_eq!(c.busy, busy);
    assert_eq!(c.runs_completed, total);
    assert_eq!(c.tasks_run, total * dag.len());
    assert!(c.runs_high_water <= 2);
}

/// `acc`, except that node `h5` (index 7: after `hub` and `join`) fails when the input is odd.
fn acc_or_fail(cx: &mut Cx<'_>) -> Result<u64, ()> {
    if *cx.input() % 2 == 1 && cx.node().index() == 7 {
        return Err(());
    }
    acc(cx)
}

/// A hub with 40 successors into a join, every body `acc_or_fail`.
fn hub_that_may_fail() -> Dag<u64, u64, (), 48, 96> {
    const NAMES: [&str; 40] = [
        "h0", "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9", "h10", "h11", "h12", "h13",
        "h14", "h15", "h16", "h17", "h18", "h19", "h20", "h21", "h22", "h23", "h24", "h25", "h26",
        "h27", "h28", "h29", "h30", "h31", "h32", "h33", "h34", "h35", "h36", "h37", "h38", "h39",
    ];
    let mut b = DagBuilder::new()
        .task("hub", acc_or_fail)
        .task("join", acc_or_fail);
    for name in NAMES {
        b = b
            .task(name, acc_or_fail)
            .edge("hub", name)
            .edge(name, "join");
    }
    b.build().unwrap()
}

#[test]
fn runs_failing_or_cancelled_while_entries_are_parked_end_once_and_free_their_slots() {
    // A task ring of 2: most of the hub's successors wait parked in their cells when a
    // successor fails (odd inputs) or the run is cancelled after its first step (inputs
    // 2 mod 4). Each run must still end exactly once, with the right outcome, and nothing of
    // it may run after that; the two run slots serve every run in turn.
    let dag = hub_that_may_fail();
    let tm = Box::new(TaskManager::<u64, u64, (), 48, 96, 2, 0, 2>::new(&dag));
    let h5 = dag.find("h5").unwrap();
    let join = dag.find("join").unwrap();
    let runs: u64 = if cfg!(miri) { 4 } else { 40 };
    let (mut ok, mut failed, mut cancelled) = (0, 0, 0);
    for input in 0..runs {
        let id = tm.submit(input).unwrap();
        tm.step();
        let cancel = input % 4 == 2;
        if cancel {
            tm.cancel(id).unwrap();
        }
        while tm.step() > 0 {}
        let done = tm.poll().expect("the run ended");
        assert_eq!(done.id(), id);
        assert!(tm.poll().is_none(), "input {input}: one result");
        if input % 2 == 1 {
            assert_eq!(
                done.outcome(),
                Err(ringdag::sched::RunError::Failed {
                    node: h5,
                    error: ()
                }),
                "input {input}"
            );
            assert!(
                !done.ran(join),
                "input {input}: the join ran after the failure"
            );
            failed += 1;
        } else if cancel {
            assert_eq!(
                done.outcome(),
                Err(ringdag::sched::RunError::Cancelled),
                "input {input}"
            );
            assert!(
                !done.ran(join),
                "input {input}: the join ran after the cancel"
            );
            cancelled += 1;
        } else {
            check(&dag, &done);
            ok += 1;
        }
        assert_eq!(tm.active_runs(), 0, "input {input}");
    }
    let c = tm.counters();
    assert!(c.ring_full > 0, "nothing was parked: {c:?}");
    assert_eq!(
        (c.runs_completed, c.runs_failed, c.runs_cancelled),
        (ok, failed, cancelled)
    );
}
