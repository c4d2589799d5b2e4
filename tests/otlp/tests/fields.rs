//! Every field of a span as an OTLP receiver decodes it with OpenTelemetry's own messages:
//! ids and parentage, names, kinds, times, status and error, resource and scope, the GenAI
//! attribute names, content under the capture policy (off: absent) and redaction; in
//! protobuf and in OTLP JSON, configured through the options or the `OTEL_*` variables.

use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::Span;
use staso::llm::{LlmCall, Reply, Usage};
use staso::{span, Kind, Options, OtlpProtocol, SpanId, TraceId};
use staso_otlp_tests::{attr, int_attr, serial, str_attr, Received, Receiver};
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECRET: &str = "sk-proj-abcdefghijklmnopqrst";
const WAIT: Duration = Duration::from_secs(20);

#[staso::tool]
fn lookup_order(order: &str) -> String {
    format!("order {order}: shipped")
}

/// The ids of what `run` produced, to find each span among those received.
struct Made {
    trace: TraceId,
    agent: SpanId,
    llm: SpanId,
    failed: SpanId,
}

/// An agent span holding an LLM call, a tool call (through the attribute) and a failed
/// step.
fn run() -> Made {
    let mut agent = span("triage", Kind::Agent);
    agent.set_input(&serde_json::json!({"ticket": 42}));
    let (trace, agent_id) = (
        agent.trace_id().expect("recording"),
        agent.span_id().expect("recording"),
    );
    let call = LlmCall::new("openai", "gpt-4o")
        .system("Be terse.")
        .user(format!("Where is order 7? my key is {SECRET}"))
        .param("temperature", &0.2)
        .start();
    let llm = call.span_id().expect("recording");
    call.finish(
        Reply::new()
            .model("gpt-4o-2024-08-06")
            .content("It shipped.")
            .finish_reason("stop")
            .response_id("resp_1")
            .usage(Usage::new(57, 17)),
    )
    .expect("no guard check without the Staso ingest");
    lookup_order("7");
    let failed = {
        let mut s = span("refund", Kind::Custom);
        s.set_error("refund service said no");
        s.span_id().expect("recording")
    };
    agent.set_output(&"done");
    drop(agent);
    Made {
        trace,
        agent: agent_id,
        llm,
        failed,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn by_id(spans: &[Span]) -> HashMap<String, &Span> {
    spans.iter().map(|s| (hex(&s.span_id), s)).collect()
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos() as u64
}

fn options(r: &Receiver) -> Options {
    Options::new()
        .agent_name("support-bot")
        .agent_version("1.2.3")
        .environment("staging")
        .staso_ingest(false)
        .otlp_endpoint(r.url())
        .capture_git(false)
        .flush_interval(Duration::from_millis(50))
}

/// Runs the scenario under `options` and returns what the receiver took, and the ids.
fn scenario(r: &Receiver, options: Options, env: &[(&str, &str)]) -> (Vec<Received>, Made) {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let client = staso::testing::init_with_env(options, &env).expect("init");
    let before = now_ns();
    let made = run();
    let report = client.flush(WAIT);
    let after = now_ns();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.delivered, 4, "{report:?}");
    let otlp = report.destination("otlp").expect("an otlp destination");
    assert_eq!((otlp.delivered, otlp.failed, otlp.pending), (4, 0, 0));
    assert!(report.destination("staso").is_none(), "{report:?}");
    r.wait_for_spans(4, WAIT);
    let received = r.requests();
    for s in received.iter().flat_map(Received::spans) {
        assert!(
            before <= s.start_time_unix_nano
                && s.start_time_unix_nano <= s.end_time_unix_nano
                && s.end_time_unix_nano <= after,
            "times within the run: {before} <= {} <= {} <= {after}",
            s.start_time_unix_nano,
            s.end_time_unix_nano
        );
    }
    client.shutdown(WAIT);
    (received, made)
}

/// What holds whatever the encoding: ids, names, kinds, status, resource, scope, GenAI.
fn check_full_capture(received: &[Received], made: &Made, content_type: &str) {
    assert!(!received.is_empty());
    for r in received {
        assert_eq!(r.path, "/v1/traces");
        assert_eq!(r.header("content-type"), Some(content_type));
        let req = r
            .request
            .as_ref()
            .expect("a valid ExportTraceServiceRequest");
        assert_eq!(req.resource_spans.len(), 1);
        let rs = &req.resource_spans[0];
        let res = &rs.resource.as_ref().expect("resource").attributes;
        assert_eq!(str_attr(res, "service.name"), Some("support-bot"));
        assert_eq!(str_attr(res, "service.version"), Some("1.2.3"));
        assert_eq!(
            str_attr(res, "deployment.environment.name"),
            Some("staging")
        );
        assert_eq!(str_attr(res, "telemetry.sdk.name"), Some("staso"));
        assert_eq!(str_attr(res, "telemetry.sdk.language"), Some("rust"));
        assert_eq!(str_attr(res, "telemetry.sdk.version"), Some(staso::VERSION));
        let scope = rs.scope_spans[0].scope.as_ref().expect("scope");
        assert_eq!(
            (scope.name.as_str(), scope.version.as_str()),
            ("staso", staso::VERSION)
        );
    }
    let spans: Vec<Span> = received.iter().flat_map(Received::spans).collect();
    assert_eq!(spans.len(), 4, "{spans:#?}");
    let ids = by_id(&spans);
    for s in &spans {
        assert_eq!(hex(&s.trace_id), made.trace.to_w3c(), "one trace");
        assert_eq!(s.flags & 0xff, 1, "sampled");
    }
    let agent = ids[&made.agent.to_w3c()];
    assert_eq!(agent.name, "triage");
    assert!(agent.parent_span_id.is_empty(), "the root has no parent");
    assert_eq!(agent.kind, SpanKind::Internal as i32);
    assert!(agent.status.as_ref().map_or(0, |s| s.code) == StatusCode::Unset as i32);
    assert_eq!(
        str_attr(&agent.attributes, "gen_ai.operation.name"),
        Some("invoke_agent")
    );
    // The agent a span runs under is the innermost agent span: here, itself.
    assert_eq!(
        str_attr(&agent.attributes, "gen_ai.agent.name"),
        Some("triage")
    );
    assert_eq!(str_attr(&agent.attributes, "staso.kind"), Some("agent"));
    assert_eq!(
        str_attr(&agent.attributes, "staso.input"),
        Some(r#"{"ticket":42}"#)
    );
    assert_eq!(
        str_attr(&agent.attributes, "staso.output"),
        Some(r#""done""#)
    );
    for s in spans.iter().filter(|s| s.span_id != agent.span_id) {
        assert_eq!(hex(&s.parent_span_id), made.agent.to_w3c(), "{}", s.name);
    }

    let llm = ids[&made.llm.to_w3c()];
    let a = &llm.attributes;
    assert_eq!(
        llm.kind,
        SpanKind::Client as i32,
        "a model call is a client span"
    );
    assert_eq!(str_attr(a, "gen_ai.operation.name"), Some("chat"));
    assert_eq!(str_attr(a, "gen_ai.provider.name"), Some("openai"));
    assert_eq!(str_attr(a, "gen_ai.request.model"), Some("gpt-4o"));
    assert_eq!(
        str_attr(a, "gen_ai.response.model"),
        Some("gpt-4o-2024-08-06")
    );
    assert_eq!(str_attr(a, "gen_ai.response.id"), Some("resp_1"));
    assert_eq!(int_attr(a, "gen_ai.usage.input_tokens"), Some(57));
    assert_eq!(int_attr(a, "gen_ai.usage.output_tokens"), Some(17));
    assert_eq!(
        attr(a, "gen_ai.request.temperature"),
        Some(&V::DoubleValue(0.2))
    );
    match attr(a, "gen_ai.response.finish_reasons") {
        Some(V::ArrayValue(list)) => {
            assert_eq!(list.values.len(), 1);
            assert_eq!(list.values[0].value, Some(V::StringValue("stop".into())));
        }
        other => panic!("finish reasons: {other:?}"),
    }
    let input = str_attr(a, "gen_ai.input.messages").expect("input messages");
    let input: serde_json::Value = serde_json::from_str(input).expect("JSON messages");
    assert!(input.is_array(), "{input}");
    let text = input.to_string();
    assert!(text.contains("Where is order 7?"), "{text}");
    assert!(
        text.contains(staso::REDACTED) && !text.contains(SECRET),
        "redacted: {text}"
    );
    assert_eq!(
        input[0],
        serde_json::json!({"role": "system", "content": "Be terse."})
    );
    assert_eq!(input[1]["role"], "user");
    assert_eq!(str_attr(a, "gen_ai.system"), Some("openai"));
    let output = str_attr(a, "gen_ai.output.messages").expect("output messages");
    let output: serde_json::Value = serde_json::from_str(output).expect("JSON messages");
    assert!(
        output.is_array() && output.to_string().contains("It shipped."),
        "{output}"
    );

    let tool = spans
        .iter()
        .find(|s| s.name == "lookup_order")
        .expect("the tool span");
    let t = &tool.attributes;
    assert_eq!(tool.kind, SpanKind::Internal as i32);
    assert_eq!(str_attr(t, "gen_ai.operation.name"), Some("execute_tool"));
    assert_eq!(str_attr(t, "gen_ai.tool.name"), Some("lookup_order"));
    assert_eq!(str_attr(t, "code.function"), Some("lookup_order"));
    assert!(str_attr(t, "code.filepath").is_some_and(|f| f.ends_with("fields.rs")));
    let args = str_attr(t, "gen_ai.tool.call.arguments").expect("arguments");
    assert!(args.contains("\"7\""), "{args}");
    assert_eq!(
        str_attr(t, "gen_ai.tool.call.result"),
        Some(r#"{"result":"order 7: shipped"}"#)
    );

    let failed = ids[&made.failed.to_w3c()];
    assert_eq!(failed.name, "refund");
    let status = failed.status.as_ref().expect("a status");
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "refund service said no");
    assert!(str_attr(&failed.attributes, "error.type").is_some());
    let event = &failed.events[0];
    assert_eq!(event.name, "exception");
    assert_eq!(
        str_attr(&event.attributes, "exception.message"),
        Some("refund service said no")
    );
    assert_eq!(event.time_unix_nano, failed.end_time_unix_nano);
}

#[test]
fn protobuf_carries_every_field() {
    let _g = serial();
    let r = Receiver::start();
    let (received, made) = scenario(&r, options(&r), &[]);
    check_full_capture(&received, &made, "application/x-protobuf");
}

#[test]
fn json_carries_the_same_fields_when_the_environment_asks_for_it() {
    let _g = serial();
    let r = Receiver::start();
    let url = r.url();
    let o = Options::new()
        .agent_name("support-bot")
        .agent_version("1.2.3")
        .environment("staging")
        .capture_git(false)
        .flush_interval(Duration::from_millis(50));
    let env = [
        ("STASO_INGEST", "false"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", url.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20t0k,x-team=cx",
        ),
    ];
    let (received, made) = scenario(&r, o, &env);
    check_full_capture(&received, &made, "application/json");
    for req in &received {
        assert_eq!(req.header("authorization"), Some("Bearer t0k"));
        assert_eq!(req.header("x-team"), Some("cx"));
    }
}

#[test]
fn the_option_picks_json_too() {
    let _g = serial();
    let r = Receiver::start();
    let o = options(&r).otlp_protocol(OtlpProtocol::HttpJson);
    let (received, made) = scenario(&r, o, &[]);
    check_full_capture(&received, &made, "application/json");
    // The OTLP JSON encoding itself, as a collector reads it: camelCase names, ids in
    // lowercase hex, 64-bit integers as decimal strings, enums as numbers.
    let is_hex = |v: &serde_json::Value, n: usize| {
        v.as_str().is_some_and(|s| {
            s.len() == n
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
    };
    let digits = |v: &serde_json::Value| {
        v.as_str()
            .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
    };
    let mut seen_int = false;
    for req in &received {
        let doc: serde_json::Value = serde_json::from_slice(&req.body).expect("JSON");
        for span in doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .expect("spans")
        {
            assert!(is_hex(&span["traceId"], 32), "{span}");
            assert_eq!(span["traceId"], made.trace.to_w3c());
            assert!(is_hex(&span["spanId"], 16), "{span}");
            let parent = &span["parentSpanId"];
            assert!(
                parent.is_null() || parent == "" || is_hex(parent, 16),
                "{span}"
            );
            assert!(digits(&span["startTimeUnixNano"]), "{span}");
            assert!(digits(&span["endTimeUnixNano"]), "{span}");
            assert!(span["kind"].is_u64(), "{span}");
            for kv in span["attributes"].as_array().expect("attributes") {
                if let Some(n) = kv["value"].get("intValue") {
                    assert!(digits(n), "{kv}");
                    seen_int = true;
                }
            }
        }
    }
    assert!(seen_int, "token counts are integers");
}

#[test]
fn capture_off_sends_no_content() {
    let _g = serial();
    let r = Receiver::start();
    let o = options(&r)
        .capture_messages(false)
        .capture_tool_arguments(false)
        .capture_output(false);
    let (received, made) = scenario(&r, o, &[]);
    let spans: Vec<Span> = received.iter().flat_map(Received::spans).collect();
    assert_eq!(spans.len(), 4);
    let content = [
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "staso.input",
        "staso.output",
        "exception.message",
    ];
    for s in &spans {
        for key in content {
            assert!(attr(&s.attributes, key).is_none(), "{key} on {}", s.name);
        }
        for e in &s.events {
            assert!(attr(&e.attributes, "exception.message").is_none());
        }
        let all = format!("{s:?}");
        assert!(
            !all.contains("Where is order 7") && !all.contains(SECRET),
            "{all}"
        );
        assert!(!all.contains("refund service said no"), "{all}");
    }
    // What is not content still goes: ids, the model, the tokens, the failure; names
    // are content (`request`): a span is named for its kind.
    let ids = by_id(&spans);
    assert_eq!(ids[&made.agent.to_w3c()].name, "agent span");
    let llm = ids[&made.llm.to_w3c()];
    assert_eq!(
        str_attr(&llm.attributes, "gen_ai.request.model"),
        Some("gpt-4o")
    );
    assert_eq!(
        int_attr(&llm.attributes, "gen_ai.usage.input_tokens"),
        Some(57)
    );
    let failed = ids[&made.failed.to_w3c()];
    let status = failed.status.as_ref().expect("a status");
    assert_eq!(status.code, StatusCode::Error as i32);
    assert!(status.message.is_empty(), "{status:?}");
}
