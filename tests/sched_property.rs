//! Property tests against a sequential model: random DAGs (up to 64 nodes, random forward
//! edges, a few conditions with random branch labels), run (a) by several worker threads
//! and (b) by seeded single-thread schedules (random interleavings of submit / step / poll).
//!
//! For every run: every node the model runs executed exactly once and every other node
//! never; each one started only after all of its predecessors that ran had finished (global
//! execution stamps); and every node value (a hash of the run, the node and the values it
//! saw) equals the model's.
//!
//! Under Miri: 2 cases of each, small DAGs.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use ringdag::dag::{Dag, DagBuilder, NodeId};
use ringdag::sched::{Context, TaskManager};

const MAX_NODES: usize = 64;
const MAX_EDGES: usize = 256;
/// Runs per case.
const RUNS_PER_CASE: u32 = if cfg!(miri) { 3 } else { 24 };

fn mix(a: u64, b: u64) -> u64 {
    let mut x = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    x
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0, 0x1234_5678)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    Always,
    When(u8),
    Default,
}

/// A random DAG: node kinds and labelled edges `(from, to, label)` with `from < to`.
#[derive(Debug)]
struct Spec {
    n: usize,
    condition: Vec<bool>,
    edges: Vec<(usize, usize, Label)>,
    salt: u64,
}

impl Spec {
    fn random(n: usize, max_preds: u64, conditions: usize, seed: u64) -> Self {
        let mut rng = Rng(seed);
        let mut edges = Vec::new();
        for j in 1..n {
            let k = rng.below(max_preds + 1).min(j as u64);
            let mut preds: Vec<usize> = Vec::new();
            while (preds.len() as u64) < k {
                let i = rng.below(j as u64) as usize;
                if !preds.contains(&i) {
                    preds.push(i);
                }
            }
            edges.extend(preds.into_iter().map(|i| (i, j, Label::Always)));
        }
        let mut condition = vec![false; n];
        for _ in 0..conditions {
            let c = rng.below(n as u64) as usize;
            if edges.iter().any(|e| e.0 == c) {
                condition[c] = true;
            }
        }
        let mut has_default = vec![false; n];
        for e in &mut edges {
            if condition[e.0] {
                e.2 = if !has_default[e.0] {
                    has_default[e.0] = true;
                    Label::Default
                } else {
                    Label::When(rng.below(3) as u8)
                };
            }
        }
        Spec {
            n,
            condition,
            edges,
            salt: rng.next(),
        }
    }

    fn preds(&self, v: usize) -> Vec<usize> {
        let mut p: Vec<usize> = self
            .edges
            .iter()
            .filter(|e| e.1 == v)
            .map(|e| e.0)
            .collect();
        p.sort_unstable();
        p
    }
}

/// The label a condition chooses in `run`: 0..=2 (maybe on an edge), 3 (on none), or no
/// call at all (4).
fn choice(salt: u64, run: u32, v: usize) -> Option<u8> {
    match mix(salt ^ 0x00C0_FFEE, mix(run as u64, v as u64)) % 5 {
        4 => None,
        l => Some(l as u8),
    }
}

fn value(salt: u64, run: u32, v: usize, inputs: &[(usize, u64)]) -> u64 {
    inputs
        .iter()
        .fold(mix(salt, mix(run as u64, v as u64)), |h, &(p, x)| {
            mix(h, mix(p as u64, x))
        })
}

/// Sequential model: the value of each node in `run` (None = skipped).
fn model(spec: &Spec, run: u32) -> Vec<Option<u64>> {
    let mut val: Vec<Option<u64>> = vec![None; spec.n];
    for v in 0..spec.n {
        let in_edges: Vec<&(usize, usize, Label)> =
            spec.edges.iter().filter(|e| e.1 == v).collect();
        let live = in_edges.is_empty()
            || in_edges.iter().any(|&&(p, _, label)| {
                if val[p].is_none() {
                    return false;
                }
                if !spec.condition[p] {
                    return true;
                }
                let c = choice(spec.salt, run, p);
                let has =
                    c.is_some_and(|c| spec.edges.iter().any(|e| e.0 == p && e.2 == Label::When(c)));
                if has {
                    label == Label::When(c.unwrap())
                } else {
                    label == Label::Default
                }
            });
        if live {
            let inputs: Vec<(usize, u64)> = spec
                .preds(v)
                .into_iter()
                .filter_map(|p| val[p].map(|x| (p, x)))
                .collect();
            val[v] = Some(value(spec.salt, run, v, &inputs));
        }
    }
    val
}

/// Shared state of one case, reached by the bodies through the run's input.
struct Case {
    spec: Spec,
    preds: Vec<Vec<usize>>,
    /// Global execution stamp.
    seq: AtomicU64,
    /// Per (run, node): executions, start stamp, end stamp.
    count: Vec<AtomicU32>,
    start: Vec<AtomicU64>,
    end: Vec<AtomicU64>,
}

#[derive(Clone, Copy)]
struct In<'c> {
    run: u32,
    case: &'c Case,
}

type Cx<'a, 'c> = Context<'a, In<'c>, u64>;

fn body(cx: &mut Cx<'_, '_>) -> Result<u64, ()> {
    let In { run, case } = *cx.input();
    let v = cx.node().index();
    let i = run as usize * case.spec.n + v;
    case.count[i].fetch_add(1, SeqCst);
    case.start[i].store(case.seq.fetch_add(1, SeqCst) + 1, SeqCst);
    let inputs: Vec<(usize, u64)> = cx.inputs().map(|(p, x)| (p.index(), x)).collect();
    if case.spec.condition[v] {
        if let Some(l) = choice(case.spec.salt, run, v) {
            cx.choose(l);
        }
    }
    let out = value(case.spec.salt, run, v, &inputs);
    case.end[i].store(case.seq.fetch_add(1, SeqCst) + 1, SeqCst);
    Ok(out)
}

fn names() -> &'static [&'static str] {
    static N: OnceLock<Vec<&'static str>> = OnceLock::new();
    N.get_or_init(|| {
        (0..MAX_NODES)
            .map(|i| &*Box::leak(format!("n{i}").into_boxed_str()))
            .collect()
    })
}

fn build<'c>(spec: &Spec) -> Dag<In<'c>, u64, (), MAX_NODES, MAX_EDGES> {
    let names = names();
    let mut b = DagBuilder::<In<'c>, u64, (), MAX_NODES, MAX_EDGES>::new();
    for (&name, &condition) in names.iter().zip(&spec.condition) {
        b = if condition {
            b.condition(name, body)
        } else {
            b.task(name, body)
        };
    }
    for &(from, to, label) in &spec.edges {
        b = match label {
            Label::Always => b.edge(names[from], names[to]),
            Label::When(l) => b.branch(names[from], names[to], l),
            Label::Default => b.default_branch(names[from], names[to]),
        };
    }
    b.build().expect("a valid random DAG")
}

fn new_case(spec: Spec) -> Case {
    let cells = RUNS_PER_CASE as usize * spec.n;
    let preds = (0..spec.n).map(|v| spec.preds(v)).collect();
    Case {
        spec,
        preds,
        seq: AtomicU64::new(0),
        count: (0..cells).map(|_| AtomicU32::new(0)).collect(),
        start: (0..cells).map(|_| AtomicU64::new(0)).collect(),
        end: (0..cells).map(|_| AtomicU64::new(0)).collect(),
    }
}

type Tm<'d, 'c> = TaskManager<'d, In<'c>, u64, (), MAX_NODES, MAX_EDGES, 8, 0, 64>;

/// Checks one finished run against the model.
fn check_result(case: &Case, done: &ringdag::sched::Finished<'_, In<'_>, u64, ()>) {
    let run = done.input().run;
    assert_eq!(done.outcome(), Ok(()), "run {run}");
    let want = model(&case.spec, run);
    for (v, w) in want.iter().enumerate() {
        assert_eq!(
            done.value(NodeId::from_index(v)),
            *w,
            "run {run}, node {v}: {:?}",
            case.spec
        );
    }
}

/// After all runs: exactly-once and predecessor order, from the bodies' records.
fn check_records(case: &Case) {
    let n = case.spec.n;
    for run in 0..RUNS_PER_CASE {
        let want = model(&case.spec, run);
        let base = run as usize * n;
        for (v, w) in want.iter().enumerate() {
            let count = case.count[base + v].load(SeqCst);
            assert_eq!(
                count,
                u32::from(w.is_some()),
                "run {run}: node {v} executed {count} times; {:?}",
                case.spec
            );
            if count == 0 {
                continue;
            }
            let start = case.start[base + v].load(SeqCst);
            for &p in &case.preds[v] {
                if case.count[base + p].load(SeqCst) == 0 {
                    continue;
                }
                let end = case.end[base + p].load(SeqCst);
                assert!(
                    end != 0 && end < start,
                    "run {run}: node {v} started (stamp {start}) before predecessor {p} \
                     finished (stamp {end})"
                );
            }
        }
    }
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    let max_n = if cfg!(miri) { 10 } else { MAX_NODES };
    (2..=max_n, 0u64..=4, 0usize..=4, any::<u64>())
        .prop_map(|(n, max_preds, conds, seed)| Spec::random(n, max_preds, conds, seed))
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

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 2 } else { 256 },
        // No regression files: keeps Miri's isolation happy and the tree clean.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// (b) Seeded single-thread schedules: submit / step / poll in a random order.
    #[test]
    fn random_dags_single_thread_schedules_match_model(
        spec in spec_strategy(),
        schedule_seed in any::<u64>(),
    ) {
        let case = &new_case(spec);
        let dag = build(&case.spec);
        let tm = Box::new(Tm::new(&dag));
        let mut rng = Rng(schedule_seed);
        let mut next = 0u32;
        let mut finished = vec![false; RUNS_PER_CASE as usize];
        let mut left = RUNS_PER_CASE;
        let mut idle = 0;
        while left > 0 {
            match rng.below(4) {
                0 => {
                    if next < RUNS_PER_CASE && tm.submit(In { run: next, case }).is_ok() {
                        next += 1;
                    }
                }
                1 | 2 => {
                    if tm.step() == 0 {
                        idle += 1;
                    } else {
                        idle = 0;
                    }
                }
                _ => {
                    if let Some(done) = tm.poll() {
                        check_result(case, &done);
                        let run = done.input().run as usize;
                        prop_assert!(!finished[run], "run {} delivered twice", run);
                        finished[run] = true;
                        left -= 1;
                    }
                }
            }
            prop_assert!(idle < 10_000, "no progress: {} left, {:?}", left, tm.counters());
        }
        prop_assert!(tm.poll().is_none());
        check_records(case);
        let c = tm.counters();
        let execs: usize = case.count.iter().map(|c| c.load(SeqCst) as usize).sum();
        prop_assert_eq!(c.tasks_run, execs);
    }

    /// (a) Several worker threads; the main thread submits and polls.
    #[test]
    fn random_dags_multi_thread_match_model(spec in spec_strategy()) {
        let case = &new_case(spec);
        let dag = build(&case.spec);
        let tm = Box::new(Tm::new(&dag));
        let tm = &*tm;
        let stop = AtomicBool::new(false);
        let mut seen = vec![false; RUNS_PER_CASE as usize];
        std::thread::scope(|s| {
            struct StopOnDrop<'a>(&'a AtomicBool);
            impl Drop for StopOnDrop<'_> {
                fn drop(&mut self) {
                    self.0.store(true, SeqCst);
                }
            }
            let _stop = StopOnDrop(&stop);
            for _ in 0..if cfg!(miri) { 2 } else { 3 } {
                s.spawn(|| {
                    while !stop.load(SeqCst) {
                        if tm.step() == 0 {
                            idle();
                        }
                    }
                });
            }
            let mut next = 0u32;
            let mut left = RUNS_PER_CASE;
            let mut last = Instant::now();
            while left > 0 {
                if next < RUNS_PER_CASE && tm.submit(In { run: next, case }).is_ok() {
                    next += 1;
                }
                while let Some(done) = tm.poll() {
                    check_result(case, &done);
                    let run = done.input().run as usize;
                    assert!(!seen[run], "run {run} delivered twice");
                    seen[run] = true;
                    left -= 1;
                    last = Instant::now();
                }
                assert!(
                    last.elapsed() < Duration::from_secs(20),
                    "stalled: {left} left, {:?}",
                    tm.counters()
                );
                idle();
            }
        });
        check_records(case);
    }
}
