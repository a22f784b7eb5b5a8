//! DAGs with many roots: `submit` pushes one root token instead of one entry per root, and
//! workers claim the roots 32 at a time. Every root runs once per run, joins after them see
//! all of them, a ring far smaller than the roots never parks or loses one, cancelling in the
//! middle of the sweep ends the run (and the slot is reusable), a run whose token cannot be
//! pushed falls back to one entry per root, and real threads share the sweep.
//!
//! All but the threaded test run on the test thread, so Miri runs them.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use ringdag::dag::{Dag, DagBuilder, DagView};
use ringdag::ring::RingBuffer;
use ringdag::sched::{
    Context, Engine, Entry, ItemCell, NoHooks, NodeCell, Queue, RunError, RunId, RunSlot, Shared,
    TaskManager,
};

type Cx<'a> = Context<'a, u64, u64>;

/// Roots of the test DAG (more than three chunks of 32).
const ROOTS: usize = 100;
const NODES: usize = ROOTS + 2;

thread_local! {
    /// (input, node) of every body start on this thread.
    static LOG: RefCell<Vec<(u64, u32)>> = const { RefCell::new(Vec::new()) };
}

fn leaf(cx: &mut Cx<'_>) -> Result<u64, ()> {
    LOG.with(|l| l.borrow_mut().push((*cx.input(), cx.node().index() as u32)));
    Ok(*cx.input() * 1000 + cx.node().index() as u64)
}

/// Sums the inputs it saw and counts them in the low 10 bits.
fn join(cx: &mut Cx<'_>) -> Result<u64, ()> {
    LOG.with(|l| l.borrow_mut().push((*cx.input(), cx.node().index() as u32)));
    let (n, sum) = cx.inputs().fold((0, 0), |(n, s), (_, v)| (n + 1, s + v));
    Ok(sum << 10 | n)
}

type Body = fn(&mut Cx<'_>) -> Result<u64, ()>;

/// `ROOTS` roots, all into `join`, then `tail`.
fn dag() -> Dag<u64, u64, (), NODES, NODES> {
    dag_with(leaf, join)
}

/// The same graph with `body` on the roots and the tail, and `joiner` on the join.
fn dag_with(body: Body, joiner: Body) -> Dag<u64, u64, (), NODES, NODES> {
    let mut b = DagBuilder::new();
    for name in root_names() {
        b = b.task(name, body);
    }
    b = b.task("join", joiner).task("tail", body);
    for name in root_names() {
        b = b.edge(name, "join");
    }
    b.edge("join", "tail").build().unwrap()
}

/// Static names for the roots (the builder keeps `&'static str`).
fn root_names() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        (0..ROOTS)
            .map(|i| &*Box::leak(format!("r{i}").into_boxed_str()))
            .collect()
    })
}

fn starts(input: u64, node: u32) -> usize {
    LOG.with(|l| l.borrow().iter().filter(|&&e| e == (input, node)).count())
}

/// The join's value for a complete run of `input`.
fn full_join(input: u64) -> u64 {
    let sum: u64 = (0..ROOTS as u64).map(|r| input * 1000 + r).sum();
    sum << 10 | ROOTS as u64
}

/// Rings of 8 entries: far fewer than the roots.
type Tm<'d> = TaskManager<'d, u64, u64, (), NODES, NODES, 2, 0, 8>;

#[test]
fn every_root_runs_once_through_a_ring_smaller_than_the_roots() {
    let dag = dag();
    let tm = Box::new(Tm::new(&dag));
    let join = dag.find("join").unwrap();
    for round in 0..3u64 {
        // Two runs at once, their tokens interleaved in the ring.
        let (a, b) = (10 + 2 * round, 11 + 2 * round);
        let ids = [tm.submit(a).unwrap(), tm.submit(b).unwrap()];
        while tm.step() > 0 {}
        let mut finished = Vec::new();
        while let Some(done) = tm.poll() {
            assert_eq!(done.outcome(), Ok(()));
            let input = done.input();
            assert_eq!(done.value(join), Some(full_join(input)), "run {input}");
            for v in 0..NODES as u32 {
                assert_eq!(starts(input, v), 1, "run {input}: node {v}");
            }
            finished.push(done.id());
        }
        finished.sort_by_key(|id| id.slot());
        let mut want = ids.to_vec();
        want.sort_by_key(|id| id.slot());
        assert_eq!(finished, want);
        // Nothing was parked for lack of room: the roots never went through the ring.
        assert_eq!(tm.counters().ring_full, 0);
    }
}

#[test]
fn cancel_in_the_middle_of_the_sweep_ends_the_run_and_frees_the_slot() {
    let dag = dag();
    let tm = Box::new(Tm::new(&dag));
    let id = tm.submit(7).unwrap();
    // One batch: the first chunk of roots (and not all of them).
    let first = tm.step();
    assert!(first > 0 && first < ROOTS, "first step ran {first}");
    tm.cancel(id).unwrap();
    while tm.step() > 0 {}
    let done = tm.poll().expect("the cancelled run finished");
    assert_eq!(done.id(), id);
    assert_eq!(done.outcome(), Err(RunError::Cancelled));
    let ran = (0..ROOTS as u32).filter(|&v| starts(7, v) == 1).count();
    assert_eq!(ran, first, "no root started after the cancel");
    assert!(!done.ran(dag.find("join").unwrap()));
    drop(done);
    // Both slots serve full runs afterwards.
    for input in [8, 9] {
        tm.submit(input).unwrap();
        while tm.step() > 0 {}
        let done = tm.poll().expect("finished");
        assert_eq!(done.outcome(), Ok(()));
        assert_eq!(
            done.value(dag.find("join").unwrap()),
            Some(full_join(input))
        );
    }
}

/// A ring that says it has room but refuses the first `refuse` pushes (as when a racing
/// submitter takes the room between `submit`'s check and its push).
struct Refusing {
    ring: RingBuffer<Entry, 8>,
    refuse: AtomicU32,
}

// SAFETY: every operation that moves entries is the inner `RingBuffer`'s (each entry popped
// at most once, push happens-before pop); refusing a push moves nothing.
unsafe impl Queue<Entry> for Refusing {
    fn push_slice(&self, items: &[Entry]) -> usize {
        if self.refuse.load(Relaxed) > 0 {
            self.refuse.fetch_sub(1, Relaxed);
            return 0;
        }
        self.ring.push_slice(items)
    }
    fn pop_slice(&self, out: &mut [Entry]) -> usize {
        self.ring.pop_slice(out)
    }
    fn len(&self) -> usize {
        self.ring.len()
    }
    fn capacity(&self) -> usize {
        self.ring.capacity()
    }
}

#[test]
fn a_token_that_cannot_be_pushed_falls_back_to_one_entry_per_root() {
    let dag = dag();
    let view: DagView<'_> = dag.view();
    let runs = [RunSlot::<u64, ()>::new()];
    let cells: Vec<NodeCell<u64>> = (0..NODES).map(|_| NodeCell::new()).collect();
    let items: [ItemCell<u64>; 0] = [];
    let high = Refusing {
        ring: RingBuffer::new(),
        refuse: AtomicU32::new(1),
    };
    let low = RingBuffer::<Entry, 8>::new();
    let results = RingBuffer::<RunId, 4>::new();
    let shared = Shared::new();
    // SAFETY: the view is a built DAG's; the storage is fresh and sized for it (one run slot,
    // `NODES` cells, no items).
    let engine = unsafe {
        Engine::new(
            view,
            &runs,
            &cells,
            NODES,
            &items,
            0,
            [&high, &low],
            Some(&results),
            &shared,
            &NoHooks,
        )
    }
    .unwrap();
    let id = engine.submit(3).unwrap();
    // The token was refused; the first 8 roots went to the ring, the rest were parked.
    assert_eq!(high.refuse.load(Relaxed), 0);
    assert_eq!(engine.counters().ring_full, ROOTS - 8);
    while engine.step(&dag, 32) > 0 {}
    let done = engine.take(id).expect("the run finished");
    assert_eq!(done.outcome(), Ok(()));
    assert_eq!(done.value(dag.find("join").unwrap()), Some(full_join(3)));
    for v in 0..NODES as u32 {
        assert_eq!(starts(3, v), 1, "node {v}");
    }
}

#[test]
fn threads_share_the_sweep_and_every_root_runs_once() {
    static COUNT: [AtomicU32; NODES] = [const { AtomicU32::new(0) }; NODES];
    fn counted(cx: &mut Cx<'_>) -> Result<u64, ()> {
        COUNT[cx.node().index()].fetch_add(1, Relaxed);
        Ok(1)
    }
    let dag = dag_with(counted, counted);
    let tm = Box::new(Tm::new(&dag));
    let runs: usize = if cfg!(miri) { 2 } else { 200 };
    let submitted = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                if tm.step() == 0 {
                    if submitted.load(Relaxed) && tm.counters().runs_completed == runs {
                        break;
                    }
                    std::thread::yield_now();
                }
            });
        }
        let mut finished = 0;
        let mut next = 0u64;
        while finished < runs {
            if next < runs as u64 && tm.submit(next).is_ok() {
                next += 1;
                if next == runs as u64 {
                    submitted.store(true, Relaxed);
                }
            }
            match tm.poll() {
                Some(done) => {
                    assert_eq!(done.outcome(), Ok(()));
                    assert_eq!(done.value(dag.find("tail").unwrap()), Some(1));
                    finished += 1;
                }
                None => {
                    tm.step();
                }
            }
        }
    });
    for (v, c) in COUNT.iter().enumerate() {
        assert_eq!(c.load(Relaxed), runs as u32, "node {v}");
    }
}
