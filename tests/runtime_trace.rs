//! The runtime's Chrome trace export: valid JSON (whatever the node names), one complete
//! event per node execution on its worker's track, and a bounded store for events of runs
//! nobody exports.

use std::collections::BTreeMap;

use ringdag::runtime::{GraphBuilder, Runtime, TRACE_EVENTS};
use serde_json::Value;

/// The exported trace of `run`, parsed (the test fails if it is not JSON).
fn trace_of(rt: &Runtime<u32, u32, ()>, run: ringdag::runtime::RunId) -> Value {
    let mut out = Vec::new();
    rt.write_chrome_trace(run, &mut out).unwrap();
    let text = String::from_utf8(out).expect("UTF-8");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// The complete ("X") events of a parsed trace.
fn slices(trace: &Value) -> Vec<&Value> {
    trace["traceEvents"]
        .as_array()
        .expect("a traceEvents array")
        .iter()
        .filter(|e| e["ph"] == "X")
        .collect()
}

#[test]
fn a_run_exports_one_slice_per_node_execution_on_its_workers_track() {
    const ITEMS: u32 = 12;
    // Names JSON must escape: a quote, a backslash, a newline, a tab, a control character.
    const ODD: &str = "say \"hi\"\\ then\n\tgo\u{1}";
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let load = b.task("load", |cx| Ok(*cx.input()));
    let fan = b.iterator("fan", ITEMS as u16, move |cx| {
        for i in 0..cx.value(load).unwrap_or(0) {
            cx.emit(i).map_err(|_| ())?;
        }
        Ok(0)
    });
    b.body(fan, "work", |cx| Ok(cx.item().map_or(0, |(_, v)| v + 1)));
    let odd = b.task(ODD, move |cx| Ok(cx.items(fan).iter().sum()));
    b.edge(load, fan).edge(fan, odd);
    let workers = 2;
    let rt = Runtime::builder()
        .workers(workers)
        .trace(true)
        .build(b.build().unwrap())
        .unwrap();
    let r = rt.submit(ITEMS).unwrap().wait();
    assert_eq!(r.outcome(), Ok(()));
    let trace = trace_of(&rt, r.id());
    let slices = slices(&trace);
    // load, fan, ITEMS bodies, the odd-named join.
    assert_eq!(slices.len(), 3 + ITEMS as usize);
    let mut per_name: BTreeMap<String, usize> = BTreeMap::new();
    let mut items = Vec::new();
    for s in &slices {
        *per_name
            .entry(s["name"].as_str().unwrap().to_owned())
            .or_default() += 1;
        let tid = s["tid"].as_u64().expect("a track");
        assert!(tid < workers as u64, "track {tid} is not a worker's");
        assert!(s["dur"].as_f64().unwrap() >= 0.0);
        if let Some(item) = s["args"].get("item") {
            items.push(item.as_u64().unwrap());
        }
    }
    assert_eq!(per_name.get(ODD), Some(&1), "{per_name:?}");
    assert_eq!(per_name.get("work"), Some(&(ITEMS as usize)));
    items.sort_unstable();
    assert!(items.iter().copied().eq(0..u64::from(ITEMS)), "{items:?}");
    // One named track per worker.
    let tracks = trace["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .count();
    assert_eq!(tracks, workers);
    // Exported events are handed out once.
    assert!(slices_of_again(&rt, r.id()).is_empty());
}

fn slices_of_again(rt: &Runtime<u32, u32, ()>, run: ringdag::runtime::RunId) -> Vec<Value> {
    slices(&trace_of(rt, run)).into_iter().cloned().collect()
}

#[test]
fn events_of_runs_never_exported_are_bounded_and_counted_as_dropped() {
    // Each export moves the recorded events aside and hands out one run's; the others stay
    // for a later export, up to TRACE_EVENTS of them, and the oldest beyond that are dropped.
    const WIDTH: usize = 1024;
    const RUNS_PER_ROUND: usize = 48; // 48 Ki events a round: the trace ring never overflows
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    for i in 0..WIDTH {
        b.task(Box::leak(format!("n{i}").into_boxed_str()), |_| Ok(0));
    }
    let rt = Runtime::builder()
        .workers(2)
        .trace(true)
        .build(b.build().unwrap())
        .unwrap();
    let mut first_of_all = None;
    let mut second_round = Vec::new();
    for round in 0..3 {
        let mut last = None;
        for _ in 0..RUNS_PER_ROUND {
            let r = rt.submit(0).unwrap().wait();
            assert_eq!(r.outcome(), Ok(()));
            first_of_all.get_or_insert(r.id());
            last = Some(r.id());
            if round == 1 {
                second_round.push(r.id());
            }
        }
        // The newest run's events are all there.
        let got = slices_of_again(&rt, last.unwrap()).len();
        assert_eq!(got, WIDTH, "round {round}");
    }
    // Kept: at most TRACE_EVENTS; 3 rounds recorded 3 × 48 Ki, 3 Ki were exported.
    let recorded = 3 * RUNS_PER_ROUND * WIDTH;
    let kept_at_most = TRACE_EVENTS;
    let dropped = rt.metrics().trace_dropped as usize;
    assert!(
        dropped >= recorded - 3 * WIDTH - kept_at_most,
        "only {dropped} events dropped: the store is not bounded"
    );
    // The oldest run's events were among those dropped.
    let oldest = slices_of_again(&rt, first_of_all.unwrap()).len();
    assert!(oldest < WIDTH, "{oldest} events of the oldest run survived");
    // The store now holds the newest TRACE_EVENTS events of unexported runs, among them the
    // last runs of the second round. Another round fills the trace ring; exporting one of
    // those runs then hands out all its events, before the store drops the oldest again.
    let kept = second_round[RUNS_PER_ROUND - 2];
    for _ in 0..RUNS_PER_ROUND {
        assert_eq!(rt.submit(0).unwrap().wait().outcome(), Ok(()));
    }
    assert_eq!(slices_of_again(&rt, kept).len(), WIDTH);
}
