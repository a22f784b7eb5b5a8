//! loom models of the scheduler's completion paths.
//!
//! - `join_resolved_by_two_workers`: two workers each resolve one predecessor of a join
//!   (batch size 1, so each takes one root); whichever resolves last must see the other's
//!   value, the join runs exactly once with both inputs, and the run completes once.
//! - `stale_iterator_token_does_not_touch_the_next_run`: a run of an iterator with 2 items
//!   leaves a spare body token in the task ring (the continuation processed both items);
//!   another worker pops the spare token while the main thread takes run 1's result and puts
//!   run 2 in the only slot as soon as it is free. The spare token must not claim items of
//!   run 2, nor read its input or items without happens-before (loom's `UnsafeCell` tracking
//!   reports such an access as a causality violation); run 2's result must be right.
//! - `completion_races_poll_with_full_result_ring`: the result ring is full when a worker
//!   completes a run, so the run is marked unlisted for `poll`'s scan, while the main thread
//!   polls concurrently: every run is delivered exactly once, with its values visible.
//! - `racing_unparkers_keep_a_retry_live`: two workers scan for the same parked (overflowed)
//!   entry; one claims and runs it, it fails and is parked again for a retry with back-off.
//!   The other worker's late claim attempt must not clear the new park's LIVE and attempt
//!   bits (which would make the retry a skip: the node silently not run, the run `Ok`).
//! - `deferred_retry_not_claimed_before_its_tick`: one worker runs a node that fails and
//!   parks it for a retry one tick later; another worker scans concurrently. The scanner
//!   must not take the retry before its tick (it must see the due tick written with the
//!   park, not an older value of the cell's `aux`).
//! - `cancel_during_a_sweep_is_not_lost`: a worker sweeps for due retries while the main
//!   thread cancels the run whose only remaining node waits for a long back-off. Cancel makes
//!   that retry due at once (to be skipped); the concurrent sweep, which may have looked at
//!   the cell before the cancel, must not mark the tick as fully swept over the cancel's
//!   request, or the cancelled run waits for the next tick.
//! - `retry_parked_during_a_sweep_keeps_the_hint`: one worker parks a retry while another
//!   sweeps for due ones (which resets the hint of the earliest due tick and lowers it again
//!   for what it leaves waiting): the hint must not end past the new retry's due tick, or no
//!   later step looks for it.
//! - `retry_parked_during_an_overflow_sweep_keeps_the_hint`: the same, for a sweep that
//!   starts (for an entry parked for lack of ring space) before the hint is reached: a
//!   lowering after it read the hint must not be overwritten by what it publishes.
//! - `a_sweep_s_stale_claim_does_not_skip_the_next_run_s_back_off`: a worker sweeps for a
//!   due retry while the main thread runs it first (the run fails), takes the result, and
//!   submits the next run into the same slot, whose node fails and is parked for a retry one
//!   tick later. The parked word is then bit for bit what the sweep read for the first run:
//!   the sweep's claim may succeed, but the retry must still wait for its tick.
//! - `pause_hands_an_iterator_token_back_and_every_item_runs_once`: a worker runs an
//!   iterator's items while another thread pauses and resumes the manager; a token that sees
//!   the pause goes back to the ring with its reference. The run ends `Ok` once, with each
//!   item run once.
//! - `stolen_successor_runs_once_with_its_inputs_visible`: two workers with work-stealing
//!   deques step a diamond; the successor pushed onto one worker's deque may be stolen by the
//!   other. Every node runs once, the join sees both values, the run completes once.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p ringdag-core --release
//! --test loom_sched --target-dir target/loom`.
//!
//! `Finished::items` / `Context::items` are not used: under loom `ItemCell` wraps loom's
//! `UnsafeCell`, which is not layout-compatible with `V`, so the slice cast they do is
//! invalid there. Bodies check their items themselves.
#![cfg(loom)]

mod common;

use common::{assert_reached, explore};
use loom::sync::Arc;
use loom::thread;
use ringdag_core::dag::{Dag, DagBuilder, NodeId, RetryPolicy};
use ringdag_core::sched::{Context, Priority, RunError, SubmitOptions, TaskManager};

type Cx<'a> = Context<'a, u32, u32>;

/// Two threads each run one `step` of `batch` on their own engine over `tm` (no deques);
/// returns what each executed, once both are joined.
fn step_on_two_threads<
    const NODES: usize,
    const EDGES: usize,
    const RUNS: usize,
    const ITEMS: usize,
    const RING: usize,
>(
    tm: &Arc<TaskManager<'static, u32, u32, (), NODES, EDGES, RUNS, ITEMS, RING>>,
    batch: usize,
) -> Vec<usize> {
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let tm = tm.clone();
            thread::spawn(move || tm.engine().step(tm.dag(), batch))
        })
        .collect();
    workers.into_iter().map(|w| w.join().unwrap()).collect()
}

const LOW: SubmitOptions = SubmitOptions {
    priority: Priority::Low,
    deadline_ticks: None,
};

fn leaf(cx: &mut Cx<'_>) -> Result<u32, ()> {
    Ok(*cx.input() + cx.node().index() as u32 + 1)
}

fn join(cx: &mut Cx<'_>) -> Result<u32, ()> {
    let seen: Vec<(NodeId, u32)> = cx.inputs().collect();
    assert_eq!(
        seen.len(),
        2,
        "the join must see both predecessors: {seen:?}"
    );
    Ok(seen.iter().map(|(_, v)| v).sum::<u32>() * 10)
}

static JOIN_DAG: Dag<u32, u32, (), 4, 4> = Dag::new_or_panic(
    DagBuilder::new()
        .task("a", leaf)
        .task("b", leaf)
        .task("j", join)
        .edge("a", "j")
        .edge("b", "j")
        .build(),
);

#[test]
fn join_resolved_by_two_workers() {
    loom::model(|| {
        let tm: Arc<TaskManager<'static, u32, u32, (), 4, 4, 1, 0, 4>> =
            Arc::new(TaskManager::new(&JOIN_DAG));
        let id = tm.submit(100).unwrap();
        let done_by_workers: usize = step_on_two_threads(&tm, 1).iter().sum();
        // Whatever the workers left (a root one of them did not get).
        let mut rest = 0;
        loop {
            let n = tm.step();
            if n == 0 {
                break;
            }
            rest += n;
        }
        assert_eq!(done_by_workers + rest, 3);
        let done = tm.poll().expect("the run completed");
        assert_eq!(done.id(), id);
        assert_eq!(done.outcome(), Ok(()));
        assert_eq!(done.value(NodeId::from_index(0)), Some(101));
        assert_eq!(done.value(NodeId::from_index(1)), Some(102));
        assert_eq!(done.value(NodeId::from_index(2)), Some(2030));
        assert_eq!(tm.counters().tasks_run, 3);
        assert_eq!(tm.counters().runs_completed, 1);
        drop(done);
        assert!(tm.poll().is_none());
    });
}

/// Chooses branch 0 for inputs below 150, the default branch otherwise.
fn gate(cx: &mut Cx<'_>) -> Result<u32, ()> {
    if *cx.input() < 150 {
        cx.choose(0);
    }
    Ok(0)
}

/// Joins the two branches: exactly one input, the taken branch's.
fn join_live(cx: &mut Cx<'_>) -> Result<u32, ()> {
    let seen: Vec<(NodeId, u32)> = cx.inputs().collect();
    assert_eq!(
        seen.len(),
        1,
        "a skipped branch's stale value was seen: {seen:?}"
    );
    Ok(seen.iter().map(|(_, v)| v).sum::<u32>() * 10)
}

/// g -(0)-> x, g -(default)-> y; x and y join in j (two predecessors).
static REUSE_DAG: Dag<u32, u32, (), 4, 4> = Dag::new_or_panic(
    DagBuilder::new()
        .condition("g", gate)
        .task("x", leaf)
        .task("y", leaf)
        .task("j", join_live)
        .branch("g", "x", 0)
        .default_branch("g", "y")
        .edge("x", "j")
        .edge("y", "j")
        .build(),
);

type ReuseTm = TaskManager<'static, u32, u32, (), 4, 4, 1, 0, 4>;

/// A slot's cells are not cleared between runs: the worker that takes the join's counter to
/// zero sets it back (a Relaxed store), and `DONE` carries the run's tag. Two runs in one
/// slot (generations 0 and 1: no full clear between them) take different branches: the
/// second must find the join's counter re-armed, and must not see the first run's `x` (its
/// `DONE` is still in the cell) as done, nor give its value to the join. A worker keeps stepping while the main thread takes
/// the first run and submits the second, so either thread may re-arm the counter and either
/// may run nodes of the second run.
#[test]
fn join_counter_is_rearmed_for_the_next_run_in_the_slot() {
    let outcomes = explore(|| {
        let tm: Arc<ReuseTm> = Arc::new(TaskManager::new(&REUSE_DAG));
        let first = tm.submit(100).unwrap();
        let worker = {
            let tm = tm.clone();
            thread::spawn(move || {
                // Until both runs are done (taking results is the main thread's).
                let mut executed = 0;
                while tm.counters().runs_completed < 2 {
                    match tm.engine().step(tm.dag(), 1) {
                        0 => thread::yield_now(),
                        n => executed += n,
                    }
                }
                executed
            })
        };
        let [x, y, j] = [1, 2, 3].map(NodeId::from_index);
        let done = finish(&tm);
        assert_eq!(done.id(), first);
        assert_eq!(done.outcome(), Ok(()));
        assert!(done.ran(x) && !done.ran(y));
        assert_eq!(done.value(j), Some(102 * 10));
        drop(done);
        let second = tm.submit(200).unwrap();
        assert_eq!((second.slot(), second.generation()), (0, 1));
        let done = finish(&tm);
        assert_eq!(done.id(), second);
        assert_eq!(done.outcome(), Ok(()));
        assert!(!done.ran(x), "the first run's x counted as this run's");
        assert_eq!(done.value(x), None);
        assert_eq!(done.value(y), Some(203));
        assert_eq!(done.value(j), Some(203 * 10));
        drop(done);
        let by_worker = worker.join().unwrap();
        // g, one branch, j per run.
        assert_eq!(tm.counters().tasks_run, 6);
        by_worker
    });
    // Each run resolves 4 nodes (one branch skipped): more than 4 means the worker ran nodes
    // of both runs.
    assert_reached(&outcomes, "the worker ran nodes of both runs", |&n| n > 4);
}

/// Steps `tm` until `poll` hands over a finished run.
fn finish(tm: &ReuseTm) -> ringdag_core::sched::Finished<'_, u32, u32, ()> {
    loop {
        if let Some(done) = tm.poll() {
            return done;
        }
        if tm.step() == 0 {
            thread::yield_now();
        }
    }
}

/// Emits items `input * 100 + k`, k = 0, 1.
fn split(cx: &mut Cx<'_>) -> Result<u32, ()> {
    let input = *cx.input();
    for k in 0..2 {
        cx.emit(input * 100 + k).map_err(|_| ())?;
    }
    Ok(input)
}

/// Checks that its item belongs to its run and index.
fn body(cx: &mut Cx<'_>) -> Result<u32, ()> {
    let (i, item) = cx.item().expect("an item");
    assert_eq!(
        item,
        *cx.input() * 100 + i as u32,
        "item {i} of another run (or stale)"
    );
    Ok(item)
}

static ITER_DAG: Dag<u32, u32, (), 2, 1> = Dag::new_or_panic(
    DagBuilder::new()
        .iterator("split", split, 2)
        .body("split", "each", body)
        .build(),
);

#[test]
fn stale_iterator_token_does_not_touch_the_next_run() {
    loom::model(|| {
        let tm: Arc<TaskManager<'static, u32, u32, (), 2, 1, 1, 2, 4>> =
            Arc::new(TaskManager::new(&ITER_DAG));
        // Run 1, one step: the iterator fans out (one spare token pushed to the ring), the
        // continuation processes both items. The spare token stays in the ring.
        tm.submit(1).unwrap();
        tm.step();
        assert_eq!(tm.engine().ring_depths(), [1, 0], "the spare token");

        // Another worker pops the spare token while the main thread finishes run 1 (if it can
        // already) and puts run 2 in the only slot as soon as it is free.
        let worker = {
            let tm = tm.clone();
            thread::spawn(move || tm.engine().step(tm.dag(), 1))
        };
        let mut finished = Vec::new();
        let mut second_in = false;
        for _ in 0..3 {
            if let Some(done) = tm.poll() {
                finished.push((
                    done.input(),
                    done.outcome(),
                    done.value(NodeId::from_index(0)),
                ));
            }
            if !second_in && tm.submit(2).is_ok() {
                second_in = true;
            }
            tm.step();
            thread::yield_now();
        }
        worker.join().unwrap();
        for _ in 0..4 {
            while tm.step() > 0 {}
            if let Some(done) = tm.poll() {
                finished.push((
                    done.input(),
                    done.outcome(),
                    done.value(NodeId::from_index(0)),
                ));
            }
            if !second_in && tm.submit(2).is_ok() {
                second_in = true;
            }
        }
        assert!(second_in, "the slot was never freed");
        assert_eq!(finished, [(1, Ok(()), Some(1)), (2, Ok(()), Some(2))]);
        assert_eq!(
            tm.counters().tasks_run,
            2 * 3,
            "each run: iterator + 2 items"
        );
    });
}

#[test]
fn pause_hands_an_iterator_token_back_and_every_item_runs_once() {
    let outcomes = explore(|| {
        let tm: Arc<TaskManager<'static, u32, u32, (), 2, 1, 1, 2, 4>> =
            Arc::new(TaskManager::new(&ITER_DAG));
        tm.submit(3).unwrap();
        // A worker steps the run (the iterator fans out: one spare token to the ring, the
        // other continues with the items) while another thread pauses and resumes.
        let pauser = {
            let tm = tm.clone();
            thread::spawn(move || {
                tm.pause();
                tm.resume();
            })
        };
        let worker = {
            let tm = tm.clone();
            thread::spawn(move || tm.engine().step(tm.dag(), 1))
        };
        pauser.join().unwrap();
        worker.join().unwrap();
        // The spare token, plus the continuing one if it went back to the ring on the pause.
        let queued = tm.engine().ring_depths()[0];
        let mut done = None;
        for _ in 0..4 {
            tm.step();
            if let Some(d) = tm.poll() {
                done = Some((d.outcome(), d.value(NodeId::from_index(0))));
                break;
            }
        }
        assert_eq!(
            done,
            Some((Ok(()), Some(3))),
            "the run did not end, or failed"
        );
        // No token is left: each holds a reference, so none can outlive the run (a stray one
        // would drop a reference it does not hold, which a debug assertion in `item_done`
        // catches, or run an item twice).
        while tm.step() > 0 {}
        assert_eq!(tm.engine().ring_depths(), [0, 0]);
        assert_eq!(
            tm.counters().tasks_run,
            3,
            "iterator + each of 2 items once"
        );
        queued
    });
    assert_reached(
        &outcomes,
        "the token went back to the ring on the pause",
        |&q| q == 2,
    );
}

static CHAIN_DAG: Dag<u32, u32, (), 2, 1> = Dag::new_or_panic(
    DagBuilder::new()
        .task("a", leaf)
        .task("b", leaf)
        .edge("a", "b")
        .build(),
);

#[test]
fn completion_races_poll_with_full_result_ring() {
    loom::model(|| {
        // Result ring of 2, three run slots.
        let tm: Arc<TaskManager<'static, u32, u32, (), 2, 1, 3, 0, 2>> =
            Arc::new(TaskManager::new(&CHAIN_DAG));
        let mut ids = Vec::new();
        for input in [10, 20] {
            ids.push(tm.submit(input).unwrap());
            while tm.step() > 0 {}
        }
        // Both ids are in the (full) result ring; run 3 is completed by the worker.
        ids.push(tm.submit(30).unwrap());
        let worker = {
            let tm = tm.clone();
            thread::spawn(move || tm.step())
        };
        let mut got = Vec::new();
        for _ in 0..3 {
            if let Some(done) = tm.poll() {
                got.push((done.id(), done.input(), done.value(NodeId::from_index(1))));
            }
            thread::yield_now();
        }
        assert_eq!(worker.join().unwrap(), 2);
        while let Some(done) = tm.poll() {
            got.push((done.id(), done.input(), done.value(NodeId::from_index(1))));
        }
        got.sort_by_key(|g| g.1);
        let want: Vec<_> = ids
            .iter()
            .zip([10u32, 20, 30])
            .map(|(&id, input)| (id, input, Some(input + 2)))
            .collect();
        assert_eq!(got, want);
        assert!(tm.poll().is_none());
    });
}

/// Fails on its first attempt.
fn fail_once(cx: &mut Cx<'_>) -> Result<u32, ()> {
    if cx.attempt() == 0 {
        Err(())
    } else {
        Ok(77)
    }
}

static PARK_DAG: Dag<u32, u32, (), 4, 4> = Dag::new_or_panic(
    DagBuilder::new()
        .task("root", leaf)
        .task("y", leaf)
        .task("z", leaf)
        .task("x", fail_once)
        .edge("root", "y")
        .edge("root", "z")
        .edge("root", "x")
        .retry(
            "x",
            RetryPolicy {
                attempts: 2,
                backoff_ticks: 1,
            },
        )
        .build(),
);

#[test]
fn racing_unparkers_keep_a_retry_live() {
    loom::model(|| {
        // Task ring of 1: `root` resolves y (continued directly), z (pushed, fills the
        // ring) and x (parked as overflow). Low priority, so that successors go through the
        // ring rather than staying with the worker.
        let tm: Arc<TaskManager<'static, u32, u32, (), 4, 4, 1, 0, 1>> =
            Arc::new(TaskManager::new(&PARK_DAG));
        let id = tm.submit_with(5, LOW).unwrap();
        tm.engine().step(tm.dag(), 1); // root, y
        assert!(tm.counters().ring_full >= 1, "x is parked");
        for _ in 0..2 {
            if tm.engine().ring_depths() != [0, 0] {
                tm.engine().step(tm.dag(), 1); // z
            }
        }
        assert_eq!(tm.engine().ring_depths(), [0, 0]);
        assert_eq!(tm.counters().tasks_run, 3, "root, y, z; x still parked");
        // Two workers find the rings empty and scan for x.
        step_on_two_threads(&tm, 1);
        // x failed once and waits one tick for its retry.
        tm.advance_tick(1);
        while tm.step() > 0 {}
        let done = tm.poll().expect("the run completed");
        assert_eq!(done.id(), id);
        assert_eq!(done.outcome(), Ok(()));
        assert_eq!(
            done.value(NodeId::from_index(3)),
            Some(77),
            "x's retry was skipped instead of run"
        );
        assert_eq!(tm.counters().tasks_run, 5);
        assert_eq!(tm.counters().retries, 1);
    });
}

/// The model starts at this tick, not 0 (a version that swept for due retries once per tick
/// value, starting from 0, would not scan at all at tick 0 and the model would prove nothing).
const START_TICK: u32 = 5;

/// Fails on its first attempt (at `START_TICK`); the retry must not start before the
/// back-off of one tick is over.
fn fail_once_late_retry(cx: &mut Cx<'_>) -> Result<u32, ()> {
    if cx.attempt() == 0 {
        return Err(());
    }
    assert!(
        cx.now() > START_TICK,
        "retry started at tick {} before its back-off (due at {})",
        cx.now(),
        START_TICK + 1
    );
    Ok(88)
}

static DEFER_DAG: Dag<u32, u32, (), 4, 4> = Dag::new_or_panic(
    DagBuilder::new()
        .task("root", leaf)
        .task("y", leaf)
        .task("x", fail_once_late_retry)
        .edge("root", "y")
        .edge("root", "x")
        .retry(
            "x",
            RetryPolicy {
                attempts: 2,
                backoff_ticks: 1,
            },
        )
        .build(),
);

#[test]
fn deferred_retry_not_claimed_before_its_tick() {
    loom::model(|| {
        let tm: Arc<TaskManager<'static, u32, u32, (), 4, 4, 1, 0, 2>> =
            Arc::new(TaskManager::new(&DEFER_DAG));
        tm.advance_tick(START_TICK);
        // Low priority, so that x goes through the ring rather than staying with the worker.
        tm.submit_with(5, LOW).unwrap();
        // root, then y directly; x waits in the ring.
        tm.engine().step(tm.dag(), 1);
        assert_eq!(tm.engine().ring_depths(), [0, 1], "x in the low ring");
        step_on_two_threads(&tm, 1);
        tm.advance_tick(1);
        while tm.step() > 0 {}
        let done = tm.poll().expect("the run completed");
        assert_eq!(done.outcome(), Ok(()));
        assert_eq!(done.value(NodeId::from_index(2)), Some(88));
    });
}

/// Fails on its first attempt.
fn fail_first(cx: &mut Cx<'_>) -> Result<u32, ()> {
    if cx.attempt() == 0 {
        Err(())
    } else {
        Ok(1)
    }
}

static LONG_BACKOFF_DAG: Dag<u32, u32, (), 2, 1> = Dag::new_or_panic(
    DagBuilder::new()
        .task("root", leaf)
        .task("x", fail_first)
        .edge("root", "x")
        .retry(
            "x",
            RetryPolicy {
                attempts: 2,
                backoff_ticks: 1000,
            },
        )
        .build(),
);

#[test]
fn cancel_during_a_sweep_is_not_lost() {
    loom::model(|| {
        let tm: Arc<TaskManager<'static, u32, u32, (), 2, 1, 1, 0, 2>> =
            Arc::new(TaskManager::new(&LONG_BACKOFF_DAG));
        let id = tm.submit(1).unwrap();
        // root, then x, which fails and waits 1000 ticks.
        for _ in 0..2 {
            tm.step();
        }
        assert_eq!(tm.engine().deferred(), 1);
        // A new tick: the next scan sweeps for due retries.
        tm.advance_tick(1);
        let worker = {
            let tm = tm.clone();
            thread::spawn(move || tm.engine().step(tm.dag(), 1))
        };
        assert_eq!(tm.cancel(id), Ok(()));
        worker.join().unwrap();
        // No tick passes: the cancelled run must end now.
        for _ in 0..2 {
            tm.step();
        }
        let done = tm.poll();
        assert_eq!(
            done.as_ref().map(|d| d.outcome()),
            Some(Err(RunError::Cancelled)),
            "the cancelled run still waits for its back-off"
        );
    });
}

/// Fails on its first attempt; its retry runs once due (checked by the model's end).
fn fail_first_value(cx: &mut Cx<'_>) -> Result<u32, ()> {
    if cx.attempt() == 0 {
        Err(())
    } else {
        Ok(cx.node().index() as u32 + 100)
    }
}

static TWO_RETRIES_DAG: Dag<u32, u32, (), 4, 4> = Dag::new_or_panic(
    DagBuilder::new()
        .task("root", leaf)
        .task("a", fail_first_value)
        .task("b", fail_first_value)
        .edge("root", "a")
        .edge("root", "b")
        .retry(
            "a",
            RetryPolicy {
                attempts: 2,
                backoff_ticks: 1,
            },
        )
        .retry(
            "b",
            RetryPolicy {
                attempts: 2,
                backoff_ticks: 3,
            },
        )
        .build(),
);

/// A retry parked while another worker sweeps must keep the retry hint at or before its due
/// tick. `a` failed and is due; two workers step at once: one pops `b`, which fails and parks
/// for 3 ticks, while the other sweeps, takes `a`'s retry, and resets the hint to what it
/// finds waiting. If the sweep missed `b`'s park (it reset the hint after `b` lowered it,
/// without seeing `b`'s cell), the hint would stay past `b`'s due tick and no later step
/// would look for it: the run would never end. Each worker takes batches of 2, so that the
/// sweep is not cut short (a sweep that fills its batch lowers the hint to now).
#[test]
fn retry_parked_during_a_sweep_keeps_the_hint() {
    let outcomes = explore(|| {
        let tm: Arc<TaskManager<'static, u32, u32, (), 4, 4, 1, 0, 2>> =
            Arc::new(TaskManager::new(&TWO_RETRIES_DAG));
        tm.advance_tick(START_TICK);
        tm.submit_with(5, LOW).unwrap();
        // root, then a directly (fails, parked for 1 tick); b waits in the low ring.
        tm.engine().step(tm.dag(), 1);
        assert_eq!(tm.engine().deferred(), 1);
        assert_eq!(tm.engine().ring_depths(), [0, 1], "b in the low ring");
        tm.advance_tick(1);
        assert_eq!(tm.engine().next_retry_in(), Some(0), "a is due");
        let ran = step_on_two_threads(&tm, 2);
        // b's retry is due 3 ticks after it failed.
        tm.advance_tick(3);
        while tm.step() > 0 {}
        let done = tm.poll().expect("b's retry was found when due");
        assert_eq!(done.outcome(), Ok(()));
        assert_eq!(done.value(NodeId::from_index(1)), Some(101));
        assert_eq!(done.value(NodeId::from_index(2)), Some(102));
        // Whether both workers did something (one ran b's first attempt, the other a's retry).
        ran.iter().all(|&n| n == 1)
    });
    assert_reached(
        &outcomes,
        "one worker ran b while the other swept",
        |&both| both,
    );
}

static OVERFLOW_RETRY_DAG: Dag<u32, u32, (), 5, 4> = Dag::new_or_panic(
    DagBuilder::new()
        .task("root", leaf)
        .task("o1", leaf)
        .task("x", fail_first_value)
        .task("o2", leaf)
        .task("o3", leaf)
        .edge("root", "o1")
        .edge("root", "x")
        .edge("root", "o2")
        .edge("root", "o3")
        .retry(
            "x",
            RetryPolicy {
                attempts: 2,
                backoff_ticks: 3,
            },
        )
        .build(),
);

/// A retry parked while another worker sweeps for an overflowed entry (a sweep that starts
/// with the hint not reached): if the retry lowers the hint after the sweep read it, the
/// sweep must not publish its own (later) hint over that lowering. `root`'s successors do
/// not fit the ring of 2: `o1` runs at once, `x` and `o2` wait in the ring, `o3` is parked.
/// One worker pops `x` and `o2` (`x` fails and waits 3 ticks), the other finds the ring
/// empty and sweeps for `o3`.
#[test]
fn retry_parked_during_an_overflow_sweep_keeps_the_hint() {
    let outcomes = explore(|| {
        let tm: Arc<TaskManager<'static, u32, u32, (), 5, 4, 1, 0, 2>> =
            Arc::new(TaskManager::new(&OVERFLOW_RETRY_DAG));
        tm.advance_tick(START_TICK);
        tm.submit(5).unwrap();
        tm.engine().step(tm.dag(), 1);
        assert_eq!(tm.engine().ring_depths(), [2, 0], "x and o2 in the ring");
        assert_eq!(tm.counters().ring_full, 1, "o3 parked");
        let ran = step_on_two_threads(&tm, 2);
        tm.advance_tick(3);
        while tm.step() > 0 {}
        let done = tm.poll().expect("x's retry was found when due");
        assert_eq!(done.outcome(), Ok(()));
        assert_eq!(done.value(NodeId::from_index(2)), Some(102));
        ran.iter().all(|&n| n > 0)
    });
    assert_reached(
        &outcomes,
        "one worker ran x while the other swept",
        |&both| both,
    );
}

fn fork(cx: &mut Cx<'_>) -> Result<u32, ()> {
    Ok(*cx.input())
}

static DIAMOND_DAG: Dag<u32, u32, (), 4, 4> = Dag::new_or_panic(
    DagBuilder::new()
        .task("r", fork)
        .task("a", leaf)
        .task("b", leaf)
        .task("j", join)
        .edge("r", "a")
        .edge("r", "b")
        .edge("a", "j")
        .edge("b", "j")
        .build(),
);

/// Two workers with deques (`Engine::with_worker`) step once each, concurrently; then the main
/// thread, as deque 0's owner, steps until nothing is left. Returns what each worker executed
/// and what the main thread did.
fn two_workers_then_main(
    tm: &Arc<TaskManager<'static, u32, u32, (), 4, 4, 1, 0, 4>>,
    deques: &Arc<[ringdag_core::sched::WorkerDeque; 2]>,
) -> (Vec<usize>, usize) {
    let workers: Vec<_> = (0..2)
        .map(|i| {
            let tm = tm.clone();
            let deques = deques.clone();
            thread::spawn(move || {
                // SAFETY: worker `i` alone uses deque `i` as its own.
                let engine = unsafe { tm.engine().with_worker(&deques[..], i) };
                engine.step(tm.dag(), 1)
            })
        })
        .collect();
    let per_worker: Vec<usize> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    // SAFETY: the workers are joined; the main thread is now deque 0's only owner (and
    // steals what is left in deque 1).
    let engine = unsafe { tm.engine().with_worker(&deques[..], 0) };
    let mut rest = 0;
    loop {
        let n = engine.step(tm.dag(), 1);
        if n == 0 {
            break;
        }
        rest += n;
    }
    (per_worker, rest)
}

/// Work stealing: two workers with deques (`Engine::with_worker`) step a diamond r -> a, b ->
/// j once each. The one that runs `r` continues with `a` and pushes `b` onto its own deque;
/// the other may steal `b` (from the top, racing the owner's pop from the bottom). Every
/// node runs exactly once, the join sees both values (the thief's read of `b`'s entry and of
/// `r`'s value must be ordered after the owner's writes), and the run completes once. The
/// main thread then finishes with worker 0's deque (the workers were joined: a
/// happens-before edge hands the deque over).
#[test]
fn stolen_successor_runs_once_with_its_inputs_visible() {
    use ringdag_core::sched::WorkerDeque;
    let outcomes = explore(|| {
        let tm: Arc<TaskManager<'static, u32, u32, (), 4, 4, 1, 0, 4>> =
            Arc::new(TaskManager::new(&DIAMOND_DAG));
        let deques: Arc<[WorkerDeque; 2]> = Arc::new([WorkerDeque::new(), WorkerDeque::new()]);
        let id = tm.submit(100).unwrap();
        let (per_worker, rest) = two_workers_then_main(&tm, &deques);
        assert_eq!(per_worker.iter().sum::<usize>() + rest, 4);
        let done = tm.poll().expect("the run completed");
        assert_eq!(done.id(), id);
        assert_eq!(done.outcome(), Ok(()));
        assert_eq!(done.value(NodeId::from_index(1)), Some(102));
        assert_eq!(done.value(NodeId::from_index(2)), Some(103));
        assert_eq!(done.value(NodeId::from_index(3)), Some(2050));
        assert_eq!(tm.counters().tasks_run, 4);
        assert_eq!(tm.counters().runs_completed, 1);
        drop(done);
        assert!(tm.poll().is_none());
        assert!(deques.iter().all(|d| d.is_empty()));
        (per_worker[0].min(per_worker[1]), rest)
    });
    // Both workers ran something (so one stole `b` or ran a root it popped first).
    assert_reached(&outcomes, "both workers executed a node", |&(min, _)| {
        min > 0
    });
}

fn join3(cx: &mut Cx<'_>) -> Result<u32, ()> {
    let seen: Vec<(NodeId, u32)> = cx.inputs().collect();
    assert_eq!(seen.len(), 3, "the join must see every root: {seen:?}");
    Ok(seen.iter().map(|(_, v)| v).sum::<u32>())
}

/// Three roots: more than a root chunk under loom (2), so `submit` pushes one root token.
static ROOTS_DAG: Dag<u32, u32, (), 4, 4> = Dag::new_or_panic(
    DagBuilder::new()
        .task("r0", leaf)
        .task("r1", leaf)
        .task("r2", leaf)
        .task("j", join3)
        .edge("r0", "j")
        .edge("r1", "j")
        .edge("r2", "j")
        .build(),
);

/// The root token: the worker that pops it claims two roots and pushes the token onto its own
/// deque before running them; the other worker may steal it (racing the owner's own pop) and
/// claim the last root. The cursor is a plain Relaxed load and store, ordered only by the
/// token's hand-off through the deque. Every root runs once, the join sees all three, and the
/// run (whose `remaining` holds one unit for the token) completes once.
#[test]
fn root_token_handed_between_workers_claims_each_root_once() {
    use ringdag_core::sched::WorkerDeque;
    let outcomes = explore(|| {
        let tm: Arc<TaskManager<'static, u32, u32, (), 4, 4, 1, 0, 4>> =
            Arc::new(TaskManager::new(&ROOTS_DAG));
        let deques: Arc<[WorkerDeque; 2]> = Arc::new([WorkerDeque::new(), WorkerDeque::new()]);
        let id = tm.submit(100).unwrap();
        // Only the token is queued.
        assert_eq!(tm.engine().queued(), 1);
        let (per_worker, rest) = two_workers_then_main(&tm, &deques);
        assert_eq!(per_worker.iter().sum::<usize>() + rest, 4);
        let done = tm.poll().expect("the run completed");
        assert_eq!(done.id(), id);
        assert_eq!(done.outcome(), Ok(()));
        assert_eq!(done.value(NodeId::from_index(3)), Some(101 + 102 + 103));
        assert_eq!(tm.counters().tasks_run, 4);
        assert_eq!(tm.counters().runs_completed, 1);
        drop(done);
        assert!(tm.poll().is_none());
        assert!(deques.iter().all(|d| d.is_empty()));
        per_worker[0].min(per_worker[1])
    });
    assert_reached(&outcomes, "both workers ran roots", |&min| min > 0);
}

/// The tick at which each input's `x` made its first attempt (input 1 and 2; the model resets
/// them). Plain std atomics: loom runs the model's threads one at a time on one OS thread.
static FIRST_ATTEMPT: [std::sync::atomic::AtomicU32; 3] =
    [const { std::sync::atomic::AtomicU32::new(u32::MAX) }; 3];

/// Always fails; its retry must not start before one tick after its first attempt.
fn always_fails(cx: &mut Cx<'_>) -> Result<u32, ()> {
    use std::sync::atomic::Ordering::SeqCst;
    let first = &FIRST_ATTEMPT[*cx.input() as usize];
    if cx.attempt() == 0 {
        first.store(cx.now(), SeqCst);
    } else {
        let t0 = first.load(SeqCst);
        assert!(
            cx.now() > t0,
            "run {}: the retry started at tick {}, its back-off ends after {}",
            cx.input(),
            cx.now(),
            t0
        );
    }
    Err(())
}

static ALWAYS_FAILS_DAG: Dag<u32, u32, (), 1, 1> = Dag::new_or_panic(
    DagBuilder::new()
        .task("x", always_fails)
        .retry(
            "x",
            RetryPolicy {
                attempts: 2,
                backoff_ticks: 1,
            },
        )
        .build(),
);

#[test]
fn a_sweep_s_stale_claim_does_not_skip_the_next_run_s_back_off() {
    let outcomes = explore(|| {
        for t in &FIRST_ATTEMPT {
            t.store(u32::MAX, std::sync::atomic::Ordering::SeqCst);
        }
        let tm: Arc<TaskManager<'static, u32, u32, (), 1, 1, 1, 0, 2>> =
            Arc::new(TaskManager::new(&ALWAYS_FAILS_DAG));
        tm.submit(1).unwrap();
        // x fails and waits one tick; then it is due.
        assert_eq!(tm.step(), 1);
        assert_eq!(tm.engine().deferred(), 1);
        tm.advance_tick(1);
        // A worker sweeps for the due retry, while this thread may take it first, run it (it
        // fails: the run fails), take the result, and submit run 2 into the same slot, whose x
        // fails at once and waits for the next tick. Its park sets the cell's word to what it
        // was for run 1's retry: a sweep that read that word before may claim the new park.
        let worker = {
            let tm = tm.clone();
            thread::spawn(move || tm.engine().step(tm.dag(), 1))
        };
        let reused = tm.step() == 1;
        // Whether this thread ran run 2's first attempt (the worker's step may pop it first).
        let mut parked_here = false;
        if reused {
            let done = tm.poll().expect("run 1 failed");
            assert!(done.outcome().is_err());
            drop(done);
            tm.submit(2).unwrap();
            parked_here = tm.step() == 1;
        }
        let theirs = worker.join().unwrap();
        // Let every retry come due and finish whatever is left.
        tm.advance_tick(1);
        while tm.step() > 0 {}
        let mut finished = 0;
        while let Some(done) = tm.poll() {
            assert!(done.outcome().is_err(), "x always fails");
            finished += 1;
        }
        assert_eq!(finished, 1, "the last run ends once");
        assert_eq!(tm.engine().deferred(), 0);
        (parked_here, theirs)
    });
    assert_reached(
        &outcomes,
        "run 2's x parked here while the sweep was under way, and the sweep ran nothing",
        |&(p, t)| p && t == 0,
    );
    assert_reached(&outcomes, "the sweep took run 1's retry", |&(p, t)| {
        !p && t == 1
    });
}

/// a -> b -> j, a -> j: `j` reads both values.
static SERIAL_DAG: Dag<u32, u32, (), 4, 4> = Dag::new_or_panic(
    DagBuilder::new()
        .task("a", leaf)
        .task("b", leaf)
        .task("j", join)
        .edge("a", "b")
        .edge("a", "j")
        .edge("b", "j")
        .build(),
);

/// A serial run (`Engine::with_serial`; under loom a turn is one node) submitted through a
/// serial engine, stepped by two workers with deques at once: after each node the run's
/// token goes back to the task ring, where either worker may take it next. Every node runs
/// once, in order, with its predecessors' values visible to whoever holds the token next
/// (its reads are ordered after the previous holder's writes, and the cursor's store, by the
/// ring), and the run completes once. The main thread then finishes what is left.
#[test]
fn serial_token_moves_between_workers_with_the_values() {
    use ringdag_core::sched::{SerialPlan, WorkerDeque};
    let outcomes = explore(|| {
        let tm: Arc<TaskManager<'static, u32, u32, (), 4, 4, 1, 0, 4>> =
            Arc::new(TaskManager::new(&SERIAL_DAG));
        let deques: Arc<[WorkerDeque; 2]> = Arc::new([WorkerDeque::new(), WorkerDeque::new()]);
        let plan = SerialPlan::of(&SERIAL_DAG.view());
        assert!(plan.eligible() && plan.index_order() && plan.plain());
        let id = tm.engine().with_serial(true, plan).submit(100).unwrap();
        let (per_worker, rest) = two_workers_then_main(&tm, &deques);
        assert_eq!(per_worker.iter().sum::<usize>() + rest, 3);
        let done = tm.poll().expect("the run completed");
        assert_eq!(done.id(), id);
        assert_eq!(done.outcome(), Ok(()));
        assert_eq!(done.value(NodeId::from_index(0)), Some(101));
        assert_eq!(done.value(NodeId::from_index(1)), Some(102));
        assert_eq!(done.value(NodeId::from_index(2)), Some(2030));
        assert_eq!(tm.counters().tasks_run, 3);
        assert_eq!(tm.counters().runs_completed, 1);
        drop(done);
        assert!(tm.poll().is_none());
        assert!(deques.iter().all(|d| d.is_empty()));
        (per_worker[0].min(per_worker[1]), rest)
    });
    assert_reached(
        &outcomes,
        "both workers ran a node of the run",
        |&(min, _)| min > 0,
    );
}

/// A worker steps a serial run (one node per turn under loom) while the main thread cancels
/// it. The run ends once, `Ok` with every node run or `Cancelled` with the nodes that ran a
/// prefix of the order; the worker never starts a node once it has seen the cancel.
#[test]
fn cancel_races_a_serial_run() {
    use ringdag_core::sched::SerialPlan;
    let outcomes = explore(|| {
        let tm: Arc<TaskManager<'static, u32, u32, (), 4, 4, 1, 0, 4>> =
            Arc::new(TaskManager::new(&SERIAL_DAG));
        let plan = SerialPlan::of(&SERIAL_DAG.view());
        let id = tm.engine().with_serial(true, plan).submit(100).unwrap();
        let worker = {
            let tm = tm.clone();
            thread::spawn(move || {
                let mut n = 0;
                loop {
                    let k = tm.step();
                    if k == 0 {
                        break n;
                    }
                    n += k;
                }
            })
        };
        let cancelled = tm.cancel(id).is_ok();
        let ran_by_worker = worker.join().unwrap();
        // Whatever the worker left (a turn it had not taken when it found nothing else).
        while tm.step() > 0 {}
        let done = tm.poll().expect("the run completed");
        assert_eq!(done.id(), id);
        let ran: Vec<bool> = (0..3).map(|v| done.ran(NodeId::from_index(v))).collect();
        assert!(
            ran.windows(2).all(|w| w[0] || !w[1]),
            "not a prefix of the order: {ran:?}"
        );
        let count = ran.iter().filter(|&&r| r).count();
        match done.outcome() {
            Ok(()) => assert_eq!(count, 3),
            Err(RunError::Cancelled) => assert!(cancelled),
            other => panic!("unexpected outcome {other:?}"),
        }
        assert_eq!(tm.counters().tasks_run, count);
        drop(done);
        assert!(tm.poll().is_none());
        let _ = ran_by_worker;
        (cancelled, count)
    });
    assert_reached(&outcomes, "cancelled before the last node", |&(c, n)| {
        c && n < 3
    });
    assert_reached(&outcomes, "finished before the cancel", |&(_, n)| n == 3);
}

/// A worker holds a serial run (one node per turn under loom) while an idle worker looks for a
/// stalled one twice (`Engine::steal_stalled`) and takes it if both looks found it held at the
/// same node: the rest goes on counted while the holder finishes its node, which it then
/// resolves as a counted node (its move of the cursor fails). The join `j` has one
/// predecessor behind the cursor and one at it when the run is taken at `b`: the thief's
/// counter adjustment and the holder's resolution race, and whichever comes last queues `j`
/// (live, with both values visible). Every node runs once, the run completes once, `Ok`.
#[test]
fn thief_takes_a_held_serial_run() {
    use ringdag_core::sched::{SerialPlan, WorkerDeque};
    let outcomes = explore(|| {
        let tm: Arc<TaskManager<'static, u32, u32, (), 4, 4, 1, 0, 4>> =
            Arc::new(TaskManager::new(&SERIAL_DAG));
        let deques: Arc<[WorkerDeque; 2]> = Arc::new([WorkerDeque::new(), WorkerDeque::new()]);
        let plan = SerialPlan::of(&SERIAL_DAG.view());
        let id = tm.engine().with_serial(true, plan).submit(100).unwrap();
        let holder = {
            let tm = tm.clone();
            let deques = deques.clone();
            thread::spawn(move || {
                // SAFETY: this thread alone uses deque 0 as its own.
                let engine = unsafe { tm.engine().with_worker(&deques[..], 0) };
                // Two turns: `a`, then `b` (unless the run was taken meanwhile).
                engine.step(tm.dag(), 1) + engine.step(tm.dag(), 1)
            })
        };
        let thief = {
            let tm = tm.clone();
            let deques = deques.clone();
            thread::spawn(move || {
                // SAFETY: this thread alone uses deque 1 as its own.
                let engine = unsafe { tm.engine().with_worker(&deques[..], 1) };
                let mut seen = [0u64; 1];
                let taken = engine.steal_stalled(&mut seen) + engine.steal_stalled(&mut seen);
                (taken, engine.step(tm.dag(), 1))
            })
        };
        let held = holder.join().unwrap();
        let (taken, ran) = thief.join().unwrap();
        // SAFETY: the workers are joined: the main thread is deque 0's only owner now (and
        // steals what is left in deque 1).
        let engine = unsafe { tm.engine().with_worker(&deques[..], 0) };
        let mut rest = 0;
        loop {
            let n = engine.step(tm.dag(), 1);
            if n == 0 {
                break;
            }
            rest += n;
        }
        let done = tm.poll().expect("the run completed");
        assert_eq!(done.id(), id);
        assert_eq!(done.outcome(), Ok(()));
        assert_eq!(done.value(NodeId::from_index(0)), Some(101));
        assert_eq!(done.value(NodeId::from_index(1)), Some(102));
        assert_eq!(done.value(NodeId::from_index(2)), Some(2030));
        assert_eq!(tm.counters().tasks_run, 3);
        assert_eq!(tm.counters().runs_completed, 1);
        assert_eq!(tm.counters().runs_shared, taken);
        drop(done);
        assert!(tm.poll().is_none());
        assert!(deques.iter().all(|d| d.is_empty()));
        let _ = (held, ran, rest);
        taken
    });
    assert_reached(&outcomes, "the thief took the run", |&t| t == 1);
    assert_reached(&outcomes, "the holder kept the run", |&t| t == 0);
}

/// A thief takes a held serial run, perhaps at its last node, while the holder finishes it
/// and the main thread takes the result as soon as it is there and submits the next run
/// into the same slot: the thief counts the holder's unit of `remaining` off only once it
/// has published the rest, so the run cannot end, nor its slot be reused, under the thief
/// (whose writes to the slot would reach the next run). Both runs end `Ok`, every node once.
#[test]
fn a_stolen_run_does_not_end_under_its_thief() {
    use ringdag_core::sched::{SerialPlan, WorkerDeque};
    let outcomes = explore(|| {
        let tm: Arc<TaskManager<'static, u32, u32, (), 4, 4, 1, 0, 4>> =
            Arc::new(TaskManager::new(&SERIAL_DAG));
        let deques: Arc<[WorkerDeque; 2]> = Arc::new([WorkerDeque::new(), WorkerDeque::new()]);
        let plan = SerialPlan::of(&SERIAL_DAG.view());
        let first = tm.engine().with_serial(true, plan).submit(100).unwrap();
        let holder = {
            let (tm, deques) = (tm.clone(), deques.clone());
            thread::spawn(move || {
                // SAFETY: this thread alone uses deque 0 as its own.
                let engine = unsafe { tm.engine().with_worker(&deques[..], 0) };
                // A turn per node: `a`, `b`, `j`, unless the run is taken meanwhile.
                for _ in 0..3 {
                    engine.step(tm.dag(), 1);
                }
            })
        };
        let thief = {
            let (tm, deques) = (tm.clone(), deques.clone());
            thread::spawn(move || {
                // SAFETY: this thread alone uses deque 1 as its own.
                let engine = unsafe { tm.engine().with_worker(&deques[..], 1) };
                let mut seen = [0u64; 1];
                let taken = engine.steal_stalled(&mut seen) + engine.steal_stalled(&mut seen);
                engine.step(tm.dag(), 1);
                taken
            })
        };
        let check_first = |done: ringdag_core::sched::Finished<'_, u32, u32, ()>| {
            assert_eq!(done.id(), first);
            assert_eq!(done.outcome(), Ok(()));
            assert_eq!(done.value(NodeId::from_index(2)), Some(2030));
        };
        // The first run's result as soon as it is there, and the next run into its slot.
        let mut second = None;
        for _ in 0..2 {
            if let Some(done) = tm.poll() {
                check_first(done);
                second = Some(tm.engine().with_serial(true, plan).submit(200).unwrap());
                break;
            }
            thread::yield_now();
        }
        holder.join().unwrap();
        let taken = thief.join().unwrap();
        // SAFETY: the workers are joined: the main thread is deque 0's only owner now (and
        // steals what is left in deque 1).
        let engine = unsafe { tm.engine().with_worker(&deques[..], 0) };
        while engine.step(tm.dag(), 1) > 0 {}
        let second = match second {
            Some(id) => id,
            None => {
                check_first(tm.poll().expect("the first run completed"));
                let id = tm.engine().with_serial(true, plan).submit(200).unwrap();
                while engine.step(tm.dag(), 1) > 0 {}
                id
            }
        };
        let done = tm.poll().expect("the second run completed");
        assert_eq!(done.id(), second);
        assert_eq!(done.outcome(), Ok(()));
        assert_eq!(done.value(NodeId::from_index(0)), Some(201));
        assert_eq!(done.value(NodeId::from_index(1)), Some(202));
        assert_eq!(done.value(NodeId::from_index(2)), Some(4030));
        drop(done);
        assert_eq!(tm.counters().tasks_run, 6);
        assert_eq!(tm.counters().runs_completed, 2);
        assert!(deques.iter().all(|d| d.is_empty()));
        taken
    });
    assert_reached(&outcomes, "the thief took the first run", |&t| t == 1);
}
