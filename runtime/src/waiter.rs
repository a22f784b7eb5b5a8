//! How run handles wait for their run, and how the worker that finishes a run tells them.
//!
//! One [`Waiter`] per run slot: a mutex over the slot's handle-side state (the waker of a task
//! awaiting the run; whether the run's handle was dropped) and a condition variable. The run's
//! own state lives in the engine; the handle takes the result through a `take` closure (the
//! engine's `take`, a compare-exchange that succeeds once, after the run is done).
//!
//! The rule that makes a wake-up impossible to lose: a handle tries `take` while holding the
//! slot's lock, and blocks (or stores its waker, or marks the run abandoned) without releasing
//! it in between; the finishing worker makes the run takeable *before* it takes the lock
//! ([`Waiter::finished`]). So either the handle's `take` sees the run done, or the worker's
//! lock comes after the handle blocked, stored its waker or marked the run, and it notifies,
//! wakes or frees accordingly.
//!
//! Entries are tagged with the run's id: a slot's next run may be submitted (and its handle
//! dropped) before the worker that finished the previous run gets the lock, and that late
//! finish must neither consume the new run's mark nor wake the new run's task. A tag alone
//! cannot tell a run from the one 2^20 runs later in the same slot (the generation wraps), so
//! a finish whose tag matches also asks whether a run with that id is still active.
//!
//! Written over `crate::shim`: std's types in the runtime, loom's in
//! `runtime/tests/loom_waiter.rs`, which includes this file and checks those interleavings.

use std::task::Waker;
use std::time::Instant;

use crate::shim::{Condvar, Mutex, MutexGuard};

/// The handle-side state of one run slot.
struct State<Id> {
    /// The waker of the task awaiting this run (tagged: a late event of an earlier run in the
    /// same slot must not wake or clear it).
    waker: Option<(Id, Waker)>,
    /// The handle of this run was dropped before it finished: free the slot when it does.
    abandoned: Option<Id>,
    /// Threads blocked in `wait`/`wait_until` on this slot: the finishing worker notifies the
    /// condition variable only if there are any (std's notify is a system call even when
    /// nobody waits).
    blocked: usize,
}

/// One run slot's waiting room (see the module docs).
pub(crate) struct Waiter<Id> {
    state: Mutex<State<Id>>,
    done: Condvar,
}

/// What the worker that finished a run does next ([`Waiter::finished`]).
pub(crate) enum Finish {
    /// The run's handle is gone: free the run (take its result and drop it).
    Abandoned,
    /// Wake this task (if any) outside the lock, then, if threads are blocked on the slot
    /// (`true`), [`Waiter::notify`].
    Wake(Option<Waker>, bool),
}

impl<Id: Copy + PartialEq> Default for Waiter<Id> {
    fn default() -> Self {
        Self::new()
    }
}

impl<Id: Copy + PartialEq> Waiter<Id> {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State {
                waker: None,
                abandoned: None,
                blocked: 0,
            }),
            done: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<Id>> {
        // Poisoned only by a panic in `take` (the engine's, which does not panic) or a waker
        // clone: the state itself is always whole.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks until `take` returns the run's result.
    pub(crate) fn wait<R>(&self, mut take: impl FnMut() -> Option<R>) -> R {
        let mut state = self.lock();
        loop {
            if let Some(result) = take() {
                return result;
            }
            // Counted under the lock that the finishing worker takes after making the run
            // takeable: it sees the count, or our `take` above saw the run done.
            state.blocked += 1;
            state = self.done.wait(state).unwrap_or_else(|e| e.into_inner());
            state.blocked -= 1;
        }
    }

    /// As [`wait`](Self::wait), until `until` at the latest: `None` if the run was not done by
    /// then.
    pub(crate) fn wait_until<R>(
        &self,
        mut take: impl FnMut() -> Option<R>,
        until: Instant,
    ) -> Option<R> {
        let mut state = self.lock();
        loop {
            if let Some(result) = take() {
                return Some(result);
            }
            let now = Instant::now();
            if now >= until {
                return None;
            }
            // Counted as in `wait`.
            state.blocked += 1;
            state = self
                .done
                .wait_timeout(state, until - now)
                .map_or_else(|e| e.into_inner().0, |(g, _)| g);
            state.blocked -= 1;
        }
    }

    /// A poll of `run`'s handle: its result if `take` returns it; otherwise `waker` is stored
    /// for the finishing worker (unless the stored one wakes the same task), and the waker it
    /// replaced comes back for the caller to drop outside the lock (an executor's code).
    pub(crate) fn poll<R>(
        &self,
        run: Id,
        take: impl FnOnce() -> Option<R>,
        waker: &Waker,
    ) -> Result<R, Option<Waker>> {
        let mut state = self.lock();
        if let Some(result) = take() {
            return Ok(result);
        }
        let replaced = match &state.waker {
            Some((id, w)) if *id == run && w.will_wake(waker) => None,
            _ => state.waker.replace((run, waker.clone())),
        };
        Err(replaced.map(|(_, w)| w))
    }

    /// `run`'s handle is dropped: its result if `take` returns it (the caller drops it, which
    /// frees the run), otherwise the run is marked abandoned, so that its finish frees it.
    /// Also returns the handle's stored waker, for the caller to drop outside the lock.
    pub(crate) fn abandon<R>(
        &self,
        run: Id,
        take: impl FnOnce() -> Option<R>,
    ) -> (Option<R>, Option<Waker>) {
        let mut state = self.lock();
        let waker = match state.waker {
            Some((id, _)) if id == run => state.waker.take().map(|(_, w)| w),
            _ => None,
        };
        let result = take();
        if result.is_none() {
            state.abandoned = Some(run);
        }
        (result, waker)
    }

    /// The worker that finished `run` (after making it takeable): whether its handle is gone,
    /// or which task to wake.
    ///
    /// `still_active` says whether a run with `run`'s id is active in the slot now (the
    /// engine's `is_active`). It is asked, under the lock, only when the mark or the waker
    /// carries `run`'s id: if so, that is a later run of the slot whose id is the same (the
    /// slot's generation wrapped while this worker was between `complete` and here), and
    /// the mark and waker are that run's, left alone. A run's own finish always finds it
    /// inactive (made takeable first), and a mark or waker can only be set while its run is
    /// active or done, under this lock.
    pub(crate) fn finished(&self, run: Id, still_active: impl FnOnce() -> bool) -> Finish {
        let mut state = self.lock();
        let tagged =
            state.abandoned == Some(run) || matches!(state.waker, Some((id, _)) if id == run);
        if tagged && still_active() {
            // Threads blocked here wait for that later run, which has not finished.
            return Finish::Wake(None, false);
        }
        if state.abandoned == Some(run) {
            state.abandoned = None;
            return Finish::Abandoned;
        }
        match state.waker {
            Some((id, _)) if id == run => {
                Finish::Wake(state.waker.take().map(|(_, w)| w), state.blocked > 0)
            }
            _ => Finish::Wake(None, state.blocked > 0),
        }
    }

    /// Wakes every thread blocked in [`wait`](Self::wait) or [`wait_until`](Self::wait_until)
    /// on this slot (after [`Finish::Wake`]; those of an earlier or later run look again and
    /// block again).
    pub(crate) fn notify(&self) {
        self.done.notify_all();
    }
}
