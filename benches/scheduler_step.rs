//! Single-threaded scheduler cost: `Engine::step()` driving a linear chain and a binary tree of
//! 2^16 nodes, one run per iteration, against a plain sequential topological loop doing the
//! same work (`slot[v] += 1`). Reports time per node (Throughput::Elements = nodes).
//!
//! `cargo bench --bench scheduler_step`

use std::cell::Cell;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringdag::dag::NodeId;
use ringdag::ring::RingBuffer;
use ringdag::runtime::Graph;
use ringdag::sched::{
    Bodies, Context, Engine, Entry, Failure, ItemCell, NoHooks, NodeCell, RunId, RunSlot, Shared,
};

const NODES: usize = 1 << 16;

/// CSR of a chain 0 -> 1 -> ... -> n-1.
fn chain(n: usize) -> (Vec<u32>, Vec<u32>) {
    let off = (0..=n as u32).map(|v| v.min(n as u32 - 1)).collect();
    let succ = (1..n as u32).collect();
    (off, succ)
}

/// CSR of a binary tree in heap order (v -> 2v+1, 2v+2 when < n).
fn tree(n: usize) -> (Vec<u32>, Vec<u32>) {
    let mut off = vec![0u32];
    let mut succ = Vec::new();
    for v in 0..n {
        for c in [2 * v + 1, 2 * v + 2] {
            if c < n {
                succ.push(c as u32);
            }
        }
        off.push(succ.len() as u32);
    }
    (off, succ)
}

struct Count(Vec<Cell<u64>>);

impl Bodies<(), u32, ()> for Count {
    #[inline]
    fn call(&self, node: NodeId, _cx: &mut Context<'_, (), u32>) -> Result<u32, Failure<()>> {
        let slot = &self.0[node.index()];
        slot.set(slot.get() + 1);
        Ok(0)
    }
}

fn bench_shape(c: &mut Criterion, name: &str, off: &[u32], succ: &[u32]) {
    let n = off.len() - 1;
    let graph = Graph::<(), u32, ()>::from_csr("n", off, succ, |_| Ok(0)).unwrap();
    let view = graph.view();
    let runs = [RunSlot::<(), ()>::new()];
    let cells: Vec<NodeCell<u32>> = (0..n).map(|_| NodeCell::new()).collect();
    let items: [ItemCell<u32>; 0] = [];
    let high: Box<RingBuffer<Entry, { 1 << 16 }>> = Box::default();
    let low: Box<RingBuffer<Entry, 64>> = Box::default();
    let results: Box<RingBuffer<RunId, 64>> = Box::default();
    let shared = Shared::new();
    // SAFETY: the view is a compiled graph's (`Graph::view`).
    let engine = unsafe {
        Engine::new(
            view,
            &runs,
            &cells,
            n,
            &items,
            0,
            [&*high, &*low],
            Some(&*results),
            &shared,
            &NoHooks,
        )
    }
    .unwrap();
    let bodies = Count((0..n).map(|_| Cell::new(0)).collect());

    let mut group = c.benchmark_group(format!("scheduler_step/{name}"));
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(20);
    group.bench_function("ringdag_step", |b| {
        b.iter(|| {
            engine.submit(()).unwrap();
            while engine.step(&bodies, 32) > 0 {}
            let done = engine.poll().unwrap();
            black_box(done.outcome().is_ok());
        })
    });
    // The plain sequential loop: the same work in topological order (ids are topological).
    let slots: Vec<Cell<u64>> = (0..n).map(|_| Cell::new(0)).collect();
    let topo = view.topo;
    group.bench_function("sequential_loop", |b| {
        b.iter(|| {
            for &v in topo {
                let s = &slots[v as usize];
                s.set(s.get() + 1);
            }
            black_box(&slots);
        })
    });
    group.finish();
    // Every node ran once per run.
    let runs_done = bodies.0[0].get();
    assert!(bodies.0.iter().all(|s| s.get() == runs_done));
}

fn scheduler_step(c: &mut Criterion) {
    let (off, succ) = chain(NODES);
    bench_shape(c, "linear_chain_65536", &off, &succ);
    let (off, succ) = tree(NODES);
    bench_shape(c, "binary_tree_65536", &off, &succ);
}

criterion_group!(benches, scheduler_step);
criterion_main!(benches);
