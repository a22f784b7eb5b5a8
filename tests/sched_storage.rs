//! `Engine::new` checks the storage it is given against the DAG and returns a
//! `StorageError` for storage that does not fit, never a panic, even for strides whose product
//! with the run count does not fit in a `usize`.

use ringdag::dag::{Dag, DagBuilder};
use ringdag::ring::RingBuffer;
use ringdag::sched::{
    Context, Engine, Entry, ItemCell, NoHooks, NodeCell, RunId, RunSlot, Shared, StorageError,
};

type Cx<'a> = Context<'a, u32, u32>;

fn one(_: &mut Cx<'_>) -> Result<u32, ()> {
    Ok(1)
}

/// `a -> b`, no iterators (so no item storage is needed).
fn dag() -> Dag<u32, u32, (), 2, 1> {
    DagBuilder::new()
        .task("a", one)
        .task("b", one)
        .edge("a", "b")
        .build()
        .unwrap()
}

/// `Engine::new` over `runs` run slots and the given cells, strides and items; whether it
/// accepted them, and if it did, whether a run through them completes.
fn build(
    runs: usize,
    cells: usize,
    stride: usize,
    items: usize,
    item_stride: usize,
) -> Result<(), StorageError> {
    let dag = dag();
    let runs: Vec<RunSlot<u32, ()>> = (0..runs).map(|_| RunSlot::new()).collect();
    let cells: Vec<NodeCell<u32>> = (0..cells).map(|_| NodeCell::new()).collect();
    let items: Vec<ItemCell<u32>> = (0..items).map(|_| ItemCell::new()).collect();
    let high = RingBuffer::<Entry, 8>::new();
    let low = RingBuffer::<Entry, 8>::new();
    let results = RingBuffer::<RunId, 4>::new();
    let shared = Shared::new();
    // SAFETY: the view is a built DAG's and the storage is fresh; `new` checks its sizes (what
    // this test is about).
    let engine = unsafe {
        Engine::new(
            dag.view(),
            &runs,
            &cells,
            stride,
            &items,
            item_stride,
            [&high, &low],
            Some(&results),
            &shared,
            &NoHooks,
        )
    }?;
    let id = engine.submit(7).unwrap();
    while engine.step(&dag, 8) > 0 {}
    let done = engine.take(id).expect("the run completes");
    assert_eq!(done.outcome(), Ok(()));
    Ok(())
}

#[test]
fn storage_that_fits_is_accepted_and_runs() {
    assert_eq!(build(1, 2, 2, 0, 0), Ok(()));
    assert_eq!(build(3, 6, 2, 0, 0), Ok(()));
    // A wider stride leaves gaps between the runs' cells.
    assert_eq!(build(2, 9, 4, 0, 0), Ok(()));
}

#[test]
fn no_run_slots_is_a_limits_error() {
    assert_eq!(build(0, 2, 2, 0, 0), Err(StorageError::Limits));
}

#[test]
fn a_stride_below_the_node_count_or_too_few_cells_is_a_cells_error() {
    assert_eq!(build(1, 2, 1, 0, 0), Err(StorageError::Cells));
    assert_eq!(build(2, 3, 2, 0, 0), Err(StorageError::Cells));
}

#[test]
fn strides_whose_product_overflows_are_errors_not_panics() {
    // `runs * stride` does not fit in a usize: no slice is that long.
    assert_eq!(build(2, 2, usize::MAX, 0, 0), Err(StorageError::Cells));
    assert_eq!(build(3, 6, usize::MAX / 2, 0, 0), Err(StorageError::Cells));
    assert_eq!(build(2, 4, 2, 0, usize::MAX), Err(StorageError::Items));
}
