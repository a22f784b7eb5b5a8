//! The root re-exports name the same types as their modules (a test file that stops compiling
//! if one of them goes or comes to name another type), and work as the README's examples do.

use std::any::TypeId;

fn same<A: 'static, B: 'static>() -> bool {
    TypeId::of::<A>() == TypeId::of::<B>()
}

#[test]
fn root_names_are_the_module_types() {
    assert!(same::<
        ringdag::RingBuffer<u32, 8>,
        ringdag::ring::RingBuffer<u32, 8>,
    >());
    assert!(same::<
        ringdag::StreamingRingBuffer<u32, 8, 4>,
        ringdag::ring::StreamingRingBuffer<u32, 8, 4>,
    >());
    assert!(same::<
        ringdag::spsc::Queue<u32, 8>,
        ringdag::ring::spsc::Queue<u32, 8>,
    >());
    assert!(same::<ringdag::DagError, ringdag::dag::DagError>());
    assert!(same::<ringdag::NodeId, ringdag::dag::NodeId>());
    assert!(same::<
        ringdag::DagBuilder<(), u32, (), 4, 4>,
        ringdag::dag::DagBuilder<(), u32, (), 4, 4>,
    >());
    assert!(same::<
        ringdag::Dag<(), u32, (), 4, 4>,
        ringdag::dag::Dag<(), u32, (), 4, 4>,
    >());
    assert!(same::<
        ringdag::Runtime<(), u32, ()>,
        ringdag::runtime::Runtime<(), u32, ()>,
    >());
    assert!(same::<
        ringdag::Graph<(), u32, ()>,
        ringdag::runtime::Graph<(), u32, ()>,
    >());
    assert!(same::<
        ringdag::RunHandle<(), u32, ()>,
        ringdag::runtime::RunHandle<(), u32, ()>,
    >());
    // Not the same type under two names by accident.
    assert!(!same::<
        ringdag::RingBuffer<u32, 8>,
        ringdag::RingBuffer<u32, 16>,
    >());
}

#[test]
fn a_ring_through_the_root_path_moves_items_in_order() {
    let ring = ringdag::RingBuffer::<u32, 4>::new();
    for i in 0..4 {
        assert_eq!(ring.push(i), Ok(()));
    }
    assert_eq!(ring.push(9), Err(9));
    assert_eq!(
        (0..4).map(|_| ring.pop()).collect::<Vec<_>>(),
        [0, 1, 2, 3].map(Some)
    );
    assert_eq!(ring.pop(), None);
}
