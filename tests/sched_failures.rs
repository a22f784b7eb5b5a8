//! Failure handling: retries (immediate and with back-off in ticks), exhausted retries,
//! nothing of a failed run starting afterwards while other runs complete, node timeouts, run
//! deadlines, cancel, pause/resume.
//!
//! Bodies that advance ticks or cancel their own run reach their manager through a `static`.
//! All single-threaded except the last test (bodies log to a thread-local); Miri runs the
//! file with the multi-threaded test scaled down.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ringdag::dag::{Dag, DagBuilder, NodeId, RetryPolicy};
use ringdag::sched::{CancelError, Context, RunError, SubmitOptions, TaskManager};

type Cx<'a> = Context<'a, u64, u64>;

thread_local! {
    /// (input, node, attempt, tick at start) of every body start on this thread.
    static LOG: RefCell<Vec<(u64, u32, u32, u32)>> = const { RefCell::new(Vec::new()) };
}

fn log(cx: &Cx<'_>) {
    LOG.with(|l| {
        l.borrow_mut().push((
            *cx.input(),
            cx.node().index() as u32,
            cx.attempt(),
            cx.now(),
        ))
    });
}

/// (attempt, tick) of each start of `node` for `input`, in order.
fn starts_of(input: u64, node: NodeId) -> Vec<(u32, u32)> {
    LOG.with(|l| {
        l.borrow()
            .iter()
            .filter(|e| e.0 == input && e.1 == node.index() as u32)
            .map(|e| (e.2, e.3))
            .collect()
    })
}

fn started_nodes(input: u64) -> Vec<u32> {
    LOG.with(|l| {
        let mut v: Vec<u32> = l
            .borrow()
            .iter()
            .filter(|e| e.0 == input)
            .map(|e| e.1)
            .collect();
        v.sort_unstable();
        v
    })
}

fn ok(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    Ok(cx.inputs().map(|(_, v)| v).sum::<u64>() + 1)
}

/// Fails while `attempt < input & 0xf`, with error `100 + attempt`.
fn flaky(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    if cx.attempt() < (*cx.input() & 0xf) as u32 {
        Err(100 + cx.attempt())
    } else {
        Ok(7)
    }
}

/// Fails always when bit 8 of the input is set.
fn fail_if(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    if *cx.input() & 1 << 8 != 0 {
        Err(55)
    } else {
        Ok(1)
    }
}

fn one_shot<'a, const N: usize, const M: usize, const R: usize, const G: usize>(
    tm: &'a TaskManager<'_, u64, u64, u32, N, M, R, 0, G>,
    input: u64,
) -> ringdag::sched::Finished<'a, u64, u64, u32> {
    let id = tm.submit(input).unwrap();
    while tm.step() > 0 {}
    let done = tm.poll().expect("the run finished");
    assert_eq!(done.id(), id);
    done
}

type Tm<'d> = TaskManager<'d, u64, u64, u32, 8, 8, 4, 0, 16>;

fn retry_dag(attempts: u8, backoff_ticks: u32) -> Dag<u64, u64, u32, 8, 8> {
    DagBuilder::new()
        .task("a", ok)
        .task("flaky", flaky)
        .task("b", ok)
        .edge("a", "flaky")
        .edge("flaky", "b")
        .retry(
            "flaky",
            RetryPolicy {
                attempts,
                backoff_ticks,
            },
        )
        .build()
        .unwrap()
}

#[test]
fn retry_succeeds_on_attempt_n() {
    let dag = retry_dag(4, 0);
    let tm = Box::new(Tm::new(&dag));
    let flaky = dag.find("flaky").unwrap();
    for n in 0..4u64 {
        let input = (0x10 * (n + 1)) | n;
        let done = one_shot(&tm, input);
        assert_eq!(done.outcome(), Ok(()), "succeeds on attempt {n}");
        let attempts: Vec<u32> = starts_of(input, flaky).iter().map(|s| s.0).collect();
        assert_eq!(attempts, (0..=n as u32).collect::<Vec<_>>());
        assert_eq!(done.value(flaky), Some(7));
        assert_eq!(done.value(dag.find("b").unwrap()), Some(8));
    }
    let c = tm.counters();
    assert_eq!(c.retries, 1 + 2 + 3);
    assert_eq!(c.failures, 0);
    assert_eq!(c.runs_completed, 4);
}

#[test]
fn exhausted_retries_fail_the_run_naming_node_and_error() {
    let dag = retry_dag(3, 0);
    let tm = Box::new(Tm::new(&dag));
    let (flaky, b) = (dag.find("flaky").unwrap(), dag.find("b").unwrap());
    // One failing run and one good run in flight together.
    let bad = tm.submit(0x100 | 9).unwrap();
    let good = tm.submit(0x200).unwrap();
    while tm.step() > 0 {}
    let mut results = Vec::new();
    while let Some(done) = tm.poll() {
        results.push((done.id(), done.outcome(), done.ran(b)));
    }
    results.sort_by_key(|r| r.0 != bad);
    assert_eq!(results.len(), 2);
    assert_eq!(
        results[0],
        (
            bad,
            Err(RunError::Failed {
                node: flaky,
                error: 102
            }),
            false
        )
    );
    assert_eq!(results[1], (good, Ok(()), true));
    assert_eq!(starts_of(0x100 | 9, flaky).len(), 3);
    assert!(
        starts_of(0x100 | 9, b).is_empty(),
        "b started after failure"
    );
    let c = tm.counters();
    assert_eq!((c.failures, c.runs_failed, c.runs_completed), (1, 1, 1));
    assert_eq!(c.retries, 2);
}

fn wide_failing_dag() -> Dag<u64, u64, u32, 16, 16> {
    DagBuilder::new()
        .task("root", ok)
        .task("fail", fail_if)
        .task("s1", ok)
        .task("s2", ok)
        .task("s3", ok)
        .task("t1", ok)
        .task("t2", ok)
        .task("t3", ok)
        .task("after_fail", ok)
        .edge("root", "fail")
        .edge("root", "s1")
        .edge("root", "s2")
        .edge("root", "s3")
        .edge("s1", "t1")
        .edge("s2", "t2")
        .edge("s3", "t3")
        .edge("fail", "after_fail")
        .edge("t1", "after_fail")
        .build()
        .unwrap()
}

#[test]
fn nothing_of_a_failed_run_starts_afterwards() {
    let dag = wide_failing_dag();
    let tm = Box::new(TaskManager::<u64, u64, u32, 16, 16, 4, 0, 16>::new(&dag));
    let inputs = [0x1_0000u64, 0x1_0100, 0x2_0000, 0x3_0000];
    for &i in &inputs {
        tm.submit(i).unwrap();
    }
    while tm.step() > 0 {}
    let mut n = 0;
    while let Some(done) = tm.poll() {
        n += 1;
        let input = done.input();
        if input & 0x100 != 0 {
            assert_eq!(
                done.outcome(),
                Err(RunError::Failed {
                    node: dag.find("fail").unwrap(),
                    error: 55
                })
            );
            // `fail` ran as the continuation of `root`; nothing started after it.
            let want: Vec<u32> = ["root", "fail"]
                .iter()
                .map(|n| dag.find(n).unwrap().index() as u32)
                .collect();
            assert_eq!(started_nodes(input), want, "input {input:#x}");
            for v in 0..dag.len() {
                let ran = done.ran(NodeId::from_index(v));
                assert_eq!(ran, v == 0, "node {v}");
            }
        } else {
            assert_eq!(done.outcome(), Ok(()));
            assert_eq!(
                started_nodes(input),
                (0..dag.len() as u32).collect::<Vec<_>>()
            );
        }
    }
    assert_eq!(n, inputs.len());
}

#[test]
fn backoff_retry_waits_for_its_tick() {
    let dag = retry_dag(2, 5);
    let tm = Box::new(Tm::new(&dag));
    let flaky = dag.find("flaky").unwrap();
    let input = 0x300 | 1;
    let id = tm.submit(input).unwrap();
    while tm.step() > 0 {}
    assert_eq!(starts_of(input, flaky), [(0, 0)]);
    assert!(tm.poll().is_none());
    for _ in 0..4 {
        tm.advance_tick(1);
        assert_eq!(tm.step(), 0, "the retry ran before its tick");
        assert_eq!(starts_of(input, flaky).len(), 1);
    }
    tm.advance_tick(1);
    while tm.step() > 0 {}
    assert_eq!(starts_of(input, flaky), [(0, 0), (1, 5)]);
    let done = tm.poll().expect("finished after the back-off");
    assert_eq!(done.id(), id);
    assert_eq!(done.outcome(), Ok(()));
    assert_eq!(tm.counters().retries, 1);
}

/// More runs than a batch (32) whose retries fall due at the same tick: `step` must run them
/// all without another tick ("0 means nothing is ready now").
#[test]
fn retries_due_at_the_same_tick_all_run_without_another_tick() {
    let dag = retry_dag(2, 1);
    let tm = Box::new(TaskManager::<u64, u64, u32, 8, 8, 64, 0, 64>::new(&dag));
    let runs = if cfg!(miri) { 34 } else { 40 };
    for i in 0..runs {
        tm.submit((0x1_0000 + (i << 8)) | 1).unwrap();
    }
    while tm.step() > 0 {}
    assert!(tm.poll().is_none());
    assert_eq!(tm.engine().deferred(), runs as usize);
    tm.advance_tick(1);
    while tm.step() > 0 {}
    let mut finished = 0;
    while let Some(done) = tm.poll() {
        assert_eq!(done.outcome(), Ok(()));
        finished += 1;
    }
    assert_eq!(
        finished,
        runs,
        "step() returned 0 with {} retries due (deferred: {})",
        runs - finished,
        tm.engine().deferred()
    );
}

/// Runtime workers (engines with a deque) look for due retries at most once per tick between
/// them, not on every idle `step`: a run cancelled while its retry waits, in a tick that was
/// already swept, is seen at the next tick (not when its back-off is over).
/// (An engine without a deque sees it at once: `cancel_skips_a_deferred_retry_without_waiting_for_its_tick`.)
#[test]
fn worker_engines_sweep_for_retries_once_per_tick_and_see_a_cancel_at_the_next() {
    let dag = retry_dag(3, 5);
    let tm = Box::new(Tm::new(&dag));
    let deques = [ringdag::sched::WorkerDeque::new()];
    // SAFETY: this thread alone uses `deques[0]`, with this manager's storage only.
    let worker = unsafe { tm.engine().with_worker(&deques, 0) };
    // Run A fails once, run B twice: both wait until tick 5.
    let (a, b) = (0x500 | 1, 0x510 | 2);
    let id_a = tm.submit(a).unwrap();
    let id_b = tm.submit(b).unwrap();
    while worker.step(&dag, 8) > 0 {}
    assert_eq!(worker.deferred(), 2, "both retries wait for tick 5");
    tm.advance_tick(5);
    // Tick 5's sweep: A's retry succeeds, B's fails again and waits until tick 10.
    while worker.step(&dag, 8) > 0 {}
    assert_eq!(
        tm.poll().map(|d| (d.id(), d.outcome())),
        Some((id_a, Ok(())))
    );
    assert_eq!(worker.deferred(), 1);
    assert_eq!(starts_of(b, dag.find("flaky").unwrap()), [(0, 0), (1, 5)]);
    tm.cancel(id_b).unwrap();
    // This tick's sweep is done: idle steps do not sweep again.
    for _ in 0..3 {
        assert_eq!(worker.step(&dag, 8), 0);
    }
    assert!(tm.poll().is_none());
    tm.advance_tick(1);
    while worker.step(&dag, 8) > 0 {}
    let done = tm.poll().expect("the cancelled run ended at the next tick");
    assert_eq!(done.id(), id_b);
    assert_eq!(done.outcome(), Err(RunError::Cancelled));
    assert_eq!(worker.deferred(), 0);
    assert_eq!(starts_of(b, dag.find("flaky").unwrap()).len(), 2);
}

/// More retries due at one tick than a batch holds: a worker engine's sweep that fills its
/// batch leaves the tick open for another, so all run without another tick.
#[test]
fn worker_engines_run_every_retry_due_at_a_tick_past_one_batch() {
    let dag = retry_dag(2, 1);
    let tm = Box::new(TaskManager::<u64, u64, u32, 8, 8, 64, 0, 64>::new(&dag));
    let deques = [ringdag::sched::WorkerDeque::new()];
    // SAFETY: this thread alone uses `deques[0]`, with this manager's storage only.
    let worker = unsafe { tm.engine().with_worker(&deques, 0) };
    let runs = if cfg!(miri) { 34 } else { 40 };
    for i in 0..runs {
        tm.submit((0x2_0000 + (i << 8)) | 1).unwrap();
    }
    while worker.step(&dag, 32) > 0 {}
    assert_eq!(worker.deferred(), runs as usize);
    tm.advance_tick(1);
    while worker.step(&dag, 32) > 0 {}
    let mut finished = 0;
    while let Some(done) = tm.poll() {
        assert_eq!(done.outcome(), Ok(()));
        finished += 1;
    }
    assert_eq!(finished, runs, "deferred: {}", worker.deferred());
}

/// A deferred retry and an overflowed entry parked at the same time: the overflowed one must
/// not use up the tick's scan for due retries.
#[test]
fn due_retry_runs_when_an_overflowed_entry_is_found_first() {
    // Ring of 2: the root's four successors do not fit, two of them are parked.
    let dag: Dag<u64, u64, u32, 8, 8> = DagBuilder::new()
        .task("root", ok)
        .task("flaky", flaky)
        .task("s1", ok)
        .task("s2", ok)
        .task("s3", ok)
        .task("s4", ok)
        .edge("root", "s1")
        .edge("root", "s2")
        .edge("root", "s3")
        .edge("root", "s4")
        .retry(
            "flaky",
            RetryPolicy {
                attempts: 2,
                backoff_ticks: 1,
            },
        )
        .build()
        .unwrap();
    let tm = Box::new(TaskManager::<u64, u64, u32, 8, 8, 2, 0, 2>::new(&dag));
    // A first good run puts the next submission in slot 1 and the one after in slot 0, so
    // that a scan meets B's overflowed entries (slot 0) before A's due retry (slot 1).
    let warm_up = one_shot(&tm, 0x600);
    assert_eq!(warm_up.outcome(), Ok(()));
    drop(warm_up);
    // Run A: `flaky` (a root) fails once and waits one tick.
    let a = tm.submit(0x700 | 1).unwrap();
    assert_eq!(a.slot(), 1);
    while tm.step() > 0 {}
    if let Some(done) = tm.poll() {
        panic!("{:?} finished early: {:?}", done.id(), done.outcome());
    }
    // Run B parks entries of the ring overflow; advance so A's retry is due, then drain.
    tm.advance_tick(1);
    let b = tm.submit(0x800).unwrap();
    assert_eq!(b.slot(), 0);
    while tm.step() > 0 {}
    let mut finished = 0;
    while let Some(done) = tm.poll() {
        assert_eq!(done.outcome(), Ok(()));
        finished += 1;
    }
    assert_eq!(finished, 2, "a due retry was left waiting for another tick");
}

// ---------------------------------------------------------------- timeouts and deadlines

/// Advances the manager's tick by the low byte of the input.
fn slow(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    let ticks = (*cx.input() & 0xff) as u32;
    // Slow only on the first attempt when bit 9 is set.
    if cx.attempt() == 0 || *cx.input() & 1 << 9 == 0 {
        TIMEOUT_TM.advance_tick(ticks);
    }
    Ok(3)
}

static TIMEOUT_DAG: Dag<u64, u64, u32, 4, 4> = Dag::new_or_panic(
    DagBuilder::new()
        .task("slow", slow)
        .task("next", ok)
        .edge("slow", "next")
        .timeout("slow", 5)
        .retry(
            "slow",
            RetryPolicy {
                attempts: 2,
                backoff_ticks: 0,
            },
        )
        .build(),
);
static TIMEOUT_TM: TaskManager<u64, u64, u32, 4, 4, 2, 0, 8> = TaskManager::new(&TIMEOUT_DAG);

#[test]
fn node_timeout_fails_with_timeout() {
    let tm = &TIMEOUT_TM;
    let (slow, next) = (
        TIMEOUT_DAG.find("slow").unwrap(),
        TIMEOUT_DAG.find("next").unwrap(),
    );
    // Within the timeout (5 ticks are allowed).
    let done = one_shot(tm, 0x1000 | 5);
    assert_eq!(done.outcome(), Ok(()));
    drop(done);
    // Late on both attempts: Timeout, `next` never starts.
    let input = 0x2000 | 6;
    let done = one_shot(tm, input);
    assert_eq!(done.outcome(), Err(RunError::Timeout { node: slow }));
    assert_eq!(starts_of(input, slow).len(), 2);
    assert!(starts_of(input, next).is_empty());
    assert!(!done.ran(slow));
    drop(done);
    // Late on the first attempt only: the retry succeeds.
    let input = 0x3000 | 1 << 9 | 50;
    let done = one_shot(tm, input);
    assert_eq!(done.outcome(), Ok(()));
    assert_eq!(starts_of(input, slow).len(), 2);
    assert_eq!(done.value(next), Some(4));
}

/// Advances the deadline manager's tick by the low byte of the input.
fn stall(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    DEADLINE_TM.advance_tick((*cx.input() & 0xff) as u32);
    Ok(1)
}

static DEADLINE_DAG: Dag<u64, u64, u32, 4, 4> = Dag::new_or_panic(
    DagBuilder::new()
        .task("a", stall)
        .task("b", ok)
        .task("c", ok)
        .edge("a", "b")
        .edge("b", "c")
        .build(),
);
static DEADLINE_TM: TaskManager<u64, u64, u32, 4, 4, 2, 0, 8> = TaskManager::new(&DEADLINE_DAG);

#[test]
fn run_deadline_exceeded() {
    let tm = &DEADLINE_TM;
    let opts = SubmitOptions {
        deadline_ticks: Some(5),
        ..SubmitOptions::default()
    };
    // In time.
    tm.submit_with(0x100 | 2, opts).unwrap();
    while tm.step() > 0 {}
    let done = tm.poll().unwrap();
    assert_eq!(done.outcome(), Ok(()));
    drop(done);
    // `a` takes 10 ticks: `b` and `c` never start.
    let input = 0x200 | 10;
    tm.submit_with(input, opts).unwrap();
    while tm.step() > 0 {}
    let done = tm.poll().unwrap();
    assert_eq!(done.outcome(), Err(RunError::DeadlineExceeded));
    assert_eq!(done.outcome().unwrap_err().node(), None);
    assert_eq!(started_nodes(input), [0]);
    assert!(done.ran(NodeId::from_index(0)));
    assert!(!done.ran(NodeId::from_index(1)));
    drop(done);
    // Without a deadline the same run succeeds.
    let done = one_shot(tm, 0x300 | 10);
    assert_eq!(done.outcome(), Ok(()));
}

/// A run whose deadline passes while its only remaining node waits for a long retry
/// back-off ends with `DeadlineExceeded` at the deadline, not when the back-off is over.
#[test]
fn deadline_ends_a_run_waiting_for_a_retry_back_off() {
    let dag = retry_dag(2, 1000);
    let tm = Box::new(Tm::new(&dag));
    let input = 0xb00 | 1;
    let opts = SubmitOptions {
        deadline_ticks: Some(5),
        ..SubmitOptions::default()
    };
    tm.submit_with(input, opts).unwrap();
    while tm.step() > 0 {}
    for _ in 0..10 {
        tm.advance_tick(1);
        while tm.step() > 0 {}
    }
    let done = tm.poll();
    assert!(
        done.as_ref()
            .is_some_and(|d| d.outcome() == Err(RunError::DeadlineExceeded)),
        "10 ticks past a 5-tick deadline the run is still waiting for its back-off: {:?}",
        done.map(|d| d.outcome())
    );
    assert_eq!(starts_of(input, dag.find("flaky").unwrap()).len(), 1);
}

// ---------------------------------------------------------------- cancel and pause

/// Cancels its own run when bit 8 of the input is set; then fails when bit 9 is set too (a
/// node that was running when its run was cancelled, and fails).
fn cancel_self(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    if *cx.input() & 1 << 8 != 0 {
        assert_eq!(CANCEL_TM.cancel(cx.run()), Ok(()));
        if *cx.input() & 1 << 9 != 0 {
            return Err(5);
        }
    }
    Ok(2)
}

static CANCEL_DAG: Dag<u64, u64, u32, 4, 4> = Dag::new_or_panic(
    DagBuilder::new()
        .task("a", ok)
        .task("b", cancel_self)
        .task("c", ok)
        .task("d", ok)
        .edge("a", "b")
        .edge("b", "c")
        .edge("c", "d")
        // A failure of `b` would be retried, unless its run has stopped meanwhile.
        .retry(
            "b",
            RetryPolicy {
                attempts: 3,
                backoff_ticks: 0,
            },
        )
        .build(),
);
static CANCEL_TM: TaskManager<u64, u64, u32, 4, 4, 2, 0, 8> = TaskManager::new(&CANCEL_DAG);

#[test]
fn cancel_skips_nodes_not_started() {
    let tm = &CANCEL_TM;
    // Cancelled before any step: nothing starts.
    let input = 0x1000;
    let id = tm.submit(input).unwrap();
    assert_eq!(tm.cancel(id), Ok(()));
    while tm.step() > 0 {}
    let done = tm.poll().unwrap();
    assert_eq!(done.id(), id);
    assert_eq!(done.outcome(), Err(RunError::Cancelled));
    assert!(started_nodes(input).is_empty());
    drop(done);
    assert_eq!(tm.cancel(id), Err(CancelError::NotActive), "finished run");
    // Cancelled from inside `b`: a and b ran, c and d were skipped.
    let input = 0x2000 | 1 << 8;
    let id = tm.submit(input).unwrap();
    while tm.step() > 0 {}
    let done = tm.poll().unwrap();
    assert_eq!(done.outcome(), Err(RunError::Cancelled));
    assert_eq!(started_nodes(input), [0, 1]);
    assert!(done.ran(NodeId::from_index(1)));
    assert!(!done.ran(NodeId::from_index(2)));
    drop(done);
    assert_eq!(tm.cancel(id), Err(CancelError::NotActive), "stale id");
    // The slot is reused by a good run; the stale id does not cancel it.
    let fresh = tm.submit(0x3000).unwrap();
    assert_eq!(tm.cancel(id), Err(CancelError::NotActive));
    while tm.step() > 0 {}
    let done = tm.poll().unwrap();
    assert_eq!(done.id(), fresh);
    assert_eq!(done.outcome(), Ok(()));
    drop(done);
    // Cancelled from inside `b`, which then fails: the cancel came first, so the run ends
    // cancelled (and is counted so), not failed; `b`'s retry policy schedules no retry in a
    // run that has stopped (none counted, `b` started once, and failed for good).
    let before = tm.counters();
    let input = 0x4000 | 1 << 8 | 1 << 9;
    tm.submit(input).unwrap();
    while tm.step() > 0 {}
    let done = tm.poll().unwrap();
    assert_eq!(done.outcome(), Err(RunError::Cancelled));
    assert_eq!(started_nodes(input), [0, 1]);
    drop(done);
    let after = tm.counters();
    assert_eq!(after.runs_cancelled, before.runs_cancelled + 1);
    assert_eq!(after.runs_failed, before.runs_failed);
    assert_eq!(
        after.retries, before.retries,
        "a retry scheduled in a stopped run"
    );
    assert_eq!(after.failures, before.failures + 1, "b failed for good");
    assert!(tm.counters().runs_cancelled >= 3);
}

/// Cancel "skips what has not started": a run whose only remaining node waits for a retry
/// back-off of 1000 ticks must end as `Cancelled` without waiting for those ticks.
#[test]
fn cancel_skips_a_deferred_retry_without_waiting_for_its_tick() {
    let dag = retry_dag(2, 1000);
    let tm = Box::new(Tm::new(&dag));
    let input = 0x900 | 1;
    let id = tm.submit(input).unwrap();
    while tm.step() > 0 {}
    assert_eq!(tm.cancel(id), Ok(()));
    while tm.step() > 0 {}
    let done = tm.poll();
    assert!(
        done.as_ref()
            .is_some_and(|d| d.outcome() == Err(RunError::Cancelled)),
        "cancelled run still waiting for its back-off tick: {:?}",
        done.map(|d| d.outcome())
    );
    assert_eq!(starts_of(input, dag.find("flaky").unwrap()).len(), 1);
}

#[test]
fn pause_stops_step_and_resume_continues() {
    let dag = retry_dag(1, 0);
    let tm = Box::new(Tm::new(&dag));
    tm.pause();
    let input = 0xa00;
    let id = tm.submit(input).expect("submit works while paused");
    for _ in 0..3 {
        assert_eq!(tm.step(), 0);
    }
    assert!(started_nodes(input).is_empty());
    assert!(tm.poll().is_none());
    tm.resume();
    assert!(tm.step() > 0);
    while tm.step() > 0 {}
    let done = tm.poll().unwrap();
    assert_eq!(done.id(), id);
    assert_eq!(done.outcome(), Ok(()));
    assert_eq!(started_nodes(input), [0, 1, 2]);
}

/// Pauses `CHAIN_PAUSE_TM` when it runs for an input with bit 0 clear.
fn pauses(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    if *cx.input() & 1 == 0 {
        CHAIN_PAUSE_TM.pause();
    }
    Ok(1)
}

/// A chain whose second node pauses its manager.
static CHAIN_PAUSE_DAG: Dag<u64, u64, u32, 4, 3> = Dag::new_or_panic(
    DagBuilder::new()
        .task("a", ok)
        .task("p", pauses)
        .task("c", ok)
        .task("d", ok)
        .edge("a", "p")
        .edge("p", "c")
        .edge("c", "d")
        .build(),
);
static CHAIN_PAUSE_TM: TaskManager<u64, u64, u32, 4, 3, 2, 0, 16> =
    TaskManager::new(&CHAIN_PAUSE_DAG);

/// `pause` from inside a body: nothing starts after it, neither the chain's next node (which
/// the same `step` would otherwise run at once) nor another run's root popped in the same
/// batch. Both are queued, not lost: after `resume` every node runs once.
#[test]
fn pause_stops_a_running_chain_and_the_rest_of_its_batch() {
    let tm = &CHAIN_PAUSE_TM;
    let (x, y) = (0xb00, 0xb01);
    let ids = [tm.submit(x).unwrap(), tm.submit(y).unwrap()];
    // One step pops both roots: `x`'s `a`, then its chain to `p`, which pauses.
    assert!(tm.step() > 0);
    assert!(tm.is_paused());
    assert_eq!(
        started_nodes(x),
        [0, 1],
        "x's chain went on after the pause"
    );
    assert_eq!(
        started_nodes(y),
        [0u32; 0],
        "y's root started after the pause"
    );
    assert_eq!(tm.step(), 0);
    assert!(tm.poll().is_none());
    tm.resume();
    while tm.step() > 0 {}
    let mut done = [tm.poll().unwrap(), tm.poll().unwrap()];
    done.sort_by_key(|d| d.id().to_bits());
    let mut want = ids;
    want.sort_by_key(|id| id.to_bits());
    for (d, id) in done.iter().zip(want) {
        assert_eq!(d.id(), id);
        assert_eq!(d.outcome(), Ok(()));
    }
    assert_eq!(started_nodes(x), [0, 1, 2, 3]);
    assert_eq!(started_nodes(y), [0, 1, 2, 3]);
}

// ---------------------------------------------------------------- multi-threaded

const MT_RUNS: usize = if cfg!(miri) { 8 } else { 4000 };
const MT_NODES: usize = 9;

/// Starts per (run, node).
fn mt_starts() -> &'static [AtomicU8] {
    static S: OnceLock<Vec<AtomicU8>> = OnceLock::new();
    S.get_or_init(|| (0..MT_RUNS * MT_NODES).map(|_| AtomicU8::new(0)).collect())
}

fn mt_ok(cx: &mut Cx<'_>) -> Result<u64, u32> {
    mt_starts()[*cx.input() as usize * MT_NODES + cx.node().index()].fetch_add(1, Relaxed);
    Ok(cx.inputs().map(|(_, v)| v).sum::<u64>() + 1)
}

/// Fails for runs divisible by 5.
fn mt_fail(cx: &mut Cx<'_>) -> Result<u64, u32> {
    mt_starts()[*cx.input() as usize * MT_NODES + cx.node().index()].fetch_add(1, Relaxed);
    if *cx.input() % 5 == 0 {
        Err(*cx.input() as u32)
    } else {
        Ok(1)
    }
}

static MT_DAG: Dag<u64, u64, u32, 16, 16> = Dag::new_or_panic(
    DagBuilder::new()
        .task("root", mt_ok) // 0
        .task("x1", mt_ok) // 1
        .task("x2", mt_ok) // 2
        .task("mid", mt_fail) // 3
        .task("d1", mt_ok) // 4: downstream of mid
        .task("d2", mt_ok) // 5: downstream of mid
        .task("y1", mt_ok) // 6
        .task("y2", mt_ok) // 7
        .task("end", mt_ok) // 8: downstream of mid
        .edge("root", "x1")
        .edge("root", "x2")
        .edge("x1", "mid")
        .edge("x2", "mid")
        .edge("mid", "d1")
        .edge("mid", "d2")
        .edge("d1", "end")
        .edge("d2", "end")
        .edge("root", "y1")
        .edge("y1", "y2")
        .edge("y2", "end")
        .build(),
);

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
fn failed_runs_do_not_affect_others_multi_thread() {
    let tm: Box<TaskManager<'static, u64, u64, u32, 16, 16, 16, 0, 64>> =
        Box::new(TaskManager::new(&MT_DAG));
    let tm = &*tm;
    let stop = AtomicBool::new(false);
    let mid = MT_DAG.find("mid").unwrap();
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
        let mut finished = 0;
        let mut last = Instant::now();
        while finished < MT_RUNS {
            if (next as usize) < MT_RUNS && tm.submit(next).is_ok() {
                next += 1;
            }
            while let Some(done) = tm.poll() {
                let run = done.input();
                if run % 5 == 0 {
                    assert_eq!(
                        done.outcome(),
                        Err(RunError::Failed {
                            node: mid,
                            error: run as u32
                        })
                    );
                } else {
                    assert_eq!(done.outcome(), Ok(()), "run {run}");
                    assert_eq!(done.value(NodeId::from_index(8)), Some(8), "run {run}");
                }
                finished += 1;
                last = Instant::now();
            }
            assert!(
                last.elapsed() < Duration::from_secs(20),
                "stalled: {finished} of {MT_RUNS}, {:?}",
                tm.counters()
            );
            idle();
        }
    });
    for run in 0..MT_RUNS {
        let s = &mt_starts()[run * MT_NODES..(run + 1) * MT_NODES];
        for (v, n) in s.iter().enumerate() {
            let n = n.load(Relaxed);
            let downstream = matches!(v, 4 | 5 | 8);
            if run % 5 == 0 && downstream {
                assert_eq!(n, 0, "run {run}: node {v} started after the failure");
            } else if run % 5 != 0 || matches!(v, 0..=3) {
                // Good runs: every node once; failed runs: everything up to `mid` once.
                assert_eq!(n, 1, "run {run}: node {v}");
            } else {
                assert!(n <= 1, "run {run}: node {v} started {n} times");
            }
        }
    }
    let c = tm.counters();
    assert_eq!(c.runs_failed, MT_RUNS.div_ceil(5));
    assert_eq!(c.runs_completed, MT_RUNS - MT_RUNS.div_ceil(5));
    assert_eq!(c.failures, MT_RUNS.div_ceil(5));
}

/// `next_retry_in` tells a driver how long it may sleep: the ticks until the earliest retry
/// waiting out its back-off, across runs, and `None` once none waits. Steps in between start
/// nothing (the retries are not due).
#[test]
fn next_retry_in_counts_down_to_the_earliest_waiting_retry() {
    let (long, short) = (retry_dag(2, 9), retry_dag(2, 4));
    let (tm_long, tm_short) = (Box::new(Tm::new(&long)), Box::new(Tm::new(&short)));
    assert_eq!(tm_long.next_retry_in(), None, "nothing waits yet");
    // Two runs in one manager: back-off 9 from tick 0, then (same DAG) a second run failing
    // at tick 3 is due at 12; the earliest is 9.
    let first = tm_long.submit(0xb00 | 1).unwrap();
    while tm_long.step() > 0 {}
    assert_eq!(tm_long.next_retry_in(), Some(9));
    tm_long.advance_tick(3);
    assert_eq!(tm_long.next_retry_in(), Some(6));
    let second = tm_long.submit(0xc00 | 1).unwrap();
    while tm_long.step() > 0 {}
    assert_eq!(
        tm_long.next_retry_in(),
        Some(6),
        "the earlier retry still comes first"
    );
    tm_long.advance_tick(5);
    assert_eq!(tm_long.step(), 0, "not due yet");
    assert_eq!(tm_long.next_retry_in(), Some(1));
    tm_long.advance_tick(1);
    while tm_long.step() > 0 {}
    assert_eq!(tm_long.poll().map(|d| d.id()), Some(first));
    assert_eq!(
        tm_long.next_retry_in(),
        Some(3),
        "the sweep that took the first retry left the hint at the second"
    );
    tm_long.advance_tick(3);
    while tm_long.step() > 0 {}
    let done = tm_long
        .poll()
        .expect("the second run ended when its retry was due");
    assert_eq!((done.id(), done.outcome()), (second, Ok(())));
    assert_eq!(tm_long.next_retry_in(), None);
    // A run's cancel makes its waiting retry due now.
    let id = tm_short.submit(0xd00 | 1).unwrap();
    while tm_short.step() > 0 {}
    assert_eq!(tm_short.next_retry_in(), Some(4));
    tm_short.cancel(id).unwrap();
    assert_eq!(tm_short.next_retry_in(), Some(0));
}

/// The run fails for good while another of its nodes waits out a long back-off: that retry
/// is skipped at once (the failure makes it due), not after the back-off.
#[test]
fn a_failure_ends_the_run_without_waiting_for_its_other_retries() {
    let dag: Dag<u64, u64, u32, 8, 8> = DagBuilder::new()
        .task("root", ok)
        .task("flaky", flaky)
        .task("bad", fail_if)
        .edge("root", "flaky")
        .edge("root", "bad")
        .retry(
            "flaky",
            RetryPolicy {
                attempts: 2,
                backoff_ticks: 1000,
            },
        )
        .build()
        .unwrap();
    let tm = Box::new(Tm::new(&dag));
    let input = 0xe00 | 1 << 8 | 1;
    let id = tm.submit(input).unwrap();
    // No tick passes.
    while tm.step() > 0 {}
    let done = tm
        .poll()
        .expect("the failed run ended without waiting 1000 ticks");
    assert_eq!(done.id(), id);
    assert_eq!(
        done.outcome(),
        Err(RunError::Failed {
            node: dag.find("bad").unwrap(),
            error: 55
        })
    );
    assert_eq!(starts_of(input, dag.find("flaky").unwrap()).len(), 1);
    assert_eq!(tm.next_retry_in(), None);
}

/// A run deadline before a retry's due tick: the retry is looked at when the deadline passes
/// (and skipped), not when its back-off is over.
#[test]
fn a_deadline_before_a_retry_ends_the_run_at_the_deadline() {
    let dag = retry_dag(2, 1000);
    let tm = Box::new(Tm::new(&dag));
    let input = 0xf00 | 1;
    let opts = SubmitOptions {
        deadline_ticks: Some(5),
        ..SubmitOptions::default()
    };
    let id = tm.submit_with(input, opts).unwrap();
    while tm.step() > 0 {}
    assert_eq!(
        tm.next_retry_in(),
        Some(5),
        "the deadline comes before the retry"
    );
    tm.advance_tick(5);
    while tm.step() > 0 {}
    let done = tm.poll().expect("the run ended at its deadline");
    assert_eq!(
        (done.id(), done.outcome()),
        (id, Err(RunError::DeadlineExceeded))
    );
    assert_eq!(starts_of(input, dag.find("flaky").unwrap()).len(), 1);
}

/// The longest back-off (`u32::MAX`, which counts as 2^30 - 1 ticks) beside a short one: the
/// short retry runs when due, the long one neither early (half-way) nor never.
#[test]
fn the_longest_back_off_waits_its_full_horizon_beside_a_short_one() {
    let dag: Dag<u64, u64, u32, 8, 8> = DagBuilder::new()
        .task("root", ok)
        .task("long", flaky)
        .task("short", flaky)
        .edge("root", "long")
        .edge("root", "short")
        .retry(
            "long",
            RetryPolicy {
                attempts: 2,
                backoff_ticks: u32::MAX,
            },
        )
        .retry(
            "short",
            RetryPolicy {
                attempts: 2,
                backoff_ticks: 3,
            },
        )
        .build()
        .unwrap();
    let tm = Box::new(Tm::new(&dag));
    let input = 0x1100 | 1;
    tm.advance_tick(7);
    let id = tm.submit(input).unwrap();
    while tm.step() > 0 {}
    assert_eq!(tm.next_retry_in(), Some(3));
    tm.advance_tick(3);
    while tm.step() > 0 {}
    let (long, short) = (dag.find("long").unwrap(), dag.find("short").unwrap());
    assert_eq!(starts_of(input, short), [(0, 7), (1, 10)]);
    let horizon = (1u32 << 30) - 1;
    assert_eq!(tm.next_retry_in(), Some(horizon - 3));
    tm.advance_tick(1 << 29);
    while tm.step() > 0 {}
    assert_eq!(starts_of(input, long), [(0, 7)], "not started half-way");
    assert!(tm.poll().is_none());
    tm.advance_tick(horizon - 3 - (1 << 29));
    while tm.step() > 0 {}
    assert_eq!(starts_of(input, long), [(0, 7), (1, 7 + horizon)]);
    let done = tm.poll().expect("the run ended");
    assert_eq!((done.id(), done.outcome()), (id, Ok(())));
}
