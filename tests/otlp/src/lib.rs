//! A loopback OTLP/HTTP receiver for the tests: a std `TcpListener` speaking just enough
//! HTTP/1.1 (keep-alive, `Content-Length` bodies) to take `POST /v1/traces`, decode the
//! body with OpenTelemetry's own messages (`opentelemetry-proto`: protobuf through prost,
//! JSON through its serde mapping, by the request's `Content-Type`), and answer as planned
//! (a status, a `Retry-After`, then 200). Nothing is mocked: the SDK sends real requests
//! over a real socket, and the receiver decodes them the way a collector does.

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One request the receiver took.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request path.
    pub path: String,
    /// The headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body decoded (`None` when it was not a valid request in its content type).
    pub request: Option<ExportTraceServiceRequest>,
    /// The status the receiver answered.
    pub status: u16,
    /// When it arrived.
    pub at: Instant,
    /// The body as sent.
    pub body: Vec<u8>,
}

impl Received {
    /// The value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The spans of the request, in order.
    pub fn spans(&self) -> Vec<Span> {
        self.request
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| ss.spans.clone())
            .collect()
    }
}

/// An answer the receiver gives to the next request.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// A `Retry-After` header, in seconds.
    pub retry_after: Option<u64>,
    /// A partial success: how many spans of the request the receiver says it rejected.
    pub rejected: i64,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    plan: VecDeque<Answer>,
}

/// The receiver: its address, what it took, and its plan of answers.
pub struct Receiver {
    port: u16,
    state: Arc<(Mutex<State>, Condvar)>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Receiver {
    /// Starts a receiver on a free loopback port (it runs until the process ends).
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        let state: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let shared = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || serve(conn, &shared));
            }
        });
        Receiver { port, state }
    }

    /// The base URL (`http://127.0.0.1:<port>`), as `OTEL_EXPORTER_OTLP_ENDPOINT` takes it.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Answers the next `count` requests with `status` (and `Retry-After` when given).
    pub fn answer_next(&self, count: usize, status: u16, retry_after: Option<u64>) {
        let mut s = lock(&self.state.0);
        for _ in 0..count {
            s.plan.push_back(Answer {
                status,
                retry_after,
                rejected: 0,
            });
        }
    }

    /// Answers the next request with 200 and a partial success rejecting `rejected` spans.
    pub fn reject_next(&self, rejected: i64) {
        lock(&self.state.0).plan.push_back(Answer {
            status: 200,
            retry_after: None,
            rejected,
        });
    }

    /// Every request taken so far.
    pub fn requests(&self) -> Vec<Received> {
        lock(&self.state.0).received.clone()
    }

    /// Every span of the requests answered with a 2xx, in order of arrival.
    pub fn spans(&self) -> Vec<Span> {
        self.requests()
            .iter()
            .filter(|r| (200..300).contains(&r.status))
            .flat_map(Received::spans)
            .collect()
    }

    /// Waits until `cond` holds of the requests taken, or `timeout` passes; returns the
    /// requests either way (the caller asserts on them). Woken by each request, never by
    /// a timer alone.
    pub fn wait_until(
        &self,
        timeout: Duration,
        mut cond: impl FnMut(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.state;
        let mut s = lock(m);
        while !cond(&s.received) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            s = cv
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        s.received.clone()
    }

    /// Waits until at least `n` spans were accepted (2xx), or `timeout` passes.
    pub fn wait_for_spans(&self, n: usize, timeout: Duration) -> Vec<Span> {
        self.wait_until(timeout, |r| {
            r.iter()
                .filter(|r| (200..300).contains(&r.status))
                .map(|r| r.spans().len())
                .sum::<usize>()
                >= n
        });
        self.spans()
    }
}

/// A loopback port with nothing listening (bound, then released): connections to it are
/// refused, like a receiver that is down.
pub fn closed_port_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// Serves one connection: requests until the client closes it.
fn serve(conn: TcpStream, state: &(Mutex<State>, Condvar)) {
    let Ok(write_half) = conn.try_clone() else {
        return;
    };
    let mut out = write_half;
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let content_type = headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let json = content_type.starts_with("application/json");
        let request = if json {
            serde_json::from_slice::<ExportTraceServiceRequest>(&body).ok()
        } else {
            <ExportTraceServiceRequest as prost::Message>::decode(body.as_slice()).ok()
        };
        let (m, cv) = state;
        let answer = {
            let mut s = lock(m);
            let answer = s.plan.pop_front().unwrap_or(Answer {
                status: if request.is_some() { 200 } else { 400 },
                retry_after: None,
                rejected: 0,
            });
            s.received.push(Received {
                path,
                headers,
                request,
                status: answer.status,
                at: Instant::now(),
                body,
            });
            answer
        };
        cv.notify_all();
        // An ExportTraceServiceResponse, with a partial success when planned.
        let response = ExportTraceServiceResponse {
            partial_success: (answer.rejected > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: answer.rejected,
                error_message: "rejected by the test".into(),
            }),
        };
        let reply = if json {
            serde_json::to_vec(&response).expect("JSON")
        } else {
            prost::Message::encode_to_vec(&response)
        };
        let reply = reply.as_slice();
        let mut head = format!(
            "HTTP/1.1 {} X\r\ncontent-type: {}\r\ncontent-length: {}\r\n",
            answer.status,
            if json {
                "application/json"
            } else {
                "application/x-protobuf"
            },
            reply.len()
        );
        if let Some(s) = answer.retry_after {
            head.push_str(&format!("retry-after: {s}\r\n"));
        }
        head.push_str("\r\n");
        if out.write_all(head.as_bytes()).is_err() || out.write_all(reply).is_err() {
            return;
        }
    }
}

/// The attribute `key` of a list of attributes.
pub fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v: &AnyValue| v.value.as_ref())
}

/// The string attribute `key` (`None` when absent or not a string).
pub fn str_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(attrs, key)? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

/// The integer attribute `key` (`None` when absent or not an integer).
pub fn int_attr(attrs: &[KeyValue], key: &str) -> Option<i64> {
    match attr(attrs, key)? {
        any_value::Value::IntValue(n) => Some(*n),
        _ => None,
    }
}

/// Tests in one binary share the process's global client: one at a time.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
