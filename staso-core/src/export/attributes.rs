//! The `attributes` field: an object of code location, tool name, tags, metadata and
//! the SDK's own keys, sent as JSON text inside a JSON string (the contract's form), so
//! it is escaped twice as it is written. Apart from the span's other fields because it is
//! the one field built as a map (a later value replaces an earlier one) and cached per
//! call site by the encoder.

use crate::local::capture;
use crate::local::record::CallSite;
use staso_types::{CapturePolicy, Kind};
use std::borrow::Cow;

/// The attributes a span has from its call site: code location, tool name, tags.
pub(super) fn callsite_attrs(cs: Option<&'static CallSite>) -> Attrs<'static> {
    // Room for what a span usually has: one allocation, not one per doubling.
    let mut attrs = Attrs {
        entries: Vec::with_capacity(8),
    };
    if let Some(cs) = cs {
        attrs.insert("code.filepath", Attr::Str(cs.file));
        attrs.insert("code.lineno", Attr::Int(u64::from(cs.line)));
        attrs.insert("code.function", Attr::Str(cs.function));
        if cs.kind == Kind::Tool {
            attrs.insert("tool_name", Attr::Str(cs.name));
        }
        if !cs.tags.is_empty() {
            attrs.insert("tags", Attr::Strs(cs.tags.to_vec()));
        }
    }
    attrs
}

/// An attribute's value, in the contract's `attributes` and in OTLP's (`fields::Value`).
/// Metadata values are JSON text already (`Json`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Attr<'a> {
    Str(&'a str),
    Int(u64),
    Bool(bool),
    /// A JSON document (metadata values).
    Json(&'a str),
    Strs(Vec<&'a str>),
}

/// The `attributes` object: a later value for a key replaces an earlier one; written with
/// its keys in order (as a JSON map would be).
#[derive(Default)]
pub(super) struct Attrs<'a> {
    entries: Vec<(Cow<'a, str>, Attr<'a>)>,
}

impl<'a> Attrs<'a> {
    pub(super) fn insert(&mut self, key: impl Into<Cow<'a, str>>, value: Attr<'a>) {
        let key = key.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(e) => e.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// The object as the contract sends it: its JSON text as a JSON string, written
    /// escaped straight into `out`. Building the text and then escaping it copied the
    /// text twice, in a dozen small pieces around its quotes.
    pub(super) fn write_as_string(mut self, out: &mut String, policy: &CapturePolicy) {
        self.entries.retain(|(k, _)| policy.allows_attribute(k));
        self.entries.sort_by(|a, b| a.0.cmp(&b.0));
        out.push_str("\"{");
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_inner_str(out, k);
            out.push(':');
            match v {
                Attr::Str(s) => push_inner_str(out, s),
                Attr::Int(n) => out.push_str(itoa::Buffer::new().format(*n)),
                Attr::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                // JSON text already: escaped once, as the inside of the outer string.
                Attr::Json(j) => capture::escape_into(out, j),
                Attr::Strs(ts) => {
                    out.push('[');
                    for (i, t) in ts.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        push_inner_str(out, t);
                    }
                    out.push(']');
                }
            }
        }
        out.push_str("}\"");
    }
}

/// A string inside JSON text that is itself inside a JSON string: escaped for the inner
/// text, then again for the outer string. Most (keys, file paths, names) need neither.
fn push_inner_str(out: &mut String, s: &str) {
    out.push_str("\\\"");
    if capture::needs_escape(s) {
        let mut inner = String::with_capacity(s.len() + 8);
        capture::escape_into(&mut inner, s);
        capture::escape_into(out, &inner);
    } else {
        out.push_str(s);
    }
    out.push_str("\\\"");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// The `attributes` string, escaped as it is written, reads back (outer string, then
    /// inner JSON text) as the object it stands for, whatever its texts hold.
    #[test]
    fn attributes_escaped_in_one_pass_read_back_as_the_object() {
        let odd = "a\"b\\c\nd\u{1}é😀";
        // Room for what a span usually has (its code location, a tool name, a few more):
        // one allocation, not one per doubling.
        let mut attrs = Attrs::default();
        attrs.insert("code.filepath", Attr::Str(odd));
        attrs.insert("code.lineno", Attr::Int(42));
        attrs.insert("plain", Attr::Str("src/lib.rs"));
        attrs.insert("vcs.is_dirty", Attr::Bool(true));
        attrs.insert("meta", Attr::Json(r#"{"q":"say \"hi\"\\n","n":[1,2]}"#));
        attrs.insert("tags", Attr::Strs(vec!["t\"1", "plain"]));
        attrs.insert(odd.to_string(), Attr::Int(1));
        let mut out = String::from("x");
        attrs.write_as_string(&mut out, &staso_types::CapturePolicy::default());
        let text: String = serde_json::from_str(&out[1..]).expect("a JSON string");
        let v: Value = serde_json::from_str(&text).expect("JSON text inside");
        assert_eq!(
            v,
            json!({
                "code.filepath": odd,
                "code.lineno": 42,
                "plain": "src/lib.rs",
                "vcs.is_dirty": true,
                "meta": {"q": "say \"hi\"\\n", "n": [1, 2]},
                "tags": ["t\"1", "plain"],
                odd: 1,
            })
        );
    }
}
