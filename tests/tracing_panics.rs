//! The `tracing` feature with a subscriber that panics in some of the runtime's own calls
//! (node spans, the "submitted" and "finished" events, span exits): the panics are caught,
//! so no worker ends and every run ends with its own outcome. Its own test binary: the
//! subscriber is scoped to the submitting thread, and the workers have no default.
//!
//! Needs the feature: `cargo test --release --features tracing --test tracing_panics`.
#![cfg(feature = "tracing")]

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ringdag::runtime::{GraphBuilder, Runtime};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Panics on every other `node` span, every other "submitted" event, every "finished"
/// event and every third span exit; a body's own events pass.
#[derive(Default)]
struct Panicky {
    /// Calls so far: node spans, "submitted" events, exits.
    nodes: AtomicU64,
    submitted: AtomicU64,
    exits: AtomicU64,
    next: AtomicU64,
}

/// Whether this is a call to panic on: counts it, and says yes to every `n`-th.
fn every(calls: &AtomicU64, n: u64) -> bool {
    calls.fetch_add(1, Ordering::Relaxed).is_multiple_of(n)
}

/// An event's message.
#[derive(Default)]
struct Message(Option<String>);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl Subscriber for Panicky {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        if span.metadata().name() == "node" && every(&self.nodes, 2) {
            panic!("subscriber: new_span");
        }
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut message = Message::default();
        event.record(&mut message);
        match message.0.as_deref() {
            Some("ringdag run finished") => panic!("subscriber: finished"),
            Some("ringdag run submitted") if every(&self.submitted, 2) => {
                panic!("subscriber: submitted")
            }
            _ => {}
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {
        if every(&self.exits, 3) {
            panic!("subscriber: exit");
        }
    }
}

#[test]
fn a_subscriber_that_panics_ends_no_worker_and_no_run() {
    // read -> check; `check` fails odd inputs (an error, not a panic: the panics here are
    // all the subscriber's).
    let mut b = GraphBuilder::<u32, u32, u32>::new();
    let read = b.task("read", |cx| {
        tracing::info!("reading");
        Ok(*cx.input())
    });
    let check = b.task("check", |cx| {
        let v = *cx.input();
        if v.is_multiple_of(2) {
            Ok(v)
        } else {
            Err(v)
        }
    });
    b.edge(read, check);
    let graph = b.build().expect("valid graph");

    tracing::subscriber::with_default(Panicky::default(), || {
        let rt = Runtime::builder()
            .workers(2)
            .max_runs(4)
            .build(graph)
            .expect("runtime");
        for round in 0..10u32 {
            let handles: Vec<_> = (0..4u32)
                .map(|k| {
                    let input = 4 * round + k;
                    (rt.submit_wait(input).expect("submit"), input)
                })
                .collect();
            for (h, input) in handles {
                // A dead worker would leave its node unresolved: bound the wait (a hang
                // guard, not a timing check). It ends the process: a panic here would hang in
                // dropping the runtime, which waits for that run.
                let Ok(done) = h.wait_timeout(Duration::from_secs(60)) else {
                    eprintln!("tracing_panics: the run of input {input} never ended");
                    std::process::exit(101);
                };
                assert_eq!(done.outcome().is_ok(), input.is_multiple_of(2), "{input}");
            }
        }
        let c = rt.metrics().counters;
        assert_eq!((c.runs_completed, c.runs_failed), (20, 20));
    });
}
