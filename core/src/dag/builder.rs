//! [`DagBuilder`] and [`Dag`]: a DAG in fixed-capacity storage, buildable in a `const`.

use core::fmt;

use super::compile::{compile, CompileBuffers};
use super::{
    DagError, DagView, Edge, EdgeLabel, NodeHot, NodeId, NodeInfo, NodeKind, RetryPolicy, Span,
    Succ, TaskFn,
};

const EMPTY_NODE: NodeInfo = NodeInfo {
    name: "",
    kind: NodeKind::Task,
    retry: RetryPolicy::NONE,
    timeout_ticks: None,
};
const EMPTY_EDGE: Edge = Edge {
    from: NodeId::INVALID,
    to: NodeId::INVALID,
    label: EdgeLabel::Always,
};

/// `const` string equality.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Collects the nodes and edges of a DAG with at most `NODES` nodes and `EDGES` edges.
///
/// Every method is a `const fn` taking and returning the builder, so a whole DAG can be
/// declared in a `const` or `static`; [`Dag::new_or_panic`] then turns any [`DagError`] into a
/// compile error. Nodes are named; edges refer to names of nodes declared before them. The
/// first error is kept and returned by [`build`](Self::build); later calls are ignored.
///
/// # Examples
///
/// A DAG in a `static`, checked by the compiler:
///
/// ```
/// use ringdag_core::dag::{Dag, DagBuilder};
/// use ringdag_core::sched::Context;
///
/// fn one(_: &mut Context<'_, u32, u32>) -> Result<u32, ()> { Ok(1) }
///
/// static DAG: Dag<u32, u32, (), 3, 2> = Dag::new_or_panic(
///     DagBuilder::new()
///         .task("a", one)
///         .task("b", one)
///         .task("c", one)
///         .edge("a", "b")
///         .edge("b", "c")
///         .build(),
/// );
/// assert_eq!(DAG.len(), 3);
/// ```
///
/// A cycle does not compile:
///
/// ```compile_fail
/// use ringdag_core::dag::{Dag, DagBuilder};
/// use ringdag_core::sched::Context;
/// fn one(_: &mut Context<'_, u32, u32>) -> Result<u32, ()> { Ok(1) }
/// static DAG: Dag<u32, u32, (), 2, 2> = Dag::new_or_panic(
///     DagBuilder::new().task("a", one).task("b", one).edge("a", "b").edge("b", "a").build(),
/// );
/// ```
///
/// At run time the same checks return errors:
///
/// ```
/// use ringdag_core::dag::{DagBuilder, DagError};
/// use ringdag_core::sched::Context;
/// fn one(_: &mut Context<'_, u32, u32>) -> Result<u32, ()> { Ok(1) }
/// let err = DagBuilder::<u32, u32, (), 2, 2>::new()
///     .task("a", one).task("b", one).edge("a", "b").edge("b", "a")
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, DagError::Cycle { .. }));
/// ```
pub struct DagBuilder<I, V, E, const NODES: usize, const EDGES: usize> {
    nodes: [NodeInfo; NODES],
    fns: [Option<TaskFn<I, V, E>>; NODES],
    n: usize,
    edges: [Edge; EDGES],
    e: usize,
    error: Option<DagError>,
}

impl<I, V, E, const NODES: usize, const EDGES: usize> fmt::Debug
    for DagBuilder<I, V, E, NODES, EDGES>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DagBuilder")
            .field("nodes", &&self.nodes[..self.n])
            .field("edges", &&self.edges[..self.e])
            .field("error", &self.error)
            .finish()
    }
}

impl<I, V, E, const NODES: usize, const EDGES: usize> Default
    for DagBuilder<I, V, E, NODES, EDGES>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<I, V, E, const NODES: usize, const EDGES: usize> DagBuilder<I, V, E, NODES, EDGES> {
    /// An empty builder.
    pub const fn new() -> Self {
        Self {
            nodes: [EMPTY_NODE; NODES],
            fns: [None; NODES],
            n: 0,
            edges: [EMPTY_EDGE; EDGES],
            e: 0,
            error: None,
        }
    }

    const fn fail(mut self, error: DagError) -> Self {
        if self.error.is_none() {
            self.error = Some(error);
        }
        self
    }

    const fn find(&self, name: &str) -> Option<usize> {
        let mut i = 0;
        while i < self.n {
            if same(self.nodes[i].name, name) {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    const fn node(mut self, name: &'static str, kind: NodeKind, f: TaskFn<I, V, E>) -> Self {
        if self.error.is_some() {
            return self;
        }
        if self.n == NODES {
            return self.fail(DagError::TooManyNodes { capacity: NODES });
        }
        if self.find(name).is_some() {
            return self.fail(DagError::DuplicateNode { name });
        }
        self.nodes[self.n] = NodeInfo {
            name,
            kind,
            ..EMPTY_NODE
        };
        self.fns[self.n] = Some(f);
        self.n += 1;
        self
    }

    /// Adds a task node.
    pub const fn task(self, name: &'static str, f: TaskFn<I, V, E>) -> Self {
        self.node(name, NodeKind::Task, f)
    }

    /// Adds a condition node; give it branches with [`branch`](Self::branch) and exactly one
    /// [`default_branch`](Self::default_branch).
    pub const fn condition(self, name: &'static str, f: TaskFn<I, V, E>) -> Self {
        self.node(name, NodeKind::Condition, f)
    }

    /// Adds an iterator node that may emit up to `max_items` items per run; give it a body
    /// with [`body`](Self::body).
    pub const fn iterator(self, name: &'static str, f: TaskFn<I, V, E>, max_items: u16) -> Self {
        let kind = NodeKind::Iterator {
            body: NodeId::INVALID,
            max_items,
            item_offset: 0,
        };
        self.node(name, kind, f)
    }

    /// Adds the body node of iterator `iterator` (declared before).
    pub const fn body(
        self,
        iterator: &'static str,
        name: &'static str,
        f: TaskFn<I, V, E>,
    ) -> Self {
        let Some(it) = self.find(iterator) else {
            return self.fail(DagError::UnknownNode { name: iterator });
        };
        let (max_items, already) = match self.nodes[it].kind {
            NodeKind::Iterator {
                body, max_items, ..
            } => (max_items, body.0 != NodeId::INVALID.0),
            _ => return self.fail(DagError::MissingBody { node: iterator }),
        };
        if already {
            return self.fail(DagError::MissingBody { node: iterator });
        }
        let body = NodeId(self.n as u32);
        let mut this = self.node(
            name,
            NodeKind::Body {
                iterator: NodeId(it as u32),
            },
            f,
        );
        if this.error.is_none() {
            this.nodes[it].kind = NodeKind::Iterator {
                body,
                max_items,
                item_offset: 0,
            };
        }
        this
    }

    const fn labelled(self, from: &'static str, to: &'static str, label: EdgeLabel) -> Self {
        if self.error.is_some() {
            return self;
        }
        let Some(a) = self.find(from) else {
            return self.fail(DagError::UnknownNode { name: from });
        };
        let Some(b) = self.find(to) else {
            return self.fail(DagError::UnknownNode { name: to });
        };
        if self.e == EDGES {
            return self.fail(DagError::TooManyEdges { capacity: EDGES });
        }
        let mut this = self;
        this.edges[this.e] = Edge {
            from: NodeId(a as u32),
            to: NodeId(b as u32),
            label,
        };
        this.e += 1;
        this
    }

    /// `to` runs after `from` and reads its value.
    pub const fn edge(self, from: &'static str, to: &'static str) -> Self {
        self.labelled(from, to, EdgeLabel::Always)
    }

    /// Condition `cond` takes the edge to `to` when it chooses `label`.
    pub const fn branch(self, cond: &'static str, to: &'static str, label: u8) -> Self {
        self.labelled(cond, to, EdgeLabel::When(label))
    }

    /// Condition `cond` takes the edge to `to` when no other branch carries its choice.
    pub const fn default_branch(self, cond: &'static str, to: &'static str) -> Self {
        self.labelled(cond, to, EdgeLabel::Default)
    }

    /// Sets the retry policy of `node`.
    pub const fn retry(mut self, node: &'static str, policy: RetryPolicy) -> Self {
        match self.find(node) {
            Some(i) => {
                self.nodes[i].retry = policy;
                self
            }
            None => self.fail(DagError::UnknownNode { name: node }),
        }
    }

    /// A run of `node` that takes more than `ticks` ticks fails with
    /// [`RunError::Timeout`](crate::sched::RunError::Timeout) when it returns.
    pub const fn timeout(mut self, node: &'static str, ticks: u32) -> Self {
        match self.find(node) {
            Some(i) => {
                self.nodes[i].timeout_ticks = Some(ticks);
                self
            }
            None => self.fail(DagError::UnknownNode { name: node }),
        }
    }

    /// Validates the DAG and computes its adjacency and topological order.
    ///
    /// # Errors
    ///
    /// The first [`DagError`] met while declaring, or found by validation.
    pub const fn build(self) -> Result<Dag<I, V, E, NODES, EDGES>, DagError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut dag = Dag {
            nodes: self.nodes,
            fns: self.fns,
            n: self.n,
            succ_span: [Span { start: 0, len: 0 }; NODES],
            hot: [NodeHot::EMPTY; NODES],
            succ: [Succ {
                to: 0,
                label: 0,
                preds: 0,
            }; EDGES],
            pred_span: [Span { start: 0, len: 0 }; NODES],
            pred: [0; EDGES],
            e: self.e,
            topo: [0; NODES],
            roots: [0; NODES],
            n_roots: 0,
            items: 0,
        };
        let mut scratch = [0u32; NODES];
        let nodes: &mut [NodeInfo] = &mut dag.nodes;
        let (nodes, _) = nodes.split_at_mut(self.n);
        let edges: &[Edge] = &self.edges;
        let (edges, _) = edges.split_at(self.e);
        let result = compile(
            nodes,
            edges,
            CompileBuffers {
                succ_span: &mut dag.succ_span,
                hot: &mut dag.hot,
                succ: &mut dag.succ,
                pred_span: &mut dag.pred_span,
                pred: &mut dag.pred,
                topo: &mut dag.topo,
                roots: &mut dag.roots,
                scratch: &mut scratch,
            },
        );
        match result {
            Ok(c) => {
                dag.n_roots = c.roots;
                dag.items = c.items;
                Ok(dag)
            }
            Err(e) => Err(e),
        }
    }
}

/// A validated DAG in fixed storage, with the node bodies as function pointers.
///
/// Built by [`DagBuilder::build`]; usually kept in a `static` (see [`Dag::new_or_panic`]).
pub struct Dag<I, V, E, const NODES: usize, const EDGES: usize> {
    nodes: [NodeInfo; NODES],
    fns: [Option<TaskFn<I, V, E>>; NODES],
    n: usize,
    succ_span: [Span; NODES],
    hot: [NodeHot; NODES],
    succ: [Succ; EDGES],
    pred_span: [Span; NODES],
    pred: [u32; EDGES],
    e: usize,
    topo: [u32; NODES],
    roots: [u32; NODES],
    n_roots: usize,
    items: u32,
}

impl<I, V, E, const NODES: usize, const EDGES: usize> Dag<I, V, E, NODES, EDGES> {
    /// Unwraps a build result in a `const` context: a bad DAG becomes a compile error with
    /// the error's message.
    ///
    /// # Panics
    ///
    /// If `result` is an error (at compile time when used in a `const` or `static`).
    pub const fn new_or_panic(result: Result<Self, DagError>) -> Self {
        match result {
            Ok(dag) => dag,
            Err(e) => panic!("{}", e.message()),
        }
    }

    /// Number of nodes.
    pub const fn len(&self) -> usize {
        self.n
    }

    /// No nodes.
    pub const fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Item slots a run needs (sum of the iterators' `max_items`).
    pub const fn item_slots(&self) -> usize {
        self.items as usize
    }

    /// Number of edges.
    pub const fn edge_count(&self) -> usize {
        self.e
    }

    /// The node named `name`.
    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.view().find(name)
    }

    /// The body of `node`.
    #[inline(always)]
    pub(crate) fn body(&self, node: u32) -> Option<TaskFn<I, V, E>> {
        self.fns.get(node as usize).copied().flatten()
    }

    /// The structure as slices, for the scheduler and for DOT export.
    pub fn view(&self) -> DagView<'_> {
        DagView {
            nodes: &self.nodes[..self.n],
            succ_span: &self.succ_span[..self.n],
            hot: &self.hot[..self.n],
            succ: &self.succ[..self.e],
            pred_span: &self.pred_span[..self.n],
            pred: &self.pred[..self.e],
            topo: &self.topo[..self.n],
            roots: &self.roots[..self.n_roots],
            items: self.items,
        }
    }
}

impl<I, V, E, const NODES: usize, const EDGES: usize> fmt::Debug for Dag<I, V, E, NODES, EDGES> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dag")
            .field("nodes", &self.n)
            .field("edges", &self.e)
            .finish()
    }
}
