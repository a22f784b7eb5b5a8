//! DAG definition: nodes, edges, validation, compact adjacency (CSR), topological order,
//! and Graphviz DOT export.
//!
//! A DAG is declared once and run many times by a [`TaskManager`](crate::sched::TaskManager).
//! [`DagBuilder`] collects nodes and edges in fixed-capacity storage (const generics `NODES`,
//! `EDGES`); [`DagBuilder::build`] validates and returns a [`Dag`] or a [`DagError`] (never a
//! panic).
//!
//! # Node kinds
//!
//! Every node body has one signature, `fn(&mut Context<I, V>) -> Result<V, E>`
//! ([`TaskFn`]); what the scheduler does with it depends on the kind:
//!
//! - **task**: its value is stored and readable by the nodes after it.
//!
//! ```
//! use ringdag_core::dag::DagBuilder;
//! use ringdag_core::sched::Context;
//!
//! fn double(cx: &mut Context<'_, u32, u32>) -> Result<u32, ()> { Ok(*cx.input() * 2) }
//! fn plus_one(cx: &mut Context<'_, u32, u32>) -> Result<u32, ()> {
//!     Ok(cx.inputs().map(|(_, v)| v).sum::<u32>() + 1)
//! }
//! let dag = DagBuilder::<u32, u32, (), 4, 4>::new()
//!     .task("double", double)
//!     .task("plus_one", plus_one)
//!     .edge("double", "plus_one")
//!     .build()
//!     .unwrap();
//! assert_eq!(dag.len(), 2);
//! ```
//!
//! - **condition**: calls [`Context::choose`](crate::sched::Context::choose) with a branch
//!   label; the edges labelled with it are taken, or the default edge when no edge has that
//!   label. Nodes reachable only through branches not taken are skipped; a join that also
//!   has a live input still runs.
//!
//! ```
//! use ringdag_core::dag::DagBuilder;
//! use ringdag_core::sched::Context;
//!
//! fn route(cx: &mut Context<'_, u32, u32>) -> Result<u32, ()> {
//!     cx.choose(if *cx.input() % 2 == 0 { 0 } else { 1 });
//!     Ok(0)
//! }
//! fn even(_: &mut Context<'_, u32, u32>) -> Result<u32, ()> { Ok(2) }
//! fn odd(_: &mut Context<'_, u32, u32>) -> Result<u32, ()> { Ok(1) }
//! let dag = DagBuilder::<u32, u32, (), 4, 4>::new()
//!     .condition("route", route)
//!     .task("even", even)
//!     .task("odd", odd)
//!     .branch("route", "even", 0)
//!     .default_branch("route", "odd")
//!     .build();
//! assert!(dag.is_ok());
//! ```
//!
//! - **iterator**: calls [`Context::emit`](crate::sched::Context::emit) up to `max_items`
//!   times; the iterator's *body* node runs once per item, in parallel, and the nodes after
//!   the iterator read the body results in item order with
//!   [`Context::items`](crate::sched::Context::items).
//!
//! ```
//! use ringdag_core::dag::DagBuilder;
//! use ringdag_core::sched::Context;
//!
//! fn split(cx: &mut Context<'_, u32, u32>) -> Result<u32, ()> {
//!     for i in 0..*cx.input() {
//!         cx.emit(i).map_err(|_| ())?;
//!     }
//!     Ok(0)
//! }
//! fn square(cx: &mut Context<'_, u32, u32>) -> Result<u32, ()> {
//!     let (_, item) = cx.item().unwrap();
//!     Ok(item * item)
//! }
//! let dag = DagBuilder::<u32, u32, (), 4, 4>::new()
//!     .iterator("split", split, 8)
//!     .body("split", "square", square)
//!     .build();
//! assert!(dag.is_ok());
//! ```

mod builder;
mod compile;
mod dot;

pub use builder::{Dag, DagBuilder};
pub use compile::{compile, CompileBuffers, Compiled};
pub use dot::write_dot;

use core::fmt;

/// Signature of every node body. See the [module docs](self) for what each kind does with it.
pub type TaskFn<I, V, E> = fn(&mut crate::sched::Context<'_, I, V>) -> Result<V, E>;

/// Index of a node in its DAG (its position in declaration order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// A node id from an index (the `i`-th declared node).
    pub const fn from_index(index: usize) -> Self {
        Self(index as u32)
    }

    /// The node's index.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// Returned by the builder after an error (the error is reported by `build`).
    pub(crate) const INVALID: NodeId = NodeId(u32::MAX);
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a node is. See the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A function of its inputs.
    Task,
    /// Picks one outgoing branch by label, with a default.
    Condition,
    /// Fans out up to `max_items` items to `body`, fans the results back in.
    Iterator {
        /// The node run once per item.
        body: NodeId,
        /// At most this many items per run.
        max_items: u16,
        /// Where this iterator's items live in a run's item storage (assigned by `compile`).
        item_offset: u32,
    },
    /// The per-item node of an iterator; it has no edges of its own.
    Body {
        /// The iterator it belongs to.
        iterator: NodeId,
    },
}

/// How often a failing node is tried, and how long to wait between tries.
///
/// Back-off is counted in *ticks* that the caller advances
/// ([`TaskManager::advance_tick`](crate::sched::TaskManager::advance_tick)); nothing sleeps
/// inside a worker. Items of an iterator body are retried without back-off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, at least 1 (1 = no retry). At most 31.
    pub attempts: u8,
    /// Ticks to wait before each retry (0 = retry at once); at most 2^30 - 1 (more counts as
    /// that).
    pub backoff_ticks: u32,
}

impl RetryPolicy {
    /// No retry.
    pub const NONE: Self = Self {
        attempts: 1,
        backoff_ticks: 0,
    };
    /// Largest allowed `attempts`.
    pub const MAX_ATTEMPTS: u8 = 31;
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::NONE
    }
}

/// Label of an edge: plain, a condition's branch, or a condition's default branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeLabel {
    /// A plain dependency.
    Always,
    /// Taken when the condition chose this label.
    When(u8),
    /// Taken when the condition chose a label that no `When` edge carries.
    Default,
}

/// A node's static description (everything but its body).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// Used in errors, DOT output and debugging.
    pub name: &'static str,
    /// The kind.
    pub kind: NodeKind,
    /// The retry policy.
    pub retry: RetryPolicy,
    /// A node whose run takes more than this many ticks fails (checked when it returns).
    pub timeout_ticks: Option<u32>,
}

/// An edge as declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    /// Source node.
    pub from: NodeId,
    /// Target node.
    pub to: NodeId,
    /// Label.
    pub label: EdgeLabel,
}

/// A successor entry in the compact adjacency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Succ {
    /// Target node index.
    pub to: u32,
    /// 0 = always, 1 = default branch, 2 + l = branch label `l`.
    pub(crate) label: u16,
    /// The target's in-degree (set by [`compile()`]): 1 means this edge is its only incoming
    /// edge, and resolving it makes the target ready without touching its pending counter;
    /// otherwise the worker that takes the counter to zero sets it back to this value.
    pub(crate) preds: u16,
}

impl Succ {
    pub(crate) const ALWAYS: u16 = 0;
    pub(crate) const DEFAULT: u16 = 1;

    pub(crate) const fn encode(label: EdgeLabel) -> u16 {
        match label {
            EdgeLabel::Always => Self::ALWAYS,
            EdgeLabel::Default => Self::DEFAULT,
            EdgeLabel::When(l) => 2 + l as u16,
        }
    }

    /// Whether this edge is its target's only incoming edge.
    pub const fn is_sole(&self) -> bool {
        self.preds == 1
    }

    /// The target's number of predecessors.
    pub const fn target_predecessors(&self) -> u16 {
        self.preds
    }

    /// The edge's label.
    pub fn label(&self) -> EdgeLabel {
        match self.label {
            Self::ALWAYS => EdgeLabel::Always,
            Self::DEFAULT => EdgeLabel::Default,
            l => EdgeLabel::When((l - 2) as u8),
        }
    }
}

/// What executing a node reads first, packed in 8 bytes: its successor span, its kind and
/// whether it has a timeout. The scheduler's hot path reads this word instead of the
/// [`NodeInfo`] (48 bytes with the name), which it touches only on the cold paths
/// (iterators, failures, retries); on large graphs that is one cache miss per node fewer.
///
/// Filled by [`compile()`] from the node and its successor span.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct NodeHot {
    start: u32,
    /// Successor count (bits 0..28), kind (bits 28..30), timeout (bit 30).
    meta: u32,
}

impl NodeHot {
    /// The most successors one node may have (2^28 - 1).
    pub const MAX_SUCCESSORS: u32 = (1 << 28) - 1;
    /// A placeholder (a task without successors), for buffers before [`compile()`] fills them.
    pub const EMPTY: Self = Self { start: 0, meta: 0 };
    const KIND_SHIFT: u32 = 28;
    const TIMEOUT: u32 = 1 << 30;
    pub(crate) const TASK: u32 = 0;
    pub(crate) const CONDITION: u32 = 1;
    pub(crate) const ITERATOR: u32 = 2;
    pub(crate) const BODY: u32 = 3;

    /// The word of `info` with successors `succ`; `None` past [`Self::MAX_SUCCESSORS`].
    pub const fn new(info: &NodeInfo, succ: Span) -> Option<Self> {
        if succ.len > Self::MAX_SUCCESSORS {
            return None;
        }
        let kind = match info.kind {
            NodeKind::Task => Self::TASK,
            NodeKind::Condition => Self::CONDITION,
            NodeKind::Iterator { .. } => Self::ITERATOR,
            NodeKind::Body { .. } => Self::BODY,
        };
        let timeout = if info.timeout_ticks.is_some() {
            Self::TIMEOUT
        } else {
            0
        };
        Some(Self {
            start: succ.start,
            meta: succ.len | kind << Self::KIND_SHIFT | timeout,
        })
    }

    /// The successor span.
    #[inline(always)]
    pub const fn successors(self) -> Span {
        Span {
            start: self.start,
            len: self.meta & Self::MAX_SUCCESSORS,
        }
    }

    /// The kind, as one of the `TASK`, `CONDITION`, `ITERATOR`, `BODY` codes.
    #[inline(always)]
    pub(crate) const fn kind(self) -> u32 {
        (self.meta >> Self::KIND_SHIFT) & 3
    }

    /// Whether the node has a timeout.
    #[inline(always)]
    pub const fn has_timeout(self) -> bool {
        self.meta & Self::TIMEOUT != 0
    }
}

/// `start..start + len` in an adjacency array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    /// First index.
    pub start: u32,
    /// Number of entries.
    pub len: u32,
}

impl Span {
    #[inline(always)]
    pub(crate) const fn range(self) -> core::ops::Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

/// Why a DAG was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DagError {
    /// More nodes than the `NODES` capacity.
    TooManyNodes {
        /// The capacity.
        capacity: usize,
    },
    /// More edges than the `EDGES` capacity, or more than [`NodeHot::MAX_SUCCESSORS`]
    /// successors on one node (then `capacity` is that limit).
    TooManyEdges {
        /// The capacity.
        capacity: usize,
    },
    /// An edge or reference names a node that does not exist.
    UnknownNode {
        /// The name (or `"?"` for an id out of range).
        name: &'static str,
    },
    /// Two nodes with the same name.
    DuplicateNode {
        /// The name.
        name: &'static str,
    },
    /// The same edge twice.
    DuplicateEdge {
        /// Source.
        from: &'static str,
        /// Target.
        to: &'static str,
    },
    /// An edge from a node to itself.
    SelfLoop {
        /// The node.
        node: &'static str,
    },
    /// The edges form a cycle; `node` lies on it.
    Cycle {
        /// A node on the cycle.
        node: &'static str,
    },
    /// A condition has no default branch (or more than one).
    MissingDefault {
        /// The condition.
        node: &'static str,
    },
    /// A branch label on an edge whose source is not a condition.
    BranchOutsideCondition {
        /// The source.
        node: &'static str,
    },
    /// An iterator without a body node (or with more than one).
    MissingBody {
        /// The iterator.
        node: &'static str,
    },
    /// A body node has edges; bodies are reached only through their iterator.
    BodyWithEdges {
        /// The body.
        node: &'static str,
    },
    /// A node has more than 65 535 predecessors.
    TooManyPredecessors {
        /// The node.
        node: &'static str,
    },
    /// Retry attempts outside `1..=31`.
    BadRetryPolicy {
        /// The node.
        node: &'static str,
    },
    /// The buffers handed to [`compile()`] are too small.
    BufferTooSmall,
    /// The DAG's iterators need more item slots per run than the manager provides
    /// ([`TaskManager::try_new`](crate::sched::TaskManager::try_new)).
    NotEnoughItemSlots {
        /// Item slots the DAG needs per run ([`Dag::item_slots`]).
        needed: usize,
        /// The manager's `ITEMS`.
        capacity: usize,
    },
}

impl DagError {
    /// A fixed message for the kind of error (used for compile-time panics, where the node
    /// name cannot be formatted).
    pub const fn message(&self) -> &'static str {
        match self {
            Self::TooManyNodes { .. } => "DAG: more nodes than the NODES capacity",
            Self::TooManyEdges { .. } => "DAG: more edges than the EDGES capacity",
            Self::UnknownNode { .. } => "DAG: an edge or reference names an unknown node",
            Self::DuplicateNode { .. } => "DAG: two nodes have the same name",
            Self::DuplicateEdge { .. } => "DAG: duplicate edge",
            Self::SelfLoop { .. } => "DAG: self-loop",
            Self::Cycle { .. } => "DAG: the edges form a cycle",
            Self::MissingDefault { .. } => "DAG: a condition needs exactly one default branch",
            Self::BranchOutsideCondition { .. } => {
                "DAG: branch label on an edge not from a condition"
            }
            Self::MissingBody { .. } => "DAG: an iterator needs exactly one body",
            Self::BodyWithEdges { .. } => "DAG: an iterator body cannot have edges",
            Self::TooManyPredecessors { .. } => "DAG: a node has more than 65535 predecessors",
            Self::BadRetryPolicy { .. } => "DAG: retry attempts must be 1..=31",
            Self::BufferTooSmall => "DAG: compile buffers too small",
            Self::NotEnoughItemSlots { .. } => {
                "DAG: the iterators need more item slots than the manager's ITEMS"
            }
        }
    }
}

impl fmt::Display for DagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyNodes { capacity } => write!(f, "more than {capacity} nodes"),
            Self::TooManyEdges { capacity } => write!(f, "more than {capacity} edges"),
            Self::UnknownNode { name } => write!(f, "unknown node {name}"),
            Self::DuplicateNode { name } => write!(f, "two nodes named {name}"),
            Self::DuplicateEdge { from, to } => write!(f, "duplicate edge {from} -> {to}"),
            Self::SelfLoop { node } => write!(f, "self-loop on {node}"),
            Self::Cycle { node } => write!(f, "cycle through {node}"),
            Self::MissingDefault { node } => {
                write!(f, "condition {node} needs exactly one default branch")
            }
            Self::BranchOutsideCondition { node } => {
                write!(
                    f,
                    "branch label on an edge from {node}, which is not a condition"
                )
            }
            Self::MissingBody { node } => write!(f, "iterator {node} needs exactly one body"),
            Self::BodyWithEdges { node } => write!(f, "iterator body {node} cannot have edges"),
            Self::TooManyPredecessors { node } => {
                write!(f, "{node} has more than 65535 predecessors")
            }
            Self::BadRetryPolicy { node } => write!(f, "{node}: retry attempts must be 1..=31"),
            Self::BufferTooSmall => write!(f, "compile buffers too small"),
            Self::NotEnoughItemSlots { needed, capacity } => write!(
                f,
                "the iterators need {needed} item slots per run, the manager has {capacity}"
            ),
        }
    }
}

/// A validated DAG's structure as borrowed slices: what the scheduler reads. Built by
/// [`Dag::view`] (static storage) or by the runtime over heap storage.
#[derive(Clone, Copy, Debug)]
pub struct DagView<'a> {
    /// Node descriptions, by index.
    pub nodes: &'a [NodeInfo],
    /// Successor span per node.
    pub succ_span: &'a [Span],
    /// The scheduler's packed per-node word (successor span, kind, timeout).
    pub hot: &'a [NodeHot],
    /// Successors (CSR), in declaration order per node.
    pub succ: &'a [Succ],
    /// Predecessor span per node.
    pub pred_span: &'a [Span],
    /// Predecessors (CSR).
    pub pred: &'a [u32],
    /// A topological order of all nodes: the index order where every edge goes from a lower
    /// index to a higher one, otherwise the order of Kahn's algorithm (roots first).
    pub topo: &'a [u32],
    /// Nodes with no predecessors that are not iterator bodies: where a run starts.
    pub roots: &'a [u32],
    /// Item slots a run needs (sum of `max_items` over iterators).
    pub items: u32,
}

impl DagView<'_> {
    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// No nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node with this name, if any.
    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .map(NodeId::from_index)
    }

    /// Successors of `node`.
    #[inline(always)]
    pub fn successors(&self, node: u32) -> &[Succ] {
        &self.succ[self.succ_span[node as usize].range()]
    }

    /// Predecessors of `node`.
    #[inline(always)]
    pub fn predecessors(&self, node: u32) -> &[u32] {
        &self.pred[self.pred_span[node as usize].range()]
    }

    /// Whether a run of this DAG can execute serially, in [`topo`](Self::topo) order without
    /// readiness counting: every node is a [`NodeKind::Task`] or a [`NodeKind::Condition`]
    /// whose retry policy has no back-off (no iterator to fan out, no retry to wait for). A
    /// loop over the nodes.
    pub fn runs_serially(&self) -> bool {
        self.nodes.iter().all(|n| {
            matches!(n.kind, NodeKind::Task | NodeKind::Condition) && n.retry.backoff_ticks == 0
        })
    }
}

impl core::error::Error for DagError {}
