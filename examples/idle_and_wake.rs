//! What an idle runtime costs, and how fast it wakes up.
//!
//! (a) CPU time used by the whole process while a runtime sits idle for 1 s (its workers have
//!     spun briefly and parked), from `/proc/self/stat` (utime + stime, clock ticks) and,
//!     finer, the sum of `/proc/self/task/*/schedstat` (nanoseconds on CPU per thread).
//! (b) Wake latency of a 1-node run submitted to an idle (parked) runtime: from just before
//!     `submit` to the start of the node body, and to `wait` returning; p50 / p99 / max over
//!     200 samples with 5 ms of idleness before each.
//! (c) CPU time used while the only work is a retry waiting out a 1 s back-off, in a graph
//!     of 64 Ki nodes (what idle workers spend looking for due retries).
//! (d) CPU time used by a submitter held back: `submit_wait` in a loop for 1 s against a
//!     runtime whose 4 run slots are always taken (each run's one node sleeps 2 ms), from the
//!     submitting thread's `/proc/thread-self/schedstat`.
//!
//! Linux only (reads `/proc`). Run: `cargo run --release --example idle_and_wake`
//! (options: `--workers N`, `--samples N`, `--park` for `IdleStrategy::Park`).

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use ringdag::runtime::{GraphBuilder, IdleStrategy, Runtime};

/// `sysconf(_SC_CLK_TCK)`: 100 on every mainstream Linux configuration.
const CLK_TCK: f64 = 100.0;

/// utime + stime of the process, in clock ticks (fields 14 and 15 of /proc/self/stat).
fn stat_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may contain spaces; fields after it follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3, so field k is fields[k - 3].
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Nanoseconds on CPU summed over the process's live threads (/proc/self/task/*/schedstat).
fn schedstat_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        if let Ok(s) = std::fs::read_to_string(path) {
            total += s.split_whitespace().next()?.parse::<u64>().ok()?;
        }
    }
    Some(total)
}

/// Nanoseconds on CPU of the calling thread (/proc/thread-self/schedstat).
fn thread_schedstat_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Prints the CPU time between two [`schedstat_ns`] readings taken `wall` apart.
fn print_cpu(label: &str, n0: Option<u64>, n1: Option<u64>, wall: Duration, note: &str) {
    match (n0, n1) {
        (Some(a), Some(b)) => println!(
            "{label} {:.3} ms over {wall:.2?} = {:.4} % of one core{note}",
            (b - a) as f64 / 1e6,
            (b - a) as f64 / wall.as_nanos() as f64 * 100.0
        ),
        _ => println!(
            "{}: /proc/self/task/*/schedstat unavailable",
            label.trim_end()
        ),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name:<28} p50 {:>9.1?}  p99 {:>9.1?}  max {:>9.1?}  (n = {})",
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples[samples.len() - 1],
        samples.len()
    );
}

fn main() {
    let mut workers = ringdag::runtime::default_workers();
    let mut samples = 200usize;
    let mut idle = IdleStrategy::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--workers" => workers = args.next().and_then(|s| s.parse().ok()).expect("N"),
            "--samples" => samples = args.next().and_then(|s| s.parse().ok()).expect("N"),
            "--park" => idle = IdleStrategy::Park,
            other => panic!("unknown argument {other}"),
        }
    }

    // One node that records when it starts, in ns since `base`.
    let base = Instant::now();
    let started = Arc::new(AtomicU64::new(0));
    let mut b = GraphBuilder::<(), u64, ()>::new();
    let s = Arc::clone(&started);
    b.task("ping", move |_| {
        s.store(base.elapsed().as_nanos() as u64, Ordering::SeqCst);
        Ok(1)
    });
    let rt = Runtime::builder()
        .workers(workers)
        .idle_strategy(idle)
        .build(b.build().expect("graph"))
        .expect("runtime");
    println!("ringdag idle_and_wake: {workers} workers, {idle:?}");

    // Warm up, then let the workers park.
    for _ in 0..100 {
        rt.submit(()).expect("submit").wait();
    }
    thread::sleep(Duration::from_millis(100));

    // (a) Idle CPU over 1 s.
    let (t0, n0, m0) = (stat_ticks(), schedstat_ns(), rt.metrics());
    let wall = Instant::now();
    thread::sleep(Duration::from_secs(1));
    let wall = wall.elapsed();
    let (t1, n1, m1) = (stat_ticks(), schedstat_ns(), rt.metrics());
    match (t0, t1) {
        (Some(a), Some(b)) => println!(
            "idle CPU (/proc/self/stat)     {:.1} ms over {wall:.2?} ({} ticks of 1/{CLK_TCK} s)",
            (b - a) as f64 * 1000.0 / CLK_TCK,
            b - a
        ),
        _ => println!("idle CPU: /proc/self/stat unavailable"),
    }
    print_cpu("idle CPU (task schedstat)     ", n0, n1, wall, "");
    println!(
        "parks/wakes while idle         {} / {}",
        m1.parks - m0.parks,
        m1.wakes - m0.wakes
    );

    // (b) Wake latency of a 1-node run on a parked runtime.
    let mut to_start = Vec::with_capacity(samples);
    let mut to_result = Vec::with_capacity(samples);
    let before = rt.metrics();
    for _ in 0..samples {
        thread::sleep(Duration::from_millis(5));
        let t = base.elapsed();
        let h = rt.submit(()).expect("submit");
        h.wait();
        let done = base.elapsed();
        let start = Duration::from_nanos(started.load(Ordering::SeqCst));
        to_start.push(start.saturating_sub(t));
        to_result.push(done - t);
    }
    let after = rt.metrics();
    summary("wake: submit -> node starts", to_start);
    summary("wake: submit -> wait returns", to_result);
    println!(
        "parks/wakes during samples     {} / {}",
        after.parks - before.parks,
        after.wakes - before.wakes
    );

    // (c) CPU while a retry waits out its back-off.
    let mut b = GraphBuilder::<(), u64, ()>::new();
    let flaky = b.task(
        "flaky",
        |cx| if cx.attempt() == 0 { Err(()) } else { Ok(1) },
    );
    for i in 0..(1 << 16) {
        let t = b.task(Box::leak(format!("n{i}").into_boxed_str()), |_| Ok(0));
        b.edge(flaky, t);
    }
    b.retry(
        flaky,
        ringdag::runtime::RetryPolicy {
            attempts: 2,
            backoff_ticks: 1000,
        },
    );
    let rt = Runtime::builder()
        .workers(workers)
        .idle_strategy(idle)
        .max_runs(1)
        .build(b.build().expect("graph"))
        .expect("runtime");
    let (n0, wall) = (schedstat_ns(), Instant::now());
    let outcome = rt.submit(()).expect("submit").wait().outcome();
    let (n1, wall) = (schedstat_ns(), wall.elapsed());
    print_cpu(
        "back-off CPU (task schedstat) ",
        n0,
        n1,
        wall,
        &format!(" ({outcome:?})"),
    );

    // (d) A submitter held back by `submit_wait`: every run slot is taken, the handles are
    // dropped at once (each run frees its slot when its node returns).
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    b.task("sleepy", |cx| {
        thread::sleep(Duration::from_millis(2));
        Ok(*cx.input())
    });
    let rt = Runtime::builder()
        .workers(workers)
        .idle_strategy(idle)
        .max_runs(4)
        .build(b.build().expect("graph"))
        .expect("runtime");
    let (n0, wall) = (thread_schedstat_ns(), Instant::now());
    let mut submitted = 0u32;
    while wall.elapsed() < Duration::from_secs(1) {
        drop(rt.submit_wait(submitted).expect("submit_wait"));
        submitted += 1;
    }
    let (n1, wall) = (thread_schedstat_ns(), wall.elapsed());
    print_cpu(
        "held-back submitter CPU       ",
        n0,
        n1,
        wall,
        &format!(
            " ({submitted} runs submitted, {} blocking waits)",
            rt.metrics().submit_waits
        ),
    );
}
