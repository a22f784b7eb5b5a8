//! DAG validation: every `DagError` the builder documents, with the node it names; DOT
//! output; a `static` DAG built with `Dag::new_or_panic` and run by a `static` manager.
//!
//! All single-threaded and small: Miri runs the whole file.

use proptest::prelude::*;
use ringdag::dag::{write_dot, Dag, DagBuilder, DagError, RetryPolicy};
use ringdag::sched::{Context, TaskManager};

type Cx<'a> = Context<'a, u32, u32>;

fn one(_: &mut Cx<'_>) -> Result<u32, ()> {
    Ok(1)
}

fn sum_plus_input(cx: &mut Cx<'_>) -> Result<u32, ()> {
    Ok(*cx.input() + cx.inputs().map(|(_, v)| v).sum::<u32>())
}

fn split(cx: &mut Cx<'_>) -> Result<u32, ()> {
    for i in 0..*cx.input() {
        cx.emit(i).map_err(|_| ())?;
    }
    Ok(0)
}

fn square(cx: &mut Cx<'_>) -> Result<u32, ()> {
    let (_, item) = cx.item().ok_or(())?;
    Ok(item * item)
}

fn pick_one(cx: &mut Cx<'_>) -> Result<u32, ()> {
    cx.choose(1);
    Ok(0)
}

type B<const N: usize, const M: usize> = DagBuilder<u32, u32, (), N, M>;

#[test]
fn unknown_node_in_edge_is_named() {
    let err = B::<4, 4>::new()
        .task("a", one)
        .edge("a", "nope")
        .build()
        .unwrap_err();
    assert_eq!(err, DagError::UnknownNode { name: "nope" });
    let err = B::<4, 4>::new()
        .task("a", one)
        .edge("ghost", "a")
        .build()
        .unwrap_err();
    assert_eq!(err, DagError::UnknownNode { name: "ghost" });
}

#[test]
fn unknown_node_in_retry_timeout_and_body() {
    let p = RetryPolicy {
        attempts: 2,
        backoff_ticks: 0,
    };
    assert_eq!(
        B::<4, 4>::new()
            .task("a", one)
            .retry("b", p)
            .build()
            .unwrap_err(),
        DagError::UnknownNode { name: "b" }
    );
    assert_eq!(
        B::<4, 4>::new()
            .task("a", one)
            .timeout("c", 3)
            .build()
            .unwrap_err(),
        DagError::UnknownNode { name: "c" }
    );
    assert_eq!(
        B::<4, 4>::new()
            .body("it", "sq", square)
            .build()
            .unwrap_err(),
        DagError::UnknownNode { name: "it" }
    );
}

#[test]
fn duplicate_edge_is_rejected() {
    let err = B::<4, 4>::new()
        .task("a", one)
        .task("b", one)
        .edge("a", "b")
        .edge("a", "b")
        .build()
        .unwrap_err();
    assert_eq!(err, DagError::DuplicateEdge { from: "a", to: "b" });
    // A branch and the default branch to the same node are the same edge too.
    let err = B::<4, 4>::new()
        .condition("c", pick_one)
        .task("x", one)
        .branch("c", "x", 1)
        .default_branch("c", "x")
        .build()
        .unwrap_err();
    assert_eq!(err, DagError::DuplicateEdge { from: "c", to: "x" });
}

#[test]
fn self_loop_is_rejected() {
    let err = B::<4, 4>::new()
        .task("a", one)
        .task("b", one)
        .edge("a", "b")
        .edge("b", "b")
        .build()
        .unwrap_err();
    assert_eq!(err, DagError::SelfLoop { node: "b" });
}

#[test]
fn cycle_names_a_node_on_the_cycle() {
    // "w" (declared first) and "x" are not on the cycle y -> z -> y; "w" hangs off it.
    let err = B::<4, 4>::new()
        .task("w", one)
        .task("x", one)
        .task("y", one)
        .task("z", one)
        .edge("x", "y")
        .edge("y", "z")
        .edge("z", "y")
        .edge("z", "w")
        .build()
        .unwrap_err();
    match err {
        DagError::Cycle { node } => assert!(node == "y" || node == "z", "named {node}"),
        other => panic!("expected a cycle, got {other:?}"),
    }
}

#[test]
fn capacity_exceeded_nodes_and_edges() {
    let err = B::<2, 4>::new()
        .task("a", one)
        .task("b", one)
        .task("c", one)
        .build()
        .unwrap_err();
    assert_eq!(err, DagError::TooManyNodes { capacity: 2 });
    let err = B::<3, 1>::new()
        .task("a", one)
        .task("b", one)
        .task("c", one)
        .edge("a", "b")
        .edge("b", "c")
        .build()
        .unwrap_err();
    assert_eq!(err, DagError::TooManyEdges { capacity: 1 });
    // Exactly at capacity is fine.
    let dag = B::<3, 2>::new()
        .task("a", one)
        .task("b", one)
        .task("c", one)
        .edge("a", "b")
        .edge("b", "c")
        .build()
        .unwrap();
    assert_eq!((dag.len(), dag.edge_count()), (3, 2));
}

#[test]
fn condition_needs_exactly_one_default() {
    let err = B::<4, 4>::new()
        .condition("c", pick_one)
        .task("x", one)
        .branch("c", "x", 1)
        .build()
        .unwrap_err();
    assert_eq!(err, DagError::MissingDefault { node: "c" });
    let err = B::<4, 4>::new()
        .condition("c", pick_one)
        .task("x", one)
        .task("y", one)
        .default_branch("c", "x")
        .default_branch("c", "y")
        .build()
        .unwrap_err();
    assert_eq!(err, DagError::MissingDefault { node: "c" });
}

#[test]
fn branch_outside_condition_is_rejected() {
    let err = B::<4, 4>::new()
        .task("t", one)
        .task("x", one)
        .branch("t", "x", 1)
        .build()
        .unwrap_err();
    assert_eq!(err, DagError::BranchOutsideCondition { node: "t" });
}

#[test]
fn iterator_without_body_is_rejected() {
    let err = B::<4, 4>::new()
        .iterator("it", split, 4)
        .build()
        .unwrap_err();
    assert_eq!(err, DagError::MissingBody { node: "it" });
    // A second body.
    let err = B::<4, 4>::new()
        .iterator("it", split, 4)
        .body("it", "sq", square)
        .body("it", "sq2", square)
        .build()
        .unwrap_err();
    assert_eq!(err, DagError::MissingBody { node: "it" });
    // A body for a task.
    let err = B::<4, 4>::new()
        .task("t", one)
        .body("t", "sq", square)
        .build()
        .unwrap_err();
    assert_eq!(err, DagError::MissingBody { node: "t" });
}

#[test]
fn body_with_edges_is_rejected() {
    let err = B::<4, 4>::new()
        .iterator("it", split, 4)
        .body("it", "sq", square)
        .task("t", one)
        .edge("sq", "t")
        .build()
        .unwrap_err();
    assert_eq!(err, DagError::BodyWithEdges { node: "sq" });
    let err = B::<4, 4>::new()
        .iterator("it", split, 4)
        .body("it", "sq", square)
        .task("t", one)
        .edge("t", "sq")
        .build()
        .unwrap_err();
    assert_eq!(err, DagError::BodyWithEdges { node: "sq" });
}

#[test]
fn duplicate_node_name_is_rejected() {
    let err = B::<4, 4>::new()
        .task("a", one)
        .condition("a", pick_one)
        .build()
        .unwrap_err();
    assert_eq!(err, DagError::DuplicateNode { name: "a" });
}

#[test]
fn bad_retry_policy_is_rejected() {
    for attempts in [0, RetryPolicy::MAX_ATTEMPTS + 1] {
        let err = B::<4, 4>::new()
            .task("a", one)
            .retry(
                "a",
                RetryPolicy {
                    attempts,
                    backoff_ticks: 0,
                },
            )
            .build()
            .unwrap_err();
        assert_eq!(
            err,
            DagError::BadRetryPolicy { node: "a" },
            "attempts {attempts}"
        );
    }
}

#[test]
fn first_error_wins() {
    let err = B::<2, 1>::new()
        .task("a", one)
        .task("a", one)
        .task("b", one)
        .task("c", one)
        .edge("x", "y")
        .build()
        .unwrap_err();
    assert_eq!(err, DagError::DuplicateNode { name: "a" });
}

#[test]
fn errors_have_messages_and_display() {
    let errs = [
        DagError::TooManyNodes { capacity: 2 },
        DagError::Cycle { node: "q" },
        DagError::MissingDefault { node: "c" },
    ];
    for e in errs {
        assert!(e.message().starts_with("DAG: "));
        assert!(!e.to_string().is_empty());
    }
    assert!(DagError::Cycle { node: "q" }.to_string().contains('q'));
}

#[test]
fn dot_output_has_kinds_and_branch_labels() {
    let dag = B::<8, 8>::new()
        .task("start", one)
        .condition("check", pick_one)
        .task("yes", one)
        .task("no", one)
        .iterator("fan", split, 3)
        .body("fan", "each", square)
        .edge("start", "check")
        .branch("check", "yes", 1)
        .default_branch("check", "no")
        .edge("yes", "fan")
        .build()
        .unwrap();
    let mut dot = String::new();
    write_dot(&dag.view(), &mut dot).unwrap();
    assert!(dot.starts_with("digraph"), "{dot}");
    assert!(dot.trim_end().ends_with('}'), "{dot}");
    assert!(dot.contains("\"start\" [shape=box"), "{dot}");
    assert!(dot.contains("\"check\" [shape=diamond"), "{dot}");
    assert!(dot.contains("\"fan\" [shape=box3d"), "{dot}");
    assert!(dot.contains("max 3"), "{dot}");
    assert!(dot.contains("\"each\" [shape=ellipse"), "{dot}");
    assert!(dot.contains("\"check\" -> \"yes\" [label=\"1\"]"), "{dot}");
    assert!(
        dot.contains("\"check\" -> \"no\" [label=\"default\""),
        "{dot}"
    );
    assert!(dot.contains("\"fan\" -> \"each\" [style=dashed"), "{dot}");
    assert!(dot.contains("\"start\" -> \"check\";"), "{dot}");
    // Every declared edge appears once (plus the per-item edge).
    assert_eq!(dot.matches(" -> ").count(), dag.edge_count() + 1, "{dot}");
}

/// The quoted strings of one DOT line, read as Graphviz's scanner reads them (`\"` is a
/// quote inside the string, any other backslash is kept); `None` if a string is unterminated.
fn dot_strings(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut s = String::new();
        loop {
            match chars.next()? {
                '"' => break,
                '\\' if chars.peek() == Some(&'"') => s.push(chars.next()?),
                c => s.push(c),
            }
        }
        out.push(s);
    }
    Some(out)
}

#[test]
fn dot_quotes_names_with_quotes_and_backslashes() {
    const QUOTED: &str = "say \"hi\"";
    const TRAILING: &str = "ends with \\";
    let dag = B::<2, 1>::new()
        .task(QUOTED, one)
        .task(TRAILING, one)
        .edge(QUOTED, TRAILING)
        .build()
        .unwrap();
    let mut dot = String::new();
    write_dot(&dag.view(), &mut dot).unwrap();
    let edge = dot.lines().find(|l| l.contains(" -> ")).expect("the edge");
    let ids = dot_strings(edge).unwrap_or_else(|| panic!("unterminated string in {edge}"));
    // Two node ids, read back as the names with `\` doubled (the default label shows `\\`
    // as one backslash) and a space after a trailing backslash.
    assert_eq!(ids, ["say \"hi\"", "ends with \\\\ "], "{dot}");
    for line in dot.lines() {
        assert!(dot_strings(line).is_some(), "unterminated string in {line}");
    }
}

static STATIC_DAG: Dag<u32, u32, (), 8, 8> = Dag::new_or_panic(
    DagBuilder::new()
        .task("a", sum_plus_input)
        .task("b", sum_plus_input)
        .task("c", sum_plus_input)
        .task("d", sum_plus_input)
        .iterator("it", split, 4)
        .body("it", "sq", square)
        .edge("a", "b")
        .edge("a", "c")
        .edge("b", "d")
        .edge("c", "d")
        .edge("d", "it")
        .build(),
);
static STATIC_TM: TaskManager<u32, u32, (), 8, 8, 2, 4, 8> = TaskManager::new(&STATIC_DAG);

#[test]
fn static_dag_built_with_new_or_panic_runs() {
    assert_eq!(STATIC_DAG.len(), 6);
    assert_eq!(STATIC_DAG.edge_count(), 5);
    assert_eq!(STATIC_DAG.item_slots(), 4);
    let find = |n| STATIC_DAG.find(n).unwrap();
    assert_eq!(STATIC_DAG.find("missing"), None);
    for input in [0u32, 1, 3] {
        let id = STATIC_TM.submit(input).unwrap();
        while STATIC_TM.step() > 0 {}
        let done = STATIC_TM.poll().expect("finished");
        assert_eq!(done.id(), id);
        assert_eq!(done.outcome(), Ok(()));
        assert_eq!(done.input(), input);
        // a = x, b = c = 2x, d = x + 4x = 5x.
        assert_eq!(done.value(find("a")), Some(input));
        assert_eq!(done.value(find("b")), Some(2 * input));
        assert_eq!(done.value(find("c")), Some(2 * input));
        assert_eq!(done.value(find("d")), Some(5 * input));
        let want: Vec<u32> = (0..input).map(|i| i * i).collect();
        assert_eq!(done.items(find("it")), want.as_slice());
    }
    assert!(STATIC_TM.poll().is_none());
}

/// Whether `to` is reachable from `from` over `edges` (one step at least).
fn reaches(n: usize, edges: &[(usize, usize)], from: usize, to: usize) -> bool {
    let mut seen = vec![false; n];
    let mut stack = vec![from];
    while let Some(v) = stack.pop() {
        for &(a, b) in edges {
            if a == v && !seen[b] {
                if b == to {
                    return true;
                }
                seen[b] = true;
                stack.push(b);
            }
        }
    }
    false
}

const NAMES: [&str; 12] = [
    "n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10", "n11",
];

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 2 } else { 256 },
        // No regression files: keeps Miri's isolation happy and the tree clean.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random forward edges plus back edges: a graph with a back edge that closes a path is
    /// a `Cycle` naming a node that reaches itself; an acyclic one builds.
    #[test]
    fn cycle_error_names_a_node_on_a_cycle(
        n in 2usize..12,
        fwd in proptest::collection::vec((0usize..12, 0usize..12), 0..30),
        back in proptest::collection::vec((0usize..12, 0usize..12), 0..3),
    ) {
        let mut edges: Vec<(usize, usize)> = Vec::new();
        for (a, b) in fwd.into_iter().chain(back.into_iter().map(|(a, b)| (b, a))) {
            let (a, b) = (a % n, b % n);
            if a != b && !edges.contains(&(a, b)) {
                edges.push((a, b));
            }
        }
        let mut builder = B::<12, 40>::new();
        for name in &NAMES[..n] {
            builder = builder.task(name, one);
        }
        for &(a, b) in &edges {
            builder = builder.edge(NAMES[a], NAMES[b]);
        }
        let cyclic = (0..n).any(|v| reaches(n, &edges, v, v));
        match builder.build() {
            Ok(dag) => {
                prop_assert!(!cyclic, "cyclic graph accepted: {edges:?}");
                // The topological order respects every edge.
                let view = dag.view();
                let pos: Vec<usize> = (0..n)
                    .map(|v| view.topo.iter().position(|&t| t as usize == v).unwrap())
                    .collect();
                for &(a, b) in &edges {
                    prop_assert!(pos[a] < pos[b]);
                }
            }
            Err(DagError::Cycle { node }) => {
                prop_assert!(cyclic);
                let v = NAMES.iter().position(|&x| x == node).unwrap();
                prop_assert!(reaches(n, &edges, v, v), "{node} is not on a cycle: {edges:?}");
            }
            Err(e) => prop_assert!(false, "unexpected {e:?}"),
        }
    }
}

#[test]
fn sole_edges_are_marked_for_targets_with_one_predecessor() {
    // a -> b, a -> c, b -> d, c -> d, d -> e: b, c and e have one predecessor; d has two.
    let dag = B::<8, 8>::new()
        .task("a", one)
        .task("b", one)
        .task("c", one)
        .task("d", one)
        .task("e", one)
        .edge("a", "b")
        .edge("a", "c")
        .edge("b", "d")
        .edge("c", "d")
        .edge("d", "e")
        .build()
        .unwrap();
    let view = dag.view();
    let mut marked = Vec::new();
    for v in 0..5u32 {
        for s in view.successors(v) {
            marked.push((v, s.to, s.is_sole()));
        }
    }
    assert_eq!(
        marked,
        [
            (0, 1, true),
            (0, 2, true),
            (1, 3, false),
            (2, 3, false),
            (3, 4, true)
        ]
    );
}
