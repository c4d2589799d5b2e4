//! A recorded tape, written as JSON, is the document the JSON writer writes on the
//! caller's thread: same text, same cut, same `truncated` size, for every kind of serde
//! value, every bound from tiny to roomy, redaction, the mask, and values that fail.

use super::*;
use serde::ser::{SerializeMap, Serializer};
use serde_json::json;
use staso_types::Options;
use std::collections::{BTreeMap, HashMap};

const KEY: &str = "tape-test-key-12345";

fn rules(o: Options) -> RulesHandle {
    let o = o.api_key(KEY).agent_name("t").capture_git(false);
    let env: HashMap<String, String> = HashMap::new();
    let cfg = crate::config::resolve(&o, &env).expect("config");
    RulesHandle::Shared(Arc::new(cfg))
}

/// The input written directly and through a tape, under options `o`.
fn both(
    o: impl Fn() -> Options,
    agent: Option<&str>,
    f: impl Fn(&mut Input<'_>),
) -> ((String, Option<usize>), (String, Option<usize>)) {
    let direct = input(rules(o()), None, agent, &f);
    let handle = rules(o());
    let taped = input_tape(TapeRules::of(handle.config()), None, agent, &f);
    let replayed = replay(handle, None, taped.tape());
    (
        (direct.text().to_string(), direct.truncated),
        (replayed.text().to_string(), replayed.truncated),
    )
}

/// The input document `f` writes, checked to be the same written directly and replayed.
pub(super) fn direct_doc(f: impl Fn(&mut Input<'_>)) -> String {
    agree(Options::new, f)
}

fn agree(o: impl Fn() -> Options, f: impl Fn(&mut Input<'_>)) -> String {
    agree_in(o, f, true)
}

/// [`agree`]; with `exact_size` false, the size a cut document reports may be larger when
/// replayed: `Debug` text cut at the writer's bound counts only the rest of the write that
/// crossed it, while the tape knows the whole length (both are "at least" the size).
fn agree_in(o: impl Fn() -> Options, f: impl Fn(&mut Input<'_>), exact_size: bool) -> String {
    let (d, mut t) = both(o, None, f);
    if !exact_size && d.0 == t.0 && d.1.is_some() && t.1 >= d.1 {
        t.1 = d.1;
    }
    if d != t {
        let at =
            d.0.bytes()
                .zip(t.0.bytes())
                .take_while(|(a, b)| a == b)
                .count();
        let from = at.saturating_sub(60);
        panic!(
            "direct and replayed differ at byte {at} (lengths {} and {}, truncated {:?} and {:?}):\n direct: …{}\n replay: …{}",
            d.0.len(),
            t.0.len(),
            d.1,
            t.1,
            &d.0[from..],
            &t.0[from..]
        );
    }
    if d.1.is_none() {
        serde_json::from_str::<serde_json::Value>(&d.0)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", d.0));
    }
    d.0
}

#[derive(Serialize)]
enum Shape {
    Unit,
    New(u8),
    Tuple(i8, String),
    Struct { w: f64, h: Option<f32> },
    Password(String),
}

#[derive(Serialize)]
struct Unit;

#[derive(Serialize)]
struct Newtype(Vec<Option<Option<i64>>>);

#[derive(Serialize)]
struct Everything {
    flag: bool,
    small: i8,
    big: u128,
    neg: i128,
    min: i64,
    float: f64,
    nan: f64,
    tiny: f32,
    ch: char,
    text: &'static str,
    escaped: &'static str,
    none: Option<u8>,
    unit: (),
    unit_struct: Unit,
    tuple: (u8, &'static str),
    shapes: Vec<Shape>,
    map: BTreeMap<u32, Vec<u8>>,
    bool_keys: BTreeMap<bool, &'static str>,
    newtype: Newtype,
    #[serde(serialize_with = "as_bytes")]
    raw: Vec<u8>,
    #[serde(serialize_with = "as_display")]
    shown: u32,
    password: &'static str,
    nested_secret: BTreeMap<&'static str, &'static str>,
    leaked: String,
    #[serde(rename = "quo\"ted")]
    renamed: u8,
}

fn as_bytes<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(v)
}

fn as_display<S: Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("#{v}"))
}

fn everything() -> Everything {
    Everything {
        flag: true,
        small: -3,
        big: u128::MAX,
        neg: i128::MIN,
        min: i64::MIN,
        float: 1.5e300,
        nan: f64::NAN,
        tiny: 0.1,
        ch: 'é',
        text: "refund policy",
        escaped: "line\nbreak \"quoted\" \\ tab\t\u{1}",
        none: None,
        unit: (),
        unit_struct: Unit,
        tuple: (7, "seven"),
        shapes: vec![
            Shape::Unit,
            Shape::New(9),
            Shape::Tuple(-1, "t".into()),
            Shape::Struct { w: 2.0, h: None },
            Shape::Password("hunter2".into()),
        ],
        map: (0..5).map(|i| (i, vec![i as u8; i as usize])).collect(),
        bool_keys: [(true, "yes"), (false, "no")].into_iter().collect(),
        newtype: Newtype(vec![Some(Some(-42)), Some(None), None]),
        raw: vec![0, 1, 255],
        shown: 12,
        password: "hunter2",
        nested_secret: [("token", "abc"), ("plain", "def"), ("api_key", "x")]
            .into_iter()
            .collect(),
        leaked: format!("key is {KEY} and sk-abcdefghijklmnopqrstuvwxyz0123456789 here"),
        renamed: 1,
    }
}

#[test]
fn every_kind_of_value_gives_the_same_document() {
    let doc = agree(Options::new, |i| {
        i.arg("everything", |o| o.serialize(&everything()));
        i.arg("json", |o| {
            o.serialize(&json!({"a": [1, 2.5, null, true, {"b": "c"}], "secret": "s"}))
        });
        i.arg("debugged", |o| o.debug(&vec![Some("x"); 3]));
        i.arg("opaque", |o| o.placeholder::<std::fs::File>("not captured"));
        i.arg("api_key", |o| o.serialize(&"never written"));
    });
    // What the comparison rests on is really there.
    for part in ["hunter2", KEY, "never written"] {
        assert!(!doc.contains(part), "{part} leaked: {doc}");
    }
    for part in [
        "[REDACTED]",
        "refund policy",
        "#12",
        "\"New\":9",
        "quo\\\"ted",
    ] {
        assert!(doc.contains(part), "{part} missing: {doc}");
    }
}

/// Short names and small numbers: more bytes of tape than of JSON.
#[derive(Serialize)]
struct Pair {
    a: u8,
    b: bool,
}

#[test]
fn every_bound_cuts_the_document_at_the_same_place() {
    let v = everything();
    let pairs: Vec<Pair> = (0..200)
        .map(|i| Pair {
            a: i as u8,
            b: i % 2 == 0,
        })
        .collect();
    let big: Vec<String> = (0..40)
        .map(|i| format!("item {i} ").repeat(i % 7))
        .collect();
    let mut cut = 0;
    for max in 1..6_000 {
        let doc = agree(
            || Options::new().max_field_bytes(max),
            |i| {
                i.arg("pairs", |o| o.serialize(&pairs));
                i.arg("everything", |o| o.serialize(&v));
                i.arg("big", |o| o.serialize(&big));
            },
        );
        cut += usize::from(doc.contains(TRUNCATED));
    }
    assert!(
        cut > 5_000,
        "the bounds tried should cut most documents: {cut}"
    );
    // `Debug` text: the same document; the size reported may only be larger.
    for max in 1..3_000 {
        agree_in(
            || Options::new().max_field_bytes(max),
            |i| {
                i.arg("everything", |o| o.serialize(&v));
                i.arg("debugged", |o| o.debug(&big));
                i.arg("big", |o| o.serialize(&big));
            },
            false,
        );
    }
}

#[test]
fn the_agents_name_and_a_result_are_recorded_too() {
    let (d, t) = both(Options::new, Some("support-bot"), |i| {
        i.arg("q", |o| o.serialize(&"hi"));
    });
    assert_eq!(d, t);
    assert_eq!(d.0, r#"{"agent_name":"support-bot","q":"hi"}"#);

    let handle = rules(Options::new());
    let direct = result_document(handle.clone(), None, |o| o.serialize(&everything()));
    let taped = result_tape(TapeRules::of(handle.config()), None, |o| {
        o.serialize(&everything())
    });
    let replayed = replay(handle, None, taped.tape());
    assert_eq!(direct.text(), replayed.text());
    assert!(replayed.text().starts_with(r#"{"result":{"flag":true"#));
}

#[test]
fn values_nested_deeper_than_the_bound_become_the_same_placeholder() {
    // A list nested 200 deep: both stop at the same level, naming the same type.
    let mut v = json!(1);
    for _ in 0..200 {
        v = json!([v]);
    }
    let doc = agree(Options::new, |i| i.arg("deep", |o| o.serialize(&v)));
    assert!(doc.contains("nested deeper than 64 levels"), "{doc}");
}

/// Fails (or panics) after writing part of itself.
struct Flaky(bool);

impl Serialize for Flaky {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("partial", "written")?;
        if self.0 {
            panic!("flaky");
        }
        Err(serde::ser::Error::custom("not today"))
    }
}

/// A map whose key is a list: refused, as serde_json refuses it.
struct ListKey;

impl Serialize for ListKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry(&[1, 2], "v")?;
        m.end()
    }
}

#[test]
fn failing_and_panicking_values_leave_the_same_placeholders() {
    crate::panic::install_hook();
    let doc = agree(Options::new, |i| {
        i.arg("before", |o| o.serialize(&1));
        i.arg("fails", |o| o.serialize(&Flaky(false)));
        i.arg("panics", |o| o.serialize(&Flaky(true)));
        i.arg("list_key", |o| o.serialize(&ListKey));
        i.arg("after", |o| o.serialize(&"ok"));
    });
    assert!(doc.contains("Flaky: not serializable: not today"), "{doc}");
    assert!(doc.contains("Flaky: Serialize panicked"), "{doc}");
    assert!(doc.contains("a map key must be a string"), "{doc}");
    assert!(!doc.contains("partial"), "{doc}");
}

#[test]
fn the_mask_sees_the_same_keys_and_texts() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let o = || {
        let log = seen.clone();
        Options::new().mask(move |k: &str, t: &str| {
            log.lock().expect("lock").push(format!("{k}={t}"));
            (t == "x").then(|| "masked".to_string())
        })
    };
    let v = json!({"a": {"b": "x"}, "c": ["y", {"d": "z"}], "e": 1});
    let doc = agree(o, |i| i.arg("v", |o| o.serialize(&v)));
    assert!(doc.contains("masked"), "{doc}");
    let seen = seen.lock().expect("lock");
    let half = seen.len() / 2;
    assert_eq!(seen[..half], seen[half..], "direct, then replayed");
}

#[test]
fn a_huge_value_costs_the_caller_a_bounded_tape() {
    let huge = "x".repeat(10 << 20);
    let long_list: Vec<u64> = (0..2_000_000).collect();
    let handle = rules(Options::new().max_field_bytes(1_000));
    let taped = input_tape(TapeRules::of(handle.config()), None, None, |i| {
        i.arg("huge", |o| o.serialize(&huge));
    });
    assert!(taped.tape().len() < 1_000 * tape::TAPE_FACTOR + 2 * json::LOOKAHEAD);
    let taped = input_tape(TapeRules::of(handle.config()), None, None, |i| {
        i.arg("list", |o| o.serialize(&long_list));
    });
    assert!(taped.tape().len() < 1_000 * tape::TAPE_FACTOR + 2 * json::LOOKAHEAD);
    let doc = replay(handle, None, taped.tape());
    assert!(doc.truncated.is_some_and(|n| n > 1_000));
    assert!(doc.text().len() <= 1_000, "{}", doc.text().len());
}

#[test]
fn a_secret_value_is_never_recorded() {
    /// Counts its serializations.
    struct Counted<'a>(&'a std::sync::atomic::AtomicUsize);
    impl Serialize for Counted<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            s.serialize_str("secret-value")
        }
    }
    let n = std::sync::atomic::AtomicUsize::new(0);
    let handle = rules(Options::new());
    let taped = input_tape(TapeRules::of(handle.config()), None, None, |i| {
        i.arg("password", |o| o.serialize(&Counted(&n)));
        i.arg("m", |o| {
            let mut m = BTreeMap::new();
            m.insert("token", Counted(&n));
            o.serialize(&m)
        });
    });
    assert_eq!(n.load(std::sync::atomic::Ordering::Relaxed), 0);
    let raw = String::from_utf8_lossy(taped.tape()).into_owned();
    assert!(!raw.contains("secret-value"));
}

/// The recorder skips the secrecy check for `result`, the key of every output: the
/// writer must agree that it is not secret.
#[test]
fn the_result_key_is_not_secret() {
    assert!(!is_secret_key("result"));
}

#[test]
fn integers_of_every_width_give_the_same_document() {
    // Each byte count an integer's head can say (1 to 8), at both ends.
    let unsigned: Vec<u64> = (0..64)
        .flat_map(|b| [1u64 << b, (1u64 << b) - 1])
        .chain([u64::MAX])
        .collect();
    let signed: Vec<i64> = unsigned
        .iter()
        .flat_map(|&u| [u as i64, (u as i64).wrapping_neg()])
        .chain([i64::MIN, i64::MAX])
        .collect();
    let doc = agree(Options::new, |i| {
        i.arg("unsigned", |o| o.serialize(&unsigned));
        i.arg("signed", |o| o.serialize(&signed));
    });
    for part in [
        "18446744073709551615",
        "-9223372036854775808",
        "[1,0,2,1,4,3,",
    ] {
        assert!(doc.contains(part), "{part} missing: {doc}");
    }
}
