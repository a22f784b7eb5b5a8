//! [`Graph`]: a DAG on the heap whose node bodies are closures.

use std::fmt;
use std::time::Duration;

use ringdag_core::dag::{
    compile, CompileBuffers, DagError, DagView, Edge, EdgeLabel, NodeHot, NodeId, NodeInfo,
    NodeKind, RetryPolicy, Span, Succ,
};
use ringdag_core::sched::Context;

/// A node body: a closure of the node's [`Context`]. It may capture state (shared across
/// threads, so `Send + Sync`).
pub type BodyFn<I, V, E> = dyn Fn(&mut Context<'_, I, V>) -> Result<V, E> + Send + Sync;

enum Bodies<I, V, E> {
    PerNode(Vec<Box<BodyFn<I, V, E>>>),
    Uniform(Box<BodyFn<I, V, E>>),
}

/// A validated DAG with closure bodies, for the [`Runtime`](crate::Runtime).
///
/// Build it with [`GraphBuilder`] (named nodes of any kind) or [`Graph::from_csr`] (many
/// task nodes sharing one body, e.g. generated graphs). Validation is the core's: the same
/// errors as for a static [`Dag`](ringdag_core::dag::Dag).
pub struct Graph<I, V, E> {
    nodes: Vec<NodeInfo>,
    bodies: Bodies<I, V, E>,
    succ_span: Vec<Span>,
    hot: Vec<NodeHot>,
    succ: Vec<Succ>,
    pred_span: Vec<Span>,
    pred: Vec<u32>,
    topo: Vec<u32>,
    roots: Vec<u32>,
    items: u32,
}

impl<I, V, E> fmt::Debug for Graph<I, V, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph")
            .field("nodes", &self.nodes.len())
            .field("edges", &self.succ.len())
            .finish()
    }
}

impl<I, V, E> Graph<I, V, E> {
    fn compile(
        mut nodes: Vec<NodeInfo>,
        edges: &[Edge],
        bodies: Bodies<I, V, E>,
    ) -> Result<Self, DagError> {
        let n = nodes.len();
        let e = edges.len();
        let mut succ_span = vec![Span::default(); n];
        let mut hot = vec![NodeHot::default(); n];
        let mut succ = vec![Succ::default(); e];
        let mut pred_span = vec![Span::default(); n];
        let mut pred = vec![0; e];
        let mut topo = vec![0; n];
        let mut roots = vec![0; n];
        let mut scratch = vec![0; n];
        let compiled = compile(
            &mut nodes,
            edges,
            CompileBuffers {
                succ_span: &mut succ_span,
                hot: &mut hot,
                succ: &mut succ,
                pred_span: &mut pred_span,
                pred: &mut pred,
                topo: &mut topo,
                roots: &mut roots,
                scratch: &mut scratch,
            },
        )?;
        roots.truncate(compiled.roots);
        Ok(Self {
            nodes,
            bodies,
            succ_span,
            hot,
            succ,
            pred_span,
            pred,
            topo,
            roots,
            items: compiled.items,
        })
    }

    /// A graph of `offsets.len() - 1` task nodes named `name`, where node `v`'s successors are
    /// `successors[offsets[v]..offsets[v + 1]]` (compressed sparse rows), all running `body`
    /// (which can tell nodes apart with [`Context::node`]).
    ///
    /// # Errors
    ///
    /// [`DagError`] for malformed rows, an unknown node, a duplicate edge, a self-loop or a cycle.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringdag_runtime::Graph;
    /// // 0 -> 1 -> 2
    /// let g = Graph::<(), u32, ()>::from_csr("step", &[0, 1, 2, 2], &[1, 2], |cx| {
    ///     Ok(cx.node().index() as u32)
    /// })
    /// .unwrap();
    /// assert_eq!(g.len(), 3);
    /// ```
    pub fn from_csr<F>(
        name: &'static str,
        offsets: &[u32],
        successors: &[u32],
        body: F,
    ) -> Result<Self, DagError>
    where
        F: Fn(&mut Context<'_, I, V>) -> Result<V, E> + Send + Sync + 'static,
    {
        let Some(n) = offsets.len().checked_sub(1) else {
            return Err(DagError::BufferTooSmall);
        };
        if offsets[n] as usize != successors.len() || offsets.windows(2).any(|w| w[0] > w[1]) {
            return Err(DagError::BufferTooSmall);
        }
        let info = NodeInfo {
            name,
            kind: NodeKind::Task,
            retry: RetryPolicy::NONE,
            timeout_ticks: None,
        };
        let nodes = vec![info; n];
        let mut edges = Vec::with_capacity(successors.len());
        for v in 0..n {
            for &t in &successors[offsets[v] as usize..offsets[v + 1] as usize] {
                edges.push(Edge {
                    from: NodeId::from_index(v),
                    to: NodeId::from_index(t as usize),
                    label: EdgeLabel::Always,
                });
            }
        }
        Self::compile(nodes, &edges, Bodies::Uniform(Box::new(body)))
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// No nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node named `name` (the first, for graphs from [`from_csr`](Self::from_csr)).
    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.view().find(name)
    }

    /// The structure, as the core scheduler reads it.
    pub fn view(&self) -> DagView<'_> {
        DagView {
            nodes: &self.nodes,
            succ_span: &self.succ_span,
            hot: &self.hot,
            succ: &self.succ,
            pred_span: &self.pred_span,
            pred: &self.pred,
            topo: &self.topo,
            roots: &self.roots,
            items: self.items,
        }
    }

    /// Writes the graph in Graphviz DOT (node kinds as shapes, branch labels on edges).
    ///
    /// # Errors
    ///
    /// Whatever `out` returns.
    pub fn write_dot<W: fmt::Write + ?Sized>(&self, out: &mut W) -> fmt::Result {
        ringdag_core::dag::write_dot(&self.view(), out)
    }

    #[inline(always)]
    pub(crate) fn body(&self, node: NodeId) -> &BodyFn<I, V, E> {
        match &self.bodies {
            Bodies::PerNode(b) => &*b[node.index()],
            Bodies::Uniform(b) => &**b,
        }
    }
}

/// Declares a [`Graph`] node by node. Each node method returns the node's [`NodeId`]; errors
/// (a bad id, a cycle, ...) are reported by [`build`](Self::build).
///
/// # Examples
///
/// ```
/// use ringdag_runtime::GraphBuilder;
///
/// let mut b = GraphBuilder::<u32, u32, String>::new();
/// let parse = b.task("parse", |cx| Ok(*cx.input()));
/// let check = b.condition("check", |cx| {
///     let v = cx.value(ringdag_runtime::core::dag::NodeId::from_index(0)).unwrap_or(0);
///     cx.choose(u8::from(v > 10));
///     Ok(v)
/// });
/// let big = b.task("big", |_| Ok(1));
/// let small = b.task("small", |_| Ok(0));
/// b.edge(parse, check).branch(check, big, 1).default_branch(check, small);
/// let graph = b.build().unwrap();
/// assert_eq!(graph.len(), 4);
/// ```
pub struct GraphBuilder<I, V, E> {
    nodes: Vec<NodeInfo>,
    bodies: Vec<Box<BodyFn<I, V, E>>>,
    edges: Vec<Edge>,
    error: Option<DagError>,
}

impl<I, V, E> fmt::Debug for GraphBuilder<I, V, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphBuilder")
            .field("nodes", &self.nodes)
            .field("edges", &self.edges)
            .finish()
    }
}

impl<I, V, E> Default for GraphBuilder<I, V, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I, V, E> GraphBuilder<I, V, E> {
    /// An empty builder.
    pub fn new() -> Self {
        Self {
            nodes: Vec::new(),
            bodies: Vec::new(),
            edges: Vec::new(),
            error: None,
        }
    }

    fn add<F>(&mut self, name: &'static str, kind: NodeKind, body: F) -> NodeId
    where
        F: Fn(&mut Context<'_, I, V>) -> Result<V, E> + Send + Sync + 'static,
    {
        if self.nodes.iter().any(|n| n.name == name) && self.error.is_none() {
            self.error = Some(DagError::DuplicateNode { name });
        }
        self.nodes.push(NodeInfo {
            name,
            kind,
            retry: RetryPolicy::NONE,
            timeout_ticks: None,
        });
        self.bodies.push(Box::new(body));
        NodeId::from_index(self.nodes.len() - 1)
    }

    /// Adds a task node.
    pub fn task<F>(&mut self, name: &'static str, body: F) -> NodeId
    where
        F: Fn(&mut Context<'_, I, V>) -> Result<V, E> + Send + Sync + 'static,
    {
        self.add(name, NodeKind::Task, body)
    }

    /// Adds a condition node (its body calls [`Context::choose`]).
    pub fn condition<F>(&mut self, name: &'static str, body: F) -> NodeId
    where
        F: Fn(&mut Context<'_, I, V>) -> Result<V, E> + Send + Sync + 'static,
    {
        self.add(name, NodeKind::Condition, body)
    }

    /// Adds an iterator node emitting up to `max_items` items ([`Context::emit`]); give it a
    /// body with [`body`](Self::body).
    pub fn iterator<F>(&mut self, name: &'static str, max_items: u16, body: F) -> NodeId
    where
        F: Fn(&mut Context<'_, I, V>) -> Result<V, E> + Send + Sync + 'static,
    {
        let kind = NodeKind::Iterator {
            body: NodeId::from_index(u32::MAX as usize),
            max_items,
            item_offset: 0,
        };
        self.add(name, kind, body)
    }

    /// Adds the per-item body of `iterator` ([`Context::item`] gives the item).
    pub fn body<F>(&mut self, iterator: NodeId, name: &'static str, body: F) -> NodeId
    where
        F: Fn(&mut Context<'_, I, V>) -> Result<V, E> + Send + Sync + 'static,
    {
        let id = self.add(name, NodeKind::Body { iterator }, body);
        match self.nodes.get_mut(iterator.index()).map(|n| &mut n.kind) {
            Some(NodeKind::Iterator { body, .. }) if body.index() == u32::MAX as usize => {
                *body = id;
            }
            _ => {
                let node = self.nodes.get(iterator.index()).map_or("?", |n| n.name);
                self.error.get_or_insert(DagError::MissingBody { node });
            }
        }
        id
    }

    fn link(&mut self, from: NodeId, to: NodeId, label: EdgeLabel) -> &mut Self {
        self.edges.push(Edge { from, to, label });
        self
    }

    /// `to` runs after `from`.
    pub fn edge(&mut self, from: NodeId, to: NodeId) -> &mut Self {
        self.link(from, to, EdgeLabel::Always)
    }

    /// Condition `cond` takes the edge to `to` when it chooses `label`.
    pub fn branch(&mut self, cond: NodeId, to: NodeId, label: u8) -> &mut Self {
        self.link(cond, to, EdgeLabel::When(label))
    }

    /// Condition `cond` takes the edge to `to` when no other branch carries its choice.
    pub fn default_branch(&mut self, cond: NodeId, to: NodeId) -> &mut Self {
        self.link(cond, to, EdgeLabel::Default)
    }

    /// Sets the retry policy of `node`.
    pub fn retry(&mut self, node: NodeId, policy: RetryPolicy) -> &mut Self {
        match self.nodes.get_mut(node.index()) {
            Some(n) => n.retry = policy,
            None => {
                self.error
                    .get_or_insert(DagError::UnknownNode { name: "?" });
            }
        }
        self
    }

    /// A run of `node` that takes longer than `timeout` fails with `RunError::Timeout` when it
    /// returns. Measured in the runtime's millisecond ticks, from just before the body is
    /// called to just after it returns, with `timeout` rounded up to whole milliseconds: a
    /// node is never failed before more than the rounded value has passed, and always when
    /// a millisecond more has.
    pub fn timeout(&mut self, node: NodeId, timeout: Duration) -> &mut Self {
        let ticks = crate::ticks_ceil(timeout);
        match self.nodes.get_mut(node.index()) {
            Some(n) => n.timeout_ticks = Some(ticks),
            None => {
                self.error
                    .get_or_insert(DagError::UnknownNode { name: "?" });
            }
        }
        self
    }

    /// Validates and builds the graph.
    ///
    /// # Errors
    ///
    /// The first [`DagError`] met while declaring or found by validation.
    pub fn build(self) -> Result<Graph<I, V, E>, DagError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        Graph::compile(self.nodes, &self.edges, Bodies::PerNode(self.bodies))
    }
}
