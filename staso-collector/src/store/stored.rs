//! The values the store hands out: stored spans, traces and annotations as read back
//! from SQLite, and the copy counts of the in-memory index. Public (re-exported at the
//! crate root), so kept apart from how they are stored.

use serde_json::Value;

/// A stored span with the fields of its trace.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSpan {
    /// The trace it belongs to.
    pub trace_id: String,
    /// Its id.
    pub span_id: String,
    /// Its parent's id; `None` for a root.
    pub parent_span_id: Option<String>,
    /// Span name.
    pub name: String,
    /// `llm`, `tool`, `chain`, `retriever`, `agent` or `custom`.
    pub kind: String,
    /// Start time as sent.
    pub timestamp: String,
    /// Duration in milliseconds.
    pub duration_ms: f64,
    /// `ok`, `error` or `timeout`.
    pub status: String,
    /// The error message, if any was sent.
    pub error_message: Option<String>,
    /// Whether the stored copy is a provisional root copy (`staso.provisional_root`).
    pub provisional: bool,
    /// The trace's `environment` (from the batch that brought the stored copy).
    pub environment: String,
    /// The trace's `workspace_slug` (from the batch that brought the stored copy).
    pub workspace_slug: String,
    /// How many copies of this span were received in stored batches (provisional ones
    /// included; a retried batch with a known Idempotency-Key is not counted again).
    pub copies_received: u64,
    /// How many final (non-provisional) copies were received: 1 when delivered exactly once.
    pub final_copies_received: u64,
    /// The stored span object exactly as sent (without `trace_id`, as on the wire).
    pub raw: Value,
}

impl StoredSpan {
    /// A field of the span object as sent, e.g. `span.field("agent_name")`.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.raw.get(name)
    }

    /// A string field of the span object as sent ("" when absent or not a string).
    pub fn str_field(&self, name: &str) -> &str {
        self.field(name).and_then(Value::as_str).unwrap_or("")
    }

    /// The span object as sent, plus its trace's `trace_id`, `environment` and
    /// `workspace_slug`: one flat JSON object per span.
    pub fn to_value(&self) -> Value {
        let mut v = self.raw.clone();
        if let Some(o) = v.as_object_mut() {
            o.insert("trace_id".into(), Value::from(self.trace_id.as_str()));
            o.insert("environment".into(), Value::from(self.environment.as_str()));
            o.insert(
                "workspace_slug".into(),
                Value::from(self.workspace_slug.as_str()),
            );
        }
        v
    }

    /// The `attributes` string parsed as a JSON object.
    pub fn attributes(&self) -> serde_json::Map<String, Value> {
        parse_json_field(self.str_field("attributes"))
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default()
    }

    /// The `input` string parsed as JSON (`None` when `""`).
    pub fn input(&self) -> Option<Value> {
        parse_json_field(self.str_field("input"))
    }

    /// The `output` string parsed as JSON (`None` when `""`).
    pub fn output(&self) -> Option<Value> {
        parse_json_field(self.str_field("output"))
    }
}

fn parse_json_field(s: &str) -> Option<Value> {
    if s.is_empty() {
        None
    } else {
        crate::formats::parse_embedded_json(s)
    }
}

/// A stored trace and its spans, ordered by start time.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTrace {
    /// Trace id.
    pub trace_id: String,
    /// Earliest span timestamp seen for this trace.
    pub timestamp: String,
    /// `environment` of the latest batch carrying this trace.
    pub environment: String,
    /// `workspace_slug` of the latest batch carrying this trace.
    pub workspace_slug: String,
    /// The spans.
    pub spans: Vec<StoredSpan>,
}

/// A stored annotation.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnnotation {
    /// The trace id from the request path.
    pub trace_id: String,
    /// The request body as sent.
    pub body: Value,
}

/// The copies received of one stored span (see [`crate::Spans::copies`]).
///
/// Ids are the 32 hex digits of the id read as one number: see [`crate::id_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanCopies {
    /// The trace id, as a number.
    pub trace_id: u128,
    /// The span id, as a number.
    pub span_id: u128,
    /// Copies received in stored batches, provisional ones included.
    pub copies: u32,
    /// Final (non-provisional) copies received: 1 when delivered exactly once.
    pub final_copies: u32,
    /// Whether the stored copy is a provisional root copy (no final copy received yet).
    pub provisional: bool,
}
