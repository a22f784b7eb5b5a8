//! One run slot reused for hundreds of runs: a run sees only its own results. The scheduler
//! does not clear a slot's node cells between runs (counters are set back by the worker that
//! takes them to zero, `DONE` carries the run's tag, and every 64th generation clears all):
//! these runs cross several of those clears, and alternate branches, item counts, failures,
//! retries after a back-off, missed deadlines and cancels, with a task ring of 2 entries (so
//! ready entries are parked in their cells every run), so a stale counter or a stale `DONE` from an earlier run would show up as a
//! node run twice or early, a skipped node reported as run, or a wrong value or item list.
//!
//! Single-threaded (bodies log to a thread-local), so Miri runs the whole file.

use std::cell::RefCell;

use ringdag::dag::{Dag, DagBuilder, NodeId, RetryPolicy};
use ringdag::sched::{Context, RunError, SubmitOptions, TaskManager};

type Cx<'a> = Context<'a, u64, u64>;
type Tm<'d> = TaskManager<'d, u64, u64, u8, 16, 32, 1, 4, 2>;

thread_local! {
    /// (input, node) of every body start.
    static LOG: RefCell<Vec<(u64, u32)>> = const { RefCell::new(Vec::new()) };
}

fn log(cx: &Cx<'_>) {
    LOG.with(|l| l.borrow_mut().push((*cx.input(), cx.node().index() as u32)));
}

/// Branch of run `input`: 0, 1, or the default (2).
fn branch(input: u64) -> u64 {
    input % 3
}

/// Items the iterator emits for run `input` (0 to 3).
fn items(input: u64) -> u64 {
    (input / 3) % 4
}

/// Whether run `input`'s `flaky` node fails (its successor is then skipped).
fn fails(input: u64) -> bool {
    input % 7 == 5
}

/// Whether run `input`'s `retry` node fails its first attempt (it succeeds after a back-off
/// of 2 ticks).
fn retried(input: u64) -> bool {
    input % 5 == 1
}

/// Whether run `input` gets a deadline it cannot meet (its `retry` waits 2 ticks, past a
/// deadline of 1): the run fails as `DeadlineExceeded`.
fn late(input: u64) -> bool {
    input % 13 == 6 && !fails(input)
}

/// Whether run `input` is cancelled before it starts.
fn cancelled(input: u64) -> bool {
    input % 11 == 4
}

fn route(cx: &mut Cx<'_>) -> Result<u64, u8> {
    log(cx);
    let b = branch(*cx.input());
    if b < 2 {
        cx.choose(b as u8);
    }
    Ok(b)
}

/// A branch target: its value names the run and the node.
fn arm(cx: &mut Cx<'_>) -> Result<u64, u8> {
    log(cx);
    Ok(*cx.input() * 100 + cx.node().index() as u64)
}

/// The join: the sum of the inputs it saw (only the taken branch ran).
fn join(cx: &mut Cx<'_>) -> Result<u64, u8> {
    log(cx);
    Ok(cx.inputs().map(|(_, v)| v).sum())
}

fn split(cx: &mut Cx<'_>) -> Result<u64, u8> {
    log(cx);
    let input = *cx.input();
    for k in 0..items(input) {
        cx.emit(input * 10 + k).map_err(|_| 1u8)?;
    }
    Ok(items(input))
}

fn square(cx: &mut Cx<'_>) -> Result<u64, u8> {
    log(cx);
    let (_, item) = cx.item().expect("a body has an item");
    Ok(item * item)
}

fn total(cx: &mut Cx<'_>) -> Result<u64, u8> {
    log(cx);
    let split = NodeId::from_index(5);
    Ok(cx.items(split).iter().sum::<u64>() + cx.items(split).len() as u64)
}

fn flaky(cx: &mut Cx<'_>) -> Result<u64, u8> {
    log(cx);
    if fails(*cx.input()) {
        Err(7)
    } else {
        Ok(1)
    }
}

fn retry(cx: &mut Cx<'_>) -> Result<u64, u8> {
    log(cx);
    let input = *cx.input();
    if (retried(input) || late(input)) && cx.attempt() == 0 {
        Err(3)
    } else {
        Ok(input + 1000 * u64::from(cx.attempt()))
    }
}

fn after(cx: &mut Cx<'_>) -> Result<u64, u8> {
    log(cx);
    Ok(cx.value(NodeId::from_index(8)).expect("flaky ran") + *cx.input())
}

/// Whether run `input` takes the rare branch: once every 128 generations, so its `DONE` from
/// generation 0 or 128 is still in the cell at 64 and 192, whose tags match it modulo 64 (the
/// full clear at those generations is what keeps it from counting).
fn rare(input: u64) -> bool {
    input.is_multiple_of(128)
}

fn gate(cx: &mut Cx<'_>) -> Result<u64, u8> {
    log(cx);
    if rare(*cx.input()) {
        cx.choose(0);
    }
    Ok(0)
}

fn dag() -> Dag<u64, u64, u8, 16, 32> {
    DagBuilder::new()
        .condition("route", route) // 0
        .task("a", arm) // 1
        .task("b", arm) // 2
        .task("c", arm) // 3
        .task("join", join) // 4
        .iterator("split", split, 3) // 5
        .body("split", "square", square) // 6
        .task("total", total) // 7
        .task("flaky", flaky) // 8
        .task("after", after) // 9
        .condition("gate", gate) // 10
        .task("rare", arm) // 11
        .task("common", arm) // 12
        .branch("gate", "rare", 0)
        .default_branch("gate", "common")
        .task("retry", retry) // 13
        .task("retried", arm) // 14
        .edge("retry", "retried")
        .retry(
            "retry",
            RetryPolicy {
                attempts: 2,
                backoff_ticks: 2,
            },
        )
        .branch("route", "a", 0)
        .branch("route", "b", 1)
        .default_branch("route", "c")
        .edge("a", "join")
        .edge("b", "join")
        .edge("c", "join")
        .edge("split", "total")
        .edge("join", "total")
        .edge("flaky", "after")
        .build()
        .unwrap()
}

fn starts(input: u64, node: u32) -> usize {
    LOG.with(|l| l.borrow().iter().filter(|&&e| e == (input, node)).count())
}

#[test]
fn a_reused_slot_shows_each_run_only_its_own_results() {
    let dag = dag();
    let tm = Box::new(Tm::new(&dag));
    let node = |name: &str| dag.find(name).unwrap();
    // Steps until nothing runs now, then moves the clock on while retries wait.
    let settle = || loop {
        while tm.step() > 0 {}
        if tm.engine().deferred() == 0 {
            break;
        }
        tm.advance_tick(1);
    };
    let arms = [node("a"), node("b"), node("c")];
    let (square, retry_node) = (node("square"), node("retry"));
    // 300 runs in one slot: generations 0 to 299, across the full clears at 64, 128, 192 and
    // 256. Under Miri 70: past the first full clear, where the rare branch's stale tag from
    // generation 0 would match generation 64.
    let runs = if cfg!(miri) { 70 } else { 300 };
    for input in 0..runs {
        let opts = SubmitOptions {
            deadline_ticks: late(input).then_some(1),
            ..SubmitOptions::default()
        };
        // Each run's starts only (keeps `starts` cheap under Miri).
        LOG.with(|l| l.borrow_mut().clear());
        let id = tm.submit_with(input, opts).unwrap();
        assert_eq!(id.slot(), 0);
        assert_eq!(u64::from(id.generation()), input);
        if cancelled(input) {
            tm.cancel(id).unwrap();
        }
        settle();
        let done = tm.poll().expect("the run finished");
        assert_eq!(done.id(), id);
        if cancelled(input) {
            assert_eq!(done.outcome(), Err(RunError::Cancelled), "run {input}");
            for v in 0..dag.len() {
                let v = NodeId::from_index(v);
                assert!(!done.ran(v), "run {input}: cancelled, yet {v:?} ran");
                assert_eq!(done.value(v), None, "run {input}: {v:?}");
                assert_eq!(starts(input, v.index() as u32), 0, "run {input}: {v:?}");
            }
            assert!(done.items(node("split")).is_empty(), "run {input}");
            continue;
        }
        // Whatever happened, no node started more often than it may (`retry` twice).
        for v in 0..dag.len() {
            let v = NodeId::from_index(v);
            if v == square {
                continue; // a body starts once per item
            }
            let n = starts(input, v.index() as u32);
            let most = if v == retry_node { 2 } else { 1 };
            assert!(n <= most, "run {input}: {v:?} started {n} times");
            // Reported as run only if it started (in a failing run, a started node may not
            // finish: `flaky` fails, and the iterator's items stop).
            if done.ran(v) {
                assert!(n >= 1, "run {input}: {v:?} reported as run");
            }
            assert_eq!(done.value(v).is_some(), done.ran(v), "run {input}: {v:?}");
        }
        if late(input) && !cancelled(input) {
            // `retry` waits past the deadline: the run stops (what else ran depends on the
            // order, checked above).
            assert_eq!(
                done.outcome(),
                Err(RunError::DeadlineExceeded),
                "run {input}"
            );
            assert!(!done.ran(node("retry")), "run {input}");
            assert!(!done.ran(node("retried")), "run {input}");
            continue;
        }
        if fails(input) {
            // The run stops starting nodes once `flaky` fails: which others ran depends on
            // the order, checked above.
            assert_eq!(
                done.outcome(),
                Err(RunError::Failed {
                    node: node("flaky"),
                    error: 7
                }),
                "run {input}"
            );
            assert!(!done.ran(node("after")), "run {input}: after ran");
            continue;
        }
        assert_eq!(done.outcome(), Ok(()), "run {input}");
        let b = branch(input) as usize;
        for (k, &arm_node) in arms.iter().enumerate() {
            let want = usize::from(k == b);
            assert_eq!(done.ran(arm_node), k == b, "run {input}: arm {k}");
            assert_eq!(starts(input, arm_node.index() as u32), want, "run {input}");
        }
        let arm_value = input * 100 + arms[b].index() as u64;
        assert_eq!(done.value(arms[b]), Some(arm_value), "run {input}");
        assert_eq!(done.value(node("join")), Some(arm_value), "run {input}");
        let want_items: Vec<u64> = (0..items(input)).map(|k| (input * 10 + k).pow(2)).collect();
        assert_eq!(
            done.items(node("split")),
            want_items.as_slice(),
            "run {input}"
        );
        assert_eq!(
            done.value(node("total")),
            Some(want_items.iter().sum::<u64>() + want_items.len() as u64),
            "run {input}"
        );
        assert_eq!(done.ran(node("rare")), rare(input), "run {input}");
        assert_eq!(done.ran(node("common")), !rare(input), "run {input}");
        let attempts = 1 + usize::from(retried(input));
        assert_eq!(
            starts(input, node("retry").index() as u32),
            attempts,
            "run {input}"
        );
        let retry_value = input + 1000 * (attempts as u64 - 1);
        assert_eq!(done.value(node("retry")), Some(retry_value), "run {input}");
        for name in [
            "route", "join", "split", "total", "flaky", "after", "gate", "retried",
        ] {
            assert_eq!(
                starts(input, node(name).index() as u32),
                1,
                "run {input}: {name}"
            );
        }
        assert_eq!(done.value(node("after")), Some(1 + input), "run {input}");
    }
    // The runs went through the paths named above.
    let c = tm.counters();
    assert!(c.ring_full > 0, "no entry was parked for lack of room");
    assert!(c.retries > 0, "no retry");
    assert!(c.runs_cancelled > 0 && c.runs_failed > 0 && c.runs_completed > 0);
}
