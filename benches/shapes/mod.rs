//! The five DAG shapes of Taskflow's benchmark suite, exactly as `shared/BENCH-SHAPES.md`
//! defines them, as compressed sparse rows (`off`, `succ`) plus in-degrees. Node ids are a
//! topological order. Shared by `benches/dag_shapes.rs` and `tests/dag_shapes_fingerprints.rs`.

#![allow(dead_code)] // each includer uses a different part

/// One of the five shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `v -> v+1`.
    LinearChain,
    /// Heap-ordered binary tree, `v -> 2v+1, 2v+2`.
    BinaryTree,
    /// `R x C` blocks, `v -> v+1` (same row), `v -> v+C` (next row).
    Wavefront,
    /// Taskflow's LevelGraph: `L` levels of `W` nodes, random edges to the next level.
    GraphTraversal,
    /// No edges.
    EmbarrassingParallelism,
}

/// A DAG as compressed sparse rows: node `v`'s successors are `succ[off[v]..off[v + 1]]`.
#[derive(Clone, Debug)]
pub(crate) struct Csr {
    /// `n + 1` offsets.
    pub(crate) off: Vec<u32>,
    /// Successor ids.
    pub(crate) succ: Vec<u32>,
    /// Predecessor count of each node.
    pub(crate) indeg: Vec<u32>,
}

impl Csr {
    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.off.len() - 1
    }

    /// Successors of `v`.
    #[inline(always)]
    pub(crate) fn successors(&self, v: usize) -> &[u32] {
        &self.succ[self.off[v] as usize..self.off[v + 1] as usize]
    }

    /// Nodes without predecessors, in id order.
    pub(crate) fn roots(&self) -> Vec<u32> {
        (0..self.len() as u32)
            .filter(|&v| self.indeg[v as usize] == 0)
            .collect()
    }

    /// FNV-1a 64 over the little-endian bytes of `off` then `succ` (as u32 values).
    pub(crate) fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &x in self.off.iter().chain(&self.succ) {
            for b in x.to_le_bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        h
    }

    fn from_rows(n: usize, mut rows: impl FnMut(usize, &mut Vec<u32>)) -> Self {
        let mut off = Vec::with_capacity(n + 1);
        let mut succ = Vec::with_capacity(2 * n);
        off.push(0);
        for v in 0..n {
            rows(v, &mut succ);
            off.push(u32::try_from(succ.len()).expect("too many edges"));
        }
        let mut indeg = vec![0u32; n];
        for &t in &succ {
            indeg[t as usize] += 1;
        }
        Self { off, succ, indeg }
    }
}

/// Taskflow's generator: splitmix64 from state 0.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, k: u64) -> u64 {
        self.next() % k
    }

    fn shuffle(&mut self, perm: &mut [u32]) {
        for i in (1..perm.len()).rev() {
            perm.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

impl Shape {
    /// All five, in the order of BENCH-SHAPES.md.
    pub(crate) const ALL: [Shape; 5] = [
        Shape::LinearChain,
        Shape::BinaryTree,
        Shape::Wavefront,
        Shape::GraphTraversal,
        Shape::EmbarrassingParallelism,
    ];

    /// The name used in BENCH-SHAPES.md's tables and in benchmark ids.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Shape::LinearChain => "linear_chain",
            Shape::BinaryTree => "binary_tree",
            Shape::Wavefront => "wavefront",
            Shape::GraphTraversal => "graph_traversal",
            Shape::EmbarrassingParallelism => "embarrassing_parallelism",
        }
    }

    /// The FNV-1a fingerprint of the full-size graph (`log2 = 20`), from BENCH-SHAPES.md.
    pub(crate) fn full_fingerprint(self) -> u64 {
        match self {
            Shape::LinearChain => 0x25a6_b9c9_379b_9d8c,
            Shape::BinaryTree => 0x7e4e_b2ac_4305_2fec,
            Shape::Wavefront => 0x891e_f8dd_7fd5_0a82,
            Shape::GraphTraversal => 0x44b1_2193_3800_4a02,
            Shape::EmbarrassingParallelism => 0xf13e_9eec_d2ce_13f5,
        }
    }

    /// The shape at about `2^log2` nodes (full size: `log2 = 20`). Chain and embarrassing
    /// parallelism have `2^log2` nodes; the tree has depth `log2` (`2^log2 - 1` nodes);
    /// wavefront and graph traversal are `2^(log2 - log2/2)` x `2^(log2/2)` (1024 x 1024 at
    /// full size).
    pub(crate) fn build(self, log2: u32) -> Csr {
        assert!((2..=24).contains(&log2), "log2 must be 2..=24");
        let n = 1usize << log2;
        match self {
            Shape::LinearChain => Csr::from_rows(n, |v, s| {
                if v + 1 < n {
                    s.push(v as u32 + 1);
                }
            }),
            Shape::BinaryTree => {
                let n = n - 1;
                Csr::from_rows(n, |v, s| {
                    for c in [2 * v + 1, 2 * v + 2] {
                        if c < n {
                            s.push(c as u32);
                        }
                    }
                })
            }
            Shape::Wavefront => {
                let (rows, cols) = (1usize << (log2 - log2 / 2), 1usize << (log2 / 2));
                Csr::from_rows(rows * cols, |v, s| {
                    let (i, j) = (v / cols, v % cols);
                    if j + 1 < cols {
                        s.push(v as u32 + 1);
                    }
                    if i + 1 < rows {
                        s.push((v + cols) as u32);
                    }
                })
            }
            Shape::GraphTraversal => {
                let (levels, width) = (1usize << (log2 - log2 / 2), 1usize << (log2 / 2));
                level_graph(levels, width)
            }
            Shape::EmbarrassingParallelism => Csr::from_rows(n, |_, _| {}),
        }
    }
}

/// Taskflow's LevelGraph rule (see BENCH-SHAPES.md).
fn level_graph(levels: usize, width: usize) -> Csr {
    let mut rng = SplitMix64(0);
    let mut perm: Vec<u32> = Vec::with_capacity(width);
    let mut start = 0;
    Csr::from_rows(levels * width, |v, s| {
        let (l, i) = (v / width, v % width);
        if l + 1 == levels {
            return;
        }
        if i == 0 {
            perm.clear();
            perm.extend(0..width as u32);
            rng.shuffle(&mut perm);
            start = 0;
        }
        let k = 1 + rng.below(4) as usize;
        let base = ((l + 1) * width) as u32;
        if start + k >= width {
            s.extend(perm[start..].iter().map(|&p| base + p));
            rng.shuffle(&mut perm);
            start = 0;
        } else {
            s.extend(perm[start..start + k].iter().map(|&p| base + p));
            start += k;
        }
    })
}
