//! loom model of the run-handle protocol (`runtime/src/waiter.rs`, included here over loom's
//! synchronisation types): a handle that waits, awaits or is dropped, against the worker that
//! finishes its run. In every interleaving (up to the preemption bound): a waiting handle
//! returns and an awaiting task is woken (a lost wake-up shows up as a deadlock), a dropped
//! handle's run is freed exactly once, and a late finish of a slot's previous run leaves the
//! next run's mark alone.
//!
//! The engine's side is reduced to what the protocol relies on: the finishing worker makes
//! the run takeable (a Release store of DONE, as `Engine::complete` does) before it calls
//! `Waiter::finished`, and `take` succeeds once, after that (an Acquire compare-exchange from
//! DONE to TAKEN, as `Engine::take`). Each model asserts that its runs reached the races it is
//! about (loom's reduction skips interleavings).
//!
//! Checked by hand: without the id check in `finished`'s abandoned branch, the last model
//! frees the next run twice or never; with `take` tried after the lock is released in `wait`,
//! the first model deadlocks. `LOOM_MAX_PREEMPTIONS` bounds the search (2 by default).

/// The synchronisation types `waiter.rs` is written over.
mod shim {
    pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
}

#[allow(dead_code)]
#[path = "../src/waiter.rs"]
mod waiter;

use std::collections::BTreeSet;
use std::future::poll_fn;
use std::task::Poll;

use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::*};
use loom::sync::Arc;
use loom::thread;

use waiter::{Finish, Waiter};

const ACTIVE: u8 = 0;
const DONE: u8 = 1;
const TAKEN: u8 = 2;

/// One run, as the engine keeps it (see the module docs), and how often it was freed.
struct Run {
    id: u32,
    state: AtomicU8,
    freed: AtomicUsize,
}

impl Run {
    fn new(id: u32) -> Self {
        Self {
            id,
            state: AtomicU8::new(ACTIVE),
            freed: AtomicUsize::new(0),
        }
    }

    /// The engine's `take`: succeeds once, after the run is done.
    fn take(&self) -> Option<u32> {
        self.state
            .compare_exchange(DONE, TAKEN, Acquire, Relaxed)
            .ok()
            .map(|_| self.id)
    }

    /// The result taken was dropped: the slot is freed.
    fn free(&self) {
        self.freed.fetch_add(1, Relaxed);
    }

    /// The worker that resolves the run's last node: `Engine::complete`, then the runtime's
    /// `run_finished` hook. Returns whether the run was abandoned.
    fn finish(&self, waiter: &Waiter<u32>) -> bool {
        self.complete();
        self.finished(waiter)
    }

    /// `Engine::complete`: the result can be taken from now on.
    fn complete(&self) {
        self.state.store(DONE, Release);
    }

    /// The runtime's `run_finished` hook, after `complete`.
    fn finished(&self, waiter: &Waiter<u32>) -> bool {
        match waiter.finished(self.id) {
            Finish::Abandoned => {
                // `Inner::discard`: take the result and drop it.
                let taken = self.take();
                assert_eq!(taken, Some(self.id), "an abandoned run is takeable");
                self.free();
                true
            }
            Finish::Wake(waker) => {
                if let Some(w) = waker {
                    w.wake();
                }
                waiter.notify();
                false
            }
        }
    }
}

/// Runs `f` under loom (every interleaving up to the preemption bound) and returns the
/// outcomes its runs produced.
fn explore<O: Ord + Send + 'static>(f: impl Fn() -> O + Sync + Send + 'static) -> BTreeSet<O> {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let sink = std::sync::Arc::clone(&seen);
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.check(move || {
        let outcome = f();
        sink.lock().unwrap().insert(outcome);
    });
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    seen
}

/// Asserts that some run of the model reached what `pred` describes.
#[track_caller]
fn assert_reached<O: std::fmt::Debug>(
    outcomes: &BTreeSet<O>,
    what: &str,
    pred: impl Fn(&O) -> bool,
) {
    assert!(
        outcomes.iter().any(pred),
        "no run reached: {what}; seen: {outcomes:?}"
    );
}

/// `RunHandle::wait` against the finishing worker.
#[test]
fn a_waiting_handle_always_gets_the_result() {
    let seen = explore(|| {
        let waiter = Arc::new(Waiter::<u32>::new());
        let run = Arc::new(Run::new(1));
        let worker = {
            let (waiter, run) = (Arc::clone(&waiter), Arc::clone(&run));
            thread::spawn(move || run.finish(&waiter))
        };
        let mut tries = 0;
        let got = waiter.wait(|| {
            tries += 1;
            run.take()
        });
        assert_eq!(got, 1);
        run.free();
        assert!(!worker.join().unwrap(), "not abandoned");
        assert_eq!(run.freed.load(Relaxed), 1);
        tries
    });
    assert_reached(&seen, "the handle found the run done at once", |&t| t == 1);
    assert_reached(&seen, "the handle blocked first", |&t| t > 1);
}

/// `RunHandle` as a future (`poll`), awaited by a task, against the finishing worker.
#[test]
fn an_awaiting_task_is_always_woken() {
    let seen = explore(|| {
        let waiter = Arc::new(Waiter::<u32>::new());
        let run = Arc::new(Run::new(1));
        let worker = {
            let (waiter, run) = (Arc::clone(&waiter), Arc::clone(&run));
            thread::spawn(move || run.finish(&waiter))
        };
        let mut polls = 0;
        let got = loom::future::block_on(poll_fn(|cx| {
            polls += 1;
            match waiter.poll(run.id, || run.take(), cx.waker()) {
                Ok(r) => Poll::Ready(r),
                Err(replaced) => {
                    drop(replaced);
                    Poll::Pending
                }
            }
        }));
        assert_eq!(got, 1);
        run.free();
        worker.join().unwrap();
        assert_eq!(run.freed.load(Relaxed), 1);
        polls
    });
    assert_reached(&seen, "ready at the first poll", |&p| p == 1);
    assert_reached(&seen, "pending, then woken", |&p| p > 1);
}

/// A handle dropped while its run may still be running (`RunHandle::drop`).
#[test]
fn a_dropped_handle_frees_its_run_exactly_once() {
    let seen = explore(|| {
        let waiter = Arc::new(Waiter::<u32>::new());
        let run = Arc::new(Run::new(1));
        let worker = {
            let (waiter, run) = (Arc::clone(&waiter), Arc::clone(&run));
            thread::spawn(move || run.finish(&waiter))
        };
        let (result, waker) = waiter.abandon(run.id, || run.take());
        assert!(waker.is_none());
        let by_handle = result.is_some();
        if by_handle {
            run.free();
        }
        let by_worker = worker.join().unwrap();
        assert_eq!(run.freed.load(Relaxed), 1, "freed exactly once");
        assert_ne!(by_handle, by_worker);
        by_handle
    });
    assert_reached(&seen, "the handle freed it", |&h| h);
    assert_reached(&seen, "the finishing worker freed it", |&h| !h);
}

/// One slot, two runs: the handle of run 1 takes its result as soon as it is done, possibly
/// before run 1's worker got to `finished`; run 2 is then submitted into the same slot and its
/// handle dropped at once, while run 2's own worker finishes it. Run 1's late `finished` must
/// not take run 2's abandoned mark: run 2 is freed exactly once.
#[test]
fn a_late_finish_of_the_previous_run_leaves_the_next_runs_mark_alone() {
    let seen = explore(|| {
        let waiter = Arc::new(Waiter::<u32>::new());
        let first = Arc::new(Run::new(1));
        // Set once run 2 is marked abandoned. Relaxed, both sides: it only tells which schedule
        // this was, and orders nothing the protocol relies on.
        let marked = Arc::new(AtomicBool::new(false));
        let worker1 = {
            let (waiter, run) = (Arc::clone(&waiter), Arc::clone(&first));
            let marked = Arc::clone(&marked);
            thread::spawn(move || {
                run.complete();
                let late = marked.load(Relaxed);
                (run.finished(&waiter), late)
            })
        };
        // The handle of run 1 (a spin on `take`, as a `try_take` without the lock: the
        // slot can be reused before run 1's worker reaches the waiter).
        while first.take().is_none() {
            thread::yield_now();
        }
        first.free();
        let second = Arc::new(Run::new(2));
        let worker2 = {
            let (waiter, run) = (Arc::clone(&waiter), Arc::clone(&second));
            thread::spawn(move || run.finish(&waiter))
        };
        let (result, _) = waiter.abandon(second.id, || second.take());
        let by_handle = result.is_some();
        if by_handle {
            second.free();
        } else {
            marked.store(true, Relaxed);
        }
        let (first_abandoned, late) = worker1.join().unwrap();
        let by_worker = worker2.join().unwrap();
        assert!(!first_abandoned, "run 1's finish took run 2's mark");
        assert_eq!(second.freed.load(Relaxed), 1, "run 2 freed exactly once");
        assert_eq!(first.freed.load(Relaxed), 1);
        assert_ne!(by_handle, by_worker);
        late
    });
    assert_reached(
        &seen,
        "run 1's finish came after run 2 was marked",
        |&late| late,
    );
}
