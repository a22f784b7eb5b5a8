//! The ring contract on the device, single-threaded: push/pop, batches through
//! `heapless::Vec` and slices, exact Full/Empty, FIFO order with every value exactly once,
//! drops exactly once, a `static` SPSC queue split with `try_split`, and position counters
//! wrapping past `usize::MAX`.
//!
//! All four targets have a 32-bit `usize`, so `RingBuffer::starting_at(usize::MAX - 3)` is the
//! real 32-bit wrap-around proof: positions cross 2^32 within the first few pushes. The test
//! runs in the dev profile (overflow checks and debug assertions on), so an index computed
//! without wrapping arithmetic panics here instead of silently misbehaving.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

use ringdag_core::heapless::Vec;
use ringdag_core::ring::{spsc, RingBuffer};
use ringdag_qemu::println;

ringdag_qemu::test_main!(run);

fn run() {
    assert_eq!(
        usize::BITS,
        32,
        "these targets are expected to have a 32-bit usize"
    );
    smoke_static();
    batches_vec();
    batches_slice();
    full_and_empty_exact();
    wrap_around();
    model_check();
    drops_exactly_once();
    spsc_static();
}

/// A `static` ring: `const fn new`, lands in `.bss`.
static STATIC_RING: RingBuffer<u32, 8> = RingBuffer::new();

fn smoke_static() {
    let ring = &STATIC_RING;
    assert_eq!(ring.capacity(), 8);
    assert!(ring.is_empty());
    assert_eq!(ring.pop(), None);
    for i in 0..8 {
        assert_eq!(ring.push(i), Ok(()));
        assert_eq!(ring.len(), i as usize + 1);
    }
    assert!(ring.is_full());
    assert_eq!(ring.push(99), Err(99), "a full ring gives the value back");
    for i in 0..8 {
        assert_eq!(ring.pop(), Some(i), "FIFO order");
    }
    assert_eq!(ring.pop(), None);
    assert!(ring.is_empty());
    println!("  smoke_static ok");
}

fn batches_vec() {
    let ring: RingBuffer<u32, 8> = RingBuffer::new();
    let mut items: Vec<u32, 12> = (0..12).collect();
    assert_eq!(
        ring.push_batch(&mut items),
        8,
        "a batch fills the ring and stops"
    );
    assert_eq!(
        items.as_slice(),
        &[8, 9, 10, 11],
        "what did not fit stays, in order"
    );
    assert_eq!(ring.push_batch(&mut items), 0, "a full ring takes nothing");
    assert_eq!(items.len(), 4);

    let mut out: Vec<u32, 5> = Vec::new();
    assert_eq!(ring.pop_batch(&mut out), 5);
    assert_eq!(out.as_slice(), &[0, 1, 2, 3, 4]);
    assert_eq!(
        ring.pop_batch(&mut out),
        0,
        "no free space in `out`: nothing popped"
    );
    assert_eq!(ring.len(), 3);

    // The rest of the batch now fits.
    assert_eq!(ring.push_batch(&mut items), 4);
    assert!(items.is_empty());
    let mut all: Vec<u32, 16> = Vec::new();
    assert_eq!(ring.pop_batch(&mut all), 7);
    assert_eq!(all.as_slice(), &[5, 6, 7, 8, 9, 10, 11]);
    assert_eq!(ring.pop_batch(&mut all), 0, "empty ring");
    let mut empty: Vec<u32, 4> = Vec::new();
    assert_eq!(ring.push_batch(&mut empty), 0, "empty batch");
    println!("  batches_vec ok");
}

fn batches_slice() {
    let ring: RingBuffer<u16, 4> = RingBuffer::new();
    assert_eq!(ring.push_slice(&[1, 2, 3]), 3);
    assert_eq!(ring.push_slice(&[4, 5, 6]), 1, "only one slot was free");
    assert_eq!(ring.push_slice(&[7]), 0);
    let mut out = [0u16; 3];
    assert_eq!(ring.pop_slice(&mut out), 3);
    assert_eq!(out, [1, 2, 3]);
    assert_eq!(ring.pop_slice(&mut out), 1);
    assert_eq!(out[0], 4);
    assert_eq!(ring.pop_slice(&mut out), 0);
    assert_eq!(ring.push_slice(&[]), 0);
    println!("  batches_slice ok");
}

/// Full and Empty at exactly N and 0, repeatedly, at every phase of the slot array.
fn full_and_empty_exact() {
    let ring: RingBuffer<u32, 4> = RingBuffer::new();
    let mut next_in = 0u32;
    let mut next_out = 0u32;
    for phase in 0..9 {
        // Shift the phase by one slot each round.
        for _ in 0..phase % 4 {
            assert_eq!(ring.push(next_in), Ok(()));
            next_in += 1;
            assert_eq!(ring.pop(), Some(next_out));
            next_out += 1;
        }
        fill_then_drain(&ring, &mut next_in, &mut next_out);
    }
    println!("  full_and_empty_exact ok");
}

/// Fills `ring` to exactly its capacity, checks that Full is reported at N and not before,
/// then drains it and checks that Empty is reported at 0 and not before.
fn fill_then_drain<const N: usize>(
    ring: &RingBuffer<u32, N>,
    next_in: &mut u32,
    next_out: &mut u32,
) {
    for k in 0..N {
        assert!(!ring.is_full(), "full after only {} pushes", k);
        assert_eq!(ring.push(*next_in), Ok(()), "push {} of {} refused", k, N);
        *next_in += 1;
    }
    assert!(ring.is_full());
    assert_eq!(ring.len(), N);
    assert_eq!(ring.push(u32::MAX), Err(u32::MAX));
    for k in 0..N {
        assert!(!ring.is_empty(), "empty after only {} pops", k);
        assert_eq!(ring.pop(), Some(*next_out));
        *next_out += 1;
    }
    assert!(ring.is_empty());
    assert_eq!(ring.len(), 0);
    assert_eq!(ring.pop(), None);
}

/// Positions start just below `usize::MAX` (2^32 - 1 here) and at the signed-overflow
/// boundary, and run through wrap-around with single, batch and slice operations.
fn wrap_around() {
    for start in [usize::MAX - 3, usize::MAX, (isize::MAX as usize) - 2] {
        let ring: RingBuffer<u32, 4> = RingBuffer::starting_at(start);
        let mut next_in = 0u32;
        let mut next_out = 0u32;
        for _ in 0..6 {
            fill_then_drain(&ring, &mut next_in, &mut next_out);
        }
        // Batches that straddle the wrap point.
        for _ in 0..6 {
            assert_eq!(ring.push(next_in), Ok(()));
            next_in += 1;
            let batch = [next_in, next_in + 1, next_in + 2, next_in + 3];
            assert_eq!(ring.push_slice(&batch), 3, "3 of 4 slots free");
            next_in += 3;
            let mut out = [0u32; 4];
            assert_eq!(ring.pop_slice(&mut out), 4);
            assert_eq!(out, [next_out, next_out + 1, next_out + 2, next_out + 3]);
            next_out += 4;

            let mut items: Vec<u32, 6> = (next_in..next_in + 6).collect();
            assert_eq!(ring.push_batch(&mut items), 4);
            next_in += 4;
            assert_eq!(items.len(), 2);
            let mut got: Vec<u32, 8> = Vec::new();
            assert_eq!(ring.pop_batch(&mut got), 4);
            for v in got {
                assert_eq!(v, next_out);
                next_out += 1;
            }
            // The two that did not fit go in now, keeping the sequence.
            assert_eq!(items.as_slice(), &[next_in, next_in + 1]);
            assert_eq!(ring.push_batch(&mut items), 2);
            next_in += 2;
            assert_eq!(ring.pop(), Some(next_out));
            assert_eq!(ring.pop(), Some(next_out + 1));
            next_out += 2;
            assert!(ring.is_empty());
        }
        assert_eq!(next_in, next_out);
    }
    println!("  wrap_around ok (positions crossed 2^{} - 1)", usize::BITS);
}

/// xorshift32: a deterministic pseudo-random sequence.
struct Rng(u32);
impl Rng {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

/// Random mixes of every operation against a trivial model (values are 0, 1, 2, ... so the
/// model is two counters): each push succeeds exactly when the model has room, each pop
/// returns exactly the next value, and every value comes out exactly once (checked with a
/// bitmap as well as by order). Run from position 0 and across the wrap.
fn model_check() {
    const OPS: u32 = 3000;
    const LIMIT: usize = 4096;
    for (round, start) in [0, usize::MAX - 40, usize::MAX - 1].into_iter().enumerate() {
        let ring: RingBuffer<u32, 8> = RingBuffer::starting_at(start);
        let mut rng = Rng(0x9E37_79B9 ^ round as u32);
        let mut seen = [0u32; LIMIT / 32];
        let mut pushed = 0u32;
        let mut popped = 0u32;
        let mut take = |v: u32, popped: &mut u32| {
            assert_eq!(v, *popped, "FIFO order / exactly once");
            let (word, bit) = (v as usize / 32, v % 32);
            assert_eq!(seen[word] & (1 << bit), 0, "value {} seen twice", v);
            seen[word] |= 1 << bit;
            *popped += 1;
        };
        for _ in 0..OPS {
            let len = (pushed - popped) as usize;
            assert_eq!(ring.len(), len);
            let r = rng.next();
            let k = (r >> 8) as usize % 6;
            match r % 6 {
                0 => match ring.push(pushed) {
                    Ok(()) => {
                        assert!(len < 8, "push succeeded on a full ring");
                        pushed += 1;
                    }
                    Err(v) => {
                        assert_eq!(v, pushed);
                        assert_eq!(len, 8, "push refused with room");
                    }
                },
                1 => match ring.pop() {
                    Some(v) => take(v, &mut popped),
                    None => assert_eq!(len, 0, "pop found nothing in a non-empty ring"),
                },
                2 => {
                    let batch = [pushed, pushed + 1, pushed + 2, pushed + 3, pushed + 4];
                    let n = ring.push_slice(&batch[..k.min(5)]);
                    assert_eq!(n, k.min(5).min(8 - len));
                    pushed += n as u32;
                }
                3 => {
                    let mut out = [0u32; 5];
                    let n = ring.pop_slice(&mut out[..k.min(5)]);
                    assert_eq!(n, k.min(5).min(len));
                    for &v in &out[..n] {
                        take(v, &mut popped);
                    }
                }
                4 => {
                    let mut items: Vec<u32, 5> = (pushed..pushed + k.min(5) as u32).collect();
                    let n = ring.push_batch(&mut items);
                    assert_eq!(n, k.min(5).min(8 - len));
                    assert_eq!(items.len(), k.min(5) - n);
                    if let Some(&first) = items.first() {
                        assert_eq!(first, pushed + n as u32, "leftovers keep their order");
                    }
                    pushed += n as u32;
                }
                _ => {
                    let mut out: Vec<u32, 5> = Vec::new();
                    let n = ring.pop_batch(&mut out);
                    assert_eq!(n, len.min(5));
                    for v in out {
                        take(v, &mut popped);
                    }
                }
            }
            assert!((pushed as usize) < LIMIT);
        }
        while let Some(v) = ring.pop() {
            take(v, &mut popped);
        }
        assert_eq!(popped, pushed);
        let ones: u32 = seen.iter().map(|w| w.count_ones()).sum();
        assert_eq!(ones, pushed, "every pushed value popped exactly once");
        println!(
            "  model_check start={:#x}: {} values, exactly once",
            start, pushed
        );
    }
}

/// Drops counted with load/store only (thumbv6m and riscv32imc have no atomic RMW; this
/// test is single-threaded).
static DROPS: AtomicU32 = AtomicU32::new(0);

#[derive(Debug)]
struct Tracked(u32);
impl Drop for Tracked {
    fn drop(&mut self) {
        DROPS.store(DROPS.load(Relaxed) + 1, Relaxed);
    }
}

fn drops_exactly_once() {
    DROPS.store(0, Relaxed);
    {
        let ring: RingBuffer<Tracked, 4> = RingBuffer::starting_at(usize::MAX - 1);
        for i in 0..4 {
            assert!(ring.push(Tracked(i)).is_ok());
        }
        // (Values are checked through `.0`: comparing with a `Tracked` literal would drop it.)
        let refused = ring.push(Tracked(4));
        assert!(
            matches!(&refused, Err(Tracked(4))),
            "the refused value comes back"
        );
        drop(refused);
        assert_eq!(DROPS.load(Relaxed), 1);
        assert_eq!(ring.pop().map(|t| t.0), Some(0));
        assert_eq!(DROPS.load(Relaxed), 2);

        let mut items: Vec<Tracked, 4> = (10..14).map(Tracked).collect();
        assert_eq!(ring.push_batch(&mut items), 1);
        assert_eq!(
            DROPS.load(Relaxed),
            2,
            "a batch moves values, it drops none"
        );
        drop(items); // 3 left over
        assert_eq!(DROPS.load(Relaxed), 5);

        let mut out: Vec<Tracked, 2> = Vec::new();
        assert_eq!(ring.pop_batch(&mut out), 2);
        assert!(out.iter().map(|t| t.0).eq([1, 2]));
        drop(out);
        assert_eq!(DROPS.load(Relaxed), 7);
        // Two values (3 and 10) are still in the ring when it is dropped.
    }
    assert_eq!(
        DROPS.load(Relaxed),
        9,
        "the ring drops what it still holds, once"
    );
    println!("  drops_exactly_once ok");
}

/// The firmware pattern: a `static` SPSC queue, split once at start-up.
static QUEUE: spsc::Queue<u16, 8> = spsc::Queue::new();

fn spsc_static() {
    let Some((mut tx, mut rx)) = QUEUE.try_split() else {
        panic!("the first try_split must succeed");
    };
    assert!(
        QUEUE.try_split().is_none(),
        "a second split must be refused"
    );
    assert_eq!(QUEUE.capacity(), 8);
    assert!(rx.is_empty());
    assert_eq!(rx.pop(), None);

    let mut next_in = 0u16;
    let mut next_out = 0u16;
    for round in 0..20 {
        // Fill exactly to capacity, mixing single pushes and slices.
        let single = round % 4;
        for _ in 0..single {
            assert_eq!(tx.push(next_in), Ok(()));
            next_in += 1;
        }
        let rest: [u16; 8] = core::array::from_fn(|i| next_in + i as u16);
        assert_eq!(tx.push_slice(&rest), 8 - single);
        next_in += (8 - single) as u16;
        assert_eq!(tx.slots(), 0);
        assert_eq!(tx.push(u16::MAX), Err(u16::MAX), "full at exactly N");
        assert_eq!(QUEUE.len(), 8);
        assert_eq!(rx.len(), 8);

        // Drain, mixing peek/pop, a read chunk and a slice.
        assert_eq!(rx.peek(), Some(&next_out));
        assert_eq!(rx.pop(), Some(next_out));
        next_out += 1;
        let chunk = rx.read_chunk(3);
        assert_eq!(chunk.len(), 3);
        let (a, b) = chunk.as_slices();
        let mut k = next_out;
        for &v in a.iter().chain(b) {
            assert_eq!(v, k);
            k += 1;
        }
        chunk.commit(3);
        next_out += 3;
        let mut out = [0u16; 8];
        assert_eq!(rx.pop_slice(&mut out), 4);
        for &v in &out[..4] {
            assert_eq!(v, next_out);
            next_out += 1;
        }
        assert!(rx.is_empty(), "empty at exactly 0");
        assert_eq!(rx.pop(), None);
    }
    assert_eq!(tx.push_iter(100..200), 8);
    assert_eq!(rx.len(), 8);
    println!(
        "  spsc_static ok ({} values through a static queue)",
        next_out
    );
}
