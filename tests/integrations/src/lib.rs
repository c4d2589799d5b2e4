//! Test support: a fake OpenAI-compatible server on loopback that answers from a script
//! (JSON replies, server-sent-event streams, errors) and keeps what it was sent.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A JSON body with a status.
    Json(u16, Value),
    /// A `text/event-stream` of chunks (each sent as `data: <json>`), then `[DONE]`;
    /// the first chunk waits `first_delay`.
    Stream {
        /// Wait before the first chunk (time to first token).
        first_delay: Duration,
        /// The chunks.
        chunks: Vec<Value>,
    },
}

/// The fake server. Dropping it stops accepting.
pub struct FakeOpenAi {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeOpenAi {
    /// Starts on a free loopback port, answering requests with `replies` in order (a
    /// 500 once they run out).
    pub async fn start(replies: Vec<Reply>) -> FakeOpenAi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let replies = Arc::new(Mutex::new(VecDeque::from(replies)));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (replies, seen) = (replies.clone(), seen.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req| answer(req, replies.clone(), seen.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        FakeOpenAi {
            addr,
            requests,
            task,
        }
    }

    /// The base URL clients are given (`http://127.0.0.1:<port>/v1`).
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The JSON bodies received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

async fn answer(
    req: Request<hyper::body::Incoming>,
    replies: Arc<Mutex<VecDeque<Reply>>>,
    seen: Arc<Mutex<Vec<Value>>>,
) -> Result<Response<Body>, Infallible> {
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    seen.lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
    let next = replies.lock().unwrap().pop_front();
    Ok(match next {
        Some(Reply::Json(status, body)) => json_response(status, &body),
        Some(Reply::Stream {
            first_delay,
            chunks,
        }) => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(16);
            tokio::spawn(async move {
                tokio::time::sleep(first_delay).await;
                for c in chunks {
                    let line = format!("data: {c}\n\n");
                    if tx.send(Ok(Frame::data(Bytes::from(line)))).await.is_err() {
                        return;
                    }
                }
                let _ = tx
                    .send(Ok(Frame::data(Bytes::from("data: [DONE]\n\n"))))
                    .await;
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(BodyExt::boxed(RxBody(rx)))
                .unwrap()
        }
        None => json_response(
            500,
            &json!({"error": {"message": "the script has no more replies", "type": "server_error"}}),
        ),
    })
}

fn json_response(status: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(BodyExt::boxed(Full::new(Bytes::from(body.to_string()))))
        .unwrap()
}

/// A body whose frames come from a channel, as the streaming task sends them.
struct RxBody(tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, Infallible>>);

impl hyper::body::Body for RxBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx)
    }
}

/// A chat completion that answers with text.
pub fn text_reply(model: &str, text: &str, input_tokens: u64, output_tokens: u64) -> Value {
    json!({
        "id": "chatcmpl-text",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens
        }
    })
}

/// A chat completion that asks for one tool call.
pub fn tool_call_reply(model: &str, id: &str, tool: &str, arguments: &Value) -> Value {
    json!({
        "id": "chatcmpl-tool",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": null,
                "tool_calls": [{
                    "id": id,
                    "type": "function",
                    "function": {"name": tool, "arguments": arguments.to_string()}
                }]
            },
            "finish_reason": "tool_calls"
        }],
        "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}
    })
}

/// The chunks of a streamed text answer, usage in the last one.
pub fn text_stream(
    model: &str,
    parts: &[&str],
    input_tokens: u64,
    output_tokens: u64,
) -> Vec<Value> {
    let mut chunks: Vec<Value> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let delta = if i == 0 {
                json!({"role": "assistant", "content": p})
            } else {
                json!({"content": p})
            };
            json!({"id": "chatcmpl-stream", "object": "chat.completion.chunk", "created": 1_700_000_000,
                   "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
        })
        .collect();
    chunks.push(
        json!({"id": "chatcmpl-stream", "object": "chat.completion.chunk", "created": 1_700_000_000,
        "model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
    );
    chunks.push(
        json!({"id": "chatcmpl-stream", "object": "chat.completion.chunk", "created": 1_700_000_000,
        "model": model, "choices": [],
        "usage": {"prompt_tokens": input_tokens, "completion_tokens": output_tokens,
                  "total_tokens": input_tokens + output_tokens}}),
    );
    chunks
}
