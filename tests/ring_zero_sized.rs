//! Zero-sized values: a ring of `()` counts pushes and pops exactly like any other ring, and
//! zero-sized values with a `Drop` are dropped exactly once.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::thread;

use ringdag::heapless::Vec as HVec;
use ringdag::ring::spsc::Queue;
use ringdag::ring::{RingBuffer, StreamingRingBuffer};

#[test]
fn ring_of_unit_counts_pushes_and_pops_exactly() {
    for start in [0, usize::MAX - 2] {
        let ring = RingBuffer::<(), 4>::starting_at(start);
        for lap in 0..3 {
            for i in 0..4 {
                assert_eq!(ring.len(), i, "lap {lap}");
                assert_eq!(ring.push(()), Ok(()));
            }
            assert!(ring.is_full());
            assert_eq!(ring.push(()), Err(()));
            for i in (0..4).rev() {
                assert_eq!(ring.pop(), Some(()));
                assert_eq!(ring.len(), i);
            }
            assert_eq!(ring.pop(), None);
            assert!(ring.is_empty());
        }
        assert_eq!(ring.push_slice(&[(); 10]), 4);
        assert_eq!(ring.push_slice(&[()]), 0);
        let mut out = [(); 3];
        assert_eq!(ring.pop_slice(&mut out), 3);
        assert_eq!(ring.len(), 1);
        let mut items: HVec<(), 8> = HVec::new();
        items.extend([(); 8]);
        assert_eq!(ring.push_batch(&mut items), 3);
        assert_eq!(items.len(), 5);
        let mut popped: HVec<(), 8> = HVec::new();
        assert_eq!(ring.pop_batch(&mut popped), 4);
        assert_eq!(popped.len(), 4);
        assert!(ring.is_empty());
    }
}

#[test]
fn streaming_ring_of_unit_pops_at_most_b() {
    let ring = StreamingRingBuffer::<(), 8, 3>::new();
    assert_eq!(ring.push_slice(&[(); 7]), 7);
    assert_eq!(ring.pop_batch().len(), 3);
    assert_eq!(ring.pop_batch().len(), 3);
    assert_eq!(ring.pop_batch().len(), 1);
    assert_eq!(ring.pop_batch().len(), 0);
}

#[test]
fn spsc_queue_of_unit_counts_pushes_and_pops_exactly() {
    let mut queue = Queue::<(), 4>::new();
    let (mut tx, mut rx) = queue.split();
    for _ in 0..3 {
        assert_eq!(tx.push_slice(&[(); 6]), 4);
        assert_eq!(tx.push(()), Err(()));
        assert_eq!(rx.len(), 4);
        assert_eq!(rx.peek(), Some(&()));
        let chunk = rx.read_chunk(3);
        assert_eq!(chunk.len(), 3);
        let (a, b) = chunk.as_slices();
        assert_eq!(a.len() + b.len(), 3);
        chunk.commit(2);
        assert_eq!(rx.pop_slice(&mut [(); 8]), 2);
        assert_eq!(rx.pop(), None);
        assert_eq!(tx.push_iter(std::iter::repeat_n((), 9)), 4);
        assert_eq!(tx.slots(), 0);
        assert_eq!(rx.pop_slice(&mut [(); 8]), 4);
    }
}

#[test]
fn zero_sized_values_with_drop_are_dropped_exactly_once() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct Token;
    impl Drop for Token {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Relaxed);
        }
    }
    let ring = RingBuffer::<Token, 8>::new();
    for _ in 0..6 {
        ring.push(Token).map_err(drop).unwrap();
    }
    let kept = [ring.pop().unwrap(), ring.pop().unwrap()];
    assert_eq!(DROPS.load(Relaxed), 0);
    drop(ring);
    assert_eq!(DROPS.load(Relaxed), 4);
    drop(kept);
    assert_eq!(DROPS.load(Relaxed), 6);

    let mut queue = Queue::<Token, 4>::new();
    let (mut tx, mut rx) = queue.split();
    assert_eq!(tx.push_iter((0..3).map(|_| Token)), 3);
    rx.read_chunk(1).commit_all();
    assert_eq!(DROPS.load(Relaxed), 7);
    // The handles' borrows end here (last use above); dropping the queue drops the rest.
    drop(queue);
    assert_eq!(DROPS.load(Relaxed), 9);
}

#[test]
fn ring_of_unit_counts_exactly_under_contention() {
    const PER_PRODUCER: usize = if cfg!(miri) { 20 } else { 100_000 };
    let ring = RingBuffer::<(), 4>::new();
    let popped = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut pushed = 0;
                while pushed < PER_PRODUCER {
                    if pushed % 2 == 0 {
                        let n = ring.push_slice(&[(); 3][..3.min(PER_PRODUCER - pushed)]);
                        pushed += n;
                        if n == 0 {
                            thread::yield_now();
                        }
                    } else if ring.push(()).is_ok() {
                        pushed += 1;
                    } else {
                        thread::yield_now();
                    }
                }
            });
        }
        for _ in 0..2 {
            s.spawn(|| {
                let mut buf = [(); 3];
                while popped.load(Relaxed) < 2 * PER_PRODUCER {
                    let n = ring.pop_slice(&mut buf) + usize::from(ring.pop().is_some());
                    if n == 0 {
                        thread::yield_now();
                    }
                    popped.fetch_add(n, Relaxed);
                }
            });
        }
    });
    assert_eq!(
        popped.load(Relaxed),
        2 * PER_PRODUCER,
        "every unit popped exactly once"
    );
    assert!(ring.is_empty());
    assert_eq!(ring.pop(), None);
}
