//! The benchmark shape generator (`benches/shapes`) builds exactly the graphs of
//! `shared/BENCH-SHAPES.md`: FNV-1a fingerprints at full size (2^20 nodes), plus structure.

#[path = "../benches/shapes/mod.rs"]
mod shapes;

use shapes::Shape;

#[test]
fn full_size_fingerprints_match_bench_shapes() {
    for shape in Shape::ALL {
        let g = shape.build(20);
        assert_eq!(
            g.fingerprint(),
            shape.full_fingerprint(),
            "{}: fingerprint {:016x}",
            shape.name(),
            g.fingerprint()
        );
    }
}

#[test]
fn full_size_node_counts() {
    let n = |s: Shape| s.build(20).len();
    assert_eq!(n(Shape::LinearChain), 1 << 20);
    assert_eq!(n(Shape::BinaryTree), (1 << 20) - 1);
    assert_eq!(n(Shape::Wavefront), 1 << 20);
    assert_eq!(n(Shape::GraphTraversal), 1 << 20);
    assert_eq!(n(Shape::EmbarrassingParallelism), 1 << 20);
}

#[test]
fn shapes_are_topological_and_consistent_at_every_size() {
    for log2 in [2, 5, 12, 15] {
        for shape in Shape::ALL {
            let g = shape.build(log2);
            let mut indeg = vec![0u32; g.len()];
            for v in 0..g.len() {
                let succ = g.successors(v);
                for (k, &t) in succ.iter().enumerate() {
                    assert!((t as usize) > v, "{} not topological", shape.name());
                    assert!(!succ[..k].contains(&t), "{} duplicate edge", shape.name());
                    indeg[t as usize] += 1;
                }
            }
            assert_eq!(indeg, g.indeg, "{} at 2^{log2}", shape.name());
            assert!(!g.roots().is_empty());
        }
    }
}

#[test]
fn graph_traversal_out_degrees_are_one_to_four() {
    let g = Shape::GraphTraversal.build(20);
    let width = 1024;
    for v in 0..g.len() - width {
        let d = g.successors(v).len();
        assert!((1..=4).contains(&d), "node {v} has {d} successors");
    }
    for v in g.len() - width..g.len() {
        assert!(g.successors(v).is_empty());
    }
}
