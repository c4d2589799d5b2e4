//! Plain functions: names, kinds, inputs, outputs, `return`, `?`, code location.

use crate::{input, result};
use serde_json::json;
use staso::testing::{capture, capture_with};

#[staso::tool]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[staso::tool(name = "stripe.refund")]
fn refund(charge: &str, cents: u64) -> u64 {
    let _ = charge;
    cents
}

#[staso::trace]
fn step(x: i64) -> i64 {
    x * 2
}

#[staso::trace(kind = "retriever")]
fn retrieve(query: &str) -> Vec<String> {
    vec![query.to_uppercase()]
}

#[staso::trace(kind = "llm")]
fn llm() {}

#[staso::trace(kind = "custom")]
fn custom() {}

#[staso::trace(kind = "tool")]
fn trace_tool() {}

#[staso::trace(kind = "agent")]
fn trace_agent() {}

#[staso::trace(kind = "chain")]
fn chain() {}

#[staso::agent]
fn plain_agent(question: &str) -> usize {
    question.len()
}

#[staso::agent(name = "billing-agent", tags = ["v2"], metadata(team = "billing", tier = 2), capture_input = false, capture_output = false)]
fn billing(ticket: u64) -> u64 {
    ticket
}

#[test]
fn tool_span_has_name_kind_input_output() {
    let (v, spans) = capture(|| add(2, 3));
    assert_eq!(v, 5);
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    assert_eq!(s.name(), "add");
    assert_eq!(s.kind(), "tool");
    assert_eq!(s.status(), "ok");
    assert_eq!(input(s), json!({"a": 2, "b": 3}));
    assert_eq!(s.output(), Some(json!({"result": 5})));
    assert_eq!(s.attribute("tool_name"), Some(json!("add")));
}

#[test]
fn tool_name_overrides_span_and_tool_name() {
    let (_, spans) = capture(|| refund("ch_1", 250));
    let s = spans.named("stripe.refund");
    assert_eq!(s.kind(), "tool");
    assert_eq!(s.attribute("tool_name"), Some(json!("stripe.refund")));
    assert_eq!(s.attribute("code.function"), Some(json!("refund")));
    assert_eq!(input(s), json!({"charge": "ch_1", "cents": 250}));
}

#[test]
fn trace_is_chain_by_default_and_takes_every_kind() {
    let (_, spans) = capture(|| {
        step(4);
        retrieve("q");
        llm();
        custom();
        trace_tool();
        trace_agent();
        chain();
    });
    assert_eq!(spans.named("step").kind(), "chain");
    assert_eq!(result(spans.named("step")), json!(8));
    assert_eq!(spans.named("retrieve").kind(), "retriever");
    assert_eq!(result(spans.named("retrieve")), json!(["Q"]));
    assert_eq!(spans.named("llm").kind(), "llm");
    assert_eq!(spans.named("custom").kind(), "custom");
    assert_eq!(spans.named("trace_tool").kind(), "tool");
    assert_eq!(spans.named("trace_agent").kind(), "agent");
    assert_eq!(spans.named("chain").kind(), "chain");
}

#[test]
fn agent_input_starts_with_agent_name() {
    let (_, spans) = capture(|| plain_agent("hello"));
    let s = spans.named("plain_agent");
    assert_eq!(s.kind(), "agent");
    assert_eq!(
        input(s),
        json!({"agent_name": "plain_agent", "question": "hello"})
    );
    assert_eq!(s.agent_name(), "plain_agent");
    assert_eq!(result(s), json!(5));
}

#[test]
fn agent_with_every_key() {
    let (v, spans) = capture(|| billing(7));
    assert_eq!(v, 7);
    let s = spans.named("billing-agent");
    assert_eq!(s.kind(), "agent");
    assert_eq!(s.agent_name(), "billing-agent");
    // capture_input = false: no argument; capture_output = false: no output.
    assert_eq!(s.input(), None);
    assert_eq!(s.output(), None);
    assert_eq!(s.attribute("team"), Some(json!("billing")));
    assert_eq!(s.attribute("tier"), Some(json!(2)));
    assert_eq!(s.attribute("tags"), Some(json!(["v2"])));
}

#[test]
fn code_location_is_the_function() {
    let (_, spans) = capture(|| add(1, 1));
    let s = &spans[0];
    assert_eq!(s.attribute("code.function"), Some(json!("add")));
    assert_eq!(
        s.attribute("code.filepath"),
        Some(json!("tests/macros/tests/behaviour/sync_fns.rs"))
    );
    // `fn add` is on line 8 of this file.
    assert_eq!(s.attribute("code.lineno"), Some(json!(8)));
}

#[staso::trace(skip(secret, client))]
fn skipping(query: &str, secret: &str, client: u8) -> usize {
    query.len() + secret.len() + client as usize
}

#[test]
fn skip_leaves_out_single_arguments() {
    let (_, spans) = capture(|| skipping("q", "hunter2", 1));
    assert_eq!(input(&spans[0]), json!({"query": "q"}));
}

#[staso::trace]
fn patterns((a, b): (u8, u8), _: u8, Pair { left, right: r }: Pair, _ignored: u8) -> u8 {
    a + b + left + r
}

struct Pair {
    left: u8,
    right: u8,
}

#[test]
fn pattern_arguments_capture_their_bindings() {
    let (v, spans) = capture(|| patterns((1, 2), 9, Pair { left: 3, right: 4 }, 5));
    assert_eq!(v, 10);
    assert_eq!(
        input(&spans[0]),
        json!({"a": 1, "b": 2, "left": 3, "r": 4, "_ignored": 5})
    );
}

#[staso::trace]
fn early(x: i32) -> &'static str {
    if x < 0 {
        return "negative";
    }
    for i in 0..x {
        if i == 3 {
            return "three";
        }
    }
    "small"
}

#[test]
fn early_return_is_the_output() {
    let (_, spans) = capture(|| {
        assert_eq!(early(-1), "negative");
        assert_eq!(early(10), "three");
        assert_eq!(early(1), "small");
    });
    let outs: Vec<_> = spans.iter().map(result).collect();
    assert_eq!(
        outs,
        vec![json!("negative"), json!("three"), json!("small")]
    );
}

#[staso::trace]
fn question_mark(s: &str) -> Result<i32, std::num::ParseIntError> {
    let n: i32 = s.parse()?;
    Ok(n + 1)
}

#[staso::trace]
fn question_mark_converts(s: &str) -> Result<i32, Box<dyn std::error::Error>> {
    let n: i32 = s.parse()?;
    Ok(n)
}

#[staso::trace]
fn option_question_mark(v: &[u8]) -> Option<u8> {
    let first = v.first()?;
    Some(first + 1)
}

#[test]
fn question_mark_keeps_its_meaning() {
    let (_, spans) = capture(|| {
        assert_eq!(question_mark("41"), Ok(42));
        assert!(question_mark("x").is_err());
        assert!(question_mark_converts("x").is_err());
        assert_eq!(option_question_mark(&[]), None);
        assert_eq!(option_question_mark(&[1]), Some(2));
    });
    assert_eq!(spans[0].status(), "ok");
    assert_eq!(result(&spans[0]), json!(42));
    assert_eq!(spans[1].status(), "error");
    assert_eq!(
        spans[1].error_message(),
        Some("invalid digit found in string")
    );
    assert_eq!(spans[2].status(), "error");
    assert_eq!(result(&spans[3]), json!(null));
    assert_eq!(result(&spans[4]), json!(2));
}

#[staso::trace]
fn unit(_x: u8) {}

#[test]
fn unit_result_is_null() {
    let (_, spans) = capture(|| unit(1));
    assert_eq!(result(&spans[0]), json!(null));
}

#[staso::trace]
fn generic<T: Clone + std::fmt::Debug>(items: &[T], extra: impl Into<String>) -> Vec<T> {
    let _ = extra.into();
    items.to_vec()
}

#[test]
fn generic_and_impl_trait_arguments() {
    let (v, spans) = capture(|| generic(&[1u8, 2], "x"));
    assert_eq!(v, vec![1, 2]);
    let s = &spans[0];
    // `T` is only known to be Debug inside the function: its Debug text is captured.
    assert_eq!(input(s)["items"], json!("[1, 2]"));
    // `impl Into<String>` is neither: a placeholder naming the type.
    assert!(
        input(s)["extra"]
            .as_str()
            .is_some_and(|p| p.starts_with('<')),
        "{}",
        input(s)
    );
    assert_eq!(result(s), json!("[1, 2]"));
}

#[staso::tool]
fn refs<'a>(a: &'a str, b: &mut Vec<u8>) -> &'a str {
    b.push(1);
    a
}

#[test]
fn borrowed_arguments_and_results() {
    let mut v = vec![];
    let (out, spans) = capture(|| refs("hi", &mut v));
    assert_eq!(out, "hi");
    assert_eq!(v, vec![1]);
    assert_eq!(input(&spans[0]), json!({"a": "hi", "b": []}));
}

#[staso::tool]
#[allow(clippy::needless_return)]
fn mut_args(mut n: u32, mut v: Vec<u32>) -> u32 {
    n += 1;
    v.push(n);
    return v.iter().sum();
}

#[test]
fn mut_arguments() {
    let (out, _) = capture(|| mut_args(1, vec![10]));
    assert_eq!(out, 12);
}

#[test]
fn capture_switched_off_by_options_means_nothing_captured() {
    let o = staso::Options::new()
        .capture_tool_arguments(false)
        .capture_output(false);
    let (_, spans) = capture_with(o, || add(1, 2));
    let s = &spans[0];
    assert_eq!(s.output(), None);
    assert!(
        s.input().and_then(|i| i.get("a").cloned()).is_none(),
        "{}",
        s.json()
    );
}

#[test]
fn outside_a_capture_nothing_is_recorded_and_results_are_unchanged() {
    assert_eq!(add(1, 2), 3);
    assert_eq!(question_mark("1"), Ok(2));
}

#[staso::trace]
#[track_caller]
fn caller_line() -> u32 {
    std::panic::Location::caller().line()
}

#[test]
fn track_caller_still_sees_the_caller() {
    let ((seen, here), spans) = capture(|| (caller_line(), line!()));
    assert_eq!(seen, here);
    assert_eq!(spans[0].name(), "caller_line");
}
