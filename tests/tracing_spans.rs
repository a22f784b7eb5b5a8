//! The `tracing` feature, seen by a subscriber: every run is a `run` span carrying its id,
//! with one "submitted" and one "finished" event in it; every node execution is a `node`
//! span, a child of its run's span, carrying the node's name and the run's id; an event a
//! body emits lands in its node's span; every span is closed by the time the runtime is
//! dropped. Also for a node that panics, one that is retried, runs in flight together, and a
//! run whose handle was dropped; once with a global subscriber, and once with a subscriber
//! scoped to the submitting thread, inside a span (the workers' own default is the global
//! one: the run's spans and events must all reach the submitter's, and none the global).
//! (`tests/tracing_panics.rs`: a subscriber that panics.)
//!
//! Needs the feature: `cargo test --release --features tracing --test tracing_spans` (CI runs
//! it so). Without it this file compiles to nothing.
#![cfg(feature = "tracing")]

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use ringdag::dag::RetryPolicy;
use ringdag::runtime::{Graph, GraphBuilder, RunResult, Runtime};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A span a subscriber saw.
#[derive(Clone, Debug)]
struct SpanRec {
    name: &'static str,
    node: Option<String>,
    run: Option<u64>,
    parent: Option<u64>,
    /// Handles alive (`new_span` makes one, `clone_span` adds one, `try_close` drops one).
    refs: usize,
}

/// An event a subscriber saw.
#[derive(Clone, Debug)]
struct EventRec {
    message: String,
    run: Option<u64>,
    /// The explicit parent, or else the span the emitting thread was in.
    parent: Option<u64>,
}

#[derive(Default)]
struct Seen {
    spans: HashMap<u64, SpanRec>,
    events: Vec<EventRec>,
    /// What the subscriber found wrong while recording (asserted by the test, not in the
    /// subscriber: a panic there would end a worker).
    errors: Vec<String>,
}

thread_local! {
    /// The spans this thread is in, innermost last.
    static STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

fn current() -> Option<u64> {
    STACK.with(|s| s.borrow().last().copied())
}

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

/// A subscriber that records every span, its parent and whether it was closed, and every
/// event with its parent. Each recorder issues ids from its own range, so a parent id from
/// another subscriber is never one of its own.
struct Recorder {
    seen: Arc<Mutex<Seen>>,
    next: AtomicU64,
}

impl Recorder {
    fn new() -> (Self, Arc<Mutex<Seen>>) {
        static RECORDERS: AtomicU64 = AtomicU64::new(1);
        let seen = Arc::new(Mutex::new(Seen::default()));
        let rec = Self {
            seen: Arc::clone(&seen),
            next: AtomicU64::new(RECORDERS.fetch_add(1, Ordering::Relaxed) << 32),
        };
        (rec, seen)
    }

    fn with<R>(&self, f: impl FnOnce(&mut Seen) -> R) -> R {
        // A failed assertion that held the lock must not make every later call panic.
        f(&mut self.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields::default();
        span.record(&mut fields);
        let parent = if span.is_contextual() {
            current()
        } else {
            span.parent().map(Id::into_u64)
        };
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.with(|s| {
            if let Some(p) = parent.filter(|p| !s.spans.contains_key(p)) {
                s.errors
                    .push(format!("span {id} has parent {p}, not one of ours"));
            }
            let rec = SpanRec {
                name: span.metadata().name(),
                node: fields.node,
                run: fields.run,
                parent,
                refs: 1,
            };
            s.spans.insert(id, rec);
        });
        Id::from_u64(id)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let parent = if event.is_contextual() {
            current()
        } else {
            event.parent().map(Id::into_u64)
        };
        let rec = EventRec {
            message: fields.message.unwrap_or_default(),
            run: fields.run,
            parent,
        };
        self.with(|s| s.events.push(rec));
    }

    fn enter(&self, span: &Id) {
        STACK.with(|s| s.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        let popped = STACK.with(|s| s.borrow_mut().pop());
        if popped != Some(span.into_u64()) {
            self.with(|s| s.errors.push(format!("exited {span:?}, was in {popped:?}")));
        }
    }

    fn clone_span(&self, span: &Id) -> Id {
        self.with(|s| match s.spans.get_mut(&span.into_u64()) {
            Some(rec) if rec.refs > 0 => rec.refs += 1,
            _ => s.errors.push(format!("cloned {span:?}, not open")),
        });
        span.clone()
    }

    fn try_close(&self, span: Id) -> bool {
        self.with(|s| match s.spans.get_mut(&span.into_u64()) {
            Some(rec) if rec.refs > 0 => {
                rec.refs -= 1;
                rec.refs == 0
            }
            _ => {
                s.errors.push(format!("closed {span:?}, not open"));
                false
            }
        })
    }
}

/// `(name, count)` pairs as the map the test counts into.
fn counts(pairs: &[(&str, usize)]) -> HashMap<String, usize> {
    pairs.iter().map(|&(n, k)| (n.to_owned(), k)).collect()
}

/// The node names of the test graph, in chain order.
type Names = [&'static str; 4];
const NAMES: Names = ["parse", "flaky", "left", "boom"];
/// The same graph under other names, for the runs of the scoped subscriber.
const SCOPED: Names = ["s.parse", "s.flaky", "s.left", "s.boom"];

/// A chain, so that every node runs before the last one can fail the run:
/// parse -> flaky -> left -> boom. `parse` emits an event; `flaky` fails its first attempt
/// and is retried once; `boom` panics when the input is odd.
fn graph(names: Names) -> Graph<u32, u32, &'static str> {
    let mut b = GraphBuilder::<u32, u32, &'static str>::new();
    let parse = b.task(names[0], |cx| {
        tracing::info!("parsing");
        Ok(*cx.input())
    });
    let flaky = b.task(names[1], |cx| {
        if cx.attempt() == 0 {
            Err("first attempt")
        } else {
            Ok(2)
        }
    });
    let left = b.task(names[2], |_| Ok(1));
    let boom = b.task(names[3], |cx| {
        assert!(cx.input().is_multiple_of(2), "odd input");
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
    b.build().expect("valid graph")
}

fn runtime(names: Names) -> Runtime<u32, u32, &'static str> {
    Runtime::builder()
        .workers(2)
        .max_runs(4)
        .build(graph(names))
        .expect("runtime")
}

/// What the global subscriber saw; installs it on first use (both recording tests use it:
/// one records with it, the other checks that nothing of its runs reached it).
fn global() -> &'static Arc<Mutex<Seen>> {
    static GLOBAL: OnceLock<Arc<Mutex<Seen>>> = OnceLock::new();
    GLOBAL.get_or_init(|| {
        let (recorder, seen) = Recorder::new();
        tracing::subscriber::set_global_default(recorder).expect("no global subscriber yet");
        seen
    })
}

/// (run id, input) of a finished run, checked against its input.
fn finished(done: RunResult<u32, u32, &'static str>, input: u32) -> (u64, u32) {
    assert_eq!(
        done.outcome().is_ok(),
        input.is_multiple_of(2),
        "input {input}"
    );
    (u64::from(done.id().to_bits()), input)
}

/// What every run must have left in `seen`, and nothing else there; returns each run's span.
fn check(seen: &Seen, runs: &[(u64, u32)], names: Names) -> Vec<u64> {
    let mut spans = Vec::new();
    assert_eq!(
        seen.errors,
        Vec::<String>::new(),
        "the subscriber's findings"
    );
    for &(run, input) in runs {
        let what = format!("run {run:#x} (input {input})");
        let run_spans: Vec<u64> = seen
            .spans
            .iter()
            .filter(|(_, s)| s.name == "run" && s.run == Some(run))
            .map(|(&id, _)| id)
            .collect();
        assert_eq!(run_spans.len(), 1, "{what}: run spans");
        let run_span = run_spans[0];
        spans.push(run_span);

        let mut nodes: HashMap<String, usize> = HashMap::new();
        for s in seen.spans.values() {
            if s.name == "node" && s.run == Some(run) {
                assert_eq!(s.parent, Some(run_span), "{what}: {s:?} outside its run");
                *nodes.entry(s.node.clone().expect("a name")).or_default() += 1;
            }
        }
        // Each node once, `flaky` twice (its retry is a second execution).
        let want = counts(&[(names[0], 1), (names[1], 2), (names[2], 1), (names[3], 1)]);
        assert_eq!(nodes, want, "{what}: node spans");

        let mut events: HashMap<String, usize> = HashMap::new();
        for e in &seen.events {
            if e.run == Some(run) {
                assert_eq!(e.parent, Some(run_span), "{what}: {e:?} outside its run");
                *events.entry(e.message.clone()).or_default() += 1;
            }
        }
        let want = counts(&[("ringdag run submitted", 1), ("ringdag run finished", 1)]);
        assert_eq!(events, want, "{what}: events");

        // The body's own event is inside this run's `parse` span.
        let parsing = seen
            .events
            .iter()
            .filter(|e| e.message == "parsing")
            .filter_map(|e| seen.spans.get(&e.parent?))
            .filter(|s| s.run == Some(run))
            .inspect(|s| assert_eq!(s.node.as_deref(), Some(names[0]), "{what}: {s:?}"))
            .count();
        assert_eq!(parsing, 1, "{what}: the body's event");
    }
    // Nothing else: every span and event belongs to one of these runs (or is a body's
    // event, checked above), and every span was closed.
    let ids: Vec<u64> = runs.iter().map(|&(r, _)| r).collect();
    for (id, s) in &seen.spans {
        assert!(
            s.run.is_some_and(|r| ids.contains(&r)),
            "stray span {id}: {s:?}"
        );
        assert_eq!(s.refs, 0, "span {id} still open: {s:?}");
    }
    let body_events = seen.events.iter().filter(|e| e.run.is_none()).count();
    assert_eq!(
        body_events,
        runs.len(),
        "one body event per run, nothing else"
    );
    spans
}

#[test]
fn every_run_is_a_span_and_every_node_execution_a_span_inside_it() {
    global();
    let rt = runtime(NAMES);
    let mut runs = Vec::new();
    // One run at a time (each slot's next run may open its span before the last run's
    // `run_finished` closed the old one), then four in flight at once, twice.
    for input in 0..6u32 {
        runs.push(finished(rt.submit(input).expect("submit").wait(), input));
    }
    for wave in 0..2u32 {
        let handles: Vec<_> = (0..4u32)
            .map(|k| {
                let input = 6 + 4 * wave + k;
                (rt.submit(input).expect("submit"), input)
            })
            .collect();
        for (h, input) in handles {
            runs.push(finished(h.wait(), input));
        }
    }
    drop(rt);
    assert_eq!(runs.len(), 14);
    // The scoped test's runs have the same ids (another runtime) but other node names, and
    // are checked there not to be here at all: leave them out.
    let mut seen = global().lock().unwrap();
    seen.spans
        .retain(|_, s| !s.node.as_deref().is_some_and(|n| SCOPED.contains(&n)));
    check(&seen, &runs, NAMES);
}

#[test]
fn a_subscriber_scoped_to_the_submitter_gets_the_whole_run() {
    let global = global();
    let (recorder, seen) = Recorder::new();
    let (runs, request) = tracing::subscriber::with_default(recorder, || {
        // The workers' default is the global subscriber: the run's spans and events must
        // reach this one all the same, under the submitter's span.
        let request = tracing::info_span!("request");
        let _in = request.enter();
        let rt = runtime(SCOPED);
        let mut runs = Vec::new();
        // One handle is dropped at once: its run still ends, and its span with it.
        let dropped = rt.submit(20).expect("submit");
        runs.push((u64::from(dropped.id().to_bits()), 20));
        drop(dropped);
        let handles: Vec<_> = (21..24u32)
            .map(|input| (rt.submit_wait(input).expect("submit"), input))
            .collect();
        for (h, input) in handles {
            runs.push(finished(h.wait(), input));
        }
        drop(rt);
        (runs, request.id().expect("enabled").into_u64())
    });
    let mut seen = seen.lock().unwrap();
    // The submitter's own span is there too, and is every run span's parent.
    let before = seen.spans.len();
    seen.spans.retain(|_, s| s.name != "request");
    assert_eq!(seen.spans.len(), before - 1, "the request span");
    for id in check(&seen, &runs, SCOPED) {
        let parent = seen.spans.get(&id).expect("recorded").parent;
        assert_eq!(parent, Some(request), "run span {id}'s parent");
    }
    // Nothing of these runs reached the global subscriber.
    let global = global.lock().unwrap();
    let strays: Vec<&SpanRec> = global
        .spans
        .values()
        .filter(|s| s.node.as_deref().is_some_and(|n| SCOPED.contains(&n)))
        .collect();
    assert!(
        strays.is_empty(),
        "reached the global subscriber: {strays:?}"
    );
}
