//! Validation and compact adjacency, over caller-provided buffers (static arrays on
//! firmware, vectors in the runtime), so the same checks serve both. `const fn`, so a DAG
//! declared in a `const` or `static` is validated at compile time.

use super::{DagError, Edge, EdgeLabel, NodeHot, NodeInfo, NodeKind, RetryPolicy, Span, Succ};

/// Output buffers for [`compile`]: `n` = number of nodes, `e` = number of edges.
#[derive(Debug)]
pub struct CompileBuffers<'a> {
    /// `n` entries.
    pub succ_span: &'a mut [Span],
    /// `n` entries: the scheduler's packed per-node words.
    pub hot: &'a mut [NodeHot],
    /// `e` entries.
    pub succ: &'a mut [Succ],
    /// `n` entries.
    pub pred_span: &'a mut [Span],
    /// `e` entries.
    pub pred: &'a mut [u32],
    /// `n` entries.
    pub topo: &'a mut [u32],
    /// `n` entries; the first [`Compiled::roots`] are used.
    pub roots: &'a mut [u32],
    /// `n` entries of scratch space.
    pub scratch: &'a mut [u32],
}

/// What [`compile`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compiled {
    /// Number of roots written to `roots`.
    pub roots: usize,
    /// Item slots a run needs.
    pub items: u32,
}

const fn is_body(kind: NodeKind) -> bool {
    matches!(kind, NodeKind::Body { .. })
}

/// Validates `nodes` and `edges` and fills the adjacency buffers.
///
/// Assigns each iterator's `item_offset`. Predecessor lists come out sorted by node index;
/// successor lists keep declaration order.
///
/// # Errors
///
/// Any [`DagError`]: unknown node, self-loop, duplicate edge, cycle (naming a node on it),
/// a condition without exactly one default branch, a branch label outside a condition, an
/// iterator without its body, a body with edges, more than 65 535 predecessors, a bad retry
/// policy, or buffers of the wrong size.
pub const fn compile(
    nodes: &mut [NodeInfo],
    edges: &[Edge],
    buf: CompileBuffers<'_>,
) -> Result<Compiled, DagError> {
    let n = nodes.len();
    let e = edges.len();
    if buf.succ_span.len() < n
        || buf.hot.len() < n
        || buf.pred_span.len() < n
        || buf.topo.len() < n
        || buf.roots.len() < n
        || buf.scratch.len() < n
        || buf.succ.len() < e
        || buf.pred.len() < e
        || n >= u32::MAX as usize
        || e >= u32::MAX as usize
    {
        return Err(DagError::BufferTooSmall);
    }

    // Nodes: retry policies, iterator/body pairing, item offsets.
    let mut items: u32 = 0;
    let mut i = 0;
    while i < n {
        let info = nodes[i];
        if info.retry.attempts == 0 || info.retry.attempts > RetryPolicy::MAX_ATTEMPTS {
            return Err(DagError::BadRetryPolicy { node: info.name });
        }
        match info.kind {
            NodeKind::Iterator {
                body, max_items, ..
            } => {
                let b = body.index();
                let paired = b < n
                    && matches!(nodes[b].kind, NodeKind::Body { iterator } if iterator.index() == i);
                if !paired {
                    return Err(DagError::MissingBody { node: info.name });
                }
                nodes[i].kind = NodeKind::Iterator {
                    body,
                    max_items,
                    item_offset: items,
                };
                items += max_items as u32;
            }
            NodeKind::Body { iterator } => {
                let it = iterator.index();
                if it >= n {
                    return Err(DagError::UnknownNode { name: info.name });
                }
                if !matches!(nodes[it].kind, NodeKind::Iterator { body, .. } if body.index() == i) {
                    return Err(DagError::MissingBody {
                        node: nodes[it].name,
                    });
                }
            }
            NodeKind::Task | NodeKind::Condition => {}
        }
        i += 1;
    }

    // Edges: endpoints, self-loops, labels; out- and in-degrees.
    let mut v = 0;
    while v < n {
        buf.scratch[v] = 0;
        buf.pred_span[v] = Span { start: 0, len: 0 };
        v += 1;
    }
    let mut k = 0;
    while k < e {
        let edge = edges[k];
        let (from, to) = (edge.from.index(), edge.to.index());
        if from >= n || to >= n {
            return Err(DagError::UnknownNode { name: "?" });
        }
        if from == to {
            return Err(DagError::SelfLoop {
                node: nodes[from].name,
            });
        }
        if is_body(nodes[from].kind) {
            return Err(DagError::BodyWithEdges {
                node: nodes[from].name,
            });
        }
        if is_body(nodes[to].kind) {
            return Err(DagError::BodyWithEdges {
                node: nodes[to].name,
            });
        }
        if !matches!(edge.label, EdgeLabel::Always)
            && !matches!(nodes[from].kind, NodeKind::Condition)
        {
            return Err(DagError::BranchOutsideCondition {
                node: nodes[from].name,
            });
        }
        buf.scratch[from] += 1;
        buf.pred_span[to].len += 1;
        k += 1;
    }

    // Successor CSR (declaration order kept) and predecessor CSR.
    let mut start = 0;
    let mut v = 0;
    while v < n {
        buf.succ_span[v] = Span { start, len: 0 };
        start += buf.scratch[v];
        v += 1;
    }
    let mut start = 0;
    let mut v = 0;
    while v < n {
        let len = buf.pred_span[v].len;
        if len > u16::MAX as u32 {
            return Err(DagError::TooManyPredecessors {
                node: nodes[v].name,
            });
        }
        buf.pred_span[v] = Span { start, len: 0 };
        start += len;
        v += 1;
    }
    let mut k = 0;
    while k < e {
        let edge = edges[k];
        let (from, to) = (edge.from.index(), edge.to.index());
        let s = buf.succ_span[from];
        buf.succ[(s.start + s.len) as usize] = Succ {
            to: to as u32,
            label: Succ::encode(edge.label),
            preds: 0,
        };
        buf.succ_span[from].len += 1;
        let p = buf.pred_span[to];
        buf.pred[(p.start + p.len) as usize] = from as u32;
        buf.pred_span[to].len += 1;
        k += 1;
    }

    // Each edge carries its target's in-degree (checked above to fit in u16): the scheduler
    // hands a target with one predecessor on without counting, and re-arms the others' counters
    // from it.
    let mut a = 0;
    while a < e {
        buf.succ[a].preds = buf.pred_span[buf.succ[a].to as usize].len as u16;
        a += 1;
    }

    // Duplicates (insertion-sorted predecessor lists), conditions' default branches.
    let mut v = 0;
    while v < n {
        let span = buf.pred_span[v];
        let (lo, hi) = (span.start as usize, (span.start + span.len) as usize);
        let mut a = lo + 1;
        while a < hi {
            let x = buf.pred[a];
            let mut b = a;
            while b > lo && buf.pred[b - 1] > x {
                buf.pred[b] = buf.pred[b - 1];
                b -= 1;
            }
            buf.pred[b] = x;
            a += 1;
        }
        let mut a = lo + 1;
        while a < hi {
            if buf.pred[a] == buf.pred[a - 1] {
                return Err(DagError::DuplicateEdge {
                    from: nodes[buf.pred[a] as usize].name,
                    to: nodes[v].name,
                });
            }
            a += 1;
        }
        if matches!(nodes[v].kind, NodeKind::Condition) {
            let s = buf.succ_span[v];
            let mut defaults = 0;
            let mut a = s.start as usize;
            while a < (s.start + s.len) as usize {
                if buf.succ[a].label == Succ::DEFAULT {
                    defaults += 1;
                }
                a += 1;
            }
            if defaults != 1 {
                return Err(DagError::MissingDefault {
                    node: nodes[v].name,
                });
            }
        }
        v += 1;
    }

    // Kahn's algorithm; `scratch` holds the remaining in-degree.
    let mut roots = 0;
    let mut tail = 0;
    let mut v = 0;
    while v < n {
        buf.scratch[v] = buf.pred_span[v].len;
        if buf.scratch[v] == 0 {
            buf.topo[tail] = v as u32;
            tail += 1;
            if !is_body(nodes[v].kind) {
                buf.roots[roots] = v as u32;
                roots += 1;
            }
        }
        v += 1;
    }
    let mut head = 0;
    while head < tail {
        let v = buf.topo[head] as usize;
        head += 1;
        let s = buf.succ_span[v];
        let mut a = s.start as usize;
        while a < (s.start + s.len) as usize {
            let t = buf.succ[a].to as usize;
            buf.scratch[t] -= 1;
            if buf.scratch[t] == 0 {
                buf.topo[tail] = t as u32;
                tail += 1;
            }
            a += 1;
        }
    }
    if tail == n {
        // Where every edge goes from a lower index to a higher one (a generated graph, or one
        // declared in order), the index order is a topological order too, and the one a
        // serial run walks memory in: the nodes' descriptions and cells one after the other.
        let mut forward = true;
        let mut v = 0;
        while v < n && forward {
            let s = buf.succ_span[v];
            let mut a = s.start as usize;
            while a < (s.start + s.len) as usize {
                if buf.succ[a].to as usize <= v {
                    forward = false;
                    break;
                }
                a += 1;
            }
            v += 1;
        }
        if forward {
            let mut v = 0;
            while v < n {
                buf.topo[v] = v as u32;
                v += 1;
            }
        }
    }
    if tail < n {
        // Every unsorted node has an unsorted predecessor; walking predecessors n times from
        // one of them must end on a cycle.
        let mut v = 0;
        while buf.scratch[v] == 0 {
            v += 1;
        }
        let mut step = 0;
        while step < n {
            let s = buf.pred_span[v];
            let mut a = s.start as usize;
            while a < (s.start + s.len) as usize {
                let p = buf.pred[a] as usize;
                if buf.scratch[p] > 0 {
                    v = p;
                    break;
                }
                a += 1;
            }
            step += 1;
        }
        return Err(DagError::Cycle {
            node: nodes[v].name,
        });
    }
    let mut v = 0;
    while v < n {
        buf.hot[v] = match NodeHot::new(&nodes[v], buf.succ_span[v]) {
            Some(h) => h,
            None => {
                return Err(DagError::TooManyEdges {
                    capacity: NodeHot::MAX_SUCCESSORS as usize,
                })
            }
        };
        v += 1;
    }
    Ok(Compiled { roots, items })
}
