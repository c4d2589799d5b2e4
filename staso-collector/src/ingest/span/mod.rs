//! The span object of an ingest body: the contract's span fields (in wire order, the
//! usual key order tried first), each one's type and value rules, the `capture` map,
//! and the checks of the JSON documents embedded in `input`, `output` and `attributes`.
//! Apart from the envelope ([`super`]) because it is most of the contract and of the work.

use super::embedded::{self, Doc};
use super::{refuse, Parser, SpanIn, Stop};
use crate::contract::{join, key_name, CAPTURE_CATEGORIES, KINDS, STATUSES};
use crate::formats::{
    check_duration, is_lower_uuid, lower_uuid_u128, parse_embedded_json, parse_timestamp,
};
use crate::json::{Num, RawStr, Reader, Syntax};
use crate::scan::{member_keys, uuid_u128, Pattern};
use serde_json::Value;
use std::borrow::Cow;

mod runs;
use runs::{runs_enabled, RUNS, RUN_STARTS, TAIL};
#[cfg(test)]
pub(super) use runs::{RUNS_EATEN, RUNS_OFF};

/// The span fields the contract requires, in wire order: a missing one is named in
/// this order.
pub(super) const SPAN_FIELDS: [&str; 25] = [
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "timestamp",
    "duration_ms",
    "status",
    "model",
    "provider",
    "requested_model",
    "usage_available",
    "reasoning_effort",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "input",
    "output",
    "attributes",
    "error_message",
    "capture",
    "session_id",
    "agent_name",
    "agent_id",
    "agent_version",
    "user_id",
];
/// [`SPAN_FIELDS`] with their quotes, for the fast path of keys in the usual order.
const QUOTED_SPAN_FIELDS: [&[u8]; 25] = [
    b"\"span_id\"",
    b"\"parent_span_id\"",
    b"\"name\"",
    b"\"kind\"",
    b"\"timestamp\"",
    b"\"duration_ms\"",
    b"\"status\"",
    b"\"model\"",
    b"\"provider\"",
    b"\"requested_model\"",
    b"\"usage_available\"",
    b"\"reasoning_effort\"",
    b"\"input_tokens\"",
    b"\"output_tokens\"",
    b"\"total_tokens\"",
    b"\"input\"",
    b"\"output\"",
    b"\"attributes\"",
    b"\"error_message\"",
    b"\"capture\"",
    b"\"session_id\"",
    b"\"agent_name\"",
    b"\"agent_id\"",
    b"\"agent_version\"",
    b"\"user_id\"",
];
/// [`SPAN_FIELDS`] as they follow another member in compact JSON, for the fastest path.
const SPAN_KEYS: [Pattern; 25] = member_keys(SPAN_FIELDS);
const ALL_SPAN_FIELDS: u32 = (1 << SPAN_FIELDS.len()) - 1;
// Indices in SPAN_FIELDS of the fields read apart.
const SPAN_ID: usize = 0;
const PARENT_SPAN_ID: usize = 1;
const NAME: usize = 2;
const KIND: usize = 3;
const TIMESTAMP: usize = 4;
const DURATION_MS: usize = 5;
const STATUS: usize = 6;
const MODEL: usize = 7;
const USAGE_AVAILABLE: usize = 10;
const INPUT_TOKENS: usize = 12;
const TOTAL_TOKENS: usize = 14;
const INPUT: usize = 15;
const OUTPUT: usize = 16;
const ATTRIBUTES: usize = 17;
const ERROR_MESSAGE: usize = 18;
const CAPTURE: usize = 19;
const AGENT_ID: usize = 22;
const AGENT_VERSION: usize = 23;
const USER_ID: usize = 24;

/// The index in [`SPAN_FIELDS`] of a key; `guess` first (fields usually come in order).
fn span_field(key: RawStr<'_>, guess: usize) -> Option<usize> {
    if SPAN_FIELDS.get(guess).is_some_and(|f| key.is(f)) {
        return Some(guess);
    }
    SPAN_FIELDS.iter().position(|f| key.is(f))
}

impl<'a> Parser<'a> {
    /// One span, at `traces[trace].spans[index]`.
    #[allow(clippy::too_many_lines)]
    pub(super) fn span(&mut self, trace: usize, index: usize) -> Result<SpanIn<'a>, Stop> {
        let field = |name: &str| format!("traces[{trace}].spans[{index}].{name}");
        let start = self.r.offset();
        if !self.r.eat(b'{') {
            return refuse(
                format!("traces[{trace}].spans[{index}]"),
                "expected an object",
            );
        }
        let mut out = SpanIn {
            span_id: Cow::Borrowed(""),
            id: 0,
            parent_span_id: None,
            name: Cow::Borrowed(""),
            kind: "",
            timestamp: Cow::Borrowed(""),
            nanos: 0,
            duration_ms: 0.0,
            status: "",
            error_message: None,
            provisional: false,
            raw: Cow::Borrowed(""),
        };
        let mut provisional_flag = false;
        let mut seen = 0u32;
        let mut next = 0;
        let mut first = true;
        // Where this span's tail starts (`usize::MAX`: not in the shape to be reused),
        // and where the last value read ends.
        let mut tail_start = usize::MAX;
        let mut value_end;
        loop {
            value_end = self.r.pos();
            // A run of fields the SDKs write alike on most spans, eaten at once.
            if RUN_STARTS & (1 << next) != 0 && !first && runs_enabled() {
                if next == ERROR_MESSAGE && seen == ALL_SPAN_FIELDS & !TAIL {
                    // (`filter`, not `is_some_and`: ~50 instructions a span fewer.)
                    let tail = self.last_tail.filter(|t| self.r.eat_run(t, t.len()));
                    if tail.is_some() {
                        #[cfg(test)]
                        RUNS_EATEN.with(|n| n.set(n.get() + 1));
                        seen = ALL_SPAN_FIELDS;
                        next = SPAN_FIELDS.len();
                        continue;
                    }
                    tail_start = value_end;
                }
                if let Some(run) = RUNS.iter().find(|r| {
                    r.from == next && seen & r.fields == 0 && self.r.eat_run(r.text, r.eat)
                }) {
                    #[cfg(test)]
                    RUNS_EATEN.with(|n| n.set(n.get() + 1));
                    seen |= run.fields;
                    next = run.to;
                    continue;
                }
            }
            // Fields usually come in the contract's order: try the expected key first.
            let expected = QUOTED_SPAN_FIELDS.get(next);
            let compact = !first && SPAN_KEYS.get(next).is_some_and(|k| self.r.eat_pattern(k));
            let f = if compact || expected.is_some_and(|q| self.r.eat_key(first, q)) {
                next
            } else {
                let key = self.r.key_at(first)?;
                let Some(k) = key else { break };
                let Some(f) = span_field(k, next) else {
                    if k.is("trace_id") {
                        return refuse(
                            field("trace_id"),
                            "spans must not repeat trace_id (it is given by the enclosing trace)",
                        );
                    }
                    return refuse(field(&key_name(&k.text())), "unknown field");
                };
                f
            };
            first = false;
            let name = SPAN_FIELDS[f];
            if seen & (1 << f) != 0 {
                return refuse(field(name), "repeated field");
            }
            seen |= 1 << f;
            next = f + 1;
            // Refuses this field with a message.
            macro_rules! refuse {
                ($msg:expr $(,)?) => {
                    return refuse(field(name), $msg)
                };
            }
            match f {
                // Ids and timestamps as the SDKs write them, read in place.
                SPAN_ID | TIMESTAMP if self.fixed_field(f, &mut out) => {}
                SPAN_ID if self.r.peek() == Some(b'"') => {
                    let v = match self.r.eat_plain_string(36) {
                        Some(v) => Cow::Borrowed(v),
                        None => self.r.string()?.text(),
                    };
                    let Some(id) = lower_uuid_u128(&v) else {
                        refuse!("expected a lowercase hyphenated UUID shape (e.g. 00000000-0000-0000-xxxx-xxxxxxxxxxxx)");
                    };
                    out.id = id;
                    out.span_id = v;
                }
                SPAN_ID | NAME | TIMESTAMP => {
                    let Some(v) = self.string()? else {
                        refuse!("expected a string");
                    };
                    let v = v.text();
                    if f == NAME {
                        out.name = v;
                    } else if f == TIMESTAMP {
                        match parse_timestamp(&v) {
                            Ok(nanos) => out.nanos = nanos,
                            Err(e) => refuse!(e),
                        }
                        out.timestamp = v;
                    } else {
                        let Some(id) = lower_uuid_u128(&v) else {
                            refuse!("expected a lowercase hyphenated UUID shape (e.g. 00000000-0000-0000-xxxx-xxxxxxxxxxxx)");
                        };
                        out.id = id;
                        out.span_id = v;
                    }
                }
                PARENT_SPAN_ID if runs_enabled() && self.same_parent(&mut out) => {}
                PARENT_SPAN_ID => {
                    let at = self.r.pos();
                    if let Some((p, _)) = self.r.eat_fixed(36, uuid_u128) {
                        out.parent_span_id = Some(Cow::Borrowed(p));
                        self.last_parent = Some(self.r.slice(at, self.r.pos()).as_bytes());
                    } else if !self.null()? {
                        match self.string()?.map(RawStr::text) {
                            Some(p) if is_lower_uuid(&p) => out.parent_span_id = Some(p),
                            _ => refuse!("expected null or a lowercase hyphenated UUID shape"),
                        }
                    }
                }
                KIND | STATUS if runs_enabled() && self.known_value(f, &mut out) => {}
                KIND | STATUS => {
                    let allowed = if f == KIND { KINDS } else { STATUSES };
                    let Some(v) = self.string()? else {
                        refuse!("expected a string");
                    };
                    match allowed.iter().find(|a| v.is(a)) {
                        Some(a) if f == KIND => out.kind = a,
                        Some(a) => out.status = a,
                        None => refuse!(format!("expected one of {}", allowed.join(", "))),
                    }
                }
                DURATION_MS => {
                    let Some(n) = self.number()?.map(Num::as_f64) else {
                        refuse!("expected a number");
                    };
                    if let Err(e) = check_duration(n) {
                        refuse!(e);
                    }
                    out.duration_ms = n;
                }
                // Python SDK note: the contract says null on non-LLM spans, but
                // provisional root copies carry `false` whatever their kind (provider.py
                // `_emit`). Any bool or null is accepted, whatever the kind.
                USAGE_AVAILABLE => match self.r.peek() {
                    Some(b't') => self.r.literal(b"true")?,
                    Some(b'f') => self.r.literal(b"false")?,
                    Some(b'n') => self.r.literal(b"null")?,
                    _ => refuse!("expected a bool or null"),
                },
                INPUT_TOKENS..=TOTAL_TOKENS => {
                    if !matches!(self.number()?, Some(Num::UInt(_))) {
                        refuse!("expected a non-negative integer");
                    }
                }
                // The fast path takes any document the SDK writes (any JSON value).
                INPUT | OUTPUT if self.embedded(false).is_some() => {}
                INPUT | OUTPUT => {
                    let Some(v) = self.string()? else {
                        refuse!("expected a string");
                    };
                    let doc = self.document(v);
                    if !doc.is_empty() && !is_json(doc) {
                        refuse!("expected \"\" or a string holding a JSON document");
                    }
                }
                ATTRIBUTES => {
                    provisional_flag = match self.attributes() {
                        Some(Doc::Object { provisional }) => provisional,
                        _ => {
                            let Some(v) = self.string()? else {
                                refuse!("expected a string");
                            };
                            match provisional(self.document(v)) {
                                Some(flag) => flag,
                                None => refuse!(
                                    "expected a string holding a JSON object (\"{}\" when empty)"
                                ),
                            }
                        }
                    };
                }
                ERROR_MESSAGE => {
                    if !self.null()? {
                        let Some(e) = self.string()? else {
                            refuse!("expected a string or null");
                        };
                        out.error_message = Some(e.text());
                    }
                }
                // Python SDK note: `_spans_to_traces` copies `capture` only when the span
                // dict has one, but both of its span builders always set it: required.
                CAPTURE => self.capture(&|sub| field(&join("capture", sub)))?,
                // Python SDK note: agent_id is always a UUID v5 from `staso.init`; its
                // CLI-hook sender defaults it to "", which is accepted too.
                AGENT_ID if self.r.eat_fixed(36, uuid_v5).is_some() => {}
                AGENT_ID => {
                    let Some(id) = self.string()?.map(RawStr::text) else {
                        refuse!("expected a string");
                    };
                    if !(id.is_empty() || (is_lower_uuid(&id) && id.as_bytes()[14] == b'5')) {
                        refuse!("expected a lowercase UUID v5 (or \"\")");
                    }
                }
                // model, provider, requested_model, reasoning_effort, session_id,
                // agent_name, agent_version, user_id: any string.
                _ if self.r.eat_empty_string() => {}
                _ => {
                    if self.string()?.is_none() {
                        refuse!("expected a string");
                    }
                }
            }
        }
        if tail_start != usize::MAX && seen == ALL_SPAN_FIELDS && out.error_message.is_none() {
            self.last_tail = Some(self.r.slice(tail_start, value_end).as_bytes());
        }
        if seen != ALL_SPAN_FIELDS {
            let f = (0..SPAN_FIELDS.len())
                .find(|f| seen & (1 << f) == 0)
                .unwrap_or_default();
            return refuse(field(SPAN_FIELDS[f]), "missing field");
        }
        if out.parent_span_id.as_deref() == Some(&*out.span_id) {
            return refuse(field("parent_span_id"), "a span cannot be its own parent");
        }
        out.provisional = out.parent_span_id.is_none() && provisional_flag;
        if self.keep_raw {
            out.raw = Cow::Borrowed(self.r.slice(start, self.r.pos()));
        }
        Ok(out)
    }

    /// The fast path of `span_id` (a UUID shape) and `timestamp` (the SDKs' shape): when
    /// the value is that, it is read into `out` and consumed; else nothing is.
    #[inline]
    fn fixed_field(&mut self, f: usize, out: &mut SpanIn<'a>) -> bool {
        if f == SPAN_ID {
            if let Some((v, id)) = self.r.eat_fixed(36, uuid_u128) {
                out.id = id;
                out.span_id = Cow::Borrowed(v);
                return true;
            }
        } else if let Some((v, nanos)) = {
            let last = &mut self.last_second;
            self.r.eat_fixed(32, |b| last.timestamp(b))
        } {
            out.nanos = nanos;
            out.timestamp = Cow::Borrowed(v);
            return true;
        }
        false
    }

    /// The fast path of `parent_span_id` in a trace's spans, most of which have the same
    /// parent: when the value is the same bytes as the last parent id read (a string
    /// token of a UUID shape, quotes included), it is the same id.
    #[inline]
    fn same_parent(&mut self, out: &mut SpanIn<'a>) -> bool {
        let Some(token) = self.last_parent else {
            return false;
        };
        let at = self.r.pos();
        if !self.r.eat_run(token, token.len()) {
            return false;
        }
        out.parent_span_id = Some(Cow::Borrowed(self.r.slice(at + 1, self.r.pos() - 1)));
        #[cfg(test)]
        RUNS_EATEN.with(|n| n.set(n.get() + 1));
        true
    }

    /// The fast path of `kind` and `status`: one of their values, compact, is eaten
    /// and set in `out`; else nothing is consumed.
    #[inline]
    fn known_value(&mut self, f: usize, out: &mut SpanIn<'a>) -> bool {
        if f == KIND {
            if let Some(i) = KIND_VALUES.iter().position(|p| self.r.eat_pattern(p)) {
                out.kind = KINDS[i];
                return true;
            }
        } else if let Some(i) = STATUS_VALUES.iter().position(|p| self.r.eat_pattern(p)) {
            out.status = STATUSES[i];
            return true;
        }
        false
    }

    /// The fast path of a string holding an embedded document ([`embedded::check`]):
    /// what it holds when the fast path took it (then it is consumed), else nothing is.
    #[inline]
    fn embedded(&mut self, object_only: bool) -> Option<Doc> {
        if self.r.peek() != Some(b'"') {
            return None;
        }
        let (doc, end) = embedded::check(self.r.text(), self.r.pos(), object_only)?;
        self.r.set_pos(end);
        Some(doc)
    }

    /// The fast path of `attributes`: [`Self::embedded`] of an object, remembering the
    /// string token it took. A span from the same call site as the last one checked has
    /// the same bytes (the SDK writes one string per call site): that is the same check
    /// of the same bytes, whose result depends on nothing else (the token ends at its
    /// closing quote), so it is taken again at the cost of a comparison.
    #[inline]
    fn attributes(&mut self) -> Option<Doc> {
        if let Some((token, doc)) = self.last_attributes {
            if runs_enabled() && self.r.eat_run(token, token.len()) {
                #[cfg(test)]
                RUNS_EATEN.with(|n| n.set(n.get() + 1));
                return Some(doc);
            }
        }
        let start = self.r.pos();
        let doc = self.embedded(true)?;
        self.last_attributes = Some((self.r.slice(start, self.r.pos()).as_bytes(), doc));
        Some(doc)
    }

    /// The `capture` map: exactly the five categories, each `"captured"` or
    /// `"suppressed"`. `field` names a category's path (`""`: the map's).
    fn capture(&mut self, field: &dyn Fn(&str) -> String) -> Result<(), Stop> {
        if !self.r.eat(b'{') {
            return refuse(field(""), "expected an object");
        }
        const QUOTED: [&[u8]; 5] = [
            b"\"request\"",
            b"\"system_prompt\"",
            b"\"tool_schema\"",
            b"\"tool_arguments\"",
            b"\"output\"",
        ];
        let mut seen = 0u8;
        let mut next = 0;
        let mut first = true;
        loop {
            let compact = !first
                && CAPTURE_KEYS
                    .get(next)
                    .is_some_and(|k| self.r.eat_pattern(k));
            let i = if compact || QUOTED.get(next).is_some_and(|q| self.r.eat_key(first, q)) {
                next
            } else {
                let key = self.r.key_at(first)?;
                let Some(k) = key else { break };
                let Some(i) = CAPTURE_CATEGORIES.iter().position(|c| k.is(c)) else {
                    return refuse(field(&key_name(&k.text())), "unknown field");
                };
                i
            };
            first = false;
            next = i + 1;
            let name = CAPTURE_CATEGORIES[i];
            if seen & (1 << i) != 0 {
                return refuse(field(name), "repeated field");
            }
            seen |= 1 << i;
            let ok = self.r.eat_pattern(&CAPTURED)
                || self.r.eat_pattern(&SUPPRESSED)
                || match self.r.eat_plain_string(8) {
                    Some(v) => v == "captured",
                    None => self
                        .string()?
                        .is_some_and(|v| v.is("captured") || v.is("suppressed")),
                };
            if !ok {
                return refuse(field(name), "expected \"captured\" or \"suppressed\"");
            }
        }
        match (0..CAPTURE_CATEGORIES.len()).find(|i| seen & (1 << i) == 0) {
            Some(i) => refuse(field(CAPTURE_CATEGORIES[i]), "missing field"),
            None => Ok(()),
        }
    }
}

const CAPTURE_KEYS: [Pattern; 5] = member_keys([
    "request",
    "system_prompt",
    "tool_schema",
    "tool_arguments",
    "output",
]);
/// [`KINDS`] and [`STATUSES`] as string tokens (a test checks they are the same).
pub(super) const KIND_VALUES: [Pattern; 6] =
    quoted(["llm", "tool", "chain", "retriever", "agent", "custom"]);
pub(super) const STATUS_VALUES: [Pattern; 3] = quoted(["ok", "error", "timeout"]);

const fn quoted<const N: usize>(names: [&str; N]) -> [Pattern; N] {
    let mut out = [Pattern::new(&[]); N];
    let mut i = 0;
    while i < N {
        out[i] = Pattern::new(&[b"\"", names[i].as_bytes(), b"\""]);
        i += 1;
    }
    out
}

const CAPTURED: Pattern = Pattern::new(&[b"\"captured\""]);
const SUPPRESSED: Pattern = Pattern::new(&[b"\"suppressed\""]);

/// A lowercase UUID v5 as one number.
#[inline]
fn uuid_v5(b: &[u8]) -> Option<u128> {
    uuid_u128(b).filter(|_| b[14] == b'5')
}

/// Whether `s` holds one JSON document (Python's `NaN`/`Infinity` tokens allowed).
pub(super) fn is_json(s: &str) -> bool {
    let mut r = Reader::new(s);
    (r.skip().is_ok() && r.at_end()) || parse_embedded_json(s).is_some()
}

/// `Some(flag)` when `s` holds a JSON object (Python's `NaN`/`Infinity` tokens allowed);
/// the flag is its `staso.provisional_root` being `true` (the last one, if repeated).
pub(super) fn provisional(s: &str) -> Option<bool> {
    if let Ok(flag) = provisional_flag(s) {
        return Some(flag);
    }
    match parse_embedded_json(s)? {
        Value::Object(m) => Some(m.get("staso.provisional_root") == Some(&Value::Bool(true))),
        _ => None,
    }
}

fn provisional_flag(s: &str) -> Result<bool, Syntax> {
    let mut r = Reader::new(s);
    if !r.eat(b'{') {
        return Err(Syntax);
    }
    let mut flag = false;
    let mut key = r.first_key()?;
    while let Some(k) = key {
        if k.is("staso.provisional_root") {
            flag = r.peek() == Some(b't');
        }
        r.skip()?;
        key = r.next_key()?;
    }
    if r.at_end() {
        Ok(flag)
    } else {
        Err(Syntax)
    }
}
