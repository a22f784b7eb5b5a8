//! Writes a DAG with every node kind as Graphviz DOT (`target/pipeline.dot`), and renders
//! `target/pipeline.svg` if the `dot` program is installed.
//!
//! `cargo run --example dag_to_dot`

use std::process::Command;

use ringdag::dag::{Dag, DagBuilder, RetryPolicy};
use ringdag::sched::Context;

fn parse(cx: &mut Context<'_, u32, u32>) -> Result<u32, ()> {
    Ok(*cx.input())
}
fn split(cx: &mut Context<'_, u32, u32>) -> Result<u32, ()> {
    for i in 0..*cx.input() % 8 {
        cx.emit(i).map_err(|_| ())?;
    }
    Ok(0)
}
fn clean(cx: &mut Context<'_, u32, u32>) -> Result<u32, ()> {
    cx.item().map(|(_, v)| v + 1).ok_or(())
}
fn route(cx: &mut Context<'_, u32, u32>) -> Result<u32, ()> {
    cx.choose(u8::from(*cx.input() % 2 == 1));
    Ok(0)
}
fn pass(_: &mut Context<'_, u32, u32>) -> Result<u32, ()> {
    Ok(1)
}

/// Built and validated at compile time.
static DAG: Dag<u32, u32, (), 7, 7> = Dag::new_or_panic(
    DagBuilder::new()
        .task("parse", parse)
        .iterator("records", split, 8)
        .body("records", "clean", clean)
        .condition("route", route)
        .task("quarantine", pass)
        .task("aggregate", pass)
        .task("report", pass)
        .edge("parse", "records")
        .edge("records", "route")
        .branch("route", "quarantine", 1)
        .default_branch("route", "aggregate")
        .edge("quarantine", "report")
        .edge("aggregate", "report")
        .retry(
            "parse",
            RetryPolicy {
                attempts: 3,
                backoff_ticks: 10,
            },
        )
        .build(),
);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut dot = String::new();
    ringdag::dag::write_dot(&DAG.view(), &mut dot)?;
    std::fs::create_dir_all("target")?;
    std::fs::write("target/pipeline.dot", &dot)?;
    print!("{dot}");
    eprintln!("wrote target/pipeline.dot");
    match Command::new("dot")
        .args(["-Tsvg", "target/pipeline.dot", "-o", "target/pipeline.svg"])
        .status()
    {
        Ok(s) if s.success() => eprintln!("wrote target/pipeline.svg"),
        Ok(s) => eprintln!("dot failed ({s}); the .dot file is still there"),
        Err(_) => eprintln!("`dot` (Graphviz) not installed: skipped the SVG"),
    }
    Ok(())
}
