//! loom model of the run-handle protocol (`runtime/src/waiter.rs`, included here over loom's
//! synchronisation types): a handle that waits, times out, awaits, is polled with changing
//! wakers or is dropped, against the worker that finishes its run. In every interleaving (up
//! to the preemption bound): a waiting handle returns and an awaiting task is woken (a lost
//! wake-up shows up as a deadlock); a dropped handle's run is freed exactly once; every waker
//! stored is either handed back (to be dropped outside the lock) or woken, once; and a late
//! finish of a slot's previous run neither takes the next run's "dropped" mark nor wakes the
//! next run's task, also when the two have the same id (the slot's generation wrapped).
//!
//! The engine's side is reduced to what the protocol relies on: the finishing worker makes
//! the run takeable (a Release store of DONE, as `Engine::complete` does) before it calls
//! `Waiter::finished`, and `take` succeeds once, after that (an Acquire compare-exchange from
//! DONE to TAKEN, as `Engine::take`). Each model asserts that its runs reached the races it is
//! about (loom's reduction skips interleavings).
//!
//! Checked by hand: without the id check in `finished`'s waker branch, the late-finish model
//! with a task fails (run 1 wakes run 2's task); without the one in its abandoned branch, the
//! late-finish model with a dropped handle fails (run 1's finish takes run 2's mark, and its discard finds run 1 taken already;
//! in the runtime, `Inner::discard` would skip it and run 2's slot would never be freed); with
//! `take` tried after the lock is released in `wait`, the first model deadlocks. Without the
//! `still_active` check in `finished`, the same-id model with a dropped handle fails (run 1's
//! hook takes run 2's mark while run 2 runs; its discard finds nothing to take, and run 2's
//! slot would never be freed), and the same-id model with a task never sees run 1's hook
//! leave run 2's waker alone (it wakes the task early: a spurious wake, harmless by itself).
//! `LOOM_MAX_PREEMPTIONS` bounds the search (2 by default).

/// The synchronisation types `waiter.rs` is written over.
mod shim {
    pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
}

#[allow(dead_code)]
#[path = "../src/waiter.rs"]
mod waiter;

#[path = "../../core/tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::future::poll_fn;
use std::task::{Poll, Wake, Waker};
use std::time::Instant;

use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::*};
use loom::sync::Arc;
use loom::thread;

use common::{assert_reached, explore};
use waiter::{Finish, Waiter};

const ACTIVE: u8 = 0;
const DONE: u8 = 1;
const TAKEN: u8 = 2;

/// One run, as the engine keeps it (see the module docs), and how often it was freed. Its
/// state is its slot's state word: a later run of the slot with the same id (the generation
/// wrapped) shares it, as it would in the engine.
struct Run {
    id: u32,
    state: Arc<AtomicU8>,
    freed: AtomicUsize,
}

impl Run {
    fn new(id: u32) -> Self {
        Self {
            id,
            state: Arc::new(AtomicU8::new(ACTIVE)),
            freed: AtomicUsize::new(0),
        }
    }

    /// The slot's next run after `prev` was taken and freed, with the same id as `prev` (2^20
    /// runs later): submitted into the same state word (the engine's Release store of ACTIVE).
    fn same_id_after(prev: &Run) -> Self {
        prev.state.store(ACTIVE, Release);
        Self {
            id: prev.id,
            state: Arc::clone(&prev.state),
            freed: AtomicUsize::new(0),
        }
    }

    /// The engine's `is_active`: a run with this id is running in the slot.
    fn is_active(&self) -> bool {
        self.state.load(Acquire) == ACTIVE
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
    /// `run_finished` hook. Returns what the hook did.
    fn finish(&self, waiter: &Waiter<u32>) -> Hook {
        self.complete();
        self.finished(waiter)
    }

    /// `Engine::complete`: the result can be taken from now on.
    fn complete(&self) {
        self.state.store(DONE, Release);
    }

    /// The runtime's `run_finished` hook, after `complete`.
    fn finished(&self, waiter: &Waiter<u32>) -> Hook {
        match waiter.finished(self.id, || self.is_active()) {
            Finish::Abandoned => {
                // `Inner::discard`: take the result and drop it.
                let taken = self.take();
                assert_eq!(taken, Some(self.id), "an abandoned run is takeable");
                self.free();
                Hook::Freed
            }
            Finish::Wake(waker, blocked) => {
                let woke = waker.is_some();
                if let Some(w) = waker {
                    w.wake();
                }
                if blocked {
                    waiter.notify();
                }
                if woke {
                    Hook::Woke
                } else {
                    Hook::Notified
                }
            }
        }
    }
}

/// What the finishing worker's hook did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Hook {
    /// The handle was gone: it freed the run.
    Freed,
    /// It woke a task's waker (and notified waiting threads).
    Woke,
    /// It notified waiting threads only.
    Notified,
}

/// A waker that counts its wakes (a task an executor would poll again).
struct Counting(AtomicUsize);

impl Wake for Counting {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, Relaxed);
    }
}

fn counting() -> (std::sync::Arc<Counting>, Waker) {
    let c = std::sync::Arc::new(Counting(AtomicUsize::new(0)));
    let w = Waker::from(std::sync::Arc::clone(&c));
    (c, w)
}

/// The worker that finishes `run`, on its own thread.
fn finisher(waiter: &Arc<Waiter<u32>>, run: &Arc<Run>) -> thread::JoinHandle<Hook> {
    let (waiter, run) = (Arc::clone(waiter), Arc::clone(run));
    thread::spawn(move || run.finish(&waiter))
}

/// `RunHandle::wait` against the finishing worker.
#[test]
fn a_waiting_handle_always_gets_the_result() {
    let seen = explore(|| {
        let waiter = Arc::new(Waiter::<u32>::new());
        let run = Arc::new(Run::new(1));
        let worker = finisher(&waiter, &run);
        let mut tries = 0;
        let got = waiter.wait(|| {
            tries += 1;
            run.take()
        });
        assert_eq!(got, 1);
        run.free();
        assert_eq!(
            worker.join().unwrap(),
            Hook::Notified,
            "not abandoned, no task"
        );
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
        let worker = finisher(&waiter, &run);
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

/// A handle dropped while its run may still be running (`RunHandle::drop`), after a
/// `wait_timeout` that timed out (its deadline has passed: loom's condition variable never
/// times out, so a later deadline would block the model).
#[test]
fn a_dropped_handle_frees_its_run_exactly_once() {
    let seen = explore(|| {
        let waiter = Arc::new(Waiter::<u32>::new());
        let run = Arc::new(Run::new(1));
        let worker = finisher(&waiter, &run);
        let by_handle = match waiter.wait_until(|| run.take(), Instant::now()) {
            Some(_) => true,
            None => {
                let (result, waker) = waiter.abandon(run.id, || run.take());
                assert!(waker.is_none(), "no task ever polled");
                result.is_some()
            }
        };
        if by_handle {
            run.free();
        }
        let hook = worker.join().unwrap();
        assert_eq!(run.freed.load(Relaxed), 1, "freed exactly once");
        assert_eq!(by_handle, hook != Hook::Freed);
        by_handle
    });
    assert_reached(&seen, "the handle freed it", |&h| h);
    assert_reached(&seen, "the finishing worker freed it", |&h| !h);
}

/// A task polls the handle with one waker, then with another, then drops it (the future is
/// dropped unfinished), against the finishing worker: the second poll replaces the first
/// waker and hands it back; the drop hands back the waker still stored; the worker wakes only
/// a stored waker; and the run is freed exactly once.
#[test]
fn a_polled_then_dropped_handle_hands_back_its_wakers_and_frees_its_run_once() {
    let seen = explore(|| {
        let waiter = Arc::new(Waiter::<u32>::new());
        let run = Arc::new(Run::new(1));
        let worker = finisher(&waiter, &run);
        let (first, first_waker) = counting();
        let (second, second_waker) = counting();
        let mut handed_back = 0;
        let mut polls = 0;
        let mut pending = 0;
        let mut by_handle = false;
        for w in [&first_waker, &second_waker] {
            polls += 1;
            match waiter.poll(run.id, || run.take(), w) {
                Ok(_) => {
                    by_handle = true;
                    break;
                }
                Err(replaced) => {
                    pending += 1;
                    if let Some(old) = replaced {
                        assert!(old.will_wake(&first_waker), "the first poll's waker");
                        handed_back += 1;
                    }
                }
            }
        }
        if !by_handle {
            let (result, waker) = waiter.abandon(run.id, || run.take());
            if let Some(w) = waker {
                assert!(w.will_wake(&second_waker), "the last poll's waker");
                handed_back += 1;
            }
            by_handle = result.is_some();
        }
        if by_handle {
            run.free();
        }
        let hook = worker.join().unwrap();
        assert_eq!(run.freed.load(Relaxed), 1, "freed exactly once");
        assert_eq!(by_handle, hook != Hook::Freed);
        let woken = first.0.load(Relaxed) + second.0.load(Relaxed);
        assert_eq!(woken, usize::from(hook == Hook::Woke));
        // Each waker stored (one per pending poll) was handed back or woken, once.
        assert_eq!(handed_back + woken, pending);
        (polls, hook)
    });
    assert_reached(&seen, "two polls, then freed by the worker", |&(p, h)| {
        p == 2 && h == Hook::Freed
    });
    assert_reached(&seen, "a stored waker woken", |&(_, h)| h == Hook::Woke);
    assert_reached(&seen, "ready at the second poll", |&(p, h)| {
        p == 2 && h != Hook::Freed
    });
}

/// One slot, two runs: the handle of run 1 takes its result as soon as it is done, possibly
/// before run 1's worker got to `finished`; run 2 is then submitted into the same slot, while
/// run 2's own worker finishes it. Its handle is dropped at once (`drop_second`), or polled
/// by a task. Run 1's late `finished` must neither take run 2's abandoned mark (run 2 is
/// freed exactly once) nor wake run 2's task. With `same_id`, run 2 has run 1's id (the
/// slot's generation wrapped while run 1's worker was late), so the tags cannot tell them
/// apart.
fn late_finish(drop_second: bool, same_id: bool) -> BTreeSet<(bool, bool, bool)> {
    explore(move || {
        let waiter = Arc::new(Waiter::<u32>::new());
        let first = Arc::new(Run::new(1));
        // `marked`: run 2's handle has left its mark (abandoned, or its waker stored).
        // `entered`: run 2's worker has started its hook. Both only tell which schedule this
        // was (SeqCst, so that a load sees where the store stands); they are written after the
        // protocol steps they report, so they cannot order those steps.
        let marked = Arc::new(AtomicBool::new(false));
        let entered = Arc::new(AtomicBool::new(false));
        let worker1 = {
            let (waiter, run) = (Arc::clone(&waiter), Arc::clone(&first));
            let (marked, entered) = (Arc::clone(&marked), Arc::clone(&entered));
            thread::spawn(move || {
                run.complete();
                let late = marked.load(SeqCst);
                let hook = run.finished(&waiter);
                // The mark was there before this hook, and run 2's hook had not started
                // when it ended: the two met at the lock.
                (hook, late && !entered.load(SeqCst))
            })
        };
        // The handle of run 1 (a spin on `take`, as a `try_take` without the lock: the
        // slot can be reused before run 1's worker reaches the waiter).
        while first.take().is_none() {
            thread::yield_now();
        }
        first.free();
        let second = Arc::new(if same_id {
            Run::same_id_after(&first)
        } else {
            Run::new(2)
        });
        let worker2 = {
            let (waiter, run) = (Arc::clone(&waiter), Arc::clone(&second));
            let entered = Arc::clone(&entered);
            thread::spawn(move || {
                run.complete();
                entered.store(true, SeqCst);
                run.finished(&waiter)
            })
        };
        let (task, task_waker) = counting();
        let by_handle = if drop_second {
            let (result, _) = waiter.abandon(second.id, || second.take());
            result.is_some()
        } else {
            waiter
                .poll(second.id, || second.take(), &task_waker)
                .is_ok()
        };
        if by_handle {
            second.free();
        } else {
            marked.store(true, SeqCst);
        }
        let (hook1, met) = worker1.join().unwrap();
        let hook2 = worker2.join().unwrap();
        if !same_id {
            assert_eq!(
                hook1,
                Hook::Notified,
                "run 1's late finish acted on run 2's mark"
            );
        }
        // With the same id, run 1's late hook may act for run 2 once run 2 is done (its mark
        // or waker is then run 2's to act on, by whichever hook comes first); it must not
        // while run 2 runs (`Run::finished` asserts that an abandoned run is takeable).
        let freed_by_hooks = usize::from(hook1 == Hook::Freed) + usize::from(hook2 == Hook::Freed);
        let woken_by_hooks = usize::from(hook1 == Hook::Woke) + usize::from(hook2 == Hook::Woke);
        if drop_second {
            assert_eq!(freed_by_hooks, usize::from(!by_handle), "run 2 freed once");
            assert_eq!(woken_by_hooks, 0);
        } else {
            // Polled: the task is woken exactly when it is pending.
            assert_eq!(freed_by_hooks, 0);
            assert_eq!(task.0.load(Relaxed), usize::from(!by_handle));
            assert_eq!(woken_by_hooks, usize::from(!by_handle));
            if !by_handle {
                // The woken task polls again and gets the result.
                assert!(waiter
                    .poll(second.id, || second.take(), &task_waker)
                    .is_ok());
                second.free();
            }
        }
        // Run 1 freed by its handle, run 2 once (counted on run 1's when its hook did it).
        assert_eq!(first.freed.load(Relaxed) + second.freed.load(Relaxed), 2);
        (met, by_handle, hook1 == Hook::Notified)
    })
}

#[test]
fn a_late_finish_of_the_previous_run_leaves_the_next_runs_mark_alone() {
    let seen = late_finish(true, false);
    assert_reached(&seen, "run 1's finish met run 2's mark", |&(met, _, _)| met);
    assert_reached(&seen, "run 2 freed by its handle", |&(_, h, _)| h);
    assert_reached(&seen, "run 2 freed by its worker", |&(_, h, _)| !h);
}

#[test]
fn a_late_finish_of_the_previous_run_does_not_wake_the_next_runs_task() {
    let seen = late_finish(false, false);
    assert_reached(&seen, "run 1's finish met run 2's waker", |&(met, _, _)| {
        met
    });
    assert_reached(&seen, "run 2 pending, then woken", |&(_, h, _)| !h);
}

#[test]
fn a_late_finish_leaves_the_mark_of_a_next_run_with_the_same_id_alone() {
    let seen = late_finish(true, true);
    assert_reached(
        &seen,
        "run 1's finish met run 2's mark and left it",
        |&(met, _, left)| met && left,
    );
    assert_reached(&seen, "run 2 freed by its handle", |&(_, h, _)| h);
    assert_reached(&seen, "run 2 freed by its worker", |&(_, h, _)| !h);
}

#[test]
fn a_late_finish_does_not_wake_the_task_of_a_next_run_with_the_same_id() {
    let seen = late_finish(false, true);
    assert_reached(
        &seen,
        "run 1's finish met run 2's waker and left it",
        |&(met, _, left)| met && left,
    );
    assert_reached(&seen, "run 2 pending, then woken", |&(_, h, _)| !h);
}
