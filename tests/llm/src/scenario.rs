//! The contract's `scenario.py`, step by step, in Rust: OpenAI through async-openai
//! (wrapped once with `staso::integrations::async_openai::traced`), Anthropic through the
//! JSON-level API over reqwest. Each step is an `#[staso::agent]` named like the Python
//! one, so spans match by agent name.

use crate::fake::FakeLlm;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{CreateChatCompletionRequest, CreateChatCompletionResponse};
use async_openai::types::embeddings::CreateEmbeddingRequest;
use async_openai::types::responses::{CreateResponse, Response};
use futures_util::StreamExt;
use serde_json::{json, Value};
use staso::integrations::async_openai::{traced, Traced};
use staso::llm::{Api, LlmSpan};
use std::time::Duration;

pub const SYSTEM: &str = "You are a weather assistant. Be brief.";
pub const USER: &str = "What is the weather in Paris?";

fn tools() -> Value {
    json!([{"type": "function", "function": {
        "name": "get_weather", "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                         "unit": {"type": "string"}},
                       "required": ["city"]}}}])
}

fn ant_tools() -> Value {
    json!([{"name": "get_weather", "description": "Current weather for a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                             "required": ["city"]}}])
}

fn resp_tools() -> Value {
    json!([{"type": "function", "name": "get_weather", "description": "Current weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                           "required": ["city"]}}])
}

fn msgs() -> Value {
    json!([{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}])
}

/// `CHAT_PARAMS` of scenario.py merged into `body`.
fn with_chat_params(mut body: Value) -> Value {
    let params = json!({"temperature": 0.2, "max_tokens": 256, "top_p": 0.9, "seed": 7,
        "stop": ["END"], "frequency_penalty": 0.1, "presence_penalty": 0.0, "tool_choice": "auto",
        "parallel_tool_calls": true, "user": "end-user-1", "response_format": {"type": "text"}});
    if let (Some(b), Some(p)) = (body.as_object_mut(), params.as_object()) {
        b.extend(p.clone());
    }
    body
}

fn chat(body: Value) -> CreateChatCompletionRequest {
    serde_json::from_value(body).expect("a valid chat request")
}

fn responses_req(body: Value) -> CreateResponse {
    serde_json::from_value(body).expect("a valid Responses request")
}

/// The providers of one run.
#[derive(Clone)]
pub struct Providers {
    pub fake: FakeLlm,
    http: reqwest::Client,
}

impl Providers {
    pub fn new(fake: FakeLlm) -> Providers {
        Providers {
            fake,
            http: reqwest::Client::new(),
        }
    }

    /// An async-openai client for `scenario`, traced: the one line a user changes.
    pub fn oai(&self, scenario: &str) -> Traced<OpenAIConfig> {
        let config = OpenAIConfig::new()
            .with_api_base(format!("{}/v1", self.fake.base))
            .with_api_key("sk-fake")
            .with_header("x-fake-scenario", scenario)
            .expect("a valid header");
        traced(async_openai::Client::with_config(config))
    }

    /// Anthropic Messages, non-streaming, through the JSON-level API: the reply body, or
    /// the HTTP error (recorded as the Python SDK names it).
    pub async fn ant(&self, scenario: &str, body: Value) -> Result<Value, String> {
        let span = LlmSpan::start_json(Api::AnthropicMessages, &body);
        let sent = self
            .http
            .post(format!("{}/v1/messages", self.fake.base))
            .header("x-fake-scenario", scenario)
            .json(&body)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                span.fail_as("APIConnectionError", &e);
                return Err(e.to_string());
            }
        };
        let status = resp.status().as_u16();
        let value: Value = resp.json().await.unwrap_or(Value::Null);
        if status >= 400 {
            let message = format!("Error code: {status} - {value}");
            let kind = if status == 429 {
                "RateLimitError"
            } else {
                "BadRequestError"
            };
            span.fail_as(kind, &message);
            return Err(message);
        }
        // A guard block of a proposed tool call is the caller's error, as for any user of
        // the JSON level.
        span.finish_json(&value)
            .map_err(|blocked| blocked.to_string())?;
        Ok(value)
    }

    /// Anthropic Messages, streaming, through the JSON-level API: the raw SSE body is
    /// wrapped (`LlmSpan::sse_stream`) and read here; stops after `limit` events (ping
    /// excluded), dropping the stream. Returns the events read.
    pub async fn ant_stream(&self, scenario: &str, body: Value, limit: usize) -> usize {
        let span = LlmSpan::start_json(Api::AnthropicMessages, &body);
        let resp = match self
            .http
            .post(format!("{}/v1/messages", self.fake.base))
            .header("x-fake-scenario", scenario)
            .json(&body)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                span.fail_as("APIConnectionError", &e);
                return 0;
            }
        };
        let mut stream = Box::pin(span.sse_stream(resp.bytes_stream()));
        let mut text = String::new();
        let mut events = 0;
        while let Some(chunk) = stream.next().await {
            let Ok(bytes) = chunk else { break };
            text.push_str(&String::from_utf8_lossy(&bytes));
            while let Some(end) = text.find("\n\n") {
                let frame: String = text.drain(..end + 2).collect();
                if !frame.contains("\"type\": \"ping\"") && !frame.contains("\"type\":\"ping\"") {
                    events += 1;
                }
            }
            if events >= limit {
                return events;
            }
        }
        events
    }
}

#[staso::tool]
pub fn get_weather(city: &str, unit: &str) -> String {
    format!("21 {unit} in {city}")
}

// ------------------------------------------------------------- OpenAI chat.completions

#[staso::agent]
pub async fn s01_openai_tool_call(p: Providers) -> Option<String> {
    let body =
        with_chat_params(json!({"model": "gpt-4o-mini", "messages": msgs(), "tools": tools()}));
    let r: CreateChatCompletionResponse =
        p.oai("tool_call").chat().create(chat(body)).await.ok()?;
    let call = serde_json::to_value(&r).ok()?["choices"][0]["message"]["tool_calls"][0].clone();
    let result = get_weather("Paris", "celsius");
    let mut follow = msgs();
    if let Some(m) = follow.as_array_mut() {
        m.push(json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": call["id"], "type": "function",
             "function": {"name": call["function"]["name"], "arguments": call["function"]["arguments"]}}]}));
        m.push(json!({"role": "tool", "tool_call_id": call["id"], "content": result}));
    }
    let r2 = p
        .oai("text")
        .chat()
        .create(chat(
            json!({"model": "gpt-4o-mini", "messages": follow, "tools": tools()}),
        ))
        .await
        .ok()?;
    r2.choices[0].message.content.clone()
}

#[staso::agent]
pub async fn s02_openai_stream_text(p: Providers) -> usize {
    let body =
        with_chat_params(json!({"model": "gpt-4o-mini", "messages": msgs(), "tools": tools()}));
    let Ok(mut stream) = p.oai("slow").chat().create_stream(chat(body)).await else {
        return 0;
    };
    let mut n = 0;
    while let Some(chunk) = stream.next().await {
        if chunk.is_ok() {
            n += 1;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    n
}

#[staso::agent]
pub async fn s03_openai_stream_tool_call(p: Providers) -> usize {
    let body = json!({"model": "gpt-4o-mini", "messages": msgs(), "tools": tools(),
                      "stream_options": {"include_usage": true}});
    let Ok(stream) = p.oai("tool_call").chat().create_stream(chat(body)).await else {
        return 0;
    };
    stream.count().await
}

#[staso::agent]
pub async fn s04_openai_cached_reasoning(p: Providers) -> bool {
    let body = json!({"model": "o4-mini", "messages": msgs(), "reasoning_effort": "low",
                      "max_completion_tokens": 1000});
    p.oai("cached_reasoning")
        .chat()
        .create(chat(body))
        .await
        .is_ok()
}

#[staso::agent]
pub async fn s05_openai_cached_reasoning_stream(p: Providers) -> usize {
    let body = json!({"model": "o4-mini", "messages": msgs(), "reasoning_effort": "high"});
    let Ok(stream) = p
        .oai("cached_reasoning")
        .chat()
        .create_stream(chat(body))
        .await
    else {
        return 0;
    };
    stream.count().await
}

#[staso::agent]
pub async fn s06_openai_error_429(p: Providers) -> String {
    let body = json!({"model": "gpt-4o-mini", "messages": msgs()});
    match p.oai("error429").chat().create(chat(body)).await {
        Err(e) => format!("{e}"),
        Ok(_) => "no error".into(),
    }
}

#[staso::agent]
pub async fn s07_openai_error_400(p: Providers) -> String {
    let body = json!({"model": "gpt-4o-mini", "messages": msgs()});
    match p.oai("error400").chat().create(chat(body)).await {
        Err(e) => format!("{e}"),
        Ok(_) => "no error".into(),
    }
}

#[staso::agent]
pub async fn s08_openai_stream_error_400(p: Providers) -> String {
    let body = json!({"model": "gpt-4o-mini", "messages": msgs()});
    match p.oai("error400").chat().create_stream(chat(body)).await {
        Err(e) => format!("{e}"),
        Ok(_) => "no error".into(),
    }
}

#[staso::agent]
pub async fn s09_openai_stream_midstream_drop(p: Providers) -> String {
    let body = json!({"model": "gpt-4o-mini", "messages": msgs()});
    let Ok(mut stream) = p
        .oai("midstream_drop")
        .chat()
        .create_stream(chat(body))
        .await
    else {
        return "refused".into();
    };
    let mut got = 0;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(_) => got += 1,
            Err(e) => return format!("{e} after {got} chunks"),
        }
    }
    format!("no error after {got} chunks")
}

#[staso::agent]
pub async fn s10_openai_stream_break(p: Providers) -> usize {
    let body = json!({"model": "gpt-4o-mini", "messages": msgs()});
    let Ok(mut stream) = p.oai("text").chat().create_stream(chat(body)).await else {
        return 0;
    };
    let mut got = 0;
    while stream.next().await.is_some() {
        got += 1;
        if got == 2 {
            break;
        }
    }
    got
}

#[staso::agent]
pub async fn s11_openai_stream_close(p: Providers) -> usize {
    let body = json!({"model": "gpt-4o-mini", "messages": msgs()});
    let Ok(mut stream) = p.oai("text").chat().create_stream(chat(body)).await else {
        return 0;
    };
    for _ in 0..3 {
        let _ = stream.next().await;
    }
    drop(stream);
    3
}

#[staso::agent]
pub async fn s12_openai_stream_abandoned(p: Providers) -> String {
    let body = json!({"model": "gpt-4o-mini", "messages": msgs()});
    let stream = p.oai("text").chat().create_stream(chat(body)).await;
    drop(stream);
    get_weather("Lyon", "celsius")
}

#[staso::agent]
pub async fn s18_openai_stream_tool_inside(p: Providers) -> usize {
    let body = json!({"model": "gpt-4o-mini", "messages": msgs()});
    let Ok(mut stream) = p.oai("text").chat().create_stream(chat(body)).await else {
        return 0;
    };
    let mut n = 0;
    while stream.next().await.is_some() {
        n += 1;
        if n == 1 {
            get_weather("Nice", "celsius");
        }
    }
    n
}

#[staso::agent]
pub async fn s19_openai_stream_no_usage(p: Providers) -> usize {
    let body = json!({"model": "gpt-4o-mini", "messages": msgs(),
                      "stream_options": {"include_usage": false}});
    let Ok(stream) = p.oai("text").chat().create_stream(chat(body)).await else {
        return 0;
    };
    stream.count().await
}

/// The JSON schema the Python step's Pydantic class `Weather` gives.
pub fn weather_format() -> Value {
    json!({"type": "json_schema", "json_schema": {"name": "Weather", "strict": true, "schema": {
        "properties": {"city": {"title": "City", "type": "string"},
                       "temperature": {"title": "Temperature", "type": "integer"}},
        "required": ["city", "temperature"], "title": "Weather", "type": "object",
        "additionalProperties": false}}})
}

#[staso::agent]
pub async fn s13_openai_parse(p: Providers) -> bool {
    // async-openai has no `parse()`: the structured-output request is a json_schema
    // response format.
    let body =
        json!({"model": "gpt-4o-mini", "messages": msgs(), "response_format": weather_format()});
    p.oai("json").chat().create(chat(body)).await.is_ok()
}

#[staso::agent]
pub async fn s14_openai_embeddings(p: Providers) -> usize {
    let req: CreateEmbeddingRequest = serde_json::from_value(
        json!({"model": "text-embedding-3-small", "input": ["hello", "world"]}),
    )
    .expect("a valid embeddings request");
    p.oai("text")
        .embeddings()
        .create(req)
        .await
        .map(|r| r.data.len())
        .unwrap_or(0)
}

// ------------------------------------------------------------------ OpenAI Responses

#[staso::agent]
pub async fn s15_openai_responses_tool_call(p: Providers) -> Option<String> {
    let body = json!({"model": "gpt-5-mini", "instructions": SYSTEM,
        "input": [{"role": "user", "content": USER}], "tools": resp_tools(),
        "reasoning": {"effort": "low"}, "max_output_tokens": 500, "temperature": 1.0,
        "tool_choice": "auto", "text": {"format": {"type": "text"}}});
    let r: Response = p
        .oai("tool_call")
        .responses()
        .create(responses_req(body))
        .await
        .ok()?;
    let out = serde_json::to_value(&r).ok()?;
    let fc = out["output"]
        .as_array()?
        .iter()
        .find(|o| o["type"] == "function_call")?
        .clone();
    let result = get_weather("Paris", "celsius");
    let body2 = json!({"model": "gpt-5-mini", "instructions": SYSTEM,
        "input": [{"role": "user", "content": USER},
                  {"type": "function_call", "call_id": fc["call_id"], "name": fc["name"],
                   "arguments": fc["arguments"]},
                  {"type": "function_call_output", "call_id": fc["call_id"], "output": result}],
        "tools": resp_tools()});
    let r2 = p
        .oai("text")
        .responses()
        .create(responses_req(body2))
        .await
        .ok()?;
    Some(serde_json::to_value(&r2).ok()?["id"].to_string())
}

#[staso::agent]
pub async fn s16_openai_responses_stream(p: Providers) -> usize {
    let body = json!({"model": "gpt-5-mini", "input": USER});
    let Ok(stream) = p
        .oai("text")
        .responses()
        .create_stream(responses_req(body))
        .await
    else {
        return 0;
    };
    stream.count().await
}

#[staso::agent]
pub async fn s17_openai_responses_stream_tool_call(p: Providers) -> usize {
    let body = json!({"model": "gpt-5-mini", "input": USER, "tools": resp_tools()});
    let Ok(stream) = p
        .oai("tool_call")
        .responses()
        .create_stream(responses_req(body))
        .await
    else {
        return 0;
    };
    stream.count().await
}

// ------------------------------------------------------------------------- Anthropic

#[staso::agent]
pub async fn s20_anthropic_tool_use(p: Providers) -> Option<String> {
    let r = p
        .ant(
            "tool_use",
            json!({"model": "claude-sonnet-4-5", "max_tokens": 512, "system": SYSTEM,
            "messages": [{"role": "user", "content": USER}], "tools": ant_tools(),
            "tool_choice": {"type": "auto"}, "stop_sequences": ["END"],
            "output_config": {"effort": "high"}}),
        )
        .await
        .ok()?;
    let content = r["content"].clone();
    let tu = content
        .as_array()?
        .iter()
        .find(|b| b["type"] == "tool_use")?
        .clone();
    let result = get_weather(tu["input"]["city"].as_str()?, tu["input"]["unit"].as_str()?);
    let r2 = p
        .ant(
            "text",
            json!({"model": "claude-sonnet-4-5", "max_tokens": 512, "system": SYSTEM,
            "tools": ant_tools(),
            "messages": [{"role": "user", "content": USER},
                         {"role": "assistant", "content": content},
                         {"role": "user", "content": [{"type": "tool_result",
                             "tool_use_id": tu["id"], "content": result}]}]}),
        )
        .await
        .ok()?;
    r2["content"][0]["text"].as_str().map(str::to_string)
}

#[staso::agent]
pub async fn s21_anthropic_stream_tool_use(p: Providers) -> usize {
    p.ant_stream(
        "tool_use",
        json!({"model": "claude-sonnet-4-5", "max_tokens": 512, "stream": true,
        "system": [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": USER}], "tools": ant_tools()}),
        usize::MAX,
    )
    .await
}

#[staso::agent]
pub async fn s22_anthropic_stream_helper(p: Providers) -> usize {
    // The Python helper `messages.stream()` has no Rust counterpart: the same raw stream.
    p.ant_stream(
        "tool_use",
        json!({"model": "claude-sonnet-4-5", "max_tokens": 512, "stream": true,
        "system": SYSTEM, "messages": [{"role": "user", "content": USER}], "tools": ant_tools()}),
        usize::MAX,
    )
    .await
}

#[staso::agent]
pub async fn s23_anthropic_thinking(p: Providers) -> bool {
    p.ant(
        "thinking",
        json!({"model": "claude-sonnet-4-5", "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [{"role": "user", "content": USER}]}),
    )
    .await
    .is_ok()
}

#[staso::agent]
pub async fn s24_anthropic_error_429(p: Providers) -> bool {
    p.ant(
        "error429",
        json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
        "messages": [{"role": "user", "content": USER}]}),
    )
    .await
    .is_err()
}

#[staso::agent]
pub async fn s25_anthropic_stream_slow(p: Providers) -> usize {
    p.ant_stream(
        "slow",
        json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": USER}]}),
        usize::MAX,
    )
    .await
}

#[staso::agent]
pub async fn s26_anthropic_stream_break(p: Providers) -> usize {
    p.ant_stream(
        "text",
        json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": USER}]}),
        3,
    )
    .await
}

// ----------------------------------------------------------------------------- async

#[staso::agent]
pub async fn s30_async_openai(p: Providers) -> usize {
    let c = p.oai("tool_call");
    let c2 = p.oai("text");
    let _ = c
        .chat()
        .create(chat(
            json!({"model": "gpt-4o-mini", "messages": msgs(), "tools": tools()}),
        ))
        .await;
    match c2
        .chat()
        .create_stream(chat(json!({"model": "gpt-4o-mini", "messages": msgs()})))
        .await
    {
        Ok(s) => s.count().await,
        Err(_) => 0,
    }
}

#[staso::agent]
pub async fn s31_async_anthropic(p: Providers) -> usize {
    let _ = p
        .ant(
            "tool_use",
            json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
            "messages": [{"role": "user", "content": USER}], "tools": ant_tools()}),
        )
        .await;
    p.ant_stream(
        "tool_use",
        json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true,
        "tools": ant_tools(), "messages": [{"role": "user", "content": USER}]}),
        usize::MAX,
    )
    .await
}

// ------------------------------------------------------------------ no enclosing agent

/// Provider calls with no agent: tool call, tool, continuation, then a stream, an
/// Anthropic call and a chat call. Each becomes a root LLM span (the continuation a child
/// of the call that proposed the tool).
pub async fn noagent(p: Providers) {
    let c = p.oai("tool_call");
    if let Ok(r) = c
        .chat()
        .create(chat(
            json!({"model": "gpt-4o-mini", "messages": msgs(), "tools": tools()}),
        ))
        .await
    {
        let call = serde_json::to_value(&r).unwrap_or_default()["choices"][0]["message"]
            ["tool_calls"][0]
            .clone();
        let result = get_weather("Paris", "celsius");
        let mut follow = msgs();
        if let Some(m) = follow.as_array_mut() {
            m.push(json!({"role": "assistant", "content": null, "tool_calls": [call.clone()]}));
            m.push(json!({"role": "tool", "tool_call_id": call["id"], "content": result}));
        }
        let _ = p
            .oai("text")
            .chat()
            .create(chat(
                json!({"model": "gpt-4o-mini", "messages": follow, "tools": tools()}),
            ))
            .await;
    }
    if let Ok(s) = p
        .oai("text")
        .chat()
        .create_stream(chat(json!({"model": "gpt-4o-mini", "messages": msgs()})))
        .await
    {
        s.count().await;
    }
    let _ = p
        .ant(
            "text",
            json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
            "messages": [{"role": "user", "content": USER}]}),
        )
        .await;
    let _ = p
        .oai("text")
        .chat()
        .create(chat(json!({"model": "gpt-4o-mini", "messages": msgs()})))
        .await;
}

/// Runs the steps of `mode` (as scenario.py's STEPS_FULL / STEPS_CAPTURE / async).
pub async fn run(mode: &str, p: &Providers) {
    macro_rules! steps {
        ($($f:ident),* $(,)?) => {{ $( let _ = $f(p.clone()).await; )* }};
    }
    match mode {
        "full" => steps!(
            s01_openai_tool_call,
            s02_openai_stream_text,
            s03_openai_stream_tool_call,
            s04_openai_cached_reasoning,
            s05_openai_cached_reasoning_stream,
            s06_openai_error_429,
            s07_openai_error_400,
            s08_openai_stream_error_400,
            s09_openai_stream_midstream_drop,
            s10_openai_stream_break,
            s11_openai_stream_close,
            s12_openai_stream_abandoned,
            s18_openai_stream_tool_inside,
            s19_openai_stream_no_usage,
            s13_openai_parse,
            s14_openai_embeddings,
            s15_openai_responses_tool_call,
            s16_openai_responses_stream,
            s17_openai_responses_stream_tool_call,
            s20_anthropic_tool_use,
            s21_anthropic_stream_tool_use,
            s22_anthropic_stream_helper,
            s23_anthropic_thinking,
            s24_anthropic_error_429,
            s25_anthropic_stream_slow,
            s26_anthropic_stream_break,
        ),
        "async" => steps!(s30_async_openai, s31_async_anthropic),
        "noagent" => noagent(p.clone()).await,
        _ => steps!(
            s01_openai_tool_call,
            s03_openai_stream_tool_call,
            s02_openai_stream_text,
            s06_openai_error_429,
            s15_openai_responses_tool_call,
            s20_anthropic_tool_use,
            s21_anthropic_stream_tool_use,
            s23_anthropic_thinking,
        ),
    }
}
