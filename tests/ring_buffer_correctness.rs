//! Single-threaded behaviour of the rings, compared step by step with a `VecDeque` model.
//!
//! Property tests generate random mixes of single, batch and slice operations (batches of
//! 0, `N`, more than `N`, and crossing the wrap point of the slot array and of `usize`) and
//! check after every step that the ring returned exactly what the model says and that
//! `len`/`is_empty`/`is_full` agree. Deterministic tests pin the edge cases by name.

use std::collections::VecDeque;

use proptest::prelude::*;
use ringdag::heapless::Vec as HVec;
use ringdag::ring::spsc::Queue;
use ringdag::ring::{RingBuffer, StreamingRingBuffer};

/// Room of the batch vectors of the streaming model: more than `2 * 256 + 1`.
const ROOM: usize = 520;
/// Marks entries of an output buffer that the ring must not touch.
const UNTOUCHED: u32 = u32::MAX;

/// Property tests are skipped under Miri (`cfg_attr(miri, ignore)`, minutes per property
/// even at 2 cases); the `*_on_fixed_sequences*` tests run the same models there.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: if cfg!(miri) { 1 } else { 256 },
        // No regression files: keeps Miri's isolation happy and the tree clean.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One step of a model run on [`RingBuffer`].
#[derive(Clone, Debug)]
enum Op {
    Push,
    Pop,
    /// `push_batch` of `k` fresh values.
    PushBatch(usize),
    /// `pop_batch` into a vector with exactly `k` free places (the rest pre-filled).
    PopBatch(usize),
    /// `pop_batch` into a small vector of capacity 3 holding `k % 4` values already.
    PopBatchSmall(usize),
    /// `push_slice` of `k` fresh values.
    PushSlice(usize),
    /// `pop_slice` into a buffer of length `k`.
    PopSlice(usize),
}

/// Batch sizes that matter for capacity `n`: 0, 1, `n - 1`, `n`, `n + 1`, `2n + 1`, any.
fn batch_len(n: usize) -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(n - 1),
        Just(n),
        Just(n + 1),
        Just(2 * n + 1),
        0..=2 * n + 1,
    ]
}

fn ops(n: usize, max_len: usize) -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => Just(Op::Push),
        3 => Just(Op::Pop),
        2 => batch_len(n).prop_map(Op::PushBatch),
        2 => batch_len(n).prop_map(Op::PopBatch),
        1 => (0..4usize).prop_map(Op::PopBatchSmall),
        2 => batch_len(n).prop_map(Op::PushSlice),
        2 => batch_len(n).prop_map(Op::PopSlice),
    ];
    prop::collection::vec(op, 1..max_len)
}

/// Starting positions: 0, just below `usize::MAX` (the counters wrap during the run), just
/// below the points where the doubled lap base (the stamp) changes sign or wraps, and any.
fn start(n: usize) -> impl Strategy<Value = usize> {
    let near = 3 * n + 2;
    prop_oneof![
        Just(0usize),
        (0..near).prop_map(|d| usize::MAX - d),
        (0..near).prop_map(|d| (usize::MAX >> 1) - d),
        (0..near).prop_map(|d| (usize::MAX >> 2) - d),
        any::<usize>(),
    ]
}

/// Checks the observable size of `ring` against the model.
fn check_size<const N: usize>(ring: &RingBuffer<u32, N>, model: &VecDeque<u32>, step: usize) {
    assert_eq!(ring.len(), model.len(), "len after step {step}");
    assert_eq!(
        ring.is_empty(),
        model.is_empty(),
        "is_empty after step {step}"
    );
    assert_eq!(
        ring.is_full(),
        model.len() == N,
        "is_full after step {step}"
    );
    assert_eq!(ring.capacity(), N);
}

/// Runs `ops` on a ring whose counters start at `start` and on a `VecDeque` model, and checks
/// every result. Each pushed value is fresh (a counter), so order and identity are checked.
/// `R` is the room of the batch vectors, at least `2N + 2` (batches up to `2N + 1`).
fn run_ring_model<const N: usize, const R: usize>(start: usize, ops: &[Op]) {
    assert!(R > 2 * N + 1);
    let ring = RingBuffer::<u32, N>::starting_at(start);
    let mut model = VecDeque::<u32>::new();
    let mut next = 0u32;
    let mut fresh = |k: usize| -> Vec<u32> {
        let values = (next..next + k as u32).collect();
        next += k as u32;
        values
    };
    check_size(&ring, &model, 0);
    for (step, op) in ops.iter().enumerate() {
        let free = N - model.len();
        match *op {
            Op::Push => {
                let v = fresh(1)[0];
                if free > 0 {
                    assert_eq!(
                        ring.push(v),
                        Ok(()),
                        "step {step}: push into a ring with room"
                    );
                    model.push_back(v);
                } else {
                    assert_eq!(ring.push(v), Err(v), "step {step}: push into a full ring");
                }
            }
            Op::Pop => assert_eq!(ring.pop(), model.pop_front(), "step {step}: pop"),
            Op::PushBatch(k) => {
                let values = fresh(k);
                let mut items: HVec<u32, R> = values.iter().copied().collect();
                let n = ring.push_batch(&mut items);
                assert_eq!(n, k.min(free), "step {step}: push_batch count");
                assert_eq!(
                    items.as_slice(),
                    &values[n..],
                    "step {step}: rest left in order"
                );
                model.extend(&values[..n]);
            }
            Op::PopBatch(k) => {
                let mut out: HVec<u32, R> = HVec::new();
                out.resize(R - k, UNTOUCHED).unwrap();
                let n = ring.pop_batch(&mut out);
                let want: Vec<u32> = model.drain(..k.min(model.len())).collect();
                assert_eq!(n, want.len(), "step {step}: pop_batch count");
                assert!(
                    out[..R - k].iter().all(|&v| v == UNTOUCHED),
                    "step {step}: prefix"
                );
                assert_eq!(&out[R - k..], &want[..], "step {step}: pop_batch values");
            }
            Op::PopBatchSmall(pre) => {
                let pre = pre.min(3);
                let mut out: HVec<u32, 3> = HVec::new();
                out.resize(pre, UNTOUCHED).unwrap();
                let n = ring.pop_batch(&mut out);
                let want: Vec<u32> = model.drain(..(3 - pre).min(model.len())).collect();
                assert_eq!(n, want.len(), "step {step}: small pop_batch count");
                assert_eq!(
                    &out[pre..],
                    &want[..],
                    "step {step}: small pop_batch values"
                );
            }
            Op::PushSlice(k) => {
                let values = fresh(k);
                let n = ring.push_slice(&values);
                assert_eq!(n, k.min(free), "step {step}: push_slice count");
                model.extend(&values[..n]);
            }
            Op::PopSlice(k) => {
                let mut out = vec![UNTOUCHED; k];
                let n = ring.pop_slice(&mut out);
                let want: Vec<u32> = model.drain(..k.min(model.len())).collect();
                assert_eq!(n, want.len(), "step {step}: pop_slice count");
                assert_eq!(&out[..n], &want[..], "step {step}: pop_slice values");
                assert!(
                    out[n..].iter().all(|&v| v == UNTOUCHED),
                    "step {step}: tail untouched"
                );
            }
        }
        check_size(&ring, &model, step + 1);
    }
    // Drain: the ring ends with exactly the model's values, in order.
    let rest: Vec<u32> = std::iter::from_fn(|| ring.pop()).collect();
    assert_eq!(rest, Vec::from(model));
    assert!(ring.is_empty());
}

proptest! {
    #![proptest_config(config())]

    #[test]
    #[cfg_attr(miri, ignore = "proptest is too slow under Miri: the fixed-sequence tests cover it")]
    fn ring_matches_vecdeque_model_capacity_1(start in start(1), ops in ops(1, 64)) {
        run_ring_model::<1, 4>(start, &ops);
    }

    #[test]
    #[cfg_attr(miri, ignore = "proptest is too slow under Miri: the fixed-sequence tests cover it")]
    fn ring_matches_vecdeque_model_capacity_2(start in start(2), ops in ops(2, 64)) {
        run_ring_model::<2, 8>(start, &ops);
    }

    #[test]
    #[cfg_attr(miri, ignore = "proptest is too slow under Miri: the fixed-sequence tests cover it")]
    fn ring_matches_vecdeque_model_capacity_4(start in start(4), ops in ops(4, 64)) {
        run_ring_model::<4, 16>(start, &ops);
    }

    #[test]
    #[cfg_attr(miri, ignore = "proptest is too slow under Miri: the fixed-sequence tests cover it")]
    fn ring_matches_vecdeque_model_capacity_128(start in start(128), ops in ops(128, 48)) {
        run_ring_model::<128, 260>(start, &ops);
    }

    #[test]
    #[cfg_attr(miri, ignore = "proptest is too slow under Miri: the fixed-sequence tests cover it")]
    fn ring_matches_vecdeque_model_capacity_256(start in start(256), ops in ops(256, 48)) {
        run_ring_model::<256, 520>(start, &ops);
    }
}

/// A fixed pseudo-random op sequence (xorshift), so the model also runs under Miri without
/// proptest's case generation.
fn xorshift_ops(n: usize, len: usize, mut seed: u64) -> Vec<Op> {
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..len)
        .map(|_| {
            let r = next();
            let k = match (r >> 8) % 5 {
                0 => 0,
                1 => n,
                2 => n + 1,
                _ => ((r >> 16) as usize) % (2 * n + 2),
            };
            match r % 8 {
                0 | 1 => Op::Push,
                2 | 3 => Op::Pop,
                4 => Op::PushBatch(k),
                5 => Op::PopBatch(k),
                6 => Op::PushSlice(k),
                _ => Op::PopSlice(k),
            }
        })
        .collect()
}

#[test]
fn ring_matches_model_on_fixed_sequences_across_usize_wrap() {
    let len = if cfg!(miri) { 24 } else { 400 };
    for seed in 1..4u64 {
        for start in [0, usize::MAX, usize::MAX - 5, (usize::MAX >> 1) - 3] {
            run_ring_model::<1, 4>(start, &xorshift_ops(1, len, seed));
            run_ring_model::<2, 8>(start, &xorshift_ops(2, len, seed));
            run_ring_model::<4, 16>(start, &xorshift_ops(4, len, seed));
        }
    }
}

#[test]
fn push_batch_of_zero_items_moves_nothing() {
    let ring = RingBuffer::<u32, 4>::new();
    let mut items: HVec<u32, 4> = HVec::new();
    assert_eq!(ring.push_batch(&mut items), 0);
    assert!(ring.is_empty());
    assert_eq!(ring.push_slice(&[]), 0);
    assert!(ring.is_empty());
    let mut out: [u32; 0] = [];
    ring.push(1).unwrap();
    assert_eq!(ring.pop_slice(&mut out), 0);
    let mut full: HVec<u32, 2> = HVec::from_slice(&[7, 8]).unwrap();
    assert_eq!(
        ring.pop_batch(&mut full),
        0,
        "a full output vector takes nothing"
    );
    assert_eq!(full.as_slice(), &[7, 8]);
    assert_eq!(ring.len(), 1);
}

#[test]
fn push_batch_of_exactly_capacity_fills_the_ring() {
    let ring = RingBuffer::<u32, 4>::starting_at(usize::MAX - 1);
    let mut items: HVec<u32, 4> = (10..14).collect();
    assert_eq!(ring.push_batch(&mut items), 4);
    assert!(items.is_empty());
    assert!(ring.is_full());
    let mut out: HVec<u32, 4> = HVec::new();
    assert_eq!(ring.pop_batch(&mut out), 4);
    assert_eq!(out.as_slice(), &[10, 11, 12, 13]);
    assert!(ring.is_empty());
}

#[test]
fn push_batch_longer_than_capacity_keeps_the_rest_in_order() {
    let ring = RingBuffer::<u32, 4>::new();
    ring.push(0).unwrap();
    ring.push(1).unwrap();
    assert_eq!(ring.pop(), Some(0)); // head is now in the middle: the batch wraps the slots
    let mut items: HVec<u32, 16> = (2..12).collect();
    assert_eq!(ring.push_batch(&mut items), 3);
    assert_eq!(items.as_slice(), &[5, 6, 7, 8, 9, 10, 11]);
    assert_eq!(ring.push_batch(&mut items), 0, "full ring takes nothing");
    assert_eq!(items.len(), 7);
    let mut out = [0u32; 9];
    assert_eq!(ring.pop_slice(&mut out), 4);
    assert_eq!(out[..4], [1, 2, 3, 4]);
}

#[test]
fn push_slice_longer_than_capacity_copies_a_prefix() {
    let ring = RingBuffer::<u64, 2>::starting_at(usize::MAX);
    assert_eq!(ring.push_slice(&[1, 2, 3, 4, 5]), 2);
    assert_eq!(ring.push_slice(&[6]), 0);
    let mut out = [0u64; 5];
    assert_eq!(ring.pop_slice(&mut out), 2);
    assert_eq!(out, [1, 2, 0, 0, 0]);
}

#[test]
fn pop_batch_appends_after_existing_items() {
    let ring = RingBuffer::<u32, 8>::new();
    ring.push_slice(&[1, 2, 3, 4, 5]);
    let mut out: HVec<u32, 4> = HVec::from_slice(&[100]).unwrap();
    assert_eq!(ring.pop_batch(&mut out), 3);
    assert_eq!(out.as_slice(), &[100, 1, 2, 3]);
    assert_eq!(ring.len(), 2);
}

#[test]
fn capacity_one_ring_alternates_full_and_empty() {
    let ring = RingBuffer::<u8, 1>::new();
    for i in 0..if cfg!(miri) { 10 } else { 1000 } {
        let v = i as u8;
        assert!(ring.is_empty());
        assert_eq!(ring.push(v), Ok(()));
        assert!(ring.is_full());
        assert_eq!(ring.push(v), Err(v));
        assert_eq!(ring.pop(), Some(v));
        assert_eq!(ring.pop(), None);
    }
}

// ---------------------------------------------------------------------------------------
// StreamingRingBuffer

#[derive(Clone, Debug)]
enum StreamOp {
    Push,
    Pop,
    PushBatch(usize),
    PushSlice(usize),
    /// `pop_batch()`: up to `B` values.
    PopBatch,
    /// `pop_batch_into` a vector of capacity 5 holding `k % 6` values already.
    PopBatchInto(usize),
}

fn stream_ops(n: usize) -> impl Strategy<Value = Vec<StreamOp>> {
    let op = prop_oneof![
        2 => Just(StreamOp::Push),
        2 => Just(StreamOp::Pop),
        2 => batch_len(n).prop_map(StreamOp::PushBatch),
        2 => batch_len(n).prop_map(StreamOp::PushSlice),
        3 => Just(StreamOp::PopBatch),
        1 => (0..6usize).prop_map(StreamOp::PopBatchInto),
    ];
    prop::collection::vec(op, 1..48)
}

fn run_stream_model<const N: usize, const B: usize>(ops: &[StreamOp]) {
    let ring = StreamingRingBuffer::<u32, N, B>::new();
    assert_eq!(ring.batch_size(), B);
    assert_eq!(ring.as_ring().capacity(), N);
    let mut model = VecDeque::<u32>::new();
    let mut next = 0u32;
    for (step, op) in ops.iter().enumerate() {
        let free = N - model.len();
        match *op {
            StreamOp::Push => {
                let r = ring.push(next);
                if free > 0 {
                    assert_eq!(r, Ok(()), "step {step}");
                    model.push_back(next);
                } else {
                    assert_eq!(r, Err(next), "step {step}");
                }
                next += 1;
            }
            StreamOp::Pop => assert_eq!(ring.pop(), model.pop_front(), "step {step}"),
            StreamOp::PushBatch(k) => {
                let values: Vec<u32> = (next..next + k as u32).collect();
                next += k as u32;
                let mut items: HVec<u32, ROOM> = values.iter().copied().collect();
                let n = ring.push_batch(&mut items);
                assert_eq!(n, k.min(free), "step {step}");
                assert_eq!(items.as_slice(), &values[n..], "step {step}");
                model.extend(&values[..n]);
            }
            StreamOp::PushSlice(k) => {
                let values: Vec<u32> = (next..next + k as u32).collect();
                next += k as u32;
                let n = ring.push_slice(&values);
                assert_eq!(n, k.min(free), "step {step}");
                model.extend(&values[..n]);
            }
            StreamOp::PopBatch => {
                let got = ring.pop_batch();
                let want: Vec<u32> = model.drain(..B.min(model.len())).collect();
                assert_eq!(
                    got.as_slice(),
                    &want[..],
                    "step {step}: pop_batch() takes up to B"
                );
            }
            StreamOp::PopBatchInto(pre) => {
                let pre = pre.min(5);
                let mut out: HVec<u32, 5> = HVec::new();
                out.resize(pre, UNTOUCHED).unwrap();
                let n = ring.pop_batch_into(&mut out);
                let want: Vec<u32> = model.drain(..(5 - pre).min(model.len())).collect();
                assert_eq!(n, want.len(), "step {step}");
                assert_eq!(&out[pre..], &want[..], "step {step}");
            }
        }
        assert_eq!(ring.len(), model.len(), "len after step {step}");
        assert_eq!(
            ring.is_full(),
            model.len() == N,
            "is_full after step {step}"
        );
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    #[cfg_attr(miri, ignore = "proptest is too slow under Miri: the fixed-sequence tests cover it")]
    fn streaming_matches_model_capacity_1_batch_1(ops in stream_ops(1)) {
        run_stream_model::<1, 1>(&ops);
    }

    #[test]
    #[cfg_attr(miri, ignore = "proptest is too slow under Miri: the fixed-sequence tests cover it")]
    fn streaming_matches_model_capacity_4_batch_3(ops in stream_ops(4)) {
        run_stream_model::<4, 3>(&ops);
    }

    #[test]
    #[cfg_attr(miri, ignore = "proptest is too slow under Miri: the fixed-sequence tests cover it")]
    fn streaming_matches_model_batch_larger_than_capacity(ops in stream_ops(4)) {
        run_stream_model::<4, 8>(&ops);
    }

    #[test]
    #[cfg_attr(miri, ignore = "proptest is too slow under Miri: the fixed-sequence tests cover it")]
    fn streaming_matches_model_capacity_256_default_batch(ops in stream_ops(256)) {
        run_stream_model::<256, 128>(&ops);
    }
}

#[test]
fn streaming_pop_batch_returns_at_most_b_in_order() {
    let ring = StreamingRingBuffer::<u32, 16, 4>::new();
    assert_eq!(ring.push_slice(&(0..10).collect::<Vec<_>>()), 10);
    assert_eq!(ring.pop_batch().as_slice(), &[0, 1, 2, 3]);
    assert_eq!(ring.pop_batch().as_slice(), &[4, 5, 6, 7]);
    assert_eq!(ring.pop_batch().as_slice(), &[8, 9]);
    assert!(ring.pop_batch().is_empty());
}

// ---------------------------------------------------------------------------------------
// spsc

#[derive(Clone, Debug)]
enum SpscOp {
    Push,
    Pop,
    PushSlice(usize),
    PopSlice(usize),
    /// `push_iter` of an iterator with `k` values.
    PushIter(usize),
    /// `read_chunk(max)`, check its slices, then `commit(c)` (c may exceed the chunk).
    ReadChunk(usize, usize),
    /// `read_chunk(max)` then `commit_all`.
    ReadChunkAll(usize),
    Peek,
    /// Drop both handles, check the queue, split again.
    Resplit,
}

fn spsc_ops(n: usize) -> impl Strategy<Value = Vec<SpscOp>> {
    let op = prop_oneof![
        3 => Just(SpscOp::Push),
        3 => Just(SpscOp::Pop),
        2 => batch_len(n).prop_map(SpscOp::PushSlice),
        2 => batch_len(n).prop_map(SpscOp::PopSlice),
        2 => batch_len(n).prop_map(SpscOp::PushIter),
        2 => (batch_len(n), batch_len(n)).prop_map(|(m, c)| SpscOp::ReadChunk(m, c)),
        1 => batch_len(n).prop_map(SpscOp::ReadChunkAll),
        1 => Just(SpscOp::Peek),
        1 => Just(SpscOp::Resplit),
    ];
    prop::collection::vec(op, 1..64)
}

fn run_spsc_model<const N: usize>(ops: &[SpscOp]) {
    let mut queue = Queue::<u32, N>::new();
    assert_eq!(queue.capacity(), N);
    let mut model = VecDeque::<u32>::new();
    let mut next = 0u32;
    let mut ops = ops.iter().enumerate().peekable();
    while ops.peek().is_some() {
        let (mut tx, mut rx) = queue.split();
        for (step, op) in ops.by_ref() {
            let free = N - model.len();
            match *op {
                SpscOp::Push => {
                    let r = tx.push(next);
                    if free > 0 {
                        assert_eq!(r, Ok(()), "step {step}");
                        model.push_back(next);
                    } else {
                        assert_eq!(r, Err(next), "step {step}");
                    }
                    next += 1;
                }
                SpscOp::Pop => assert_eq!(rx.pop(), model.pop_front(), "step {step}"),
                SpscOp::PushSlice(k) => {
                    let values: Vec<u32> = (next..next + k as u32).collect();
                    next += k as u32;
                    let n = tx.push_slice(&values);
                    assert_eq!(n, k.min(free), "step {step}: push_slice count");
                    model.extend(&values[..n]);
                }
                SpscOp::PopSlice(k) => {
                    let mut out = vec![UNTOUCHED; k];
                    let n = rx.pop_slice(&mut out);
                    let want: Vec<u32> = model.drain(..k.min(model.len())).collect();
                    assert_eq!(n, want.len(), "step {step}: pop_slice count");
                    assert_eq!(&out[..n], &want[..], "step {step}");
                    assert!(out[n..].iter().all(|&v| v == UNTOUCHED), "step {step}");
                }
                SpscOp::PushIter(k) => {
                    let values: Vec<u32> = (next..next + k as u32).collect();
                    next += k as u32;
                    let n = tx.push_iter(values.iter().copied());
                    assert_eq!(n, k.min(free), "step {step}: push_iter count");
                    model.extend(&values[..n]);
                }
                SpscOp::ReadChunk(max, c) => {
                    let chunk = rx.read_chunk(max);
                    let len = max.min(model.len());
                    assert_eq!(chunk.len(), len, "step {step}: chunk len");
                    assert_eq!(chunk.is_empty(), len == 0);
                    let (a, b) = chunk.as_slices();
                    let seen: Vec<u32> = a.iter().chain(b).copied().collect();
                    let want: Vec<u32> = model.iter().take(len).copied().collect();
                    assert_eq!(seen, want, "step {step}: chunk contents");
                    chunk.commit(c);
                    model.drain(..c.min(len));
                }
                SpscOp::ReadChunkAll(max) => {
                    let chunk = rx.read_chunk(max);
                    let len = chunk.len();
                    assert_eq!(len, max.min(model.len()), "step {step}");
                    chunk.commit_all();
                    model.drain(..len);
                }
                SpscOp::Peek => assert_eq!(rx.peek(), model.front(), "step {step}: peek"),
                SpscOp::Resplit => break,
            }
            assert_eq!(rx.len(), model.len(), "consumer len after step {step}");
            assert_eq!(
                rx.is_empty(),
                model.is_empty(),
                "is_empty after step {step}"
            );
            assert_eq!(
                tx.slots(),
                N - model.len(),
                "producer slots after step {step}"
            );
        }
        // The handles' borrows of `queue` ended with their last use above.
        assert_eq!(queue.len(), model.len(), "queue len between splits");
        assert_eq!(queue.is_empty(), model.is_empty());
    }
    let (_, mut rx) = queue.split();
    let rest: Vec<u32> = std::iter::from_fn(|| rx.pop()).collect();
    assert_eq!(rest, Vec::from(model));
}

proptest! {
    #![proptest_config(config())]

    #[test]
    #[cfg_attr(miri, ignore = "proptest is too slow under Miri: the fixed-sequence tests cover it")]
    fn spsc_matches_vecdeque_model_capacity_1(ops in spsc_ops(1)) {
        run_spsc_model::<1>(&ops);
    }

    #[test]
    #[cfg_attr(miri, ignore = "proptest is too slow under Miri: the fixed-sequence tests cover it")]
    fn spsc_matches_vecdeque_model_capacity_2(ops in spsc_ops(2)) {
        run_spsc_model::<2>(&ops);
    }

    #[test]
    #[cfg_attr(miri, ignore = "proptest is too slow under Miri: the fixed-sequence tests cover it")]
    fn spsc_matches_vecdeque_model_capacity_4(ops in spsc_ops(4)) {
        run_spsc_model::<4>(&ops);
    }

    #[test]
    #[cfg_attr(miri, ignore = "proptest is too slow under Miri: the fixed-sequence tests cover it")]
    fn spsc_matches_vecdeque_model_capacity_128(ops in spsc_ops(128)) {
        run_spsc_model::<128>(&ops);
    }

    #[test]
    #[cfg_attr(miri, ignore = "proptest is too slow under Miri: the fixed-sequence tests cover it")]
    fn spsc_matches_vecdeque_model_capacity_256(ops in spsc_ops(256)) {
        run_spsc_model::<256>(&ops);
    }
}

#[test]
fn spsc_slices_and_chunks_wrap_the_buffer() {
    let mut queue = Queue::<u32, 4>::new();
    let (mut tx, mut rx) = queue.split();
    assert_eq!(tx.push_slice(&[0, 1, 2]), 3);
    assert_eq!(rx.pop(), Some(0));
    assert_eq!(rx.pop(), Some(1));
    // Tail at index 3: the next slice is split in two runs, [3] and [0, 1].
    assert_eq!(tx.push_slice(&[3, 4, 5, 6]), 3);
    let chunk = rx.read_chunk(8);
    let (a, b) = chunk.as_slices();
    assert_eq!((a, b), (&[2, 3][..], &[4, 5][..]));
    chunk.commit(1);
    let mut out = [0u32; 4];
    assert_eq!(rx.pop_slice(&mut out), 3);
    assert_eq!(out, [3, 4, 5, 0]);
}

#[test]
fn spsc_try_split_hands_out_one_pair_only() {
    let queue = Queue::<u8, 2>::new();
    let (mut tx, mut rx) = queue.try_split().expect("first split");
    assert!(queue.try_split().is_none(), "second split must fail");
    tx.push(5).unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(rx.pop(), Some(5));
    let _ = (tx, rx); // both handles gone
    assert!(
        queue.try_split().is_none(),
        "try_split works once, even after the handles drop"
    );
}

#[test]
fn spsc_matches_model_on_fixed_sequences() {
    let len = if cfg!(miri) { 24 } else { 400 };
    for seed in 1..4u64 {
        let ops: Vec<SpscOp> = xorshift_ops(4, len, seed)
            .into_iter()
            .enumerate()
            .map(|(i, op)| match op {
                Op::Push => SpscOp::Push,
                Op::Pop => SpscOp::Pop,
                Op::PushBatch(k) => SpscOp::PushIter(k),
                Op::PopBatch(k) | Op::PopBatchSmall(k) => SpscOp::ReadChunk(k, k + i % 3),
                Op::PushSlice(k) => SpscOp::PushSlice(k),
                Op::PopSlice(_) if i % 7 == 0 => SpscOp::Resplit,
                Op::PopSlice(k) => SpscOp::PopSlice(k),
            })
            .collect();
        run_spsc_model::<4>(&ops);
        run_spsc_model::<1>(&ops);
    }
}
