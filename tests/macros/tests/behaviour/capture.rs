//! How values are captured: JSON for `Serialize`, `Debug` text, or a placeholder.

use crate::{input, result};
use serde::Serialize;
use serde_json::json;
use staso::testing::capture;

#[derive(Serialize, Debug, Clone)]
struct Order {
    id: u64,
    items: Vec<String>,
}

#[derive(Debug)]
struct DebugOnly {
    #[allow(dead_code)]
    secret_sauce: u8,
}

struct Opaque;

#[staso::tool]
fn take(order: Order, dbg: DebugOnly, opaque: Opaque) -> Order {
    let _ = (dbg, opaque);
    order
}

#[test]
fn serialize_then_debug_then_placeholder() {
    let o = Order {
        id: 7,
        items: vec!["a".into()],
    };
    let (_, spans) = capture(|| take(o.clone(), DebugOnly { secret_sauce: 1 }, Opaque));
    let i = input(&spans[0]);
    assert_eq!(i["order"], json!({"id": 7, "items": ["a"]}));
    // `secret_*` is a secret-looking key, inside `Debug` text too.
    assert_eq!(i["dbg"], json!("DebugOnly { secret_sauce: [REDACTED] }"));
    let p = i["opaque"].as_str().expect("placeholder");
    assert!(p.contains("Opaque"), "{p}");
    assert_eq!(result(&spans[0]), json!({"id": 7, "items": ["a"]}));
}

#[staso::tool]
fn opaque_out() -> Opaque {
    Opaque
}

#[test]
fn opaque_result_is_a_placeholder() {
    let (_, spans) = capture(opaque_out);
    assert!(result(&spans[0])
        .as_str()
        .is_some_and(|p| p.contains("Opaque")));
}

const TIER: u8 = 3;

#[staso::trace(tags = ["a", "b"], metadata(team = "search", tier = TIER, "ratio.max" = 0.5, beta = true))]
fn tagged() {}

#[test]
fn tags_and_metadata_are_attributes() {
    let (_, spans) = capture(tagged);
    let s = &spans[0];
    assert_eq!(s.attribute("team"), Some(json!("search")));
    assert_eq!(s.attribute("tier"), Some(json!(3)));
    assert_eq!(s.attribute("ratio.max"), Some(json!(0.5)));
    assert_eq!(s.attribute("beta"), Some(json!(true)));
    assert_eq!(s.attribute("tags"), Some(json!(["a", "b"])));
}

#[staso::trace(capture_input = false)]
fn no_input(secret: &str) -> usize {
    secret.len()
}

#[staso::trace(capture_output = false)]
fn no_output(x: u8) -> u8 {
    x
}

#[staso::tool(capture_output = false)]
fn no_output_fallible(x: u8) -> Result<u8, String> {
    if x == 0 {
        Err("zero".to_owned())
    } else {
        Ok(x)
    }
}

#[staso::tool(capture_output = false)]
async fn no_output_async(x: u8) -> Result<u8, String> {
    if x == 0 {
        Err("zero".to_owned())
    } else {
        Ok(x)
    }
}

#[test]
fn without_output_capture_an_err_is_still_recorded() {
    // The attributes emit no code for the result when `capture_output = false`; the
    // `Err` arm stays.
    let (_, spans) = capture(|| {
        let _ = no_output_fallible(1);
        let _ = no_output_fallible(0);
    });
    assert_eq!(spans.len(), 2);
    let (ok, err) = (&spans[0], &spans[1]);
    assert_eq!(input(ok), json!({"x": 1}));
    assert_eq!((ok.status(), ok.output()), ("ok", None));
    assert_eq!((err.status(), err.output()), ("error", None));
    assert_eq!(err.error_message(), Some("zero"));
}

#[tokio::test]
async fn without_output_capture_an_async_err_is_still_recorded() {
    let (_, ok) = staso::testing::capture_future(no_output_async(1)).await;
    let (_, err) = staso::testing::capture_future(no_output_async(0)).await;
    let (ok, err) = (ok.named("no_output_async"), err.named("no_output_async"));
    assert_eq!((ok.status(), ok.output()), ("ok", None));
    assert_eq!((err.status(), err.output()), ("error", None));
    assert_eq!(err.error_message(), Some("zero"));
}

#[test]
fn per_function_capture_switches() {
    let (_, spans) = capture(|| {
        no_input("pw");
        no_output(1);
    });
    let i = spans.named("no_input").input();
    assert!(i.and_then(|i| i.get("secret").cloned()).is_none());
    assert_eq!(result(spans.named("no_input")), json!(2));
    assert_eq!(input(spans.named("no_output")), json!({"x": 1}));
    assert_eq!(spans.named("no_output").output(), None);
}

#[staso::agent(metadata(team = "search"))]
fn helper_agent() -> u8 {
    5
}

#[staso::trace]
fn calls_agent() -> u8 {
    helper_agent()
}

/// An agent without arguments: its name is its input, stored after its metadata (so into
/// a record that already holds something), beside its result.
#[test]
fn an_agents_name_is_its_input_beside_its_metadata_and_result() {
    let (_, spans) = capture(calls_agent);
    let a = spans.named("helper_agent");
    assert_eq!(input(a), json!({"agent_name": "helper_agent"}));
    assert_eq!(a.attribute("team"), Some(json!("search")));
    assert_eq!(result(a), json!(5));
}

/// Serializes as the doubled value, computed by an instrumented function: a span that
/// opens and captures while the result of another is being recorded.
struct Doubled(u8);

impl Serialize for Doubled {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(double(self.0))
    }
}

#[staso::tool]
fn double(x: u8) -> u8 {
    x * 2
}

#[staso::tool]
fn doubled(x: u8, label: &str) -> Doubled {
    let _ = label;
    Doubled(x)
}

#[test]
fn a_span_captured_while_a_result_is_recorded_keeps_its_own_documents() {
    let (_, spans) = capture(|| {
        doubled(3, "three");
    });
    let outer = spans.named("doubled");
    assert_eq!(input(outer), json!({"x": 3, "label": "three"}));
    assert_eq!(result(outer), json!(6));
    let inner = spans.named("double");
    assert_eq!(input(inner), json!({"x": 3}));
    assert_eq!(result(inner), json!(6));
}

#[staso::tool(metadata(team = "search"))]
fn lookup_with_metadata(q: &str, n: u8) -> u8 {
    n + q.len() as u8
}

#[staso::tool]
fn lookup_overriding_input(q: &str) -> usize {
    staso::current_span().set_input(&json!({ "rewritten": q.to_uppercase() }));
    q.len()
}

#[staso::tool]
fn lookup_overriding_output(q: &str) -> usize {
    staso::current_span().set_output(&"from the body");
    q.len()
}

#[staso::tool]
fn lookup_failing(q: &str) -> Result<u8, String> {
    Err(format!("no {q}"))
}

#[staso::agent]
fn runs_lookups() {
    lookup_with_metadata("a", 1);
    lookup_overriding_input("b");
    lookup_overriding_output("c");
    let _ = lookup_failing("d");
}

/// A call nested in another span keeps what it captured of its arguments and result
/// until it ends: what the attribute and the body set on the span meanwhile stays beside
/// them, and the later of two values for the same field wins (the body's input, set
/// after the arguments; the result, recorded after the body).
#[test]
fn a_nested_call_keeps_its_documents_beside_what_its_attribute_and_body_set() {
    let (_, spans) = capture(runs_lookups);
    let m = spans.named("lookup_with_metadata");
    assert_eq!(input(m), json!({ "q": "a", "n": 1 }));
    assert_eq!(result(m), json!(2));
    assert_eq!(m.attribute("team"), Some(json!("search")));
    let i = spans.named("lookup_overriding_input");
    assert_eq!(input(i), json!({ "rewritten": "B" }));
    assert_eq!(result(i), json!(1));
    let o = spans.named("lookup_overriding_output");
    assert_eq!(input(o), json!({ "q": "c" }));
    assert_eq!(result(o), json!(1));
    let f = spans.named("lookup_failing");
    assert_eq!(input(f), json!({ "q": "d" }));
    assert_eq!(f.status(), "error");
    assert_eq!(f.error_message(), Some("no d"));
}

#[staso::tool]
fn lookup_panicking(q: &str) -> usize {
    if !q.is_empty() {
        panic!("index missing for {q}");
    }
    0
}

#[staso::agent]
fn runs_a_panicking_lookup() -> bool {
    std::panic::catch_unwind(|| lookup_panicking("e")).is_err()
}

/// A call that panics still sends its arguments, with the panic as its error.
#[test]
fn a_nested_call_that_panics_keeps_its_arguments() {
    let (panicked, spans) = capture(runs_a_panicking_lookup);
    assert!(panicked);
    let p = spans.named("lookup_panicking");
    assert_eq!(input(p), json!({ "q": "e" }));
    assert_eq!(p.status(), "error");
    assert!(
        p.error_message()
            .is_some_and(|m| m.contains("index missing for e")),
        "{}",
        p.json()
    );
}
