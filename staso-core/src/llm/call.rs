//! One LLM call being recorded: its span, the capture policy it started under, the
//! accumulation of a streamed reply, time to first token, and the end (reply, failure,
//! or an early drop). Every public LLM type holds one of these, boxed (or nothing when the
//! call is not recorded).

use super::anthropic::{self, AnthropicAcc};
use super::continuation;
use super::hook::{self, Outcome};
use super::keep::Keep;
use super::openai_chat::{self, ChatAcc};
use super::openai_responses::{self, ResponsesAcc};
use super::sse::SseDecoder;
use super::view::{ReplyView, RequestView};
use crate::config::Config;
use crate::local::record::Field;
use crate::local::{clock, context, lifecycle, span::Span};
use serde_json::Value;
use staso_types::{Api, CapturePolicy, Kind, SpanId, TraceId};
use std::borrow::Cow;
use std::sync::Arc;

/// The accumulation of a streamed reply, per API.
#[derive(Debug)]
pub(crate) enum Acc {
    Chat(ChatAcc),
    Responses(ResponsesAcc),
    Anthropic(AnthropicAcc),
}

impl Acc {
    fn new(api: Api) -> Acc {
        match api {
            Api::OpenAiResponses => Acc::Responses(ResponsesAcc::default()),
            Api::AnthropicMessages => Acc::Anthropic(AnthropicAcc::default()),
            _ => Acc::Chat(ChatAcc::default()),
        }
    }

    /// Takes one chunk or event, keeping `keep` of each streamed text (see `keep`); true
    /// when it is the first token's kind.
    fn event(&mut self, v: &Value, keep: Keep) -> bool {
        match self {
            Acc::Chat(a) => a.chunk(v, keep),
            Acc::Responses(a) => a.event(v, keep),
            Acc::Anthropic(a) => a.event(v, keep),
        }
    }

    fn reply(&self, p: &CapturePolicy, name: &str) -> ReplyView {
        match self {
            Acc::Chat(a) => a.reply(p, name),
            Acc::Responses(a) => a.reply(p, name),
            Acc::Anthropic(a) => a.reply(p, name),
        }
    }
}

/// Reads a request body of `api`.
pub(crate) fn read_request(api: Api, req: &Value, p: &CapturePolicy) -> RequestView {
    match api {
        Api::OpenAiResponses => openai_responses::request(req, p),
        Api::AnthropicMessages => anthropic::request(req, p),
        _ => openai_chat::request(req, p),
    }
}

/// Reads a reply body of `api`.
pub(crate) fn read_reply(api: Api, resp: &Value, p: &CapturePolicy) -> ReplyView {
    match api {
        Api::OpenAiResponses => openai_responses::reply(resp, p),
        Api::AnthropicMessages => anthropic::reply(resp, p),
        _ => openai_chat::reply(resp, p),
    }
}

/// Where a call starting now would be recorded: the capture policy in force and the
/// scope of the continuation map (the test capture it runs in, or 0 for the client).
/// `None` when nothing records it (no client, tracing off, below a discarded span).
pub(crate) fn recording_context() -> Option<(CapturePolicy, usize)> {
    with_recording_config(|c, scope| (c.capture, scope))
}

/// `f` on the configuration a call starting now would be recorded under (its test
/// capture's, or the client's) and the continuation scope; `None` when nothing records
/// it.
fn with_recording_config<R>(f: impl FnOnce(&Config, usize) -> R) -> Option<R> {
    if !crate::__private::enabled() {
        return None;
    }
    context::with_current_shallow(|ctx| {
        if !lifecycle::records(ctx) {
            return None;
        }
        match &ctx.sink {
            Some(sink) => Some(f(sink.config(), Arc::as_ptr(sink) as *const () as usize)),
            None => crate::client::with_config(|c| f(c, 0)),
        }
    })
}

/// A parent link: trace and span.
type Link = (TraceId, SpanId);

/// One LLM call being recorded.
pub(crate) struct Call {
    pub(crate) span: Span,
    api: Api,
    pub(crate) policy: CapturePolicy,
    scope: usize,
    /// Streamed reply so far (a streaming request, or events fed to the call).
    acc: Option<Acc>,
    /// How much of each streamed text `acc` keeps: what the span can show.
    keep: Keep,
    sse: Option<SseDecoder>,
    /// A fixed name given by the caller: replies do not rename the span.
    named: bool,
    ttft: bool,
    /// A streamed chunk or event arrived.
    seen: bool,
    /// A reply or a failure was recorded: nothing more is.
    done: bool,
    /// Set when the span became the parent of new spans in its caller's frame (a stream
    /// between chunks): the link to give back when the call ends.
    adopted: Option<(Link, context::Link)>,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmCall")
            .field("api", &self.api)
            .field("span_id", &self.span.span_id())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Call {
    /// Starts a call from a request body of `api`.
    pub(crate) fn from_json(api: Api, req: &Value) -> Option<Box<Call>> {
        let (policy, scope) = recording_context()?;
        let view = read_request(api, req, &policy);
        Call::start(api, view, policy, scope, None, None)
    }

    /// Opens the span of a call whose request was read into `view`.
    pub(crate) fn start(
        api: Api,
        view: RequestView,
        policy: CapturePolicy,
        scope: usize,
        provider: Option<String>,
        name: Option<Cow<'static, str>>,
    ) -> Option<Box<Call>> {
        let parent = continuation::take(view.results.iter().map(String::as_str), scope);
        let keep =
            with_recording_config(|c, _| Keep::for_field(c.max_field_bytes)).unwrap_or_default();
        let named = name.is_some();
        let name = name.unwrap_or(Cow::Borrowed(if view.stream {
            api.stream_span_name()
        } else {
            api.placeholder_span_name()
        }));
        let parent = parent.map(|p| (p.trace, p.span, p.offset));
        let mut span = Span::open_under(name, Kind::Llm, parent);
        // Not recorded, or a root left out by sampling: nothing to build.
        if span.inner.as_ref().map_or(true, |(r, _)| r.discarded) {
            return None;
        }
        if let Some((r, _)) = &mut span.inner {
            r.extras().llm.prefiltered = true;
        }
        let provider = provider.unwrap_or_else(|| api.default_provider().to_string());
        span.set_metadata("provider", &provider);
        span.set_provider(provider)
            .set_model(view.model)
            .set_reasoning_effort(view.reasoning_effort);
        for (k, v) in &view.params {
            span.set_metadata(k.to_string(), v);
        }
        span.set_input(&Value::Object(view.input));
        Some(Box::new(Call {
            span,
            api,
            policy,
            scope,
            acc: view.stream.then(|| Acc::new(api)),
            keep,
            sse: None,
            named,
            ttft: false,
            seen: false,
            done: false,
            adopted: None,
        }))
    }

    /// The provider, replacing the API's default (`ollama`, `groq`, ...).
    pub(crate) fn set_provider(&mut self, provider: String) {
        self.span.set_metadata("provider", &provider);
        self.span.set_provider(provider);
    }

    /// Milliseconds since the span started.
    fn elapsed_ms(&self) -> f64 {
        self.span
            .inner
            .as_ref()
            .map(|(r, ctx)| clock::duration_ms(r.start, clock::stamp(ctx.offset)))
            .unwrap_or(0.0)
    }

    /// Records time to first token, once.
    pub(crate) fn first_token(&mut self) {
        if !self.ttft && !self.done {
            self.ttft = true;
            let ms = self.elapsed_ms();
            self.span.set_metadata("time_to_first_token", &ms);
        }
    }

    /// Takes one streamed chunk or event (already JSON).
    pub(crate) fn event(&mut self, v: &Value) {
        if self.done {
            return;
        }
        let api = self.api;
        self.seen = true;
        if self
            .acc
            .get_or_insert_with(|| Acc::new(api))
            .event(v, self.keep)
        {
            self.first_token();
        }
    }

    /// Takes the next bytes of a server-sent-events body.
    pub(crate) fn sse_bytes(&mut self, bytes: &[u8]) {
        let mut sse = self.sse.take().unwrap_or_default();
        sse.feed(bytes, &mut |data| self.sse_data(data));
        self.sse = Some(sse);
    }

    /// The SSE body ended.
    fn sse_end(&mut self) {
        if let Some(mut sse) = self.sse.take() {
            sse.finish(&mut |data| self.sse_data(data));
        }
    }

    fn sse_data(&mut self, data: &str) {
        if data.trim() == "[DONE]" {
            return;
        }
        if let Ok(v) = serde_json::from_str::<Value>(data) {
            self.event(&v);
        }
    }

    /// Records a reply body.
    pub(crate) fn reply_json(&mut self, resp: &Value) -> Outcome {
        if self.done {
            return Outcome::Continue;
        }
        let view = read_reply(self.api, resp, &self.policy);
        self.apply(view, true)
    }

    /// Records a reply already read.
    pub(crate) fn reply(&mut self, view: ReplyView) -> Outcome {
        if self.done {
            return Outcome::Continue;
        }
        self.apply(view, true)
    }

    /// Records what a stream brought, at its end.
    pub(crate) fn finish_stream(&mut self) -> Outcome {
        self.sse_end();
        if self.done {
            return Outcome::Continue;
        }
        match &self.acc {
            Some(acc) if self.seen => {
                let view = acc.reply(&self.policy, "");
                self.apply(view, false)
            }
            // Nothing arrived (dropped before the first chunk): no output.
            _ => {
                self.done = true;
                Outcome::Continue
            }
        }
    }

    /// Records a failure (`exception_type` names its kind), keeping what a stream brought
    /// until then.
    pub(crate) fn fail(&mut self, exception_type: Cow<'static, str>, message: String) {
        if self.done {
            return;
        }
        self.sse_end();
        if let Some(acc) = self.acc.as_ref().filter(|_| self.seen) {
            let view = acc.reply(&self.policy, "");
            self.record(&view, false);
        }
        self.done = true;
        self.span.set_exception(exception_type, message);
    }

    /// Writes a reply's fields on the span.
    fn record(&mut self, view: &ReplyView, rename: bool) {
        if let Some(m) = &view.model {
            self.span.set_model(m.clone());
        }
        for (k, v) in &view.attrs {
            self.span.set_metadata(k.to_string(), v);
        }
        if let Some((i, o, t)) = view.usage {
            self.span.set_usage_total(i, o, t);
        }
        if let Some(out) = &view.output {
            self.span.set_output(out);
            if view.dropped > 0 {
                if let Some((r, _)) = &mut self.span.inner {
                    r.extras().add_cut(Field::Output, view.dropped);
                }
            }
        }
        if rename && !self.named && !view.name.is_empty() {
            self.span.set_name(view.name.clone());
        }
    }

    /// Records a reply, remembers its tool calls for continuation, and runs the
    /// post-reply hook.
    fn apply(&mut self, view: ReplyView, rename: bool) -> Outcome {
        self.record(&view, rename);
        self.done = true;
        if view.calls.is_empty() {
            return Outcome::Continue;
        }
        if let Some((r, ctx)) = &self.span.inner {
            let parent = continuation::Parent {
                trace: r.trace_id,
                span: r.span_id,
                offset: ctx.offset,
            };
            continuation::record(view.calls.iter().map(|c| c.id.as_str()), parent, self.scope);
        }
        // The checks mark a blocked reply's span themselves (with `exception.type`
        // `GuardBlocked`, or for a stream the message alone, as the contract's §11 says);
        // a blocked call that is not a stream keeps its placeholder name (`chat`).
        let stream = self.acc.is_some();
        let outcome = hook::after_reply(&mut self.span, &view.calls, self.api, stream);
        if matches!(outcome, Outcome::Block(_)) && !stream && !self.named {
            self.span.set_name(self.api.placeholder_span_name());
        }
        outcome
    }

    /// Makes the span the parent of spans started from now on in the caller's frame, until
    /// the call ends (a stream between chunks; see `context::adopt_link`).
    pub(crate) fn adopt(&mut self) {
        if self.adopted.is_some() {
            return;
        }
        if let Some((r, ctx)) = &self.span.inner {
            let link = (r.trace_id, r.span_id);
            if let Some(previous) = context::adopt_link(link, ctx.offset) {
                self.adopted = Some((link, previous));
            }
        }
    }

    /// Makes this a streaming call (its reply arrives as chunks or events): named as the
    /// Python SDK names streams, unless a name was given.
    pub(crate) fn streaming(&mut self) {
        if self.acc.is_none() {
            self.acc = Some(Acc::new(self.api));
            if !self.named {
                self.span.set_name(self.api.stream_span_name());
            }
        }
    }

    /// Whether this is a streaming call (a streaming request, or events were fed).
    pub(crate) fn is_streaming(&self) -> bool {
        self.acc.is_some() || self.sse.is_some()
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if let Some((link, previous)) = self.adopted.take() {
            context::release_link(link, previous);
        }
        if self.done {
            return;
        }
        if self.is_streaming() {
            // A stream dropped before its end: what was seen, status ok (the consumer
            // chose to stop). The Python SDK sends nothing for a stream never iterated.
            let _ = self.finish_stream();
        } else if !std::thread::panicking() {
            self.span.set_exception(
                "cancelled",
                "cancelled: the LLM call was dropped before its reply was recorded",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Keeping only what a span can show of a long streamed text (see `keep`) changes
    /// nothing the span sends: the same output and the same cut size as keeping all of it,
    /// for each API's streamed text (a chat delta, a Responses text delta, an Anthropic text
    /// block), ASCII and multi-byte.
    #[test]
    fn a_stream_kept_to_its_bound_sends_what_keeping_it_all_sends() {
        for piece in ["0123456789abcdef".repeat(64), "é€x\"\n".repeat(100)] {
            let chat = (0..40)
                .map(|_| json!({"choices": [{"index": 0, "delta": {"content": piece}}]}))
                .collect::<Vec<_>>();
            let responses = (0..40)
                .map(|_| json!({"type": "response.output_text.delta", "delta": piece}))
                .collect::<Vec<_>>();
            let mut anthropic = vec![json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}})];
            anthropic.extend((0..40).map(|_| {
                json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": piece}})
            }));
            for (api, events) in [
                (Api::OpenAiChat, chat),
                (Api::OpenAiResponses, responses),
                (Api::AnthropicMessages, anthropic),
            ] {
                let sent = |keep: Option<Keep>| {
                    let options = staso_types::Options::new().max_field_bytes(1_500);
                    let (_, spans) = crate::testing::capture_with(options, || {
                        let req = json!({"model": "m", "stream": true,
                            "messages": [{"role": "user", "content": "hi"}]});
                        let mut call = Call::from_json(api, &req).expect("recorded");
                        call.streaming();
                        if let Some(k) = keep {
                            call.keep = k;
                        }
                        for e in &events {
                            call.event(e);
                        }
                        let _ = call.finish_stream();
                    });
                    let span = &spans[0];
                    (
                        span.json()["output"].clone(),
                        span.attribute("staso.truncated.output"),
                    )
                };
                let (kept, all) = (sent(None), sent(Some(Keep::default())));
                assert_eq!(kept, all, "{api:?}");
                assert!(kept.1.is_some(), "{api:?}: the output was cut");
            }
        }
    }

    fn name(api: Api, reply: Value) -> String {
        read_reply(api, &reply, &CapturePolicy::ALL_ON).name
    }

    #[test]
    fn replies_name_their_call_as_the_python_sdk_does() {
        let chat = |finish: Value, calls: Value| {
            json!({"choices": [{"message": {"role": "assistant", "content": "x", "tool_calls": calls},
                                "finish_reason": finish}]})
        };
        let call = |n: &str| json!({"id": n, "type": "function", "function": {"name": n, "arguments": "{}"}});
        assert_eq!(
            name(Api::OpenAiChat, chat(json!("length"), json!(null))),
            "chat:reply"
        );
        assert_eq!(
            name(
                Api::OpenAiChat,
                chat(json!("insufficient_system_resource"), json!(null))
            ),
            "chat:insufficient_system_resource"
        );
        assert_eq!(
            name(Api::OpenAiChat, chat(json!(null), json!(null))),
            "chat"
        );
        // Tool calls win over a terminal finish reason.
        assert_eq!(
            name(
                Api::OpenAiChat,
                chat(
                    json!("stop"),
                    json!([call("a"), call("b"), call("c"), call("d")])
                )
            ),
            "chat:tool_calls(a, b, c, …+1)"
        );
        assert_eq!(
            name(
                Api::OpenAiResponses,
                json!({"status": "incomplete", "output": []})
            ),
            "response:incomplete"
        );
        assert_eq!(
            name(Api::OpenAiResponses, json!({"output": []})),
            "response"
        );
        assert_eq!(
            name(
                Api::OpenAiResponses,
                json!({"status": "in_progress",
                "output": [{"type": "message", "content": []}]})
            ),
            "response:reply"
        );
        let ant = |stop: Value, blocks: Value| json!({"stop_reason": stop, "content": blocks});
        assert_eq!(
            name(Api::AnthropicMessages, ant(json!("pause_turn"), json!([]))),
            "chat:pause_turn"
        );
        // `tool_use` without tool_use blocks is not a tool call.
        assert_eq!(
            name(
                Api::AnthropicMessages,
                ant(json!("tool_use"), json!([{"type": "text", "text": ""}]))
            ),
            "chat:tool_use"
        );
        assert_eq!(
            name(Api::AnthropicMessages, ant(json!(null), json!([]))),
            "chat"
        );
    }
}
