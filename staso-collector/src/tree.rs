//! Rendering of traces as indented trees (agent → tool → llm …), for the live log and
//! `staso-collector show`.

use crate::store::{StoredSpan, StoredTrace};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// Renders one trace as a tree: a header line, then one line per span with its name,
/// kind, duration, status and error message, children indented under their parent.
///
/// ```text
/// trace 6f1c2f0e-… · 3 spans · environment default · workspace default
/// └─ research_agent [agent] 12.34 ms ok
///    ├─ search [tool] 1.02 ms ok
///    └─ summarize [llm] 800.00 ms error: rate limited
/// ```
/// A span whose parent was not received is shown at the top with a note; a provisional
/// root copy is marked `(provisional)`.
pub fn render_trace(trace: &StoredTrace) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "trace {} · {} span{} · environment {} · workspace {} · {}",
        trace.trace_id,
        trace.spans.len(),
        if trace.spans.len() == 1 { "" } else { "s" },
        display_or_empty(&trace.environment),
        display_or_empty(&trace.workspace_slug),
        trace.timestamp,
    );
    let ids: HashSet<&str> = trace.spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut children: HashMap<&str, Vec<&StoredSpan>> = HashMap::new();
    let mut roots = Vec::new();
    for s in &trace.spans {
        match s.parent_span_id.as_deref() {
            Some(p) if ids.contains(p) => children.entry(p).or_default().push(s),
            _ => roots.push(s),
        }
    }
    let mut visited = HashSet::new();
    let mut walk = Walk {
        out: &mut out,
        children: &children,
        visited: &mut visited,
    };
    walk.list(&roots, "");
    // Spans caught in a parent cycle are reachable from no root: show them anyway.
    let rest: Vec<&StoredSpan> = trace
        .spans
        .iter()
        .filter(|s| !walk.visited.contains(s.span_id.as_str()))
        .collect();
    if !rest.is_empty() {
        let _ = writeln!(walk.out, "(spans in a parent cycle)");
        for s in rest {
            if !walk.visited.contains(s.span_id.as_str()) {
                walk.list(&[s], "");
            }
        }
    }
    out
}

/// Renders several traces, separated by blank lines.
pub fn render_traces(traces: &[StoredTrace]) -> String {
    traces
        .iter()
        .map(render_trace)
        .collect::<Vec<_>>()
        .join("\n")
}

fn display_or_empty(s: &str) -> &str {
    if s.is_empty() {
        "\"\""
    } else {
        s
    }
}

struct Walk<'a, 'b> {
    out: &'b mut String,
    children: &'b HashMap<&'a str, Vec<&'a StoredSpan>>,
    visited: &'b mut HashSet<&'a str>,
}

impl<'a> Walk<'a, '_> {
    fn list(&mut self, spans: &[&'a StoredSpan], prefix: &str) {
        for (i, s) in spans.iter().enumerate() {
            if !self.visited.insert(s.span_id.as_str()) {
                continue;
            }
            let last = i + 1 == spans.len();
            let orphan = prefix.is_empty() && s.parent_span_id.is_some();
            let _ = writeln!(
                self.out,
                "{prefix}{}{}{}",
                if last { "└─ " } else { "├─ " },
                span_line(s),
                if orphan { " (parent not received)" } else { "" }
            );
            if let Some(kids) = self.children.get(s.span_id.as_str()) {
                let next = format!("{prefix}{}", if last { "   " } else { "│  " });
                self.list(kids, &next);
            }
        }
    }
}

fn span_line(s: &StoredSpan) -> String {
    let mut line = format!(
        "{} [{}] {:.2} ms {}",
        if s.name.is_empty() { "\"\"" } else { &s.name },
        s.kind,
        s.duration_ms,
        s.status
    );
    if let Some(e) = &s.error_message {
        let _ = write!(line, ": {}", e.replace('\n', " "));
    }
    if s.provisional {
        line.push_str(" (provisional)");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn span(id: &str, parent: Option<&str>, name: &str, kind: &str, ts: &str) -> StoredSpan {
        StoredSpan {
            trace_id: "t".into(),
            span_id: id.into(),
            parent_span_id: parent.map(Into::into),
            name: name.into(),
            kind: kind.into(),
            timestamp: ts.into(),
            duration_ms: 1.5,
            status: "ok".into(),
            error_message: None,
            provisional: false,
            environment: "default".into(),
            workspace_slug: "default".into(),
            copies_received: 1,
            final_copies_received: 1,
            raw: json!({}),
        }
    }

    #[test]
    fn nests_children() {
        let mut llm = span("c", Some("b"), "call", "llm", "3");
        llm.status = "error".into();
        llm.error_message = Some("boom".into());
        let trace = StoredTrace {
            trace_id: "t".into(),
            timestamp: "1".into(),
            environment: "default".into(),
            workspace_slug: "default".into(),
            spans: vec![
                span("a", None, "agent", "agent", "1"),
                span("b", Some("a"), "search", "tool", "2"),
                llm,
                span("d", Some("a"), "after", "chain", "4"),
                span("e", Some("zz"), "orphan", "custom", "5"),
            ],
        };
        let text = render_trace(&trace);
        let expected = "\
├─ agent [agent] 1.50 ms ok
│  ├─ search [tool] 1.50 ms ok
│  │  └─ call [llm] 1.50 ms error: boom
│  └─ after [chain] 1.50 ms ok
└─ orphan [custom] 1.50 ms ok (parent not received)
";
        assert!(text.ends_with(expected), "{text}");
    }
}
