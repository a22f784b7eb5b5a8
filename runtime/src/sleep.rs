//! Parking idle workers and waking them for new work.
//!
//! A worker that found nothing to do parks: it counts itself in `sleepers`, looks at the work
//! once more, and only then blocks in the condition variable. Whoever publishes work (a
//! submit, a worker pushing ready successors) calls [`Sleep::work_available`]: it looks at
//! `sleepers` and notifies one blocked worker. Each side writes its own variable, issues a
//! SeqCst fence and reads the other's (the Dekker pattern), so at least one of them sees the
//! other: the parker sees the work, or the publisher sees the parker.
//!
//! One wake-up is in flight at a time (`wake_pending`); the woken worker passes it on while
//! more work waits than it can start itself.
//!
//! The protocol uses the synchronisation types of `crate::shim`: std's in the runtime, loom's
//! in `runtime/tests/loom_park.rs`, which includes this file and checks every interleaving of
//! workers parking against publishers (a lost wake-up shows up there as a deadlock).

use std::time::Duration;

use crate::shim::{fence, AtomicBool, AtomicU64, AtomicUsize, Condvar, Mutex, Ordering};

/// How often a parked worker other than the timekeeper looks for due retries.
const DEFERRED_POLL: Duration = Duration::from_millis(50);

/// The longest a parked worker sleeps with nothing to wait for: 2^20 s, about 12 days. The
/// engine's tick counts milliseconds in a `u32` and moves forward only to a reading less than
/// 2^31 ticks (about 24.9 days) ahead of it, so a runtime idle for longer than that would
/// refuse the clock's next reading (it looks older) and stand still until the clock wrapped
/// round: deadlines, timeouts and back-offs would stop counting. A worker waking this often
/// re-syncs the tick first (one wake per worker every 12 days: an idle runtime still uses no
/// measurable CPU).
const IDLE_RESYNC: Duration = Duration::from_secs(1 << 20);

/// What a parking worker asks about the work. Every answer is a snapshot; the protocol's
/// fences order them against the publishers' writes.
pub(crate) trait Work {
    /// Whether there is work a worker could start now.
    fn ready(&self) -> bool;
    /// Whether starting work is paused (a paused runtime's workers sleep until resumed).
    fn paused(&self) -> bool;
    /// Whether the worker is to leave its loop instead of sleeping.
    fn exiting(&self) -> bool;
    /// Milliseconds until the earliest retry waiting for its tick may be due (a parked
    /// worker must wake to start it); `None` when none waits.
    fn retry_in(&self) -> Option<u32>;
    /// Entries waiting that any worker could take.
    fn backlog(&self) -> usize;
    /// How soon a parked worker is to wake and look at the runs in flight (for a stalled
    /// serial run, see `Engine::steal_stalled`); `None` (the default): not before it is
    /// notified.
    fn look_in(&self) -> Option<Duration> {
        None
    }
}

/// The parking state of one runtime's workers.
pub(crate) struct Sleep {
    sleep: Mutex<()>,
    wake: Condvar,
    /// Workers between their count-in and count-out in `park` (looking, or blocked).
    sleepers: AtomicUsize,
    /// Workers blocked in the condition variable (changed under `sleep`).
    waiting: AtomicUsize,
    /// A notification was sent (under `sleep`, to a waiting worker) and that worker has not
    /// woken yet: another one would find nobody new to wake. Cleared by the woken worker.
    wake_pending: AtomicBool,
    /// A parked worker is waking for deferred retries when the earliest may be due (at least
    /// every `DEFERRED_POLL`). Read and written under `sleep` only, so Relaxed.
    timekeeper: AtomicBool,
    /// Workers blocked without a time limit (nothing to wait for but a notification): a run
    /// that starts to be held serially wakes them, so that they look for it to stall (see
    /// [`Sleep::run_held`]).
    untimed: AtomicUsize,
    /// Times a worker blocked.
    pub(crate) parks: AtomicU64,
    /// Notifications sent to one worker.
    pub(crate) wakes: AtomicU64,
}

impl Sleep {
    pub(crate) fn new() -> Self {
        Self {
            sleep: Mutex::new(()),
            wake: Condvar::new(),
            sleepers: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            wake_pending: AtomicBool::new(false),
            timekeeper: AtomicBool::new(false),
            untimed: AtomicUsize::new(0),
            parks: AtomicU64::new(0),
            wakes: AtomicU64::new(0),
        }
    }

    /// Blocks the calling worker until it is notified, unless `work` has something for it
    /// (or it is exiting). Returns after one wait at most: the caller looks for work again.
    pub(crate) fn park(&self, work: &impl Work) {
        let guard = self.sleep.lock().unwrap_or_else(|e| e.into_inner());
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        // SeqCst fence: pairs with the fence in `work_available`. Either the publisher sees
        // our `sleepers` increment, or we see the work it published (Dekker pattern).
        fence(Ordering::SeqCst);
        if (!work.ready() || work.paused()) && !work.exiting() {
            self.parks.fetch_add(1, Ordering::Relaxed);
            self.waiting.fetch_add(1, Ordering::Relaxed);
            // Retries waiting for a tick need a timed wake; otherwise sleep until notified
            // (or `IDLE_RESYNC` passes).
            // One parked worker at a time (the timekeeper) wakes when the earliest of them
            // may be due (at least every `DEFERRED_POLL`; a retry parked, or a run cancelled or
            // failed, meanwhile notifies); the others wake every `DEFERRED_POLL`, in case the
            // timekeeper is busy in a body meanwhile. A long back-off costs a few wakes.
            let look = work.look_in();
            let _guard = if let Some(ms) = work.retry_in() {
                let keeper = !self.timekeeper.swap(true, Ordering::Relaxed);
                let period = if keeper {
                    Duration::from_millis(u64::from(ms.max(1))).min(DEFERRED_POLL)
                } else {
                    DEFERRED_POLL
                };
                let period = look.map_or(period, |l| l.min(period));
                let g = match self.wake.wait_timeout(guard, period) {
                    Ok((g, _)) => g,
                    Err(e) => e.into_inner().0,
                };
                if keeper {
                    self.timekeeper.store(false, Ordering::Relaxed);
                }
                g
            } else if let Some(look) = look {
                match self.wake.wait_timeout(guard, look) {
                    Ok((g, _)) => g,
                    Err(e) => e.into_inner().0,
                }
            } else {
                self.untimed.fetch_add(1, Ordering::SeqCst);
                // SeqCst fence: pairs with the one in `run_held`. Either a worker that holds
                // a run from now sees this count and wakes us, or we see the run held (its
                // holder marks it before its fence) and wait only as long as `look_in` says.
                fence(Ordering::SeqCst);
                let look = work.look_in();
                let g = match self.wake.wait_timeout(guard, look.unwrap_or(IDLE_RESYNC)) {
                    Ok((g, _)) => g,
                    Err(e) => e.into_inner().0,
                };
                self.untimed.fetch_sub(1, Ordering::Relaxed);
                g
            };
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            // Under `sleep`: whichever waiter wakes first (notified, spuriously or timed out)
            // lets later pushes notify again.
            self.wake_pending.store(false, Ordering::Relaxed);
            // SeqCst fence: pairs with the one in `work_available`. A publisher that still saw
            // the flag set and skipped its notification published its work before its fence,
            // so what we check next (and this worker's next look for work) finds it.
            fence(Ordering::SeqCst);
            // Pushes made while the flag was set notified nobody: pass the wake-up on while
            // there is work for more than this worker (it may block in a body), unless work
            // is paused (nobody could start it; resuming wakes every worker).
            if self.waiting.load(Ordering::Relaxed) > 0 && work.backlog() > 1 && !work.paused() {
                self.wake_pending.store(true, Ordering::Relaxed);
                self.wake.notify_one();
                self.wakes.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }

    /// Work was published (before this call): wakes a parked worker if one may have missed it.
    pub(crate) fn work_available(&self) {
        // SeqCst fence: pairs with the fences in `park` (see there).
        fence(Ordering::SeqCst);
        // One wake-up in flight at a time: while the woken worker has not left `park`, more
        // notifications (a mutex and a futex call per push) would find nobody new to wake.
        // The woken worker, once running, sees all the work and wakes the next sleeper itself
        // when it pushes.
        if self.sleepers.load(Ordering::Relaxed) > 0 && !self.wake_pending.load(Ordering::Relaxed) {
            let _guard = self.sleep.lock().unwrap_or_else(|e| e.into_inner());
            // Under `sleep`: a worker counted in `waiting` is blocked in the condition
            // variable, so this notification reaches one, which then clears the flag.
            if self.waiting.load(Ordering::Relaxed) > 0
                && !self.wake_pending.load(Ordering::Relaxed)
            {
                self.wake_pending.store(true, Ordering::Relaxed);
                self.wake.notify_one();
                self.wakes.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A worker started to hold a serial run (marked it held before this call): wakes the
    /// workers blocked without a time limit (they decided so before they could see the
    /// mark), so that one of them will look for the run to stall (`Work::look_in`).
    pub(crate) fn run_held(&self) {
        // SeqCst fence: pairs with the one in `park` (see there).
        fence(Ordering::SeqCst);
        if self.untimed.load(Ordering::Relaxed) > 0 {
            let _guard = self.sleep.lock().unwrap_or_else(|e| e.into_inner());
            self.wake.notify_all();
        }
    }

    /// Wakes every blocked worker (exit, resume).
    pub(crate) fn wake_all(&self) {
        let _guard = self.sleep.lock().unwrap_or_else(|e| e.into_inner());
        self.wake.notify_all();
    }
}
