//! [`RingBuffer`]: the bounded MPMC ring (per-slot stamps, after Vyukov).

use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr;

use crate::cache_padded::CachePadded;
use crate::sync::Ordering::{Acquire, Relaxed, Release};
use crate::sync::{fence, AtomicUsize, UnsafeCell};

/// Slot state in the low bit of a stamp: the slot waits for a push.
const EMPTY: usize = 0;
/// Slot state in the low bit of a stamp: the slot holds a published value.
const FULL: usize = 1;

/// After the `k`-th lost race a claim detects in one call, it waits
/// `2^min(k - 1, BACKOFF_LIMIT)` `spin_loop` hints before it tries again (see
/// [`contention_backoff`]): 1, 2, 4, ... and at most 64, as crossbeam's `Backoff::spin`.
const BACKOFF_LIMIT: u32 = 6;
// `contention_backoff` shifts a `u32` by up to `BACKOFF_LIMIT`.
const _: () = assert!(BACKOFF_LIMIT < u32::BITS);

/// Backs off after a lost race for a cursor: another thread claimed the position we were
/// about to claim, so the ring made progress, and trying again at once would only pull the
/// contended cache lines (the cursor, the slot) back while the winner may still need them.
///
/// At most `2^BACKOFF_LIMIT` hints per lost race, and it waits for no thread: a full or
/// empty ring still fails at once, and the operation stays lock-free (as before, the number
/// of lost races in one call is not bounded: each is another thread's success). One lost
/// position can be detected twice (a failed compare-exchange, then the stale position it
/// returned), which moves the next wait one step up. On one core (firmware), a race is lost
/// only to an interrupt handler that preempted the claim; then the first wait is one hint.
///
/// Measured (a pair is one push and one pop): two threads on 2 cores each pushing and
/// popping on one ring ran at 4 to 21 million pairs per second without it and 8 to 128 with
/// it (crossbeam's `ArrayQueue`, which backs off the same way, 10 to 117; bimodal), see the
/// README's "Rings".
///
/// Inlined: out of line (`#[cold]`, `#[inline(never)]`), its step counter lives on the
/// stack, and an uncontended push and pop cost 3 more instructions together (callgrind, a
/// scratch loop of pairs: 45 per pair against 42 inlined, and 40 before the back-off, whose
/// counter is zeroed once per call). Inlined, the loop is a few instructions, copied into
/// each of `claim`'s three retry paths.
#[inline(always)]
fn contention_backoff(step: &mut u32) {
    for _ in 0..1u32 << *step {
        core::hint::spin_loop();
    }
    if *step < BACKOFF_LIMIT {
        *step += 1;
    }
}

/// Slots handled per loop test in the batch scans and copies (the compiler unrolls the inner
/// loop over a fixed-size block completely).
const UNROLL: usize = 8;

/// Calls `f` on the pairs of `a` and `b` (equal lengths), in order, `UNROLL` at a time.
#[inline(always)]
fn zip_unrolled<A, B>(a: &[A], b: &[B], mut f: impl FnMut(&A, &B)) {
    debug_assert_eq!(a.len(), b.len());
    let (a_blocks, a_rest) = a.as_chunks::<UNROLL>();
    let (b_blocks, b_rest) = b.as_chunks::<UNROLL>();
    for (a_block, b_block) in a_blocks.iter().zip(b_blocks) {
        for (x, y) in a_block.iter().zip(b_block) {
            f(x, y);
        }
    }
    for (x, y) in a_rest.iter().zip(b_rest) {
        f(x, y);
    }
}

/// As [`zip_unrolled`], with `b` mutable.
#[inline(always)]
fn zip_unrolled_mut<A, B>(a: &[A], b: &mut [B], mut f: impl FnMut(&A, &mut B)) {
    debug_assert_eq!(a.len(), b.len());
    let (a_blocks, a_rest) = a.as_chunks::<UNROLL>();
    let (b_blocks, b_rest) = b.as_chunks_mut::<UNROLL>();
    for (a_block, b_block) in a_blocks.iter().zip(b_blocks) {
        for (x, y) in a_block.iter().zip(b_block) {
            f(x, y);
        }
    }
    for (x, y) in a_rest.iter().zip(b_rest) {
        f(x, y);
    }
}

/// One cell of the ring: a stamp that says which position may use it next, and the value.
struct Slot<T> {
    /// `(lap_base(pos) << 1) | state`, see [`RingBuffer::stamp`].
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

impl<T> Slot<T> {
    #[cfg(not(loom))]
    const fn new() -> Self {
        Self {
            stamp: AtomicUsize::new(0),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    #[cfg(loom)]
    fn new() -> Self {
        Self {
            stamp: AtomicUsize::new(0),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The slot's stamp, loaded with Acquire.
    #[inline(always)]
    fn load_stamp(&self) -> usize {
        // Acquire: pairs with the Release store in `Slot::publish`, or the Release fence before
        // a batch's Relaxed stores (`RingBuffer::publish_runs`), by whoever used this slot
        // last (a producer's value write, or a consumer's value read, happens-before our
        // access to the value after we claim the slot).
        self.stamp.load(Acquire)
    }

    /// The slot's stamp, loaded Relaxed: for a batch's scan (`count_ready`), whose claim
    /// ends with one Acquire fence for all the slots it read (`claim`).
    #[inline(always)]
    fn load_stamp_relaxed(&self) -> usize {
        self.stamp.load(Relaxed)
    }

    /// Hands the slot on to the other side by storing `stamp` (see
    /// [`RingBuffer::publish_stamp`]).
    #[inline(always)]
    fn publish(&self, stamp: usize) {
        // Release: pairs with the Acquire load in `Slot::load_stamp` (from `claim`) of the next
        // user of this slot, or the Acquire fence that ends its batch claim after a Relaxed
        // load (`count_ready`); our access to the value happens-before theirs.
        self.stamp.store(stamp, Release);
    }

    /// [`publish`](Self::publish) for one slot of a batch, after the batch's Release fence
    /// ([`RingBuffer::publish_runs`]).
    #[inline(always)]
    fn publish_relaxed(&self, stamp: usize) {
        self.stamp.store(stamp, Relaxed);
    }

    /// Writes `value` into the slot (not published yet).
    ///
    /// # Safety
    /// The slot belongs to a position this thread claimed for a push and has not published.
    #[inline(always)]
    unsafe fn write(&self, value: T) {
        self.value.with_mut(|cell| {
            // SAFETY: the claim makes this thread the only one touching the slot until it
            // publishes it (caller's contract); the slot is empty, so nothing is overwritten.
            unsafe { (*cell).write(value) };
        });
    }

    /// Moves the value out of the slot (the slot is not published empty yet).
    ///
    /// # Safety
    /// The slot belongs to a position this thread claimed for a pop and has not published.
    #[inline(always)]
    unsafe fn read(&self) -> T {
        // `with_mut`, not `with`: moving the value out empties the slot, a write as far as
        // loom's cell tracking goes, so two consumers reading one slot are caught as a race.
        self.value.with_mut(|cell| {
            // SAFETY: the claim gives this thread exclusive access to a slot whose stamp said
            // FULL, i.e. a producer wrote a value and published it (the Acquire load or fence
            // in `claim`).
            unsafe { (*cell).assume_init_read() }
        })
    }
}

/// A bounded multi-producer multi-consumer ring buffer of capacity `N` (a power of two),
/// in fixed storage, usable in a `static`.
///
/// See the [module documentation](crate::ring) for the algorithm, its progress guarantee
/// and the memory layout.
///
/// # Examples
///
/// ```
/// use ringdag_core::ring::RingBuffer;
///
/// static RING: RingBuffer<u32, 8> = RingBuffer::new();
///
/// RING.push(1).unwrap();
/// RING.push(2).unwrap();
/// assert_eq!(RING.pop(), Some(1));
/// assert_eq!(RING.pop(), Some(2));
/// assert_eq!(RING.pop(), None);
/// ```
///
/// A capacity that is zero or not a power of two does not compile:
///
/// ```compile_fail
/// let ring = ringdag_core::ring::RingBuffer::<u32, 6>::new();
/// ```
///
/// ```compile_fail
/// let ring = ringdag_core::ring::RingBuffer::<u32, 0>::new();
/// ```
///
/// A ring of a type that is not `Send` is not `Sync`, so it cannot be shared across threads:
///
/// ```compile_fail
/// fn assert_sync<S: Sync>() {}
/// assert_sync::<ringdag_core::ring::RingBuffer<std::rc::Rc<u8>, 4>>();
/// ```
#[repr(C)]
pub struct RingBuffer<T, const N: usize> {
    /// Next position to pop. Written by consumers only (compare-exchange).
    head: CachePadded<AtomicUsize>,
    /// Next position to push. Written by producers only (compare-exchange).
    tail: CachePadded<AtomicUsize>,
    slots: [Slot<T>; N],
    _owns: PhantomData<T>,
}

// A value moves into the ring on one thread and out on another, so sharing the ring sends `T`
// between threads. No `&T` is ever handed out from a shared ring, so `T: Sync` is not needed.
// Every slot access is made exclusive by the claim protocol (a compare-exchange on
// `head`/`tail` plus the slot stamp, see `claim`).
// SAFETY: `T: Send` is required and sufficient for sharing, per the above.
unsafe impl<T: Send, const N: usize> Sync for RingBuffer<T, N> {}
// SAFETY: moving the ring moves the values it owns; that needs `T: Send`, nothing else.
unsafe impl<T: Send, const N: usize> Send for RingBuffer<T, N> {}

impl<T, const N: usize> RingBuffer<T, N> {
    // Wrapping: for N = 0 the error is `VALID_CAPACITY`'s message alone.
    const MASK: usize = N.wrapping_sub(1);

    /// Checked at compile time, from `new`: `N` is a power of two (so not zero) and small enough
    /// that stamp differences (at most `2 * N`) fit in an `isize`.
    const VALID_CAPACITY: () = assert!(
        N.is_power_of_two() && N <= (isize::MAX as usize) / 4,
        "RingBuffer capacity N must be a non-zero power of two"
    );

    /// Creates an empty ring. `const`, so the ring can live in a `static`; all of its memory
    /// is zero at start, so such a static lands in `.bss` and costs no flash.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringdag_core::ring::RingBuffer;
    /// static R: RingBuffer<u64, 1024> = RingBuffer::new();
    /// assert_eq!(R.capacity(), 1024);
    /// assert!(R.is_empty());
    /// ```
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::VALID_CAPACITY;
        Self {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            slots: [const { Slot::new() }; N],
            _owns: PhantomData,
        }
    }

    /// Creates an empty ring (loom build: loom's atomics are not `const`).
    #[cfg(loom)]
    pub fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::VALID_CAPACITY;
        Self {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            slots: core::array::from_fn(|_| Slot::new()),
            _owns: PhantomData,
        }
    }

    /// Creates an empty ring whose first push and pop use position `start` instead of 0.
    ///
    /// Behaviour is identical to [`new`](Self::new); this exists so that tests can place the
    /// position counters just below `usize::MAX` and prove that wrap-around is exact.
    #[doc(hidden)]
    pub fn starting_at(start: usize) -> Self {
        let ring = Self::new();
        ring.head.store(start, Relaxed);
        ring.tail.store(start, Relaxed);
        for (i, slot) in ring.slots.iter().enumerate() {
            // The first position at or after `start` that maps to slot `i`.
            let pos = start.wrapping_add(i.wrapping_sub(start) & Self::MASK);
            slot.stamp.store(Self::stamp(pos, EMPTY), Relaxed);
        }
        ring
    }

    /// The capacity, `N`.
    #[inline]
    pub const fn capacity(&self) -> usize {
        N
    }

    /// The stamp a slot carries when it is ready for position `pos` in `state`.
    ///
    /// Positions count up forever (wrapping). A slot is used by positions `i, i + N, i + 2N,
    /// ...`; `pos & !MASK` (the "lap base") tells those apart, and doubling it leaves the low
    /// bit for the state. Doubling also makes the stamp of "full at lap L" differ from "empty
    /// at lap L + 1" even when `N == 1`. Stamps are compared by *signed* difference, so the
    /// comparison stays right across the wrap of `usize` (also on 32-bit targets).
    #[inline(always)]
    const fn stamp(pos: usize, state: usize) -> usize {
        ((pos & !Self::MASK) << 1) | state
    }

    /// The stamp that hands the slot of position `pos` on after an operation that leaves it
    /// in `state`: `FULL` at `pos`'s lap after a push, `EMPTY` at the next lap after a pop.
    /// The same for every position of one lap.
    #[inline(always)]
    const fn publish_stamp(pos: usize, state: usize) -> usize {
        if state == FULL {
            Self::stamp(pos, FULL)
        } else {
            Self::stamp(pos.wrapping_add(N), EMPTY)
        }
    }

    #[inline(always)]
    fn slot(&self, pos: usize) -> &Slot<T> {
        // The mask keeps the index below N; the compiler removes the bounds check.
        &self.slots[pos & Self::MASK]
    }

    /// Claims up to `max` consecutive positions at `cursor` whose slots are all in `state`
    /// (`EMPTY` for producers at `tail`, `FULL` for consumers at `head`), with ONE successful
    /// compare-exchange. Returns the first position and the count, or `None` if the very
    /// first slot is not ready (ring full, resp. empty, or that slot is claimed by a thread
    /// that has not published it yet).
    ///
    /// Retries when another thread moved `cursor` (its CAS won, or our read was stale), after
    /// a bounded back-off ([`contention_backoff`]), or at once when the weak CAS failed
    /// spuriously (LL/SC targets): lock-free, never waits for a stalled thread.
    #[inline(always)]
    fn claim(&self, cursor: &AtomicUsize, state: usize, max: usize) -> Option<(usize, usize)> {
        let max = if max < N { max } else { N };
        if max == 0 {
            return None;
        }
        let mut pos = cursor.load(Relaxed);
        let mut backoff = 0;
        loop {
            let stamp = self.slot(pos).load_stamp();
            let diff = stamp.wrapping_sub(Self::stamp(pos, state)) as isize;
            if diff != 0 {
                if diff > 0 {
                    // The slot was already used at position `pos` by someone else, so `cursor`
                    // has moved past `pos` and our `pos` is stale. That thread advanced
                    // `cursor` before it published the slot (a Release store, or a batch's
                    // Release fence and Relaxed store), which our Acquire load read, so this
                    // load sees a newer value: progress. We lost that position: back off.
                    contention_backoff(&mut backoff);
                    pos = cursor.load(Relaxed);
                    continue;
                }
                // diff < 0: the slot still belongs to the previous lap (full, resp. empty).
                return None;
            }
            // `max == 1` (push, pop) is a constant after inlining: no scan at all.
            let n = if max == 1 {
                1
            } else {
                // Scans from `pos` itself again (one more load of a line we just read), so
                // that a batch of `UNROLL * k` slots has no odd remainder to scan.
                self.ready_run(pos, state, max)
            };
            if n == 0 {
                // The first slot changed since we read it: another thread claimed `pos` and
                // moved `cursor` on. The scan's load was Relaxed, so this load of `cursor` may
                // still return `pos`; then the next pass's Acquire load of the same stamp reads
                // the change too (coherence) and takes the `diff > 0` case: progress. We lost
                // that position: back off.
                contention_backoff(&mut backoff);
                pos = cursor.load(Relaxed);
                continue;
            }
            // Relaxed: the claim only needs the total order of RMWs on `cursor`; the data is
            // ordered by the slot stamps (Release in `Slot::publish` or the fence in
            // `publish_runs`; Acquire in `Slot::load_stamp` for one slot, the fence below for
            // a batch).
            match cursor.compare_exchange_weak(pos, pos.wrapping_add(n), Relaxed, Relaxed) {
                Ok(_) => {
                    if max > 1 {
                        // Acquire: pairs with the Release store in `Slot::publish`, or the
                        // Release fence in `publish_runs`, that published each slot the scan
                        // read (Relaxed, in `count_ready`): every claimed slot's last user's
                        // access to its value happens-before ours. One fence per batch, not
                        // one per slot (a barrier each on ARM).
                        fence(Acquire);
                    }
                    return Some((pos, n));
                }
                Err(current) => {
                    if current != pos {
                        // Another claim won (not a spurious failure of the weak CAS, which
                        // retries at once).
                        contention_backoff(&mut backoff);
                    }
                    pos = current;
                }
            }
        }
    }

    /// How many of the `max` positions `pos..pos + max` (`max <= N`) have their slot ready
    /// for `state`, counted from `pos` up to the first one that is not.
    ///
    /// The positions map to at most two contiguous runs of `slots`; within a run every
    /// position has the same lap, so every ready slot carries the same stamp.
    #[inline(always)]
    fn ready_run(&self, pos: usize, state: usize, max: usize) -> usize {
        let start = pos & Self::MASK;
        let first = max.min(N - start);
        let n = Self::count_ready(&self.slots[start..start + first], Self::stamp(pos, state));
        if n < first || first == max {
            return n;
        }
        // The run wraps to slot 0, whose positions are one lap further.
        let wrapped = Self::stamp(pos.wrapping_add(first), state);
        n + Self::count_ready(&self.slots[..max - first], wrapped)
    }

    /// How many slots at the start of `slots` carry `expected`, each stamp loaded once,
    /// Relaxed (the claim that uses the count ends with an Acquire fence). Unrolled: one loop
    /// test per `UNROLL` slots, one compare-and-branch each.
    #[inline(always)]
    fn count_ready(slots: &[Slot<T>], expected: usize) -> usize {
        let (blocks, rest) = slots.as_chunks::<UNROLL>();
        let mut n = 0;
        for block in blocks {
            for (i, slot) in block.iter().enumerate() {
                if slot.load_stamp_relaxed() != expected {
                    return n + i;
                }
            }
            n += UNROLL;
        }
        for slot in rest {
            if slot.load_stamp_relaxed() != expected {
                break;
            }
            n += 1;
        }
        n
    }

    /// The slots of the claimed positions `pos..pos + n` (`n <= N`), in order, as (at most)
    /// two contiguous runs of `slots` (the second is empty unless the run wraps to slot 0),
    /// each with the stamp that publishes its slots after an operation leaving them in
    /// `state` (see [`publish_stamp`](Self::publish_stamp)).
    #[inline(always)]
    fn claimed_runs(&self, pos: usize, n: usize, state: usize) -> [(&[Slot<T>], usize); 2] {
        let start = pos & Self::MASK;
        let first = n.min(N - start);
        [
            (
                &self.slots[start..start + first],
                Self::publish_stamp(pos, state),
            ),
            (
                &self.slots[..n - first],
                Self::publish_stamp(pos.wrapping_add(first), state),
            ),
        ]
    }

    /// Publishes the slots of a claimed pop batch (`claimed_runs`), in order, once every
    /// value was read: one Release fence, then a Relaxed store of each stamp. The fence pairs
    /// with the Acquire load in `Slot::load_stamp`, or the Acquire fence ending a batch
    /// claim, of each slot's next user: our accesses to the values happen-before theirs. One
    /// fence per batch, not one per slot (a barrier each on ARM).
    #[inline(always)]
    fn publish_runs(runs: [(&[Slot<T>], usize); 2]) {
        fence(Release);
        for (run, stamp) in runs {
            for slot in run {
                slot.publish_relaxed(stamp);
            }
        }
    }

    /// Writes `value` into the slot of claimed position `pos` and publishes it.
    ///
    /// # Safety
    /// `pos` was claimed for a push by this thread (from `claim(&self.tail, EMPTY, ..)`) and
    /// not yet published.
    #[inline(always)]
    unsafe fn write_and_publish(&self, pos: usize, value: T) {
        let slot = self.slot(pos);
        // SAFETY: `pos` was claimed for a push by this thread and is not published (caller).
        unsafe { slot.write(value) };
        slot.publish(Self::publish_stamp(pos, FULL));
    }

    /// Moves the value out of the slot of claimed position `pos` and publishes the slot empty.
    ///
    /// # Safety
    /// `pos` was claimed for a pop by this thread (from `claim(&self.head, FULL, ..)`) and not
    /// yet published.
    #[inline(always)]
    unsafe fn read_and_publish(&self, pos: usize) -> T {
        let slot = self.slot(pos);
        // SAFETY: `pos` was claimed for a pop by this thread and is not published (caller).
        let value = unsafe { slot.read() };
        slot.publish(Self::publish_stamp(pos, EMPTY));
        value
    }

    /// Pushes `value`, or gives it back as `Err(value)` when the ring is full (or when the
    /// slot at the tail is still being read by a consumer that claimed it and was preempted).
    ///
    /// Never blocks and never waits for another thread: safe to call from an interrupt handler.
    ///
    /// # Errors
    ///
    /// `Err(value)` when no slot is free at the tail.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = ringdag_core::ring::RingBuffer::<&str, 1>::new();
    /// assert_eq!(ring.push("a"), Ok(()));
    /// assert_eq!(ring.push("b"), Err("b"));
    /// ```
    #[inline]
    pub fn push(&self, value: T) -> Result<(), T> {
        match self.claim(&self.tail, EMPTY, 1) {
            Some((pos, _)) => {
                // SAFETY: `pos` was just claimed for a push by this thread.
                unsafe { self.write_and_publish(pos, value) };
                Ok(())
            }
            None => Err(value),
        }
    }

    /// Pops the oldest value, or `None` when the ring is empty (or when the value at the head
    /// is claimed by a producer that has not published it yet).
    ///
    /// Never blocks and never waits for another thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = ringdag_core::ring::RingBuffer::<u8, 4>::new();
    /// assert_eq!(ring.pop(), None);
    /// ring.push(9).unwrap();
    /// assert_eq!(ring.pop(), Some(9));
    /// ```
    #[inline]
    pub fn pop(&self) -> Option<T> {
        let (pos, _) = self.claim(&self.head, FULL, 1)?;
        // SAFETY: `pos` was just claimed for a pop by this thread.
        Some(unsafe { self.read_and_publish(pos) })
    }

    /// Moves the longest prefix of `items` that fits into the ring, in order, claimed with
    /// one atomic read-modify-write. What did not fit stays in `items`, in order, at the front.
    /// Returns how many were moved (0 when the ring is full or `items` is empty).
    ///
    /// No user code (no `Drop`, no closure) runs between the claim and the publication of
    /// the slots.
    ///
    /// # Examples
    ///
    /// ```
    /// use heapless::Vec;
    /// let ring = ringdag_core::ring::RingBuffer::<u32, 4>::new();
    /// let mut items: Vec<u32, 8> = (0..6).collect();
    /// assert_eq!(ring.push_batch(&mut items), 4);
    /// assert_eq!(items.as_slice(), &[4, 5]);
    /// ```
    pub fn push_batch<const B: usize>(&self, items: &mut heapless::Vec<T, B>) -> usize {
        let len = items.len();
        let Some((pos, n)) = self.claim(&self.tail, EMPTY, len) else {
            return 0;
        };
        // SAFETY: the first `n` elements are moved out below; forgetting them first means an
        // unexpected unwind could only leak, never drop twice. (Nothing below can unwind.)
        unsafe { items.set_len(0) };
        // Taken after `set_len`, so that no later `&mut` use of `items` invalidates it before
        // the final `set_len`.
        let src = items.as_mut_ptr();
        // SAFETY: the `n <= len` elements at `src` are initialised (forgotten, not dropped)
        // and nothing else accesses the vector's buffer while `moved` is in use.
        let moved = unsafe { core::slice::from_raw_parts(src, n) };
        let [(run0, stamp0), (run1, stamp1)] = self.claimed_runs(pos, n, FULL);
        let (moved0, moved1) = moved.split_at(run0.len());
        // Each slot published as soon as it is written, as in `push_slice`.
        for (run, stamp, moved) in [(run0, stamp0, moved0), (run1, stamp1, moved1)] {
            zip_unrolled(run, moved, |slot, item| {
                // SAFETY: `item` is an initialised element that is read exactly once (its
                // owner forgot it above); the slot belongs to one of the positions
                // `pos..pos + n` claimed for a push by this thread, unpublished.
                unsafe { slot.write(ptr::read(item)) };
                slot.publish(stamp);
            });
        }
        // SAFETY: elements `n..len` are initialised and still owned by the vector; moving them
        // to the front (overlapping copy) and setting the length keeps each exactly once.
        unsafe {
            ptr::copy(src.add(n), src, len - n);
            items.set_len(len - n);
        }
        n
    }

    /// Appends up to `out`'s free space of the oldest values, in order, claimed with one
    /// atomic read-modify-write. Returns how many were appended (0 when the ring is empty or
    /// `out` is full).
    ///
    /// # Examples
    ///
    /// ```
    /// use heapless::Vec;
    /// let ring = ringdag_core::ring::RingBuffer::<u32, 8>::new();
    /// for i in 0..5 { ring.push(i).unwrap(); }
    /// let mut out: Vec<u32, 3> = Vec::new();
    /// assert_eq!(ring.pop_batch(&mut out), 3);
    /// assert_eq!(out.as_slice(), &[0, 1, 2]);
    /// ```
    pub fn pop_batch<const B: usize>(&self, out: &mut heapless::Vec<T, B>) -> usize {
        let len = out.len();
        let Some((pos, n)) = self.claim(&self.head, FULL, B - len) else {
            return 0;
        };
        let runs = self.claimed_runs(pos, n, EMPTY);
        let [(run0, _), (run1, _)] = runs;
        let (dst0, dst1) = out.spare_capacity_mut()[..n].split_at_mut(run0.len());
        for (run, dst) in [(run0, dst0), (run1, dst1)] {
            zip_unrolled_mut(run, dst, |slot, item| {
                // SAFETY: the slot belongs to one of the positions `pos..pos + n` claimed for a
                // pop by this thread, unpublished.
                item.write(unsafe { slot.read() });
            });
        }
        Self::publish_runs(runs);
        // SAFETY: elements `len..len + n` were initialised just above, and `len + n <= B`.
        unsafe { out.set_len(len + n) };
        n
    }

    /// Copies the longest prefix of `items` that fits into the ring, claimed with one atomic
    /// read-modify-write. Returns how many were copied.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = ringdag_core::ring::RingBuffer::<u64, 4>::new();
    /// assert_eq!(ring.push_slice(&[1, 2, 3, 4, 5]), 4);
    /// let mut out = [0u64; 8];
    /// assert_eq!(ring.pop_slice(&mut out), 4);
    /// assert_eq!(out[..4], [1, 2, 3, 4]);
    /// ```
    #[inline]
    pub fn push_slice(&self, items: &[T]) -> usize
    where
        T: Copy,
    {
        let Some((pos, n)) = self.claim(&self.tail, EMPTY, items.len()) else {
            return 0;
        };
        let [(run0, stamp0), (run1, stamp1)] = self.claimed_runs(pos, n, FULL);
        let (items0, items1) = items[..n].split_at(run0.len());
        // Each slot published as soon as it is written, with its own Release store: one pass
        // over the slots. Publishing behind one fence (`publish_runs`, as the pops do) would
        // save a barrier per slot on ARM, but on x86, where a Release store is a plain
        // store, the second pass cost 53 more instructions per 128-item push and pop
        // (callgrind), so it was not taken.
        for (run, stamp, items) in [(run0, stamp0, items0), (run1, stamp1, items1)] {
            zip_unrolled(run, items, |slot, item| {
                // SAFETY: the slot belongs to one of the positions `pos..pos + n` claimed for
                // a push by this thread, unpublished.
                unsafe { slot.write(*item) };
                slot.publish(stamp);
            });
        }
        n
    }

    /// Copies up to `out.len()` of the oldest values into `out`, claimed with one atomic
    /// read-modify-write. Returns how many were copied.
    #[inline]
    pub fn pop_slice(&self, out: &mut [T]) -> usize
    where
        T: Copy,
    {
        let Some((pos, n)) = self.claim(&self.head, FULL, out.len()) else {
            return 0;
        };
        let runs = self.claimed_runs(pos, n, EMPTY);
        let [(run0, _), (run1, _)] = runs;
        let (out0, out1) = out[..n].split_at_mut(run0.len());
        for (run, out) in [(run0, out0), (run1, out1)] {
            zip_unrolled_mut(run, out, |slot, item| {
                // SAFETY: the slot belongs to one of the positions `pos..pos + n` claimed for
                // a pop by this thread, unpublished.
                *item = unsafe { slot.read() };
            });
        }
        // Published after all values are copied out (fewer interleaved stores run faster),
        // and in order all the same.
        Self::publish_runs(runs);
        n
    }

    /// The number of claimed positions between head and tail, clamped to `0..=N`.
    ///
    /// Under concurrency this is a snapshot that may be stale by the time it returns, and it
    /// counts positions that are claimed but not yet published. `head` is read between two
    /// reads of `tail` that agree (retried otherwise, which needs another thread's push to
    /// have succeeded meanwhile). So a caller interrupted or preempted between its reads (a
    /// main loop whose interrupt handler pushes and pops meanwhile) does not report a state
    /// the ring never had, such as a ring that never held more than one item as full. On a
    /// single core and on x86 (where the cursors' compare-exchanges are full barriers) the
    /// value is one the ring had; on weakly ordered multi-core targets the cursors' moves by
    /// other cores may still be seen out of order (they are Relaxed: nothing else needs
    /// them ordered), so treat `len` there as an estimate.
    pub fn len(&self) -> usize {
        let (head, tail) = loop {
            // Acquire on the three loads keeps them in this order (a later load is not done
            // before an earlier one); they publish nothing and pair with nothing else.
            let tail = self.tail.load(Acquire);
            let head = self.head.load(Acquire);
            if self.tail.load(Acquire) == tail {
                break (head, tail);
            }
        };
        let diff = tail.wrapping_sub(head) as isize;
        if diff <= 0 {
            0
        } else if diff as usize >= N {
            N
        } else {
            diff as usize
        }
    }

    /// `len() == 0`; a snapshot, see [`len`](Self::len).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `len() == capacity()`; a snapshot, see [`len`](Self::len).
    pub fn is_full(&self) -> bool {
        self.len() == N
    }
}

impl<T, const N: usize> Default for RingBuffer<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> fmt::Debug for RingBuffer<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingBuffer")
            .field("capacity", &N)
            .field("len", &self.len())
            .finish()
    }
}

impl<T, const N: usize> Drop for RingBuffer<T, N> {
    fn drop(&mut self) {
        if !core::mem::needs_drop::<T>() {
            return;
        }
        /// Drops the values in `head..tail`. Kept alive while dropping: if one value's `Drop`
        /// panics, unwinding drops this guard, which drops the rest. Each value is dropped at
        /// most once because `head` moves past a value before its `Drop` runs.
        struct Rest<'a, T, const N: usize>(&'a RingBuffer<T, N>);
        impl<T, const N: usize> Rest<'_, T, N> {
            fn drain(&self) {
                let ring = self.0;
                let tail = ring.tail.load(Relaxed);
                loop {
                    let head = ring.head.load(Relaxed);
                    if head == tail {
                        break;
                    }
                    ring.head.store(head.wrapping_add(1), Relaxed);
                    ring.slot(head).value.with_mut(|cell| {
                        // SAFETY: `&mut self` in `drop` excludes every other access, and every
                        // position in `head..tail` holds a published value (no claim can be in
                        // flight without a live `&self`).
                        unsafe { (*cell).assume_init_drop() };
                    });
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
