//! Soak test of the std runtime: a million runs (override with `RINGDAG_SOAK_RUNS`) of a DAG
//! with a condition, an iterator and a join, with random node failures, retries (immediate
//! and with back-off), panics, cancels, detached handles, run deadlines, low-priority runs
//! and a few node timeouts, kept 128 in flight.
//!
//! Checked: every waited run ends with exactly one result, the one its plan predicts (values
//! included when it succeeds); nodes run as often as planned; the runtime's counters add up
//! (every accepted run finished once); every run slot is free at the end; nothing hangs (a
//! watchdog thread ends the process with a failure if the test exceeds its time bound).

use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering::Relaxed};
use core::time::Duration;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Instant;

use ringdag::runtime::{
    GraphBuilder, NodeId, Priority, RetryPolicy, RunError, RunHandle, Runtime, SubmitError,
};

/// The whole test must finish within this (it takes a few seconds).
const WATCHDOG: Duration = Duration::from_secs(240);
/// One run must finish within this.
const HANG: Duration = Duration::from_secs(60);
const WINDOW: usize = 128;
const DEFAULT_RUNS: usize = 1_000_000;
const PLANNED_PANIC: &str = "soak: planned panic";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Ok,
    /// `a` fails this many times (1 or 2), then succeeds (3 attempts, no back-off).
    RetryA(u8),
    /// `a` fails all 3 attempts with error 1.
    FailA,
    /// `c` fails once and is retried after 1 tick (the branch goes to `c`).
    BackoffC,
    /// `d` fails with error 4 (the branch goes to `d`).
    FailD,
    /// the iterator body panics on item 1 (3 items).
    PanicF,
    /// `g` sleeps past its timeout.
    Timeout,
    /// submitted with a deadline of 0: nothing runs.
    Deadline,
    /// cancelled right after submit.
    Cancel,
    /// handle dropped right after submit.
    Detach,
}

#[derive(Clone, Copy, Debug)]
struct Plan {
    fate: Fate,
    /// Label chosen by `b`: 0 goes to `c`, anything else to `d` (default branch).
    branch: u8,
    items: u64,
    low: bool,
}

fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn plan(idx: u64, runs: u64) -> Plan {
    let h = mix(idx ^ 0x5EED);
    let timeouts = [11, runs / 3 + 5, 2 * runs / 3 + 7];
    let fate = if timeouts.contains(&idx) {
        Fate::Timeout
    } else if idx % 997 == 3 {
        Fate::Deadline
    } else {
        match h % 1000 {
            0..5 => Fate::Cancel,
            5..10 => Fate::Detach,
            10..20 => Fate::FailA,
            20..60 => Fate::RetryA(1 + (h >> 40) as u8 % 2),
            60..62 => Fate::BackoffC,
            62..70 => Fate::FailD,
            70..75 => Fate::PanicF,
            _ => Fate::Ok,
        }
    };
    let mut branch = ((h >> 16) % 3) as u8;
    let mut items = (h >> 20) % 4;
    match fate {
        Fate::BackoffC => branch = 0,
        Fate::FailD => branch = 1,
        Fate::PanicF => items = 3,
        _ => {}
    }
    Plan {
        fate,
        branch,
        items,
        low: (h >> 24).is_multiple_of(4),
    }
}

/// The expected value of `g` in a successful run of input `x`.
fn expected_g(x: u64, p: Plan) -> u64 {
    let b = x + 2;
    let branch = if p.branch == 0 { b * 3 } else { b * 5 };
    branch + p.items + (0..p.items).map(|i| 2 * (x + i)).sum::<u64>()
}

struct Counts {
    a: Vec<AtomicU8>,
    g: Vec<AtomicU8>,
}

struct Nodes {
    a: NodeId,
    c: NodeId,
    d: NodeId,
    e: NodeId,
    f: NodeId,
    g: NodeId,
}

fn start_watchdog() -> mpsc::Sender<()> {
    let (tx, rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(WATCHDOG) {
            // Straight to the process's stderr (not the test harness's capture): we exit next.
            let _ = writeln!(
                std::io::stderr(),
                "runtime_soak: watchdog: the test did not finish within {WATCHDOG:?} (hang?)"
            );
            std::process::exit(101);
        }
    });
    tx
}

#[test]
fn million_runs_with_failures_retries_cancels_and_timeouts_all_end_once() {
    let done = start_watchdog();
    let runs: usize = std::env::var("RINGDAG_SOAK_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_RUNS);
    let total = runs as u64;

    // Planned panics are expected: keep them off stderr, report any other.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let planned = info
            .payload()
            .downcast_ref::<&str>()
            .is_some_and(|s| *s == PLANNED_PANIC);
        if !planned {
            default_hook(info);
        }
    }));

    let counts = Arc::new(Counts {
        a: (0..runs).map(|_| AtomicU8::new(0)).collect(),
        g: (0..runs).map(|_| AtomicU8::new(0)).collect(),
    });

    let mut b = GraphBuilder::<u64, u64, u32>::new();
    let k = Arc::clone(&counts);
    let a = b.task("a", move |cx| {
        let x = *cx.input();
        k.a[x as usize].fetch_add(1, Relaxed);
        match plan(x, total).fate {
            Fate::FailA => Err(1),
            Fate::RetryA(n) if cx.attempt() < u32::from(n) => Err(2),
            _ => Ok(x + 1),
        }
    });
    let cond = b.condition("b", move |cx| {
        let x = *cx.input();
        cx.choose(plan(x, total).branch);
        Ok(cx.value(a).expect("a ran") + 1)
    });
    let c = b.task("c", move |cx| {
        let x = *cx.input();
        if plan(x, total).fate == Fate::BackoffC && cx.attempt() == 0 {
            return Err(3);
        }
        Ok(cx.value(cond).expect("b ran") * 3)
    });
    let d = b.task("d", move |cx| {
        let x = *cx.input();
        if plan(x, total).fate == Fate::FailD {
            return Err(4);
        }
        Ok(cx.value(cond).expect("b ran") * 5)
    });
    let e = b.iterator("e", 3, move |cx| {
        let x = *cx.input();
        let n = plan(x, total).items;
        for i in 0..n {
            cx.emit(x + i).expect("within max_items");
        }
        Ok(n)
    });
    let f = b.body(e, "f", move |cx| {
        let x = *cx.input();
        let (i, item) = cx.item().expect("an item");
        if plan(x, total).fate == Fate::PanicF && i == 1 {
            std::panic::panic_any(PLANNED_PANIC);
        }
        Ok(item * 2)
    });
    let k = Arc::clone(&counts);
    let g = b.task("g", move |cx| {
        let x = *cx.input();
        k.g[x as usize].fetch_add(1, Relaxed);
        if plan(x, total).fate == Fate::Timeout {
            thread::sleep(Duration::from_millis(150));
        }
        let inputs: u64 = cx.inputs().map(|(_, v)| v).sum();
        Ok(inputs + cx.items(e).iter().sum::<u64>())
    });
    b.edge(a, cond)
        .branch(cond, c, 0)
        .default_branch(cond, d)
        .edge(a, e)
        .edge(c, g)
        .edge(d, g)
        .edge(e, g)
        .retry(
            a,
            RetryPolicy {
                attempts: 3,
                backoff_ticks: 0,
            },
        )
        .retry(
            c,
            RetryPolicy {
                attempts: 2,
                backoff_ticks: 1,
            },
        )
        .timeout(g, Duration::from_millis(100));
    let nodes = Nodes { a, c, d, e, f, g };
    let rt = Runtime::builder().build(b.build().unwrap()).unwrap();

    let started = Instant::now();
    let mut window: VecDeque<(u64, bool, RunHandle<u64, u64, u32>)> = VecDeque::new();
    let mut errors: Vec<String> = Vec::new();
    let waited = AtomicUsize::new(0);
    let mut detached = 0usize;
    let mut expected_retries = 0usize;
    let (mut ok, mut failed, mut cancelled) = (0usize, 0usize, 0usize);
    let mut finish = |x: u64, cancel_ok: bool, h: RunHandle<u64, u64, u32>| {
        let Ok(r) = h.wait_timeout(HANG) else {
            panic!("run {x} did not finish within {HANG:?}");
        };
        waited.fetch_add(1, Relaxed);
        let p = plan(x, total);
        let outcome = r.outcome();
        match outcome {
            Ok(()) => ok += 1,
            Err(RunError::Cancelled) => cancelled += 1,
            Err(_) => failed += 1,
        }
        let (na, ng) = (
            counts.a[x as usize].load(Relaxed),
            counts.g[x as usize].load(Relaxed),
        );
        let check_ok = |errors: &mut Vec<String>| {
            let want = expected_g(x, p);
            if r.value(nodes.g) != Some(want) {
                errors.push(format!(
                    "run {x} {p:?}: g = {:?}, want {want}",
                    r.value(nodes.g)
                ));
            }
            let items_ok = r.with_items(nodes.e, |it| {
                it.len() as u64 == p.items
                    && it.iter().enumerate().all(|(i, &v)| v == 2 * (x + i as u64))
            });
            if !items_ok || r.ran(nodes.c) != (p.branch == 0) || r.ran(nodes.d) == (p.branch == 0) {
                errors.push(format!("run {x} {p:?}: wrong items or branch"));
            }
            if ng != 1 {
                errors.push(format!("run {x} {p:?}: g ran {ng} times"));
            }
        };
        let bad = match p.fate {
            Fate::Ok | Fate::BackoffC => {
                check_ok(&mut errors);
                outcome != Ok(()) || na != 1
            }
            Fate::RetryA(n) => {
                check_ok(&mut errors);
                outcome != Ok(()) || na != n + 1
            }
            Fate::FailA => {
                outcome
                    != Err(RunError::Failed {
                        node: nodes.a,
                        error: 1,
                    })
                    || na != 3
                    || ng != 0
            }
            Fate::FailD => {
                outcome
                    != Err(RunError::Failed {
                        node: nodes.d,
                        error: 4,
                    })
                    || ng != 0
            }
            Fate::PanicF => {
                outcome != Err(RunError::Panicked { node: nodes.f })
                    || ng != 0
                    || r.panic_message().as_deref() != Some(PLANNED_PANIC)
            }
            Fate::Timeout => outcome != Err(RunError::Timeout { node: nodes.g }) || ng != 1,
            Fate::Deadline => outcome != Err(RunError::DeadlineExceeded) || na != 0,
            Fate::Cancel if cancel_ok => {
                // The request was accepted before the run finished: it ends cancelled.
                outcome != Err(RunError::Cancelled) || ng > 1
            }
            Fate::Cancel => {
                check_ok(&mut errors);
                outcome != Ok(())
            }
            Fate::Detach => unreachable!(),
        };
        if bad {
            errors.push(format!(
                "run {x} {p:?}: outcome {outcome:?}, a ran {na}x, g ran {ng}x"
            ));
        }
    };

    for x in 0..total {
        let p = plan(x, total);
        match p.fate {
            Fate::RetryA(n) => expected_retries += usize::from(n),
            Fate::BackoffC => expected_retries += 1,
            Fate::FailA => expected_retries += 2,
            _ => {}
        }
        let priority = if p.low { Priority::Low } else { Priority::High };
        let deadline = (p.fate == Fate::Deadline).then_some(Duration::ZERO);
        let mut input = x;
        let h = loop {
            match rt.submit_with(input, priority, deadline) {
                Ok(h) => break h,
                Err(SubmitError::Busy(i)) => {
                    input = i;
                    thread::yield_now();
                }
                Err(err) => panic!("submit: {err:?}"),
            }
        };
        let cancel_ok = match p.fate {
            Fate::Cancel => h.cancel().is_ok(),
            Fate::Detach => {
                drop(h);
                detached += 1;
                continue;
            }
            _ => false,
        };
        window.push_back((x, cancel_ok, h));
        if window.len() >= WINDOW {
            let (x, c, h) = window.pop_front().unwrap();
            finish(x, c, h);
        }
    }
    while let Some((x, c, h)) = window.pop_front() {
        finish(x, c, h);
    }
    let elapsed = started.elapsed();

    // Detached runs finish on their own; then every counter adds up.
    let until = Instant::now() + HANG;
    while rt.metrics().active_runs != 0 {
        assert!(Instant::now() < until, "detached runs never finished");
        thread::sleep(Duration::from_millis(1));
    }
    let m = rt.metrics();
    let c = m.counters;
    assert_eq!(c.runs_submitted, runs, "{c:?}");
    assert_eq!(
        c.runs_completed + c.runs_failed + c.runs_cancelled,
        runs,
        "every accepted run finished exactly once: {c:?}"
    );
    assert_eq!(c.runs_completed, ok + detached, "{c:?}");
    assert_eq!(c.runs_failed, failed, "{c:?}");
    assert_eq!(c.runs_cancelled, cancelled, "{c:?}");
    assert_eq!(c.retries, expected_retries, "{c:?}");
    assert_eq!(waited.load(Relaxed) + detached, runs);
    for x in 0..total {
        if plan(x, total).fate == Fate::Detach {
            let (na, ng) = (
                counts.a[x as usize].load(Relaxed),
                counts.g[x as usize].load(Relaxed),
            );
            assert!(na == 1 && ng == 1, "detached run {x}: a {na}x, g {ng}x");
        }
    }
    assert!(
        errors.is_empty(),
        "{} wrong results, first: {:#?}",
        errors.len(),
        &errors[..errors.len().min(10)]
    );

    // Every slot is free again: as many runs as there are slots are accepted together.
    let mut held = Vec::new();
    let until = Instant::now() + HANG;
    while held.len() < 256 {
        match rt.submit(0) {
            Ok(h) => held.push(h),
            Err(SubmitError::Busy(_)) => {
                assert!(Instant::now() < until, "a run slot leaked");
                thread::yield_now();
            }
            Err(err) => panic!("{err:?}"),
        }
    }
    assert!(matches!(rt.submit(0), Err(SubmitError::Busy(0))));
    drop(held);
    drop(rt);
    let _ = writeln!(
        std::io::stderr(),
        "runtime_soak: {runs} runs in {elapsed:.2?} ({:.0} runs/s): {ok} ok, {failed} failed, \
         {cancelled} cancelled, {detached} detached; {} retries",
        runs as f64 / elapsed.as_secs_f64(),
        c.retries
    );
    let _ = done.send(());
}
