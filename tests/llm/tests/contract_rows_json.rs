//! Rows of the LLM contract (`llm-contract.md`) about the shape of a span — names, input,
//! attributes, usage, stream accumulation, continuation — checked through the JSON-level
//! API (`LlmSpan::start_json` / `finish_json`, the stream wrappers) with spans captured
//! in memory. Each test names its contract row(s).

use serde_json::{json, Value};
use staso::llm::{Api, LlmSpan};
use staso::testing::{capture, CapturedSpan, CapturedSpans};
use staso::Kind;

/// One non-streaming call: `request` then `reply`, in `api`'s format.
fn call(api: Api, request: &Value, reply: &Value) {
    LlmSpan::start_json(api, request)
        .finish_json(reply)
        .expect("the guard blocks nothing here");
}

/// The span of one non-streaming call.
fn one(api: Api, request: Value, reply: Value) -> CapturedSpan {
    let ((), spans) = capture(|| call(api, &request, &reply));
    assert_eq!(spans.len(), 1);
    spans[0].clone()
}

/// The span of one stream fed through the blocking wrapper.
fn streamed(api: Api, request: Value, events: Vec<Value>) -> CapturedSpan {
    let ((), spans) = capture(|| {
        LlmSpan::start_json(api, &request)
            .iter(events.into_iter().map(Ok::<_, std::io::Error>))
            .for_each(drop);
    });
    assert_eq!(spans.len(), 1);
    spans[0].clone()
}

fn chat_reply(finish: &str) -> Value {
    json!({"choices": [{"message": {"role": "assistant", "content": "x"}, "finish_reason": finish}]})
}

fn chat_req() -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
}

fn resp_req() -> Value {
    json!({"model": "gpt-5-mini", "input": "hi"})
}

fn ant_req() -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}]})
}

// -------------------------------------------------------------------------- §3 names

/// Row 3: `content_filter` and `function_call` are terminal reasons: `chat:reply`.
#[test]
fn content_filter_and_function_call_replies_are_named_chat_reply() {
    for finish in ["content_filter", "function_call"] {
        let s = one(Api::OpenAiChat, chat_req(), chat_reply(finish));
        assert_eq!(s.name(), "chat:reply", "{finish}");
        assert_eq!(s.attribute("stop_reason"), Some(json!(finish)));
    }
}

/// Row 4: a completed Responses reply is `response:reply` even without a message item.
#[test]
fn a_completed_response_without_a_message_item_is_named_response_reply() {
    let s = one(
        Api::OpenAiResponses,
        resp_req(),
        json!({"id": "resp_1", "status": "completed",
            "output": [{"id": "rs_1", "type": "reasoning", "summary": []}]}),
    );
    assert_eq!(s.name(), "response:reply");
}

/// Row 5: Anthropic `stop_sequence` and `max_tokens` are `chat:reply`.
#[test]
fn anthropic_stop_sequence_and_max_tokens_replies_are_named_chat_reply() {
    for stop in ["stop_sequence", "max_tokens"] {
        let s = one(
            Api::AnthropicMessages,
            ant_req(),
            json!({"id": "msg_1", "content": [{"type": "text", "text": "x"}], "stop_reason": stop}),
        );
        assert_eq!(s.name(), "chat:reply", "{stop}");
        assert_eq!(s.attribute("stop_reason"), Some(json!(stop)));
    }
}

// ----------------------------------------------------------------- §2 reasoning effort

/// Row 2: Responses' flat `reasoning_effort` (no `reasoning.effort`) is the span's.
#[test]
fn a_flat_responses_reasoning_effort_is_recorded() {
    let mut req = resp_req();
    req["reasoning_effort"] = json!("medium");
    let s = one(
        Api::OpenAiResponses,
        req,
        json!({"status": "completed", "output": []}),
    );
    assert_eq!(s.json()["reasoning_effort"], "medium");
}

// ------------------------------------------------------------------------- §5 input

/// Row 10: copied messages keep their `"content": null`.
#[test]
fn a_null_content_is_kept_in_copied_chat_messages() {
    let req = json!({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
            "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "21 C"}]});
    let s = one(Api::OpenAiChat, req, chat_reply("stop"));
    let input = s.input().expect("input");
    let assistant = input["messages"][1].as_object().expect("a message");
    assert_eq!(assistant.get("content"), Some(&Value::Null), "{input}");
    assert_eq!(
        assistant["tool_calls"][0]["function"]["arguments"],
        json!("{}")
    );
}

/// Row 12: blank `instructions` add no system message.
#[test]
fn blank_responses_instructions_add_no_system_message() {
    let mut req = resp_req();
    req["instructions"] = json!("  \n ");
    let s = one(
        Api::OpenAiResponses,
        req,
        json!({"status": "completed", "output": []}),
    );
    assert_eq!(
        s.input().expect("input")["messages"],
        json!([{"role": "user", "content": "hi"}])
    );
}

// ------------------------------------------------------------------------- §6 usage

/// Row 13: with several usage-bearing chunks, the last one counts.
#[test]
fn the_last_usage_chunk_of_a_chat_stream_wins() {
    let mut req = chat_req();
    req["stream"] = json!(true);
    let delta = json!({"id": "c", "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": null}]});
    let s = streamed(
        Api::OpenAiChat,
        req,
        vec![
            delta,
            json!({"id": "c", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                "total_tokens": 2}}),
            json!({"id": "c", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2,
                "total_tokens": 11}}),
        ],
    );
    let j = s.json();
    assert_eq!(
        (&j["input_tokens"], &j["output_tokens"], &j["total_tokens"]),
        (&json!(9), &json!(2), &json!(11))
    );
}

/// Row 14: Responses usage without `total_tokens` totals input + output; a cache write
/// count is recorded, and a cached count of 0 too.
#[test]
fn responses_usage_totals_missing_totals_and_records_cache_writes() {
    let s = one(
        Api::OpenAiResponses,
        resp_req(),
        json!({"status": "completed", "output": [], "usage": {"input_tokens": 10,
            "output_tokens": 5, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 3}}}),
    );
    let j = s.json();
    assert_eq!(
        (&j["input_tokens"], &j["output_tokens"], &j["total_tokens"]),
        (&json!(10), &json!(5), &json!(15))
    );
    assert_eq!(s.attribute("cache_write_input_tokens"), Some(json!(3)));
    assert_eq!(s.attribute("cache_read_input_tokens"), Some(json!(0)));
}

// -------------------------------------------------------------------- §7 attributes

/// Row 15: a requested `service_tier` is recorded and the reply's (non-empty) tier
/// replaces it — one key, not two; an empty reply tier keeps the requested one. (The
/// position of the key is not checked: attributes are written with sorted keys.)
#[test]
fn the_replys_service_tier_replaces_the_requested_one_in_place() {
    for (api, mut req, reply) in [
        (
            Api::OpenAiChat,
            chat_req(),
            json!({"service_tier": "default", "choices": [{"message": {"content": "x"},
                "finish_reason": "stop"}]}),
        ),
        (
            Api::OpenAiResponses,
            resp_req(),
            json!({"service_tier": "default", "status": "completed", "output": []}),
        ),
    ] {
        req["service_tier"] = json!("flex");
        req["tool_choice"] = json!("auto");
        let s = one(api, req.clone(), reply.clone());
        assert_eq!(s.attribute("service_tier"), Some(json!("default")));
        let raw = s.json()["attributes"].as_str().unwrap_or_default();
        assert_eq!(raw.matches("\"service_tier\":").count(), 1, "{raw}");
        let mut empty = reply;
        empty["service_tier"] = json!("");
        let s = one(api, req, empty);
        assert_eq!(s.attribute("service_tier"), Some(json!("flex")));
    }
}

/// Row 16: Responses `top_p` / `service_tier` and Anthropic `temperature` / `top_p` /
/// `top_k` are request attributes.
#[test]
fn responses_and_anthropic_sampling_parameters_are_attributes() {
    let mut req = resp_req();
    req["top_p"] = json!(0.5);
    req["service_tier"] = json!("flex");
    let s = one(
        Api::OpenAiResponses,
        req,
        json!({"status": "completed", "output": []}),
    );
    assert_eq!(s.attribute("top_p"), Some(json!(0.5)));
    assert_eq!(s.attribute("service_tier"), Some(json!("flex")));

    let mut req = ant_req();
    req["temperature"] = json!(0.3);
    req["top_p"] = json!(0.8);
    req["top_k"] = json!(5);
    let s = one(
        Api::AnthropicMessages,
        req,
        json!({"content": [{"type": "text", "text": "x"}], "stop_reason": "end_turn"}),
    );
    let a = s.attributes();
    assert_eq!(
        (
            &a["temperature"],
            &a["top_p"],
            &a["top_k"],
            &a["max_tokens"]
        ),
        (&json!(0.3), &json!(0.8), &json!(5), &json!(64))
    );
}

// --------------------------------------------------------------------- §8 streaming

/// Row 19: a tool call's first fragment without `type` gets `function`; a later
/// non-empty id or name replaces the earlier one, an empty one does not.
#[test]
fn chat_stream_tool_call_fragments_default_their_type_and_take_later_ids_and_names() {
    let mut req = chat_req();
    req["stream"] = json!(true);
    let frag = |tc: Value| json!({"choices": [{"index": 0, "delta": {"tool_calls": [tc]}}]});
    let s = streamed(
        Api::OpenAiChat,
        req,
        vec![
            frag(
                json!({"index": 0, "id": "call_old", "function": {"name": "old", "arguments": "{\"a\""}}),
            ),
            frag(
                json!({"index": 0, "id": "call_new", "function": {"name": "new", "arguments": ":1"}}),
            ),
            frag(json!({"index": 0, "id": "", "function": {"name": "", "arguments": "}"}})),
        ],
    );
    assert_eq!(
        s.output().expect("output")["tool_calls"],
        json!([{"id": "call_new", "type": "function",
            "function": {"name": "new", "arguments": "{\"a\":1}"}}])
    );
}

/// Row 20: a Responses stream that ends without its terminal event keeps the text of
/// its deltas as an assistant message, without usage.
#[test]
fn a_responses_stream_without_its_terminal_event_keeps_the_text_without_usage() {
    let mut req = resp_req();
    req["stream"] = json!(true);
    let delta = |t: &str| json!({"type": "response.output_text.delta", "delta": t});
    let s = streamed(
        Api::OpenAiResponses,
        req,
        vec![
            json!({"type": "response.created", "response": {"id": "resp_1", "status": "in_progress",
                "output": []}}),
            delta("Hello "),
            delta("world"),
        ],
    );
    assert_eq!(s.name(), "openai.responses.create");
    assert_eq!(s.status(), "ok");
    assert_eq!(
        s.output(),
        Some(json!({"role": "assistant", "content": "Hello world"}))
    );
    assert_eq!(s.json()["usage_available"], json!(false));
    assert!(s.attribute("time_to_first_token").is_some());
}

/// Row 21: Anthropic raw stream `thinking_delta`s accumulate into the block's `thinking`
/// (the signature too) and the span says it had thinking.
#[test]
fn anthropic_raw_stream_thinking_deltas_make_a_thinking_block() {
    let mut req = ant_req();
    req["stream"] = json!(true);
    req["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
    let delta = |i: u64, d: Value| json!({"type": "content_block_delta", "index": i, "delta": d});
    let s = streamed(
        Api::AnthropicMessages,
        req,
        vec![
            json!({"type": "message_start", "message": {"id": "msg_1", "model": "claude-x",
                "usage": {"input_tokens": 25, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "thinking", "thinking": ""}}),
            delta(
                0,
                json!({"type": "thinking_delta", "thinking": "User wants "}),
            ),
            delta(0, json!({"type": "thinking_delta", "thinking": "weather."})),
            delta(0, json!({"type": "signature_delta", "signature": "sig_1"})),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1,
                "content_block": {"type": "text", "text": ""}}),
            delta(1, json!({"type": "text_delta", "text": "Sunny."})),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 30}}),
        ],
    );
    assert_eq!(
        s.output(),
        Some(json!({"content": [
            {"type": "thinking", "thinking": "User wants weather.", "signature": "sig_1"},
            {"type": "text", "text": "Sunny."}]}))
    );
    assert_eq!(s.attribute("has_thinking"), Some(json!(true)));
    assert_eq!(s.attribute("stop_reason"), Some(json!("end_turn")));
}

// ------------------------------------------------------------------ §4 continuation

/// The span whose `stop_reason` is `stop`.
fn by_stop<'a>(spans: &'a CapturedSpans, stop: &str) -> &'a CapturedSpan {
    spans
        .iter()
        .find(|s| s.attribute("stop_reason") == Some(json!(stop)))
        .unwrap_or_else(|| panic!("no span stopped by {stop}"))
}

fn proposing_chat_reply(id: &str) -> Value {
    json!({"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [
        {"id": id, "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        "finish_reason": "tool_calls"}]})
}

/// Row 7 (chat): only the trailing run of `tool` messages continues a trace; an earlier
/// answered call does not, and its id stays available to a later call.
#[test]
fn only_trailing_tool_messages_continue_a_chat_call() {
    let history = |trailing_user: bool| {
        let mut m = json!([
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_t1",
                "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_t1", "content": "21 C"}]);
        if trailing_user {
            if let Some(a) = m.as_array_mut() {
                a.push(json!({"role": "user", "content": "And tomorrow?"}));
            }
        }
        json!({"model": "gpt-4o-mini", "messages": m})
    };
    let ((), spans) = capture(|| {
        let _agent = staso::span("agent", Kind::Agent);
        call(
            Api::OpenAiChat,
            &chat_req(),
            &proposing_chat_reply("call_t1"),
        );
        call(Api::OpenAiChat, &history(true), &chat_reply("length"));
        call(Api::OpenAiChat, &history(false), &chat_reply("stop"));
    });
    let agent = spans.named("agent");
    let proposer = spans.named("chat:tool_calls(f)");
    assert_eq!(
        by_stop(&spans, "length").parent_span_id(),
        Some(agent.span_id())
    );
    assert_eq!(
        by_stop(&spans, "stop").parent_span_id(),
        Some(proposer.span_id())
    );
}

/// Row 7 (Anthropic): a `tool_result` continues the trace only from the last message,
/// and only when that message is the user's.
#[test]
fn only_a_tool_result_in_the_last_user_message_continues_an_anthropic_call() {
    let messages = |tail: Option<Value>| {
        let mut m = vec![
            json!({"role": "user", "content": "Weather?"}),
            json!({"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_t1",
                "name": "f", "input": {}}]}),
            json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_t1",
                "content": "21 C"}]}),
        ];
        m.extend(tail);
        json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": m})
    };
    let reply =
        |stop: &str| json!({"content": [{"type": "text", "text": "x"}], "stop_reason": stop});
    let ((), spans) = capture(|| {
        let _agent = staso::span("agent", Kind::Agent);
        call(
            Api::AnthropicMessages,
            &ant_req(),
            &json!({"content": [{"type": "tool_use", "id": "toolu_t1", "name": "f", "input": {}}],
                "stop_reason": "tool_use"}),
        );
        let prefill = json!({"role": "assistant", "content": "It is"});
        let later_user = json!({"role": "user", "content": "And tomorrow?"});
        call(
            Api::AnthropicMessages,
            &messages(Some(prefill)),
            &reply("max_tokens"),
        );
        call(
            Api::AnthropicMessages,
            &messages(Some(later_user)),
            &reply("stop_sequence"),
        );
        call(Api::AnthropicMessages, &messages(None), &reply("end_turn"));
    });
    let agent = spans.named("agent");
    let proposer = spans.named("chat:tool_use(f)");
    let by_stop = |stop: &str| by_stop(&spans, stop);
    assert_eq!(
        by_stop("max_tokens").parent_span_id(),
        Some(agent.span_id())
    );
    assert_eq!(
        by_stop("stop_sequence").parent_span_id(),
        Some(agent.span_id())
    );
    assert_eq!(
        by_stop("end_turn").parent_span_id(),
        Some(proposer.span_id())
    );
}

// --------------------------------------------------------- issue part: JSON Responses

/// Row 27: the JSON-level API records an OpenAI Responses call directly: name from its
/// function call, instructions and input as messages, parameters, usage, the output.
#[test]
fn the_json_level_records_a_responses_call() {
    let req = json!({"model": "gpt-5-mini", "instructions": "Be brief.", "input": "Weather in Paris?",
        "tools": [{"type": "function", "name": "get_weather", "parameters": {}}],
        "reasoning": {"effort": "low"}, "max_output_tokens": 100, "temperature": 0.5});
    let call_item = json!({"id": "fc_1", "type": "function_call", "call_id": "call_r1",
        "name": "get_weather", "arguments": "{\"city\":\"Paris\"}", "status": "completed"});
    let s = one(
        Api::OpenAiResponses,
        req,
        json!({"id": "resp_1", "model": "gpt-5-mini-2025-08-07", "status": "completed",
            "service_tier": "default", "output": [call_item],
            "usage": {"input_tokens": 1500, "output_tokens": 120, "total_tokens": 1620,
                "input_tokens_details": {"cached_tokens": 512},
                "output_tokens_details": {"reasoning_tokens": 64}}}),
    );
    assert_eq!(s.name(), "response:tool_calls(get_weather)");
    assert_eq!(s.kind(), "llm");
    let j = s.json();
    assert_eq!(
        (
            &j["provider"],
            &j["model"],
            &j["requested_model"],
            &j["reasoning_effort"]
        ),
        (
            &json!("openai"),
            &json!("gpt-5-mini-2025-08-07"),
            &json!("gpt-5-mini"),
            &json!("low")
        )
    );
    assert_eq!(
        (&j["input_tokens"], &j["output_tokens"], &j["total_tokens"]),
        (&json!(1500), &json!(120), &json!(1620))
    );
    let input = s.input().expect("input");
    assert_eq!(
        input["messages"],
        json!([{"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"}])
    );
    assert_eq!(input["tools"][0]["name"], "get_weather");
    let out = s.output().expect("output");
    assert_eq!(out["role"], "assistant");
    assert_eq!(out["tool_calls"], json!([call_item]));
    let a = s.attributes();
    assert_eq!(a["max_tokens"], json!(100));
    assert_eq!(a["temperature"], json!(0.5));
    assert_eq!(a["stop_reason"], json!("completed"));
    assert_eq!(a["response_id"], json!("resp_1"));
    assert_eq!(a["service_tier"], json!("default"));
    assert_eq!(a["cache_read_input_tokens"], json!(512));
    assert_eq!(a["reasoning_tokens"], json!(64));
}
