//! Helpers shared by the loom models: `loom_ring`, `loom_spsc`, `loom_deque`, `loom_sched`
//! here, and the runtime's `loom_park`, `loom_waiter` and `loom_slot_wait` (which include
//! this file).
//!
//! loom 0.7's partial-order reduction skips some interleavings, so a model records its
//! outcomes across all runs and asserts that the interesting ones were reached.

use std::collections::BTreeSet;
use std::fmt::Debug;

/// Runs `model` under loom (every interleaving up to the preemption bound: 2 unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise) and returns the set of outcomes its runs produced.
pub(crate) fn explore<O, F>(model: F) -> BTreeSet<O>
where
    O: Ord + Debug + Send + 'static,
    F: Fn() -> O + Send + Sync + 'static,
{
    let seen = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let sink = seen.clone();
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.check(move || {
        let outcome = model();
        sink.lock().unwrap().insert(outcome);
    });
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    seen
}

/// Asserts that some outcome satisfies `pred` (the model reached that interleaving).
#[track_caller]
pub(crate) fn assert_reached<O: Debug>(
    outcomes: &BTreeSet<O>,
    what: &str,
    pred: impl Fn(&O) -> bool,
) {
    assert!(
        outcomes.iter().any(pred),
        "no run reached: {what}; outcomes: {outcomes:#?}"
    );
}
