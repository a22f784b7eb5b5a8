//! Counters: the snapshot matches what the bodies and the driver observed (tasks run =
//! body executions, retries, failures, runs submitted/completed/failed/cancelled, busy,
//! high-water marks within their capacities), single-threaded and with several workers.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

use ringdag::dag::{Dag, DagBuilder, RetryPolicy};
use ringdag::sched::{Context, Counters, TaskManager};

type Cx<'a> = Context<'a, u64, u64>;

thread_local! {
    static EXECUTIONS: Cell<usize> = const { Cell::new(0) };
}

/// Body executions on all threads (multi-threaded test).
static ALL_EXECUTIONS: AtomicUsize = AtomicUsize::new(0);

fn count() {
    EXECUTIONS.with(|c| c.set(c.get() + 1));
    ALL_EXECUTIONS.fetch_add(1, Relaxed);
}

fn task(cx: &mut Cx<'_>) -> Result<u64, u32> {
    count();
    Ok(cx.inputs().map(|(_, v)| v).sum::<u64>() + 1)
}

/// Input bits: 0..2 = failures before success; bit 4 = route to branch 1.
fn flaky(cx: &mut Cx<'_>) -> Result<u64, u32> {
    count();
    if cx.attempt() < (*cx.input() & 3) as u32 {
        Err(1)
    } else {
        Ok(1)
    }
}

fn route(cx: &mut Cx<'_>) -> Result<u64, u32> {
    count();
    cx.choose(u8::from(*cx.input() & 16 != 0));
    Ok(0)
}

/// Emits input >> 8 & 7 items.
fn split(cx: &mut Cx<'_>) -> Result<u64, u32> {
    count();
    for k in 0..(*cx.input() >> 8 & 7) {
        cx.emit(k).map_err(|_| 9u32)?;
    }
    Ok(0)
}

fn body(cx: &mut Cx<'_>) -> Result<u64, u32> {
    count();
    Ok(cx.item().unwrap().1)
}

static DAG: Dag<u64, u64, u32, 8, 8> = Dag::new_or_panic(
    DagBuilder::new()
        .task("flaky", flaky) // 0
        .condition("route", route) // 1
        .task("yes", task) // 2
        .task("no", task) // 3
        .iterator("split", split, 7) // 4
        .body("split", "each", body) // 5
        .task("end", task) // 6
        .edge("flaky", "route")
        .branch("route", "yes", 1)
        .default_branch("route", "no")
        .edge("yes", "split")
        .edge("no", "end")
        .edge("split", "end")
        .retry(
            "flaky",
            RetryPolicy {
                attempts: 3,
                backoff_ticks: 0,
            },
        )
        .build(),
);

/// What the counters should say after `input` ran: (body executions, retries, failed).
fn expected(input: u64) -> (usize, usize, bool) {
    let fails = (input & 3) as usize;
    if fails >= 3 {
        return (3, 2, true);
    }
    let items = (input >> 8 & 7) as usize;
    let rest = if input & 16 != 0 {
        // route, yes, split, items, end
        4 + items
    } else {
        // route, no, end
        3
    };
    (fails + 1 + rest, fails, false)
}

#[test]
fn counters_match_observations_single_thread() {
    let tm = Box::new(TaskManager::<u64, u64, u32, 8, 8, 4, 7, 8>::new(&DAG));
    assert_eq!(tm.counters(), Counters::default());
    let inputs: Vec<u64> = (0..48u64)
        .map(|i| (i % 4) | (i / 4 % 2) << 4 | (i % 7) << 8 | i << 16)
        .collect();
    let (mut execs, mut retries, mut failed, mut busy, mut cancelled) = (0, 0, 0, 0, 0);
    let mut submitted = 0;
    let mut in_flight = 0;
    let mut max_in_flight = 0;
    let mut pending = inputs.iter().copied().peekable();
    let mut finished = 0;
    while finished < inputs.len() {
        // Submit up to three at once (Busy past the 4 slots or 8 ring entries).
        for _ in 0..3 {
            let Some(&input) = pending.peek() else { break };
            match tm.submit(input) {
                Ok(id) => {
                    pending.next();
                    submitted += 1;
                    in_flight += 1;
                    max_in_flight = max_in_flight.max(in_flight);
                    // Every 11th run is cancelled before it starts.
                    if submitted % 11 == 0 {
                        tm.cancel(id).unwrap();
                        cancelled += 1;
                    }
                }
                Err(_) => busy += 1,
            }
        }
        tm.step();
        while let Some(done) = tm.poll() {
            finished += 1;
            in_flight -= 1;
            let input = done.input();
            if done.outcome() == Err(ringdag::sched::RunError::Cancelled) {
                continue;
            }
            let (e, r, f) = expected(input);
            execs += e;
            retries += r;
            failed += usize::from(f);
            assert_eq!(done.outcome().is_err(), f, "input {input:#x}");
        }
        if pending.peek().is_none() {
            while tm.step() > 0 {}
        }
    }
    let c = tm.counters();
    assert_eq!(c.tasks_run, EXECUTIONS.with(Cell::get), "{c:?}");
    assert_eq!(c.tasks_run, execs, "{c:?}");
    assert_eq!(c.retries, retries, "{c:?}");
    assert_eq!(c.failures, failed, "{c:?}");
    assert_eq!(c.runs_submitted, submitted, "{c:?}");
    assert_eq!(c.runs_failed, failed, "{c:?}");
    assert_eq!(c.runs_cancelled, cancelled, "{c:?}");
    assert_eq!(c.runs_completed, submitted - failed - cancelled, "{c:?}");
    assert_eq!(c.busy, busy, "{c:?}");
    assert!(busy > 0, "never Busy: {c:?}");
    assert_eq!(c.runs_high_water, max_in_flight, "{c:?}");
    assert!(c.runs_high_water <= 4, "{c:?}");
    assert!(c.ring_high_water >= 1 && c.ring_high_water <= 8, "{c:?}");
    // Iterator tokens can fill the ring of 8, so a few successors may have been parked.
    assert!(c.ring_full <= c.tasks_run, "{c:?}");
    assert_eq!(tm.active_runs(), 0);
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
fn counters_match_observations_multi_thread() {
    let tm = Box::new(TaskManager::<u64, u64, u32, 8, 8, 16, 7, 32>::new(&DAG));
    let tm = &*tm;
    let total = if cfg!(miri) { 6 } else { 4000u64 };
    let stop = AtomicBool::new(false);
    let before = ALL_EXECUTIONS.load(Relaxed);
    let (mut execs, mut retries, mut failed) = (0, 0, 0);
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
        while finished < total {
            let input = (next % 4) | (next / 4 % 2) << 4 | (next % 7) << 8 | next << 16;
            if next < total && tm.submit(input).is_ok() {
                next += 1;
            }
            while let Some(done) = tm.poll() {
                let (e, r, f) = expected(done.input());
                execs += e;
                retries += r;
                failed += usize::from(f);
                assert_eq!(done.outcome().is_err(), f);
                finished += 1;
            }
            idle();
        }
    });
    let c = tm.counters();
    // The counting test above may run at the same time: compare with our own model, and
    // with the global count only as a lower bound.
    assert_eq!(c.tasks_run, execs, "{c:?}");
    assert!(ALL_EXECUTIONS.load(Relaxed) - before >= execs);
    assert_eq!(c.retries, retries, "{c:?}");
    assert_eq!(c.failures, failed, "{c:?}");
    assert_eq!(c.runs_failed, failed, "{c:?}");
    assert_eq!(c.runs_completed, total as usize - failed, "{c:?}");
    assert_eq!(c.runs_submitted, total as usize, "{c:?}");
    assert!(c.runs_high_water >= 1 && c.runs_high_water <= 16, "{c:?}");
    assert!(c.ring_high_water <= 32, "{c:?}");
    assert_eq!(tm.active_runs(), 0);
}

/// A ring whose `len`, once something was popped, also counts entries that racing producers
/// pushed after that pop (more than the ring holds): what a worker's depth sample can see
/// under concurrency, made deterministic.
struct RacingLen {
    ring: ringdag::ring::RingBuffer<ringdag::sched::Entry, 8>,
    popped: AtomicBool,
}

// SAFETY: every operation that moves entries is the inner `RingBuffer`'s (each entry popped
// at most once, push happens-before pop); only the reported length is inflated.
unsafe impl ringdag::sched::Queue<ringdag::sched::Entry> for RacingLen {
    fn push_slice(&self, items: &[ringdag::sched::Entry]) -> usize {
        self.ring.push_slice(items)
    }
    fn pop_slice(&self, out: &mut [ringdag::sched::Entry]) -> usize {
        let n = self.ring.pop_slice(out);
        if n > 0 {
            self.popped.store(true, Relaxed);
        }
        n
    }
    fn len(&self) -> usize {
        let meanwhile = if self.popped.load(Relaxed) { 100 } else { 0 };
        self.ring.len() + meanwhile
    }
    fn capacity(&self) -> usize {
        self.ring.capacity()
    }
}

#[test]
fn ring_high_water_never_exceeds_the_capacity() {
    use ringdag::sched::{Engine, Entry, ItemCell, NoHooks, NodeCell, RunId, RunSlot, Shared};
    let dag: Dag<u64, u64, u32, 2, 1> = DagBuilder::new()
        .task("a", task)
        .task("b", task)
        .edge("a", "b")
        .build()
        .unwrap();
    let runs = [RunSlot::<u64, u32>::new()];
    let cells: Vec<NodeCell<u64>> = (0..2).map(|_| NodeCell::new()).collect();
    let items: [ItemCell<u64>; 0] = [];
    let high = RacingLen {
        ring: ringdag::ring::RingBuffer::new(),
        popped: AtomicBool::new(false),
    };
    let low = ringdag::ring::RingBuffer::<Entry, 8>::new();
    let results = ringdag::ring::RingBuffer::<RunId, 4>::new();
    let shared = Shared::new();
    // SAFETY: the view is a built DAG's; the storage is fresh and sized for it (one run slot,
    // 2 cells, no items).
    let engine = unsafe {
        Engine::new(
            dag.view(),
            &runs,
            &cells,
            2,
            &items,
            0,
            [&high, &low],
            Some(&results),
            &shared,
            &NoHooks,
        )
    }
    .unwrap();
    let id = engine.submit(1).unwrap();
    while engine.step(&dag, 8) > 0 {}
    let done = engine.take(id).expect("the run finished");
    assert_eq!(done.outcome(), Ok(()));
    let c = engine.counters();
    assert!(c.ring_high_water >= 1, "{c:?}");
    assert!(c.ring_high_water <= 8, "{c:?}");
}
