//! Exactly-once stress tests: many producers and consumers, single and batch operations mixed.
//!
//! Every item is a `[u64; 4]` whose four words encode the same (producer, sequence) pair in
//! four different ways, so a torn read (words from two different writes) is detected. Each
//! test checks that every item is popped exactly once, that each consumer sees each
//! producer's items in the order they were pushed, and that no payload is torn.
//!
//! Threads on `Full`/`Empty` spin a little, then yield: the test machines have few cores.
//! If any thread panics, a shared flag stops the others, so a failure never hangs the test.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::thread;

use ringdag::heapless::Vec as HVec;
use ringdag::ring::spsc::Queue;
use ringdag::ring::RingBuffer;

type Payload = [u64; 4];

/// Longest batch a thread moves at once.
const MAX_BATCH: usize = 8;

/// Items pushed per (producers, consumers) configuration. 9 configurations per capacity and
/// 3 capacities: 27 * 40_000 = 1.08 * 10^6 items, each pushed and popped once (> 2 * 10^6
/// operations). Under Miri, 16.
const ITEMS_PER_CONFIG: usize = if cfg!(miri) { 16 } else { 40_000 };

/// Producer and consumer counts tried for each capacity.
const THREAD_COUNTS: &[usize] = if cfg!(miri) { &[1, 2] } else { &[1, 2, 4] };

fn encode(producer: usize, seq: usize) -> Payload {
    let w = ((producer as u64) << 40) | seq as u64;
    [
        w,
        !w,
        w.rotate_left(17) ^ 0xA5A5_5A5A_0F0F_F0F0,
        w.wrapping_mul(0x9E37_79B9_7F4A_7C15),
    ]
}

/// The (producer, sequence) an item encodes; panics on a torn payload.
fn decode(item: &Payload) -> (usize, usize) {
    let w = item[0];
    let (producer, seq) = ((w >> 40) as usize, (w & ((1 << 40) - 1)) as usize);
    assert_eq!(*item, encode(producer, seq), "torn payload {item:x?}");
    (producer, seq)
}

/// A tiny xorshift generator: each thread picks its operations from its own seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Waits a little after `Full`/`Empty`; gives the core away after a few tries.
fn back_off(failures: &mut u32) {
    *failures += 1;
    if *failures < 8 {
        std::hint::spin_loop();
    } else {
        thread::yield_now();
    }
}

/// Sets `stop` if the thread that owns it panics, so the other threads give up.
struct StopOnPanic<'a>(&'a AtomicBool);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.store(true, Relaxed);
        }
    }
}

/// What every consumer checks about each item it pops.
struct Checker<'a> {
    /// `seen[producer * per_producer + seq]`: how many times the item was popped.
    seen: &'a [AtomicU8],
    per_producer: usize,
    /// Last sequence number this consumer saw from each producer.
    last: Vec<Option<usize>>,
}

impl Checker<'_> {
    fn check(&mut self, item: &Payload) {
        let (producer, seq) = decode(item);
        assert!(seq < self.per_producer, "sequence {seq} out of range");
        if let Some(prev) = self.last[producer] {
            assert!(seq > prev, "producer {producer}: saw {seq} after {prev}");
        }
        self.last[producer] = Some(seq);
        let was = self.seen[producer * self.per_producer + seq].fetch_add(1, Relaxed);
        assert_eq!(was, 0, "item ({producer}, {seq}) popped twice");
    }
}

/// Runs `producers` x `consumers` threads over one ring of capacity `N`; each producer pushes
/// `per_producer` items with a random mix of `push`, `push_batch` and `push_slice`, each
/// consumer pops with `pop`, `pop_batch` and `pop_slice` until all items are out.
fn mpmc_round<const N: usize>(producers: usize, consumers: usize, per_producer: usize) {
    let ring = RingBuffer::<Payload, N>::new();
    let total = producers * per_producer;
    let seen: Vec<AtomicU8> = (0..total).map(|_| AtomicU8::new(0)).collect();
    let popped = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);

    thread::scope(|s| {
        for p in 0..producers {
            let (ring, stop) = (&ring, &stop);
            s.spawn(move || {
                let _guard = StopOnPanic(stop);
                let mut rng = Rng(0x1234_5678 + p as u64 * 7919);
                let mut seq = 0;
                let mut failures = 0;
                while seq < per_producer && !stop.load(Relaxed) {
                    let k = (1 + rng.below(MAX_BATCH)).min(per_producer - seq);
                    match rng.below(3) {
                        0 => match ring.push(encode(p, seq)) {
                            Ok(()) => seq += 1,
                            Err(back) => {
                                assert_eq!(decode(&back), (p, seq), "push must return the value");
                                back_off(&mut failures);
                            }
                        },
                        1 => {
                            let mut items: HVec<Payload, MAX_BATCH> =
                                (seq..seq + k).map(|i| encode(p, i)).collect();
                            let n = ring.push_batch(&mut items);
                            assert_eq!(items.len(), k - n, "push_batch keeps the rest");
                            for (i, item) in items.iter().enumerate() {
                                assert_eq!(decode(item), (p, seq + n + i), "rest in order");
                            }
                            seq += n;
                            if n == 0 {
                                back_off(&mut failures);
                            }
                        }
                        _ => {
                            let items: Vec<Payload> =
                                (seq..seq + k).map(|i| encode(p, i)).collect();
                            let n = ring.push_slice(&items);
                            assert!(n <= k);
                            seq += n;
                            if n == 0 {
                                back_off(&mut failures);
                            }
                        }
                    }
                }
            });
        }
        for c in 0..consumers {
            let (ring, stop, seen, popped) = (&ring, &stop, &seen, &popped);
            s.spawn(move || {
                let _guard = StopOnPanic(stop);
                let mut rng = Rng(0x9876_5432 + c as u64 * 104_729);
                let mut checker = Checker {
                    seen,
                    per_producer,
                    last: vec![None; producers],
                };
                let mut failures = 0;
                while popped.load(Relaxed) < total && !stop.load(Relaxed) {
                    let k = 1 + rng.below(MAX_BATCH);
                    let n = match rng.below(3) {
                        0 => match ring.pop() {
                            Some(item) => {
                                checker.check(&item);
                                1
                            }
                            None => 0,
                        },
                        1 => {
                            // Some of the room is already used: pop_batch appends after it.
                            let mut out: HVec<Payload, MAX_BATCH> = HVec::new();
                            let pre = rng.below(MAX_BATCH);
                            out.resize(pre, encode(0, 0)).unwrap();
                            let n = ring.pop_batch(&mut out);
                            assert_eq!(out.len(), pre + n);
                            out[pre..].iter().for_each(|item| checker.check(item));
                            n
                        }
                        _ => {
                            let mut out = [[0u64; 4]; MAX_BATCH];
                            let n = ring.pop_slice(&mut out[..k]);
                            assert!(n <= k);
                            out[..n].iter().for_each(|item| checker.check(item));
                            n
                        }
                    };
                    if n == 0 {
                        back_off(&mut failures);
                    } else {
                        popped.fetch_add(n, Relaxed);
                    }
                }
            });
        }
    });

    assert!(!stop.load(Relaxed));
    assert_eq!(popped.load(Relaxed), total);
    assert!(
        ring.is_empty(),
        "ring not empty after all items were popped"
    );
    let missing = seen.iter().filter(|s| s.load(Relaxed) != 1).count();
    assert_eq!(missing, 0, "{missing} items not popped exactly once");
}

fn mpmc_all_thread_counts<const N: usize>() {
    for &producers in THREAD_COUNTS {
        for &consumers in THREAD_COUNTS {
            mpmc_round::<N>(producers, consumers, ITEMS_PER_CONFIG / producers);
        }
    }
}

#[test]
fn mpmc_every_item_once_in_producer_order_untorn_capacity_2() {
    mpmc_all_thread_counts::<2>();
}

#[test]
fn mpmc_every_item_once_in_producer_order_untorn_capacity_4() {
    mpmc_all_thread_counts::<4>();
}

#[test]
#[cfg_attr(
    miri,
    ignore = "no wrap-around with Miri's item counts: capacities 2 and 4 cover it"
)]
fn mpmc_every_item_once_in_producer_order_untorn_capacity_1024() {
    mpmc_all_thread_counts::<1024>();
}

/// Items through the SPSC queue per capacity.
const SPSC_ITEMS: usize = if cfg!(miri) { 48 } else { 300_000 };

/// One producer (push, push_slice, push_iter) and one consumer (pop, pop_slice, read_chunk
/// with partial commits, peek) on two threads: every item arrives once, in order, untorn.
fn spsc_round<const N: usize>() {
    let mut queue = Queue::<Payload, N>::new();
    let (mut tx, mut rx) = queue.split();
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        let stop = &stop;
        s.spawn(move || {
            let _guard = StopOnPanic(stop);
            let mut rng = Rng(42);
            let mut seq = 0;
            let mut failures = 0;
            while seq < SPSC_ITEMS && !stop.load(Relaxed) {
                let k = (1 + rng.below(MAX_BATCH)).min(SPSC_ITEMS - seq);
                let n = match rng.below(3) {
                    0 => tx.push(encode(0, seq)).map_or(0, |()| 1),
                    1 => {
                        let items: Vec<Payload> = (seq..seq + k).map(|i| encode(0, i)).collect();
                        tx.push_slice(&items)
                    }
                    _ => tx.push_iter((seq..seq + k).map(|i| encode(0, i))),
                };
                seq += n;
                if n == 0 {
                    back_off(&mut failures);
                }
            }
        });
        s.spawn(move || {
            let _guard = StopOnPanic(stop);
            let mut rng = Rng(4242);
            let next = Cell::new(0);
            let mut failures = 0;
            let mut expect = |item: &Payload| {
                assert_eq!(decode(item), (0, next.get()), "spsc order");
                next.set(next.get() + 1);
            };
            while next.get() < SPSC_ITEMS && !stop.load(Relaxed) {
                let before = next.get();
                match rng.below(4) {
                    0 => {
                        if let Some(item) = rx.pop() {
                            expect(&item);
                        }
                    }
                    1 => {
                        let mut out = [[0u64; 4]; MAX_BATCH];
                        let n = rx.pop_slice(&mut out[..1 + rng.below(MAX_BATCH)]);
                        out[..n].iter().for_each(&mut expect);
                    }
                    2 => {
                        let chunk = rx.read_chunk(1 + rng.below(MAX_BATCH));
                        let (a, b) = chunk.as_slices();
                        let take = rng.below(chunk.len() + 1);
                        a.iter().chain(b).take(take).for_each(&mut expect);
                        chunk.commit(take);
                    }
                    _ => {
                        if let Some(item) = rx.peek() {
                            decode(item);
                            let item = *item;
                            assert_eq!(rx.pop(), Some(item), "pop returns what peek showed");
                            expect(&item);
                        }
                    }
                }
                if next.get() == before {
                    back_off(&mut failures);
                }
            }
        });
    });
    assert!(!stop.load(Relaxed));
    assert!(queue.is_empty());
}

#[test]
fn spsc_every_item_once_in_order_untorn_with_slices_and_chunks() {
    spsc_round::<1>();
    spsc_round::<4>();
    if !cfg!(miri) {
        spsc_round::<1024>();
    }
}
