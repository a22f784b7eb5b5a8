//! Runs one fan-out/fan-in run with tracing on and writes its timeline as Chrome trace JSON
//! (`target/trace.json`): open it at https://ui.perfetto.dev or chrome://tracing. One track
//! per worker, one slice per node execution (iterator items carry their index).
//!
//! `cargo run --release --example trace`

use std::time::{Duration, Instant};

use ringdag::runtime::{GraphBuilder, Runtime};

fn busy(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut b = GraphBuilder::<u32, u32, ()>::new();
    let load = b.task("load", |cx| {
        busy(Duration::from_micros(200));
        Ok(*cx.input())
    });
    let fan = b.iterator("fan_out", 32, move |cx| {
        let n = cx.value(load).unwrap_or(0);
        for i in 0..n {
            cx.emit(i).map_err(|_| ())?;
        }
        Ok(n)
    });
    b.body(fan, "work", |cx| {
        busy(Duration::from_micros(100));
        Ok(cx.item().map_or(0, |(_, v)| v * 2))
    });
    let sum = b.task("sum", move |cx| {
        busy(Duration::from_micros(150));
        Ok(cx.items(fan).iter().sum())
    });
    b.edge(load, fan).edge(fan, sum);
    let rt = Runtime::builder().trace(true).build(b.build()?)?;
    let result = rt.submit(24)?.wait();
    println!(
        "sum = {:?} (expected {})",
        result.value(sum),
        (0..24).map(|i| i * 2).sum::<u32>()
    );
    std::fs::create_dir_all("target")?;
    let mut file = std::io::BufWriter::new(std::fs::File::create("target/trace.json")?);
    rt.write_chrome_trace(result.id(), &mut file)?;
    drop(file);
    println!(
        "wrote target/trace.json ({} workers): open it in https://ui.perfetto.dev",
        rt.workers()
    );
    Ok(())
}
