//! The scheduler on bare metal: a `static` DAG and a `static` `TaskManager`, runs submitted
//! from the timer interrupt, executed by `step()` from main.
//!
//! The DAG (8 nodes, 9 edges) has a condition, an iterator with a body, and a node with a
//! retry policy whose back-off is counted in ticks that the interrupt advances:
//!
//! ```text
//!            +-> route --[0]--> triple --+
//!            |         \-[default]-> plus --+
//!   read ----+-> split (iterator, body square) --+--> sum
//!            +-> flaky (3 attempts, back-off BACKOFF ticks) --+
//! ```
//!
//! Every timer tick calls `TM.advance_tick(1)` and submits the next input 0, 1, 2, ...; on
//! `Busy` (every run slot in use) it counts the answer and retries the same input on the next
//! tick, so nothing is lost. Main steps and polls, and checks every finished run against
//! `expected(x)`, a plain function computing the same result without the scheduler: the
//! value of every node, which branch ran, the iterator's items in order, and for
//! `x % 32 == 31` the failure of `flaky` after its last attempt. At the end: every input
//! finished exactly once; the interrupt's submit/Busy counts equal the manager's counters;
//! retries, failures and completions are exactly what the inputs call for; and every retry
//! started at least BACKOFF ticks after the attempt before it. Main stalls twice until the
//! interrupt has been answered Busy a few times, so the Busy path is taken for certain.
//!
//! On thumbv6m and riscv32imc the scheduler's atomics (CAS, fetch_add, fetch_or, ...) are
//! portable-atomic's, emulated in a critical section, against a real interrupt.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

use ringdag_core::dag::{Dag, DagBuilder, NodeId, RetryPolicy};
use ringdag_core::ring::RingBuffer;
use ringdag_core::sched::{Context, Finished, RunError, SubmitError, TaskManager};
use ringdag_qemu::{println, timer};

ringdag_qemu::test_main!(run);
ringdag_qemu::on_timer_tick!(tick);

/// Runs to submit (inputs 0..TOTAL).
const TOTAL: u32 = 400;
/// Timer period: core cycles on ARM, 10 MHz `mtime` ticks on RISC-V (0.5 ms).
const PERIOD: u32 = 5_000;
/// Ticks between two attempts of `flaky`.
const BACKOFF: u32 = 2;
/// Main stalls when it has finished `STALL_AT (mod STALL_EVERY)` runs...
const STALL_EVERY: u32 = 200;
const STALL_AT: u32 = 100;
/// ...until the interrupt has been answered Busy this many more times.
const STALL_BUSY: u32 = 3;
/// Give up (fail) after this many ticks: a lost run would otherwise hang the test.
const TICK_LIMIT: u32 = 40 * TOTAL + 2_000;

/// Run slots; also the size of the per-slot bookkeeping of `flaky`.
const RUNS: usize = 4;
/// The error `flaky` returns.
const FLAKY_ERROR: u8 = 0xE7;
/// The error of a body that found no item (never expected).
const NO_ITEM: u8 = 0xEE;

// Node ids: declaration order (checked against `DAG.find` at start).
const READ: NodeId = NodeId::from_index(0);
const ROUTE: NodeId = NodeId::from_index(1);
const TRIPLE: NodeId = NodeId::from_index(2);
const PLUS: NodeId = NodeId::from_index(3);
const SPLIT: NodeId = NodeId::from_index(4);
const SQUARE: NodeId = NodeId::from_index(5);
const FLAKY: NodeId = NodeId::from_index(6);
const SUM: NodeId = NodeId::from_index(7);

type Cx<'a> = Context<'a, u32, u32>;

fn read(cx: &mut Cx<'_>) -> Result<u32, u8> {
    Ok(*cx.input())
}

/// Condition: branch 0 (`triple`) for multiples of 3, the default (`plus`) otherwise. Passes
/// `read`'s value on.
fn route(cx: &mut Cx<'_>) -> Result<u32, u8> {
    let x = cx.inputs().map(|(_, v)| v).sum::<u32>();
    cx.choose(if x.is_multiple_of(3) { 0 } else { 1 });
    Ok(x)
}

fn triple(cx: &mut Cx<'_>) -> Result<u32, u8> {
    Ok(cx.inputs().map(|(_, v)| v).sum::<u32>().wrapping_mul(3))
}

fn plus(cx: &mut Cx<'_>) -> Result<u32, u8> {
    Ok(cx.inputs().map(|(_, v)| v).sum::<u32>().wrapping_add(7))
}

/// Iterator: emits `x % 6` items `x, x + 1, ...` (0 to 5; `max_items` is 8). Its own value is
/// the count.
fn split(cx: &mut Cx<'_>) -> Result<u32, u8> {
    let x = *cx.input();
    for i in 0..x % 6 {
        cx.emit(x.wrapping_add(i)).map_err(|_| NO_ITEM)?;
    }
    Ok(x % 6)
}

/// The iterator's body: squares its item.
fn square(cx: &mut Cx<'_>) -> Result<u32, u8> {
    let (_, item) = cx.item().ok_or(NO_ITEM)?;
    Ok(item.wrapping_mul(item))
}

/// Tick of the previous attempt of `flaky`, per run slot (written by main only: bodies run in
/// `step`).
static LAST_TRY: [AtomicU32; RUNS] = [const { AtomicU32::new(0) }; RUNS];
/// Smallest gap, in ticks, seen between two attempts of `flaky`.
static MIN_GAP: AtomicU32 = AtomicU32::new(u32::MAX);
/// Attempts of `flaky` (all inputs).
static FLAKY_ATTEMPTS: AtomicU32 = AtomicU32::new(0);

/// Fails on its first two attempts for `x % 4 == 1` (then succeeds), on every attempt for
/// `x % 32 == 31` (the run fails); succeeds at once otherwise. Records the tick gaps between
/// attempts.
fn flaky(cx: &mut Cx<'_>) -> Result<u32, u8> {
    let x = *cx.input();
    let now = cx.now();
    let last = &LAST_TRY[cx.run().slot() % RUNS];
    if cx.attempt() > 0 {
        let gap = now.wrapping_sub(last.load(Relaxed));
        if gap < MIN_GAP.load(Relaxed) {
            MIN_GAP.store(gap, Relaxed);
        }
    }
    last.store(now, Relaxed);
    bump(&FLAKY_ATTEMPTS);
    let fails = (x % 4 == 1 && cx.attempt() < 2) || x % 32 == 31;
    if fails {
        Err(FLAKY_ERROR)
    } else {
        Ok(x ^ 0xA5A5)
    }
}

/// Join: its live inputs (one of `triple`/`plus`, `split`'s count, `flaky`) plus the squares.
fn sum(cx: &mut Cx<'_>) -> Result<u32, u8> {
    let inputs = cx.inputs().fold(0u32, |a, (_, v)| a.wrapping_add(v));
    let squares = cx.items(SPLIT).iter().fold(0u32, |a, &v| a.wrapping_add(v));
    Ok(inputs.wrapping_add(squares))
}

static DAG: Dag<u32, u32, u8, 8, 9> = Dag::new_or_panic(
    DagBuilder::new()
        .task("read", read)
        .condition("route", route)
        .task("triple", triple)
        .task("plus", plus)
        .iterator("split", split, 8)
        .body("split", "square", square)
        .task("flaky", flaky)
        .task("sum", sum)
        .edge("read", "route")
        .branch("route", "triple", 0)
        .default_branch("route", "plus")
        .edge("read", "split")
        .edge("read", "flaky")
        .edge("triple", "sum")
        .edge("plus", "sum")
        .edge("split", "sum")
        .edge("flaky", "sum")
        .retry(
            "flaky",
            RetryPolicy {
                attempts: 3,
                backoff_ticks: BACKOFF,
            },
        )
        .build(),
);

/// 4 run slots, 8 item slots per run, task and result rings of 16.
static TM: TaskManager<'static, u32, u32, u8, 8, 9, RUNS, 8, 16> = TaskManager::new(&DAG);

/// What a run of `x` must produce, computed without the scheduler.
struct Expected {
    branch_triple: bool,
    route: u32,
    branch: u32,
    items: u32,
    squares: [u32; 8],
    flaky: u32,
    outcome: Result<u32, RunError<u8>>,
}

fn expected(x: u32) -> Expected {
    let branch_triple = x.is_multiple_of(3);
    let branch = if branch_triple {
        x.wrapping_mul(3)
    } else {
        x.wrapping_add(7)
    };
    let items = x % 6;
    let mut squares = [0u32; 8];
    let mut square_sum = 0u32;
    for i in 0..items {
        let v = x.wrapping_add(i);
        squares[i as usize] = v.wrapping_mul(v);
        square_sum = square_sum.wrapping_add(v.wrapping_mul(v));
    }
    let flaky = x ^ 0xA5A5;
    let outcome = if x % 32 == 31 {
        Err(RunError::Failed {
            node: FLAKY,
            error: FLAKY_ERROR,
        })
    } else {
        Ok(branch
            .wrapping_add(items)
            .wrapping_add(flaky)
            .wrapping_add(square_sum))
    };
    Expected {
        branch_triple,
        route: x,
        branch,
        items,
        squares,
        flaky,
        outcome,
    }
}

// Written only by the interrupt handler, read by main: load/store suffices (and is all that
// thumbv6m and riscv32imc have natively).
/// The next input to submit.
static NEXT: AtomicU32 = AtomicU32::new(0);
/// Runs accepted by `submit`.
static SUBMITTED: AtomicU32 = AtomicU32::new(0);
/// `submit` answered `Busy` (the input is retried on the next tick).
static BUSY: AtomicU32 = AtomicU32::new(0);
/// Timer interrupts taken.
static TICKS: AtomicU32 = AtomicU32::new(0);

fn bump(counter: &AtomicU32) {
    counter.store(counter.load(Relaxed).wrapping_add(1), Relaxed);
}

/// The interrupt handler: advance the scheduler's clock, submit the next input.
fn tick() {
    bump(&TICKS);
    TM.advance_tick(1);
    let x = NEXT.load(Relaxed);
    if x >= TOTAL {
        return;
    }
    match TM.submit(x) {
        Ok(_) => {
            NEXT.store(x + 1, Relaxed);
            bump(&SUBMITTED);
        }
        // NEXT is unchanged: the same input is submitted again on the next tick.
        Err(SubmitError::Busy(_)) => bump(&BUSY),
        Err(SubmitError::EmptyDag(_)) => panic!("the DAG has nodes"),
    }
}

/// Checks one finished run against `expected`; returns whether it succeeded.
///
/// A failed run (`flaky` out of attempts) skips what had not started when it failed, so
/// there only the values that exist are checked.
fn check(done: &Finished<'_, u32, u32, u8>) -> bool {
    let x = done.input();
    let want = expected(x);
    assert_eq!(
        done.outcome(),
        want.outcome.map(|_| ()),
        "outcome, x = {}",
        x
    );
    assert_eq!(done.value(READ), Some(x), "read, x = {}", x);
    let (taken, skipped) = if want.branch_triple {
        (TRIPLE, PLUS)
    } else {
        (PLUS, TRIPLE)
    };
    assert!(!done.ran(skipped), "branch not taken ran, x = {}", x);
    let values = [
        (ROUTE, want.route),
        (SPLIT, want.items),
        (taken, want.branch),
    ];
    match want.outcome {
        Ok(total) => {
            for (node, value) in values {
                assert_eq!(done.value(node), Some(value), "{}, x = {}", node, x);
            }
            assert_eq!(
                done.items(SPLIT),
                &want.squares[..want.items as usize],
                "items, x = {}",
                x
            );
            assert_eq!(done.value(FLAKY), Some(want.flaky), "flaky, x = {}", x);
            assert_eq!(done.value(SUM), Some(total), "sum, x = {}", x);
            true
        }
        Err(_) => {
            for (node, value) in values {
                if let Some(v) = done.value(node) {
                    assert_eq!(v, value, "{}, x = {}", node, x);
                }
            }
            assert!(!done.ran(FLAKY), "flaky failed, x = {}", x);
            assert!(!done.ran(SUM), "sum after a failed node ran, x = {}", x);
            false
        }
    }
}

fn run() {
    // The 16-node, 4-run configuration quoted in README.md (task/result rings of 64).
    println!(
        "  size_of RingBuffer<u32, 64> = {} bytes, TaskManager<u32, u32, (), 16 nodes, 16 edges, 4 runs, 0 items, ring 64> = {} bytes; this test's TaskManager = {} bytes",
        core::mem::size_of::<RingBuffer<u32, 64>>(),
        core::mem::size_of::<TaskManager<'static, u32, u32, (), 16, 16, 4, 0, 64>>(),
        core::mem::size_of_val(&TM)
    );
    for (name, id) in [
        ("read", READ),
        ("route", ROUTE),
        ("triple", TRIPLE),
        ("plus", PLUS),
        ("split", SPLIT),
        ("square", SQUARE),
        ("flaky", FLAKY),
        ("sum", SUM),
    ] {
        assert_eq!(DAG.find(name), Some(id), "node {}", name);
    }

    let mut seen = [0u32; TOTAL.div_ceil(32) as usize];
    let mut finished = 0u32;
    let mut ok_runs = 0u32;
    let mut idle_steps = 0u32;
    let mut stalls = 0u32;
    let mut stalled_at = u32::MAX;

    timer::start(PERIOD);
    while finished < TOTAL {
        let ticks = TICKS.load(Relaxed);
        assert!(
            ticks < TICK_LIMIT,
            "no progress: {} ticks, {} of {} runs finished",
            ticks,
            finished,
            TOTAL
        );

        if finished % STALL_EVERY == STALL_AT && stalled_at != finished {
            stalled_at = finished;
            stalls += 1;
            let busy = BUSY.load(Relaxed);
            while BUSY.load(Relaxed) < busy + STALL_BUSY {
                assert!(
                    TICKS.load(Relaxed) < TICK_LIMIT,
                    "the interrupt was never answered Busy"
                );
                core::hint::spin_loop();
            }
        }

        if TM.step() == 0 {
            idle_steps += 1;
        }
        while let Some(done) = TM.poll() {
            let x = done.input();
            assert!(x < TOTAL, "unknown input {}", x);
            let (word, bit) = ((x / 32) as usize, 1u32 << (x % 32));
            assert_eq!(seen[word] & bit, 0, "input {} finished twice", x);
            seen[word] |= bit;
            if check(&done) {
                ok_runs += 1;
            }
            finished += 1;
            // `done` drops here: its run slot is free for the interrupt's next submit.
        }
    }
    timer::stop();

    let c = TM.counters();
    let submitted = SUBMITTED.load(Relaxed);
    let busy = BUSY.load(Relaxed);
    let min_gap = MIN_GAP.load(Relaxed);
    println!(
        "  {} runs: {} ok, {} failed; interrupt: {} ticks, {} submitted, {} Busy (retried); main: {} stalls, {} idle steps; scheduler: {} tasks run, {} retries (min gap {} ticks), ring high water {}, runs high water {}",
        finished,
        ok_runs,
        finished - ok_runs,
        TICKS.load(Relaxed),
        submitted,
        busy,
        stalls,
        idle_steps,
        c.tasks_run,
        c.retries,
        min_gap,
        c.ring_high_water,
        c.runs_high_water
    );

    // Every input finished exactly once, nothing else is left.
    assert!(seen.iter().enumerate().all(|(w, &bits)| {
        let first = w as u32 * 32;
        let want = if TOTAL - first >= 32 {
            u32::MAX
        } else {
            (1u32 << (TOTAL - first)) - 1
        };
        bits == want
    }));
    assert_eq!(TM.step(), 0);
    assert!(TM.poll().is_none());
    assert_eq!(TM.active_runs(), 0);
    assert_eq!(NEXT.load(Relaxed), TOTAL);

    // The interrupt's books agree with the manager's.
    let inputs = 0..TOTAL;
    let failing = inputs.clone().filter(|x| x % 32 == 31).count();
    let recovering = inputs.clone().filter(|x| x % 4 == 1).count();
    assert_eq!(submitted, TOTAL);
    assert_eq!(c.runs_submitted, TOTAL as usize);
    assert_eq!(c.busy, busy as usize);
    assert!(busy > 0, "the Busy path was never taken");
    assert!(busy >= stalls * STALL_BUSY);
    assert_eq!(c.runs_completed, TOTAL as usize - failing);
    assert_eq!(c.runs_failed, failing);
    assert_eq!(ok_runs as usize, c.runs_completed);
    assert_eq!(c.runs_cancelled, 0);
    assert_eq!(c.failures, failing);
    // Two retries for each recovering input and for each failing one (3 attempts each).
    assert_eq!(c.retries, 2 * (recovering + failing));
    assert_eq!(
        FLAKY_ATTEMPTS.load(Relaxed) as usize,
        TOTAL as usize + c.retries
    );
    assert!(c.runs_high_water <= RUNS);
    // Back-off: every retry started at least BACKOFF ticks after the attempt before it.
    assert!(
        min_gap >= BACKOFF && min_gap != u32::MAX,
        "retry after {} ticks",
        min_gap
    );
    assert!(idle_steps > 0);
}
