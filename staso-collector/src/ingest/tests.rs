//! The validator's unit tests: valid bodies read borrowed, every field required, typed
//! and known, syntax errors refused as `body`, and byte-level mutations checked against
//! serde_json.

use super::*;
use serde_json::{json, Value};

const T: &str = "6f1c2f0e-0000-4000-8000-000000000001";
const A: &str = "00000000-0000-0000-0000-00000000000a";
const B: &str = "00000000-0000-0000-0000-00000000000b";
const C: &str = "00000000-0000-0000-0000-00000000000c";
const D: &str = "00000000-0000-0000-0000-00000000000d";

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

fn body() -> Value {
    let mut root = span(A, None, "agent", 1);
    root["attributes"] = json!("{\"staso.provisional_root\": true, \"n\": 1}");
    json!({"traces": [{
        "trace_id": T, "timestamp": "2026-11-26T06:10:01.123456+00:00",
        "environment": "default", "workspace_slug": "default",
        "spans": [root, span(B, Some(A), "llm", 2)]
    }]})
}

fn check(v: &Value) -> Result<(), ValidationError> {
    let bytes = serde_json::to_vec(v).expect("json");
    let lean = parse(&bytes, false).map(drop);
    let kept = parse(&bytes, true).map(drop);
    assert_eq!(lean, kept, "keeping the raw text changes nothing: {v}");
    lean
}

#[test]
fn a_valid_body_is_read_borrowed() {
    let bytes = serde_json::to_vec(&body()).expect("json");
    let traces = parse(&bytes, true).expect("valid");
    let t = &traces[0];
    assert_eq!((t.trace_id.as_ref(), t.spans.len()), (T, 2));
    let (root, child) = (&t.spans[0], &t.spans[1]);
    assert!(root.provisional && !child.provisional);
    assert_eq!(child.parent_span_id.as_deref(), Some(A));
    assert_eq!(
        (child.kind, child.status, child.duration_ms),
        ("llm", "ok", 12.5)
    );
    assert_eq!(root.nanos, t.nanos);
    assert!(matches!(root.span_id, Cow::Borrowed(_)));
    let raw: Value = serde_json::from_str(&child.raw).expect("raw is the span's JSON");
    assert_eq!(raw, body()["traces"][0]["spans"][1]);
    let lean = parse(&bytes, false).expect("valid");
    assert_eq!(lean[0].spans[0].raw, "");
}

#[test]
fn every_field_is_required_typed_and_known() {
    let span_keys: Vec<String> = body()["traces"][0]["spans"][1]
        .as_object()
        .expect("span")
        .keys()
        .cloned()
        .collect();
    for k in &span_keys {
        let mut b = body();
        b["traces"][0]["spans"][1]
            .as_object_mut()
            .expect("span")
            .remove(k);
        let e = check(&b).expect_err("missing");
        assert_eq!(
            (e.field, e.error.as_str()),
            (format!("traces[0].spans[1].{k}"), "missing field")
        );
        // Whatever the field, an array is the wrong type.
        let mut b = body();
        b["traces"][0]["spans"][1][k] = json!([]);
        let e = check(&b).expect_err("wrong type");
        assert!(
            e.field.starts_with(&format!("traces[0].spans[1].{k}")),
            "{e}"
        );
    }
    let mut b = body();
    b["traces"][0]["spans"][0]["extra"] = json!(1);
    assert_eq!(
        check(&b).expect_err("unknown").field,
        "traces[0].spans[0].extra"
    );
    let mut b = body();
    b["traces"][0]["spans"][0] = json!([1]);
    assert_eq!(check(&b).expect_err("array").field, "traces[0].spans[0]");
    assert_eq!(check(&body()), Ok(()));
}

#[test]
fn objects_must_be_objects_and_keys_come_once() {
    let text = serde_json::to_string(&body()).expect("json");
    // A struct read by serde would also take the array form of an object.
    let s = &body()["traces"][0]["spans"][1];
    let as_array: Vec<Value> = s.as_object().expect("span").values().cloned().collect();
    let arr = text.replacen(
        &serde_json::to_string(s).expect("json"),
        &serde_json::to_string(&as_array).expect("json"),
        1,
    );
    let e = parse(arr.as_bytes(), false).expect_err("array");
    assert_eq!(
        (e.field.as_str(), e.error.as_str()),
        ("traces[0].spans[1]", "expected an object")
    );
    let dup = text.replacen("\"name\":\"step\"", "\"name\":\"x\",\"name\":\"step\"", 1);
    let e = parse(dup.as_bytes(), true).expect_err("repeated");
    assert_eq!(
        (e.field.as_str(), e.error.as_str()),
        ("traces[0].spans[0].name", "repeated field")
    );
}

#[test]
fn a_syntax_error_wins_over_an_earlier_refusal() {
    let text = serde_json::to_string(&body()).expect("json");
    let bad_kind = text.replacen("\"agent\"", "\"banana\"", 1);
    let e = parse(bad_kind.as_bytes(), false).expect_err("kind");
    assert_eq!(e.field, "traces[0].spans[0].kind");
    let cut = &bad_kind[..bad_kind.len() - 3];
    let e = parse(cut.as_bytes(), false).expect_err("not JSON");
    assert_eq!(e.field, "body");
    let e = parse(&[0xff, b'{'], false).expect_err("not UTF-8");
    assert_eq!(e.field, "body");
    // A body that is not UTF-8 deep inside (past the 64-byte blocks of the vectorised
    // check) is refused, and the message says where.
    let mut long = text.into_bytes();
    long[200] = 0xc3;
    long[201] = b'(';
    let e = parse(&long, false).expect_err("not UTF-8");
    assert_eq!(
        (e.field.as_str(), e.error.as_str()),
        (
            "body",
            "body is not JSON: invalid utf-8 sequence of 1 bytes from index 200"
        )
    );
}

#[test]
fn python_nan_tokens_in_embedded_json_are_accepted() {
    let mut b = body();
    b["traces"][0]["spans"][0]["attributes"] =
        json!("{\"x\": NaN, \"staso.provisional_root\": true}");
    b["traces"][0]["spans"][1]["output"] = json!("{\"r\": -Infinity}");
    let bytes = serde_json::to_vec(&b).expect("json");
    let traces = parse(&bytes, false).expect("valid");
    assert!(traces[0].spans[0].provisional);
    let mut b = body();
    b["traces"][0]["spans"][1]["output"] = json!("{\"r\": nope}");
    assert_eq!(
        check(&b).expect_err("bad").field,
        "traces[0].spans[1].output"
    );
}

/// Byte-level mutations of a valid body (a deterministic stand-in for the fuzz
/// target): what is accepted is JSON, and what is not JSON is refused as `body`.
#[test]
fn mutated_bodies_agree_with_serde_json_on_syntax() {
    let text = serde_json::to_vec(&body()).expect("json");
    let specials = b"{}[]\",:\\ 0-.eEtfnu\x01";
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut accepted = 0;
    for round in 0..4000 {
        let mut b = text.clone();
        for _ in 0..=round % 3 {
            let at = (next() as usize) % b.len();
            let c = specials[(next() as usize) % specials.len()];
            match next() % 3 {
                0 => b[at] = c,
                1 => b.insert(at, c),
                _ => drop(b.remove(at)),
            }
        }
        let serde_ok = serde_json::from_slice::<Value>(&b).is_ok();
        for keep_raw in [false, true] {
            match parse(&b, keep_raw) {
                Ok(_) => {
                    assert!(
                        serde_ok,
                        "accepted what is not JSON: {}",
                        String::from_utf8_lossy(&b)
                    );
                    accepted += 1;
                }
                Err(e) if !serde_ok => assert_eq!(e.field, "body", "{e}"),
                Err(e) => assert!(!e.field.is_empty() && !e.error.is_empty(), "{e}"),
            }
        }
    }
    assert!(accepted > 0, "some mutations keep the body valid");
}

/// `v` as JSON text with object keys in wire order (the span fields', the trace's, the
/// capture categories'; others after them), compact or with white space everywhere it
/// may go: the fast paths take the first, the slow paths the second.
fn wire(v: &Value, spaced: bool) -> String {
    const TRACE: [&str; 5] = [
        "trace_id",
        "timestamp",
        "environment",
        "workspace_slug",
        "spans",
    ];
    let (comma, colon) = if spaced {
        (" ,\n ", " :\t")
    } else {
        (",", ":")
    };
    match v {
        Value::Object(m) => {
            let rank = |k: &str| {
                (span::SPAN_FIELDS
                    .iter()
                    .chain(&TRACE)
                    .chain(crate::contract::CAPTURE_CATEGORIES))
                .position(|f| *f == k)
                .unwrap_or(usize::MAX)
            };
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by_key(|k| rank(k));
            let members: Vec<String> = keys
                .iter()
                .map(|k| format!("{}{colon}{}", Value::from(k.as_str()), wire(&m[*k], spaced)))
                .collect();
            format!("{{{}}}", members.join(comma))
        }
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(|x| wire(x, spaced)).collect();
            format!("[{}]", items.join(comma))
        }
        other => other.to_string(),
    }
}

/// The body with spans as the Rust SDK writes a span that is not an LLM call, with
/// no error and the default capture policy (what the runs of `span` take), with or
/// without `input` and `output` documents.
fn sdk_body(docs: bool) -> Value {
    let mut b = body();
    for s in 0..2 {
        let sp = &mut b["traces"][0]["spans"][s];
        for k in [
            "model",
            "provider",
            "requested_model",
            "reasoning_effort",
            "agent_version",
            "user_id",
        ] {
            sp[k] = json!("");
        }
        for k in ["input_tokens", "output_tokens", "total_tokens"] {
            sp[k] = json!(0);
        }
        sp["usage_available"] = Value::Null;
        sp["error_message"] = Value::Null;
        sp["capture"] = json!({"request": "captured", "system_prompt": "captured",
            "tool_schema": "captured", "tool_arguments": "captured", "output": "captured"});
        if !docs {
            sp["input"] = json!("");
            sp["output"] = json!("");
        }
    }
    b["traces"][0]["spans"][1]["kind"] = json!("tool");
    // After each, a span with the same `attributes` (the second a root too, so that the
    // reused check's provisional flag counts): [A, C, B, D].
    let spans = b["traces"][0]["spans"].as_array_mut().expect("spans");
    let mut c = spans[0].clone();
    c["span_id"] = json!(C);
    let mut d = spans[1].clone();
    d["span_id"] = json!(D);
    spans.insert(1, c);
    spans.push(d);
    b
}

/// What `parse` makes of `text` with the runs of `span` and without them (must be the
/// same), and how many runs were eaten.
fn with_and_without_runs(text: &[u8]) -> (String, usize) {
    let read = |off: bool| {
        span::RUNS_OFF.with(|r| r.set(off));
        span::RUNS_EATEN.with(|n| n.set(0));
        let out = format!("{:?}", parse(text, false));
        (out, span::RUNS_EATEN.with(std::cell::Cell::get))
    };
    let (fast, eaten) = read(false);
    let (slow, none) = read(true);
    span::RUNS_OFF.with(|r| r.set(false));
    assert_eq!(none, 0);
    assert_eq!(fast, slow, "{}", String::from_utf8_lossy(text));
    (fast, eaten)
}

/// The runs are taken on the SDK's spans and the `attributes` checks of the second and
/// fourth spans are those of the first and third, and they read what the fields one by
/// one read.
#[test]
fn runs_are_taken_on_what_the_sdk_writes() {
    for docs in [true, false] {
        let text = wire(&sdk_body(docs), false);
        let (read, eaten) = with_and_without_runs(text.as_bytes());
        assert!(read.starts_with("Ok"), "{read}");
        // The first span: three runs; the others: one run, then the first one's tail;
        // two reused `attributes`; the fourth span's parent is the third's.
        assert_eq!(eaten, 3 + 3 * 2 + 2 + 1, "runs, tails, attributes: {text}");
        let spaced = wire(&sdk_body(docs), true);
        // Spaced, no run is taken; the tails and `attributes` strings are the same.
        assert_eq!(with_and_without_runs(spaced.as_bytes()), (read, 3 + 2));
        // A tail with an error message is not reused (it sets the span's).
        let mut b = sdk_body(docs);
        for s in 0..4 {
            b["traces"][0]["spans"][s]["error_message"] = json!("boom");
        }
        let (read, eaten) = with_and_without_runs(wire(&b, false).as_bytes());
        assert_eq!(read.matches("error_message: Some(\"boom\")").count(), 4);
        assert_eq!(eaten, 4 * 2 + 2 + 1, "two runs a span, attributes: {read}");
    }
}

/// Every one-byte change, insertion and deletion anywhere in an SDK body (so in and
/// around every run and every reused check) reads and refuses the same with the runs
/// and reuses and without them.
#[test]
fn runs_agree_with_the_fields_on_every_mutation() {
    let specials = b"{}[]\",:\\ 0-1.eEtfnlux\x01\xff";
    // Every position's mutations on their own: the positions are shared out between two
    // threads (the switch is per thread), which halves the longest test of the crate.
    let mutated = |text: &[u8], at: usize| {
        let mut accepted = 0;
        let mut variants = vec![];
        for &c in specials {
            let mut b = text.to_vec();
            b[at] = c;
            variants.push(b);
            let mut b = text.to_vec();
            b.insert(at, c);
            variants.push(b);
        }
        let mut b = text.to_vec();
        b.remove(at);
        variants.push(b);
        for b in variants {
            accepted += usize::from(with_and_without_runs(&b).0.starts_with("Ok"));
        }
        accepted
    };
    for docs in [true, false] {
        let text = wire(&sdk_body(docs), false).into_bytes();
        let accepted: usize = std::thread::scope(|s| {
            let workers: Vec<_> = (0..2)
                .map(|w| {
                    let (text, mutated) = (&text, &mutated);
                    s.spawn(move || {
                        (w..text.len())
                            .step_by(2)
                            .map(|at| mutated(text, at))
                            .sum::<usize>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|h| h.join().expect("a mutation worker"))
                .sum()
        });
        assert!(accepted > 100, "{accepted}");
    }
}

/// Every span field of an SDK body set to each of many good and bad values reads and
/// refuses the same with the runs and without them.
#[test]
fn runs_agree_with_the_fields_on_every_value() {
    let mut eaten = 0;
    for docs in [true, false] {
        for s in 0..4 {
            for k in span::SPAN_FIELDS {
                for v in field_values() {
                    let mut b = sdk_body(docs);
                    b["traces"][0]["spans"][s][k] = v;
                    eaten += with_and_without_runs(wire(&b, false).as_bytes()).1;
                }
            }
        }
    }
    assert!(eaten > 1000, "{eaten}");
}

/// The fast path's `kind` and `status` values are the contract's.
#[test]
fn known_values_are_the_contracts() {
    use crate::contract::{KINDS, STATUSES};
    for (patterns, names) in [
        (&span::KIND_VALUES[..], KINDS),
        (&span::STATUS_VALUES[..], STATUSES),
    ] {
        assert_eq!(patterns.len(), names.len());
        for (p, n) in patterns.iter().zip(names) {
            let token = format!("\"{n}\"");
            assert!(p.at(token.as_bytes(), 0) && p.len() == token.len(), "{n}");
        }
    }
}

/// Good and bad values for every span field.
fn field_values() -> Vec<Value> {
    vec![
        json!(null),
        json!(""),
        json!("x"),
        json!(0),
        json!(7),
        json!(0.25),
        json!(1.234),
        json!(-1),
        json!(true),
        json!(false),
        json!({}),
        json!([]),
        json!("{}"),
        json!("[1, 2]"),
        json!("{\"a\": \"b\\\"c\", \"n\": [1.5, null]}"),
        json!("{\"a\":\n1}"),
        json!("{\"staso.provisional_root\": true}"),
        json!("{\"staso.provisional_root\": false}"),
        json!("{bad"),
        json!("2026-11-26T06:10:02.123456+00:00"),
        json!("2026-11-26T06:10:00.123456+00:00"),
        json!("2026-11-26T06:10:02+00:00"),
        json!("2026-11-26T06:10:02.123456Z"),
        json!("2026-13-26T06:10:02.123456+00:00"),
        json!(A),
        json!(B),
        json!(A.to_uppercase()),
        json!("b7fa038a-6d14-5fc4-8ebc-66e1998cdff6"),
        json!("b7fa038a-6d14-4fc4-8ebc-66e1998cdff6"),
        json!("00000000-0000-0000-0000-00000000000g"),
        json!("agent"),
        json!("tool"),
        json!("error"),
        json!("captured"),
        json!("suppressed"),
        json!({"request": "captured", "system_prompt": "captured", "tool_schema": "captured",
            "tool_arguments": "captured", "output": "maybe"}),
        json!({"request": "captured", "system_prompt": "captured", "tool_schema": "captured",
            "tool_arguments": "captured"}),
    ]
}

/// The fast paths (compact bodies in wire order) and the slow ones (white space, keys
/// in another order) read the same values and refuse with the same field and message,
/// for every span field set to each of many good and bad values.
#[test]
fn fast_and_slow_paths_read_and_refuse_the_same() {
    let values = field_values();
    let read = |text: &str| format!("{:?}", parse(text.as_bytes(), false));
    let mut bodies = vec![body()];
    for s in 0..2 {
        for k in span::SPAN_FIELDS {
            for v in &values {
                let mut b = body();
                b["traces"][0]["spans"][s][k] = v.clone();
                bodies.push(b);
            }
        }
    }
    let mut accepted = 0;
    for b in &bodies {
        let compact = read(&wire(b, false));
        assert_eq!(compact, read(&wire(b, true)), "{b}");
        assert_eq!(
            compact,
            read(&serde_json::to_string(b).expect("json")),
            "{b}"
        );
        accepted += usize::from(compact.starts_with("Ok"));
    }
    assert!(accepted > 100, "only {accepted} bodies were valid");
    assert!(read(&wire(&body(), false)).starts_with("Ok"));
}
