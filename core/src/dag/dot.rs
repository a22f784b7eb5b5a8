//! Graphviz DOT export.

use core::fmt::{self, Write};

use super::{DagView, EdgeLabel, NodeKind};

/// Writes the DAG as a Graphviz `digraph`: tasks as boxes, conditions as diamonds, iterators
/// as 3-D boxes with a dashed "per item" edge to their body (an ellipse); branch edges carry
/// their label (`default` for the default branch).
///
/// # Examples
///
/// ```
/// use ringdag_core::dag::{write_dot, DagBuilder};
/// use ringdag_core::sched::Context;
/// fn one(_: &mut Context<'_, u32, u32>) -> Result<u32, ()> { Ok(1) }
/// let dag = DagBuilder::<u32, u32, (), 3, 2>::new()
///     .condition("check", one).task("yes", one).task("no", one)
///     .branch("check", "yes", 1).default_branch("check", "no")
///     .build().unwrap();
/// let mut dot = String::new();
/// write_dot(&dag.view(), &mut dot).unwrap();
/// assert!(dot.contains("\"check\" -> \"yes\" [label=\"1\"]"));
/// assert!(dot.contains("shape=diamond"));
/// ```
///
/// # Errors
///
/// Whatever `out` returns.
pub fn write_dot<W: Write + ?Sized>(view: &DagView<'_>, out: &mut W) -> fmt::Result {
    writeln!(out, "digraph ringdag {{")?;
    writeln!(out, "  rankdir=LR;")?;
    for info in view.nodes {
        let (shape, style) = match info.kind {
            NodeKind::Task => ("box", "solid"),
            NodeKind::Condition => ("diamond", "solid"),
            NodeKind::Iterator { .. } => ("box3d", "solid"),
            NodeKind::Body { .. } => ("ellipse", "dashed"),
        };
        write!(
            out,
            "  \"{}\" [shape={shape}, style={style}",
            Quoted(info.name)
        )?;
        if let NodeKind::Iterator { max_items, .. } = info.kind {
            write!(out, ", xlabel=\"max {max_items}\"")?;
        }
        writeln!(out, "];")?;
    }
    for (v, info) in view.nodes.iter().enumerate() {
        if let NodeKind::Iterator { body, .. } = info.kind {
            let body = Quoted(view.nodes[body.index()].name);
            writeln!(
                out,
                "  \"{}\" -> \"{body}\" [style=dashed, label=\"per item\"];",
                Quoted(info.name)
            )?;
        }
        for s in view.successors(v as u32) {
            let to = Quoted(view.nodes[s.to as usize].name);
            write!(out, "  \"{}\" -> \"{to}\"", Quoted(info.name))?;
            match s.label() {
                EdgeLabel::Always => writeln!(out, ";")?,
                EdgeLabel::When(l) => writeln!(out, " [label=\"{l}\"];")?,
                EdgeLabel::Default => writeln!(out, " [label=\"default\", style=bold];")?,
            }
        }
    }
    writeln!(out, "}}")
}

/// A node name inside a DOT quoted string: `"` and `\` escaped, so that any name gives a
/// file Graphviz reads, and shows as itself (the default label unescapes `\\`). DOT cannot
/// end a quoted string after a backslash: a name that ends in one gets a space after it.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c == '"' || c == '\\' {
                f.write_char('\\')?;
            }
            f.write_char(c)?;
        }
        if self.0.ends_with('\\') {
            f.write_char(' ')?;
        }
        Ok(())
    }
}
