//! The `tracing` feature, seen by a subscriber: every node execution is a `node` span that
//! carries the node's name and its run's id, and every run has one "submitted" and one
//! "finished" event with that id, also for a node that panics and one that is retried.
//!
//! Needs the feature: `cargo test --release --features tracing --test tracing_spans` (CI runs
//! it so). Without it this file compiles to nothing.
#![cfg(feature = "tracing")]

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use ringdag::dag::RetryPolicy;
use ringdag::runtime::{GraphBuilder, Runtime};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// What the subscriber saw: (span or event name/message, node name, run id).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Span {
        name: &'static str,
        node: Option<String>,
        run: Option<u64>,
    },
    Event {
        message: String,
        run: Option<u64>,
    },
}

static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

/// The fields this test looks at.
#[derive(Default)]
struct Fields {
    node: Option<String>,
    run: Option<u64>,
    message: Option<String>,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "run" {
            self.run = Some(value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "name" {
            self.node = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.message = Some(format!("{value:?}")),
            "name" => self.node = Some(format!("{value:?}")),
            _ => {}
        }
    }
}

/// A global subscriber (the workers are other threads) that records every span and event.
struct Recorder {
    next: AtomicU64,
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields::default();
        span.record(&mut fields);
        SEEN.lock().unwrap().push(Seen::Span {
            name: span.metadata().name(),
            node: fields.node,
            run: fields.run,
        });
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        SEEN.lock().unwrap().push(Seen::Event {
            message: fields.message.unwrap_or_default(),
            run: fields.run,
        });
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// `(name, count)` pairs as the map the test counts into.
fn counts(pairs: &[(&str, usize)]) -> HashMap<String, usize> {
    pairs.iter().map(|&(n, k)| (n.to_owned(), k)).collect()
}

#[test]
fn every_node_execution_is_a_span_of_its_run_and_every_run_has_two_events() {
    tracing::subscriber::set_global_default(Recorder {
        next: AtomicU64::new(0),
    })
    .expect("the only subscriber in this test binary");

    // A chain, so that every node runs before the last one can fail the run:
    // parse -> flaky -> left -> boom. `flaky` fails its first attempt and is retried once;
    // `boom` panics when the input is odd.
    let mut b = GraphBuilder::<u32, u32, &'static str>::new();
    let parse = b.task("parse", |cx| Ok(*cx.input()));
    let flaky = b.task("flaky", |cx| {
        if cx.attempt() == 0 {
            Err("first attempt")
        } else {
            Ok(2)
        }
    });
    let left = b.task("left", |_| Ok(1));
    let boom = b.task("boom", |cx| {
        assert!(*cx.input() % 2 == 0, "odd input");
        Ok(3)
    });
    b.edge(parse, flaky).edge(flaky, left).edge(left, boom);
    b.retry(
        flaky,
        RetryPolicy {
            attempts: 2,
            backoff_ticks: 0,
        },
    );
    let rt = Runtime::builder()
        .workers(2)
        .build(b.build().expect("valid graph"))
        .expect("runtime");

    let mut runs = Vec::new();
    for input in 0..6u32 {
        let done = rt.submit(input).expect("submit").wait();
        assert_eq!(done.outcome().is_ok(), input % 2 == 0, "input {input}");
        runs.push((u64::from(done.id().to_bits()), input));
    }
    drop(rt);

    let seen = SEEN.lock().unwrap().clone();
    for (run, input) in runs {
        let mut nodes: HashMap<String, usize> = HashMap::new();
        let mut events: HashMap<String, usize> = HashMap::new();
        for s in &seen {
            match s {
                Seen::Span {
                    name: "node",
                    node: Some(node),
                    run: Some(r),
                } if *r == run => {
                    *nodes.entry(node.clone()).or_default() += 1;
                }
                Seen::Event {
                    message,
                    run: Some(r),
                } if *r == run => {
                    *events.entry(message.clone()).or_default() += 1;
                }
                _ => {}
            }
        }
        // Each node once, `flaky` twice (its retry is a second execution).
        let want = counts(&[("parse", 1), ("left", 1), ("flaky", 2), ("boom", 1)]);
        assert_eq!(nodes, want, "node spans of run {run:#x} (input {input})");
        let want = counts(&[("ringdag run submitted", 1), ("ringdag run finished", 1)]);
        assert_eq!(events, want, "events of run {run:#x} (input {input})");
    }
    // Nothing else was named `node` without a run.
    assert!(
        seen.iter().all(|s| !matches!(
            s,
            Seen::Span {
                name: "node",
                run: None,
                ..
            }
        )),
        "a node span without its run"
    );
}
