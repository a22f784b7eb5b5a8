//! loom models of the worker deque (`WorkDeque`, bounded Chase–Lev): the owner pushing and
//! popping at the bottom while one or two thieves steal from the top, on capacities 2 and 4,
//! with indices that cross `u64::MAX`.
//!
//! Each pushed value also "publishes" data the way the scheduler does (a node's value written
//! before its successor's entry is pushed): the owner writes a loom `UnsafeCell` before
//! pushing, whoever takes the entry reads it. loom reports that read if it is not ordered
//! after the write by happens-before, so a missing Release/Acquire pair fails the model.
//! Every model checks that each pushed value is taken exactly once (by a pop, a steal, or the
//! final drain), and records its outcomes to assert that the races of interest were reached
//! (loom 0.7's reduction skips some schedules; see `loom_ring.rs`).
//!
//! Run with `.ci/loom.sh`.
#![cfg(loom)]

mod common;

use common::{assert_reached, explore};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use ringdag_core::sched::{Entry, WorkDeque};

/// The deque plus one data cell per value (written by the owner before the push).
struct Shared<const N: usize> {
    deque: WorkDeque<N>,
    data: Vec<UnsafeCell<u64>>,
}

// SAFETY: (test) each cell is written once by the owner before its value is pushed, and read
// by the one thread that takes the value; loom checks that ordering.
unsafe impl<const N: usize> Sync for Shared<N> {}

impl<const N: usize> Shared<N> {
    fn new(start: u64, values: usize) -> Self {
        Self {
            deque: WorkDeque::starting_at(start),
            data: (0..values).map(|_| UnsafeCell::new(0)).collect(),
        }
    }

    /// Owner: writes the value's data, then pushes it. `false` when full.
    fn push(&self, v: u64) -> bool {
        // SAFETY: written once, by the owner, before the value is pushed (see `Sync` above).
        self.data[v as usize].with_mut(|p| unsafe { *p = v * 10 + 7 });
        // SAFETY: only the owner thread (the model's main or a designated thread) pushes/pops.
        unsafe { self.deque.push(Entry::from_bits(v)) }.is_ok()
    }

    /// Reads the data of a value just taken (checks it, and lets loom check the ordering).
    fn took(&self, e: Entry) -> u64 {
        let v = e.to_bits();
        // SAFETY: read by the one thread that took the value; loom checks the ordering.
        let d = self.data[v as usize].with(|p| unsafe { *p });
        assert_eq!(d, v * 10 + 7, "value {v} taken before its data was visible");
        v
    }

    fn pop(&self) -> Option<u64> {
        // SAFETY: owner thread only (see `push`).
        unsafe { self.deque.pop() }.map(|e| self.took(e))
    }

    fn steal(&self) -> Option<u64> {
        self.deque.steal().map(|e| self.took(e))
    }
}

/// Every value in `pushed` appears exactly once across `taken`.
fn check_exactly_once(pushed: &[u64], taken: &[&[u64]]) {
    let mut all: Vec<u64> = taken.iter().flat_map(|t| t.iter().copied()).collect();
    all.sort_unstable();
    let mut want = pushed.to_vec();
    want.sort_unstable();
    assert_eq!(all, want, "pushed {pushed:?}, taken {taken:?}");
}

/// The owner's last entry: its pop races one thief's steal; exactly one gets it.
#[test]
fn last_entry_goes_to_the_owner_or_the_thief_once() {
    let outcomes = explore(|| {
        let s = Arc::new(Shared::<2>::new(u64::MAX, 1));
        assert!(s.push(0));
        let thief = {
            let s = s.clone();
            thread::spawn(move || s.steal())
        };
        let mine = s.pop();
        let stolen = thief.join().unwrap();
        let rest: Vec<u64> = std::iter::from_fn(|| s.pop()).collect();
        let mine: Vec<u64> = mine.into_iter().collect();
        let stolen: Vec<u64> = stolen.into_iter().collect();
        check_exactly_once(&[0], &[&mine, &stolen, &rest]);
        (mine.len(), stolen.len())
    });
    assert_reached(&outcomes, "the owner's pop won", |o| o.0 == 1);
    assert_reached(&outcomes, "the thief won", |o| o.1 == 1);
}

/// The owner pushes three values into a deque of two (one must wait for a steal or a pop to
/// free a slot, across the index wrap) and pops once, while a thief steals twice.
#[test]
fn owner_push_pop_against_a_thief_reuses_slots() {
    let outcomes = explore(|| {
        let s = Arc::new(Shared::<2>::new(u64::MAX - 1, 3));
        let thief = {
            let s = s.clone();
            thread::spawn(move || {
                let a = s.steal();
                let b = s.steal();
                [a, b].into_iter().flatten().collect::<Vec<u64>>()
            })
        };
        let mut pushed = Vec::new();
        for v in 0..2 {
            if s.push(v) {
                pushed.push(v);
            }
        }
        let popped: Vec<u64> = s.pop().into_iter().collect();
        // Push the third value: it fits now (a slot was freed by the pop).
        assert!(s.push(2), "a slot was freed by the pop");
        pushed.push(2);
        let stolen = thief.join().unwrap();
        let rest: Vec<u64> = std::iter::from_fn(|| s.pop()).collect();
        assert!(s.deque.is_empty());
        check_exactly_once(&pushed, &[&popped, &stolen, &rest]);
        (popped, stolen)
    });
    assert_reached(&outcomes, "the owner popped the newest value", |o| {
        o.0 == [1]
    });
    assert_reached(&outcomes, "the thief took the oldest value", |o| {
        o.1.first() == Some(&0)
    });
    assert_reached(&outcomes, "the thief took two values", |o| o.1.len() == 2);
    assert_reached(
        &outcomes,
        "the thief took the value pushed into a reused slot",
        |o| o.1.contains(&2),
    );
}

/// Two thieves and the owner's pop race for two values.
#[test]
fn two_thieves_and_the_owner_take_each_value_once() {
    let outcomes = explore(|| {
        let s = Arc::new(Shared::<4>::new(0, 2));
        assert!(s.push(0));
        assert!(s.push(1));
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || s.steal().into_iter().collect::<Vec<u64>>())
            })
            .collect();
        let popped: Vec<u64> = s.pop().into_iter().collect();
        let stolen: Vec<Vec<u64>> = thieves.into_iter().map(|t| t.join().unwrap()).collect();
        let rest: Vec<u64> = std::iter::from_fn(|| s.pop()).collect();
        check_exactly_once(&[0, 1], &[&popped, &stolen[0], &stolen[1], &rest]);
        (popped.len(), stolen[0].len() + stolen[1].len())
    });
    assert_reached(&outcomes, "both thieves got one", |o| o.1 == 2);
    assert_reached(&outcomes, "owner and a thief got one each", |o| {
        o == &(1, 1)
    });
}

/// A full deque gives the entry back; nothing is overwritten.
#[test]
fn full_deque_refuses_without_losing() {
    loom::model(|| {
        let s = Shared::<2>::new(u64::MAX, 3);
        assert!(s.push(0));
        assert!(s.push(1));
        assert!(!s.push(2), "a full deque must refuse");
        assert_eq!(s.steal(), Some(0));
        assert_eq!(s.pop(), Some(1));
        assert_eq!(s.pop(), None);
        assert_eq!(s.steal(), None);
    });
}

/// One entry, the owner's pop and two thieves: exactly one of the three gets it, whoever
/// that is (the owner's last-entry CAS against both thieves').
#[test]
fn one_entry_owner_and_two_thieves_take_it_once() {
    let outcomes = explore(|| {
        let s = Arc::new(Shared::<2>::new(u64::MAX, 1));
        assert!(s.push(0));
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || s.steal().into_iter().collect::<Vec<u64>>())
            })
            .collect();
        let popped: Vec<u64> = s.pop().into_iter().collect();
        let stolen: Vec<Vec<u64>> = thieves.into_iter().map(|t| t.join().unwrap()).collect();
        let rest: Vec<u64> = std::iter::from_fn(|| s.pop()).collect();
        check_exactly_once(&[0], &[&popped, &stolen[0], &stolen[1], &rest]);
        (popped.len(), stolen[0].len(), stolen[1].len())
    });
    assert_reached(&outcomes, "the owner got it", |o| o.0 == 1);
    assert_reached(&outcomes, "the first thief got it", |o| o.1 == 1);
    assert_reached(&outcomes, "the second thief got it", |o| o.2 == 1);
}

/// A full deque of two, two thieves stealing once each, and the owner pushing a third value
/// as soon as a slot is free: into the slot of the first value. A thief that read that slot
/// before the overwrite and lost `top` to the other thief must come back empty-handed (its
/// CAS fails), never with the overwritten slot's new value as well as the other thief.
#[test]
fn a_thief_with_a_stale_slot_read_loses_its_cas() {
    let outcomes = explore(|| {
        let s = Arc::new(Shared::<2>::new(u64::MAX - 1, 3));
        assert!(s.push(0));
        assert!(s.push(1));
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || s.steal().into_iter().collect::<Vec<u64>>())
            })
            .collect();
        // At least one thief succeeds (a steal fails only to another's success), so a slot
        // frees up.
        while !s.push(2) {
            thread::yield_now();
        }
        let stolen: Vec<Vec<u64>> = thieves.into_iter().map(|t| t.join().unwrap()).collect();
        let rest: Vec<u64> = std::iter::from_fn(|| s.pop()).collect();
        check_exactly_once(&[0, 1, 2], &[&stolen[0], &stolen[1], &rest]);
        (stolen[0].len() + stolen[1].len(), rest.len())
    });
    assert_reached(&outcomes, "a thief came back empty-handed", |o| o.0 == 1);
    assert_reached(&outcomes, "both thieves got one", |o| o.0 == 2);
}
