//! The encoder's tests.

use super::*;
use crate::local::clock::Stamp;
use crate::local::record::SharedStr;
use serde_json::json;
use staso_types::{Options, SpanId, Status, TraceId};

static TOOL: CallSite = CallSite {
    name: "lookup \"orders\"",
    kind: Kind::Tool,
    function: "lookup",
    module_path: "app::tools",
    file: "src/tools.rs",
    line: 12,
    tags: &["billing", "read\"only"],
    capture_input: true,
    capture_output: true,
    decided: crate::__private::SiteDecision::NEW,
};

/// A configuration from options alone (no environment, no git).
fn config() -> Config {
    let env: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    crate::config::resolve(
        &Options::new()
            .api_key("unit-test-key")
            .agent_name("t")
            .capture_git(false),
        &env,
    )
    .expect("config")
}

fn record(parent: Option<u64>, callsite: Option<&'static CallSite>) -> SpanRecord {
    SpanRecord {
        trace_id: TraceId::from_u128(7).expect("non-zero"),
        span_id: SpanId::from_u64(9).expect("non-zero"),
        parent: parent.and_then(SpanId::from_u64),
        start: Stamp(1_764_000_000_000_000_000),
        end: Stamp(1_764_000_000_001_000_000),
        name: SharedStr::Static("lookup"),
        kind: Kind::Tool,
        status: Status::Ok,
        provisional: false,
        discarded: false,
        callsite,
        agent: None,
        conversation: None,
        extras: None,
        tape_bytes: 0,
    }
}

/// Ids are written as the `uuid` crate writes them.
#[test]
fn ids_are_written_as_uuids() {
    let mut rng = fastrand::Rng::with_seed(3);
    for v in [
        0,
        1,
        u128::MAX,
        u128::from(u64::MAX),
        0x0123_4567_89ab_cdef << 64,
    ]
    .into_iter()
    .chain((0..1_000).map(|_| rng.u128(..)))
    {
        let want = uuid::Uuid::from_u128(v).hyphenated().to_string();
        let (mut plain, mut quoted) = (String::from("x"), String::new());
        push_uuid(&mut plain, v);
        push_uuid_json(&mut quoted, v);
        assert_eq!(plain, format!("x{want}"));
        assert_eq!(quoted, format!("\"{want}\""));
    }
}

/// The constant LLM fields of a span that is not an LLM call, and the empty `input`
/// and `output`, are what the general writers write; an LLM span, a provisional copy
/// and a span with any LLM field take the general path and say so.
#[test]
fn the_constant_parts_are_what_the_general_writers_write() {
    let empty = crate::local::record::Llm::EMPTY;
    assert!(empty.is_empty());
    let mut slow = String::new();
    write_llm_fields(&mut slow, &record(Some(3), None), &empty);
    assert_eq!(NOT_LLM, slow);
    let mut slow = String::from(",\"input\":");
    push_str_json(&mut slow, "");
    slow.push_str(",\"output\":");
    push_str_json(&mut slow, "");
    assert_eq!(NOTHING_CAPTURED, slow);

    let cfg = config();
    let fields = |r: &SpanRecord| -> Value {
        let mut out = String::new();
        SpanWriter::new(&cfg).write(&mut out, r);
        serde_json::from_str(&out).expect("JSON")
    };
    let mut llm = record(Some(3), None);
    llm.kind = Kind::Llm;
    assert_eq!(fields(&llm)["usage_available"], json!(false));
    let mut provisional = record(None, None);
    provisional.provisional = true;
    assert_eq!(fields(&provisional)["usage_available"], json!(false));
    let mut tokens = record(Some(3), None);
    tokens.extras().llm.input_tokens = 5;
    assert!(!tokens.extras().llm.is_empty());
    assert_eq!(fields(&tokens)["input_tokens"], json!(5));
    let plain = fields(&record(Some(3), None));
    assert_eq!(plain["usage_available"], json!(null));
    assert_eq!(
        (plain["input"].clone(), plain["output"].clone()),
        (json!(""), json!(""))
    );
}

/// A plain span written from [`Plain`] is what the general path writes, byte for
/// byte: spans of several call sites, kinds, statuses, names (escaped) and agents, in
/// runs and interleaved (the text kept, then replaced), with names captured or not;
/// roots, provisional copies and spans in a conversation take the general path.
#[test]
fn a_plain_span_from_its_kept_text_is_what_the_general_path_writes() {
    static OTHER: CallSite = CallSite {
        name: "other",
        kind: Kind::Chain,
        function: "other",
        module_path: "app",
        file: "src/app.rs",
        line: 3,
        tags: &[],
        capture_input: false,
        capture_output: false,
        decided: crate::__private::SiteDecision::NEW,
    };
    let env: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let no_names = crate::config::resolve(
        &Options::new()
            .api_key("unit-test-key")
            .agent_name("t \"quoted\"")
            .capture_git(false)
            .capture_request(false),
        &env,
    )
    .expect("config");
    let mut rng = fastrand::Rng::with_seed(9);
    for cfg in [config(), no_names] {
        let (mut fast, mut general) = (SpanWriter::new(&cfg), SpanWriter::new(&cfg));
        general.fast = false;
        for i in 0..2_000u64 {
            let cs = [Some(&TOOL), Some(&OTHER), None][rng.usize(..3)];
            let mut r = record(Some(3 + i), cs);
            r.span_id = SpanId::from_u64(rng.u64(1..)).expect("non-zero");
            r.start = Stamp(1_764_000_000_000_000_000 + i * 7_654_321);
            r.end = Stamp(r.start.0 + rng.u64(..5_000_000_000));
            r.kind = [Kind::Tool, Kind::Llm, Kind::Chain, Kind::Agent][rng.usize(..4)];
            r.status = [Status::Ok, Status::Error, Status::Timeout][rng.usize(..3)];
            r.name = [
                SharedStr::Static("lookup"),
                SharedStr::Static("say \"hi\"\n"),
                SharedStr::Shared("lookup".into()),
            ][rng.usize(..3)]
            .clone();
            r.agent = [
                None,
                Some(SharedStr::Static("agent \\ x")),
                Some(SharedStr::Shared("a".into())),
            ][rng.usize(..3)]
            .clone();
            match rng.u8(..20) {
                0 => r.parent = None,
                1 => r.provisional = true,
                2 => {
                    r.conversation = Some(std::sync::Arc::new(crate::local::record::Conversation {
                        session_id: "s\"1".into(),
                        user_id: Some("u".into()),
                    }))
                }
                _ => {}
            }
            // Runs of the same span's text, then a change.
            for _ in 0..rng.usize(1..4) {
                let (mut a, mut b) = (String::new(), String::new());
                fast.write(&mut a, &r);
                general.write(&mut b, &r);
                assert_eq!(a, b, "span {i}");
            }
        }
        assert!(!fast.plain.is_empty(), "the fast path was taken");
    }
}

/// A plain span's `attributes` come from its call site's cached text; the same span
/// with (empty) extras takes the general path. Both, first and second time, write the
/// same bytes, for spans with and without a call site.
#[test]
fn a_call_sites_cached_attributes_are_what_the_general_path_writes() {
    let cfg = config();
    for cs in [Some(&TOOL), None] {
        let plain = record(Some(3), cs);
        let mut general = record(Some(3), cs);
        general.extras();
        let mut w = SpanWriter::new(&cfg);
        let (mut a, mut b, mut c) = (String::new(), String::new(), String::new());
        w.write(&mut a, &plain);
        w.write(&mut b, &plain);
        w.write(&mut c, &general);
        assert_eq!(a, c, "{cs:?}");
        assert_eq!(b, c, "{cs:?}");
        let v: Value = serde_json::from_str(&a).expect("JSON");
        let attrs: Value =
            serde_json::from_str(v["attributes"].as_str().expect("a string")).expect("JSON");
        if cs.is_some() {
            assert_eq!(attrs["tags"], json!(["billing", "read\"only"]), "{attrs}");
            assert_eq!(attrs["tool_name"], json!("lookup \"orders\""), "{attrs}");
        } else {
            assert_eq!(attrs, json!({}));
        }
    }
}
