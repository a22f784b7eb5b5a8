//! The seed's `task_manager_high_throughput`: 20,000 runs (up to `RUNS` = 64 in flight) of a
//! 29-node DAG with a condition and an iterator, driven by 4 threads calling `step()` and a
//! submitter/poller. Every run's result (all node values, the iterator's items) equals a
//! sequential evaluation of the same DAG with the same node functions, and every node (and
//! every item) executed exactly once per run.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ringdag::dag::{Dag, DagBuilder, EdgeLabel, NodeId, NodeKind};
use ringdag::sched::{Context, TaskManager};

type Cx<'a> = Context<'a, u64, u64>;

const TOTAL: usize = if cfg!(miri) { 12 } else { 20_000 };
const WORKERS: usize = if cfg!(miri) { 2 } else { 4 };
const NODES: usize = 32;
/// Run slots and ring capacity. Smaller under Miri, whose borrow tracking pays for the size
/// of the manager on every call.
const RUNS: usize = if cfg!(miri) { 4 } else { 64 };
const RING: usize = if cfg!(miri) { 32 } else { 1024 };
/// Most items the iterator emits.
const MAX_ITEMS: u16 = 6;

fn mix(a: u64, b: u64) -> u64 {
    let mut x = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    x
}

// ---------------------------------------------------------------- node functions
// Pure functions of (input, node, inputs, items), shared by the bodies and the model.

fn f_task(input: u64, node: usize, inputs: &[(usize, u64)]) -> u64 {
    inputs.iter().fold(mix(input, node as u64), |h, &(p, v)| {
        mix(h, mix(p as u64, v))
    })
}

fn f_route_label(input: u64) -> u8 {
    // 0 and 1 have edges; 2 has none (default).
    ((input >> 2) % 3) as u8
}

fn f_item_count(input: u64) -> u64 {
    input % (MAX_ITEMS as u64 + 1)
}

fn f_item(iter_value: u64, k: u64) -> u64 {
    mix(iter_value, k)
}

fn f_body(item: u64, index: usize) -> u64 {
    mix(item, 1000 + index as u64)
}

fn f_sum(base: u64, items: &[u64]) -> u64 {
    items.iter().fold(base, |h, &v| mix(h, v))
}

// ---------------------------------------------------------------- bodies

/// Executions per (run, node), plus per (run, item) for the body.
fn execs() -> &'static [AtomicU8] {
    static E: OnceLock<Vec<AtomicU8>> = OnceLock::new();
    E.get_or_init(|| {
        (0..TOTAL * (NODES + MAX_ITEMS as usize))
            .map(|_| AtomicU8::new(0))
            .collect()
    })
}

fn record(cx: &Cx<'_>, extra: usize) {
    let slot = *cx.input() as usize * (NODES + MAX_ITEMS as usize) + extra;
    execs()[slot].fetch_add(1, Relaxed);
}

fn inputs_of(cx: &Cx<'_>) -> Vec<(usize, u64)> {
    cx.inputs().map(|(p, v)| (p.index(), v)).collect()
}

fn task(cx: &mut Cx<'_>) -> Result<u64, u32> {
    record(cx, cx.node().index());
    Ok(f_task(*cx.input(), cx.node().index(), &inputs_of(cx)))
}

fn route(cx: &mut Cx<'_>) -> Result<u64, u32> {
    record(cx, cx.node().index());
    cx.choose(f_route_label(*cx.input()));
    Ok(f_task(*cx.input(), cx.node().index(), &inputs_of(cx)))
}

fn split(cx: &mut Cx<'_>) -> Result<u64, u32> {
    record(cx, cx.node().index());
    let value = f_task(*cx.input(), cx.node().index(), &inputs_of(cx));
    for k in 0..f_item_count(*cx.input()) {
        cx.emit(f_item(value, k)).map_err(|_| 1u32)?;
    }
    Ok(value)
}

fn body(cx: &mut Cx<'_>) -> Result<u64, u32> {
    let (i, item) = cx.item().expect("item");
    record(cx, NODES + i);
    Ok(f_body(item, i))
}

fn sum(cx: &mut Cx<'_>) -> Result<u64, u32> {
    record(cx, cx.node().index());
    let base = f_task(*cx.input(), cx.node().index(), &inputs_of(cx));
    Ok(f_sum(base, cx.items(NodeId::from_index(SPLIT))))
}

const SPLIT: usize = 15;

static DAG: Dag<u64, u64, u32, NODES, 64> = Dag::new_or_panic(
    DagBuilder::new()
        .task("src", task) // 0
        .task("a1", task)
        .task("a2", task)
        .task("a3", task)
        .task("a4", task)
        .task("a5", task)
        .task("a6", task) // 6
        .condition("route", route) // 7
        .task("b0", task)
        .task("b1", task)
        .task("bd", task)
        .task("c0", task)
        .task("c1", task)
        .task("cd", task) // 13
        .task("j", task) // 14
        .iterator("split", split, MAX_ITEMS) // 15
        .body("split", "sq", body) // 16
        .task("sum", sum) // 17
        .task("d1", task)
        .task("d2", task)
        .task("d3", task)
        .task("d4", task)
        .task("d5", task)
        .task("d6", task)
        .task("d7", task)
        .task("d8", task) // 25
        .task("e1", task)
        .task("e2", task)
        .task("sink", task) // 28
        .edge("src", "a1")
        .edge("src", "a2")
        .edge("src", "a3")
        .edge("src", "a4")
        .edge("src", "a5")
        .edge("src", "a6")
        .edge("a1", "route")
        .edge("a2", "route")
        .branch("route", "b0", 0)
        .branch("route", "b1", 1)
        .default_branch("route", "bd")
        .edge("b0", "c0")
        .edge("b1", "c1")
        .edge("bd", "cd")
        .edge("c0", "j")
        .edge("c1", "j")
        .edge("cd", "j")
        .edge("a3", "j")
        .edge("a4", "split")
        .edge("split", "sum")
        .edge("a5", "sum")
        .edge("a5", "d1")
        .edge("a5", "d2")
        .edge("a6", "d3")
        .edge("a6", "d4")
        .edge("d1", "d5")
        .edge("d3", "d5")
        .edge("d2", "d6")
        .edge("d4", "d6")
        .edge("d5", "d7")
        .edge("d6", "d7")
        .edge("d7", "d8")
        .edge("j", "d8")
        .edge("sum", "e1")
        .edge("d8", "e1")
        .edge("j", "e2")
        .edge("sum", "e2")
        .edge("e1", "sink")
        .edge("e2", "sink")
        .edge("a6", "sink")
        .build(),
);

// ---------------------------------------------------------------- sequential model

/// What a run of `input` must produce: each node's value (None = skipped) and the items.
struct Expected {
    values: Vec<Option<u64>>,
    items: Vec<u64>,
}

/// Evaluates the DAG in topological order, one node at a time: a node runs if it is a root
/// or any of its in-edges is live (its source ran and, for a condition, the edge is on the
/// chosen label, or the default when no edge carries the label).
fn model(input: u64) -> Expected {
    let view = DAG.view();
    let n = view.len();
    let mut values: Vec<Option<u64>> = vec![None; n];
    let mut items = Vec::new();
    let mut chosen: Vec<Option<u8>> = vec![None; n];
    for &v in view.topo {
        let v = v as usize;
        let info = view.nodes[v];
        if matches!(info.kind, NodeKind::Body { .. }) {
            continue;
        }
        let preds = view.predecessors(v as u32);
        let live = preds.is_empty()
            || preds.iter().any(|&p| {
                let Some(_) = values[p as usize] else {
                    return false;
                };
                let succ = view.successors(p);
                let edge = succ.iter().find(|s| s.to as usize == v).unwrap();
                match view.nodes[p as usize].kind {
                    NodeKind::Condition => {
                        let c = chosen[p as usize];
                        let has =
                            c.is_some_and(|c| succ.iter().any(|s| s.label() == EdgeLabel::When(c)));
                        if has {
                            edge.label() == EdgeLabel::When(c.unwrap())
                        } else {
                            edge.label() == EdgeLabel::Default
                        }
                    }
                    _ => true,
                }
            });
        if !live {
            continue;
        }
        let inputs: Vec<(usize, u64)> = preds
            .iter()
            .filter_map(|&p| values[p as usize].map(|x| (p as usize, x)))
            .collect();
        let base = f_task(input, v, &inputs);
        values[v] = Some(match info.name {
            "route" => {
                chosen[v] = Some(f_route_label(input));
                base
            }
            "split" => {
                items = (0..f_item_count(input))
                    .map(|k| f_body(f_item(base, k), k as usize))
                    .collect();
                base
            }
            "sum" => f_sum(base, &items),
            _ => base,
        });
    }
    Expected { values, items }
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
fn task_manager_high_throughput() {
    assert_eq!(DAG.len(), 29);
    assert_eq!(DAG.find("split").unwrap().index(), SPLIT);
    let tm: Box<TaskManager<'static, u64, u64, u32, NODES, 64, RUNS, 8, RING>> =
        Box::new(TaskManager::new(&DAG));
    let tm = &*tm;
    let stop = AtomicBool::new(false);
    let executed = AtomicUsize::new(0);
    let started = Instant::now();
    let mut max_in_flight = 0;
    std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        for _ in 0..WORKERS {
            s.spawn(|| {
                while !stop.load(Relaxed) {
                    let n = tm.step();
                    if n == 0 {
                        idle();
                    } else {
                        executed.fetch_add(n, Relaxed);
                    }
                }
            });
        }
        let mut next = 0u64;
        let mut finished = 0usize;
        let mut last = Instant::now();
        while finished < TOTAL {
            while (next as usize) < TOTAL && tm.submit(next).is_ok() {
                next += 1;
            }
            max_in_flight = max_in_flight.max(tm.active_runs());
            while let Some(done) = tm.poll() {
                let input = done.input();
                assert_eq!(done.outcome(), Ok(()), "run {input}");
                let want = model(input);
                for (v, w) in want.values.iter().enumerate() {
                    if matches!(DAG.view().nodes[v].kind, NodeKind::Body { .. }) {
                        continue;
                    }
                    assert_eq!(
                        done.value(NodeId::from_index(v)),
                        *w,
                        "run {input}, node {}",
                        DAG.view().nodes[v].name
                    );
                }
                assert_eq!(
                    done.items(NodeId::from_index(SPLIT)),
                    want.items.as_slice(),
                    "run {input}"
                );
                finished += 1;
                last = Instant::now();
            }
            assert!(
                last.elapsed() < Duration::from_secs(30),
                "stalled: {finished} of {TOTAL} finished, {} active, {:?}",
                tm.active_runs(),
                tm.counters()
            );
            idle();
        }
    });
    let elapsed = started.elapsed();
    // Exactly once: every node that the model runs executed once, every other never; each
    // item once.
    let stride = NODES + MAX_ITEMS as usize;
    let mut total_execs = 0;
    for run in 0..TOTAL {
        let want = model(run as u64);
        let e = &execs()[run * stride..(run + 1) * stride];
        for (v, w) in want.values.iter().enumerate() {
            if matches!(DAG.view().nodes[v].kind, NodeKind::Body { .. }) {
                continue;
            }
            let n = e[v].load(Relaxed);
            assert_eq!(
                n,
                u8::from(w.is_some()),
                "run {run}: node {v} ran {n} times"
            );
            total_execs += n as usize;
        }
        for i in 0..MAX_ITEMS as usize {
            let n = e[NODES + i].load(Relaxed);
            assert_eq!(n, u8::from(i < want.items.len()), "run {run}: item {i}");
            total_execs += n as usize;
        }
    }
    let c = tm.counters();
    assert_eq!(c.tasks_run, total_execs, "{c:?}");
    assert_eq!(c.runs_completed, TOTAL, "{c:?}");
    assert_eq!(c.runs_submitted, TOTAL, "{c:?}");
    assert!(c.runs_high_water <= RUNS, "{c:?}");
    assert!(max_in_flight > 1, "never more than one run in flight");
    eprintln!(
        "task_manager_high_throughput: {TOTAL} runs, {total_execs} node executions, \
         {} step results, {WORKERS} workers, in {elapsed:?} ({:.0} runs/s); {c:?}",
        executed.load(Relaxed),
        TOTAL as f64 / elapsed.as_secs_f64()
    );
}
