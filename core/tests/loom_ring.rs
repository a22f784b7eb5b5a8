//! loom models of the MPMC ring: the interleavings (up to `LOOM_MAX_PREEMPTIONS`) of 2 or 3
//! threads on a ring of capacity 1 to 4.
//!
//! loom's `UnsafeCell` tracking (the ring's cells come from the `sync` shim) reports any slot
//! access that is not ordered after the previous one by happens-before: a consumer reading a
//! slot that a producer has claimed but not yet published, or a producer overwriting a slot a
//! consumer is still reading, fails the model even when the values happen to look right. The
//! models also check the values: each one popped exactly once, in each producer's order.
//!
//! Threads never retry in a loop: each does a fixed number of operations and records what it
//! got (`Full`/`Empty` included); the main thread spawns, joins and drains the rest (in one
//! model it also pushes a slice while the consumers pop).
//!
//! loom 0.7's partial-order reduction skips some interleavings (tokio-rs/loom#166, #392: it
//! remembers only the last access per atomic, and a spawned thread that starts with a load can
//! end the search early). So every model also records its outcomes across all runs and asserts
//! that the interesting ones were reached (e.g. "a producer reused a slot freed by a concurrent
//! pop and the consumer popped the new value"). Where loom does not reach one by itself, a
//! `Relaxed` flag steers the schedule: `Relaxed` creates no happens-before edge, so it hides no
//! missing synchronisation in the ring.
//!
//! Run with `.ci/loom.sh`:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p ringdag-core --release
//! --test loom_ring --target-dir target/loom`.
#![cfg(loom)]

mod common;

use common::{assert_reached, explore};
use loom::sync::atomic::AtomicBool;
use loom::sync::Arc;
use loom::thread;
use ringdag_core::heapless::Vec as HVec;
use ringdag_core::ring::RingBuffer;
use std::sync::atomic::Ordering::Relaxed;

/// Spins (yielding to loom) until `flag` is set. `Relaxed`: steers the schedule without
/// creating a happens-before edge.
fn wait_for(flag: &AtomicBool) {
    while !flag.load(Relaxed) {
        thread::yield_now();
    }
}

/// Values are `producer * 100 + sequence`.
fn producer_of(value: u64) -> u64 {
    value / 100
}

/// Checks one run: `pushed[p]` are the values producer `p` pushed successfully, in order,
/// `popped[c]` what consumer `c` got, in order, and `rest` what the main thread drained after
/// joining. Every pushed value comes out exactly once; each consumer, and the drain, see each
/// producer's values in push order.
fn check_exactly_once(pushed: &[Vec<u64>], popped: &[Vec<u64>], rest: &[u64]) {
    let mut all_pushed: Vec<u64> = pushed.iter().flatten().copied().collect();
    let mut all_popped: Vec<u64> = popped.iter().flatten().chain(rest).copied().collect();
    for seq in popped.iter().map(Vec::as_slice).chain([rest]) {
        for p in 0..pushed.len() as u64 {
            let mine: Vec<u64> = seq
                .iter()
                .copied()
                .filter(|&v| producer_of(v) == p)
                .collect();
            assert!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "producer {p} out of order: {seq:?}"
            );
        }
    }
    all_pushed.sort_unstable();
    all_popped.sort_unstable();
    assert_eq!(
        all_pushed, all_popped,
        "pushed {pushed:?}, popped {popped:?} + {rest:?}"
    );
}

fn drain<const N: usize>(ring: &RingBuffer<u64, N>) -> Vec<u64> {
    let rest: Vec<u64> = std::iter::from_fn(|| ring.pop()).collect();
    assert!(ring.is_empty());
    rest
}

/// Pushes `count` values of producer `p` with single pushes, stopping at the first `Full`.
fn push_some<const N: usize>(ring: &RingBuffer<u64, N>, p: u64, count: u64) -> Vec<u64> {
    let mut pushed = Vec::new();
    for i in 0..count {
        let v = p * 100 + i;
        match ring.push(v) {
            Ok(()) => pushed.push(v),
            Err(back) => {
                assert_eq!(back, v, "push must give the value back");
                break;
            }
        }
    }
    pushed
}

/// Pops `tries` times (single pops), keeping what it got.
fn pop_some<const N: usize>(ring: &RingBuffer<u64, N>, tries: usize) -> Vec<u64> {
    (0..tries).filter_map(|_| ring.pop()).collect()
}

fn spawn<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> thread::JoinHandle<R> {
    thread::spawn(f)
}

type Outcome = (Vec<Vec<u64>>, Vec<Vec<u64>>, Vec<u64>);

#[test]
fn two_producers_one_consumer_every_value_once_in_order() {
    let outcomes = explore(|| {
        // Counters just below usize::MAX: the runs cross the wrap.
        let ring = Arc::new(RingBuffer::<u64, 2>::starting_at(usize::MAX));
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let ring = ring.clone();
                spawn(move || push_some(&ring, p, 2))
            })
            .collect();
        let consumer = {
            let ring = ring.clone();
            spawn(move || pop_some(&ring, 2))
        };
        let pushed: Vec<Vec<u64>> = producers.into_iter().map(|h| h.join().unwrap()).collect();
        let popped = vec![consumer.join().unwrap()];
        let rest = drain(&ring);
        check_exactly_once(&pushed, &popped, &rest);
        (pushed, popped, rest)
    });
    assert_reached(
        &outcomes,
        "the consumer popped from both producers",
        |(_, c, _)| {
            c[0].iter().any(|&v| producer_of(v) == 0) && c[0].iter().any(|&v| producer_of(v) == 1)
        },
    );
    assert_reached(
        &outcomes,
        "a third push into a slot freed by a concurrent pop",
        |(p, ..)| p.iter().map(Vec::len).sum::<usize>() >= 3,
    );
}

#[test]
fn one_producer_two_consumers_every_value_once_in_order() {
    let outcomes = explore(|| {
        let ring = Arc::new(RingBuffer::<u64, 2>::starting_at(usize::MAX - 1));
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let ring = ring.clone();
                spawn(move || pop_some(&ring, 2))
            })
            .collect();
        let producer = {
            let ring = ring.clone();
            spawn(move || push_some(&ring, 0, 3))
        };
        let pushed = vec![producer.join().unwrap()];
        let popped: Vec<Vec<u64>> = consumers.into_iter().map(|h| h.join().unwrap()).collect();
        let rest = drain(&ring);
        check_exactly_once(&pushed, &popped, &rest);
        (pushed, popped, rest)
    });
    assert_reached(
        &outcomes,
        "both consumers got a value",
        |(_, c, _): &Outcome| c.iter().all(|c| !c.is_empty()),
    );
    assert_reached(
        &outcomes,
        "the third push reused a popped slot",
        |(p, ..)| p[0].len() == 3,
    );
}

#[test]
fn push_batch_races_single_pops() {
    let outcomes = explore(|| {
        let ring = Arc::new(RingBuffer::<u64, 4>::starting_at(usize::MAX - 1));
        ring.push(99).unwrap(); // the batch starts mid-ring and wraps the slot array
        let consumer = {
            let ring = ring.clone();
            spawn(move || pop_some(&ring, 3))
        };
        let producer = {
            let ring = ring.clone();
            spawn(move || {
                let mut items: HVec<u64, 4> = HVec::from_slice(&[100, 101, 102, 103]).unwrap();
                let n = ring.push_batch(&mut items);
                assert!(
                    (3..=4).contains(&n),
                    "3 free slots, 4 once 99 is popped: {n}"
                );
                let rest: Vec<u64> = (100 + n as u64..104).collect();
                assert_eq!(items.as_slice(), &rest[..], "the rest stays, in order");
                n
            })
        };
        let n = producer.join().unwrap();
        let popped = consumer.join().unwrap();
        let rest = drain(&ring);
        let pushed = vec![vec![99], (100..100 + n as u64).collect()];
        check_exactly_once(&pushed, std::slice::from_ref(&popped), &rest);
        (n, popped)
    });
    assert_reached(
        &outcomes,
        "the batch took the slot the pop freed",
        |(n, _)| *n == 4,
    );
    assert_reached(&outcomes, "a pop took a batch value", |(_, c)| {
        c.iter().any(|&v| v >= 100)
    });
}

#[test]
fn push_slice_races_single_pops() {
    let outcomes = explore(|| {
        let ring = Arc::new(RingBuffer::<u64, 2>::starting_at(usize::MAX));
        let consumer = {
            let ring = ring.clone();
            spawn(move || pop_some(&ring, 2))
        };
        let producer = {
            let ring = ring.clone();
            spawn(move || ring.push_slice(&[0, 1, 2]))
        };
        assert_eq!(producer.join().unwrap(), 2, "an empty ring of 2 takes 2");
        let popped = consumer.join().unwrap();
        check_exactly_once(&[vec![0, 1]], std::slice::from_ref(&popped), &drain(&ring));
        popped
    });
    assert_reached(&outcomes, "a pop between the two publications", |c| {
        c.as_slice() == [0]
    });
    assert_reached(&outcomes, "both values popped", |c| c.len() == 2);
}

#[test]
fn pop_batch_and_pop_slice_race_two_producers() {
    let outcomes = explore(|| {
        let ring = Arc::new(RingBuffer::<u64, 4>::new());
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let ring = ring.clone();
                spawn(move || {
                    let v = [p * 100, p * 100 + 1];
                    let n = ring.push_slice(&v);
                    v[..n].to_vec()
                })
            })
            .collect();
        let consumer = {
            let ring = ring.clone();
            spawn(move || {
                let mut out: HVec<u64, 3> = HVec::new();
                ring.pop_batch(&mut out);
                let mut got = out.to_vec();
                let mut buf = [0u64; 2];
                let n = ring.pop_slice(&mut buf);
                got.extend_from_slice(&buf[..n]);
                got
            })
        };
        let pushed: Vec<Vec<u64>> = producers.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(
            pushed.iter().map(Vec::len).sum::<usize>(),
            4,
            "4 values fit in 4 slots"
        );
        let popped = vec![consumer.join().unwrap()];
        check_exactly_once(&pushed, &popped, &drain(&ring));
        popped
    });
    assert_reached(
        &outcomes,
        "the consumer got values from both producers",
        |c| c[0].iter().any(|&v| producer_of(v) == 0) && c[0].iter().any(|&v| producer_of(v) == 1),
    );
}

/// Producers A and B claim slots 0 and 1 in either order; whichever publishes first, a
/// consumer must never read a slot before its producer published it (loom's cell tracking
/// fails the model if it does), and what it reads is a value that was pushed, once. The batch
/// pop must stop at an unpublished slot instead of skipping it.
#[test]
fn consumer_never_reads_a_claimed_but_unpublished_slot() {
    let outcomes = explore(|| {
        let ring = Arc::new(RingBuffer::<u64, 2>::new());
        let producers: Vec<_> = [7u64, 8]
            .into_iter()
            .map(|v| {
                let ring = ring.clone();
                spawn(move || ring.push(v).unwrap()) // 2 slots, 2 values: never full
            })
            .collect();
        let consumer = {
            let ring = ring.clone();
            spawn(move || {
                let single = ring.pop();
                let mut batch: HVec<u64, 2> = HVec::new();
                ring.pop_batch(&mut batch);
                single.into_iter().chain(batch).collect::<Vec<u64>>()
            })
        };
        for h in producers {
            h.join().unwrap();
        }
        let got = consumer.join().unwrap();
        for v in &got {
            assert!(*v == 7 || *v == 8, "read a value never pushed: {v}");
        }
        let mut all: Vec<u64> = got.iter().copied().chain(drain(&ring)).collect();
        all.sort_unstable();
        assert_eq!(all, [7, 8]);
        got
    });
    assert_reached(&outcomes, "the consumer got nothing", Vec::is_empty);
    assert_reached(&outcomes, "the consumer got one value", |c| c.len() == 1);
    assert_reached(&outcomes, "the consumer got both", |c| c.len() == 2);
}

/// Capacity 1: every push reuses the slot a pop just freed. The producer must not write the
/// slot before the consumer that popped its previous value finished reading it, and the
/// consumer must see the new value only once it is published. Two `Relaxed` flags steer the
/// schedule (pop, then push, then pop) so that loom explores the reuse (see the module docs);
/// the loads of the ring may still see older values, which loom explores too.
#[test]
fn producer_never_overwrites_a_slot_still_being_read() {
    let outcomes = explore(|| {
        let ring = Arc::new(RingBuffer::<u64, 1>::starting_at(usize::MAX));
        ring.push(100).unwrap(); // producer 1's value: the slot is full at the start
        let popped_once = Arc::new(AtomicBool::new(false));
        let pushed_all = Arc::new(AtomicBool::new(false));
        let consumer = {
            let (ring, popped_once, pushed_all) =
                (ring.clone(), popped_once.clone(), pushed_all.clone());
            spawn(move || {
                let mut got: Vec<u64> = ring.pop().into_iter().collect();
                popped_once.store(true, Relaxed);
                wait_for(&pushed_all);
                got.extend(ring.pop());
                got
            })
        };
        let producer = {
            let (ring, popped_once, pushed_all) =
                (ring.clone(), popped_once.clone(), pushed_all.clone());
            spawn(move || {
                wait_for(&popped_once);
                let pushed = push_some(&ring, 0, 2);
                pushed_all.store(true, Relaxed);
                pushed
            })
        };
        let pushed = producer.join().unwrap();
        let popped = consumer.join().unwrap();
        let rest = drain(&ring);
        check_exactly_once(
            &[pushed.clone(), vec![100]],
            std::slice::from_ref(&popped),
            &rest,
        );
        (pushed, popped)
    });
    assert_reached(
        &outcomes,
        "the consumer popped the value pushed into the freed slot",
        |o| o.1.as_slice() == [100, 0],
    );
}

/// Two batch consumers against a batch producer across the position wrap, capacity 2: the
/// ring starts full (producer 0's two values) one position before the wrap; two threads each
/// pop a batch of up to 2 while the main thread pushes producer 1's two values as one slice,
/// once the first consumer has popped (a `Relaxed` flag steers the schedule; left alone, loom
/// explores only the push before both pops). Each batch claims with one compare-exchange
/// after checking its slots are published, so the two consumers never claim the same slot
/// (loom's cell tracking), every value comes out once, and each consumer sees each
/// producer's values in order.
#[test]
fn two_batch_consumers_race_a_batch_producer_across_the_wrap() {
    let outcomes = explore(|| {
        let ring = Arc::new(RingBuffer::<u64, 2>::starting_at(usize::MAX - 1));
        assert_eq!(ring.push_slice(&[0, 1]), 2);
        let popped_once = Arc::new(AtomicBool::new(false));
        let consumers: Vec<_> = (0..2)
            .map(|c| {
                let (ring, flag) = (ring.clone(), popped_once.clone());
                spawn(move || {
                    let mut out: HVec<u64, 2> = HVec::new();
                    ring.pop_batch(&mut out);
                    if c == 0 {
                        flag.store(true, Relaxed);
                    }
                    out.to_vec()
                })
            })
            .collect();
        wait_for(&popped_once);
        let mine = [100, 101];
        let n = ring.push_slice(&mine);
        let popped: Vec<Vec<u64>> = consumers.into_iter().map(|h| h.join().unwrap()).collect();
        let pushed = vec![vec![0, 1], mine[..n].to_vec()];
        check_exactly_once(&pushed, &popped, &drain(&ring));
        (n, popped)
    });
    assert_reached(
        &outcomes,
        "the whole slice went in, across the wrap",
        |(n, _)| *n == 2,
    );
    assert_reached(
        &outcomes,
        "the producer found the ring full (the old values not yet taken, or claimed and not yet published)",
        |(n, p)| *n == 0 && p.iter().any(|c| c == &[0, 1]),
    );
    assert_reached(
        &outcomes,
        "the second consumer got values pushed meanwhile",
        |(_, p)| p[1].iter().any(|&v| producer_of(v) == 1),
    );
}
