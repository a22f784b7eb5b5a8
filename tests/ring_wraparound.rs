//! Full and Empty stay exact when the position counters wrap.
//!
//! `RingBuffer::starting_at(usize::MAX - k)` places head and tail `k + 1` steps below the
//! wrap of `usize`; the tests then fill, drain and cycle the ring through that point with
//! single, batch and slice operations, for every phase of the slot array. They also start
//! just below `2^(BITS - 2)` and `2^(BITS - 1)`, where the doubled lap base in the slot stamps
//! changes sign and wraps. 32-bit widths are covered by running this suite on armv7.

use ringdag::heapless::Vec as HVec;
use ringdag::ring::RingBuffer;

/// Starting points: `k` steps below each boundary, `k` in `0..3N + 2` (several laps, every
/// slot phase). Under Miri (which checks memory, not arithmetic) only `k` in `0..N + 2` below
/// `usize::MAX`: every phase still.
fn starts(n: usize) -> Vec<usize> {
    if cfg!(miri) {
        return (0..n + 2).map(|k| usize::MAX - k).collect();
    }
    let mut v = Vec::new();
    for k in 0..3 * n + 2 {
        v.push(usize::MAX - k);
        v.push((usize::MAX >> 1) - k);
        v.push((usize::MAX >> 2) - k);
    }
    v
}

/// Laps to run past each starting point.
const LAPS: usize = if cfg!(miri) { 2 } else { 6 };

fn assert_full<const N: usize>(ring: &RingBuffer<u32, N>, start: usize) {
    assert_eq!(ring.len(), N, "start {start:#x}");
    assert!(ring.is_full(), "start {start:#x}: not full");
    assert!(!ring.is_empty(), "start {start:#x}");
    assert_eq!(
        ring.push(u32::MAX),
        Err(u32::MAX),
        "start {start:#x}: push into full ring"
    );
    assert_eq!(
        ring.push_slice(&[1]),
        0,
        "start {start:#x}: push_slice into full ring"
    );
    let mut items: HVec<u32, 2> = HVec::from_slice(&[1, 2]).unwrap();
    assert_eq!(
        ring.push_batch(&mut items),
        0,
        "start {start:#x}: push_batch into full ring"
    );
    assert_eq!(items.as_slice(), &[1, 2]);
}

fn assert_empty<const N: usize>(ring: &RingBuffer<u32, N>, start: usize) {
    assert_eq!(ring.len(), 0, "start {start:#x}");
    assert!(ring.is_empty(), "start {start:#x}: not empty");
    assert!(!ring.is_full(), "start {start:#x}");
    assert_eq!(ring.pop(), None, "start {start:#x}: pop from empty ring");
    assert_eq!(
        ring.pop_slice(&mut [0; 2]),
        0,
        "start {start:#x}: pop_slice from empty ring"
    );
    let mut out: HVec<u32, 2> = HVec::new();
    assert_eq!(
        ring.pop_batch(&mut out),
        0,
        "start {start:#x}: pop_batch from empty ring"
    );
}

/// Single operations: fill to exactly Full, drain to exactly Empty, lap after lap.
fn single_ops_fill_and_drain<const N: usize>() {
    for start in starts(N) {
        let ring = RingBuffer::<u32, N>::starting_at(start);
        assert_empty(&ring, start);
        let mut next = 0u32;
        for _ in 0..LAPS {
            for i in 0..N {
                assert_eq!(ring.len(), i);
                assert_eq!(ring.push(next + i as u32), Ok(()), "start {start:#x}");
            }
            assert_full(&ring, start);
            for i in 0..N {
                assert_eq!(ring.pop(), Some(next + i as u32), "start {start:#x}");
            }
            assert_empty(&ring, start);
            next += N as u32;
        }
    }
}

/// Batch and slice operations: `push_batch` of `N + 1` moves exactly `N`, `pop_batch` takes
/// them all back in order; the same with slices; each lap crosses the wrap at a new phase.
fn batch_ops_fill_and_drain<const N: usize>() {
    for start in starts(N) {
        let ring = RingBuffer::<u32, N>::starting_at(start);
        let mut next = 0u32;
        for lap in 0..LAPS {
            // Shift the phase by one position each lap.
            assert_eq!(ring.push(1000), Ok(()));
            assert_eq!(ring.pop(), Some(1000));
            let values: Vec<u32> = (next..next + N as u32 + 1).collect();
            if lap % 2 == 0 {
                let mut items: HVec<u32, 8> = values.iter().copied().collect();
                assert_eq!(ring.push_batch(&mut items), N, "start {start:#x}");
                assert_eq!(items.as_slice(), &values[N..], "start {start:#x}: rest");
            } else {
                assert_eq!(ring.push_slice(&values), N, "start {start:#x}");
            }
            assert_full(&ring, start);
            if lap % 3 == 0 {
                let mut out = [0u32; 8];
                assert_eq!(ring.pop_slice(&mut out), N, "start {start:#x}");
                assert_eq!(&out[..N], &values[..N]);
            } else {
                let mut out: HVec<u32, 8> = HVec::new();
                assert_eq!(ring.pop_batch(&mut out), N, "start {start:#x}");
                assert_eq!(out.as_slice(), &values[..N]);
            }
            assert_empty(&ring, start);
            next += 100;
        }
    }
}

/// Keeps `fill` values in the ring while pushing and popping one at a time across the wrap:
/// `len` stays exact and Full appears exactly when `fill == N`.
fn steady_fill_level<const N: usize>() {
    for start in starts(N) {
        for fill in 1..=N {
            let ring = RingBuffer::<u32, N>::starting_at(start);
            for i in 0..fill as u32 {
                ring.push(i).unwrap();
            }
            for step in 0..2 * N as u32 + 2 {
                let (next_out, next_in) = (step, fill as u32 + step);
                assert_eq!(ring.len(), fill);
                assert_eq!(ring.is_full(), fill == N, "start {start:#x} fill {fill}");
                if fill == N {
                    assert_eq!(ring.push(7), Err(7));
                }
                assert_eq!(ring.pop(), Some(next_out), "start {start:#x} fill {fill}");
                assert_eq!(ring.push(next_in), Ok(()), "start {start:#x} fill {fill}");
            }
        }
    }
}

#[test]
fn full_and_empty_exact_across_usize_wrap_single_ops_capacity_1() {
    single_ops_fill_and_drain::<1>();
}

#[test]
fn full_and_empty_exact_across_usize_wrap_single_ops_capacity_2() {
    single_ops_fill_and_drain::<2>();
}

#[test]
fn full_and_empty_exact_across_usize_wrap_single_ops_capacity_4() {
    single_ops_fill_and_drain::<4>();
}

#[test]
fn full_and_empty_exact_across_usize_wrap_batch_ops_capacity_1() {
    batch_ops_fill_and_drain::<1>();
}

#[test]
fn full_and_empty_exact_across_usize_wrap_batch_ops_capacity_2() {
    batch_ops_fill_and_drain::<2>();
}

#[test]
fn full_and_empty_exact_across_usize_wrap_batch_ops_capacity_4() {
    batch_ops_fill_and_drain::<4>();
}

#[test]
fn len_exact_at_every_fill_level_across_usize_wrap() {
    steady_fill_level::<1>();
    steady_fill_level::<2>();
    steady_fill_level::<4>();
}

#[test]
fn starting_at_behaves_like_new() {
    let fresh = RingBuffer::<u32, 4>::new();
    let moved = RingBuffer::<u32, 4>::starting_at(usize::MAX - 2);
    for ring in [&fresh, &moved] {
        assert_eq!(ring.push_slice(&[1, 2, 3]), 3);
        assert_eq!(ring.pop(), Some(1));
        assert_eq!(ring.push_slice(&[4, 5, 6]), 2);
        assert!(ring.is_full());
    }
    let mut a = [0; 4];
    let mut b = [0; 4];
    assert_eq!(fresh.pop_slice(&mut a), 4);
    assert_eq!(moved.pop_slice(&mut b), 4);
    assert_eq!(a, b);
    assert_eq!(a, [2, 3, 4, 5]);
}

#[test]
fn large_batch_crosses_usize_wrap_in_the_middle() {
    let ring = RingBuffer::<u64, 128>::starting_at(usize::MAX - 40);
    let values: Vec<u64> = (0..200).collect();
    assert_eq!(ring.push_slice(&values), 128);
    assert!(ring.is_full());
    let mut out: HVec<u64, 256> = HVec::new();
    assert_eq!(ring.pop_batch(&mut out), 128);
    assert_eq!(out.as_slice(), &values[..128]);
    assert!(ring.is_empty());
}

/// The SPSC queue across the wrap: single and slice operations, read chunks (whose two slices
/// split where the buffer does) and `len`, from every slot phase below `usize::MAX`.
fn spsc_across_the_wrap<const N: usize>() {
    use ringdag::ring::spsc::Queue;
    for k in 0..2 * N + 2 {
        let start = usize::MAX - k;
        let mut queue = Queue::<u32, N>::starting_at(start);
        let (mut tx, mut rx) = queue.split();
        let mut next_in = 0u32;
        let mut next_out = 0u32;
        // Several laps: fill with single pushes, half-drain with a slice, top up with a
        // slice, read the rest through a chunk.
        for _ in 0..3 {
            while tx.push(next_in).is_ok() {
                next_in += 1;
            }
            assert_eq!(rx.len(), N, "start {start}: full");
            assert_eq!(tx.push(99), Err(99), "start {start}: full refuses");
            let mut buf = [0u32; N];
            let half = N.div_ceil(2);
            assert_eq!(rx.pop_slice(&mut buf[..half]), half);
            for v in &buf[..half] {
                assert_eq!(*v, next_out, "start {start}");
                next_out += 1;
            }
            let top: Vec<u32> = (next_in..next_in + half as u32).collect();
            assert_eq!(
                tx.push_slice(&top),
                half,
                "start {start}: room for the half popped"
            );
            next_in += half as u32;
            let chunk = rx.read_chunk(N);
            assert_eq!(chunk.len(), N, "start {start}");
            let (a, b) = chunk.as_slices();
            let seen: Vec<u32> = a.iter().chain(b).copied().collect();
            let want: Vec<u32> = (next_out..next_out + N as u32).collect();
            assert_eq!(seen, want, "start {start}");
            chunk.commit_all();
            next_out += N as u32;
            assert_eq!(rx.pop(), None, "start {start}: empty");
            assert_eq!(rx.len(), 0, "start {start}");
        }
        assert!(queue.is_empty());
    }
}

#[test]
fn spsc_exact_across_usize_wrap_capacity_1() {
    spsc_across_the_wrap::<1>();
}

#[test]
fn spsc_exact_across_usize_wrap_capacity_4() {
    spsc_across_the_wrap::<4>();
}
