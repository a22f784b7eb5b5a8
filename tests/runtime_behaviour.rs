//! Behaviour of the std runtime (`ringdag::runtime`) on real threads: panics, timeouts,
//! deadlines, shutdown, thread joining, waking parked workers, `.await` from tokio,
//! `wait_timeout`, detached handles, handles kept after `poll` returned the result, and cancel.
//!
//! No assertion measures time. Durations appear only as sleeps that make a node slow (so a
//! timeout or deadline is certainly exceeded) and as generous bounds that turn a hang into a
//! test failure instead of a stuck test binary.

use core::future::Future;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::SeqCst};
use core::time::Duration;
use std::sync::mpsc;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::thread;
use std::time::Instant;

use ringdag::runtime::{
    BuildError, CancelError, GraphBuilder, IdleStrategy, Priority, RetryPolicy, RunError, Runtime,
    Shutdown, SubmitError,
};

/// Bound for anything that must not hang.
const HANG: Duration = Duration::from_secs(10);

/// The thread-count test needs no other runtime alive in this binary: it takes the write
/// lock, every other test a read lock.
static SERIAL: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    SERIAL.read().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` on its own thread and fails the test if it does not return within [`HANG`]
/// (a hung thread is left behind; the test binary still exits).
fn within<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    within_for(HANG, what, f)
}

/// [`within`] with its own bound.
fn within_for<R: Send + 'static>(
    bound: Duration,
    what: &str,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    let (tx, rx) = mpsc::channel();
    let t = thread::spawn(move || {
        let r = f();
        let _ = tx.send(());
        r
    });
    match rx.recv_timeout(bound) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match t.join() {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: hung for more than {bound:?}"),
    }
}

/// A gate node bodies wait on (bounded, so a bug cannot wedge a worker forever).
#[derive(Clone, Default)]
struct Gate(Arc<AtomicBool>);

impl Gate {
    fn open(&self) {
        self.0.store(true, SeqCst);
    }
    fn wait(&self) {
        let until = Instant::now() + HANG;
        while !self.0.load(SeqCst) {
            assert!(Instant::now() < until, "gate never opened");
            thread::sleep(Duration::from_micros(200));
        }
    }
}

/// Spins (with sleeps) until `cond` holds; fails after [`HANG`].
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + HANG;
    while !cond() {
        assert!(Instant::now() < until, "never happened: {what}");
        thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn panic_fails_node_with_message_and_worker_lives_on() {
    let _s = shared();
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let a = b.task("a", |cx| Ok(*cx.input()));
    let boom = b.task("boom", move |cx| {
        if *cx.input() % 2 == 1 {
            panic!("boom on input {}", cx.input());
        }
        Ok(cx.value(a).unwrap() + 1)
    });
    let after = b.task("after", move |cx| Ok(cx.value(boom).unwrap() * 10));
    b.edge(a, boom).edge(boom, after);
    // One worker: if the panic killed it, nothing would run afterwards.
    let rt = Runtime::builder()
        .workers(1)
        .build(b.build().unwrap())
        .unwrap();
    for round in 0..3u32 {
        let r = rt.submit(2 * round + 1).unwrap().wait();
        assert_eq!(r.outcome(), Err(RunError::Panicked { node: boom }));
        let msg = r.panic_message().expect("panic message kept");
        assert!(
            msg.contains(&format!("boom on input {}", 2 * round + 1)),
            "{msg}"
        );
        assert!(r.ran(a));
        assert!(
            !r.ran(boom) && !r.ran(after),
            "downstream of a panic is skipped"
        );
        drop(r);
        let ok = rt.submit(2 * round).unwrap().wait();
        assert_eq!(ok.outcome(), Ok(()));
        assert_eq!(ok.value(after), Some((2 * round + 1) * 10));
        assert_eq!(ok.panic_message(), None);
    }
    let m = rt.metrics();
    assert_eq!(m.workers, 1);
    assert_eq!(m.counters.runs_failed, 3);
    assert_eq!(m.counters.runs_completed, 3);
}

#[test]
fn panic_message_is_that_of_the_node_that_failed_the_run() {
    // Node `flaky` panics on its first attempt and succeeds on the retry; node `fatal` then
    // panics for good. The run's message must be `fatal`'s, not the retried one's.
    let _s = shared();
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let flaky = b.task("flaky", |cx| {
        if cx.attempt() == 0 {
            panic!("transient, retried");
        }
        Ok(1)
    });
    let fatal = b.task("fatal", |_| -> Result<u32, ()> { panic!("fatal for good") });
    b.edge(flaky, fatal).retry(
        flaky,
        RetryPolicy {
            attempts: 2,
            backoff_ticks: 0,
        },
    );
    let rt = Runtime::builder()
        .workers(1)
        .build(b.build().unwrap())
        .unwrap();
    let r = rt.submit(0).unwrap().wait();
    assert_eq!(r.outcome(), Err(RunError::Panicked { node: fatal }));
    assert_eq!(r.value(flaky), Some(1));
    let msg = r.panic_message().unwrap_or_default();
    assert!(
        msg.contains("fatal for good"),
        "panic_message() = {msg:?}, expected the message of node `fatal`"
    );
}

#[test]
fn node_timeout_fails_run_with_timeout() {
    let _s = shared();
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let slow = b.task("slow", |cx| {
        if *cx.input() == 1 {
            thread::sleep(Duration::from_millis(60));
        }
        Ok(7)
    });
    let next = b.task("next", |_| Ok(8));
    b.edge(slow, next).timeout(slow, Duration::from_millis(10));
    let rt = Runtime::builder()
        .workers(2)
        .build(b.build().unwrap())
        .unwrap();
    let r = within("timeout run", {
        let h = rt.submit(1).unwrap();
        move || h.wait()
    });
    assert_eq!(r.outcome(), Err(RunError::Timeout { node: slow }));
    assert!(!r.ran(slow) && !r.ran(next));
}

#[test]
fn node_timeout_does_not_count_time_spent_in_the_previous_node() {
    // `prep` (no timeout) takes 60 ms, then `quick` (timeout 20 ms) returns at once. `quick`
    // must not time out: its clock starts when it starts. (With one worker, `quick` runs as
    // the direct continuation of `prep` in the same scheduler step.)
    let _s = shared();
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let prep = b.task("prep", |_| {
        thread::sleep(Duration::from_millis(60));
        Ok(1)
    });
    let quick = b.task("quick", |_| Ok(2));
    b.edge(prep, quick)
        .timeout(quick, Duration::from_millis(20));
    let rt = Runtime::builder()
        .workers(1)
        .build(b.build().unwrap())
        .unwrap();
    let r = rt.submit(0).unwrap().wait();
    assert_eq!(
        r.outcome(),
        Ok(()),
        "a 0 ms node timed out against a 20 ms limit"
    );
    assert_eq!(r.value(quick), Some(2));
}

#[test]
fn run_deadline_fails_run_with_deadline_exceeded() {
    // `a` outlives the 10 ms deadline; of its two successors at least the one pushed to the
    // ring starts after the deadline, so the run fails with DeadlineExceeded.
    let _s = shared();
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let a = b.task("a", |_| {
        thread::sleep(Duration::from_millis(60));
        Ok(1)
    });
    let l = b.task("l", |_| Ok(2));
    let r = b.task("r", |_| Ok(3));
    b.edge(a, l).edge(a, r);
    let rt = Runtime::builder()
        .workers(1)
        .build(b.build().unwrap())
        .unwrap();
    let res = rt
        .submit_with(0, Priority::High, Some(Duration::from_millis(10)))
        .unwrap()
        .wait();
    assert_eq!(res.outcome(), Err(RunError::DeadlineExceeded));
    assert!(res.ran(a));
    assert!(!(res.ran(l) && res.ran(r)));
    // Without a deadline the same graph succeeds.
    let ok = rt.submit(0).unwrap().wait();
    assert_eq!(ok.outcome(), Ok(()));
    // A deadline of 0 is exceeded before the first node.
    let zero = rt
        .submit_with(0, Priority::Low, Some(Duration::ZERO))
        .unwrap()
        .wait();
    assert_eq!(zero.outcome(), Err(RunError::DeadlineExceeded));
    assert!(!zero.ran(a));
}

#[test]
fn run_deadline_stops_the_directly_continued_successor() {
    // Chain a -> b with a 10 ms deadline; `a` takes 60 ms, so `b` would start after the
    // deadline and must not run. (With one worker `b` is `a`'s direct continuation.)
    let _s = shared();
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let a = b.task("a", |_| {
        thread::sleep(Duration::from_millis(60));
        Ok(1)
    });
    let next = b.task("b", |_| Ok(2));
    b.edge(a, next);
    let rt = Runtime::builder()
        .workers(1)
        .build(b.build().unwrap())
        .unwrap();
    let res = rt
        .submit_with(0, Priority::High, Some(Duration::from_millis(10)))
        .unwrap()
        .wait();
    assert_eq!(res.outcome(), Err(RunError::DeadlineExceeded));
    assert!(
        !res.ran(next),
        "a node started 50 ms after the run's deadline"
    );
}

/// A chain `first -> mid -> last` whose `first` waits on `gate`; counts starts per run.
fn gated_chain(
    gate: &Gate,
    started: &Arc<Vec<AtomicU32>>,
) -> (
    ringdag::runtime::Graph<u32, u32, ()>,
    [ringdag::runtime::NodeId; 3],
) {
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let (g, s) = (gate.clone(), Arc::clone(started));
    let first = b.task("first", move |cx| {
        s[*cx.input() as usize].fetch_add(1, SeqCst);
        g.wait();
        Ok(1)
    });
    let s = Arc::clone(started);
    let mid = b.task("mid", move |cx| {
        s[*cx.input() as usize].fetch_add(1, SeqCst);
        Ok(2)
    });
    let s = Arc::clone(started);
    let last = b.task("last", move |cx| {
        s[*cx.input() as usize].fetch_add(1, SeqCst);
        Ok(3)
    });
    b.edge(first, mid).edge(mid, last);
    (b.build().unwrap(), [first, mid, last])
}

fn counters(n: usize) -> Arc<Vec<AtomicU32>> {
    Arc::new((0..n).map(|_| AtomicU32::new(0)).collect())
}

fn total(c: &[AtomicU32]) -> u32 {
    c.iter().map(|x| x.load(SeqCst)).sum()
}

#[test]
fn graceful_shutdown_completes_every_run_in_flight() {
    let _s = shared();
    const RUNS: usize = 32;
    let gate = Gate::default();
    let started = counters(RUNS);
    let (graph, nodes) = gated_chain(&gate, &started);
    // Batches of one entry: each worker holds just the run it is blocked in.
    let rt = Runtime::builder()
        .workers(2)
        .batch_size(1)
        .build(graph)
        .unwrap();
    let handles: Vec<_> = (0..RUNS as u32).map(|i| rt.submit(i).unwrap()).collect();
    // Both workers are inside `first`; the other runs wait in the ring.
    eventually("both workers blocked", || total(&started) == 2);
    let calling = Arc::new(AtomicBool::new(false));
    let opener = {
        let (gate, calling) = (gate.clone(), Arc::clone(&calling));
        thread::spawn(move || {
            eventually("shutdown called", || calling.load(SeqCst));
            thread::sleep(Duration::from_millis(30));
            gate.open();
        })
    };
    within("graceful shutdown", move || {
        calling.store(true, SeqCst);
        rt.shutdown(Shutdown::Graceful);
    });
    opener.join().unwrap();
    for (i, h) in handles.into_iter().enumerate() {
        let r = h
            .wait_timeout(HANG)
            .expect("run finished before shutdown returned");
        assert_eq!(r.outcome(), Ok(()), "run {i}");
        assert!(nodes.iter().all(|&n| r.ran(n)), "run {i}");
    }
    assert_eq!(total(&started), 3 * RUNS as u32);
}

#[test]
fn graceful_shutdown_of_a_paused_runtime_does_not_hang() {
    // Graceful shutdown drains accepted runs; a paused runtime cannot drain, and `shutdown`
    // takes the runtime by value, so nobody can resume it: it must resume (or cancel) itself.
    let _s = shared();
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    b.task("only", |_| Ok(1));
    let rt = Runtime::builder()
        .workers(2)
        .build(b.build().unwrap())
        .unwrap();
    rt.pause();
    let h = rt.submit(0).unwrap();
    within_for(
        Duration::from_secs(3),
        "graceful shutdown while paused",
        move || rt.shutdown(Shutdown::Graceful),
    );
    let r = h.wait_timeout(HANG).expect("run finished");
    assert!(matches!(r.outcome(), Ok(()) | Err(RunError::Cancelled)));
}

#[test]
fn immediate_shutdown_cancels_pending_runs_and_nothing_hangs() {
    let _s = shared();
    const RUNS: usize = 64;
    let gate = Gate::default();
    let started = counters(RUNS);
    let (graph, nodes) = gated_chain(&gate, &started);
    let rt = Runtime::builder()
        .workers(2)
        .batch_size(1)
        .max_runs(RUNS)
        .build(graph)
        .unwrap();
    let handles: Vec<_> = (0..RUNS as u32).map(|i| rt.submit(i).unwrap()).collect();
    eventually("both workers blocked", || total(&started) == 2);
    let calling = Arc::new(AtomicBool::new(false));
    let opener = {
        let (gate, calling) = (gate.clone(), Arc::clone(&calling));
        thread::spawn(move || {
            eventually("shutdown called", || calling.load(SeqCst));
            thread::sleep(Duration::from_millis(100));
            gate.open();
        })
    };
    within("immediate shutdown", move || {
        calling.store(true, SeqCst);
        rt.shutdown(Shutdown::Immediate);
    });
    opener.join().unwrap();
    let mut cancelled = 0;
    for (i, h) in handles.into_iter().enumerate() {
        let r = h
            .wait_timeout(HANG)
            .expect("run finished before shutdown returned");
        let starts = started[i].load(SeqCst);
        match r.outcome() {
            Ok(()) => assert!(nodes.iter().all(|&n| r.ran(n)) && starts == 3, "run {i}"),
            Err(RunError::Cancelled) => cancelled += 1,
            other => panic!("run {i}: unexpected outcome {other:?}"),
        }
        if starts == 0 {
            assert_eq!(
                r.outcome(),
                Err(RunError::Cancelled),
                "run {i} never started"
            );
        }
    }
    // The two runs blocked in `first` were in flight when shutdown began; all others waited.
    assert!(
        cancelled >= RUNS - 2,
        "only {cancelled} of {RUNS} runs cancelled"
    );
}

#[test]
fn idle_worker_takes_runs_queued_behind_a_blocked_node() {
    // Run 0's only node blocks until the gate opens; runs 1..=5 are quick. With two workers,
    // the quick runs must complete while run 0 blocks one worker: the other is idle. (With
    // batches, the worker that pops run 0 also takes the quick runs' entries into its local
    // batch, where no other worker can reach them until run 0's node returns.)
    let _s = shared();
    let gate = Gate::default();
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let g = gate.clone();
    let n = b.task("n", move |cx| {
        if *cx.input() == 0 {
            g.wait();
        }
        Ok(*cx.input())
    });
    let rt = Runtime::builder()
        .workers(2)
        .build(b.build().unwrap())
        .unwrap();
    rt.pause();
    let blocked = rt.submit(0).unwrap();
    let quick: Vec<_> = (1..=5).map(|i| rt.submit(i).unwrap()).collect();
    rt.resume();
    let mut stuck = 0;
    let until = Instant::now() + Duration::from_secs(2);
    for h in quick {
        match h.wait_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(r) => assert_eq!(r.outcome(), Ok(())),
            Err(_) => stuck += 1,
        }
    }
    gate.open();
    assert_eq!(blocked.wait().value(n), Some(0));
    assert_eq!(
        stuck, 0,
        "{stuck} of 5 quick runs waited behind a blocked node while a worker was idle"
    );
}

/// Whether a thread's name shows in /proc/self/task/*/comm (not under qemu-user). The probe
/// is not named `ringdag-*`, so a lingering /proc entry of it is never counted as a worker.
#[cfg(target_os = "linux")]
fn proc_shows_thread_names() -> bool {
    let (tx, rx) = mpsc::channel::<()>();
    let probe = thread::Builder::new()
        .name("names-probe".into())
        .spawn(move || {
            let _ = rx.recv();
        })
        .unwrap();
    let seen = (0..50).any(|_| {
        let found = std::fs::read_dir("/proc/self/task")
            .map(|dir| {
                dir.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                    .any(|name| name.trim() == "names-probe")
            })
            .unwrap_or(false);
        if !found {
            thread::sleep(Duration::from_millis(2));
        }
        found
    });
    drop(tx);
    probe.join().unwrap();
    seen
}

/// The `ringdag-*` threads now, where /proc shows thread names (`None` under qemu-user).
#[cfg(target_os = "linux")]
fn visible_ringdag_threads() -> Option<usize> {
    proc_shows_thread_names().then(ringdag_threads)
}

/// Waits until the `ringdag-*` threads are back to `before` (from
/// [`visible_ringdag_threads`]; nothing to check where names are not visible). The kernel
/// removes an exited thread's /proc entry just after `join` can return.
#[cfg(target_os = "linux")]
fn eventually_ringdag_threads_back_to(before: Option<usize>) {
    if let Some(before) = before {
        eventually("worker threads gone from /proc", || {
            ringdag_threads() == before
        });
    }
}

#[cfg(target_os = "linux")]
fn ringdag_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("ringdag-"))
        .count()
}

/// Sets its flag when dropped (a witness that the runtime's shared state was freed).
struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

#[cfg(target_os = "linux")]
#[test]
fn dropping_the_runtime_joins_every_worker_thread() {
    let _only = SERIAL.write().unwrap_or_else(|e| e.into_inner());
    // Under qemu-user (the aarch64/armv7 CI runs) /proc shows the emulator's threads without
    // the names the guest gave them; there the `freed` witness below is the proof, and the
    // /proc count is checked wherever thread names are visible.
    let before = visible_ringdag_threads();
    for (workers, how) in [
        (3, None),
        (4, Some(Shutdown::Graceful)),
        (2, Some(Shutdown::Immediate)),
    ] {
        let freed = Arc::new(AtomicBool::new(false));
        let witness = DropFlag(Arc::clone(&freed));
        let mut b = GraphBuilder::<u32, u32, ()>::new();
        b.task("a", move |cx| {
            let _keep = &witness;
            Ok(*cx.input() + 1)
        });
        let rt = Runtime::builder()
            .workers(workers)
            .build(b.build().unwrap())
            .unwrap();
        // Each thread names itself when it starts.
        if let Some(before) = before {
            eventually("workers named", || ringdag_threads() == before + workers);
        }
        let a = rt.graph().find("a").unwrap();
        let r = rt.submit(41).unwrap().wait();
        assert_eq!(r.value(a), Some(42));
        drop(r);
        match how {
            None => within("drop", move || drop(rt)),
            Some(mode) => within("shutdown", move || rt.shutdown(mode)),
        }
        // Every worker let go of the shared state (the graph and its closures) before the
        // drop returned: they had all finished.
        assert!(
            freed.load(SeqCst),
            "a worker still held the runtime after drop ({how:?})"
        );
        eventually_ringdag_threads_back_to(before);
    }
}

#[test]
fn result_outlives_the_runtime() {
    let _s = shared();
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let a = b.task("a", |cx| Ok(*cx.input() * 3));
    let rt = Runtime::builder()
        .workers(2)
        .build(b.build().unwrap())
        .unwrap();
    let r = rt.submit(5).unwrap().wait();
    let pending = rt.submit(6).unwrap();
    drop(rt);
    assert_eq!(r.value(a), Some(15));
    let r2 = pending
        .wait_timeout(HANG)
        .expect("finished before drop returned");
    assert!(matches!(r2.outcome(), Ok(()) | Err(RunError::Cancelled)));
}

#[test]
fn parked_workers_wake_for_a_submit_after_idle() {
    let _s = shared();
    for idle in [IdleStrategy::default(), IdleStrategy::Park] {
        let mut b = GraphBuilder::<u32, u32, ()>::new();
        let a = b.task("a", |cx| Ok(*cx.input() + 1));
        let rt = Runtime::builder()
            .workers(2)
            .idle_strategy(idle)
            .build(b.build().unwrap())
            .unwrap();
        // Let the workers run out of spins and park.
        thread::sleep(Duration::from_millis(50));
        eventually("workers parked", || rt.metrics().parks > 0);
        for i in 0..5 {
            thread::sleep(Duration::from_millis(10));
            let r = rt
                .submit(i)
                .unwrap()
                .wait_timeout(HANG)
                .expect("a parked runtime did not wake for a submit");
            assert_eq!(r.value(a), Some(i + 1));
        }
        let m = rt.metrics();
        assert!(m.parks > 0 && m.wakes > 0, "{idle:?}: {m:?}");
    }
}

#[test]
fn run_handle_awaited_from_tokio() {
    let _s = shared();
    let gate = Gate::default();
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let g = gate.clone();
    let a = b.task("a", move |cx| {
        if *cx.input() == 0 {
            g.wait();
        }
        Ok(*cx.input() * 2)
    });
    let rt = Arc::new(
        Runtime::builder()
            .workers(2)
            .build(b.build().unwrap())
            .unwrap(),
    );
    let rt2 = Arc::clone(&rt);
    let opener = gate.clone();
    let values = within("await from tokio", move || {
        let tokio_rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        tokio_rt.block_on(async move {
            // Ready at once or soon.
            let quick = rt2.submit(21).unwrap().await;
            assert_eq!(quick.outcome(), Ok(()));
            // Pending until another thread opens the gate: the waker must fire.
            let slow = rt2.submit(0).unwrap();
            let t = thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                opener.open();
            });
            let slow = slow.await;
            t.join().unwrap();
            assert_eq!(slow.outcome(), Ok(()));
            // Many at once, from spawned tasks.
            let tasks: Vec<_> = (1..=16u32)
                .map(|i| {
                    let h = rt2.submit(i).unwrap();
                    tokio::spawn(async move { h.await.value(a) })
                })
                .collect();
            let mut out = vec![quick.value(a), slow.value(a)];
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        })
    });
    let mut expected = vec![Some(42), Some(0)];
    expected.extend((1..=16).map(|i| Some(i * 2)));
    assert_eq!(values, expected);
    assert_eq!(rt.metrics().active_runs, 0);
}

#[test]
fn wait_timeout_gives_the_handle_back() {
    let _s = shared();
    let gate = Gate::default();
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let g = gate.clone();
    let a = b.task("a", move |_| {
        g.wait();
        Ok(9)
    });
    let rt = Runtime::builder()
        .workers(1)
        .build(b.build().unwrap())
        .unwrap();
    let h = rt.submit(0).unwrap();
    let id = h.id();
    let h = h
        .wait_timeout(Duration::from_millis(20))
        .expect_err("the run cannot finish while the gate is closed");
    assert_eq!(h.id(), id);
    assert!(!h.is_finished());
    let h = h.wait_timeout(Duration::ZERO).expect_err("still blocked");
    gate.open();
    let r = h
        .wait_timeout(HANG)
        .expect("finished after the gate opened");
    assert_eq!(r.id(), id);
    assert_eq!(r.value(a), Some(9));
}

#[test]
fn dropped_handle_detaches_and_its_slot_is_freed() {
    let _s = shared();
    const SLOTS: usize = 4;
    let gate = Gate::default();
    let ran = Arc::new(AtomicUsize::new(0));
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let (g, r) = (gate.clone(), Arc::clone(&ran));
    let a = b.task("a", move |cx| {
        if *cx.input() < 100 {
            g.wait();
        }
        r.fetch_add(1, SeqCst);
        Ok(*cx.input())
    });
    let rt = Runtime::builder()
        .workers(2)
        .max_runs(SLOTS)
        .build(b.build().unwrap())
        .unwrap();
    for i in 0..SLOTS as u32 {
        drop(rt.submit(i).unwrap());
    }
    assert!(matches!(rt.submit(100), Err(SubmitError::Busy(100))));
    gate.open();
    // The detached runs finish on their own, then their slots come back: SLOTS new runs are
    // accepted at once (their handles all held together).
    let until = Instant::now() + HANG;
    let mut handles = Vec::new();
    while handles.len() < SLOTS {
        match rt.submit(100 + handles.len() as u32) {
            Ok(h) => handles.push(h),
            Err(SubmitError::Busy(_)) => {
                assert!(
                    Instant::now() < until,
                    "detached runs never freed their slots"
                );
                thread::sleep(Duration::from_micros(200));
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    for (k, h) in handles.into_iter().enumerate() {
        assert_eq!(h.wait().value(a), Some(100 + k as u32));
    }
    assert_eq!(ran.load(SeqCst), 2 * SLOTS);
}

/// A one-slot runtime whose task waits on `gate` when its input is below 100 and returns its
/// input, and that node.
fn one_slot_runtime(gate: &Gate) -> (Arc<Runtime<u32, u32, ()>>, ringdag::runtime::NodeId) {
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let g = gate.clone();
    let a = b.task("a", move |cx| {
        if *cx.input() < 100 {
            g.wait();
        }
        Ok(*cx.input())
    });
    let rt = Runtime::builder()
        .workers(2)
        .max_runs(1)
        .build(b.build().unwrap())
        .unwrap();
    (Arc::new(rt), a)
}

#[test]
fn submit_wait_blocks_until_a_result_is_dropped_then_submits() {
    let _s = shared();
    let gate = Gate::default();
    gate.open();
    let (rt, a) = one_slot_runtime(&gate);
    // The only slot is held by a finished run's result.
    let held = rt.submit(1).unwrap().wait();
    assert!(matches!(rt.submit(2), Err(SubmitError::Busy(2))));
    let returned = Arc::new(AtomicBool::new(false));
    let waiter = {
        let (rt, returned) = (Arc::clone(&rt), Arc::clone(&returned));
        thread::spawn(move || {
            let h = rt.submit_wait(2).expect("submit_wait");
            returned.store(true, SeqCst);
            h.wait().value(a)
        })
    };
    // It blocks (no CPU spent spinning) rather than trying again and again...
    eventually("submit_wait blocked", || rt.metrics().submit_waits >= 1);
    // ...and cannot have submitted: the slot is still held.
    assert!(
        !returned.load(SeqCst),
        "submit_wait returned with every slot held"
    );
    assert_eq!(held.value(a), Some(1));
    drop(held);
    let value = within("submit_wait after the result was dropped", move || {
        waiter.join().unwrap()
    });
    assert_eq!(value, Some(2));
}

#[test]
fn submit_wait_wakes_for_the_slot_of_a_detached_run() {
    let _s = shared();
    let gate = Gate::default();
    let (rt, a) = one_slot_runtime(&gate);
    // The only slot: a run blocked in its body, whose handle is dropped (the worker frees the
    // slot when the run ends).
    drop(rt.submit(1).unwrap());
    let waiter = {
        let rt = Arc::clone(&rt);
        thread::spawn(move || rt.submit_wait(100).expect("submit_wait").wait().value(a))
    };
    eventually("submit_wait blocked", || rt.metrics().submit_waits >= 1);
    gate.open();
    let value = within("submit_wait after the detached run ended", move || {
        waiter.join().unwrap()
    });
    assert_eq!(value, Some(100));
}

/// A waker whose `clone` takes 50 µs (longer than a mutex spins before it sleeps; a real
/// executor's clone may allocate, and can be preempted); `wake` does nothing. Each `slow_waker(k)` with a new `k`
/// is a different waker (`will_wake` is false), so every poll clones it.
fn slow_waker(k: usize) -> core::task::Waker {
    use core::task::{RawWaker, RawWakerVTable, Waker};
    fn clone(data: *const ()) -> RawWaker {
        let until = Instant::now() + Duration::from_micros(50);
        while Instant::now() < until {
            core::hint::spin_loop();
        }
        RawWaker::new(data, &VTABLE)
    }
    fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    // SAFETY: the vtable's functions never dereference the data pointer (an integer tag),
    // are thread-safe, and `clone` returns a waker with the same vtable: the `RawWaker`
    // contract holds.
    unsafe { Waker::from_raw(RawWaker::new(k as *const (), &VTABLE)) }
}

#[test]
fn run_completing_while_its_slot_is_reused_never_leaks_the_slot() {
    // One run slot, reused over and over. Each round polls its handle with a fresh waker
    // whose clone is slow, so the handle often holds the slot's waiter lock just when the
    // worker finishing the run wants it (to notify). The handle then takes the result and
    // frees the slot, the next run is submitted into the same slot and detached at once, and
    // only then does the worker get the lock for the *old* run. That late notification must
    // not consume the new run's "detached" mark: every detached run must free the slot, so
    // the next round's submit is eventually accepted.
    let _s = shared();
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    b.task("spin", |cx| {
        let until = Instant::now() + Duration::from_micros(u64::from(*cx.input() % 8));
        while Instant::now() < until {
            core::hint::spin_loop();
        }
        Ok(1)
    });
    let rt = Runtime::builder()
        .workers(2)
        .max_runs(1)
        .build(b.build().unwrap())
        .unwrap();
    let submit = |x: u32| {
        let until = Instant::now() + Duration::from_secs(2);
        loop {
            match rt.submit(x) {
                Ok(h) => return h,
                Err(SubmitError::Busy(_)) => {
                    assert!(
                        Instant::now() < until,
                        "round {x}: the only run slot leaked ({:?})",
                        rt.metrics()
                    );
                    thread::yield_now();
                }
                Err(e) => panic!("{e:?}"),
            }
        }
    };
    // A busy thread keeps the other core occupied, so a worker that went to sleep on the
    // waiter lock takes a while to be scheduled again once the lock is released.
    let stop = Arc::new(AtomicBool::new(false));
    let hog = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            while !stop.load(SeqCst) {
                core::hint::spin_loop();
            }
        })
    };
    let _stop_hog = DropFlag(Arc::clone(&stop));
    let mut k = 0;
    for x in 0..5_000 {
        let mut h = submit(x);
        let r = loop {
            k += 1;
            let waker = slow_waker(k);
            let mut cx = core::task::Context::from_waker(&waker);
            if let core::task::Poll::Ready(r) = core::pin::Pin::new(&mut h).poll(&mut cx) {
                break r;
            }
        };
        assert_eq!(r.outcome(), Ok(()));
        drop((r, h));
        drop(submit(x + 1));
    }
    stop.store(true, SeqCst);
    hog.join().unwrap();
}

#[test]
fn cancel_ends_a_run_waiting_in_retry_backoff() {
    let _s = shared();
    let attempts = Arc::new(AtomicU32::new(0));
    let mut b = GraphBuilder::<u32, u32, u8>::new();
    let k = Arc::clone(&attempts);
    let a = b.task("a", move |_| {
        k.fetch_add(1, SeqCst);
        Err(1)
    });
    let next = b.task("next", |_| Ok(2));
    b.edge(a, next).retry(
        a,
        RetryPolicy {
            attempts: 5,
            backoff_ticks: 600_000,
        },
    );
    let rt = Runtime::builder()
        .workers(2)
        .build(b.build().unwrap())
        .unwrap();
    let h = rt.submit(0).unwrap();
    eventually("first attempt", || attempts.load(SeqCst) == 1);
    h.cancel().unwrap();
    let r = h
        .wait_timeout(HANG)
        .expect("a cancelled run waited out its 10-minute back-off");
    assert_eq!(r.outcome(), Err(RunError::Cancelled));
    assert!(!r.ran(a) && !r.ran(next));
    assert_eq!(attempts.load(SeqCst), 1);
    drop(r);

    // The same for an immediate shutdown (Drop) with a run waiting in back-off.
    let h = rt.submit(0).unwrap();
    eventually("first attempt", || attempts.load(SeqCst) == 2);
    within("drop with a run in back-off", move || drop(rt));
    let r = h.wait_timeout(HANG).expect("finished before drop returned");
    assert_eq!(r.outcome(), Err(RunError::Cancelled));
}

/// While a retry waits out its back-off, parked workers sleep until it may be due (at most
/// 50 ms at a time) instead of waking every 1 ms tick. Counted, not timed: the parks over the
/// wait are bounded by the time the wait really took over 50 ms (per worker, with room for
/// the run's own start and end and for spurious wake-ups), where waking every tick parks
/// about once per millisecond. A slow machine only makes the bound larger.
#[test]
fn a_retry_waiting_out_its_back_off_does_not_wake_workers_every_tick() {
    let _s = shared();
    let attempts = Arc::new(AtomicU32::new(0));
    let mut b = GraphBuilder::<u32, u32, u8>::new();
    let k = Arc::clone(&attempts);
    let a = b.task("a", move |_| {
        if k.fetch_add(1, SeqCst) == 0 {
            Err(1)
        } else {
            Ok(7)
        }
    });
    b.retry(
        a,
        RetryPolicy {
            attempts: 2,
            backoff_ticks: 300,
        },
    );
    let rt = Runtime::builder()
        .workers(2)
        .idle_strategy(IdleStrategy::Park)
        .build(b.build().unwrap())
        .unwrap();
    let parks_before = rt.metrics().parks;
    let start = Instant::now();
    let h = rt.submit(0).unwrap();
    eventually("the retry waits", || rt.metrics().retries_waiting == 1);
    let r = h
        .wait_timeout(HANG)
        .expect("the retry ran after its back-off");
    let elapsed_ms = start.elapsed().as_millis() as u64;
    assert_eq!(rt.metrics().retries_waiting, 0);
    assert_eq!(r.outcome(), Ok(()));
    assert_eq!(r.value(a), Some(7));
    assert_eq!(attempts.load(SeqCst), 2);
    let parks = rt.metrics().parks - parks_before;
    let bound = 2 * 2 * (elapsed_ms / 50 + 4);
    assert!(
        parks <= bound,
        "{parks} parks over {elapsed_ms} ms (at most {bound} expected): workers woke every tick"
    );
}

#[test]
fn cancel_skips_nodes_not_started() {
    let _s = shared();
    let gate = Gate::default();
    let started = counters(2);
    let (graph, [first, mid, last]) = gated_chain(&gate, &started);
    let rt = Runtime::builder().workers(2).build(graph).unwrap();
    let h = rt.submit(0).unwrap();
    eventually("first started", || started[0].load(SeqCst) == 1);
    h.cancel().unwrap();
    // Cancelling twice is fine while the run is active.
    h.cancel().unwrap();
    gate.open();
    let r = h.wait_timeout(HANG).expect("cancelled run finished");
    assert_eq!(r.outcome(), Err(RunError::Cancelled));
    assert!(r.ran(first), "a node already running finishes");
    assert!(!r.ran(mid) && !r.ran(last));
    assert_eq!(started[0].load(SeqCst), 1);
    assert_eq!(rt.metrics().counters.runs_cancelled, 1);

    // After the run finished (result not yet taken), cancel is refused and the result stands.
    let h = rt.submit(1).unwrap();
    eventually("finished", || h.is_finished());
    assert_eq!(h.cancel(), Err(CancelError::NotActive));
    assert_eq!(h.wait().outcome(), Ok(()));
}

#[test]
fn plain_edge_from_a_condition_is_taken_or_rejected() {
    // `edge(cond, x)` is documented as "x runs after cond". Either the builder rejects a plain
    // edge out of a condition, or `x` runs whatever branch the condition picks; silently
    // skipping `x` on every run is neither.
    let _s = shared();
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let cond = b.condition("cond", |cx| {
        cx.choose(0);
        Ok(1)
    });
    let yes = b.task("yes", |_| Ok(2));
    let other = b.task("other", |_| Ok(3));
    let plain = b.task("plain", |_| Ok(4));
    b.branch(cond, yes, 0)
        .default_branch(cond, other)
        .edge(cond, plain);
    let Ok(graph) = b.build() else {
        return; // rejected: fine
    };
    let rt = Runtime::builder().workers(1).build(graph).unwrap();
    let r = rt.submit(0).unwrap().wait();
    assert_eq!(r.outcome(), Ok(()));
    assert!(r.ran(yes) && !r.ran(other));
    assert!(
        r.ran(plain),
        "the plain edge out of a condition was never taken"
    );
}

/// A panic payload whose own `Drop` panics.
struct PanicsWhenDropped;
impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("the payload's drop panicked too");
    }
}

#[test]
fn a_panic_payload_that_panics_when_dropped_fails_only_its_node() {
    // Dropping the payload outside a catch would unwind through the worker: the node would
    // never resolve, its run never end, and the worker would be gone.
    let _s = shared();
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let bomb = b.task("bomb", |cx| {
        if *cx.input() == 1 {
            std::panic::panic_any(PanicsWhenDropped);
        }
        Ok(7)
    });
    let after = b.task("after", move |cx| Ok(cx.value(bomb).unwrap() + 1));
    b.edge(bomb, after);
    // One worker: if the panic ended it, nothing would run afterwards.
    let rt = Runtime::builder()
        .workers(1)
        .build(b.build().unwrap())
        .unwrap();
    let rt = Arc::new(rt);
    let rt2 = Arc::clone(&rt);
    let (failed, ok) = within("runs after a payload that panics on drop", move || {
        let failed = rt2.submit(1).unwrap().wait();
        let ok = rt2.submit(2).unwrap().wait();
        (failed.outcome(), ok.value(after))
    });
    assert_eq!(failed, Err(RunError::Panicked { node: bomb }));
    assert_eq!(ok, Some(8));
    assert_eq!(rt.metrics().counters.runs_failed, 1);
}

/// A panic payload whose `Drop` holds its node between recording the panic and failing the
/// run, until the other node has panicked too.
struct HoldsTheRecord {
    recorded: Gate,
    other_panicking: Gate,
}
impl Drop for HoldsTheRecord {
    fn drop(&mut self) {
        self.recorded.open();
        self.other_panicking.wait();
        // Time for the other node to fail the run first (if it is not enough, the other
        // order is tested instead; the assertion holds either way).
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_nodes_panicking_together_each_keep_their_message() {
    // `first` records its panic first, `second` fails the run first: the run's message must
    // be that of the node its outcome names, whichever it is.
    let _s = shared();
    let (started, recorded, panicking) = (Gate::default(), Gate::default(), Gate::default());
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let root = b.task("root", |_| Ok(0));
    let (s1, r1, p1) = (started.clone(), recorded.clone(), panicking.clone());
    let first = b.task("first", move |_| -> Result<u32, ()> {
        s1.wait();
        std::panic::panic_any(HoldsTheRecord {
            recorded: r1.clone(),
            other_panicking: p1.clone(),
        })
    });
    let (s2, r2, p2) = (started, recorded, panicking);
    let second = b.task("second", move |_| -> Result<u32, ()> {
        s2.open();
        r2.wait();
        p2.open();
        panic!("the second node's message")
    });
    // `root` continues with `first` and queues `second` on its deque: the other worker
    // steals it, and the two run at once (each waits for the other).
    b.edge(root, first).edge(root, second);
    let rt = Runtime::builder()
        .workers(2)
        .build(b.build().unwrap())
        .unwrap();
    let r = within("two concurrent panics", move || {
        rt.submit(0).unwrap().wait()
    });
    let msg = r.panic_message();
    match r.outcome() {
        Err(RunError::Panicked { node }) if node == second => {
            assert_eq!(msg.as_deref(), Some("the second node's message"));
        }
        Err(RunError::Panicked { node }) if node == first => {
            assert_eq!(msg.as_deref(), Some("panic with a non-string payload"));
        }
        other => panic!("unexpected outcome {other:?}"),
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_runtime_dropped_inside_its_own_task_stops_and_its_workers_exit() {
    // A body holding the last handle to its runtime drops it. Joining the workers there
    // would wait for the run that body belongs to (and a worker cannot join itself); the
    // runtime stops without joining, and its workers exit once the run has ended.
    let _only = SERIAL.write().unwrap_or_else(|e| e.into_inner());
    let before = visible_ringdag_threads();
    type Rt = Runtime<u32, u32, ()>;
    let holder: Arc<std::sync::Mutex<Option<Rt>>> = Arc::default();
    let freed = Arc::new(AtomicBool::new(false));
    let witness = DropFlag(Arc::clone(&freed));
    let dropped_in_body = Arc::new(AtomicBool::new(false));
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let (h, d) = (Arc::clone(&holder), Arc::clone(&dropped_in_body));
    let first = b.task("first", move |_| {
        let _keep = &witness;
        let rt = h.lock().unwrap().take();
        drop(rt);
        d.store(true, SeqCst);
        Ok(1)
    });
    let second = b.task("second", |_| Ok(2));
    b.edge(first, second);
    let rt = Runtime::builder()
        .workers(2)
        .build(b.build().unwrap())
        .unwrap();
    // The runtime is in `holder` before the run is submitted (under the lock, which `first`
    // takes too): `first` always finds it there.
    let handle = {
        let mut held = holder.lock().unwrap();
        held.insert(rt).submit(0).unwrap()
    };
    let r = within("the run whose body dropped the runtime", move || {
        handle.wait()
    });
    assert!(
        dropped_in_body.load(SeqCst),
        "the drop inside the body returned"
    );
    // The immediate shutdown cancelled the run: `first` ran, `second` was skipped.
    assert_eq!(r.outcome(), Err(RunError::Cancelled));
    assert!(r.ran(first) && !r.ran(second));
    drop(r);
    // The workers, detached, let go of the shared state (the graph and its closures) when
    // they exit.
    eventually("the detached workers exited", || freed.load(SeqCst));
    eventually_ringdag_threads_back_to(before);
}

#[test]
fn wait_timeout_with_duration_max_waits_like_wait() {
    let _s = shared();
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let a = b.task("a", |cx| Ok(*cx.input() + 1));
    let rt = Runtime::builder()
        .workers(1)
        .build(b.build().unwrap())
        .unwrap();
    let h = rt.submit(1).unwrap();
    let r = within("wait_timeout(Duration::MAX)", move || {
        h.wait_timeout(Duration::MAX).ok().map(|r| r.value(a))
    });
    assert_eq!(r, Some(Some(2)));
}

/// A waker that records that it was woken.
struct Flag(AtomicBool);

impl std::task::Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, SeqCst);
    }
}

#[test]
fn a_handle_polled_again_after_ready_stays_pending_and_touches_nothing() {
    // After `Ready`, the handle's run slot is free and another run may hold it. Polling the
    // finished handle again must not panic, take that run's result, or replace the waker
    // that run's handle registered (its task would never be woken).
    use core::pin::Pin;
    use core::task::{Context, Poll, Waker};
    let _s = shared();
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let gate = Gate::default();
    let g = gate.clone();
    let a = b.task("a", move |cx| {
        if *cx.input() == 2 {
            g.wait();
        }
        Ok(*cx.input() * 10)
    });
    let rt = Runtime::builder()
        .workers(1)
        .max_runs(1)
        .build(b.build().unwrap())
        .unwrap();
    let first = rt.submit(1).unwrap();
    let (r, mut first) = within("first run", move || {
        let mut first = first;
        loop {
            let mut cx = Context::from_waker(Waker::noop());
            if let Poll::Ready(r) = Pin::new(&mut first).poll(&mut cx) {
                return (r, first);
            }
            thread::yield_now();
        }
    });
    assert_eq!(r.value(a), Some(10));
    drop(r);
    // The only slot now holds the second run, blocked until the gate opens. Its handle
    // registers a waker; then the finished first handle is polled again.
    let mut second = rt.submit(2).unwrap();
    assert_eq!(second.id().slot(), first.id().slot());
    let woken = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(Arc::clone(&woken));
    assert!(Pin::new(&mut second)
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    let mut noop = Context::from_waker(Waker::noop());
    assert!(Pin::new(&mut first).poll(&mut noop).is_pending());
    gate.open();
    eventually("the second run's waker was woken", || woken.0.load(SeqCst));
    assert!(Pin::new(&mut first).poll(&mut noop).is_pending());
    drop(first);
    let r2 = within("second run", move || second.wait());
    assert_eq!(r2.value(a), Some(20));
    assert_eq!(r2.input(), 2);
}

#[test]
fn out_of_range_settings_are_build_errors_and_a_large_batch_acts_as_the_largest() {
    let _s = shared();
    let graph = || {
        let mut b = GraphBuilder::<u32, u32, ()>::new();
        let a = b.task("a", |cx| Ok(*cx.input() + 1));
        let c = b.task("c", move |cx| Ok(cx.value(a).unwrap_or(0) * 2));
        b.edge(a, c);
        (b.build().unwrap(), c)
    };
    let config_error =
        |builder: ringdag::runtime::Builder, what: &str| match builder.build(graph().0) {
            Err(BuildError::Config(message)) => {
                assert!(message.contains(what), "{what}: the error says {message:?}")
            }
            Err(other) => panic!("{what}: {other}"),
            Ok(_) => panic!("{what}: built"),
        };
    config_error(Runtime::builder().workers(0), "workers");
    config_error(Runtime::builder().batch_size(0), "batch size");
    config_error(Runtime::builder().max_runs(0), "max_runs");
    config_error(Runtime::builder().max_runs(1 << 20), "max_runs");
    // Larger than a worker's batch buffer: takes at most that many, and runs as usual.
    for batch in [33, 128, usize::MAX] {
        let (g, c) = graph();
        let rt = Runtime::builder()
            .workers(2)
            .batch_size(batch)
            .build(g)
            .unwrap();
        let handles: Vec<_> = (0..64).map(|i| rt.submit(i).unwrap()).collect();
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.wait().value(c), Some((i as u32 + 1) * 2), "batch {batch}");
        }
    }
}

/// A one-slot runtime whose runs wait at a gate when their input is odd.
fn one_slot_gated(gate: &Gate) -> Runtime<u32, u32, ()> {
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let g = gate.clone();
    b.task("a", move |cx| {
        if *cx.input() % 2 == 1 {
            g.wait();
        }
        Ok(*cx.input())
    });
    Runtime::builder()
        .workers(2)
        .max_runs(1)
        .build(b.build().unwrap())
        .unwrap()
}

/// Polls a handle to completion with a no-op waker.
fn poll_to_ready(h: &mut ringdag::runtime::RunHandle<u32, u32, ()>) -> u32 {
    let a = ringdag::runtime::NodeId::from_index(0);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    let until = Instant::now() + HANG;
    loop {
        if let core::task::Poll::Ready(r) = core::pin::Pin::new(&mut *h).poll(&mut cx) {
            return r.value(a).expect("ran");
        }
        assert!(Instant::now() < until, "the run never finished");
        thread::yield_now();
    }
}

#[test]
fn a_handle_polled_to_completion_never_touches_a_later_run_with_the_same_id() {
    // Run ids are a slot and a 20-bit generation: after 2^20 runs through one slot, a later
    // run has the id of an old one. A handle kept after `poll` returned its result must not
    // cancel that run, nor call it unfinished.
    let _s = shared();
    let gate = Gate::default();
    let rt = one_slot_gated(&gate);
    let mut old = rt.submit(0).unwrap();
    assert_eq!(poll_to_ready(&mut old), 0);
    assert!(old.is_finished());
    let wrap = 1u32 << 20;
    let mut last = old.id();
    let mut runs = 0u32;
    while (last.generation() + 1) % wrap != old.id().generation() {
        let h = rt.submit(2).unwrap();
        last = h.id();
        assert_eq!(h.wait().outcome(), Ok(()));
        runs += 1;
        assert!(runs < wrap, "the generation never came round");
    }
    let new = rt.submit(1).unwrap();
    assert_eq!(new.id(), old.id(), "the generation wrapped");
    assert_eq!(old.cancel(), Err(CancelError::NotActive));
    assert!(old.is_finished());
    assert!(!new.is_finished());
    gate.open();
    let done = within("the new run", move || new.wait().outcome());
    assert_eq!(done, Ok(()), "the new run was not cancelled");
}

#[test]
#[should_panic(expected = "RunHandle::wait after `poll` returned the run's result")]
fn waiting_on_a_handle_whose_result_poll_returned_panics_instead_of_hanging() {
    let _s = shared();
    let gate = Gate::default();
    let rt = one_slot_gated(&gate);
    let mut h = rt.submit(0).unwrap();
    poll_to_ready(&mut h);
    // Bounded: what this guards against is a wait that never returns.
    within("wait after poll", move || drop(h.wait()));
}

/// A waker whose drop panics (an executor's bug); clone and wake are no-ops.
fn waker_that_panics_on_drop() -> core::task::Waker {
    use core::task::{RawWaker, RawWakerVTable, Waker};
    fn clone(data: *const ()) -> RawWaker {
        RawWaker::new(data, &VTABLE)
    }
    fn noop(_: *const ()) {}
    fn drop(_: *const ()) {
        panic!("waker drop");
    }
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, drop);
    // SAFETY: the functions never dereference the data pointer (null), are thread-safe, and
    // `clone` returns a waker with the same vtable: the `RawWaker` contract holds.
    unsafe { Waker::from_raw(RawWaker::new(core::ptr::null(), &VTABLE)) }
}

#[test]
fn a_waker_that_panics_when_the_handle_drops_it_does_not_leak_the_slot() {
    let _s = shared();
    let gate = Gate::default();
    let rt = one_slot_gated(&gate);
    let mut h = rt.submit(1).unwrap();
    let waker = core::mem::ManuallyDrop::new(waker_that_panics_on_drop());
    let mut cx = core::task::Context::from_waker(&waker);
    assert!(core::pin::Pin::new(&mut h).poll(&mut cx).is_pending());
    // Dropping the handle drops its stored waker, which panics: the run must still be
    // detached, so that its slot comes back when it finishes.
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(h)));
    assert!(dropped.is_err(), "the waker's drop panicked");
    gate.open();
    let until = Instant::now() + HANG;
    let next = loop {
        match rt.submit(2) {
            Ok(h) => break h,
            Err(SubmitError::Busy(_)) => {
                assert!(Instant::now() < until, "the detached run's slot leaked");
                thread::sleep(Duration::from_micros(200));
            }
            Err(e) => panic!("{e:?}"),
        }
    };
    assert_eq!(next.wait().outcome(), Ok(()));
}

/// A retry's back-off counts from the failure, not from the tick the worker last synced
/// before the body: a body that runs longer than the back-off must not have its retry start
/// at once. A lower bound only (a slow machine can only make the gap longer): the retry is
/// due `backoff` 1 ms ticks after the tick in which attempt 0 returned, so it starts at
/// least `backoff - 1` ms after that return.
#[test]
fn a_retry_back_off_counts_from_the_failure_not_from_the_body_s_start() {
    let _s = shared();
    const BACKOFF_MS: u32 = 100;
    let returned = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let retried = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let mut b = GraphBuilder::<u32, u32, u8>::new();
    let (ret, re) = (Arc::clone(&returned), Arc::clone(&retried));
    let a = b.task("a", move |cx| {
        if cx.attempt() == 0 {
            // Longer than the back-off.
            thread::sleep(Duration::from_millis(150));
            *ret.lock().unwrap() = Some(Instant::now());
            Err(1)
        } else {
            *re.lock().unwrap() = Some(Instant::now());
            Ok(2)
        }
    });
    b.retry(
        a,
        RetryPolicy {
            attempts: 2,
            backoff_ticks: BACKOFF_MS,
        },
    );
    let rt = Runtime::builder()
        .workers(1)
        .build(b.build().unwrap())
        .unwrap();
    let r = within("the retried run", move || rt.submit(0).unwrap().wait());
    assert_eq!(r.outcome(), Ok(()));
    let gap = retried.lock().unwrap().unwrap() - returned.lock().unwrap().unwrap();
    assert!(
        gap >= Duration::from_millis(u64::from(BACKOFF_MS) - 1),
        "the retry started {gap:?} after the failure, before its {BACKOFF_MS} ms back-off"
    );
}
