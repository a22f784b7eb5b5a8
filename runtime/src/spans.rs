//! Which run's span each run slot holds, for the `tracing` feature.
//!
//! A run's span is opened on the submitting thread (`Hooks::run_submitted`) and closed by the
//! worker that finishes the run (`Hooks::run_finished`). A run's slot is freed as soon as its
//! result is taken, which can happen between the engine marking the run done and that worker
//! calling `run_finished`: the slot's next run may then open its span first. Whoever comes
//! first, the next run's open or the finished run's close, gets the old span back and closes
//! it, so each span is closed exactly once, and never by a stale run.
//!
//! Generic over the key and the span, so that this bookkeeping is tested without a subscriber
//! (the unit tests below; `tests/tracing_spans.rs` checks the spans themselves).

use std::sync::{Mutex, MutexGuard};

/// A slot's latest run and its span, until closed.
type Held<K, S> = Option<(K, S)>;

pub(crate) struct RunSpans<K, S> {
    slots: Box<[Mutex<Held<K, S>>]>,
}

impl<K: Copy + PartialEq, S: Clone> RunSpans<K, S> {
    pub(crate) fn new(slots: usize) -> Self {
        Self {
            slots: (0..slots).map(|_| Mutex::new(None)).collect(),
        }
    }

    fn lock(&self, slot: usize) -> MutexGuard<'_, Held<K, S>> {
        // Nothing here panics while holding the lock, but a poisoned lock's data is whole.
        self.slots[slot].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores the span of `run`, the newest run of `slot`; returns the slot's earlier run and
    /// its span if that run's close has not come yet (the caller closes it).
    pub(crate) fn open(&self, slot: usize, run: K, span: S) -> Option<(K, S)> {
        self.lock(slot).replace((run, span))
    }

    /// Takes the span of `run` for the caller to close; `None` when the slot's next run
    /// took it already (and closed it).
    pub(crate) fn close(&self, slot: usize, run: K) -> Option<S> {
        let mut held = self.lock(slot);
        match &*held {
            Some((k, _)) if *k == run => held.take().map(|(_, s)| s),
            _ => None,
        }
    }

    /// A clone of the span of `run`, while that run holds the slot.
    pub(crate) fn get(&self, slot: usize, run: K) -> Option<S> {
        match &*self.lock(slot) {
            Some((k, s)) if *k == run => Some(s.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RunSpans;

    #[test]
    fn a_run_finished_before_the_next_run_opens_closes_its_own_span() {
        let spans = RunSpans::<u32, &str>::new(2);
        assert_eq!(spans.open(1, 10, "a"), None);
        assert_eq!(spans.get(1, 10), Some("a"));
        assert_eq!(spans.get(0, 10), None, "another slot");
        assert_eq!(spans.close(1, 10), Some("a"));
        assert_eq!(spans.close(1, 10), None, "closed once");
        assert_eq!(spans.get(1, 10), None);
        assert_eq!(spans.open(1, 11, "b"), None, "nothing left to close");
    }

    #[test]
    fn the_next_run_in_the_slot_closes_a_span_whose_close_comes_late() {
        let spans = RunSpans::<u32, &str>::new(1);
        assert_eq!(spans.open(0, 10, "a"), None);
        // Run 10's result was taken and run 11 reused the slot before run 10's close.
        assert_eq!(spans.open(0, 11, "b"), Some((10, "a")));
        assert_eq!(
            spans.get(0, 10),
            None,
            "the old run no longer holds the slot"
        );
        assert_eq!(spans.get(0, 11), Some("b"));
        // The late close finds the slot taken by run 11, and leaves its span alone.
        assert_eq!(spans.close(0, 10), None);
        assert_eq!(spans.get(0, 11), Some("b"));
        assert_eq!(spans.close(0, 11), Some("b"));
    }
}
