//! Iterators: 0, 1 and K items; K + 1 is `RunError::TooManyItems` naming the iterator; body
//! results come back in item order; the iterator's successors read them; body failures and
//! retries; a skipped iterator never runs its body; two iterators keep separate items; and a
//! multi-threaded run with many items (more than the tokens pushed per fan-out) over few run
//! slots, so slots and stale tokens are recycled constantly.
//!
//! All but the last test are single-threaded (bodies log to a thread-local); Miri runs the
//! file with the multi-threaded test scaled down.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ringdag::dag::{Dag, DagBuilder, NodeId, RetryPolicy};
use ringdag::sched::{Context, RunError, TaskManager};

type Cx<'a> = Context<'a, u64, u64>;

/// Largest item count of the small iterator.
const K: u16 = 5;

thread_local! {
    /// (input, node, item index or u32::MAX, attempt) of every body start on this thread.
    static LOG: RefCell<Vec<(u64, u32, u32, u32)>> = const { RefCell::new(Vec::new()) };
}

fn log(cx: &Cx<'_>) {
    let index = cx.item().map_or(u32::MAX, |(i, _)| i as u32);
    LOG.with(|l| {
        l.borrow_mut()
            .push((*cx.input(), cx.node().index() as u32, index, cx.attempt()))
    });
}

fn starts_of(input: u64, node: NodeId) -> Vec<(u32, u32)> {
    LOG.with(|l| {
        l.borrow()
            .iter()
            .filter(|e| e.0 == input && e.1 == node.index() as u32)
            .map(|e| (e.2, e.3))
            .collect()
    })
}

/// Items emitted for `input`: the low byte says how many.
fn item_count(input: u64) -> u64 {
    input & 0xff
}

fn item(input: u64, k: u64) -> u64 {
    (input >> 8) * 100 + k
}

/// The body's result for item `k` (index `i`): order-sensitive.
fn body_value(item: u64, i: usize) -> u64 {
    item * 3 + 7 * i as u64
}

/// Order-sensitive fold of body results.
fn fold(items: &[u64]) -> u64 {
    items
        .iter()
        .fold(17u64, |h, &v| h.wrapping_mul(31).wrapping_add(v))
}

fn src(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    Ok(*cx.input())
}

/// Emits `item_count(input)` items; ignores `TooManyItems` and returns `Ok`.
fn split(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    let input = *cx.input();
    for k in 0..item_count(input) {
        let _ = cx.emit(item(input, k));
    }
    Ok(1000 + cx.emitted() as u64)
}

/// Emits with `?` (the module docs' pattern): propagates `TooManyItems` as an error.
fn split_question_mark(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    let input = *cx.input();
    for k in 0..item_count(input) {
        cx.emit(item(input, k)).map_err(|_| 99u32)?;
    }
    Ok(1000 + cx.emitted() as u64)
}

fn sq(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    let (i, item) = cx.item().expect("a body has an item");
    Ok(body_value(item, i))
}

/// Fails on item 2 (every attempt) when bit 16 of the input is set; on its first attempt of
/// every item when bit 17 is set.
fn sq_flaky(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    let (i, item) = cx.item().expect("a body has an item");
    let input = *cx.input();
    if input & 1 << 16 != 0 && i == 2 {
        return Err(42);
    }
    if input & 1 << 17 != 0 && cx.attempt() == 0 {
        return Err(43);
    }
    Ok(body_value(item, i))
}

/// Reads the items of node 1 (the iterator) and its value.
fn sum(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    let it = NodeId::from_index(1);
    let items = cx.items(it);
    assert_eq!(
        cx.value(it),
        Some(1000 + items.len() as u64),
        "iterator value"
    );
    Ok(fold(items))
}

type Tm<'d> = TaskManager<'d, u64, u64, u32, 8, 8, 4, 16, 16>;

fn basic_dag() -> Dag<u64, u64, u32, 8, 8> {
    DagBuilder::new()
        .task("src", src)
        .iterator("split", split, K)
        .body("split", "sq", sq)
        .task("sum", sum)
        .edge("src", "split")
        .edge("split", "sum")
        .build()
        .unwrap()
}

fn expected_items(input: u64) -> Vec<u64> {
    (0..item_count(input))
        .map(|k| body_value(item(input, k), k as usize))
        .collect()
}

fn run_one<'a>(tm: &'a Tm<'_>, input: u64) -> ringdag::sched::Finished<'a, u64, u64, u32> {
    let id = tm.submit(input).unwrap();
    while tm.step() > 0 {}
    let done = tm.poll().expect("finished");
    assert_eq!(done.id(), id);
    done
}

#[test]
fn zero_one_and_k_items_in_item_order() {
    let dag = basic_dag();
    let tm = Box::new(Tm::new(&dag));
    let (split, sq, sum) = (
        dag.find("split").unwrap(),
        dag.find("sq").unwrap(),
        dag.find("sum").unwrap(),
    );
    for (n, tag) in [(0u64, 1u64), (1, 2), (K as u64, 3), (2, 4)] {
        let input = tag << 8 | n;
        let done = run_one(&tm, input);
        assert_eq!(done.outcome(), Ok(()), "{n} items");
        let want = expected_items(input);
        assert_eq!(done.items(split), want.as_slice(), "{n} items");
        assert!(done.ran(split));
        assert_eq!(done.value(split), Some(1000 + n));
        assert_eq!(done.value(sum), Some(fold(&want)), "{n} items");
        // The body ran once per item, each index once, first attempt.
        let mut starts = starts_of(input, sq);
        starts.sort_unstable();
        let want_starts: Vec<(u32, u32)> = (0..n as u32).map(|i| (i, 0)).collect();
        assert_eq!(starts, want_starts, "{n} items");
        assert_eq!(starts_of(input, split).len(), 1);
        assert_eq!(starts_of(input, sum).len(), 1);
    }
}

#[test]
fn k_plus_one_items_fails_with_too_many_items() {
    let dag = basic_dag();
    let tm = Box::new(Tm::new(&dag));
    let split = dag.find("split").unwrap();
    let input = 9 << 8 | (K as u64 + 1);
    let done = run_one(&tm, input);
    assert_eq!(
        done.outcome(),
        Err(RunError::TooManyItems {
            node: split,
            max: K
        })
    );
    assert_eq!(done.outcome().unwrap_err().node(), Some(split));
    assert!(starts_of(input, dag.find("sq").unwrap()).is_empty());
    assert!(starts_of(input, dag.find("sum").unwrap()).is_empty());
    assert!(!done.ran(split));
    assert!(done.items(split).is_empty());
    drop(done);
    // The manager is fine afterwards.
    let input = 10 << 8 | 3;
    let done = run_one(&tm, input);
    assert_eq!(done.outcome(), Ok(()));
    assert_eq!(done.items(split), expected_items(input).as_slice());
}

/// `cx.emit(x).map_err(..)?` is how the module docs emit. One item too many must still be
/// `TooManyItems` naming the iterator (not `Failed` with the body's error), and a retry
/// policy must not re-run an iterator whose failure is deterministic.
#[test]
fn too_many_items_propagated_with_question_mark_is_too_many_items() {
    let dag: Dag<u64, u64, u32, 8, 8> = DagBuilder::new()
        .task("src", src)
        .iterator("split", split_question_mark, K)
        .body("split", "sq", sq)
        .task("sum", sum)
        .edge("src", "split")
        .edge("split", "sum")
        .retry(
            "split",
            RetryPolicy {
                attempts: 3,
                backoff_ticks: 0,
            },
        )
        .build()
        .unwrap();
    let tm = Box::new(Tm::new(&dag));
    let split = dag.find("split").unwrap();
    let input = 11 << 8 | (K as u64 + 1);
    let done = run_one(&tm, input);
    let outcome = done.outcome();
    let starts = starts_of(input, split).len();
    assert_eq!(
        outcome,
        Err(RunError::TooManyItems {
            node: split,
            max: K
        }),
        "the iterator started {starts} times"
    );
    assert_eq!(starts, 1, "TooManyItems is not retryable");
}

#[test]
fn body_failure_fails_the_run_naming_the_body() {
    let dag: Dag<u64, u64, u32, 8, 8> = DagBuilder::new()
        .task("src", src)
        .iterator("split", split, K)
        .body("split", "sq", sq_flaky)
        .task("sum", sum)
        .edge("src", "split")
        .edge("split", "sum")
        .build()
        .unwrap();
    let tm = Box::new(Tm::new(&dag));
    let (split, sq, sum) = (
        dag.find("split").unwrap(),
        dag.find("sq").unwrap(),
        dag.find("sum").unwrap(),
    );
    let input = 1 << 16 | 12 << 8 | 4;
    let done = run_one(&tm, input);
    assert_eq!(
        done.outcome(),
        Err(RunError::Failed {
            node: sq,
            error: 42
        })
    );
    assert!(
        starts_of(input, sum).is_empty(),
        "sum started after failure"
    );
    assert!(!done.ran(split));
    assert!(done.items(split).is_empty());
    // Items after the failing one are not started (single thread: in index order).
    let mut idx: Vec<u32> = starts_of(input, sq).into_iter().map(|s| s.0).collect();
    idx.sort_unstable();
    assert_eq!(idx, [0, 1, 2]);
}

#[test]
fn body_retry_succeeds_per_item() {
    let dag = retried_body_dag(sq_flaky, 2);
    let tm = Box::new(Tm::new(&dag));
    let (split, sq) = (dag.find("split").unwrap(), dag.find("sq").unwrap());
    let input = 1 << 17 | 13 << 8 | 3;
    let done = run_one(&tm, input);
    assert_eq!(done.outcome(), Ok(()));
    assert_eq!(done.items(split), expected_items(input).as_slice());
    let mut starts = starts_of(input, sq);
    starts.sort_unstable();
    assert_eq!(starts, [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]);
    assert_eq!(tm.counters().retries, 3);
}

fn pick(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    cx.choose((*cx.input() >> 20) as u8);
    Ok(0)
}

/// Reads the items of node 1 whether or not it ran.
fn join(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    let items = cx.items(NodeId::from_index(1));
    Ok(items.len() as u64 * 1000 + cx.inputs().count() as u64)
}

#[test]
fn skipped_iterator_never_runs_its_body() {
    let dag: Dag<u64, u64, u32, 8, 8> = DagBuilder::new()
        .condition("pick", pick)
        .iterator("split", split, K)
        .body("split", "sq", sq)
        .task("other", src)
        .task("join", join)
        .branch("pick", "split", 1)
        .default_branch("pick", "other")
        .edge("split", "join")
        .edge("other", "join")
        .build()
        .unwrap();
    let tm = Box::new(Tm::new(&dag));
    let (split, sq, jn) = (
        dag.find("split").unwrap(),
        dag.find("sq").unwrap(),
        dag.find("join").unwrap(),
    );
    // Branch 1: the iterator runs with 3 items.
    let input = 1 << 20 | 14 << 8 | 3;
    let done = run_one(&tm, input);
    assert_eq!(done.outcome(), Ok(()));
    assert_eq!(done.items(split), expected_items(input).as_slice());
    assert_eq!(done.value(jn), Some(3 * 1000 + 1));
    drop(done);
    // Default: the iterator is skipped, its body never starts, the join sees no items.
    let input = 15 << 8 | 3;
    let done = run_one(&tm, input);
    assert_eq!(done.outcome(), Ok(()));
    assert!(starts_of(input, split).is_empty());
    assert!(starts_of(input, sq).is_empty());
    assert!(!done.ran(split));
    assert!(done.items(split).is_empty());
    assert_eq!(done.value(jn), Some(1));
}

fn split_b(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    for k in 0..3 {
        cx.emit(500 + k).map_err(|_| 1u32)?;
    }
    Ok(0)
}

fn both(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    let a = cx.items(NodeId::from_index(1));
    let b = cx.items(NodeId::from_index(3));
    Ok(fold(a).wrapping_mul(7) ^ fold(b))
}

#[test]
fn try_new_rejects_a_manager_with_fewer_item_slots_than_the_dag_needs() {
    let dag: Dag<u64, u64, u32, 8, 8> = DagBuilder::new()
        .task("src", src)
        .iterator("a", split, K)
        .body("a", "a_sq", sq)
        .edge("src", "a")
        .build()
        .unwrap();
    let needed = dag.item_slots();
    assert_eq!(needed, K as usize);
    let small = TaskManager::<u64, u64, u32, 8, 8, 4, 2, 16>::try_new(&dag);
    let err = small.expect_err("2 item slots are not enough");
    assert_eq!(
        err,
        ringdag::dag::DagError::NotEnoughItemSlots {
            needed,
            capacity: 2
        }
    );
    assert!(err.to_string().contains("item slots"), "{err}");
    // Exactly as many as needed is enough.
    assert!(TaskManager::<u64, u64, u32, 8, 8, 4, { K as usize }, 16>::try_new(&dag).is_ok());
    let tm = Box::new(Tm::try_new(&dag).expect("16 item slots are enough"));
    let id = tm.submit(3).unwrap();
    while tm.step() > 0 {}
    assert_eq!(tm.take(id).expect("finished").outcome(), Ok(()));
}

#[test]
fn two_iterators_keep_separate_items() {
    let dag: Dag<u64, u64, u32, 8, 8> = DagBuilder::new()
        .task("src", src)
        .iterator("a", split, K)
        .body("a", "a_sq", sq)
        .iterator("b", split_b, 3)
        .body("b", "b_sq", sq)
        .task("both", both)
        .edge("src", "a")
        .edge("src", "b")
        .edge("a", "both")
        .edge("b", "both")
        .build()
        .unwrap();
    assert_eq!(dag.item_slots(), K as usize + 3);
    let tm = Box::new(Tm::new(&dag));
    // Two runs in flight at once, so their item storage must not mix either.
    let inputs = [16 << 8 | 4, 17 << 8 | 5];
    for &i in &inputs {
        tm.submit(i).unwrap();
    }
    while tm.step() > 0 {}
    let mut n = 0;
    while let Some(done) = tm.poll() {
        n += 1;
        let input = done.input();
        assert_eq!(done.outcome(), Ok(()));
        let a = expected_items(input);
        let b: Vec<u64> = (0..3).map(|k| body_value(500 + k, k as usize)).collect();
        assert_eq!(done.items(dag.find("a").unwrap()), a.as_slice());
        assert_eq!(done.items(dag.find("b").unwrap()), b.as_slice());
        assert_eq!(
            done.value(dag.find("both").unwrap()),
            Some(fold(&a).wrapping_mul(7) ^ fold(&b))
        );
    }
    assert_eq!(n, 2);
}

// ------------------------------------------------------------------ multi-threaded

const BIG_K: u16 = 100;
const MT_RUNS: usize = if cfg!(miri) { 6 } else { 40_000 };

/// Body executions per (run, item index).
fn exec() -> &'static [AtomicU8] {
    static EXEC: OnceLock<Vec<AtomicU8>> = OnceLock::new();
    EXEC.get_or_init(|| {
        (0..MT_RUNS * BIG_K as usize)
            .map(|_| AtomicU8::new(0))
            .collect()
    })
}

/// Input = run number; it emits `run % (BIG_K + 1)` items (0 to BIG_K), some of them more
/// than the 64 tokens pushed per fan-out.
fn mt_count(run: u64) -> u64 {
    (run * 37) % (BIG_K as u64 + 1)
}

fn mt_split(cx: &mut Cx<'_>) -> Result<u64, u32> {
    let run = *cx.input();
    for k in 0..mt_count(run) {
        cx.emit(run << 16 | k).map_err(|_| 1u32)?;
    }
    Ok(run)
}

fn mt_sq(cx: &mut Cx<'_>) -> Result<u64, u32> {
    let (i, item) = cx.item().expect("item");
    let run = *cx.input();
    assert_eq!(item >> 16, run, "item of another run");
    assert_eq!(item & 0xffff, i as u64, "item index");
    exec()[run as usize * BIG_K as usize + i].fetch_add(1, Relaxed);
    Ok(body_value(item, i))
}

fn mt_sum(cx: &mut Cx<'_>) -> Result<u64, u32> {
    let items = cx.items(NodeId::from_index(0));
    Ok(fold(items))
}

static MT_DAG: Dag<u64, u64, u32, 4, 4> = Dag::new_or_panic(
    DagBuilder::new()
        .iterator("split", mt_split, BIG_K)
        .body("split", "sq", mt_sq)
        .task("sum", mt_sum)
        .edge("split", "sum")
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

/// Sets the flag when dropped (also on panic), so the workers stop and the scope can join.
struct StopOnDrop<'a>(&'a AtomicBool);
impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Relaxed);
    }
}

#[test]
fn many_items_over_few_slots_multi_thread() {
    // 1 run slot: the slot (and its body cell) is reused at once while tokens of the
    // previous run in the slot may still be in the ring.
    let tm: Box<TaskManager<'static, u64, u64, u32, 4, 4, 1, 100, 64>> =
        Box::new(TaskManager::new(&MT_DAG));
    let tm = &*tm;
    let stop = AtomicBool::new(false);
    let steps = AtomicUsize::new(0);
    let workers = if cfg!(miri) { 2 } else { 4 };
    std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        for _ in 0..workers {
            s.spawn(|| {
                let _stop = StopOnDrop(&stop); // a panicking worker stops the test
                while !stop.load(Relaxed) {
                    if tm.step() == 0 {
                        idle();
                    } else {
                        steps.fetch_add(1, Relaxed);
                    }
                }
            });
        }
        let (split, sum) = (MT_DAG.find("split").unwrap(), MT_DAG.find("sum").unwrap());
        let mut next = 0u64;
        let mut finished = 0usize;
        let mut last_progress = Instant::now();
        while finished < MT_RUNS {
            assert!(!stop.load(Relaxed), "a worker panicked");
            if (next as usize) < MT_RUNS && tm.submit(next).is_ok() {
                next += 1;
            }
            while let Some(done) = tm.poll() {
                let run = done.input();
                assert_eq!(done.outcome(), Ok(()), "run {run}");
                let want: Vec<u64> = (0..mt_count(run))
                    .map(|k| body_value(run << 16 | k, k as usize))
                    .collect();
                assert_eq!(done.items(split), want.as_slice(), "run {run}");
                assert_eq!(done.value(sum), Some(fold(&want)), "run {run}");
                finished += 1;
                last_progress = Instant::now();
            }
            assert!(
                last_progress.elapsed() < Duration::from_secs(20),
                "no run finished for 20 s: {finished} of {MT_RUNS} done, {} active, {:?}",
                tm.active_runs(),
                tm.counters()
            );
            idle();
        }
    });
    for run in 0..MT_RUNS {
        for i in 0..BIG_K as usize {
            let n = exec()[run * BIG_K as usize + i].load(Relaxed);
            let want = u8::from((i as u64) < mt_count(run as u64));
            assert_eq!(n, want, "run {run} item {i} ran {n} times");
        }
    }
}

/// Cancels its own run on an item's first attempt, then fails that attempt: the body has
/// three attempts, but once the run is cancelled no further attempt starts (as for a task's
/// retry), and the run ends cancelled.
fn cancel_then_fail(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    if cx.attempt() == 0 {
        assert_eq!(RETRY_TM.cancel(cx.run()), Ok(()));
    }
    Err(9)
}

type Body = fn(&mut Cx<'_>) -> Result<u64, u32>;

/// `src -> split -> sum`, `split`'s body `sq` (which is `body`) retried up to `attempts`.
const fn retried_body_dag(body: Body, attempts: u8) -> Dag<u64, u64, u32, 8, 8> {
    Dag::new_or_panic(
        DagBuilder::new()
            .task("src", src)
            .iterator("split", split, K)
            .body("split", "sq", body)
            .task("sum", sum)
            .edge("src", "split")
            .edge("split", "sum")
            .retry(
                "sq",
                RetryPolicy {
                    attempts,
                    backoff_ticks: 0,
                },
            )
            .build(),
    )
}

static RETRY_DAG: Dag<u64, u64, u32, 8, 8> = retried_body_dag(cancel_then_fail, 3);
static RETRY_TM: TaskManager<u64, u64, u32, 8, 8, 4, 16, 16> = TaskManager::new(&RETRY_DAG);

#[test]
fn a_body_retry_does_not_start_once_its_run_is_cancelled() {
    let tm = &RETRY_TM;
    let sq = RETRY_DAG.find("sq").unwrap();
    let input = 21 << 8 | 3;
    let done = run_one(tm, input);
    assert_eq!(done.outcome(), Err(RunError::Cancelled));
    // One attempt of the first item; no retry, no other item.
    assert_eq!(starts_of(input, sq).len(), 1, "{:?}", starts_of(input, sq));
    assert!(!done.ran(RETRY_DAG.find("sum").unwrap()));
    let c = tm.counters();
    assert_eq!(
        (c.retries, c.failures),
        (0, 1),
        "no retry counted; the item failed for good"
    );
}

/// The body of `LATE_DAG`: its last item takes 10 ticks, past the run's deadline of 5.
fn sq_slow_last(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    let (i, item) = cx.item().unwrap();
    if i + 1 == item_count(*cx.input()) as usize {
        LATE_TM.advance_tick(10);
    }
    Ok(body_value(item, i))
}

/// An iterator that is a sink: nothing starts after its items.
static LATE_DAG: Dag<u64, u64, u32, 4, 4> = Dag::new_or_panic(
    DagBuilder::new()
        .iterator("split", split, K)
        .body("split", "sq", sq_slow_last)
        .build(),
);
static LATE_TM: TaskManager<u64, u64, u32, 4, 4, 2, 8, 8> = TaskManager::new(&LATE_DAG);

#[test]
fn a_deadline_passing_while_the_last_item_runs_does_not_fail_a_run_that_starts_nothing_after() {
    let tm = &LATE_TM;
    let split = LATE_DAG.find("split").unwrap();
    let input = 7 << 8 | 3;
    let opts = ringdag::sched::SubmitOptions {
        deadline_ticks: Some(5),
        ..ringdag::sched::SubmitOptions::default()
    };
    tm.submit_with(input, opts).unwrap();
    while tm.step() > 0 {}
    let done = tm.poll().expect("finished");
    // As for a task that finishes late: every item started in time, and nothing starts
    // after the deadline.
    assert_eq!(done.outcome(), Ok(()));
    assert_eq!(done.items(split), expected_items(input));
}

/// A body that emits (a body has no room for items), then returns `Ok`.
fn sq_emits(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    let _ = cx.emit(1);
    let (i, item) = cx.item().unwrap();
    Ok(body_value(item, i))
}

static EMIT_DAG: Dag<u64, u64, u32, 8, 8> = retried_body_dag(sq_emits, 3);

#[test]
fn a_body_that_emits_fails_the_run_with_too_many_items_and_is_not_retried() {
    let tm: Tm<'_> = TaskManager::new(&EMIT_DAG);
    let sq = EMIT_DAG.find("sq").unwrap();
    let input = 9 << 8 | 1;
    let done = run_one(&tm, input);
    assert_eq!(
        done.outcome(),
        Err(RunError::TooManyItems { node: sq, max: 0 }),
        "as `Context::emit` documents: the run fails even though the body returned Ok"
    );
    assert_eq!(starts_of(input, sq), vec![(0, 0)], "one attempt, no retry");
    assert!(!done.ran(EMIT_DAG.find("sum").unwrap()));
}

/// Items of `PAUSE_DAG`'s iterator (the low byte of the input says how many are emitted).
const MANY: u16 = 200;

/// The body of `PAUSE_DAG`: pauses its manager while it runs item 100.
fn sq_pauses(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    let (i, item) = cx.item().unwrap();
    if i == 100 {
        PAUSE_TM.pause();
    }
    Ok(body_value(item, i))
}

/// `src -> split` with up to `max_items` items, `split`'s body `sq` (which is `body`).
const fn split_dag(body: Body, max_items: u16) -> Dag<u64, u64, u32, 4, 4> {
    Dag::new_or_panic(
        DagBuilder::new()
            .task("src", src)
            .iterator("split", split, max_items)
            .body("split", "sq", body)
            .edge("src", "split")
            .build(),
    )
}

static PAUSE_DAG: Dag<u64, u64, u32, 4, 4> = split_dag(sq_pauses, MANY);
static PAUSE_TM: TaskManager<u64, u64, u32, 4, 4, 1, { MANY as usize }, 64> =
    TaskManager::new(&PAUSE_DAG);

/// One token's `execute` does not run all of an iterator's items: a `step` stays bounded,
/// and `pause` stops items from starting (as it stops nodes), with the tokens kept queued
/// for `resume`. Every item still runs once.
#[test]
fn one_step_does_not_run_every_item_and_pause_stops_items_from_starting() {
    let tm = &PAUSE_TM;
    let sq = PAUSE_DAG.find("sq").unwrap();
    let split = PAUSE_DAG.find("split").unwrap();
    let input = 3 << 8 | u64::from(MANY);
    let id = tm.submit(input).unwrap();
    // The first step runs `src`, `split`, and items from the token `split` continues with.
    assert!(tm.step() > 0);
    let first = starts_of(input, sq).len();
    assert!(
        first > 0 && first < MANY as usize,
        "one step ran {first} of {MANY} items"
    );
    // The steps after it reach item 100, whose body pauses the manager: no item starts after
    // it (the tokens already popped in the same batch go back to the ring).
    let mut steps = 0;
    while !tm.is_paused() {
        assert!(tm.step() > 0, "the run stalled before item 100");
        steps += 1;
        assert!(steps < 1_000);
    }
    assert_eq!(
        starts_of(input, sq).len(),
        101,
        "items started after the pause"
    );
    assert_eq!(tm.step(), 0);
    assert_eq!(starts_of(input, sq).len(), 101);
    assert!(tm.poll().is_none());
    tm.resume();
    while tm.step() > 0 {}
    let done = tm.poll().expect("finished after resume");
    assert_eq!(done.id(), id);
    assert_eq!(done.outcome(), Ok(()));
    assert_eq!(done.items(split), expected_items(input));
    let mut started: Vec<u32> = starts_of(input, sq).iter().map(|s| s.0).collect();
    started.sort_unstable();
    assert_eq!(
        started,
        (0..u32::from(MANY)).collect::<Vec<_>>(),
        "each item once"
    );
}

/// Items of `TOKENS_DAG`'s iterator.
const TOKEN_ITEMS: u16 = 48;

/// Three workers' deques for `TOKENS_TM`; only worker 0 steps.
static TOKEN_DEQUES: [ringdag::sched::WorkerDeque; 3] = [
    ringdag::sched::WorkerDeque::new(),
    ringdag::sched::WorkerDeque::new(),
    ringdag::sched::WorkerDeque::new(),
];

/// Entries in worker 0's deque when item 0 started (`usize::MAX`: not yet).
static QUEUED_AT_ITEM_0: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The body of `TOKENS_DAG`: notes, at item 0, what waits in the worker's deque.
fn sq_notes_tokens(cx: &mut Cx<'_>) -> Result<u64, u32> {
    log(cx);
    let (i, item) = cx.item().unwrap();
    if i == 0 {
        QUEUED_AT_ITEM_0.store(TOKEN_DEQUES[0].len(), Relaxed);
    }
    Ok(body_value(item, i))
}

static TOKENS_DAG: Dag<u64, u64, u32, 4, 4> = split_dag(sq_notes_tokens, TOKEN_ITEMS);
static TOKENS_TM: TaskManager<u64, u64, u32, 4, 4, 1, { TOKEN_ITEMS as usize }, 64> =
    TaskManager::new(&TOKENS_DAG);

/// A worker's engine (`with_worker`, as the runtime's) knows how many workers share the
/// work: an iterator's fan-out puts out one item token per worker (each runs items until
/// none is left), the others' in its own deque where idle workers steal them one at a time,
/// not one token per item. Every item still runs once.
#[test]
fn a_worker_engine_puts_out_one_item_token_per_worker() {
    let tm = &TOKENS_TM;
    let split = TOKENS_DAG.find("split").unwrap();
    let input = 11 << 8 | u64::from(TOKEN_ITEMS);
    let id = tm.submit(input).unwrap();
    // SAFETY: this thread alone uses `TOKEN_DEQUES[0]` as its own, with this manager only.
    let worker = unsafe { tm.engine().with_worker(&TOKEN_DEQUES, 0) };
    while worker.step(tm.dag(), 8) > 0 {}
    assert_eq!(
        QUEUED_AT_ITEM_0.load(Relaxed),
        2,
        "tokens queued in the deque beside the one running: one per other worker"
    );
    let done = tm.poll().expect("finished");
    assert_eq!(done.id(), id);
    assert_eq!(done.outcome(), Ok(()));
    assert_eq!(done.items(split), expected_items(input));
    assert!(
        TOKEN_DEQUES.iter().all(|d| d.is_empty()),
        "a token left behind"
    );
}
