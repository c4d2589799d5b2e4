//! A fake OpenAI-compatible and Anthropic server on loopback, answering the same bodies as
//! the LLM contract's `fake_llm_server.py`: `POST /v1/chat/completions`, `/v1/responses`,
//! `/v1/embeddings`, `/v1/messages`, as JSON or as server-sent events when the body asks
//! for a stream. The reply is chosen by the `x-fake-scenario` header (`text` by default):
//! `text`, `tool_call`, `cached_reasoning`, `json`, `error429`, `error400`,
//! `midstream_drop`, `slow` (150 ms before the first content delta), `tool_use`,
//! `thinking`, and `auto` (a tool call while the request has tools and no tool result). Shared by `examples/llm.rs` and the tests in `tests/llm`.
//!
//! A minimal HTTP/1.1 server on tokio (one request per connection, `Connection: close`)
//! so that a test controls every byte: chunked SSE bodies, delays, and a connection
//! dropped in the middle of a stream.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The path, e.g. `/v1/chat/completions`.
    pub path: String,
    /// The `x-fake-scenario` header.
    pub scenario: String,
    /// The parsed JSON body.
    pub body: Value,
}

/// A running fake provider; it stops when the runtime it was started on stops.
#[derive(Clone)]
pub struct FakeLlm {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: Arc<Mutex<Vec<Received>>>,
}

impl FakeLlm {
    /// Starts serving on a free loopback port (on the current tokio runtime).
    pub async fn start() -> std::io::Result<FakeLlm> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let l = l.clone();
                tokio::spawn(async move {
                    let _ = serve(conn, l).await;
                });
            }
        });
        Ok(FakeLlm { base, log })
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Received> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

const CHAT_MODEL: &str = "gpt-4o-mini-2024-07-18";
const CLAUDE_MODEL: &str = "claude-sonnet-4-5-20250929";
const TOOL_ARGS: &str = r#"{"city": "Paris", "unit": "celsius"}"#;

fn chat_usage(scenario: &str) -> Value {
    if scenario == "cached_reasoning" {
        return json!({"prompt_tokens": 2048, "completion_tokens": 300, "total_tokens": 2348,
            "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0, "cache_write_tokens": 64},
            "completion_tokens_details": {"reasoning_tokens": 256, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}});
    }
    json!({"prompt_tokens": 57, "completion_tokens": 17, "total_tokens": 74,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}})
}

fn chat_completion(scenario: &str) -> Value {
    let mut msg = json!({"role": "assistant", "content": null, "refusal": null, "annotations": []});
    let mut finish = "stop";
    match scenario {
        "tool_call" => {
            msg["tool_calls"] = json!([{"id": "call_abc123", "type": "function",
                "function": {"name": "get_weather", "arguments": TOOL_ARGS}}]);
            finish = "tool_calls";
        }
        "json" => msg["content"] = json!(r#"{"city": "Paris", "temperature": 21}"#),
        _ => msg["content"] = json!("It is 21 degrees and sunny in Paris."),
    }
    json!({"id": "chatcmpl-fake001", "object": "chat.completion", "created": 1767225600,
        "model": CHAT_MODEL, "service_tier": "default", "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "message": msg, "logprobs": null, "finish_reason": finish}],
        "usage": chat_usage(scenario)})
}

/// What a stream sends next.
enum Step {
    Data(u64, String),
    Drop,
}

fn chat_chunks(scenario: &str, req: &Value) -> Vec<Step> {
    let include_usage = req
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    let base = json!({"id": "chatcmpl-fakestream01", "object": "chat.completion.chunk",
        "created": 1767225600, "model": CHAT_MODEL, "service_tier": "default",
        "system_fingerprint": "fp_fake"});
    let ch = |delta: Value, finish: Value| {
        let mut c = base.clone();
        c["choices"] =
            json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]);
        if include_usage {
            c["usage"] = Value::Null;
        }
        c.to_string()
    };
    let slow = scenario == "slow";
    let mut out = vec![Step::Data(
        0,
        ch(
            json!({"role": "assistant", "content": "", "refusal": null}),
            Value::Null,
        ),
    )];
    if scenario == "tool_call" {
        out.push(Step::Data(
            0,
            ch(
                json!({"tool_calls": [{"index": 0, "id": "call_abc123",
            "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
                Value::Null,
            ),
        ));
        for piece in [r#"{"city": "#, r#""Paris", "#, r#""unit": "celsius"}"#] {
            out.push(Step::Data(
                10,
                ch(
                    json!({"tool_calls": [{"index": 0,
                "function": {"arguments": piece}}]}),
                    Value::Null,
                ),
            ));
        }
        out.push(Step::Data(0, ch(json!({}), json!("tool_calls"))));
    } else {
        for (i, piece) in ["It is ", "21 degrees ", "and sunny ", "in Paris."]
            .into_iter()
            .enumerate()
        {
            if scenario == "midstream_drop" && i == 2 {
                out.push(Step::Drop);
                return out;
            }
            let delay = match (slow, i) {
                (true, 0) => 150,
                (true, _) => 50,
                _ => 5,
            };
            out.push(Step::Data(
                delay,
                ch(json!({"content": piece}), Value::Null),
            ));
        }
        out.push(Step::Data(0, ch(json!({}), json!("stop"))));
    }
    if include_usage {
        let mut c = base.clone();
        c["choices"] = json!([]);
        c["usage"] = chat_usage(if scenario == "cached_reasoning" {
            "cached_reasoning"
        } else {
            "x"
        });
        out.push(Step::Data(0, c.to_string()));
    }
    out.push(Step::Data(0, "[DONE]".into()));
    out
}

fn responses_obj(scenario: &str, req: &Value, status: &str) -> Value {
    let output = if scenario == "tool_call" {
        json!([{"id": "rs_fake01", "type": "reasoning", "summary": [], "content": null,
                "encrypted_content": null, "status": null},
               {"id": "fc_fake01", "type": "function_call", "call_id": "call_resp01",
                "name": "get_weather", "arguments": TOOL_ARGS, "status": "completed"}])
    } else {
        json!([{"id": "msg_fake01", "type": "message", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": "It is 21 degrees in Paris.",
                             "annotations": [], "logprobs": []}]}])
    };
    json!({"id": "resp_fake01", "object": "response", "created_at": 1767225600,
        "status": status, "background": false, "error": null, "incomplete_details": null,
        "instructions": req.get("instructions"), "max_output_tokens": req.get("max_output_tokens"),
        "model": "gpt-5-mini-2025-08-07", "output": output, "parallel_tool_calls": true,
        "previous_response_id": null, "reasoning": {"effort": "low", "summary": null},
        "service_tier": "default", "store": true, "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto", "tools": req.get("tools").cloned().unwrap_or(json!([])), "top_p": 1.0,
        "truncation": "disabled", "metadata": {},
        "usage": {"input_tokens": 1500, "input_tokens_details": {"cached_tokens": 512},
                  "output_tokens": 120, "output_tokens_details": {"reasoning_tokens": 64},
                  "total_tokens": 1620}})
}

fn responses_events(scenario: &str, req: &Value) -> Vec<Step> {
    let mut created = responses_obj(scenario, req, "in_progress");
    created["output"] = json!([]);
    created["usage"] = Value::Null;
    let mut seq = 0;
    let mut events = vec![json!({"type": "response.created", "response": created})];
    if scenario == "tool_call" {
        events.push(
            json!({"type": "response.output_item.added", "output_index": 0,
            "item": {"id": "fc_fake01", "type": "function_call", "call_id": "call_resp01",
                     "name": "get_weather", "arguments": "", "status": "in_progress"}}),
        );
        for piece in [r#"{"city": "#, r#""Paris", "#, r#""unit": "celsius"}"#] {
            events.push(json!({"type": "response.function_call_arguments.delta",
                "item_id": "fc_fake01", "output_index": 0, "delta": piece}));
        }
    } else {
        events.push(
            json!({"type": "response.output_item.added", "output_index": 0,
            "item": {"id": "msg_fake01", "type": "message", "role": "assistant",
                     "status": "in_progress", "content": []}}),
        );
        for piece in ["It is ", "21 degrees ", "in Paris."] {
            events.push(
                json!({"type": "response.output_text.delta", "item_id": "msg_fake01",
                "output_index": 0, "content_index": 0, "delta": piece, "logprobs": []}),
            );
        }
    }
    events.push(json!({"type": "response.completed",
        "response": responses_obj(scenario, req, "completed")}));
    events
        .into_iter()
        .map(|mut e| {
            e["sequence_number"] = json!(seq);
            seq += 1;
            let ty = e["type"].as_str().unwrap_or_default().to_string();
            Step::Data(5, format!("event: {ty}\ndata: {e}"))
        })
        .collect()
}

fn anthropic_usage(output_tokens: u64) -> Value {
    json!({"input_tokens": 25, "output_tokens": output_tokens,
        "cache_read_input_tokens": 100, "cache_creation_input_tokens": 50,
        "cache_creation": {"ephemeral_5m_input_tokens": 30, "ephemeral_1h_input_tokens": 20},
        "service_tier": "standard"})
}

fn anthropic_message(scenario: &str) -> Value {
    let mut content = Vec::new();
    let mut stop = "end_turn";
    if scenario == "thinking" {
        content.push(
            json!({"type": "thinking", "thinking": "User wants weather.", "signature": "sig_fake"}),
        );
    }
    content.push(json!({"type": "text", "text": "Let me check the weather."}));
    if scenario == "tool_use" {
        content.push(
            json!({"type": "tool_use", "id": "toolu_fake01", "name": "get_weather",
            "input": {"city": "Paris", "unit": "celsius"}}),
        );
        stop = "tool_use";
    }
    json!({"id": "msg_fake01", "type": "message", "role": "assistant", "model": CLAUDE_MODEL,
        "content": content, "stop_reason": stop, "stop_sequence": null,
        "usage": anthropic_usage(42)})
}

fn anthropic_events(scenario: &str) -> Vec<Step> {
    let msg = anthropic_message(scenario);
    let mut start = msg.clone();
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["usage"] = anthropic_usage(1);
    let slow = scenario == "slow";
    let ev =
        |delay: u64, name: &str, e: Value| Step::Data(delay, format!("event: {name}\ndata: {e}"));
    let mut out = vec![
        ev(
            0,
            "message_start",
            json!({"type": "message_start", "message": start}),
        ),
        ev(0, "ping", json!({"type": "ping"})),
        ev(
            0,
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ),
    ];
    for (i, piece) in ["Let me ", "check the ", "weather."]
        .into_iter()
        .enumerate()
    {
        let delay = if slow && i == 0 { 150 } else { 5 };
        out.push(ev(
            delay,
            "content_block_delta",
            json!({"type": "content_block_delta",
            "index": 0, "delta": {"type": "text_delta", "text": piece}}),
        ));
    }
    out.push(ev(
        0,
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    if scenario == "tool_use" {
        out.push(ev(0, "content_block_start", json!({"type": "content_block_start", "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_fake01", "name": "get_weather", "input": {}}})));
        for piece in [r#"{"city": "Par"#, r#"is", "unit": "#, r#""celsius"}"#] {
            out.push(ev(
                5,
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": piece}}),
            ));
        }
        out.push(ev(
            0,
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 1}),
        ));
    }
    out.push(ev(
        0,
        "message_delta",
        json!({"type": "message_delta",
        "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": null},
        "usage": {"output_tokens": 42}}),
    ));
    out.push(ev(0, "message_stop", json!({"type": "message_stop"})));
    out
}

fn error_body(path: &str, code: u16) -> Value {
    if path == "/v1/messages" {
        return json!({"type": "error", "error": {
            "type": if code == 429 { "rate_limit_error" } else { "invalid_request_error" },
            "message": if code == 429 { "Number of requests has exceeded your rate limit" }
                       else { "messages: at least one message is required" }}});
    }
    json!({"error": {
        "message": if code == 429 { "Rate limit reached for gpt-4o-mini" } else { "Invalid 'messages': empty array" },
        "type": if code == 429 { "requests" } else { "invalid_request_error" },
        "param": null,
        "code": if code == 429 { "rate_limit_exceeded" } else { "invalid_value" }}})
}

/// `auto`: what an agent loop needs — a tool call while the model has tools and no tool
/// result yet, else text.
fn auto(req: &Value) -> String {
    let messages = req["messages"].as_array().cloned().unwrap_or_default();
    let answered = messages.last().is_some_and(|m| m["role"] == "tool");
    let has_tools = req["tools"].as_array().is_some_and(|t| !t.is_empty());
    if has_tools && !answered {
        "tool_call".into()
    } else {
        "text".into()
    }
}

/// Reads one request: (path, lower-cased headers, body).
async fn read_request(
    conn: &mut TcpStream,
) -> std::io::Result<(String, Vec<(String, String)>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut tmp).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("/")
        .to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut tmp).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    Ok((path, headers, body))
}

async fn send_json(conn: &mut TcpStream, status: u16, body: &Value) -> std::io::Result<()> {
    let data = body.to_string();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Error",
    };
    // Retry-After 0: async-openai retries a 429 at once (three times by default).
    let extra = if status == 429 {
        "retry-after: 0\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}x-request-id: req_fake\r\nconnection: close\r\n\r\n",
        data.len()
    );
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(data.as_bytes()).await?;
    conn.flush().await
}

async fn send_sse(conn: &mut TcpStream, steps: Vec<Step>) -> std::io::Result<()> {
    conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n").await?;
    conn.flush().await?;
    for step in steps {
        match step {
            Step::Data(delay, data) => {
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                let frame = if data.starts_with("event:") {
                    // `event: name\ndata: {...}`
                    format!("{data}\n\n")
                } else {
                    format!("data: {data}\n\n")
                };
                conn.write_all(format!("{:x}\r\n{frame}\r\n", frame.len()).as_bytes())
                    .await?;
                conn.flush().await?;
            }
            Step::Drop => {
                // Close without the terminating chunk: the client sees the body cut short.
                conn.flush().await?;
                return conn.shutdown().await;
            }
        }
    }
    conn.write_all(b"0\r\n\r\n").await?;
    conn.flush().await
}

async fn serve(mut conn: TcpStream, log: Arc<Mutex<Vec<Received>>>) -> std::io::Result<()> {
    let (path, headers, raw) = read_request(&mut conn).await?;
    let body: Value = serde_json::from_slice(&raw).unwrap_or(json!({}));
    let scenario = headers
        .iter()
        .find(|(k, _)| k == "x-fake-scenario")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "text".into());
    let path = path.split('?').next().unwrap_or("/").to_string();
    let scenario = if scenario == "auto" {
        auto(&body)
    } else {
        scenario
    };
    if let Ok(mut l) = log.lock() {
        l.push(Received {
            path: path.clone(),
            scenario: scenario.clone(),
            body: body.clone(),
        });
    }
    let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
    if scenario == "error429" || scenario == "error400" {
        let code = if scenario == "error429" { 429 } else { 400 };
        return send_json(&mut conn, code, &error_body(&path, code)).await;
    }
    match (path.as_str(), stream) {
        ("/v1/chat/completions", false) => {
            send_json(&mut conn, 200, &chat_completion(&scenario)).await
        }
        ("/v1/chat/completions", true) => send_sse(&mut conn, chat_chunks(&scenario, &body)).await,
        ("/v1/responses", false) => {
            send_json(
                &mut conn,
                200,
                &responses_obj(&scenario, &body, "completed"),
            )
            .await
        }
        ("/v1/responses", true) => send_sse(&mut conn, responses_events(&scenario, &body)).await,
        ("/v1/embeddings", _) => {
            let n = match body.get("input") {
                Some(Value::Array(a)) => a.len(),
                _ => 1,
            };
            let data: Vec<Value> = (0..n)
                .map(|i| json!({"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}))
                .collect();
            send_json(
                &mut conn,
                200,
                &json!({"object": "list", "model": "text-embedding-3-small",
                "data": data, "usage": {"prompt_tokens": 5, "total_tokens": 5}}),
            )
            .await
        }
        ("/v1/messages", false) => send_json(&mut conn, 200, &anthropic_message(&scenario)).await,
        ("/v1/messages", true) => send_sse(&mut conn, anthropic_events(&scenario)).await,
        _ => {
            send_json(
                &mut conn,
                404,
                &json!({"error": {"message": format!("not found: {path}")}}),
            )
            .await
        }
    }
}
