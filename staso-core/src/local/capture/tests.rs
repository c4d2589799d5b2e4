//! The capture writer on its own: JSON as serde_json writes it, bounds (size, depth, stack),
//! redaction, the mask, contained panics. End-to-end behaviour (over loopback, in child
//! processes) is in `tests/reliability/tests/capture_hardening.rs`.

use super::*;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde_json::{json, Value};
use staso_types::Options;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

const KEY: &str = "unit-test-key-123";

fn rules(o: Options) -> RulesHandle {
    let o = o.api_key(KEY).agent_name("t").capture_git(false);
    let env: HashMap<String, String> = HashMap::new();
    let cfg = crate::config::resolve(&o, &env).expect("config");
    RulesHandle::Client(Rc::new(Arc::new(cfg)))
}

fn capture_with<T: Serialize + ?Sized>(o: Options, v: &T) -> (String, Option<usize>) {
    let c = document(rules(o), None, "", |out| out.serialize(v));
    (c.text().to_string(), c.truncated)
}

fn capture<T: Serialize + ?Sized>(v: &T) -> String {
    let (s, t) = capture_with(Options::new(), v);
    assert_eq!(t, None, "{s}");
    s
}

fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not valid JSON ({e}): {s}"))
}

#[derive(Serialize)]
enum Shape {
    Unit,
    New(u8),
    Tuple(i8, String),
    Struct { w: f64, h: Option<f32> },
}

#[derive(Serialize)]
struct Everything {
    flag: bool,
    small: i8,
    big: u128,
    neg: i128,
    float: f64,
    tiny: f32,
    ch: char,
    text: &'static str,
    none: Option<u8>,
    unit: (),
    tuple: (u8, &'static str),
    shapes: Vec<Shape>,
    map: BTreeMap<u32, Vec<u8>>,
    newtype: Newtype,
    #[serde(with = "bytes")]
    raw: Vec<u8>,
}

#[derive(Serialize)]
struct Newtype(Vec<Option<bool>>);

mod bytes {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }
}

#[test]
fn json_is_written_exactly_as_serde_json_writes_it() {
    let v = Everything {
        flag: true,
        small: -7,
        big: u128::MAX,
        neg: i128::MIN,
        float: 0.1,
        tiny: 1.5e-7,
        ch: 'é',
        text: "quote \" backslash \\ newline \n tab \t ctrl \u{1} emoji 🦀",
        none: None,
        unit: (),
        tuple: (1, "two"),
        shapes: vec![
            Shape::Unit,
            Shape::New(3),
            Shape::Tuple(-1, "x".into()),
            Shape::Struct { w: 2.5, h: None },
        ],
        map: BTreeMap::from([(1, vec![]), (20, vec![1, 2])]),
        newtype: Newtype(vec![Some(true), None]),
        raw: vec![0, 255],
    };
    assert_eq!(capture(&v), serde_json::to_string(&v).expect("json"));
    let value = json!({"a": [1, {"b": null}, "c"], "d": {}, "e": [], "f": -1.25e300});
    assert_eq!(capture(&value), value.to_string());
}

#[test]
fn non_finite_floats_are_null() {
    assert_eq!(
        parse(&capture(&(f64::NAN, f64::INFINITY, f32::NEG_INFINITY))),
        json!([null, null, null])
    );
}

/// A value whose `Serialize` must never run.
struct MustNotRun;

impl Serialize for MustNotRun {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("serialized a value under a secret key")
    }
}

#[derive(Serialize)]
struct Login {
    user: &'static str,
    password: MustNotRun,
    #[serde(rename = "apiKeys")]
    api_keys: MustNotRun,
    nested: BTreeMap<&'static str, MustNotRun>,
}

#[test]
fn values_under_secret_keys_are_redacted_without_being_serialized() {
    let v = Login {
        user: "bob",
        password: MustNotRun,
        api_keys: MustNotRun,
        nested: BTreeMap::from([("private_key", MustNotRun), ("Authorization", MustNotRun)]),
    };
    assert_eq!(
        parse(&capture(&v)),
        json!({"user": "bob", "password": "[REDACTED]", "apiKeys": "[REDACTED]",
               "nested": {"Authorization": "[REDACTED]", "private_key": "[REDACTED]"}})
    );
    assert_eq!(
        json::REDACTED_JSON,
        format!("\"{}\"", staso_types::REDACTED)
    );
}

#[derive(Serialize)]
struct OddNames {
    plain: u8,
    #[serde(rename = "say \"hi\"\\now\n")]
    quoted: u8,
}

/// Field names are written as they are when nothing in them needs escaping (every Rust
/// identifier), and escaped when a `rename` put a quote, a backslash or a control byte in
/// one: the same name, again and again, comes out the same, as serde_json writes it.
#[test]
fn field_names_are_escaped_when_they_need_it_every_time() {
    let v = OddNames {
        plain: 1,
        quoted: 2,
    };
    let expected = serde_json::to_string(&v).expect("serde_json");
    for _ in 0..3 {
        assert_eq!(capture(&v), expected);
    }
}

#[test]
fn every_string_is_scrubbed() {
    let v = json!({
        "note": "called with Bearer abcdefgh12345678 and sk-abcdefghijklmnopqrstuvwx",
        "log": "retry password=hunter2 then",
        "mine": format!("key is {KEY}!"),
        "list": ["token: \"t0k3n\""],
    });
    assert_eq!(
        parse(&capture(&v)),
        json!({
            "note": "called with Bearer [REDACTED] and [REDACTED]",
            "log": "retry password=[REDACTED] then",
            "mine": "key is [REDACTED]!",
            "list": ["token: \"[REDACTED]\""],
        })
    );
}

#[test]
fn without_redaction_only_the_api_key_is_removed() {
    let v = json!({"password": "p", "note": format!("Bearer abcdefgh12345678 {KEY}")});
    let (s, _) = capture_with(Options::new().redact_secrets(false), &v);
    assert_eq!(
        parse(&s),
        json!({"password": "p", "note": "Bearer abcdefgh12345678 [REDACTED]"})
    );
}

static CHAIN_CALLS: AtomicUsize = AtomicUsize::new(0);

/// `n` levels of arrays, made on the fly; counts its `serialize` calls.
struct Chain(usize);

impl Serialize for Chain {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        CHAIN_CALLS.fetch_add(1, Relaxed);
        let mut seq = s.serialize_seq(Some(1))?;
        if self.0 > 0 {
            seq.serialize_element(&Chain(self.0 - 1))?;
        }
        seq.end()
    }
}

#[test]
fn depth_is_bounded_and_the_values_own_recursion_stops() {
    CHAIN_CALLS.store(0, Relaxed);
    let s = capture(&Chain(1_000_000));
    assert_eq!(CHAIN_CALLS.load(Relaxed), json::MAX_DEPTH as usize + 1);
    let v = parse(&s);
    let mut depth = 0;
    let mut cur = &v;
    while let Some(next) = cur.get(0) {
        cur = next;
        depth += 1;
    }
    // The value itself, then 64 levels below it; the 65th is the placeholder.
    assert_eq!(depth, json::MAX_DEPTH as usize + 1);
    assert!(
        cur.as_str()
            .is_some_and(|p| p.contains("nested deeper than 64 levels")),
        "{cur}"
    );
}

#[test]
fn a_15000_deep_json_value_on_a_small_stack() {
    // 256 KiB of stack: serde_json would need far more to serialize (or drop) this.
    let t = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let mut v = Value::Null;
            for _ in 0..15_000 {
                v = Value::Array(vec![v]);
            }
            let s = capture(&v);
            // Taken apart without recursion.
            while let Value::Array(mut a) = v {
                v = a.pop().unwrap_or(Value::Null);
            }
            s
        })
        .expect("thread");
    let s = t.join().expect("no stack overflow");
    assert!(s.contains("nested deeper than 64 levels"), "{s}");
    parse(&s);
}

/// A `Debug`-only list, as deep as it is long.
#[derive(Debug)]
struct Nest(#[allow(dead_code)] Option<Box<Nest>>);

#[test]
fn deep_debug_stops_before_the_stack_runs_out() {
    let t = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(|| {
            let mut root = Nest(None);
            for _ in 0..200_000 {
                root = Nest(Some(Box::new(root)));
            }
            let c = document(rules(Options::new()), None, "", |out| out.debug(&root));
            let s = c.text().to_string();
            let mut cur = root.0.take();
            while let Some(mut b) = cur {
                cur = b.0.take();
            }
            s
        })
        .expect("thread");
    let s = t.join().expect("no stack overflow");
    let text = parse(&s);
    let text = text.as_str().expect("a string");
    assert!(text.starts_with("Nest(Some(Nest(Some("), "{text:.60}");
    assert!(
        text.ends_with("…[too deep]"),
        "{}",
        &text[text.len() - 40..]
    );
}

/// Random JSON values: nested, with escapes and multi-byte text.
fn random_value(rng: &mut fastrand::Rng, depth: u32) -> Value {
    let pick = if depth == 0 {
        rng.u8(0..4)
    } else {
        rng.u8(0..7)
    };
    match pick {
        0 => Value::from(rng.i64(..)),
        1 => Value::from(rng.f64() * 1e6),
        2 => Value::Bool(rng.bool()),
        3 => {
            let n = rng.usize(0..300);
            let s: String = (0..n)
                .map(|_| match rng.u8(0..10) {
                    0 => '"',
                    1 => '\n',
                    2 => 'é',
                    3 => '🦀',
                    4 => '\\',
                    _ => rng.alphanumeric(),
                })
                .collect();
            Value::String(s)
        }
        4 | 5 => Value::Array(
            (0..rng.usize(0..12))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.usize(0..8))
                .map(|i| {
                    (
                        format!("k{i}{}", rng.alphanumeric()),
                        random_value(rng, depth - 1),
                    )
                })
                .collect(),
        ),
    }
}

#[test]
fn a_cut_document_is_valid_json_within_the_bound_with_a_lower_bound_of_its_size() {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut cut = 0;
    for i in 0..400 {
        let v = random_value(&mut rng, 5);
        let max = rng.usize(40..3000);
        let full = serde_json::to_string(&v).expect("json");
        let (s, truncated) = capture_with(Options::new().max_field_bytes(max), &v);
        parse(&s);
        match truncated {
            None => assert_eq!(s, full, "case {i}"),
            Some(size) => {
                cut += 1;
                assert!(s.len() <= max, "case {i}: {} > {max}: {s}", s.len());
                assert!(
                    size > max && size <= full.len(),
                    "case {i}: {size} vs {} (max {max}): {s}\nfull: {full}",
                    full.len()
                );
            }
        }
    }
    assert!(cut > 100, "only {cut} cases were cut");
}

#[test]
fn a_cut_string_keeps_its_place_and_its_size_is_exact() {
    let big = "é".repeat(10_000);
    let v = json!({"doc": big});
    let full = serde_json::to_string(&v).expect("json").len();
    let (s, truncated) = capture_with(Options::new().max_field_bytes(1024), &v);
    assert_eq!(truncated, Some(full));
    assert!(s.len() <= 1024, "{}", s.len());
    let doc = parse(&s)["doc"].as_str().expect("string").to_string();
    assert!(doc.starts_with("ééé") && doc.ends_with(TRUNCATED), "{doc}");
}

#[test]
fn a_cut_array_ends_with_a_marker_element() {
    let v: Vec<u64> = (0..100_000).collect();
    let (s, truncated) = capture_with(Options::new().max_field_bytes(200), &v);
    let back = parse(&s);
    let items = back.as_array().expect("array");
    assert_eq!(items.last(), Some(&json!(TRUNCATED)));
    assert_eq!(items[0], json!(0));
    assert!(truncated.is_some_and(|n| n > 200));
}

static FAILING_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Writes a few entries, then fails (or panics).
struct Flaky(bool);

impl Serialize for Flaky {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        FAILING_CALLS.fetch_add(1, Relaxed);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("a", &1)?;
        if self.0 {
            panic!("flaky Serialize");
        }
        Err(serde::ser::Error::custom("not today"))
    }
}

#[test]
fn a_failing_or_panicking_value_is_undone_and_replaced_the_rest_is_kept() {
    crate::panic::install_hook();
    let c = input(rules(Options::new()), None, None, |input| {
        input.arg("before", |o| o.serialize(&1));
        input.arg("fails", |o| o.serialize(&Flaky(false)));
        input.arg("panics", |o| o.serialize(&Flaky(true)));
        input.arg("after", |o| o.serialize(&"ok"));
    });
    let v = parse(c.text());
    assert_eq!(v["before"], json!(1));
    assert_eq!(v["after"], json!("ok"));
    let fails = v["fails"].as_str().expect("placeholder");
    assert!(
        fails.contains("Flaky: not serializable: not today"),
        "{fails}"
    );
    let panics = v["panics"].as_str().expect("placeholder");
    assert!(panics.contains("Flaky: Serialize panicked"), "{panics}");
}

#[test]
fn map_keys_as_serde_json_writes_them() {
    let m = BTreeMap::from([(1u8, "a"), (2, "b")]);
    assert_eq!(capture(&m), r#"{"1":"a","2":"b"}"#);
    let bad = BTreeMap::from([((1u8, 2u8), "a")]);
    let s = parse(&capture(&bad));
    assert!(
        s.as_str()
            .is_some_and(|p| p.contains("a map key must be a string")),
        "{s}"
    );
}

/// A map whose `Serialize` writes a key without a value, then a value without a key.
struct BrokenMap;

impl Serialize for BrokenMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_key("lonely")?;
        m.serialize_key("k")?;
        m.serialize_value(&1)?;
        m.serialize_value(&2)?;
        m.serialize_key("last")?;
        m.end()
    }
}

#[test]
fn a_broken_map_still_gives_valid_json() {
    assert_eq!(
        parse(&capture(&BrokenMap)),
        json!({"lonely": null, "k": 1, "": 2, "last": null})
    );
}

#[test]
fn debug_and_display_text_is_bounded() {
    struct Huge;
    impl std::fmt::Display for Huge {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            for _ in 0..1_000_000 {
                f.write_str("0123456789")?;
            }
            Ok(())
        }
    }
    impl std::fmt::Debug for Huge {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            std::fmt::Display::fmt(self, f)
        }
    }
    let o = || Options::new().max_field_bytes(1000);
    let c = document(rules(o()), None, "", |out| out.debug(&Huge));
    assert!(c.text().len() <= 1000, "{}", c.text().len());
    assert!(c.truncated.is_some_and(|n| n > 1000));
    parse(c.text());
    let t = text(rules(o()), None, "error_message", |out| out.display(&Huge));
    assert!(t.text().len() <= 1000 && t.text().ends_with(TRUNCATED));
    assert!(t.truncated.is_some_and(|n| n > 1000));
}

#[test]
fn the_mask_sees_each_string_with_its_nearest_key() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let o = Options::new().mask(move |k: &str, t: &str| {
        log.lock().expect("lock").push(format!("{k}={t}"));
        (t == "x").then(|| "masked".to_string())
    });
    let v = json!({"a": {"b": "x"}, "c": ["y", {"d": "z"}], "e": 1});
    let (s, _) = capture_with(o, &v);
    assert_eq!(
        parse(&s),
        json!({"a": {"b": "masked"}, "c": ["y", {"d": "z"}], "e": 1})
    );
    assert_eq!(*seen.lock().expect("lock"), vec!["b=x", "c=y", "d=z"]);
}

#[test]
fn a_panicking_mask_gives_a_placeholder() {
    crate::panic::install_hook();
    let o = Options::new().mask(|_: &str, _: &str| -> Option<String> { panic!("mask bug") });
    let (s, _) = capture_with(o, &json!({"a": "b"}));
    assert_eq!(parse(&s), json!({"a": "<mask hook panicked>"}));
}
