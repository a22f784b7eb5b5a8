//! [`StreamingRingBuffer`]: the batch-oriented face of [`RingBuffer`], with a default batch size.

use core::fmt;
use core::ops::Deref;

use super::RingBuffer;

/// A [`RingBuffer`] whose [`pop_batch`](Self::pop_batch) returns up to `B` values at once
/// (the seed design's streaming ring, default `B = 128`).
///
/// It is the same ring, not a second implementation: it dereferences to [`RingBuffer`], so
/// `push`, `pop`, `push_batch`, `push_slice`, `pop_slice`, `len` and friends are the ring's.
///
/// # Examples
///
/// ```
/// use heapless::Vec;
/// use ringdag_core::ring::StreamingRingBuffer;
///
/// static STREAM: StreamingRingBuffer<u32, 256, 32> = StreamingRingBuffer::new();
///
/// let mut items: Vec<u32, 64> = (0..40).collect();
/// assert_eq!(STREAM.push_batch(&mut items), 40);
/// let first = STREAM.pop_batch();
/// assert_eq!(first.len(), 32);
/// assert_eq!(first[0], 0);
/// assert_eq!(STREAM.pop_batch().len(), 8);
/// assert!(STREAM.pop_batch().is_empty());
/// ```
///
/// A batch size of 0 does not compile (`pop_batch` could never return anything):
///
/// ```compile_fail
/// let ring = ringdag_core::ring::StreamingRingBuffer::<u32, 8, 0>::new();
/// ```
pub struct StreamingRingBuffer<T, const N: usize, const B: usize = 128> {
    ring: RingBuffer<T, N>,
}

impl<T, const N: usize, const B: usize> StreamingRingBuffer<T, N, B> {
    const VALID_BATCH: () = assert!(
        B > 0,
        "StreamingRingBuffer: batch size B must be at least 1"
    );

    /// Creates an empty streaming ring; `const`, usable in a `static`.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::VALID_BATCH;
        Self {
            ring: RingBuffer::new(),
        }
    }

    /// Creates an empty streaming ring (loom build).
    #[cfg(loom)]
    pub fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::VALID_BATCH;
        Self {
            ring: RingBuffer::new(),
        }
    }

    /// The default batch size `B`.
    pub const fn batch_size(&self) -> usize {
        B
    }

    /// Pops up to `B` of the oldest values, claimed with one atomic read-modify-write.
    /// An empty vector means the ring was empty (or its oldest value was claimed but not yet
    /// published: see the module's progress guarantee). This shadows the ring's
    /// `pop_batch(&mut out)`; that one is [`pop_batch_into`](Self::pop_batch_into) here.
    pub fn pop_batch(&self) -> heapless::Vec<T, B> {
        let mut out = heapless::Vec::new();
        self.ring.pop_batch(&mut out);
        out
    }

    /// Appends up to `out`'s free space, as [`RingBuffer::pop_batch`]; returns how many.
    pub fn pop_batch_into<const K: usize>(&self, out: &mut heapless::Vec<T, K>) -> usize {
        self.ring.pop_batch(out)
    }

    /// The underlying ring.
    pub fn as_ring(&self) -> &RingBuffer<T, N> {
        &self.ring
    }
}

impl<T, const N: usize, const B: usize> Deref for StreamingRingBuffer<T, N, B> {
    type Target = RingBuffer<T, N>;
    fn deref(&self) -> &RingBuffer<T, N> {
        &self.ring
    }
}

impl<T, const N: usize, const B: usize> Default for StreamingRingBuffer<T, N, B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize, const B: usize> fmt::Debug for StreamingRingBuffer<T, N, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamingRingBuffer")
            .field("capacity", &N)
            .field("batch", &B)
            .field("len", &self.ring.len())
            .finish()
    }
}
