//! The whole staso API, compiled with `default-features = false`: every attribute form
//! returns the function untouched and every call is an inline no-op.
//! `src/bin/twin.rs` is this file without its `#[staso::...]` attribute lines;
//! scripts/compile_out_proof.sh checks that and compares the two programs.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use staso::InstrumentExt;

/// A minimal executor, so that the program needs no async runtime.
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[derive(Debug)]
struct Order {
    id: u64,
}

#[staso::tool]
fn lookup(order: &Order) -> Result<String, std::io::Error> {
    if order.id == 0 {
        return Err(std::io::Error::other("no order"));
    }
    Ok(format!("order {}", order.id))
}

#[staso::tool(name = "stripe.refund", tags = ["payments"], metadata(provider = "stripe", retries = 3), capture_input = false, capture_output = false, skip(api_key))]
fn refund(api_key: &str, cents: u64) -> Option<u64> {
    let _ = api_key;
    cents.checked_sub(1)
}

#[staso::tool(guard, skip(token))]
fn remove(path: &str, token: &str) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let _ = token;
    Ok(format!("removed {path}"))
}

#[staso::trace]
fn normalize(q: &str) -> String {
    q.trim().to_lowercase()
}

#[staso::trace(kind = "retriever", name = "faq.search")]
async fn search(q: String, (top, min): (usize, usize), _: u8) -> Vec<String> {
    (0..top.max(min)).map(|i| format!("{q}#{i}")).collect()
}

#[staso::trace(kind = "llm")]
fn complete(prompt: impl AsRef<str>) -> usize {
    prompt.as_ref().len()
}

#[staso::trace(kind = "custom")]
fn generic<T: Clone>(items: &[T]) -> Vec<T> {
    items.to_vec()
}

#[staso::trace(kind = "chain")]
#[allow(clippy::manual_async_fn)]
fn returns_future(n: u64) -> impl Future<Output = u64> {
    async move { n + 1 }
}

/// The `tracing` bridge compiled out: the layer exists (and does nothing).
#[allow(dead_code)]
fn with_bridge<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing_core::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let _default = staso::tracing::layer::<S>();
    staso::tracing::builder()
        .target("my_agent")
        .all_spans(false)
        .build()
}

/// W3C propagation compiled out: nothing is injected, contexts are parsed only.
fn propagate() {
    let mut headers = http::HeaderMap::new();
    let injected = staso::propagation::inject(&mut headers);
    let mut map: std::collections::HashMap<String, String> = Default::default();
    map.insert(
        staso::propagation::TRACEPARENT.into(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
    );
    let parent: Option<staso::propagation::TraceContext> = staso::propagation::extract(&map);
    if let Some(p) = &parent {
        let _joined = staso::propagation::attach(p);
        println!("{}", block_on(staso::propagation::scope(p, async { 1 })));
    }
    let served = block_on(staso::propagation::continue_from(&headers, async { 2 }));
    println!("{injected} {served} {:?}", staso::propagation::current());
}

struct Agent {
    turns: u32,
}

impl Agent {
    #[staso::agent(name = "support-bot", tags = ["v2"], metadata(team = "support"))]
    async fn answer(&mut self, question: String) -> Result<String, String> {
        self.turns += 1;
        let order = Order {
            id: question.len() as u64,
        };
        let found = lookup(&order).map_err(|e| e.to_string())?;
        let hits = search(normalize(&question), (2, 1), 0).await;
        Ok(format!("{found}: {}", hits.len()))
    }

    #[staso::agent]
    fn turns(&self) -> u32 {
        self.turns
    }

    #[staso::trace(kind = "agent")]
    fn into_turns(self) -> u32 {
        self.turns
    }
}

#[staso::main(
    agent_name = "disabled-demo",
    flush_interval = 0.5,
    shutdown_timeout = 5,
    batch_size = 50,
    debug = false
)]
fn main() {
    let client = staso::init(staso::Options::new().api_key("sk-disabled").agent_name("disabled-demo").flush_interval(Duration::from_millis(500)))
    .expect("init never fails when compiled out");

    let mut agent = Agent { turns: 0 };
    let answer = staso::conversation("conv-1")
        .user_id("user-1")
        .run(|| block_on(agent.answer("where is order 42?".into())));
    println!("{answer:?}");

    {
        let mut span = staso::span("manual", staso::Kind::Tool);
        span.set_input(&"in")
            .set_output(&"out")
            .set_metadata("k", &1)
            .add_tag("t")
            .set_model("m")
            .set_provider("p")
            .set_usage(1, 2)
            .set_status(staso::Status::Ok);
        assert!(!span.is_recording());
        staso::current_span().set_metadata("nested", &true);
    }

    {
        use staso::llm::{Api, LlmCall, LlmSpan, Reply, Usage};
        let mut call = LlmCall::new("openai", "gpt-4o-mini")
            .system("be brief")
            .developer("json")
            .user("hi")
            .assistant("hello")
            .tool_call("c1", "f", "{}")
            .tool_result("c1", "ok")
            .message(&("role", "user"))
            .tool("f", "a tool", &["city"])
            .param("temperature", &0.2)
            .tool_choice(&"auto")
            .response_format(&"text")
            .reasoning_effort("low")
            .name("chat")
            .start();
        call.first_token();
        assert!(!call.is_recording() && call.trace_id().is_none() && call.span_id().is_none());
        call.finish(
            Reply::new()
                .model("m")
                .content("c")
                .tool_call("c2", "f", "{}")
                .finish_reason("stop")
                .response_id("r")
                .service_tier("default")
                .usage(Usage::new(1, 2).total(3).cache_read(0).cache_write(0).reasoning(0)),
        ).expect("the guard blocks nothing here");
        let mut json = LlmSpan::start_json(Api::OpenAiChat, &("model", "m"));
        json.set_provider("ollama").event_json(&"chunk");
        json.sse_bytes(b"data: {}\n\n");
        json.finish_json(&"reply").expect("the guard blocks nothing here");
        LlmSpan::start_json(Api::AnthropicMessages, &1).fail(&"refused");
        LlmSpan::start_json(Api::OpenAiResponses, &1).fail_as("RateLimitError", "429");
        LlmSpan::start_json(Api::OpenAiChat, &1).end();
        let chunks = vec![Ok::<_, std::io::Error>("a"), Ok("b")];
        let n = LlmSpan::start_json(Api::OpenAiChat, &1).iter(chunks).count();
        let _ = LlmSpan::start_json(Api::OpenAiChat, &1).stream(std::iter::empty::<u8>());
        let _ = LlmSpan::start_json(Api::OpenAiChat, &1).sse_stream(std::iter::empty::<u8>());
        let r = block_on(staso::llm::trace_json(Api::OpenAiChat, &1, async {
            Ok::<_, std::io::Error>(n)
        }));
        println!("{r:?}");
    }

    let fut = staso::Span::new("task", staso::Kind::Chain).instrument(async { 40 + 2 });
    let v = block_on(fut.in_current_context());
    let v2 = block_on(staso::conversation("conv-2").scope(returns_future(v)));
    let run = staso::bind_current(move || v2 + 1);
    println!("{} {}", run(), complete("prompt"));
    println!("{:?} {:?}", refund("sk", 10), generic(&[1, 2]));
    println!("{} {}", agent.turns(), agent.into_turns());
    println!(
        "{}",
        staso_disabled::instrumented_sum(&[1, 2, 3]) + staso_disabled::plain_sum(&[1])
    );
    println!(
        "{:?} {:?}",
        block_on(staso_disabled::instrumented_async(2)),
        block_on(staso_disabled::plain_async(0))
    );

    // Guard is compiled out: every check is an immediate allow, nothing is sent.
    let args = [("path", "/tmp/x")];
    let result: staso::GuardResult = block_on(staso::guard("remove", &args));
    assert!(result.is_allowed() && result.enforce().is_ok());
    assert_eq!(result.evaluation_status, staso::EvaluationStatus::Skipped);
    let id: staso::DecisionId = "1b4e28ba-2fa1-11d2-883f-0016d3cca427".parse().expect("uuid");
    let options = staso::GuardOptions::new()
        .context("ticket", &7)
        .decision_id(id)
        .timeout(Duration::from_secs(2))
        .fail_closed(true);
    let r = block_on(staso::guard_with("remove", &args, options.clone()));
    let blocking = staso::guard_blocking("remove", &args);
    let blocking_with = staso::guard_blocking_with("remove", &args, options);
    let checked: Result<(), staso::GuardBlocked> = r.enforce();
    println!(
        "{:?} {:?} {} {}",
        checked.is_ok(),
        blocking.failure_kind.map(|k: staso::GuardFailureKind| k.as_str()),
        blocking_with.outcome(),
        remove("/tmp/x", "t").unwrap_or_default()
    );

    // Annotations are compiled out too.
    let trace: staso::TraceId = "0af7651916cd43dd8448eb211c80319c".parse().expect("trace");
    staso::annotate(trace, "helpfulness", 0.9).expect("no-op");
    staso::annotate_with(trace, staso::Annotation::new("label", "ok").comment("c"))
        .expect("no-op");
    {
        let s = staso::span("annotated", staso::Kind::Chain);
        s.annotate("quality", true).expect("no-op");
        staso::current_span()
            .annotate_with(staso::Annotation::new("tone", "polite"))
            .expect("no-op");
    }
    println!("{} {}", staso::VERSION, staso::agent_id("disabled-demo"));

    for r in staso::registry() {
        println!("{} {} {}:{}", r.kind, r.name, r.file, r.line);
    }
    let report: staso::DeliveryReport = staso::flush(Duration::from_secs(1));
    let kind: Option<staso::FailureKind> = report.last_failure;
    println!("flush ok={} {:?}", report.ok(), kind.map(|k| k.as_str()));
    let annotations: staso::AnnotationReport = report.annotations.clone();
    println!("annotations accepted={}", annotations.accepted);
    let report = client.flush(Duration::from_secs(1));
    println!(
        "{}",
        report.accepted + report.delivered + report.failed + report.pending
    );
    propagate();
    let report = staso::shutdown(Duration::from_secs(1));
    println!("shutdown ok={} timed_out={}", report.ok(), report.timed_out);
    println!("{:?}", client.previous_shutdown_report().map(|r| r.produced()));
    let _ = client.shutdown(Duration::ZERO);
    plain_types();
}

/// The plain data types and newer API, as user code touches them (the same code compiles
/// with and without `enable`; scripts/compile_out_proof.sh builds it both ways).
fn plain_types() {
    let c = staso::new_conversation();
    println!("{} {}", c.id().len(), staso::conversation("x").id());
    let options = staso::Options::new()
        .sample_rate(0.5)
        .sampler(|i: &staso::SamplingInput<'_>| i.ratio(0.5) || i.kind == staso::Kind::Agent)
        .mask(|key: &str, text: &str| (key == "email").then(|| text.replace('@', " at ")))
        .install_panic_hook(false)
        .install_exit_hook(false);
    println!("{:?}", options.sample_rate);
    let otlp = staso::Options::new()
        .otlp_endpoint("http://localhost:4318")
        .otlp_protocol(staso::OtlpProtocol::HttpJson)
        .otlp_headers([("authorization", "Bearer t")])
        .staso_ingest(false);
    let protocol: Result<staso::OtlpProtocol, staso::ParseOtlpProtocolError> = "grpc".parse();
    println!("{:?} {:?}", otlp.otlp_protocol, protocol.map_err(|e| e.to_string()));
    let flushed = staso::flush(Duration::ZERO);
    let per: Option<&staso::DestinationReport> = flushed.destination("otlp");
    println!("{:?}", per.map(|d| (d.name, d.delivered, d.ok())));
    match staso::init(staso::Options::new().enabled(false)) {
        Err(staso::InitError::MissingApiKey) => println!("no key"),
        Err(e) => println!("{e}"),
        Ok(_) => println!("ok"),
    }
    let kind: staso::Kind = "tool".parse().unwrap_or(staso::Kind::Custom);
    let trace: Result<staso::TraceId, _> = "0af7651916cd43dd8448eb211c80319c".parse();
    let span_id = staso::SpanId::from_u64(7).map(|s| s.to_string());
    println!(
        "{kind} {} {:?} {:?} {} {}",
        staso::Status::Error.as_str(),
        trace.map(|t| t.to_w3c()),
        span_id,
        staso::agent_id("bot"),
        staso::VERSION
    );
    let p = staso::CapturePolicy::default();
    println!("{} {}", p.all_enabled(), p.allows_input(staso::Kind::Tool));
    let mut fut = staso::Span::new("f", staso::Kind::Chain).instrument(async { 1 });
    fut.span_mut().set_output(&"o");
    println!("{}", block_on(fut));
    for o in staso::OPTIONS {
        println!("{} {:?}", o.name, o.env);
    }
}
