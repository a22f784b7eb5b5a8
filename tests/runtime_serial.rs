//! Serial runs (`Builder::workers`): a runtime with one worker runs a graph of tasks and
//! conditions whose retries have no back-off one node after the other, in the graph's
//! topological order, without readiness counting. Checked here: when the mode applies and
//! when not, the order (every node after its predecessors, each node once, values flowing),
//! conditions and joins against the same graph on two workers, runs in flight taking turns,
//! cancel, pause, failures, retries, timeouts, deadlines, panics and immediate shutdown.
//!
//! No assertion measures time: sleeps only make a node slow, and bounds turn a hang into a
//! failure.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::SeqCst};
use core::time::Duration;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Instant;

use ringdag::runtime::{
    Graph, GraphBuilder, NodeId, Priority, RetryPolicy, RunError, Runtime, Shutdown,
};

/// Bound for anything that must not hang.
const HANG: Duration = Duration::from_secs(10);

/// A gate node bodies wait on (bounded, so a bug cannot wedge the worker forever).
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

/// Runs `f` on its own thread; fails the test if it does not return within [`HANG`].
fn within<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    let t = thread::spawn(move || {
        let r = f();
        let _ = tx.send(());
        r
    });
    match rx.recv_timeout(HANG) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match t.join() {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: hung for more than {HANG:?}"),
    }
}

#[test]
fn serial_applies_to_graphs_of_tasks_and_conditions_only_unless_turned_off() {
    let plain = || {
        let mut b = GraphBuilder::<u32, u32, ()>::new();
        let c = b.condition("c", |_| Ok(0));
        let t = b.task("t", |_| Ok(1));
        b.default_branch(c, t);
        b.retry(
            t,
            RetryPolicy {
                attempts: 3,
                backoff_ticks: 0,
            },
        );
        b.build().unwrap()
    };
    let one = Runtime::builder().workers(1).build(plain()).unwrap();
    assert!(one.runs_serially());
    let two = Runtime::builder().workers(2).build(plain()).unwrap();
    assert!(two.runs_serially());
    let off = Runtime::builder()
        .workers(2)
        .serial_runs(false)
        .build(plain())
        .unwrap();
    assert!(!off.runs_serially());
    // A ring smaller than the runs in flight: a run's turn could find no room.
    let small = Runtime::builder()
        .workers(1)
        .ring_capacity(64)
        .max_runs(256)
        .build(plain())
        .unwrap();
    assert!(!small.runs_serially());
    let fits = Runtime::builder()
        .workers(1)
        .ring_capacity(64)
        .max_runs(64)
        .build(plain())
        .unwrap();
    assert!(fits.runs_serially());

    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let it = b.iterator("it", 4, |cx| {
        cx.emit(1).map_err(|_| ())?;
        Ok(0)
    });
    b.body(it, "body", |cx| Ok(cx.item().unwrap().1));
    let iter = Runtime::builder()
        .workers(1)
        .build(b.build().unwrap())
        .unwrap();
    assert!(!iter.runs_serially());

    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let t = b.task("t", |_| Ok(1));
    b.retry(
        t,
        RetryPolicy {
            attempts: 2,
            backoff_ticks: 5,
        },
    );
    let backoff = Runtime::builder()
        .workers(1)
        .build(b.build().unwrap())
        .unwrap();
    assert!(!backoff.runs_serially());
}

#[test]
fn nodes_run_once_in_a_topological_order_with_their_inputs() {
    // Edges go from higher indices to lower ones (node 0 is the sink): the index order is not
    // topological, so the run follows Kahn's order. Each node's value is one more than the
    // sum of its inputs; a node records its position in the run.
    const N: usize = 40;
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut b = GraphBuilder::<u32, u64, ()>::new();
    let mut ids = Vec::new();
    for v in 0..N {
        let order = Arc::clone(&order);
        let name: &'static str = Box::leak(format!("n{v}").into_boxed_str());
        ids.push(b.task(name, move |cx| {
            order.lock().unwrap().push(cx.node().index());
            Ok(1 + cx.inputs().map(|(_, v)| v).sum::<u64>())
        }));
    }
    let mut edges = Vec::new();
    for v in 0..N {
        for u in v + 1..N {
            // A fixed sparse pattern, from the higher index to the lower.
            if (u * 7 + v * 3) % 5 == 0 {
                b.edge(ids[u], ids[v]);
                edges.push((u, v));
            }
        }
    }
    let graph = b.build().unwrap();
    let rt = Runtime::builder().workers(1).build(graph).unwrap();
    assert!(rt.runs_serially());
    for input in 0..3 {
        order.lock().unwrap().clear();
        let r = rt.submit(input).unwrap().wait();
        assert_eq!(r.outcome(), Ok(()));
        let order = order.lock().unwrap().clone();
        let mut pos = [usize::MAX; N];
        for (i, &v) in order.iter().enumerate() {
            assert_eq!(pos[v], usize::MAX, "node {v} ran twice");
            pos[v] = i;
        }
        assert!(pos.iter().all(|&p| p != usize::MAX), "a node did not run");
        for &(u, v) in &edges {
            assert!(pos[u] < pos[v], "{v} ran before its predecessor {u}");
        }
        // The sequential model of the values.
        let mut want = [0u64; N];
        for v in (0..N).rev() {
            want[v] = 1 + edges
                .iter()
                .filter(|&&(_, t)| t == v)
                .map(|&(u, _)| want[u])
                .sum::<u64>();
        }
        for v in 0..N {
            assert_eq!(r.value(ids[v]), Some(want[v]), "node {v}");
        }
    }
}

#[test]
fn conditions_and_joins_match_two_workers() {
    // c chooses by input: label 0 -> a, label 1 -> b, else the default d. a, b and d join in
    // j (it runs if any of them ran); e hangs off b only.
    let build = || {
        let mut b = GraphBuilder::<u32, u32, ()>::new();
        let c = b.condition("c", |cx| {
            cx.choose(*cx.input() as u8 % 3);
            Ok(100)
        });
        let a = b.task("a", |_| Ok(1));
        let bb = b.task("b", |_| Ok(2));
        let d = b.task("d", |_| Ok(3));
        let j = b.task("j", |cx| Ok(cx.inputs().map(|(_, v)| v).sum::<u32>()));
        let e = b.task("e", |cx| Ok(cx.inputs().map(|(_, v)| v).sum::<u32>() + 10));
        b.branch(c, a, 0)
            .branch(c, bb, 1)
            .default_branch(c, d)
            .edge(a, j)
            .edge(bb, j)
            .edge(d, j)
            .edge(bb, e);
        (b.build().unwrap(), [c, a, bb, d, j, e])
    };
    let (g1, ids) = build();
    let (g2, _) = build();
    let serial = Runtime::builder().workers(1).build(g1).unwrap();
    let parallel = Runtime::builder()
        .workers(2)
        .serial_runs(false)
        .build(g2)
        .unwrap();
    assert!(serial.runs_serially() && !parallel.runs_serially());
    for input in 0..9 {
        let s = serial.submit(input).unwrap().wait();
        let p = parallel.submit(input).unwrap().wait();
        assert_eq!(s.outcome(), Ok(()));
        assert_eq!(p.outcome(), Ok(()));
        for &id in &ids {
            assert_eq!(s.ran(id), p.ran(id), "input {input}, node {id:?}");
            assert_eq!(s.value(id), p.value(id), "input {input}, node {id:?}");
        }
        // The branch taken, and only it.
        let taken = (input % 3) as usize;
        for (k, &id) in ids[1..4].iter().enumerate() {
            assert_eq!(s.ran(id), k == taken, "input {input}");
        }
        assert!(s.ran(ids[4]), "the join runs whichever branch ran");
        assert_eq!(s.ran(ids[5]), taken == 1);
    }
}

#[test]
fn runs_in_flight_take_turns() {
    // Two runs of a 2 000-node chain on one worker. The first waits in its first node until
    // the second is submitted; from then on the two take turns of at most 256 nodes.
    let log = Arc::new(Mutex::new(Vec::new()));
    let gate = Gate::default();
    let started = Arc::new(AtomicBool::new(false));
    let n = 2000;
    let offsets: Vec<u32> = (0..=n as u32).map(|i| i.min(n as u32 - 1)).collect();
    let successors: Vec<u32> = (1..n as u32).collect();
    let graph = {
        let (log, gate, started) = (Arc::clone(&log), gate.clone(), Arc::clone(&started));
        Graph::<u32, u32, ()>::from_csr("c", &offsets, &successors, move |cx| {
            if *cx.input() == 0 && cx.node().index() == 0 {
                started.store(true, SeqCst);
                gate.wait();
            }
            log.lock()
                .unwrap()
                .push((*cx.input(), cx.node().index() as u32));
            Ok(0)
        })
        .unwrap()
    };
    let rt = Runtime::builder().workers(1).build(graph).unwrap();
    assert!(rt.runs_serially());
    let first = rt.submit(0).unwrap();
    eventually("first run started", || started.load(SeqCst));
    let second = rt.submit(1).unwrap();
    gate.open();
    let (a, b) = within("two runs", move || (first.wait(), second.wait()));
    assert_eq!(a.outcome(), Ok(()));
    assert_eq!(b.outcome(), Ok(()));
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 2 * n);
    // Round robin: the log is stretches of one run, none longer than a turn (256 nodes)
    // while the other run still has nodes left.
    let last_of = |run: u32| log.iter().rposition(|e| e.0 == run).unwrap();
    let both_until = last_of(0).min(last_of(1));
    let mut stretches = Vec::new();
    let mut start = 0;
    for i in 1..=log.len() {
        if i == log.len() || log[i].0 != log[start].0 {
            stretches.push((log[start].0, start, i - start));
            start = i;
        }
    }
    assert!(
        stretches.len() >= 8,
        "the runs did not take turns: {stretches:?}"
    );
    for &(run, at, len) in &stretches {
        if at + len <= both_until {
            assert!(
                len <= 256,
                "run {run} kept the worker for {len} nodes: {stretches:?}"
            );
        }
    }
    // Each run's own order is the chain's.
    for run in 0..2 {
        let nodes: Vec<u32> = log.iter().filter(|e| e.0 == run).map(|e| e.1).collect();
        assert_eq!(nodes, (0..n as u32).collect::<Vec<_>>());
    }
}

#[test]
fn cancel_stops_a_serial_run_between_nodes() {
    let gate = Gate::default();
    let started = Arc::new(AtomicBool::new(false));
    let ran = Arc::new(AtomicUsize::new(0));
    let n = 10;
    let offsets: Vec<u32> = (0..=n as u32).map(|i| i.min(n as u32 - 1)).collect();
    let successors: Vec<u32> = (1..n as u32).collect();
    let graph = {
        let (gate, started, ran) = (gate.clone(), Arc::clone(&started), Arc::clone(&ran));
        Graph::<u32, u32, ()>::from_csr("c", &offsets, &successors, move |cx| {
            ran.fetch_add(1, SeqCst);
            if cx.node().index() == 3 {
                started.store(true, SeqCst);
                gate.wait();
            }
            Ok(1)
        })
        .unwrap()
    };
    let rt = Runtime::builder().workers(1).build(graph).unwrap();
    assert!(rt.runs_serially());
    let h = rt.submit(0).unwrap();
    eventually("node 3 started", || started.load(SeqCst));
    h.cancel().unwrap();
    gate.open();
    let r = within("cancelled run", move || h.wait());
    assert_eq!(r.outcome(), Err(RunError::Cancelled));
    assert_eq!(ran.load(SeqCst), 4, "a node started after the cancel");
    assert!(r.ran(NodeId::from_index(3)), "the running node finishes");
    assert!(!r.ran(NodeId::from_index(4)));
    // The worker goes on with the next run.
    let ok = rt.submit(1).unwrap().wait();
    assert_eq!(ok.outcome(), Ok(()));
    assert_eq!(rt.metrics().counters.runs_cancelled, 1);
}

#[test]
fn pause_holds_a_serial_run_between_nodes() {
    let gate = Gate::default();
    let started = Arc::new(AtomicBool::new(false));
    let ran = Arc::new(AtomicUsize::new(0));
    let n = 600;
    let offsets: Vec<u32> = (0..=n as u32).map(|i| i.min(n as u32 - 1)).collect();
    let successors: Vec<u32> = (1..n as u32).collect();
    let graph = {
        let (gate, started, ran) = (gate.clone(), Arc::clone(&started), Arc::clone(&ran));
        Graph::<u32, u32, ()>::from_csr("c", &offsets, &successors, move |cx| {
            ran.fetch_add(1, SeqCst);
            if cx.node().index() == 1 {
                started.store(true, SeqCst);
                gate.wait();
            }
            Ok(1)
        })
        .unwrap()
    };
    let rt = Runtime::builder().workers(1).build(graph).unwrap();
    let h = rt.submit(0).unwrap();
    eventually("node 1 started", || started.load(SeqCst));
    rt.pause();
    gate.open();
    // The worker has returned from node 1 within this time; paused, it starts nothing more.
    thread::sleep(Duration::from_millis(50));
    assert_eq!(ran.load(SeqCst), 2, "a node started while paused");
    assert!(!h.is_finished());
    rt.resume();
    let r = within("resumed run", move || h.wait());
    assert_eq!(r.outcome(), Ok(()));
    assert_eq!(ran.load(SeqCst), n);
}

#[test]
fn failures_retries_timeouts_and_panics() {
    // a -> flaky -> b -> slow -> c; `flaky` fails twice and succeeds on its third attempt;
    // input 1 makes `b` fail for good, input 2 makes `slow` overrun its timeout, input 3
    // makes `b` panic.
    let runs_of_c = Arc::new(AtomicU32::new(0));
    let mut g = GraphBuilder::<u32, u32, &'static str>::new();
    let a = g.task("a", |_| Ok(1));
    let flaky = g.task("flaky", |cx| {
        if cx.attempt() < 2 {
            Err("not yet")
        } else {
            Ok(cx.value(NodeId::from_index(0)).unwrap() + cx.attempt())
        }
    });
    let b = g.task("b", |cx| match *cx.input() {
        1 => Err("b failed"),
        3 => panic!("b panicked"),
        _ => Ok(10),
    });
    let slow = g.task("slow", |cx| {
        assert!(
            cx.deadline().is_some(),
            "a node with a timeout sees its deadline"
        );
        if *cx.input() == 2 {
            thread::sleep(Duration::from_millis(400));
        }
        Ok(20)
    });
    let c = {
        let runs_of_c = Arc::clone(&runs_of_c);
        g.task("c", move |_| {
            runs_of_c.fetch_add(1, SeqCst);
            Ok(30)
        })
    };
    g.edge(a, flaky)
        .edge(flaky, b)
        .edge(b, slow)
        .edge(slow, c)
        .retry(
            flaky,
            RetryPolicy {
                attempts: 3,
                backoff_ticks: 0,
            },
        )
        // Wide enough that a preempted worker does not time the good runs out.
        .timeout(slow, Duration::from_millis(200));
    let rt = Runtime::builder()
        .workers(1)
        .build(g.build().unwrap())
        .unwrap();
    assert!(rt.runs_serially());

    let ok = rt.submit(0).unwrap().wait();
    assert_eq!(ok.outcome(), Ok(()));
    assert_eq!(ok.value(flaky), Some(3), "the third attempt's value");
    assert_eq!(ok.value(c), Some(30));

    let failed = rt.submit(1).unwrap().wait();
    assert_eq!(
        failed.outcome(),
        Err(RunError::Failed {
            node: b,
            error: "b failed"
        })
    );
    assert!(failed.ran(flaky) && !failed.ran(b) && !failed.ran(slow));

    let late = rt.submit(2).unwrap().wait();
    assert_eq!(late.outcome(), Err(RunError::Timeout { node: slow }));
    assert!(!late.ran(slow) && !late.ran(c));

    let panicked = rt.submit(3).unwrap().wait();
    assert_eq!(panicked.outcome(), Err(RunError::Panicked { node: b }));
    assert!(panicked
        .panic_message()
        .is_some_and(|m| m.contains("b panicked")));

    assert_eq!(runs_of_c.load(SeqCst), 1, "c ran in the one good run only");
    let m = rt.metrics();
    assert_eq!(m.counters.runs_completed, 1);
    assert_eq!(m.counters.runs_failed, 3);
    // A worker adds its retries to the counters at the end of its step, after the run it
    // finished was handed to its waiter: wait for the last step's share.
    eventually("the last step's counters", || {
        rt.metrics().counters.retries >= 8
    });
    assert_eq!(
        rt.metrics().counters.retries,
        4 * 2,
        "two retries of flaky per run"
    );
}

#[test]
fn a_deadline_fails_a_serial_run_before_its_next_node() {
    let ran = Arc::new(AtomicUsize::new(0));
    let graph = {
        let ran = Arc::clone(&ran);
        Graph::<u32, u32, ()>::from_csr("c", &[0, 1, 2, 2], &[1, 2], move |cx| {
            ran.fetch_add(1, SeqCst);
            if cx.node().index() == 0 {
                thread::sleep(Duration::from_millis(30));
            }
            Ok(0)
        })
        .unwrap()
    };
    let rt = Runtime::builder().workers(1).build(graph).unwrap();
    assert!(rt.runs_serially());
    let r = rt
        .submit_with(0, Priority::High, Some(Duration::from_millis(5)))
        .unwrap()
        .wait();
    assert_eq!(r.outcome(), Err(RunError::DeadlineExceeded));
    // Node 0 ran, unless the worker took the run up after its deadline (a slow machine);
    // nothing after it did.
    assert!(ran.load(SeqCst) <= 1);
    assert_eq!(r.ran(NodeId::from_index(0)), ran.load(SeqCst) == 1);
    assert!(!r.ran(NodeId::from_index(1)) && !r.ran(NodeId::from_index(2)));
}

#[test]
fn immediate_shutdown_cancels_serial_runs_in_flight() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let gate = Gate::default();
    let started = Arc::new(AtomicBool::new(false));
    let n = 1000;
    let offsets: Vec<u32> = (0..=n as u32).map(|i| i.min(n as u32 - 1)).collect();
    let successors: Vec<u32> = (1..n as u32).collect();
    let graph = {
        let (log, gate, started) = (Arc::clone(&log), gate.clone(), Arc::clone(&started));
        Graph::<u32, u32, ()>::from_csr("c", &offsets, &successors, move |cx| {
            if cx.node().index() == 0 && *cx.input() == 0 {
                started.store(true, SeqCst);
                gate.wait();
            }
            log.lock().unwrap().push(*cx.input());
            Ok(0)
        })
        .unwrap()
    };
    let rt = Runtime::builder().workers(1).build(graph).unwrap();
    assert!(rt.runs_serially());
    let handles: Vec<_> = (0..4).map(|i| rt.submit(i).unwrap()).collect();
    eventually("first run started", || started.load(SeqCst));
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
    let log = log.lock().unwrap().clone();
    let mut cancelled = 0;
    for (i, h) in handles.into_iter().enumerate() {
        let r = h.wait();
        let ran = log.iter().filter(|&&run| run == i as u32).count();
        match r.outcome() {
            Ok(()) => assert_eq!(ran, n, "run {i} finished without all its nodes"),
            Err(RunError::Cancelled) => cancelled += 1,
            other => panic!("run {i}: unexpected outcome {other:?}"),
        }
        if ran == 0 {
            assert_eq!(
                r.outcome(),
                Err(RunError::Cancelled),
                "run {i} never started"
            );
        }
    }
    // The shutdown began while the first run waited in its first node (100 ms before the
    // gate opened): that run stops between nodes, the others before they start. (A thread
    // stalled for those 100 ms could let one run finish first, as in runtime_behaviour's
    // test of the same pattern; a runtime that ignored the cancel would finish all four.)
    assert!(cancelled >= 3, "only {cancelled} of 4 runs cancelled");
    if cancelled == 4 {
        assert_eq!(log, [0], "only the first run's first node ran");
    }
}

#[test]
fn nodes_that_wait_for_each_other_meet_on_two_workers() {
    // root -> a, b: each of `a` and `b` waits until both have started. One worker could not
    // run them (a counted run on one worker neither); on two, the run starts serially, its
    // worker is stuck in `a`, and the other worker, idle, takes the rest of the run (`b`)
    // once it finds the run held at the same node twice, a millisecond apart.
    let met: Arc<Vec<AtomicUsize>> = Arc::new((0..4).map(|_| AtomicUsize::new(0)).collect());
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let root = b.task("root", |_| Ok(0));
    let meet = |met: Arc<Vec<AtomicUsize>>| {
        move |cx: &mut ringdag::runtime::Context<'_, u32, u32>| -> Result<u32, ()> {
            let here = &met[*cx.input() as usize];
            here.fetch_add(1, SeqCst);
            let until = Instant::now() + HANG;
            while here.load(SeqCst) < 2 {
                if Instant::now() > until {
                    return Err(());
                }
                thread::sleep(Duration::from_micros(100));
            }
            Ok(1)
        }
    };
    let a = b.task("a", meet(Arc::clone(&met)));
    let c = b.task("b", meet(Arc::clone(&met)));
    b.edge(root, a).edge(root, c);
    let rt = Runtime::builder()
        .workers(2)
        .build(b.build().unwrap())
        .unwrap();
    assert!(rt.runs_serially());
    for input in 0..4 {
        let r = within("two nodes meeting", {
            let h = rt.submit(input).unwrap();
            move || h.wait()
        });
        assert_eq!(r.outcome(), Ok(()), "input {input}");
        assert_eq!(r.value(a), Some(1));
        assert_eq!(r.value(c), Some(1));
    }
    // Each run was taken from its stuck worker.
    assert_eq!(rt.metrics().counters.runs_shared, 4);
}

#[test]
fn slow_nodes_after_a_fast_root_are_shared() {
    // A fast root, then 40 nodes of 20 µs each (busy, not sleeping): the run's worker finds
    // them slow (two spans in a row of 500 ns a node or more) within a few nodes, and shares
    // the run; every node runs once, after the root, with its value.
    let ran: Arc<Vec<AtomicUsize>> = Arc::new((0..41).map(|_| AtomicUsize::new(0)).collect());
    let offsets: Vec<u32> = std::iter::once(0)
        .chain(std::iter::repeat_n(40, 41))
        .collect();
    let successors: Vec<u32> = (1..=40).collect();
    let graph = {
        let ran = Arc::clone(&ran);
        Graph::<u32, u32, ()>::from_csr("n", &offsets, &successors, move |cx| {
            let k = cx.node().index();
            if k == 0 {
                return Ok(*cx.input());
            }
            let until = Instant::now() + Duration::from_micros(20);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            ran[k].fetch_add(1, SeqCst);
            Ok(cx.inputs().map(|(_, v)| v).sum::<u32>() + k as u32)
        })
        .unwrap()
    };
    let rt = Runtime::builder().workers(2).build(graph).unwrap();
    assert!(rt.runs_serially());
    for input in 0..3u32 {
        let r = within("a slow run", {
            let h = rt.submit(100 * input).unwrap();
            move || h.wait()
        });
        assert_eq!(r.outcome(), Ok(()));
        for k in 1..=40u32 {
            assert_eq!(
                r.value(NodeId::from_index(k as usize)),
                Some(100 * input + k)
            );
        }
    }
    assert!(ran.iter().skip(1).all(|n| n.load(SeqCst) == 3));
    assert_eq!(rt.metrics().counters.runs_shared, 3);
}
