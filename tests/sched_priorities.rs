//! Priorities: two levels, one task ring each. High runs are taken first; under sustained
//! high-priority load low-priority runs still complete (no starvation), single-threaded and
//! with several workers.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use ringdag::dag::{Dag, DagBuilder};
use ringdag::sched::{Context, Priority, SubmitOptions, TaskManager};

type Cx<'a> = Context<'a, u64, u64>;

thread_local! {
    static LOG: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

fn logged(cx: &mut Cx<'_>) -> Result<u64, ()> {
    LOG.with(|l| l.borrow_mut().push(*cx.input()));
    Ok(*cx.input())
}

fn sum(cx: &mut Cx<'_>) -> Result<u64, ()> {
    Ok(cx.inputs().map(|(_, v)| v).sum::<u64>() + 1)
}

const LOW: SubmitOptions = SubmitOptions {
    priority: Priority::Low,
    deadline_ticks: None,
};

#[test]
fn high_priority_taken_first() {
    let dag: Dag<u64, u64, (), 2, 1> = DagBuilder::new().task("only", logged).build().unwrap();
    let tm = Box::new(TaskManager::<u64, u64, (), 2, 1, 8, 0, 8>::new(&dag));
    tm.submit_with(1, LOW).unwrap();
    tm.submit_with(2, LOW).unwrap();
    tm.submit(3).unwrap();
    tm.submit_with(4, SubmitOptions::default()).unwrap();
    assert_eq!(tm.engine().ring_depths(), [2, 2]);
    // A fresh manager: the first batch comes from the high ring.
    assert_eq!(tm.step(), 2);
    assert_eq!(LOG.with(|l| l.borrow().clone()), [3, 4]);
    while tm.step() > 0 {}
    assert_eq!(LOG.with(|l| l.borrow().clone()), [3, 4, 1, 2]);
    let mut n = 0;
    while let Some(done) = tm.poll() {
        assert_eq!(done.outcome(), Ok(()));
        n += 1;
    }
    assert_eq!(n, 4);
}

/// A root with 8 successors and a join: a low run's successors go to the low ring.
fn fan() -> Dag<u64, u64, (), 16, 16> {
    DagBuilder::new()
        .task("root", sum)
        .task("a", sum)
        .task("b", sum)
        .task("c", sum)
        .task("d", sum)
        .task("e", sum)
        .task("f", sum)
        .task("g", sum)
        .task("h", sum)
        .task("join", sum)
        .edge("root", "a")
        .edge("root", "b")
        .edge("root", "c")
        .edge("root", "d")
        .edge("root", "e")
        .edge("root", "f")
        .edge("root", "g")
        .edge("root", "h")
        .edge("a", "join")
        .edge("b", "join")
        .edge("c", "join")
        .edge("d", "join")
        .edge("e", "join")
        .edge("f", "join")
        .edge("g", "join")
        .edge("h", "join")
        .build()
        .unwrap()
}

#[test]
fn successors_stay_at_their_run_level() {
    let dag = fan();
    let tm = Box::new(TaskManager::<u64, u64, (), 16, 16, 4, 0, 16>::new(&dag));
    tm.submit_with(0, LOW).unwrap();
    assert_eq!(tm.engine().ring_depths(), [0, 1]);
    assert_eq!(tm.step(), 2, "root, then its first successor directly");
    assert_eq!(tm.engine().ring_depths(), [0, 7]);
}

/// Keeps the high ring full (submitting before every step) while 4 low runs of `fan()` are
/// in flight; every low run must finish within 200 steps.
fn low_runs_finish_under_sustained_high_load<const RING: usize>() {
    let dag = fan();
    let tm = Box::new(TaskManager::<u64, u64, (), 16, 16, 32, 0, RING>::new(&dag));
    const LOW_RUNS: u64 = 4;
    for i in 0..LOW_RUNS {
        tm.submit_with(1_000_000 + i, LOW).unwrap();
    }
    let mut next_high = 0u64;
    let mut low_done = 0;
    let mut high_done = 0;
    let mut steps = 0;
    while low_done < LOW_RUNS {
        // Keep the high ring as full as it goes.
        while tm.submit(next_high).is_ok() {
            next_high += 1;
        }
        tm.step();
        steps += 1;
        while let Some(done) = tm.poll() {
            assert_eq!(done.outcome(), Ok(()));
            assert_eq!(done.value(dag.find("join").unwrap()), Some(8 * 2 + 1));
            if done.input() >= 1_000_000 {
                low_done += 1;
            } else {
                high_done += 1;
            }
        }
        assert!(
            steps < 200,
            "low runs starved: {low_done} of {LOW_RUNS} done after {steps} steps \
             ({high_done} high runs done, {:?})",
            tm.counters()
        );
    }
    assert!(high_done > 0, "the high level did not run at all");
}

/// The low ring (64) holds all successors of the low runs: the 1-in-4 fairness rule alone
/// lets them finish.
#[test]
fn low_priority_not_starved_single_thread() {
    low_runs_finish_under_sustained_high_load::<64>();
}

/// The low ring (16) cannot hold the 4 x 7 successors pushed at once: some are parked. Parked
/// entries must still be picked up under sustained high load (they once were scanned only by
/// a worker that found *both* rings empty, which never happens here: those runs never ended).
#[test]
fn parked_entries_not_starved_under_sustained_high_load() {
    low_runs_finish_under_sustained_high_load::<16>();
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
fn low_priority_not_starved_multi_thread() {
    let dag = fan();
    let tm = Box::new(TaskManager::<u64, u64, (), 16, 16, 32, 0, 64>::new(&dag));
    let tm = &*tm;
    let stop = AtomicBool::new(false);
    let low_total: u64 = if cfg!(miri) { 2 } else { 200 };
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
        let start = Instant::now();
        let (mut next_high, mut next_low) = (0u64, 0u64);
        let (mut low_done, mut high_done) = (0u64, 0u64);
        while low_done < low_total {
            // Sustained high load: a low run now and then, then as many high runs as fit.
            if next_low < low_total
                && next_low <= high_done / 4
                && tm.submit_with(1_000_000 + next_low, LOW).is_ok()
            {
                next_low += 1;
            }
            while tm.submit(next_high).is_ok() {
                next_high += 1;
            }
            while let Some(done) = tm.poll() {
                assert_eq!(done.outcome(), Ok(()));
                if done.input() >= 1_000_000 {
                    low_done += 1;
                } else {
                    high_done += 1;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "low runs starved: {low_done} of {low_total} ({next_low} submitted), \
                 {high_done} high runs done"
            );
            idle();
        }
    });
}
