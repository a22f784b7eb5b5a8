//! Where [`Runtime::submit_wait`](crate::Runtime::submit_wait) waits for a free run slot.
//!
//! A submitter that found every run slot taken (or the task ring full) counts itself in
//! `waiters`, issues a SeqCst fence, reads the epoch, and tries again; if that try fails too,
//! it blocks in the condition variable until the epoch moves (or its timeout passes). Whoever
//! frees a run slot issues a SeqCst fence after freeing it and reads `waiters`; if a submitter
//! waits, it moves the epoch and notifies, under the lock. The two fences pair (the Dekker
//! pattern, as in `sleep.rs`): either the submitter's try sees the freed slot, or the freer
//! sees the submitter and moves the epoch, which the submitter reads (then it does not block)
//! or is woken by. Reading the epoch before the try, and comparing under the lock before
//! blocking, closes the window between a failed try and the wait.
//!
//! A full task ring frees without a notification (workers pop it on their hot path), and a
//! slot can be taken by another submitter first: the timeout covers both, so a submitter
//! never waits longer than its timeout for a try, whatever this protocol misses.

use std::time::Duration;

use crate::shim::{fence, AtomicU64, AtomicUsize, Condvar, Mutex, Ordering};

/// Submitters waiting for a run slot to be freed.
pub(crate) struct SlotWait {
    /// Moved (under the lock) each time a slot is freed while a submitter waits.
    epoch: Mutex<u64>,
    freed: Condvar,
    /// Submitters between their count-in (before a try) and their count-out (after its wait).
    waiters: AtomicUsize,
    /// Times a submitter blocked.
    pub(crate) blocked: AtomicU64,
}

/// A submitter counted as waiting; counted out when dropped.
pub(crate) struct Waiting<'a> {
    wait: &'a SlotWait,
    epoch: u64,
}

impl SlotWait {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Mutex::new(0),
            freed: Condvar::new(),
            waiters: AtomicUsize::new(0),
            blocked: AtomicU64::new(0),
        }
    }

    /// Counts the caller in as waiting for a slot; the caller tries to submit next.
    pub(crate) fn enter(&self) -> Waiting<'_> {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        // SeqCst fence: pairs with the fence in `slot_freed`. Either the freer sees our
        // count, or the try that follows sees the slot it freed.
        fence(Ordering::SeqCst);
        let epoch = *self.epoch.lock().unwrap_or_else(|e| e.into_inner());
        Waiting { wait: self, epoch }
    }

    /// A run slot was freed (before this call): wakes the submitters waiting for one.
    pub(crate) fn slot_freed(&self) {
        // SeqCst fence: pairs with the one in `enter` (see there).
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::Relaxed) > 0 {
            let mut epoch = self.epoch.lock().unwrap_or_else(|e| e.into_inner());
            *epoch = epoch.wrapping_add(1);
            self.freed.notify_all();
        }
    }
}

impl Waiting<'_> {
    /// The try after [`SlotWait::enter`] failed: blocks until a slot is freed or `timeout`
    /// passes (at once if one was freed since `enter`), then counts the caller out.
    pub(crate) fn wait(self, timeout: Duration) {
        let guard = self.wait.epoch.lock().unwrap_or_else(|e| e.into_inner());
        if *guard == self.epoch {
            self.wait.blocked.fetch_add(1, Ordering::Relaxed);
            // Spurious wake-ups only end this wait early: the caller tries again.
            drop(match self.wait.freed.wait_timeout(guard, timeout) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            });
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.wait.waiters.fetch_sub(1, Ordering::Relaxed);
    }
}
