//! [`Context`]: what a node body sees of its run.

use core::fmt;

use crate::dag::{DagView, NodeId, NodeKind};

use super::storage::{node, ItemCell, NodeCell};
use super::RunId;

/// An iterator emitted more than its `max_items` (or a non-iterator node called
/// [`Context::emit`]). The run fails with
/// [`RunError::TooManyItems`](super::RunError::TooManyItems).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyItems {
    /// The limit.
    pub max: u16,
}

impl fmt::Display for TooManyItems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "more than {} items", self.max)
    }
}

/// The view a node body has of its run: the run's input, its predecessors' values, the item
/// it processes (iterator bodies), and the ways to answer (choose a branch, emit items).
pub struct Context<'a, I, V> {
    pub(crate) input: &'a I,
    pub(crate) run: RunId,
    pub(crate) node: u32,
    pub(crate) attempt: u32,
    pub(crate) now: u32,
    pub(crate) dag: &'a DagView<'a>,
    /// This run's node cells.
    pub(crate) cells: &'a [NodeCell<V>],
    /// The item storage of all runs, and where this run's begins.
    pub(crate) items: &'a [ItemCell<V>],
    pub(crate) item_base: usize,
    pub(crate) item: Option<(usize, V)>,
    pub(crate) emit_offset: usize,
    pub(crate) emit_max: u16,
    pub(crate) emitted: usize,
    pub(crate) overflowed: bool,
    pub(crate) choice: Option<u8>,
}

impl<I, V> fmt::Debug for Context<'_, I, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("run", &self.run)
            .field("node", &self.dag.nodes[self.node as usize].name)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl<'a, I, V: Copy> Context<'a, I, V> {
    /// The run's input.
    pub fn input(&self) -> &'a I {
        self.input
    }

    /// The run.
    pub fn run(&self) -> RunId {
        self.run
    }

    /// This node.
    pub fn node(&self) -> NodeId {
        NodeId(self.node)
    }

    /// This node's name.
    pub fn name(&self) -> &'static str {
        self.dag.nodes[self.node as usize].name
    }

    /// Attempt number: 0 on the first try, 1 on the first retry, ...
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The tick when this execution started.
    pub fn now(&self) -> u32 {
        self.now
    }

    /// The tick by which this node must return, if it has a timeout.
    pub fn deadline(&self) -> Option<u32> {
        self.dag.nodes[self.node as usize]
            .timeout_ticks
            .map(|t| self.now.wrapping_add(t))
    }

    /// The value of `node` in this run, if it has run and succeeded (always the case for a
    /// direct predecessor that was not skipped).
    pub fn value(&self, node: NodeId) -> Option<V> {
        let cell = self.cells.get(node.index())?;
        // Acquire: pairs with the Release store of DONE in `Engine::mark_done`; the value
        // write happens-before our read.
        let state = cell.state.load(crate::sync::Ordering::Acquire);
        if !node::is_done(state, self.run.generation()) {
            return None;
        }
        // SAFETY: DONE is set only after the value was written, and it is never written again
        // during this run (the run cannot be recycled while one of its nodes executes).
        Some(cell.value.with(|p| unsafe { (*p).assume_init_read() }))
    }

    /// The values of the direct predecessors that ran (skipped ones are left out), in
    /// node-index order.
    pub fn inputs(&self) -> impl Iterator<Item = (NodeId, V)> + '_ {
        self.dag
            .predecessors(self.node)
            .iter()
            .filter_map(move |&p| {
                let id = NodeId(p);
                self.value(id).map(|v| (id, v))
            })
    }

    /// For an iterator body: the index of the item and the item.
    pub fn item(&self) -> Option<(usize, V)> {
        self.item
    }

    /// The results of iterator `iterator`'s body, in item order, once the iterator is done
    /// (always the case for its successors). Empty otherwise.
    pub fn items(&self, iterator: NodeId) -> &'a [V] {
        let Some(info) = self.dag.nodes.get(iterator.index()) else {
            return &[];
        };
        let NodeKind::Iterator {
            body, item_offset, ..
        } = info.kind
        else {
            return &[];
        };
        // Acquire: pairs with the Release store of DONE on the iterator, which follows the
        // last body result (AcqRel chain on the body cell's `pending`) and the body cell's
        // item count.
        let state = self.cells[iterator.index()]
            .state
            .load(crate::sync::Ordering::Acquire);
        if !node::is_done(state, self.run.generation()) {
            return &[];
        }
        let count = (self.cells[body.index()]
            .state
            .load(crate::sync::Ordering::Relaxed)
            >> node::COUNT_SHIFT) as usize;
        let start = self.item_base + item_offset as usize;
        let cells = &self.items[start..start + count];
        // SAFETY: `ItemCell<V>` is `repr(transparent)` over `UnsafeCell<MaybeUninit<V>>` (also
        // transparent), so the cells have `V`'s layout; all `count` items were written by the
        // body and are not written again during this run (see the Acquire above).
        unsafe { core::slice::from_raw_parts(cells.as_ptr().cast::<V>(), count) }
    }

    /// For a condition: take the branches labelled `label` (or the default branch if none
    /// carries it). Without a call, the default branch is taken.
    pub fn choose(&mut self, label: u8) {
        self.choice = Some(label);
    }

    /// For an iterator: emit one item, to be processed by the body.
    ///
    /// # Errors
    ///
    /// [`TooManyItems`] past the iterator's `max_items` (or in a node that is not an
    /// iterator); the run then fails with `RunError::TooManyItems` even if the body returns
    /// `Ok`.
    pub fn emit(&mut self, item: V) -> Result<(), TooManyItems> {
        if self.emitted >= self.emit_max as usize {
            self.overflowed = true;
            return Err(TooManyItems { max: self.emit_max });
        }
        let cell = &self.items[self.item_base + self.emit_offset + self.emitted];
        // SAFETY: this iterator execution is the only one touching its item range (the body
        // tokens are published after it returns).
        cell.value.with_mut(|p| unsafe { (*p).write(item) });
        self.emitted += 1;
        Ok(())
    }

    /// Items emitted so far.
    pub fn emitted(&self) -> usize {
        self.emitted
    }
}
