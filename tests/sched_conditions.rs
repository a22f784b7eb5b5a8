//! Conditions: each branch is taken on its label, the default otherwise (no `choose` call, or
//! a label no edge carries); nodes reachable only through branches not taken never start
//! (nor their exclusive descendants); joins after branches run and see only the live inputs.
//!
//! Single-threaded (every body runs on the test thread, which logs it in a thread-local), so
//! Miri runs the whole file.

use std::cell::RefCell;
use std::collections::BTreeSet;

use ringdag::dag::{DagBuilder, NodeId};
use ringdag::sched::{Context, TaskManager};

type Cx<'a> = Context<'a, u64, u64>;

/// Input meaning "the condition does not call `choose`".
const NO_CHOICE: u64 = u64::MAX;

thread_local! {
    /// (input, node) of every body start on this thread.
    static LOG: RefCell<Vec<(u64, u32)>> = const { RefCell::new(Vec::new()) };
}

fn log(cx: &Cx<'_>) {
    LOG.with(|l| l.borrow_mut().push((*cx.input(), cx.node().index() as u32)));
}

fn started(input: u64) -> BTreeSet<u32> {
    LOG.with(|l| {
        l.borrow()
            .iter()
            .filter(|(i, _)| *i == input)
            .map(|&(_, n)| n)
            .collect()
    })
}

fn start_count(input: u64) -> usize {
    LOG.with(|l| l.borrow().iter().filter(|(i, _)| *i == input).count())
}

/// Value: bit `p` set for every predecessor `p` whose value the node saw.
fn mask(cx: &mut Cx<'_>) -> Result<u64, ()> {
    log(cx);
    Ok(seen_mask(cx))
}

fn seen_mask(cx: &Cx<'_>) -> u64 {
    cx.inputs().fold(0, |m, (p, _)| m | 1 << p.index())
}

/// Chooses the low byte of the input (nothing for `NO_CHOICE`).
fn route(cx: &mut Cx<'_>) -> Result<u64, ()> {
    log(cx);
    let input = *cx.input();
    if input != NO_CHOICE {
        cx.choose(input as u8);
    }
    Ok(input)
}

/// Chooses the second byte of the input.
fn inner(cx: &mut Cx<'_>) -> Result<u64, ()> {
    log(cx);
    cx.choose((*cx.input() >> 8) as u8);
    Ok(0)
}

/// Reads the condition's value through `Context::value` (a branch target can).
fn reads_route(cx: &mut Cx<'_>) -> Result<u64, ()> {
    log(cx);
    let route = NodeId::from_index(0);
    assert_eq!(cx.value(route), Some(*cx.input()));
    Ok(seen_mask(cx))
}

type Tm<'d> = TaskManager<'d, u64, u64, (), 16, 32, 8, 0, 16>;
type Dag = ringdag::dag::Dag<u64, u64, (), 16, 32>;

fn branches_dag() -> Dag {
    DagBuilder::new()
        .condition("route", route)
        .task("one", reads_route)
        .task("two", mask)
        .task("two_b", mask)
        .task("other", mask)
        .task("one_tail", mask)
        .task("one_deep", mask)
        .task("dead_join", mask)
        .task("two_tail", mask)
        .task("other_tail", mask)
        .task("join", mask)
        .task("after", mask)
        .branch("route", "one", 1)
        .branch("route", "two", 2)
        .branch("route", "two_b", 2)
        .default_branch("route", "other")
        .edge("one", "one_tail")
        .edge("one_tail", "one_deep")
        .edge("one", "dead_join")
        .edge("one_tail", "dead_join")
        .edge("two", "two_tail")
        .edge("other", "other_tail")
        .edge("one_tail", "join")
        .edge("two_tail", "join")
        .edge("two_b", "join")
        .edge("other_tail", "join")
        .edge("join", "after")
        .build()
        .unwrap()
}

fn ids(dag: &Dag, names: &[&str]) -> BTreeSet<u32> {
    names
        .iter()
        .map(|n| dag.find(n).unwrap_or_else(|| panic!("{n}")).index() as u32)
        .collect()
}

fn bits(dag: &Dag, names: &[&str]) -> u64 {
    ids(dag, names).iter().fold(0, |m, &v| m | 1 << v)
}

/// Runs `input` alone to completion and checks which nodes started and ran, and what the
/// join saw.
fn check_branch(tm: &Tm<'_>, dag: &Dag, input: u64, live: &[&str], join_saw: &[&str]) {
    let id = tm.submit(input).unwrap();
    while tm.step() > 0 {}
    let done = tm.poll().expect("the run finished");
    assert_eq!(done.id(), id);
    assert_eq!(done.outcome(), Ok(()));
    let want = ids(dag, live);
    assert_eq!(started(input), want, "input {input}: started");
    assert_eq!(
        start_count(input),
        want.len(),
        "input {input}: a node ran twice"
    );
    for v in 0..dag.len() {
        let node = NodeId::from_index(v);
        assert_eq!(
            done.ran(node),
            want.contains(&(v as u32)),
            "input {input}: ran({})",
            dag.view().nodes[v].name
        );
        assert_eq!(done.value(node).is_some(), done.ran(node));
    }
    let join = dag.find("join").unwrap();
    assert_eq!(done.value(join), Some(bits(dag, join_saw)), "input {input}");
    assert_eq!(
        done.value(dag.find("after").unwrap()),
        Some(bits(dag, &["join"]))
    );
}

#[test]
fn branch_taken_on_its_label() {
    let dag = branches_dag();
    let tm = Box::new(Tm::new(&dag));
    check_branch(
        &tm,
        &dag,
        1,
        &[
            "route",
            "one",
            "one_tail",
            "one_deep",
            "dead_join",
            "join",
            "after",
        ],
        &["one_tail"],
    );
    // Label 2 is on two edges: both are taken.
    check_branch(
        &tm,
        &dag,
        2,
        &["route", "two", "two_b", "two_tail", "join", "after"],
        &["two_tail", "two_b"],
    );
}

#[test]
fn default_taken_for_a_label_without_edge() {
    let dag = branches_dag();
    let tm = Box::new(Tm::new(&dag));
    for input in [0, 3, 7, 255] {
        check_branch(
            &tm,
            &dag,
            input,
            &["route", "other", "other_tail", "join", "after"],
            &["other_tail"],
        );
    }
}

#[test]
fn default_taken_without_choose() {
    let dag = branches_dag();
    let tm = Box::new(Tm::new(&dag));
    check_branch(
        &tm,
        &dag,
        NO_CHOICE,
        &["route", "other", "other_tail", "join", "after"],
        &["other_tail"],
    );
}

#[test]
fn concurrent_runs_take_their_own_branches() {
    let dag = branches_dag();
    let tm = Box::new(Tm::new(&dag));
    // Distinct inputs (the log is keyed by input): low byte = label.
    let inputs = [0x101u64, 0x102, 0x107, 0x201, 0x202, 0x2ff];
    for &i in &inputs {
        tm.submit(i).unwrap();
    }
    let mut seen = Vec::new();
    loop {
        let n = tm.step();
        while let Some(done) = tm.poll() {
            assert_eq!(done.outcome(), Ok(()));
            seen.push(done.input());
            let label = done.input() as u8;
            let name = match label {
                1 => "one_tail",
                2 => "two_tail",
                _ => "other_tail",
            };
            assert_eq!(
                done.value(dag.find("join").unwrap()),
                Some(if label == 2 {
                    bits(&dag, &["two_tail", "two_b"])
                } else {
                    bits(&dag, &[name])
                })
            );
        }
        if n == 0 {
            break;
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, inputs);
}

fn nested_dag() -> Dag {
    DagBuilder::new()
        .condition("route", route)
        .condition("inner", inner)
        .task("plain", mask)
        .task("x", mask)
        .task("y", mask)
        .task("z", mask)
        .task("w", mask)
        .branch("route", "inner", 1)
        .default_branch("route", "plain")
        .branch("inner", "x", 1)
        .default_branch("inner", "y")
        .edge("x", "z")
        .edge("y", "z")
        .edge("plain", "w")
        .build()
        .unwrap()
}

#[test]
fn skipped_condition_skips_all_its_branches_including_default() {
    let dag = nested_dag();
    let tm = Box::new(Tm::new(&dag));
    type Case<'a> = (u64, &'a [&'a str], Option<&'a [&'a str]>);
    let cases: [Case<'_>; 3] = [
        (0x0101, &["route", "inner", "x", "z"], Some(&["x"])),
        (0x0501, &["route", "inner", "y", "z"], Some(&["y"])),
        (0x0100, &["route", "plain", "w"], None),
    ];
    for (input, live, z_saw) in cases {
        tm.submit(input).unwrap();
        while tm.step() > 0 {}
        let done = tm.poll().unwrap();
        assert_eq!(done.outcome(), Ok(()));
        assert_eq!(started(input), ids(&dag, live), "input {input:#x}");
        let z = dag.find("z").unwrap();
        assert_eq!(
            done.value(z),
            z_saw.map(|s| bits(&dag, s)),
            "input {input:#x}"
        );
    }
}

/// A plain `edge` out of a condition: either the builder rejects it, or it behaves as a
/// plain dependency (taken whenever the condition ran). What must not happen is that it is
/// accepted and then silently never taken.
#[test]
fn plain_edge_from_condition_is_not_silently_dead() {
    let built = DagBuilder::<u64, u64, (), 16, 32>::new()
        .condition("route", route)
        .task("then", mask)
        .task("other", mask)
        .task("always_after", mask)
        .branch("route", "then", 1)
        .default_branch("route", "other")
        .edge("route", "always_after")
        .build();
    let Ok(dag) = built else {
        return; // rejected at build time: fine
    };
    let tm = Box::new(Tm::new(&dag));
    let input = 0x7701;
    tm.submit(input).unwrap();
    while tm.step() > 0 {}
    let done = tm.poll().unwrap();
    assert_eq!(done.outcome(), Ok(()));
    assert!(
        done.ran(dag.find("always_after").unwrap()),
        "a plain edge out of a condition was accepted by build() but never taken"
    );
}
