//! Property test of the std runtime against a sequential model: random DAGs (up to 64 nodes,
//! random forward edges, some conditions with labelled and default branches) run on real
//! threads with 1, 2, 4 and 8 workers (8 oversubscribes the test machine), small and large
//! task rings, both priorities and several batch sizes. One worker with a large ring runs
//! serially (`Builder::workers`), with a small one by readiness counting, as more workers do.
//!
//! For every run, checked through per-run counters and stamps captured by the node closures:
//! every node that the model says runs executes exactly once, every other node never; a node
//! starts only after each predecessor that ran has returned; values, `ran` and the outcome
//! equal the sequential evaluation.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use core::time::Duration;
use std::sync::{Arc, LazyLock};

use proptest::prelude::*;
use ringdag::runtime::{Graph, GraphBuilder, IdleStrategy, NodeId, Priority, Runtime};

const MAX_NODES: usize = 64;
/// Runs submitted to each runtime (all in flight together).
const RUNS: usize = 24;
/// Bound for a run that must not hang.
const HANG: Duration = Duration::from_secs(20);
/// Labels a condition's `When` branches use; choices range over one more (so the default
/// branch is taken too).
const LABELS: u64 = 3;

static NAMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    (0..MAX_NODES)
        .map(|i| &*Box::leak(format!("n{i}").into_boxed_str()))
        .collect()
});

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    Always,
    When(u8),
    Default,
}

/// A random DAG: nodes in topological (index) order, edges only forward.
#[derive(Clone, Debug)]
struct Spec {
    cond: Vec<bool>,
    succ: Vec<Vec<(usize, Label)>>,
    pred: Vec<Vec<usize>>,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn mix(x: u64) -> u64 {
    let mut s = x;
    splitmix(&mut s)
}

impl Spec {
    fn random(n: usize, seed: u64, density_pct: u64) -> Self {
        let mut rng = seed;
        let mut cond = vec![false; n];
        let mut succ = vec![Vec::new(); n];
        let mut pred = vec![Vec::new(); n];
        for v in 0..n {
            cond[v] = v + 1 < n && splitmix(&mut rng).is_multiple_of(5);
            let mut targets: Vec<usize> = (v + 1..n)
                .filter(|_| splitmix(&mut rng) % 100 < density_pct)
                .collect();
            if cond[v] {
                if targets.is_empty() {
                    targets.push(v + 1 + (splitmix(&mut rng) as usize) % (n - v - 1));
                }
                targets.truncate(6);
                let default = (splitmix(&mut rng) as usize) % targets.len();
                for (k, &t) in targets.iter().enumerate() {
                    let label = if k == default {
                        Label::Default
                    } else {
                        Label::When((splitmix(&mut rng) % LABELS) as u8)
                    };
                    succ[v].push((t, label));
                }
            } else {
                succ[v] = targets.iter().map(|&t| (t, Label::Always)).collect();
            }
            for &(t, _) in &succ[v] {
                pred[t].push(v);
            }
        }
        Self { cond, succ, pred }
    }

    fn len(&self) -> usize {
        self.cond.len()
    }
}

/// A node's value: a function of the input, the node and the values of the predecessors
/// that ran (commutative, so their order does not matter).
fn node_value(input: u64, v: usize, preds: impl Iterator<Item = u64>) -> u64 {
    preds.fold(mix(input ^ ((v as u64) << 40)), |acc, x| {
        acc.wrapping_add(mix(x))
    })
}

fn choice(value: u64) -> u8 {
    (value % (LABELS + 1)) as u8
}

/// Sequential evaluation: the value of each node that runs, `None` for skipped ones.
fn model(spec: &Spec, input: u64) -> Vec<Option<u64>> {
    let n = spec.len();
    let mut val: Vec<Option<u64>> = vec![None; n];
    let mut live_in = vec![false; n];
    for v in 0..n {
        let live = spec.pred[v].is_empty() || live_in[v];
        if !live {
            continue;
        }
        let x = node_value(input, v, spec.pred[v].iter().filter_map(|&p| val[p]));
        val[v] = Some(x);
        let chosen = Label::When(choice(x));
        let has_match = spec.succ[v].iter().any(|&(_, l)| l == chosen);
        for &(t, label) in &spec.succ[v] {
            let taken = if !spec.cond[v] {
                true
            } else if has_match {
                label == chosen
            } else {
                label == Label::Default
            };
            live_in[t] |= taken;
        }
    }
    val
}

/// Per-run observations made by the node closures.
struct Probe {
    n: usize,
    clock: AtomicU64,
    count: Vec<AtomicU32>,
    start: Vec<AtomicU64>,
    end: Vec<AtomicU64>,
}

impl Probe {
    fn new(n: usize) -> Self {
        let cells = || (0..RUNS * n).map(|_| AtomicU64::new(0)).collect();
        Self {
            n,
            clock: AtomicU64::new(0),
            count: (0..RUNS * n).map(|_| AtomicU32::new(0)).collect(),
            start: cells(),
            end: cells(),
        }
    }
}

/// Inputs carry the run index in their low byte.
fn input_of(run: usize, salt: u64) -> u64 {
    salt << 8 | run as u64
}

fn build(spec: &Spec, probe: &Arc<Probe>) -> Graph<u64, u64, ()> {
    let mut b = GraphBuilder::<u64, u64, ()>::new();
    for v in 0..spec.len() {
        let probe = Arc::clone(probe);
        let body = move |cx: &mut ringdag::runtime::Context<'_, u64, u64>| {
            let run = (*cx.input() & 0xff) as usize;
            let k = run * probe.n + v;
            probe.start[k].store(probe.clock.fetch_add(1, SeqCst) + 1, SeqCst);
            probe.count[k].fetch_add(1, SeqCst);
            let x = node_value(*cx.input(), v, cx.inputs().map(|(_, x)| x));
            cx.choose(choice(x));
            probe.end[k].store(probe.clock.fetch_add(1, SeqCst) + 1, SeqCst);
            Ok(x)
        };
        let id = if spec.cond[v] {
            b.condition(NAMES[v], body)
        } else {
            b.task(NAMES[v], body)
        };
        assert_eq!(id.index(), v);
    }
    for (v, succ) in spec.succ.iter().enumerate() {
        for &(t, label) in succ {
            let (from, to) = (NodeId::from_index(v), NodeId::from_index(t));
            match label {
                Label::Always => b.edge(from, to),
                Label::When(l) => b.branch(from, to, l),
                Label::Default => b.default_branch(from, to),
            };
        }
    }
    b.build().expect("generated DAG is valid")
}

struct Config {
    workers: usize,
    batch: usize,
    small_ring: bool,
    park: bool,
}

fn check(spec: &Spec, salt: u64, cfg: &Config) -> Result<(), TestCaseError> {
    let n = spec.len();
    let probe = Arc::new(Probe::new(n));
    let mut builder = Runtime::builder()
        .workers(cfg.workers)
        .batch_size(cfg.batch)
        .idle_strategy(if cfg.park {
            IdleStrategy::Park
        } else {
            IdleStrategy::default()
        });
    if cfg.small_ring {
        builder = builder.ring_capacity(64);
    }
    let rt = builder.build(build(spec, &probe)).unwrap();
    // Room in the ring for every run's turn: runs start serially (tasks and conditions only
    // here), on any number of workers; both modes are checked against the model.
    prop_assert_eq!(rt.runs_serially(), !cfg.small_ring);
    let verdict = run_and_verify(&rt, spec, salt, &probe);
    if verdict.is_err() {
        // A run that never ends (an entry lost by a bug) would hang the runtime's drop, which
        // waits for its runs: leak it, so that the case fails (and shrinks) instead. Paused,
        // its workers park and leave the cores to the next tries.
        rt.pause();
        std::mem::forget(rt);
    }
    verdict
}

/// Submits `RUNS` runs (every third of low priority) and checks each against the model.
fn run_and_verify(
    rt: &Runtime<u64, u64, ()>,
    spec: &Spec,
    salt: u64,
    probe: &Probe,
) -> Result<(), TestCaseError> {
    let n = spec.len();
    let handles: Vec<_> = (0..RUNS)
        .map(|r| {
            let priority = if r % 3 == 1 {
                Priority::Low
            } else {
                Priority::High
            };
            let mut input = input_of(r, salt);
            loop {
                match rt.submit_with(input, priority, None) {
                    Ok(h) => break h,
                    Err(ringdag::runtime::SubmitError::Busy(i)) => {
                        input = i;
                        std::thread::yield_now();
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
        })
        .collect();
    for (r, h) in handles.into_iter().enumerate() {
        let res = h
            .wait_timeout(HANG)
            .map_err(|_| TestCaseError::fail(format!("run {r} hung")))?;
        let expected = model(spec, input_of(r, salt));
        prop_assert_eq!(res.outcome(), Ok(()), "run {}", r);
        for v in 0..n {
            let node = NodeId::from_index(v);
            let k = r * n + v;
            prop_assert_eq!(res.value(node), expected[v], "run {} node {}", r, v);
            prop_assert_eq!(res.ran(node), expected[v].is_some(), "run {} node {}", r, v);
            let runs = probe.count[k].load(SeqCst);
            prop_assert_eq!(
                runs,
                u32::from(expected[v].is_some()),
                "run {} node {} executed {} times",
                r,
                v,
                runs
            );
            if expected[v].is_some() {
                for &p in &spec.pred[v] {
                    if expected[p].is_some() {
                        let (p_end, v_start) = (
                            probe.end[r * n + p].load(SeqCst),
                            probe.start[k].load(SeqCst),
                        );
                        prop_assert!(
                            p_end < v_start,
                            "run {} node {} started (stamp {}) before predecessor {} returned \
                             (stamp {})",
                            r,
                            v,
                            v_start,
                            p,
                            p_end
                        );
                    }
                }
            }
        }
    }
    let m = rt.metrics();
    prop_assert_eq!(m.active_runs, 0);
    prop_assert_eq!(m.counters.runs_completed, RUNS);
    Ok(())
}

proptest! {
    // Shrinking is bounded in time: a case that hangs costs `HANG` per try.
    #![proptest_config(ProptestConfig {
        cases: 256,
        max_shrink_time: 60_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_dags_on_1_2_4_8_workers_match_the_sequential_model(
        n in 1..=MAX_NODES,
        seed in any::<u64>(),
        density_pct in 0u64..40,
        salt in any::<u32>(),
        batch in 1usize..=32,
        small_ring in any::<bool>(),
        park in any::<bool>(),
    ) {
        let spec = Spec::random(n, seed, density_pct);
        for workers in [1, 2, 4, 8] {
            check(&spec, u64::from(salt), &Config { workers, batch, small_ring, park })?;
        }
    }
}

#[test]
fn model_sanity_conditions_skip_branches() {
    // cond(0) -> {1: When(0), 2: Default}; 1 -> 3; 2 -> 3. Exactly one of 1, 2 runs; 3 joins.
    let spec = Spec {
        cond: vec![true, false, false, false],
        succ: vec![
            vec![(1, Label::When(0)), (2, Label::Default)],
            vec![(3, Label::Always)],
            vec![(3, Label::Always)],
            vec![],
        ],
        pred: vec![vec![], vec![0], vec![0], vec![1, 2]],
    };
    let mut seen = [false; 2];
    for input in 0..64 {
        let m = model(&spec, input);
        assert!(m[0].is_some() && m[3].is_some());
        assert!(m[1].is_some() != m[2].is_some());
        seen[usize::from(m[2].is_some())] = true;
        let probe = Arc::new(Probe::new(4));
        let rt = Runtime::builder()
            .workers(2)
            .build(build(&spec, &probe))
            .unwrap();
        let r = rt.submit(input_of(0, input)).unwrap().wait();
        let m = model(&spec, input_of(0, input));
        for (v, want) in m.iter().enumerate() {
            assert_eq!(r.value(NodeId::from_index(v)), *want);
        }
    }
    assert_eq!(seen, [true, true], "both branches exercised");
}
