//! Exactly-once dropping: every value that enters a ring is dropped exactly once, by the ring
//! if it is still inside when the ring drops, by its new owner otherwise; panics in `Drop` or
//! while preparing a batch never cause a double drop, a leak or a gap in the ring.
//!
//! Each test has its own [`DropLog`] (one counter per value id), so tests can run in parallel.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use ringdag::heapless::Vec as HVec;
use ringdag::ring::spsc::Queue;
use ringdag::ring::{RingBuffer, StreamingRingBuffer};

/// How many times each value id was dropped.
struct DropLog {
    counts: Vec<AtomicUsize>,
}

impl DropLog {
    fn new(ids: usize) -> Self {
        Self {
            counts: (0..ids).map(|_| AtomicUsize::new(0)).collect(),
        }
    }

    /// A value with id `id` that counts its drop here.
    fn value(&self, id: usize) -> Tracked<'_> {
        Tracked {
            id,
            log: self,
            panics: false,
        }
    }

    /// A value whose `Drop` counts, then panics.
    fn panicking(&self, id: usize) -> Tracked<'_> {
        Tracked {
            id,
            log: self,
            panics: true,
        }
    }

    fn drops(&self, id: usize) -> usize {
        self.counts[id].load(Relaxed)
    }

    /// Asserts the drop count of every id in `ids`.
    #[track_caller]
    fn assert_dropped(&self, ids: impl IntoIterator<Item = usize>, times: usize) {
        for id in ids {
            assert_eq!(
                self.drops(id),
                times,
                "value {id} dropped {} times",
                self.drops(id)
            );
        }
    }
}

/// A value that records its drop (and may panic in `Drop`).
#[derive(Debug)]
struct Tracked<'a> {
    id: usize,
    log: &'a DropLog,
    panics: bool,
}

impl std::fmt::Debug for DropLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DropLog")
    }
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.log.counts[self.id].fetch_add(1, Relaxed);
        if self.panics && !std::thread::panicking() {
            panic!("value {} panics in Drop (expected by the test)", self.id);
        }
    }
}

fn ids<'a>(values: impl IntoIterator<Item = &'a Tracked<'a>>) -> Vec<usize> {
    values.into_iter().map(|v| v.id).collect()
}

// ---------------------------------------------------------------------------------------
// RingBuffer

#[test]
fn values_left_in_the_ring_are_dropped_once_when_it_drops() {
    for start in [0, 3, usize::MAX - 1, usize::MAX] {
        let log = DropLog::new(8);
        let ring = RingBuffer::<Tracked, 4>::starting_at(start);
        for id in 0..4 {
            ring.push(log.value(id)).unwrap();
        }
        let a = ring.pop().unwrap();
        let b = ring.pop().unwrap();
        // The next two values wrap around the slot array (and `usize` for the high starts).
        ring.push(log.value(4)).unwrap();
        ring.push(log.value(5)).unwrap();
        log.assert_dropped(0..8, 0);
        drop(ring);
        log.assert_dropped(2..6, 1);
        log.assert_dropped([0, 1], 0); // popped: owned by the test, not by the ring
        assert_eq!((a.id, b.id), (0, 1));
        drop((a, b));
        log.assert_dropped(0..6, 1);
        log.assert_dropped(6..8, 0);
    }
}

#[test]
fn popped_values_are_not_dropped_by_the_ring() {
    let log = DropLog::new(6);
    let ring = RingBuffer::<Tracked, 8>::new();
    let mut items: HVec<Tracked, 6> = (0..6).map(|id| log.value(id)).collect();
    assert_eq!(ring.push_batch(&mut items), 6);
    let one = ring.pop().unwrap();
    let mut batch: HVec<Tracked, 3> = HVec::new();
    assert_eq!(ring.pop_batch(&mut batch), 3);
    assert_eq!(ids(&batch), [1, 2, 3]);
    log.assert_dropped(0..6, 0);
    drop(ring);
    log.assert_dropped([4, 5], 1);
    log.assert_dropped(0..4, 0);
    drop(one);
    drop(batch);
    log.assert_dropped(0..6, 1);
}

#[test]
fn push_into_a_full_ring_gives_the_value_back_undropped() {
    let log = DropLog::new(2);
    let ring = RingBuffer::<Tracked, 1>::new();
    ring.push(log.value(0)).unwrap();
    let back = ring.push(log.value(1)).unwrap_err();
    assert_eq!(back.id, 1);
    log.assert_dropped(0..2, 0);
    drop(back);
    drop(ring);
    log.assert_dropped(0..2, 1);
}

#[test]
fn panicking_drop_while_the_ring_drops_still_drops_the_rest_once() {
    // The panicking value first, in the middle and last among the values left in the ring,
    // with head and tail at different slots.
    for panicker in 0..4 {
        let log = DropLog::new(6);
        let ring = RingBuffer::<Tracked, 4>::new();
        ring.push(log.value(4)).unwrap();
        ring.push(log.value(5)).unwrap();
        drop((ring.pop(), ring.pop()));
        for id in 0..4 {
            let value = if id == panicker {
                log.panicking(id)
            } else {
                log.value(id)
            };
            ring.push(value).unwrap();
        }
        let result = catch_unwind(AssertUnwindSafe(move || drop(ring)));
        assert!(result.is_err(), "the Drop panic must propagate");
        log.assert_dropped(0..6, 1);
    }
}

#[test]
fn push_batch_leaves_the_rest_in_the_vec_in_order_dropped_once() {
    let log = DropLog::new(8);
    let ring = RingBuffer::<Tracked, 4>::new();
    ring.push(log.value(7)).unwrap();
    let mut items: HVec<Tracked, 8> = (0..7).map(|id| log.value(id)).collect();
    assert_eq!(ring.push_batch(&mut items), 3);
    assert_eq!(
        ids(&items),
        [3, 4, 5, 6],
        "the rest stays, in order, at the front"
    );
    log.assert_dropped(0..8, 0);
    assert_eq!(ring.push_batch(&mut items), 0, "full ring");
    assert_eq!(items.len(), 4);
    drop(items);
    log.assert_dropped(3..7, 1);
    log.assert_dropped([0, 1, 2, 7], 0);
    let popped: Vec<Tracked> = std::iter::from_fn(|| ring.pop()).collect();
    assert_eq!(ids(&popped), [7, 0, 1, 2]);
    drop(popped);
    drop(ring);
    log.assert_dropped(0..8, 1);
}

#[test]
fn panic_while_building_a_batch_leaves_the_ring_usable_without_gap() {
    let log = DropLog::new(16);
    let ring = RingBuffer::<Tracked, 8>::new();
    ring.push(log.value(0)).unwrap();
    ring.push(log.value(1)).unwrap();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut batch: HVec<Tracked, 8> = (10..16)
            .map(|id| {
                if id == 13 {
                    panic!("iterator panics (expected by the test)")
                } else {
                    log.value(id)
                }
            })
            .collect();
        ring.push_batch(&mut batch)
    }));
    assert!(result.is_err());
    log.assert_dropped(10..13, 1); // built before the panic: dropped by unwinding, once
    log.assert_dropped(13..16, 0);
    assert_eq!(ring.len(), 2);
    // A batch pushed, then a panic while its rest is still in the vector.
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut batch: HVec<Tracked, 8> = (2..9).map(|id| log.value(id)).collect();
        assert_eq!(ring.push_batch(&mut batch), 6);
        panic!("caller panics holding the rest (expected by the test)");
    }));
    assert!(result.is_err());
    log.assert_dropped([8], 1);
    assert!(ring.is_full());
    let mut out: HVec<Tracked, 8> = HVec::new();
    assert_eq!(ring.pop_batch(&mut out), 8);
    assert_eq!(ids(&out), [0, 1, 2, 3, 4, 5, 6, 7], "no gap");
    log.assert_dropped(0..8, 0);
    drop(out);
    drop(ring);
    log.assert_dropped(0..9, 1);
    log.assert_dropped(10..13, 1);
    log.assert_dropped([9, 13, 14, 15], 0); // never built
}

#[test]
fn pop_batch_appends_without_dropping_or_duplicating() {
    let log = DropLog::new(6);
    let ring = RingBuffer::<Tracked, 4>::starting_at(usize::MAX - 1);
    let mut items: HVec<Tracked, 4> = (0..4).map(|id| log.value(id)).collect();
    assert_eq!(ring.push_batch(&mut items), 4);
    let mut out: HVec<Tracked, 4> = HVec::new();
    out.push(log.value(4)).unwrap();
    out.push(log.value(5)).unwrap();
    assert_eq!(ring.pop_batch(&mut out), 2);
    assert_eq!(ids(&out), [4, 5, 0, 1]);
    assert_eq!(ring.pop_batch(&mut out), 0, "full vector");
    log.assert_dropped(0..6, 0);
    drop(ring);
    log.assert_dropped([2, 3], 1);
    drop(out);
    log.assert_dropped(0..6, 1);
}

#[test]
fn streaming_ring_drops_values_left_once() {
    let log = DropLog::new(5);
    let ring = StreamingRingBuffer::<Tracked, 8, 2>::new();
    for id in 0..5 {
        ring.push(log.value(id)).unwrap();
    }
    let batch = ring.pop_batch();
    assert_eq!(ids(&batch), [0, 1]);
    drop(ring);
    log.assert_dropped(2..5, 1);
    log.assert_dropped(0..2, 0);
    drop(batch);
    log.assert_dropped(0..5, 1);
}

// ---------------------------------------------------------------------------------------
// spsc::Queue

#[test]
fn spsc_values_left_in_the_queue_are_dropped_once_when_it_drops() {
    let log = DropLog::new(6);
    let mut queue = Queue::<Tracked, 4>::new();
    let (mut tx, mut rx) = queue.split();
    for id in 0..3 {
        tx.push(log.value(id)).unwrap();
    }
    let a = rx.pop().unwrap();
    let b = rx.pop().unwrap();
    assert_eq!(tx.push_iter((3..6).map(|id| log.value(id))), 3); // wraps the buffer
    log.assert_dropped(0..6, 0);
    drop(queue);
    log.assert_dropped(2..6, 1);
    log.assert_dropped(0..2, 0);
    drop((a, b));
    log.assert_dropped(0..6, 1);
}

#[test]
fn spsc_push_into_a_full_queue_gives_the_value_back_undropped() {
    let log = DropLog::new(2);
    let mut queue = Queue::<Tracked, 1>::new();
    let (mut tx, _rx) = queue.split();
    tx.push(log.value(0)).unwrap();
    let back = tx.push(log.value(1)).unwrap_err();
    assert_eq!(back.id, 1);
    log.assert_dropped(0..2, 0);
    drop(back);
    log.assert_dropped([1], 1);
}

#[test]
fn spsc_panicking_drop_while_the_queue_drops_still_drops_the_rest_once() {
    for panicker in 0..4 {
        let log = DropLog::new(5);
        let mut queue = Queue::<Tracked, 4>::new();
        {
            let (mut tx, mut rx) = queue.split();
            tx.push(log.value(4)).unwrap();
            drop(rx.pop()); // head and tail move off slot 0
            log.assert_dropped([4], 1);
            for id in 0..4 {
                let value = if id == panicker {
                    log.panicking(id)
                } else {
                    log.value(id)
                };
                tx.push(value).unwrap();
            }
        }
        let result = catch_unwind(AssertUnwindSafe(move || drop(queue)));
        assert!(result.is_err(), "the Drop panic must propagate");
        log.assert_dropped(0..5, 1);
    }
}

#[test]
fn spsc_read_chunk_commit_drops_committed_values_once() {
    let log = DropLog::new(4);
    let mut queue = Queue::<Tracked, 4>::new();
    let (mut tx, mut rx) = queue.split();
    assert_eq!(tx.push_iter((0..4).map(|id| log.value(id))), 4);
    {
        let chunk = rx.read_chunk(3);
        assert_eq!(chunk.len(), 3);
        let (a, b) = chunk.as_slices();
        assert_eq!(ids(a.iter().chain(b)), [0, 1, 2]);
        // Dropped without commit: nothing leaves the queue.
    }
    log.assert_dropped(0..4, 0);
    rx.read_chunk(3).commit(2);
    log.assert_dropped(0..2, 1);
    log.assert_dropped(2..4, 0);
    rx.read_chunk(9).commit(9); // clamped to the chunk
    log.assert_dropped(0..4, 1);
    assert!(rx.is_empty());
    drop(queue);
    log.assert_dropped(0..4, 1);
}

#[test]
fn spsc_read_chunk_commit_with_panicking_drop_drops_each_value_once() {
    let log = DropLog::new(4);
    let mut queue = Queue::<Tracked, 4>::new();
    let (mut tx, mut rx) = queue.split();
    tx.push(log.value(0)).unwrap();
    tx.push(log.panicking(1)).unwrap();
    tx.push(log.value(2)).unwrap();
    tx.push(log.value(3)).unwrap();
    let result = catch_unwind(AssertUnwindSafe(|| rx.read_chunk(3).commit_all()));
    assert!(result.is_err());
    log.assert_dropped(0..2, 1);
    log.assert_dropped(2..4, 0);
    // The queue is consistent: value 2 is next, nothing was released twice.
    assert_eq!(rx.len(), 2);
    assert_eq!(rx.pop().map(|v| v.id), Some(2));
    log.assert_dropped(0..3, 1);
    drop(queue);
    log.assert_dropped(0..4, 1);
}

#[test]
fn spsc_panicking_push_iter_leaves_the_queue_usable_without_gap() {
    let log = DropLog::new(8);
    let mut queue = Queue::<Tracked, 8>::new();
    let (mut tx, mut rx) = queue.split();
    let result = catch_unwind(AssertUnwindSafe(|| {
        tx.push_iter((0..6).map(|id| {
            if id == 3 {
                panic!("iterator panics (expected)")
            } else {
                log.value(id)
            }
        }))
    }));
    assert!(result.is_err());
    log.assert_dropped(0..8, 0);
    assert_eq!(rx.len(), 3, "values pushed before the panic are published");
    assert_eq!(tx.push_iter((3..6).map(|id| log.value(id))), 3);
    let popped: Vec<Tracked> = std::iter::from_fn(|| rx.pop()).collect();
    assert_eq!(ids(&popped), [0, 1, 2, 3, 4, 5], "no gap");
    drop(popped);
    log.assert_dropped(0..6, 1);
}
