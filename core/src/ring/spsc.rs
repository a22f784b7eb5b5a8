//! Single-producer single-consumer ring: the fastest link between exactly two parties.
//!
//! A [`Queue`] lives in fixed storage (a `static` or a local) and is split into one
//! [`Producer`] and one [`Consumer`]. Each handle keeps its own position and a cached copy of
//! the other side's, so an operation touches the shared cache line of the other side only when
//! the cached copy says "full" (resp. "empty"). Values are stored contiguously, so slice
//! batches are at most two `memcpy`s.
//!
//! Progress: wait-free. Every operation finishes in a bounded number of steps, whatever the
//! other side does.
//!
//! # Examples
//!
//! ```
//! use ringdag_core::ring::spsc::Queue;
//!
//! let mut queue: Queue<u32, 4> = Queue::new();
//! let (mut tx, mut rx) = queue.split();
//! std::thread::scope(|s| {
//!     s.spawn(move || for i in 0..100 { while tx.push(i).is_err() {} });
//!     let mut next = 0;
//!     while next < 100 {
//!         if let Some(v) = rx.pop() { assert_eq!(v, next); next += 1; }
//!     }
//! });
//! ```

use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr;

use crate::cache_padded::CachePadded;
use crate::sync::Ordering::{AcqRel, Acquire, Relaxed, Release};
use crate::sync::{AtomicBool, AtomicUsize, UnsafeCell};

/// Fixed storage of an SPSC ring of capacity `N` (a non-zero power of two).
pub struct Queue<T, const N: usize> {
    /// Consumer position: written by the consumer only.
    head: CachePadded<AtomicUsize>,
    /// Producer position: written by the producer only.
    tail: CachePadded<AtomicUsize>,
    /// Set once by [`Queue::try_split`].
    split: AtomicBool,
    buf: [UnsafeCell<MaybeUninit<T>>; N],
}

// SAFETY: the producer handle moves values in, the consumer handle moves them out, possibly on
// different threads: `T: Send` suffices. A slot is accessed by one side at a time (positions).
unsafe impl<T: Send, const N: usize> Sync for Queue<T, N> {}
// SAFETY: moving the queue moves the values it owns.
unsafe impl<T: Send, const N: usize> Send for Queue<T, N> {}

impl<T, const N: usize> Queue<T, N> {
    // Wrapping: for N = 0 the error is `VALID_CAPACITY`'s message alone.
    const MASK: usize = N.wrapping_sub(1);
    const VALID_CAPACITY: () = assert!(
        N.is_power_of_two(),
        "spsc::Queue capacity N must be a non-zero power of two"
    );

    /// Creates an empty queue; `const`, usable in a `static` (all-zero, so it lands in `.bss`).
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::VALID_CAPACITY;
        Self {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            split: AtomicBool::new(false),
            buf: [const { UnsafeCell::new(MaybeUninit::uninit()) }; N],
        }
    }

    /// Creates an empty queue (loom build).
    #[cfg(loom)]
    pub fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::VALID_CAPACITY;
        Self {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            split: AtomicBool::new(false),
            buf: core::array::from_fn(|_| UnsafeCell::new(MaybeUninit::uninit())),
        }
    }

    /// An empty queue whose positions start at `pos` (tests: crossing the wrap of `usize`).
    #[doc(hidden)]
    pub fn starting_at(pos: usize) -> Self {
        let queue = Self::new();
        queue.head.store(pos, Relaxed);
        queue.tail.store(pos, Relaxed);
        queue
    }

    /// The capacity, `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Splits the queue into its two handles. The `&mut` borrow guarantees there is only one
    /// of each; the queue can be split again once both are dropped.
    pub fn split(&mut self) -> (Producer<'_, T, N>, Consumer<'_, T, N>) {
        // SAFETY: `&mut self` excludes any other pair of handles.
        unsafe { self.handles() }
    }

    /// Splits a shared queue (e.g. a `static`) into its two handles, once: later calls return
    /// `None`. For firmware: `static Q: Queue<u8, 64> = Queue::new();` then `Q.try_split()`
    /// at start-up, one handle to an interrupt handler, one to the main loop.
    pub fn try_split(&self) -> Option<(Producer<'_, T, N>, Consumer<'_, T, N>)> {
        // AcqRel: only the first swap sees `false`; it is the only caller that gets handles.
        if self.split.swap(true, AcqRel) {
            return None;
        }
        // SAFETY: the flag above is set exactly once, so no other handles exist.
        Some(unsafe { self.handles() })
    }

    /// # Safety
    /// No other `Producer` or `Consumer` of this queue may exist.
    unsafe fn handles(&self) -> (Producer<'_, T, N>, Consumer<'_, T, N>) {
        let head = self.head.load(Acquire);
        let tail = self.tail.load(Acquire);
        (
            Producer {
                queue: self,
                tail,
                cached_head: head,
            },
            Consumer {
                queue: self,
                head,
                cached_tail: tail,
            },
        )
    }

    /// Pointer to the value slot of position `pos`, derived from the whole buffer so that it
    /// may also address the slots after it: the slice copies and [`ReadChunk::as_slices`] use
    /// it for runs of consecutive slots. (A pointer taken from one element's cell would only
    /// be valid for that element; Miri rejects the run accesses through it.)
    #[cfg(not(loom))]
    #[inline(always)]
    fn slot(&self, pos: usize) -> *mut T {
        // `sync::UnsafeCell` and `MaybeUninit` are `repr(transparent)`, so `buf` has the layout
        // of `[T; N]`; every byte of it is inside an `UnsafeCell`, so writing through a pointer
        // taken from the shared array is allowed.
        let base = self.buf.as_ptr().cast::<T>().cast_mut();
        // SAFETY: `pos & MASK < N`: the offset stays inside `buf`.
        unsafe { base.add(pos & Self::MASK) }
    }

    /// Pointer to the value slot of position `pos` (loom build). For one slot only: loom's
    /// cells are not laid out as `[T; N]`, so the runs of slots the native build copies go
    /// slot by slot there (`put_slice`, `take_slice`); and an access through this pointer is
    /// not tracked by loom, so `push` and `pop` use `put` and `take`, which are.
    #[cfg(loom)]
    fn slot(&self, pos: usize) -> *mut T {
        self.buf[pos & Self::MASK].with_mut(|p| p.cast::<T>())
    }

    /// Moves `value` into the slot of position `pos`.
    ///
    /// # Safety
    ///
    /// The slot is free, and only the caller accesses it until it is published.
    #[inline(always)]
    unsafe fn put(&self, pos: usize, value: T) {
        #[cfg(not(loom))]
        // SAFETY: the caller's contract.
        unsafe {
            self.slot(pos).write(value)
        };
        #[cfg(loom)]
        self.buf[pos & Self::MASK].with_mut(|p| {
            // SAFETY: the caller's contract.
            unsafe { (*p).write(value) };
        });
    }

    /// Moves the value out of the slot of position `pos`.
    ///
    /// # Safety
    ///
    /// The slot holds a published value, only the caller accesses it, and the caller frees
    /// the slot (the value is not read again).
    #[inline(always)]
    unsafe fn take(&self, pos: usize) -> T {
        #[cfg(not(loom))]
        // SAFETY: the caller's contract.
        return unsafe { self.slot(pos).read() };
        #[cfg(loom)]
        // SAFETY: the caller's contract.
        return self.buf[pos & Self::MASK].with(|p| unsafe { (*p).assume_init_read() });
    }

    /// Of `n` consecutive slots from position `pos`, how many lie before the end of the buffer
    /// (the rest wrap to index 0). (Native builds: loom's copy slot by slot.)
    #[cfg(not(loom))]
    #[inline(always)]
    const fn first_run(pos: usize, n: usize) -> usize {
        let room = N - (pos & Self::MASK);
        if n < room {
            n
        } else {
            room
        }
    }

    /// Copies `src` into the slots from position `pos` on (wrapping at the end of the buffer):
    /// at most two `memcpy`s.
    ///
    /// # Safety
    ///
    /// As [`put`](Self::put), for each of the `src.len() <= N` slots.
    #[inline(always)]
    unsafe fn put_slice(&self, pos: usize, src: &[T])
    where
        T: Copy,
    {
        #[cfg(not(loom))]
        {
            let (n, first) = (src.len(), Self::first_run(pos, src.len()));
            // SAFETY: the caller's contract; the first run ends at the end of the buffer, the
            // second starts at index 0 and holds `n - first` values; `T: Copy`.
            unsafe {
                ptr::copy_nonoverlapping(src.as_ptr(), self.slot(pos), first);
                if first < n {
                    ptr::copy_nonoverlapping(src.as_ptr().add(first), self.slot(0), n - first);
                }
            }
        }
        #[cfg(loom)]
        for (i, &v) in src.iter().enumerate() {
            // SAFETY: the caller's contract, slot by slot.
            unsafe { self.put(pos.wrapping_add(i), v) };
        }
    }

    /// Copies the values in the slots from position `pos` on into `dst` (wrapping): at most
    /// two `memcpy`s.
    ///
    /// # Safety
    ///
    /// As [`take`](Self::take), for each of the `dst.len() <= N` slots (`T: Copy`: the
    /// values stay valid where they are until the slots are freed).
    #[inline(always)]
    unsafe fn take_slice(&self, pos: usize, dst: &mut [T])
    where
        T: Copy,
    {
        #[cfg(not(loom))]
        {
            let (n, first) = (dst.len(), Self::first_run(pos, dst.len()));
            // SAFETY: the caller's contract; the runs are as in `put_slice`.
            unsafe {
                ptr::copy_nonoverlapping(self.slot(pos), dst.as_mut_ptr(), first);
                if first < n {
                    ptr::copy_nonoverlapping(self.slot(0), dst.as_mut_ptr().add(first), n - first);
                }
            }
        }
        #[cfg(loom)]
        for (i, d) in dst.iter_mut().enumerate() {
            // SAFETY: the caller's contract, slot by slot.
            *d = unsafe { self.take(pos.wrapping_add(i)) };
        }
    }

    /// Number of values, as seen now (a snapshot under concurrency).
    pub fn len(&self) -> usize {
        // Acquire: pairs with the consumer's Release store of `head`, so the `tail` read below
        // is at least the tail that consumer had seen (`tail >= head`): an empty queue never
        // reads as `tail - head` wrapped around (full). `min(N)`: `tail` may have moved on
        // more than `N` past this `head` meanwhile.
        let head = self.head.load(Acquire);
        self.tail.load(Relaxed).wrapping_sub(head).min(N)
    }

    /// `len() == 0`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T, const N: usize> Default for Queue<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> fmt::Debug for Queue<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("spsc::Queue")
            .field("capacity", &N)
            .field("len", &self.len())
            .finish()
    }
}

impl<T, const N: usize> Drop for Queue<T, N> {
    fn drop(&mut self) {
        if !core::mem::needs_drop::<T>() {
            return;
        }
        /// Drops the values in `head..tail`. Kept alive while dropping: if one value's `Drop`
        /// panics, unwinding drops this guard, which drops the rest. Each value is dropped at
        /// most once because `head` moves past a value before its `Drop` runs.
        struct Rest<'q, T, const N: usize>(&'q Queue<T, N>);
        impl<T, const N: usize> Rest<'_, T, N> {
            fn drain(&self) {
                let queue = self.0;
                let tail = queue.tail.load(Relaxed);
                loop {
                    let head = queue.head.load(Relaxed);
                    if head == tail {
                        break;
                    }
                    queue.head.store(head.wrapping_add(1), Relaxed);
                    // SAFETY: `&mut self` in `drop` excludes the handles; positions
                    // `head..tail` hold values, and `head` moved past this one first, so a
                    // panicking Drop cannot cause a second drop.
                    unsafe { ptr::drop_in_place(queue.slot(head)) };
                }
            }
        }
        impl<T, const N: usize> Drop for Rest<'_, T, N> {
            fn drop(&mut self) {
                self.drain();
            }
        }
        Rest(self).drain();
    }
}

/// The pushing half of a [`Queue`].
pub struct Producer<'a, T, const N: usize> {
    queue: &'a Queue<T, N>,
    tail: usize,
    cached_head: usize,
}

/// The popping half of a [`Queue`].
pub struct Consumer<'a, T, const N: usize> {
    queue: &'a Queue<T, N>,
    head: usize,
    cached_tail: usize,
}

impl<T, const N: usize> fmt::Debug for Producer<'_, T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("spsc::Producer")
            .field("tail", &self.tail)
            .finish()
    }
}

impl<T, const N: usize> fmt::Debug for Consumer<'_, T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("spsc::Consumer")
            .field("head", &self.head)
            .finish()
    }
}

impl<T, const N: usize> Producer<'_, T, N> {
    /// Free slots, refreshing the cached consumer position only if fewer than `want` are known
    /// to be free.
    #[inline(always)]
    fn free(&mut self, want: usize) -> usize {
        let mut free = N - self.tail.wrapping_sub(self.cached_head);
        if free < want {
            // Acquire: pairs with the Release store of `head` in the consumer; its reads of the
            // slots it freed happen-before our writes into them.
            self.cached_head = self.queue.head.load(Acquire);
            free = N - self.tail.wrapping_sub(self.cached_head);
        }
        free
    }

    #[inline(always)]
    fn commit(&mut self, n: usize) {
        self.tail = self.tail.wrapping_add(n);
        // Release: pairs with the Acquire load of `tail` in the consumer (`available`); our
        // slot writes happen-before its reads.
        self.queue.tail.store(self.tail, Release);
    }

    /// Pushes `value`, or gives it back when the queue is full.
    ///
    /// # Errors
    /// `Err(value)` when the queue is full.
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), T> {
        if self.free(1) == 0 {
            return Err(value);
        }
        // SAFETY: the slot at `tail` is free (checked above) and only this producer writes it.
        unsafe { self.queue.put(self.tail, value) };
        self.commit(1);
        Ok(())
    }

    /// Copies the longest prefix of `items` that fits; returns how many (at most two `memcpy`s).
    #[inline]
    pub fn push_slice(&mut self, items: &[T]) -> usize
    where
        T: Copy,
    {
        let n = self.free(items.len()).min(items.len());
        if n == 0 {
            // Nothing to publish: leave the shared `tail` line alone (a spinning producer
            // would otherwise keep stealing it from the consumer).
            return 0;
        }
        // SAFETY: positions `tail..tail + n` are free and only this producer writes them.
        unsafe { self.queue.put_slice(self.tail, &items[..n]) };
        self.commit(n);
        n
    }

    /// Pushes values from `iter` while there is room; returns how many. The iterator runs with
    /// no claim held (SPSC needs none), so it may do anything.
    pub fn push_iter<I: IntoIterator<Item = T>>(&mut self, iter: I) -> usize {
        let free = self.free(N);
        let mut n = 0;
        for value in iter.into_iter().take(free) {
            // SAFETY: fewer than `free` values were pushed since `free` was computed, so the
            // slot at `tail` is free, and only this producer writes it.
            unsafe { self.queue.put(self.tail, value) };
            // Publish each value as it is written: a panicking iterator leaves no gap.
            self.commit(1);
            n += 1;
        }
        n
    }

    /// Free slots right now.
    pub fn slots(&mut self) -> usize {
        self.free(N)
    }
}

impl<'a, T, const N: usize> Consumer<'a, T, N> {
    /// Values available, refreshing the cached producer position only if fewer than `want`
    /// are known.
    #[inline(always)]
    fn available(&mut self, want: usize) -> usize {
        let mut avail = self.cached_tail.wrapping_sub(self.head);
        if avail < want {
            // Acquire: pairs with the Release store of `tail` in `Producer::commit`.
            self.cached_tail = self.queue.tail.load(Acquire);
            avail = self.cached_tail.wrapping_sub(self.head);
        }
        avail
    }

    #[inline(always)]
    fn release(&mut self, n: usize) {
        self.head = self.head.wrapping_add(n);
        // Release: pairs with the Acquire load of `head` in `Producer::free`.
        self.queue.head.store(self.head, Release);
    }

    /// Pops the oldest value, or `None` when the queue is empty.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if self.available(1) == 0 {
            return None;
        }
        // SAFETY: the slot at `head` was written and published (Acquire in `available`); it is
        // freed right below.
        let value = unsafe { self.queue.take(self.head) };
        self.release(1);
        Some(value)
    }

    /// A reference to the oldest value without removing it.
    pub fn peek(&mut self) -> Option<&T> {
        if self.available(1) == 0 {
            return None;
        }
        // SAFETY: published value; it stays until this consumer (borrowed here) releases it.
        Some(unsafe { &*self.queue.slot(self.head) })
    }

    /// Copies up to `out.len()` of the oldest values; returns how many (at most two `memcpy`s).
    #[inline]
    pub fn pop_slice(&mut self, out: &mut [T]) -> usize
    where
        T: Copy,
    {
        let n = self.available(out.len()).min(out.len());
        if n == 0 {
            // Nothing to release: leave the shared `head` line alone, as in `push_slice`.
            return 0;
        }
        // SAFETY: positions `head..head + n` are published; they are freed right below.
        unsafe { self.queue.take_slice(self.head, &mut out[..n]) };
        self.release(n);
        n
    }

    /// A chunk of up to `max` readable values, seen as (at most) two slices, consumed by
    /// [`ReadChunk::commit`].
    pub fn read_chunk(&mut self, max: usize) -> ReadChunk<'_, 'a, T, N> {
        let n = self.available(max).min(max);
        ReadChunk {
            consumer: self,
            len: n,
            _shares: PhantomData,
        }
    }

    /// Values available right now.
    pub fn len(&mut self) -> usize {
        self.available(N)
    }

    /// No value available right now.
    pub fn is_empty(&mut self) -> bool {
        self.available(1) == 0
    }
}

/// Readable values of a [`Consumer`], borrowed in place. Dropping the chunk without
/// committing leaves the values in the queue.
pub struct ReadChunk<'c, 'a, T, const N: usize> {
    consumer: &'c mut Consumer<'a, T, N>,
    len: usize,
    /// `as_slices(&self)` hands out `&T`, so sharing a chunk shares the values: the chunk is
    /// `Sync` only if `T` is (the handles alone would make it `Sync` for any `T: Send`).
    _shares: PhantomData<T>,
}

impl<T, const N: usize> fmt::Debug for ReadChunk<'_, '_, T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("spsc::ReadChunk")
            .field("len", &self.len)
            .finish()
    }
}

impl<T, const N: usize> ReadChunk<'_, '_, T, N> {
    /// Number of values in the chunk.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The chunk holds no value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The values, oldest first, as two slices (the second is empty unless the chunk wraps).
    ///
    /// (Not in loom builds: loom's cells are not laid out as `[T; N]`.)
    #[cfg(not(loom))]
    pub fn as_slices(&self) -> (&[T], &[T]) {
        let head = self.consumer.head;
        let first = Queue::<T, N>::first_run(head, self.len);
        let q = self.consumer.queue;
        // SAFETY: positions `head..head + len` are published and stay until `commit`; the two
        // runs are contiguous in `buf` (which is an array of `MaybeUninit<T>` in `UnsafeCell`s,
        // `repr(transparent)`, so it has `T`'s layout).
        unsafe {
            (
                core::slice::from_raw_parts(q.slot(head), first),
                core::slice::from_raw_parts(q.slot(0), self.len - first),
            )
        }
    }

    /// Removes the first `n` values of the chunk (dropping them); `n` is clamped to `len()`.
    pub fn commit(self, n: usize) {
        let n = n.min(self.len);
        if !core::mem::needs_drop::<T>() {
            // Nothing to drop: hand all `n` slots back with one store.
            if n > 0 {
                self.consumer.release(n);
            }
            return;
        }
        for _ in 0..n {
            // SAFETY: the value at `head` is published; reading moves it out, and releasing
            // the slot right after means it is dropped (below) exactly once, even if it panics.
            let value = unsafe { self.consumer.queue.take(self.consumer.head) };
            self.consumer.release(1);
            drop(value);
        }
    }

    /// Removes every value of the chunk.
    pub fn commit_all(self) {
        let n = self.len;
        self.commit(n);
    }
}
