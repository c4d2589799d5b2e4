//! The fast path of ingest validation: one typed pass over the request bytes, borrowing
//! strings instead of building a `serde_json::Value` tree, for the common case of a
//! valid body.
//!
//! It only ever accepts bodies that the field-by-field check in `validate` accepts too:
//! whatever it refuses (every invalid body, and the odd valid one it is too narrow for,
//! e.g. a duplicated key or a Python `NaN` inside `attributes`) goes to that check, which
//! decides and names the offending field. Together they accept exactly what `validate`
//! alone accepts, with the same errors.
//!
//! Objects are read as maps only (a derived struct would also take a JSON array), every
//! span field is required and typed, unknown fields are refused, and the embedded JSON
//! documents (`input`, `output`, `attributes`) are checked without being kept.

use crate::validate::{check_duration_value, SpanIn, TraceIn, KINDS, STATUSES};
use crate::wire::{is_lower_uuid, lower_uuid_u128, parse_embedded_json, parse_timestamp};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

/// Validates a raw ingest body; `None` when the field-by-field check must decide. With
/// `keep_raw`, each span's JSON text is kept in [`SpanIn::raw`] (else it is empty,
/// which saves a pass over the spans).
pub(crate) fn parse_ingest(bytes: &[u8], keep_raw: bool) -> Option<Vec<TraceIn<'_>>> {
    if keep_raw {
        parse::<&RawValue>(bytes)
    } else {
        parse::<Obj<Span<'_>>>(bytes)
    }
}

/// How a span of the body is read: as its JSON text then its fields, or fields only.
trait ReadSpan<'a> {
    fn read(self) -> Option<SpanIn<'a>>;
}

impl<'a> ReadSpan<'a> for &'a RawValue {
    fn read(self) -> Option<SpanIn<'a>> {
        let raw = self.get();
        let Obj(s) = serde_json::from_str::<Obj<Span<'_>>>(raw).ok()?;
        span(s, raw)
    }
}

impl<'a> ReadSpan<'a> for Obj<Span<'a>> {
    fn read(self) -> Option<SpanIn<'a>> {
        span(self.0, "")
    }
}

fn parse<'a, S>(bytes: &'a [u8]) -> Option<Vec<TraceIn<'a>>>
where
    S: Deserialize<'a> + ReadSpan<'a>,
{
    let Obj(body) = serde_json::from_slice::<Obj<Body<'_, S>>>(bytes).ok()?;
    if body.traces.is_empty() {
        return None;
    }
    let mut trace_ids = HashSet::with_capacity(body.traces.len());
    let mut span_ids = HashSet::new();
    let mut out = Vec::with_capacity(body.traces.len());
    for Obj(t) in body.traces {
        let id = lower_uuid_u128(&t.trace_id)?;
        if !trace_ids.insert(id) || t.environment.is_empty() || t.spans.is_empty() {
            return None;
        }
        let nanos = parse_timestamp(&t.timestamp).ok()?;
        span_ids.clear();
        let mut earliest = i128::MAX;
        let mut spans = Vec::with_capacity(t.spans.len());
        for raw in t.spans {
            let s = raw.read()?;
            if !span_ids.insert(s.id) {
                return None;
            }
            earliest = earliest.min(s.nanos);
            spans.push(s);
        }
        if earliest != nanos {
            return None;
        }
        out.push(TraceIn {
            trace_id: t.trace_id,
            id,
            timestamp: t.timestamp,
            nanos,
            environment: t.environment,
            workspace_slug: t.workspace_slug,
            spans,
        });
    }
    Some(out)
}

fn span<'a>(s: Span<'a>, raw: &'a str) -> Option<SpanIn<'a>> {
    let id = lower_uuid_u128(&s.span_id)?;
    let parent = match s.parent_span_id.0 {
        None => None,
        Some(p) => {
            lower_uuid_u128(&p)?;
            if p == s.span_id {
                return None;
            }
            Some(p)
        }
    };
    let kind = KINDS.iter().find(|k| **k == s.kind)?;
    let status = STATUSES.iter().find(|k| **k == s.status)?;
    let nanos = parse_timestamp(&s.timestamp).ok()?;
    check_duration_value(s.duration_ms).ok()?;
    let v5 = |id: &str| is_lower_uuid(id) && id.as_bytes()[14] == b'5';
    if !(s.agent_id.is_empty() || v5(&s.agent_id)) {
        return None;
    }
    Some(SpanIn {
        span_id: s.span_id,
        id,
        provisional: parent.is_none() && s.attributes.0,
        parent_span_id: parent,
        name: s.name,
        kind,
        timestamp: s.timestamp,
        nanos,
        duration_ms: s.duration_ms,
        status,
        error_message: s.error_message.0,
        raw: Cow::Borrowed(raw),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de>"))]
struct Body<'a, S> {
    #[serde(borrow)]
    traces: Vec<Obj<Trace<'a, S>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de>"))]
struct Trace<'a, S> {
    #[serde(borrow)]
    trace_id: Cow<'a, str>,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    environment: Cow<'a, str>,
    #[serde(borrow)]
    workspace_slug: Cow<'a, str>,
    spans: Vec<S>,
}

/// Every field of `validate::SPAN_FIELDS`, required (no `Option`, no default). Fields
/// that are only checked are read into types that keep nothing.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Span<'a> {
    #[serde(borrow)]
    span_id: Cow<'a, str>,
    #[serde(borrow)]
    parent_span_id: NullOrStr<'a>,
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    duration_ms: f64,
    #[serde(borrow)]
    status: Cow<'a, str>,
    model: AnyStr,
    provider: AnyStr,
    requested_model: AnyStr,
    usage_available: NullOrBool,
    reasoning_effort: AnyStr,
    input_tokens: u64,
    output_tokens: u64,
    total_tokens: u64,
    input: EmbeddedJson,
    output: EmbeddedJson,
    attributes: Attributes,
    #[serde(borrow)]
    error_message: NullOrStr<'a>,
    capture: Obj<Capture>,
    session_id: AnyStr,
    agent_name: AnyStr,
    #[serde(borrow)]
    agent_id: Cow<'a, str>,
    agent_version: AnyStr,
    user_id: AnyStr,
}

/// `capture`: each category `"captured"` or `"suppressed"`.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Capture {
    request: Category,
    system_prompt: Category,
    tool_schema: Category,
    tool_arguments: Category,
    output: Category,
}

/// A JSON object read into `T`, refusing the array form serde would also accept for a
/// struct.
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Obj)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

/// `null` or a string (present either way: a missing field is an error).
struct NullOrStr<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for NullOrStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = NullOrStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("null or a string")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(NullOrStr(None))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(NullOrStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(NullOrStr(Some(Cow::Owned(v.to_owned()))))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// `null` or a bool (present either way).
struct NullOrBool;

impl<'de> Deserialize<'de> for NullOrBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NullOrBool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("null or a bool")
            }
            fn visit_unit<E: de::Error>(self) -> Result<NullOrBool, E> {
                Ok(NullOrBool)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<NullOrBool, E> {
                Ok(NullOrBool)
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads a string with `check`, keeping nothing.
fn str_with<'de, D, T>(
    d: D,
    what: &'static str,
    check: fn(&str) -> Option<T>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct V<T> {
        what: &'static str,
        check: fn(&str) -> Option<T>,
    }
    impl<T> Visitor<'_> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.what)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.check)(v).ok_or_else(|| E::custom(self.what))
        }
    }
    d.deserialize_str(V { what, check })
}

/// Any string.
struct AnyStr;

impl<'de> Deserialize<'de> for AnyStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_with(d, "a string", |_| Some(AnyStr))
    }
}

/// `"captured"` or `"suppressed"`.
struct Category;

impl<'de> Deserialize<'de> for Category {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_with(d, "\"captured\" or \"suppressed\"", |v| {
            matches!(v, "captured" | "suppressed").then_some(Category)
        })
    }
}

/// `""` or a string holding a JSON document.
struct EmbeddedJson;

impl<'de> Deserialize<'de> for EmbeddedJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_with(d, "\"\" or a string holding JSON", |v| {
            (v.is_empty() || is_json(v)).then_some(EmbeddedJson)
        })
    }
}

/// A string holding a JSON object; whether it says `"staso.provisional_root": true`.
struct Attributes(bool);

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_with(d, "a string holding a JSON object", |v| {
            provisional_flag(v).map(Attributes)
        })
    }
}

/// Whether `s` is what `wire::parse_embedded_json` accepts.
fn is_json(s: &str) -> bool {
    serde_json::from_str::<Check>(s).is_ok() || parse_embedded_json(s).is_some()
}

/// `Some(flag)` when `s` holds a JSON object (as `wire::parse_embedded_json` reads it);
/// the flag is its `staso.provisional_root` being `true` (the last one, if repeated).
fn provisional_flag(s: &str) -> Option<bool> {
    if let Ok(a) = serde_json::from_str::<AttrObject>(s) {
        return Some(a.0);
    }
    match parse_embedded_json(s)? {
        Value::Object(m) => Some(m.get("staso.provisional_root") == Some(&Value::Bool(true))),
        _ => None,
    }
}

/// Any JSON value, read with the same grammar as `serde_json::Value` and kept nowhere.
struct Check;

impl<'de> Deserialize<'de> for Check {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckVisitor)
    }
}

struct CheckVisitor;

impl<'de> Visitor<'de> for CheckVisitor {
    type Value = Check;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Check, E> {
        Ok(Check)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Check, E> {
        Ok(Check)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Check, E> {
        Ok(Check)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Check, E> {
        Ok(Check)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Check, E> {
        Ok(Check)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Check, E> {
        Ok(Check)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Check, A::Error> {
        while a.next_element::<Check>()?.is_some() {}
        Ok(Check)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Check, A::Error> {
        while a.next_entry::<Check, Check>()?.is_some() {}
        Ok(Check)
    }
}

/// A JSON object, kept as nothing but its `staso.provisional_root` being `true`.
struct AttrObject(bool);

impl<'de> Deserialize<'de> for AttrObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AttrObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<AttrObject, A::Error> {
                let mut flag = false;
                while let Some(IsProvisionalKey(key)) = a.next_key()? {
                    if key {
                        flag = a.next_value::<IsTrue>()?.0;
                    } else {
                        a.next_value::<Check>()?;
                    }
                }
                Ok(AttrObject(flag))
            }
        }
        d.deserialize_any(V)
    }
}

/// A map key: whether it is `staso.provisional_root`.
struct IsProvisionalKey(bool);

impl<'de> Deserialize<'de> for IsProvisionalKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IsProvisionalKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IsProvisionalKey, E> {
                Ok(IsProvisionalKey(v == "staso.provisional_root"))
            }
        }
        d.deserialize_any(V)
    }
}

/// Any JSON value: whether it is `true`.
struct IsTrue(bool);

impl<'de> Deserialize<'de> for IsTrue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IsTrue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<IsTrue, E> {
                Ok(IsTrue(v))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<IsTrue, E> {
                Ok(IsTrue(false))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<IsTrue, E> {
                Ok(IsTrue(false))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<IsTrue, E> {
                Ok(IsTrue(false))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<IsTrue, E> {
                Ok(IsTrue(false))
            }
            fn visit_unit<E: de::Error>(self) -> Result<IsTrue, E> {
                Ok(IsTrue(false))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, a: A) -> Result<IsTrue, A::Error> {
                CheckVisitor.visit_seq(a).map(|_| IsTrue(false))
            }
            fn visit_map<A: MapAccess<'de>>(self, a: A) -> Result<IsTrue, A::Error> {
                CheckVisitor.visit_map(a).map(|_| IsTrue(false))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::parse_ingest_body;
    use serde_json::json;

    fn span(id: &str, parent: Option<&str>, kind: &str, second: u32) -> Value {
        json!({
            "span_id": id, "parent_span_id": parent, "name": "step", "kind": kind,
            "timestamp": format!("2026-11-26T06:10:{second:02}.123456+00:00"),
            "duration_ms": 12.5, "status": "ok", "model": "m", "provider": "p",
            "requested_model": "m", "usage_available": null, "reasoning_effort": "",
            "input_tokens": 1, "output_tokens": 2, "total_tokens": 3,
            "input": "{\"q\": [1, \"two\", {\"x\": null}]}", "output": "",
            "attributes": "{\"code.function\": \"f\"}", "error_message": null,
            "capture": {"request": "captured", "system_prompt": "suppressed",
                "tool_schema": "captured", "tool_arguments": "captured", "output": "captured"},
            "session_id": "", "agent_name": "a",
            "agent_id": "b7fa038a-6d14-5fc4-8ebc-66e1998cdff6",
            "agent_version": "", "user_id": ""
        })
    }

    const T: &str = "6f1c2f0e-0000-4000-8000-000000000001";
    const A: &str = "00000000-0000-0000-0000-00000000000a";
    const B: &str = "00000000-0000-0000-0000-00000000000b";

    fn body() -> Value {
        let mut root = span(A, None, "agent", 1);
        root["attributes"] = json!("{\"staso.provisional_root\": true, \"n\": 1}");
        json!({"traces": [{
            "trace_id": T, "timestamp": "2026-11-26T06:10:01.123456+00:00",
            "environment": "default", "workspace_slug": "default",
            "spans": [root, span(B, Some(A), "llm", 2)]
        }]})
    }

    /// Everything storage reads of a validated body, comparable across both paths.
    fn summary(traces: &[TraceIn<'_>], raw: bool) -> Vec<String> {
        let mut out = Vec::new();
        for t in traces {
            out.push(format!(
                "{} {} {} {} {} {}",
                t.trace_id, t.id, t.timestamp, t.nanos, t.environment, t.workspace_slug
            ));
            for s in &t.spans {
                let raw: Value = if raw {
                    serde_json::from_str(&s.raw).expect("raw is JSON")
                } else {
                    Value::Null
                };
                out.push(format!(
                    "{} {} {:?} {} {} {} {} {} {} {:?} {} {raw}",
                    s.span_id,
                    s.id,
                    s.parent_span_id,
                    s.name,
                    s.kind,
                    s.timestamp,
                    s.nanos,
                    s.duration_ms,
                    s.status,
                    s.error_message,
                    s.provisional
                ));
            }
        }
        out
    }

    /// The fast path accepts `v` only if the field-by-field check does, with the same
    /// result. Returns (fast accepted, check accepted).
    fn compare(v: &Value) -> (bool, bool) {
        let bytes = serde_json::to_vec(v).expect("json");
        let slow = parse_ingest_body(v);
        let lean = parse_ingest(&bytes, false).map(|t| summary(&t, false));
        match parse_ingest(&bytes, true) {
            Some(fast) => {
                let slow = slow.unwrap_or_else(|e| panic!("fast accepted, check refused {e}: {v}"));
                assert_eq!(summary(&fast, true), summary(&slow, true), "{v}");
                assert_eq!(lean, Some(summary(&slow, false)), "{v}");
                (true, true)
            }
            None => {
                assert_eq!(lean, None, "{v}");
                (false, slow.is_ok())
            }
        }
    }

    #[test]
    fn a_valid_body_takes_the_fast_path_with_the_same_result() {
        assert_eq!(compare(&body()), (true, true));
        let bytes = serde_json::to_vec(&body()).expect("json");
        let traces = parse_ingest(&bytes, true).expect("fast");
        assert!(traces[0].spans[0].provisional && !traces[0].spans[1].provisional);
        assert!(matches!(traces[0].spans[0].raw, Cow::Borrowed(_)));
        assert!(matches!(traces[0].spans[0].span_id, Cow::Borrowed(_)));
    }

    #[test]
    fn the_fast_path_never_accepts_what_the_check_refuses() {
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-1),
            json!(1.5),
            json!(1.25),
            json!(18446744073709551615u64),
            json!(""),
            json!("x"),
            json!("captured"),
            json!("ok"),
            json!("llm"),
            json!([]),
            json!({}),
            json!([1]),
            json!({"a": 1}),
            json!(A),
            json!(B),
            json!(T),
            json!("2026-11-26T06:10:01.123456+00:00"),
            json!("{}"),
            json!("[]"),
            json!("{\"staso.provisional_root\": true}"),
            json!("{\"a\": NaN}"),
            json!("{"),
            json!("b7fa038a-6d14-4fc4-8ebc-66e1998cdff6"),
        ];
        let (mut cases, mut fast, mut valid) = (0, 0, 0);
        let mut check = |v: &Value| {
            let (f, s) = compare(v);
            cases += 1;
            fast += usize::from(f);
            valid += usize::from(s);
        };
        let span_keys: Vec<String> = body()["traces"][0]["spans"][0]
            .as_object()
            .expect("span")
            .keys()
            .cloned()
            .chain(["trace_id".into(), "extra".into()])
            .collect();
        for j in 0..2 {
            for k in &span_keys {
                let mut b = body();
                b["traces"][0]["spans"][j]
                    .as_object_mut()
                    .expect("span")
                    .remove(k);
                check(&b);
                for v in &values {
                    let mut b = body();
                    b["traces"][0]["spans"][j][k] = v.clone();
                    check(&b);
                }
            }
            for cat in ["request", "output", "extra"] {
                for v in [json!("suppressed"), json!("x"), json!(null)] {
                    let mut b = body();
                    b["traces"][0]["spans"][j]["capture"][cat] = v;
                    check(&b);
                }
            }
            for v in &values {
                let mut b = body();
                b["traces"][0]["spans"][j] = v.clone();
                check(&b);
            }
        }
        for k in [
            "trace_id",
            "timestamp",
            "environment",
            "workspace_slug",
            "spans",
            "extra",
        ] {
            let mut b = body();
            b["traces"][0].as_object_mut().expect("trace").remove(k);
            check(&b);
            for v in &values {
                let mut b = body();
                b["traces"][0][k] = v.clone();
                check(&b);
            }
        }
        for v in &values {
            check(&json!({"traces": [v]}));
            check(&json!({"traces": v}));
            check(v);
            let mut b = body();
            b["extra"] = v.clone();
            check(&b);
        }
        // Repeated trace and span ids, an array where an object is expected.
        let mut b = body();
        let t = b["traces"][0].clone();
        b["traces"].as_array_mut().expect("traces").push(t);
        check(&b);
        let mut b = body();
        b["traces"][0]["spans"][1]["span_id"] = json!(A);
        b["traces"][0]["spans"][1]["parent_span_id"] = json!(null);
        check(&b);
        let mut b = body();
        let s = b["traces"][0]["spans"][1].clone();
        let capture = s["capture"].as_object().expect("capture").values().cloned();
        b["traces"][0]["spans"][1]["capture"] = Value::Array(capture.collect());
        check(&b);
        assert!(
            fast > 20 && valid == fast,
            "{cases} cases: {fast} fast, {valid} valid"
        );
    }

    #[test]
    fn objects_must_be_objects_and_duplicates_go_to_the_check() {
        let text = serde_json::to_string(&body()).expect("json");
        // A struct read by serde would also take the array form.
        let s = &body()["traces"][0]["spans"][1];
        let as_array: Vec<Value> = s.as_object().expect("span").values().cloned().collect();
        let arr = text.replacen(
            &serde_json::to_string(s).expect("json"),
            &serde_json::to_string(&as_array).expect("json"),
            1,
        );
        assert!(parse_ingest(arr.as_bytes(), true).is_none());
        assert!(parse_ingest(arr.as_bytes(), false).is_none());
        // A repeated key: the check (a `Value`) keeps the last one and accepts.
        let dup = text.replacen("\"name\":\"step\"", "\"name\":\"x\",\"name\":\"step\"", 1);
        assert!(parse_ingest(dup.as_bytes(), true).is_none());
        assert!(parse_ingest(dup.as_bytes(), false).is_none());
        let v: Value = serde_json::from_str(&dup).expect("json");
        assert!(parse_ingest_body(&v).is_ok());
        // Python NaN tokens inside embedded JSON are accepted by both.
        let mut b = body();
        b["traces"][0]["spans"][0]["attributes"] =
            json!("{\"x\": NaN, \"staso.provisional_root\": true}");
        b["traces"][0]["spans"][1]["output"] = json!("{\"r\": -Infinity}");
        assert_eq!(compare(&b), (true, true));
        let bytes = serde_json::to_vec(&b).expect("json");
        let traces = parse_ingest(&bytes, false).expect("fast");
        assert!(traces.first().expect("trace").spans[0].provisional);
    }
}
