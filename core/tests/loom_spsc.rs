//! loom models of the SPSC queue (`ring::spsc`): a producer and a consumer thread on a queue
//! of capacity 2 or 4, with positions that cross `usize::MAX`, every interleaving up to
//! `LOOM_MAX_PREEMPTIONS`.
//!
//! The queue's cells come from the `sync` shim, so loom tracks every slot access made by
//! `push`/`pop` and the slice copies (slot by slot in loom builds): a consumer reading a slot
//! before the producer's write is visible, or a producer overwriting a slot the consumer has
//! not finished reading, fails the model even when the values look right. The models also
//! check the values (each once, in order) and that the races of interest were reached (a full
//! queue, an empty one; see `loom_ring.rs` on loom's reduction).
//!
//! Run with `.ci/loom.sh`.
#![cfg(loom)]

mod common;

use common::{assert_reached, explore};
use loom::sync::Arc;
use loom::thread;
use ringdag_core::ring::spsc::{Consumer, Producer, Queue};

/// The queue's two handles, free of its borrow so that they can move to loom threads (which
/// need `'static`; loom has no scoped threads).
///
/// # Safety
///
/// The caller keeps `queue` alive until every thread holding a handle has been joined.
unsafe fn handles<const N: usize>(
    queue: &Arc<Queue<u64, N>>,
) -> (Producer<'static, u64, N>, Consumer<'static, u64, N>) {
    let (tx, rx) = queue.try_split().expect("first split");
    // SAFETY: the caller's contract: the queue outlives the handles' use.
    unsafe {
        (
            core::mem::transmute::<Producer<'_, u64, N>, Producer<'static, u64, N>>(tx),
            core::mem::transmute::<Consumer<'_, u64, N>, Consumer<'static, u64, N>>(rx),
        )
    }
}

/// Values 1..=3 through a queue of two, across the position wrap: every slot is reused.
#[test]
fn values_arrive_once_in_order_through_reused_slots() {
    let seen = explore(|| {
        let queue = Arc::new(Queue::<u64, 2>::starting_at(usize::MAX));
        // SAFETY: `queue` lives to the end of this closure; the producer is joined before.
        let (mut tx, mut rx) = unsafe { handles(&queue) };
        let producer = thread::spawn(move || {
            let mut full = 0;
            for v in 1..=3u64 {
                while tx.push(v).is_err() {
                    full += 1;
                    thread::yield_now();
                }
            }
            full
        });
        let mut got = Vec::new();
        let mut empty = 0;
        while got.len() < 3 {
            match rx.pop() {
                Some(v) => got.push(v),
                None => {
                    empty += 1;
                    thread::yield_now();
                }
            }
        }
        assert_eq!(got, [1, 2, 3]);
        let full = producer.join().unwrap();
        (full > 0, empty > 0)
    });
    assert_reached(&seen, "the producer found the queue full", |o| o.0);
    assert_reached(&seen, "the consumer found the queue empty", |o| o.1);
}

/// Slices across the wrap of a queue of four: the producer pushes 1..=5 as slices of up to
/// three, the consumer pops slices of up to two; each value once, in order.
#[test]
fn slices_cross_the_wrap_in_order() {
    let seen = explore(|| {
        let queue = Arc::new(Queue::<u64, 4>::starting_at(usize::MAX - 1));
        // SAFETY: as above.
        let (mut tx, mut rx) = unsafe { handles(&queue) };
        let producer = thread::spawn(move || {
            let values = [1u64, 2, 3, 4, 5];
            let mut sent = 0;
            let mut partial = false;
            while sent < values.len() {
                let want = (values.len() - sent).min(3);
                let n = tx.push_slice(&values[sent..sent + want]);
                partial |= n > 0 && n < want;
                sent += n;
                if n == 0 {
                    thread::yield_now();
                }
            }
            partial
        });
        let mut got = Vec::new();
        let mut buf = [0u64; 2];
        while got.len() < 5 {
            let n = rx.pop_slice(&mut buf);
            got.extend_from_slice(&buf[..n]);
            if n == 0 {
                thread::yield_now();
            }
        }
        assert_eq!(got, [1, 2, 3, 4, 5]);
        producer.join().unwrap()
    });
    assert_reached(&seen, "a slice only partly fitted", |&p| p);
}

/// A third thread reading `Queue::len` while one value goes through: it never sees more than
/// one value (in particular, never an empty queue as full, from a stale `tail` against a newer
/// `head`).
#[test]
fn len_never_reads_an_empty_queue_as_full() {
    let seen = explore(|| {
        let queue = Arc::new(Queue::<u64, 2>::new());
        // SAFETY: as above.
        let (mut tx, mut rx) = unsafe { handles(&queue) };
        let observer = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || queue.len())
        };
        let producer = thread::spawn(move || tx.push(7).is_ok());
        let popped = loop {
            if let Some(v) = rx.pop() {
                break v;
            }
            thread::yield_now();
        };
        assert_eq!(popped, 7);
        assert!(producer.join().unwrap());
        let len = observer.join().unwrap();
        assert!(
            len <= 1,
            "len() = {len} with at most one value in the queue"
        );
        len
    });
    assert_reached(&seen, "the observer saw the value in the queue", |&l| {
        l == 1
    });
    assert_reached(&seen, "the observer saw it empty", |&l| l == 0);
}
