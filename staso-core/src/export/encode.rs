//! From records to the request body of the contract: coalesce copies of a span, group by
//! trace, apply the capture policy, write the JSON into a reused buffer.
//!
//! Captured values arrive encoded already (JSON text, redacted, masked and bounded on the
//! caller's thread, see `local::capture`): they are copied into the body as strings and
//! never parsed or walked here. The capture policy is applied again, so that what leaves
//! is what the policy allows even for values set before a field was suppressed.
//!
//! The body is written field by field, straight into the buffer: ids, timestamps and
//! numbers without `fmt`, what the configuration decides once per batch, the `attributes`
//! text escaped as it is written (it travels as a string) and once per call site for the
//! spans that only have their call site's. Serializing a struct of owned `String`s and a
//! `serde_json` map per span cost the batcher about half its time in allocation, `fmt`
//! and map building (issue 13, target 2).

use super::attributes::{callsite_attrs, Attr, Attrs};
use crate::config::Config;
use crate::local::capture;
use crate::local::clock;
use crate::local::record::{CallSite, Field, Llm, SpanRecord};
use rustc_hash::FxHashMap;
use serde_json::Value;
use staso_types::{CapturePolicy, Kind, Status};
use std::borrow::Cow;

/// Keeps one copy per (trace, span): the newest, except that a provisional copy never
/// replaces a final one. Order is that of first appearance.
pub(crate) fn coalesce<'a>(
    records: impl IntoIterator<Item = &'a SpanRecord>,
) -> Vec<&'a SpanRecord> {
    let records = records.into_iter();
    let n = records.size_hint().0;
    let mut out: Vec<&SpanRecord> = Vec::with_capacity(n);
    let mut pos: FxHashMap<(u128, u64), usize> =
        FxHashMap::with_capacity_and_hasher(n, Default::default());
    for r in records {
        let key = (r.trace_id.to_u128(), r.span_id.to_u64());
        match pos.get(&key) {
            None => {
                pos.insert(key, out.len());
                out.push(r);
            }
            Some(&i) => {
                if !r.provisional || out[i].provisional {
                    out[i] = r;
                }
            }
        }
    }
    out
}

/// Writes a batch into `buf` (cleared first); returns the number of traces in it.
pub(crate) fn encode_batch<'a>(
    records: impl IntoIterator<Item = &'a SpanRecord>,
    cfg: &Config,
    buf: &mut Vec<u8>,
) -> usize {
    let spans = coalesce(records);
    // By trace, in the order of their first span. A batch's spans mostly come a trace at
    // a time: one like the last goes to its group without a lookup.
    let mut groups: Vec<(u128, Vec<&SpanRecord>)> = Vec::new();
    let mut group_of: FxHashMap<u128, usize> = FxHashMap::default();
    let mut last: Option<(u128, usize)> = None;
    for r in spans {
        let t = r.trace_id.to_u128();
        let g = match last {
            Some((lt, g)) if lt == t => g,
            _ => *group_of.entry(t).or_insert_with(|| {
                groups.push((t, Vec::new()));
                groups.len() - 1
            }),
        };
        last = Some((t, g));
        groups[g].1.push(r);
    }
    buf.clear();
    // Written as text: an empty `Vec` is valid UTF-8 at no cost, and its capacity is kept.
    let mut out = String::from_utf8(std::mem::take(buf)).unwrap_or_default();
    let mut w = SpanWriter::new(cfg);
    out.push_str("{\"traces\":[");
    for (i, (t, group)) in groups.iter().enumerate() {
        let earliest = group.iter().map(|r| r.start).min().unwrap_or_default();
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"trace_id\":\"");
        push_uuid(&mut out, *t);
        out.push_str("\",\"timestamp\":\"");
        clock::write_iso8601(&mut out, earliest);
        out.push_str("\",\"environment\":");
        push_str_json(&mut out, &cfg.environment);
        out.push_str(",\"workspace_slug\":");
        push_str_json(&mut out, &cfg.workspace_slug);
        out.push_str(",\"spans\":[");
        for (j, r) in group.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            w.write(&mut out, r);
        }
        out.push_str("]}");
    }
    out.push_str("]}");
    *buf = out.into_bytes();
    groups.len()
}

/// Writes spans of one configuration: what is the same for every span (the `capture`
/// object, the configuration's ids) is written once, and so are the `attributes` of each
/// call site's plain spans.
struct SpanWriter<'c> {
    cfg: &'c Config,
    fixed: Fixed,
    /// The `attributes` string (escaped, quoted) of a span that has only what its call
    /// site gives it, by the call site's address (0 for none): most spans of a batch.
    by_callsite: FxHashMap<usize, String>,
    /// The text of plain spans outside a conversation around their ids, timestamp and
    /// duration, by call site (see [`Plain`]): an agent's spans alternate between call
    /// sites, and one kept text for the last span only was rebuilt at every change.
    plain: FxHashMap<usize, Plain>,
    /// Whether plain spans take [`Plain`] (off in tests, to compare with the general path).
    fast: bool,
}

/// A plain span (only its call site's attributes, not a root, not provisional) outside a
/// conversation is, but for its ids, timestamp and duration, text that its call site,
/// kind, status, name and agent decide: written once per call site and batch, and copied
/// while its spans share them (a batch's spans come from a few call sites). Escaping the
/// name and the agent and a dozen separate writes were a third of a plain span's encoding.
struct Plain {
    kind: Kind,
    status: Status,
    name: String,
    agent: String,
    /// From `,"name":` to the opening quote of `timestamp`'s value.
    head: String,
    /// From `,"status":` to the span's closing brace.
    tail: String,
}

impl Plain {
    /// Span `r` of this call site, appended to `out`.
    fn write(&self, out: &mut String, r: &SpanRecord) {
        out.push_str("{\"span_id\":");
        push_uuid_json(out, u128::from(r.span_id.to_u64()));
        out.push_str(",\"parent_span_id\":");
        match r.parent {
            Some(p) => push_uuid_json(out, u128::from(p.to_u64())),
            None => out.push_str("null"),
        }
        out.push_str(&self.head);
        clock::write_iso8601(out, r.start);
        out.push_str("\",\"duration_ms\":");
        push_f64(out, clock::duration_ms(r.start, r.end));
        out.push_str(&self.tail);
    }
}

impl<'c> SpanWriter<'c> {
    fn new(cfg: &'c Config) -> Self {
        SpanWriter {
            cfg,
            fixed: Fixed::new(cfg),
            by_callsite: FxHashMap::default(),
            plain: FxHashMap::default(),
            fast: true,
        }
    }

    /// A plain span outside a conversation (see [`Plain`]), appended to `out`.
    fn write_plain(&mut self, out: &mut String, r: &SpanRecord) {
        let callsite = callsite_key(r.callsite);
        let agent = r
            .agent
            .as_ref()
            .map_or(self.cfg.agent_name.as_str(), |a| a.as_str());
        let kept = self.plain.get(&callsite).filter(|p| {
            p.kind == r.kind
                && p.status == r.status
                && p.name == r.name.as_str()
                && p.agent == agent
        });
        if let Some(p) = kept {
            return p.write(out, r);
        }
        // Written again in the call site's strings (a renamed span, a changed status).
        let mut p = self.plain.remove(&callsite).unwrap_or_else(|| Plain {
            kind: r.kind,
            status: r.status,
            name: String::new(),
            agent: String::new(),
            head: String::new(),
            tail: String::new(),
        });
        (p.kind, p.status) = (r.kind, r.status);
        for (s, text) in [(&mut p.name, r.name.as_str()), (&mut p.agent, agent)] {
            s.clear();
            s.push_str(text);
        }
        p.head.clear();
        write_head(&mut p.head, r, &self.cfg.capture);
        p.tail.clear();
        self.write_tail(&mut p.tail, r, &Llm::EMPTY, (None, None), None, None);
        p.write(out, r);
        self.plain.insert(callsite, p);
    }

    /// The `attributes` of a span whose attributes all come from its call site (see
    /// [`callsite_attrs`]), written once per call site and batch.
    fn callsite_attributes(&mut self, cs: Option<&'static CallSite>) -> &str {
        let policy = &self.cfg.capture;
        self.by_callsite.entry(callsite_key(cs)).or_insert_with(|| {
            let mut text = String::new();
            callsite_attrs(cs).write_as_string(&mut text, policy);
            text
        })
    }

    /// One span in the contract's form (without `trace_id`), appended to `out`.
    fn write(&mut self, out: &mut String, r: &SpanRecord) {
        let cfg = self.cfg;
        let policy = &cfg.capture;
        static NO_LLM: Llm = Llm::EMPTY;
        let extras = r.extras.as_deref();
        let llm = extras.map_or(&NO_LLM, |e| &e.llm);
        // A span with nothing captured, not a root and not a provisional copy has only the
        // attributes of its call site.
        let plain = extras.is_none() && r.parent.is_some() && !r.provisional;
        if plain && r.conversation.is_none() && self.fast {
            return self.write_plain(out, r);
        }
        let mut attrs = if plain {
            Attrs::default()
        } else {
            callsite_attrs(r.callsite)
        };

        // Sent only when allowed and not "nothing" (the reference client sends `""` for
        // those).
        fn doc(d: Option<&str>, allowed: bool) -> Option<&str> {
            d.filter(|d| allowed && !is_empty(d))
        }
        // An LLM call recorded through `llm` was filtered per category while it was read:
        // its input and output are sent whatever the categories (the contract's §10).
        let input = doc(
            extras.and_then(|e| e.input()),
            policy.allows_input(r.kind) || llm.prefiltered,
        );
        let output = doc(
            extras.and_then(|e| e.output()),
            policy.output || llm.prefiltered,
        );
        let mut error_message = None;
        let mut sdk_error_cut = None;
        if policy.allows_error_message() {
            if let Some(e) = extras {
                error_message = match &e.error_message {
                    Some(raw) => {
                        let (text, cut) = capture::clean_sdk_text(raw, cfg, "error_message");
                        sdk_error_cut = cut;
                        Some(text)
                    }
                    None => e.error_text().map(Cow::Borrowed),
                };
            }
        }

        if let Some(e) = extras.filter(|e| e.tags().next().is_some()) {
            let mut tags: Vec<&str> = r.callsite.map(|c| c.tags.to_vec()).unwrap_or_default();
            tags.extend(e.tags());
            attrs.insert("tags", Attr::Strs(tags));
        }
        if let Some(e) = extras {
            for (k, v, cut) in e.metadata() {
                attrs.insert(k, Attr::Json(v));
                if let Some(n) = cut {
                    attrs.insert(format!("staso.truncated.metadata.{k}"), Attr::Int(n as u64));
                }
            }
            if let Some(t) = &e.exception_type {
                attrs.insert("exception.type", Attr::Str(t));
            }
        }
        if r.parent.is_none() {
            if let Some(g) = &cfg.git {
                attrs.insert("vcs.commit.sha", Attr::Str(&g.commit_sha));
                attrs.insert("vcs.branch", Attr::Str(&g.branch));
                attrs.insert("vcs.repo_url", Attr::Str(&g.repo_url));
                attrs.insert("vcs.is_dirty", Attr::Bool(g.is_dirty));
            }
        }
        if r.provisional {
            attrs.insert("staso.provisional_root", Attr::Bool(true));
        }
        // The size of a cut field, for the fields that are sent.
        let sent = |f: Field| match f {
            Field::Input => input.is_some(),
            Field::Output => output.is_some(),
            Field::ErrorMessage => error_message.is_some(),
            Field::Name => policy.allows_name(r.kind),
            Field::Tags => policy.allows_attribute("tags"),
        };
        let sdk_error = extras.is_some_and(|e| e.error_message.is_some());
        for (f, n) in extras.into_iter().flat_map(|e| e.truncated()) {
            // A captured message replaced by the SDK's own is not sent, nor is its size.
            if sent(f) && !(f == Field::ErrorMessage && sdk_error) {
                attrs.insert(f.attribute(), Attr::Int(n as u64));
            }
        }
        if let Some(n) = sdk_error_cut {
            attrs.insert(Field::ErrorMessage.attribute(), Attr::Int(n as u64));
        }

        out.push_str("{\"span_id\":");
        match extras.and_then(|e| e.wire_span_id.as_ref()) {
            Some(id) => push_str_json(out, id),
            None => push_uuid_json(out, u128::from(r.span_id.to_u64())),
        }
        out.push_str(",\"parent_span_id\":");
        match r.parent {
            Some(p) => push_uuid_json(out, u128::from(p.to_u64())),
            None => out.push_str("null"),
        }
        write_head(out, r, policy);
        clock::write_iso8601(out, r.start);
        out.push_str("\",\"duration_ms\":");
        push_f64(
            out,
            if r.provisional {
                0.0
            } else {
                clock::duration_ms(r.start, r.end)
            },
        );
        let attrs = (!plain).then_some(attrs);
        self.write_tail(
            out,
            r,
            llm,
            (input, output),
            attrs,
            error_message.as_deref(),
        );
    }

    /// A span's JSON from `,"status":` to its closing brace: `attrs` `None` for a plain
    /// span's (its call site's).
    fn write_tail(
        &mut self,
        out: &mut String,
        r: &SpanRecord,
        llm: &Llm,
        (input, output): (Option<&str>, Option<&str>),
        attrs: Option<Attrs<'_>>,
        error_message: Option<&str>,
    ) {
        let cfg = self.cfg;
        let conv = r.conversation.as_deref();
        out.push_str(",\"status\":\"");
        out.push_str(r.status.as_str());
        out.push('"');
        if !r.provisional && r.kind != Kind::Llm && llm.is_empty() {
            out.push_str(NOT_LLM);
        } else {
            write_llm_fields(out, r, llm);
        }
        match (input, output) {
            (None, None) => out.push_str(NOTHING_CAPTURED),
            _ => {
                out.push_str(",\"input\":");
                push_str_json(out, input.unwrap_or(""));
                out.push_str(",\"output\":");
                push_str_json(out, output.unwrap_or(""));
            }
        }
        out.push_str(",\"attributes\":");
        match attrs {
            None => out.push_str(self.callsite_attributes(r.callsite)),
            Some(attrs) => attrs.write_as_string(out, &cfg.capture),
        }
        out.push_str(",\"error_message\":");
        match error_message {
            Some(m) => push_str_json(out, m),
            None => out.push_str("null"),
        }
        out.push_str(&self.fixed.capture_then_session);
        match conv {
            Some(c) => push_str_json(out, &c.session_id),
            None => out.push_str(&self.fixed.session),
        }
        out.push_str(",\"agent_name\":");
        push_str_json(
            out,
            r.agent
                .as_ref()
                .map(|a| a.as_str())
                .unwrap_or(&cfg.agent_name),
        );
        out.push_str(&self.fixed.ids_then_user);
        push_str_json(out, conv.and_then(|c| c.user_id.as_deref()).unwrap_or(""));
        out.push('}');
    }
}

/// What the per-batch caches key a call site by: its address (0 for none).
fn callsite_key(cs: Option<&'static CallSite>) -> usize {
    cs.map_or(0, |c| std::ptr::from_ref(c) as usize)
}

/// A span's JSON from `,"name":` to the opening quote of its `timestamp`'s value.
fn write_head(out: &mut String, r: &SpanRecord, policy: &CapturePolicy) {
    let kind = r.kind.as_str();
    out.push_str(",\"name\":");
    if policy.allows_name(r.kind) {
        push_str_json(out, r.name.as_str());
    } else {
        out.push('"');
        out.push_str(kind);
        out.push_str(" span\"");
    }
    out.push_str(",\"kind\":\"");
    out.push_str(kind);
    out.push_str("\",\"timestamp\":\"");
}

/// The parts of a span's JSON that only the configuration decides, written (escaped) once
/// per batch.
struct Fixed {
    /// `,"capture":{…},"session_id":`
    capture_then_session: String,
    /// The session of spans outside a conversation, as a JSON string.
    session: String,
    /// `,"agent_id":"…","agent_version":"…","user_id":`
    ids_then_user: String,
}

impl Fixed {
    fn new(cfg: &Config) -> Fixed {
        let mut capture_then_session = String::from(",\"capture\":{");
        for (i, (k, v)) in cfg.capture.wire().iter().enumerate() {
            if i > 0 {
                capture_then_session.push(',');
            }
            push_str_json(&mut capture_then_session, k);
            capture_then_session.push(':');
            push_str_json(&mut capture_then_session, v);
        }
        capture_then_session.push_str("},\"session_id\":");
        let mut session = String::new();
        push_str_json(&mut session, &cfg.session_id);
        let mut ids_then_user = String::from(",\"agent_id\":");
        push_str_json(&mut ids_then_user, &cfg.agent_id);
        ids_then_user.push_str(",\"agent_version\":");
        push_str_json(&mut ids_then_user, &cfg.agent_version);
        ids_then_user.push_str(",\"user_id\":");
        Fixed {
            capture_then_session,
            session,
            ids_then_user,
        }
    }
}

/// The LLM fields of a span that is not an LLM call and has none (most spans), as
/// [`write_llm_fields`] writes them: one copy instead of a dozen writes.
const NOT_LLM: &str = ",\"model\":\"\",\"provider\":\"\",\"requested_model\":\"\",\"usage_available\":null,\"reasoning_effort\":\"\",\"input_tokens\":0,\"output_tokens\":0,\"total_tokens\":0";

/// `input` and `output` of a span that captured neither.
const NOTHING_CAPTURED: &str = ",\"input\":\"\",\"output\":\"\"";

/// From `,"model":` to the value of `total_tokens`.
fn write_llm_fields(out: &mut String, r: &SpanRecord, llm: &crate::local::record::Llm) {
    out.push_str(",\"model\":");
    push_str_json(out, &llm.model);
    out.push_str(",\"provider\":");
    push_str_json(out, &llm.provider);
    out.push_str(",\"requested_model\":");
    push_str_json(out, &llm.requested_model);
    out.push_str(",\"usage_available\":");
    out.push_str(if r.provisional {
        "false"
    } else if r.kind == Kind::Llm {
        if llm.usage_available {
            "true"
        } else {
            "false"
        }
    } else {
        "null"
    });
    out.push_str(",\"reasoning_effort\":");
    push_str_json(out, &llm.reasoning_effort);
    let mut n = itoa::Buffer::new();
    out.push_str(",\"input_tokens\":");
    out.push_str(n.format(llm.input_tokens));
    out.push_str(",\"output_tokens\":");
    out.push_str(n.format(llm.output_tokens));
    out.push_str(",\"total_tokens\":");
    out.push_str(n.format(llm.total_tokens));
}

/// 128 bits as a quoted `8-4-4-4-12` lowercase hex string (the contract's id form).
fn push_uuid_json(out: &mut String, v: u128) {
    let mut b = *b"\"00000000-0000-0000-0000-000000000000\"";
    write_uuid(&mut b[1..37], v);
    out.push_str(crate::local::capture::ascii_str(&b));
}

/// 128 bits as `8-4-4-4-12` lowercase hex.
fn push_uuid(out: &mut String, v: u128) {
    let mut b = *b"00000000-0000-0000-0000-000000000000";
    write_uuid(&mut b, v);
    out.push_str(crate::local::capture::ascii_str(&b));
}

/// Writes the hex digits of `v` into a `8-4-4-4-12` template (36 bytes, hyphens in
/// place), a byte's two digits at a time. Two or three ids a span: through the `uuid`
/// crate's byte-at-a-time encoder and three pushes, they were a sixth of the encoding.
fn write_uuid(to: &mut [u8], v: u128) {
    /// Where each byte's two digits go in the template.
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    static PAIRS: [[u8; 2]; 256] = {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut t = [[0u8; 2]; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = [DIGITS[i >> 4], DIGITS[i & 15]];
            i += 1;
        }
        t
    };
    for (at, byte) in AT.iter().zip(v.to_be_bytes()) {
        to[*at..*at + 2].copy_from_slice(&PAIRS[usize::from(byte)]);
    }
}

/// A number as `serde_json` writes an `f64` (shortest round-trip form; `null` when not
/// finite).
fn push_f64(out: &mut String, v: f64) {
    if v.is_finite() {
        out.push_str(ryu::Buffer::new().format_finite(v));
    } else {
        out.push_str("null");
    }
}

fn push_str_json(out: &mut String, s: &str) {
    // Most of a span's LLM fields are empty.
    if s.is_empty() {
        out.push_str("\"\"");
        return;
    }
    out.push('"');
    capture::escape_into(out, s);
    out.push('"');
}

/// Whether a captured document is "nothing": `null`, `""`, `{}` or `[]`.
fn is_empty(doc: &str) -> bool {
    matches!(doc, "null" | "\"\"" | "{}" | "[]")
}

/// A span with its trace-level fields, as the tests of users see it: what
/// [`encode_batch`] writes for it, read back.
pub(crate) fn span_json(r: &SpanRecord, cfg: &Config) -> Value {
    let mut out = String::new();
    SpanWriter::new(cfg).write(&mut out, r);
    let mut v = serde_json::from_str(&out).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("trace_id".into(), r.trace_id.to_string().into());
        m.insert("environment".into(), cfg.environment.clone().into());
        m.insert("workspace_slug".into(), cfg.workspace_slug.clone().into());
    }
    v
}

#[cfg(test)]
mod tests;
