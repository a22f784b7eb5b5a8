//! Work stealing in the runtime. A worker keeps the ready successors of its nodes in its own
//! deque and continues with one of them; an idle worker, even one parked in the condition
//! variable, must be woken and take the others, so that a slow (or blocking) node never holds
//! back siblings that another worker could run. And every node still runs exactly once.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ringdag::runtime::{GraphBuilder, Priority, Runtime};

/// How long the slow node waits for its siblings before giving up.
const PATIENCE: Duration = Duration::from_secs(5);

#[test]
fn parked_worker_is_woken_to_steal_the_siblings_of_a_slow_node() {
    let started = Arc::new(AtomicUsize::new(0));
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let root = b.task("root", |_| Ok(0));
    let seen = Arc::clone(&started);
    // The first successor: the worker that ran `root` continues with it and blocks here
    // until the siblings, pushed onto that worker's own deque, have been started elsewhere.
    let slow = b.task("slow", move |_| {
        let until = Instant::now() + PATIENCE;
        while seen.load(SeqCst) < 3 && Instant::now() < until {
            thread::sleep(Duration::from_micros(100));
        }
        Ok(seen.load(SeqCst) as u32)
    });
    b.edge(root, slow);
    let mut siblings = Vec::new();
    for name in ["s1", "s2", "s3"] {
        let started = Arc::clone(&started);
        let s = b.task(name, move |_| {
            started.fetch_add(1, SeqCst);
            Ok(1)
        });
        b.edge(root, s);
        siblings.push(s);
    }
    let rt = Runtime::builder()
        .workers(2)
        .build(b.build().unwrap())
        .unwrap();
    for round in 0..5 {
        started.store(0, SeqCst);
        // Let both workers go idle and park (they spin briefly first).
        thread::sleep(Duration::from_millis(50));
        let result = rt.submit(round).unwrap().wait();
        assert_eq!(result.outcome(), Ok(()));
        assert_eq!(
            result.value(slow),
            Some(3),
            "round {round}: the siblings of the slow node were not run while it waited"
        );
        for &s in &siblings {
            assert_eq!(result.value(s), Some(1));
        }
    }
}

#[test]
fn wide_and_deep_graphs_run_every_node_once_with_stealing() {
    // A root fanning out to 2 000 chains of 20 nodes: the fan-out overflows the worker's deque
    // (256 entries) into the shared ring, and the chains are stolen and continued.
    const CHAINS: u32 = 2_000;
    const DEPTH: u32 = 20;
    let n = 1 + CHAINS * DEPTH;
    let mut off = vec![0u32];
    let mut succ = Vec::new();
    succ.extend((0..CHAINS).map(|c| 1 + c * DEPTH));
    off.push(succ.len() as u32);
    for c in 0..CHAINS {
        for d in 0..DEPTH {
            let v = 1 + c * DEPTH + d;
            if d + 1 < DEPTH {
                succ.push(v + 1);
            }
            off.push(succ.len() as u32);
        }
    }
    assert_eq!(off.len() as u32, n + 1);
    let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
    for workers in [1, 2, 4] {
        let rt = Runtime::builder()
            .workers(workers)
            .max_runs(4)
            .build(counting_graph(&off, &succ, &runs))
            .unwrap();
        runs.iter().for_each(|c| c.store(0, SeqCst));
        let handles: Vec<_> = (0..3).map(|_| rt.submit(()).unwrap()).collect();
        for h in handles {
            assert_eq!(h.wait().outcome(), Ok(()));
        }
        let m = rt.metrics();
        assert_eq!(
            (m.deque_depth, m.ring_depths, m.active_runs),
            (0, [0, 0], 0),
            "{workers} workers: work left queued after every run finished"
        );
        if let Some(v) = runs.iter().position(|c| c.load(SeqCst) != 3) {
            panic!(
                "{workers} workers: node {v} ran {} times in 3 runs",
                runs[v].load(SeqCst)
            );
        }
    }
}

/// The CSR graph whose body counts each node's executions in `runs`.
fn counting_graph(
    off: &[u32],
    succ: &[u32],
    runs: &Arc<Vec<AtomicUsize>>,
) -> ringdag::runtime::Graph<(), (), ()> {
    let counts = Arc::clone(runs);
    ringdag::runtime::Graph::from_csr("n", off, succ, move |cx| {
        counts[cx.node().index()].fetch_add(1, SeqCst);
        Ok(())
    })
    .unwrap()
}

#[test]
fn binary_tree_fan_outs_run_every_node_once_after_its_parent() {
    // Every internal node of a binary tree makes two sole-predecessor successors ready at
    // once: the worker continues with one and queues the other (its own deque for a run of
    // high priority, the low ring otherwise), where the other workers steal it.
    const DEPTH: u32 = 13;
    let n = (1u32 << DEPTH) - 1;
    let mut off = vec![0u32];
    let mut succ = Vec::new();
    for v in 0..n {
        succ.extend([2 * v + 1, 2 * v + 2].into_iter().filter(|&c| c < n));
        off.push(succ.len() as u32);
    }
    check_two_way_fan_outs("tree", &off, &succ);
}

#[test]
fn a_comb_of_fan_outs_fills_the_deque_and_spills_to_the_ring() {
    // A spine of 2 000 nodes, each with a leaf: every spine node makes the next spine node
    // (first, continued with) and its leaf (second, queued) ready at once. A worker that
    // keeps to the spine queues 2 000 leaves, more than its deque holds (256): the rest go to
    // the ring.
    const SPINE: u32 = 2_000;
    let mut off = vec![0u32];
    let mut succ = Vec::new();
    for v in 0..SPINE {
        // Spine node v is node 2v, its leaf 2v + 1.
        if v + 1 < SPINE {
            succ.extend([2 * v + 2, 2 * v + 1]);
        } else {
            succ.push(2 * v + 1);
        }
        off.push(succ.len() as u32);
        off.push(succ.len() as u32);
    }
    check_two_way_fan_outs("comb", &off, &succ);
}

/// Runs the CSR graph `off`/`succ` (every node has at most one predecessor) on 1, 2 and 4
/// workers at both priorities. Each node stamps itself from one shared counter: every node
/// runs once, and after its predecessor.
fn check_two_way_fan_outs(name: &'static str, off: &[u32], succ: &[u32]) {
    let n = off.len() - 1;
    let mut parent = vec![None; n];
    for v in 0..n {
        for &c in &succ[off[v] as usize..off[v + 1] as usize] {
            assert_eq!(
                parent[c as usize].replace(v),
                None,
                "{name}: node {c} has two parents"
            );
        }
    }
    let clock = Arc::new(AtomicUsize::new(0));
    let stamps: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
    for workers in [1, 2, 4] {
        let (c, s) = (Arc::clone(&clock), Arc::clone(&stamps));
        let graph = ringdag::runtime::Graph::from_csr(name, off, succ, move |cx| {
            let previous = s[cx.node().index()].swap(c.fetch_add(1, SeqCst) + 1, SeqCst);
            // 0: not run yet in this round (a panic fails the run with its message).
            assert_eq!(previous, 0, "node {} ran twice", cx.node().index());
            Ok::<(), ()>(())
        })
        .unwrap();
        let rt = Runtime::builder().workers(workers).build(graph).unwrap();
        for priority in [Priority::High, Priority::Low] {
            for round in 0..3 {
                stamps.iter().for_each(|c| c.store(0, SeqCst));
                let what = format!("{name}: {workers} workers, {priority:?}, round {round}");
                let handle = rt.submit_with((), priority, None).unwrap();
                let Ok(result) = handle.wait_timeout(PATIENCE * 6) else {
                    // A lost entry: the run never ends, and dropping the runtime would wait
                    // for it. Leave the runtime (paused) to the process and fail.
                    rt.pause();
                    std::mem::forget(rt);
                    panic!("{what}: the run did not end");
                };
                assert_eq!(result.outcome(), Ok(()), "{what}");
                for v in 0..n {
                    let stamp = stamps[v].load(SeqCst);
                    assert_ne!(stamp, 0, "{what}: node {v} did not run");
                    if let Some(p) = parent[v] {
                        let before = stamps[p].load(SeqCst);
                        assert!(before < stamp, "{what}: node {v} ran before node {p}");
                    }
                }
                let m = rt.metrics();
                assert_eq!(
                    (m.deque_depth, m.ring_depths, m.active_runs),
                    (0, [0, 0], 0),
                    "{what}: work left queued after the run finished"
                );
            }
        }
    }
}

#[test]
fn every_worker_helps_with_an_iterator_s_items() {
    // An iterator's body runs on tokens, each claiming the next item until none is left: the
    // runtime puts out one per worker (`tests/sched_iterators.rs` checks the count), which
    // must let every worker help. Here the first `workers` items block until that many items
    // have started, which only happens if each worker got a token.
    const ITEMS: u32 = 48;
    for workers in [2usize, 3, 4] {
        let started = Arc::new(AtomicUsize::new(0));
        let mut b = GraphBuilder::<u32, u32, ()>::new();
        let items = b.iterator("items", ITEMS as u16, |cx| {
            for i in 0..ITEMS {
                cx.emit(i).map_err(|_| ())?;
            }
            Ok(ITEMS)
        });
        let seen = Arc::clone(&started);
        b.body(items, "item", move |cx| {
            let (i, _) = cx.item().ok_or(())?;
            let now = seen.fetch_add(1, SeqCst) + 1;
            if i >= workers {
                return Ok(now as u32);
            }
            let until = Instant::now() + PATIENCE;
            while seen.load(SeqCst) < workers && Instant::now() < until {
                thread::sleep(Duration::from_micros(100));
            }
            Ok(seen.load(SeqCst).min(workers) as u32)
        });
        let rt = Runtime::builder()
            .workers(workers)
            .build(b.build().unwrap())
            .unwrap();
        for round in 0..3 {
            started.store(0, SeqCst);
            let result = rt.submit(round).unwrap().wait();
            assert_eq!(result.outcome(), Ok(()));
            let values = result.items(items);
            assert_eq!(
                values.len(),
                ITEMS as usize,
                "{workers} workers: items lost"
            );
            assert_eq!(
                values[..workers],
                vec![workers as u32; workers][..],
                "{workers} workers, round {round}: the first items did not all run at once"
            );
            assert_eq!(started.load(SeqCst), ITEMS as usize, "every item once");
        }
    }
}
