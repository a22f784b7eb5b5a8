//! Steady state of the std runtime allocates nothing: after a warm-up, 10 000 runs of a built
//! DAG (submit, wait, values read with `value()` and `with_items`) make no heap allocation on
//! any thread (the counting allocator is global: worker threads count too).
//!
//! To find where an allocation comes from, run with `RINGDAG_ALLOC_BACKTRACE=1` (and
//! `-- --nocapture`): the first few allocations inside the counted window print a backtrace.
//!
//! The allocator is global to this test binary, so the file holds exactly one test.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use core::time::Duration;
use std::alloc::System;
use std::io::Write;

use ringdag::runtime::{GraphBuilder, Priority, RetryPolicy, Runtime};

struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// Counted window open.
static ARMED: AtomicBool = AtomicBool::new(false);
/// Print a backtrace for the first allocations in the window.
static BACKTRACES: AtomicBool = AtomicBool::new(false);
static TRACED: AtomicUsize = AtomicUsize::new(0);
const MAX_TRACED: usize = 8;

thread_local! {
    /// This thread is inside `report` (whose own allocations must not recurse).
    static REPORTING: Cell<bool> = const { Cell::new(false) };
}

#[inline]
fn count() {
    if ARMED.load(Relaxed) {
        ALLOCATIONS.fetch_add(1, Relaxed);
        if BACKTRACES.load(Relaxed) {
            report();
        }
    }
}

#[cold]
fn report() {
    let reentered = REPORTING.with(|r| r.replace(true));
    if reentered || TRACED.fetch_add(1, Relaxed) >= MAX_TRACED {
        REPORTING.with(|r| r.set(reentered));
        return;
    }
    let bt = std::backtrace::Backtrace::force_capture();
    let name = std::thread::current().name().map(str::to_owned);
    let _ = writeln!(
        std::io::stderr(),
        "allocation on thread {name:?} during steady state:\n{bt}"
    );
    REPORTING.with(|r| r.set(false));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees are ours; counting has no effect on memory.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged; `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Allocations (on any thread) while `f` runs.
fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Relaxed);
    ARMED.store(true, Relaxed);
    f();
    ARMED.store(false, Relaxed);
    ALLOCATIONS.load(Relaxed) - before
}

const WARM_UP: u64 = 1_000;
const RUNS: u64 = 10_000;

fn steady_state_runs_allocate_nothing() {
    BACKTRACES.store(
        std::env::var_os("RINGDAG_ALLOC_BACKTRACE").is_some(),
        Relaxed,
    );
    // The counter works, on other threads too.
    assert!(allocations_during(|| drop(core::hint::black_box(Box::new(1u64)))) >= 1);
    assert!(
        allocations_during(|| {
            std::thread::scope(|s| {
                s.spawn(|| drop(core::hint::black_box(vec![1u8; 64])));
            })
        }) >= 1
    );
    TRACED.store(0, Relaxed);

    // A DAG with every node kind: a condition with two branches, an iterator fanning out to
    // a body, a join; one node with a retry policy that is used on some runs.
    let mut b = GraphBuilder::<u64, u64, u8>::new();
    let src = b.task("src", |cx| {
        if cx.input().is_multiple_of(7) && cx.attempt() == 0 {
            return Err(1);
        }
        Ok(*cx.input())
    });
    let cond = b.condition("cond", move |cx| {
        let v = cx.value(src).unwrap();
        cx.choose((v % 2) as u8);
        Ok(v)
    });
    let even = b.task("even", move |cx| Ok(cx.value(cond).unwrap() / 2));
    let odd = b.task("odd", move |cx| Ok(cx.value(cond).unwrap() * 3 + 1));
    let fan = b.iterator("fan", 8, move |cx| {
        let v = cx.value(src).unwrap();
        for i in 0..v % 9 {
            cx.emit(v + i).unwrap();
        }
        Ok(v % 9)
    });
    let body = b.body(fan, "body", |cx| Ok(cx.item().unwrap().1 * 10));
    let join = b.task("join", move |cx| {
        Ok(cx.inputs().map(|(_, v)| v).sum::<u64>() + cx.items(fan).iter().sum::<u64>())
    });
    let _ = body;
    b.branch(cond, even, 0)
        .default_branch(cond, odd)
        .edge(src, cond)
        .edge(src, fan)
        .edge(even, join)
        .edge(odd, join)
        .edge(fan, join)
        .retry(
            src,
            RetryPolicy {
                attempts: 2,
                backoff_ticks: 0,
            },
        )
        .timeout(join, Duration::from_secs(60));
    let rt = Runtime::builder()
        .workers(2)
        .max_runs(16)
        .build(b.build().unwrap())
        .unwrap();

    let expected = |x: u64| {
        let branch = if x.is_multiple_of(2) {
            x / 2
        } else {
            x * 3 + 1
        };
        let n = (x % 9).min(8);
        branch + n + (0..n).map(|i| (x + i) * 10).sum::<u64>()
    };
    let one_run = |x: u64| {
        let priority = if x.is_multiple_of(5) {
            Priority::Low
        } else {
            Priority::High
        };
        let r = rt.submit_with(x, priority, None).unwrap().wait();
        assert_eq!(r.outcome(), Ok(()));
        assert_eq!(r.value(join), Some(expected(x)));
        let items_ok = r.with_items(fan, |items| {
            items.len() as u64 == (x % 9).min(8)
                && items
                    .iter()
                    .enumerate()
                    .all(|(i, &v)| v == (x + i as u64) * 10)
        });
        assert!(items_ok);
    };
    // `x % 9 == 8` emits 8 items: the iterator's maximum.
    for x in 0..WARM_UP {
        one_run(x);
    }
    // Idle once, so that parking and waking are part of the warm-up too.
    std::thread::sleep(Duration::from_millis(20));
    one_run(WARM_UP);

    let n = allocations_during(|| {
        for x in 0..RUNS {
            one_run(x);
            if x.is_multiple_of(2_500) {
                // Let the workers park, so that the counted window includes waking them.
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    let m = rt.metrics();
    assert!(m.counters.retries > 0 && m.parks > 0);
    assert_eq!(
        n, 0,
        "{n} heap allocations in {RUNS} steady-state runs (rerun with \
         RINGDAG_ALLOC_BACKTRACE=1 -- --nocapture to see where)"
    );
}

/// Runs without libtest (`harness = false` in Cargo.toml): the allocator counts every thread
/// of the process, and libtest's own main thread allocates while a test runs (its progress
/// output), which made the count flaky under load.
fn main() {
    steady_state_runs_allocate_nothing();
    println!("test steady_state_runs_allocate_nothing ... ok");
    println!("test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
}
