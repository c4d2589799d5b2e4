//! The box's size, its one buffer of captured text, and tapes resolved to JSON in place.

use super::*;
use std::sync::Arc;

#[test]
fn extras_stay_small() {
    // One allocation per span for what it captured: small captures inline.
    // And no larger than it is: 16 bytes more cost capturing spans 4.5 ns each
    // (`hot`, bursts of 4 000), a larger allocation for every box.
    assert!(
        std::mem::size_of::<Extras>() <= 480,
        "{}",
        std::mem::size_of::<Extras>()
    );
}

/// Tapes are written as JSON in place; a big tape is not kept beside its JSON, and
/// what else the span captured is untouched.
#[test]
fn resolving_tapes_keeps_only_the_json() {
    let o = staso_types::Options::new()
        .api_key("record-test-key")
        .agent_name("t")
        .capture_git(false);
    let env = std::collections::HashMap::<String, String>::new();
    let cfg = Arc::new(crate::config::resolve(&o, &env).expect("config"));
    let rules = capture::TapeRules::of(&cfg);
    let big = "b".repeat(1_000);
    let input = capture::input_tape(rules, None, None, |i| {
        i.arg("doc", |o| o.serialize(&big));
    });
    let output = capture::result_tape(rules, None, |o| o.serialize(&7));
    let mut e = Extras::default();
    e.set_metadata("team", r#""cx""#, None);
    e.set_input_tape(input.tape(), None);
    e.push_tag("beta", None);
    e.set_output_tape(output.tape(), None);
    assert!(e.has_tapes());
    e.resolve(&RulesHandle::Shared(cfg));
    assert!(!e.has_tapes());
    let want = format!(r#"{{"doc":"{big}"}}"#);
    assert_eq!(e.input(), Some(want.as_str()));
    assert_eq!(e.output(), Some(r#"{"result":7}"#));
    assert_eq!(
        e.metadata().collect::<Vec<_>>(),
        vec![("team", r#""cx""#, None)]
    );
    assert_eq!(e.tags().collect::<Vec<_>>(), vec!["beta"]);
    let live = want.len() + r#"{"result":7}"#.len() + "team".len() + 4 + "beta".len();
    assert_eq!(e.text.len(), live, "only the live text is kept");
}

#[test]
fn captured_text_lives_in_one_buffer() {
    let mut e = Extras::default();
    e.set_input(r#"{"q":"a"}"#, None);
    e.set_metadata("team", r#""cx""#, None);
    e.set_metadata("team", r#""search""#, Some(900));
    e.push_tag("beta", None);
    e.set_output(r#"{"result":1}"#, Some(12));
    assert_eq!(e.input(), Some(r#"{"q":"a"}"#));
    assert_eq!(e.output(), Some(r#"{"result":1}"#));
    let meta: Vec<_> = e.metadata().collect();
    assert_eq!(meta, vec![("team", r#""search""#, Some(900))]);
    assert_eq!(e.tags().collect::<Vec<_>>(), vec!["beta"]);
    assert_eq!(e.truncated().collect::<Vec<_>>(), vec![(Field::Output, 12)]);
    assert!(!e.text.spilled(), "small captures stay inline");
}
