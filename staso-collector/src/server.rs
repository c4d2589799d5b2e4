//! The HTTP server: accept loop (with "down"/"up" on the same port), connections
//! (plain or TLS, killable for faults), routing and the request handlers.

use crate::faults::{BadAck, Fault, FaultPlan, Faults, Listen};
use crate::store::Store;
use crate::validate::{self, TraceIn, ValidationError};
use crate::wait::Signal;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{watch, Notify};
use tokio_rustls::TlsAcceptor;

/// Bodies above this are refused with 413 even when no limit is configured.
const HARD_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// One request the collector received, whatever its outcome.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Order of arrival, from 1.
    pub seq: u64,
    /// When it was received.
    pub received_at: SystemTime,
    /// HTTP method.
    pub method: String,
    /// Request path (no query).
    pub path: String,
    /// Headers, lower-case names, in arrival order. The `x-api-key` value is redacted to
    /// `"<redacted>"`: see [`RecordedRequest::api_key_valid`].
    pub headers: Vec<(String, String)>,
    /// Whether `X-API-Key` matched the configured key (`None` when absent).
    pub api_key_valid: Option<bool>,
    /// The `Idempotency-Key` header, if sent.
    pub idempotency_key: Option<String>,
    /// The body parsed as JSON, if it was JSON and was kept (see
    /// [`RecordedRequest::body_forgotten`]).
    pub body: Option<Value>,
    /// The body was received but not kept, so [`RecordedRequest::body`] is `None` whatever
    /// it was: `record_bodies` is off, or it was among the oldest once the kept bodies
    /// exceeded `body_budget_bytes` (see [`crate::CollectorConfig`]).
    pub body_forgotten: bool,
    /// Body length in bytes (as read; a refused oversized body may be partial).
    pub body_len: usize,
    /// The status answered; `None` when no answer was sent (dropped, hung, stalled).
    pub status: Option<u16>,
    /// The fault that answered this request, if any (e.g. `Status(500)`, `Drop`).
    pub fault: Option<Fault>,
    /// What the contract check found wrong, if anything — filled in even when a fault
    /// answered instead, so tests can assert that every request an SDK sent was valid.
    pub validation_error: Option<ValidationError>,
    /// The Idempotency-Key was already stored: acked again, not stored again.
    pub replay: bool,
}

impl RecordedRequest {
    /// A header value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether this was an ingest request (`POST /v1/traces/ingest`).
    pub fn is_ingest(&self) -> bool {
        self.method == "POST" && self.path == "/v1/traces/ingest"
    }
}

/// State shared by the handlers and the [`crate::Collector`].
pub(crate) struct Shared {
    pub api_key: String,
    pub store: Store,
    /// Spans are validated and counted, not stored (nothing to print either).
    pub count_only: bool,
    pub faults: Faults,
    pub print_trees: bool,
    pub record_bodies: bool,
    pub body_budget: usize,
    pub requests: Mutex<Recorder>,
    pub signal: Signal,
    pub tls: Option<TlsAcceptor>,
}

/// The recorded requests, and their raw bodies while they fit the budget.
#[derive(Default)]
pub(crate) struct Recorder {
    list: Vec<(RecordedRequest, Option<Bytes>)>,
    /// Total size of the bodies kept.
    body_bytes: usize,
    /// No entry before this one holds a body any more.
    oldest_body: usize,
}

impl Recorder {
    fn push(&mut self, mut r: RecordedRequest, body: Option<Bytes>, budget: usize) {
        r.seq = self.list.len() as u64 + 1;
        self.body_bytes += body.as_ref().map_or(0, Bytes::len);
        self.list.push((r, body));
        while self.body_bytes > budget && self.oldest_body < self.list.len() {
            let (r, body) = &mut self.list[self.oldest_body];
            if let Some(b) = body.take() {
                self.body_bytes -= b.len();
                r.body_forgotten = true;
            }
            self.oldest_body += 1;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn clear(&mut self) {
        *self = Recorder::default();
    }

    /// Every record with its kept body (cheap: the bodies are shared, not copied).
    pub(crate) fn snapshot(&self) -> Vec<(RecordedRequest, Option<Bytes>)> {
        self.list.clone()
    }
}

/// A snapshot's records, their kept bodies parsed as JSON.
pub(crate) fn with_bodies(records: Vec<(RecordedRequest, Option<Bytes>)>) -> Vec<RecordedRequest> {
    records
        .into_iter()
        .map(|(mut r, body)| {
            r.body = body.and_then(|b| serde_json::from_slice(&b).ok());
            r
        })
        .collect()
}

impl Shared {
    fn record(&self, inc: Req) {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(inc.record, inc.body, self.body_budget);
        self.signal.bump();
    }
}

/// Binds `addr` with SO_REUSEADDR, so the same port can be bound again after "down".
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Runs the accept loop until `shutdown` flips (or its sender goes away).
pub(crate) async fn run(
    shared: Arc<Shared>,
    first: TcpListener,
    addr: SocketAddr,
    mut listen_rx: watch::Receiver<(u64, Listen)>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (kill_tx, _) = watch::channel(0u64);
    let mut listener = Some(first);
    loop {
        let (version, state) = *listen_rx.borrow_and_update();
        match state {
            Listen::Up => {
                if listener.is_none() {
                    match bind(addr) {
                        Ok(l) => listener = Some(l),
                        Err(e) => shared.faults.ack_listen(version, Some(e.to_string())),
                    }
                }
                let Some(l) = listener.as_ref() else {
                    tokio::select! {
                        r = listen_rx.changed() => if r.is_err() { return },
                        _ = shutdown.changed() => return,
                    }
                    continue;
                };
                shared.faults.ack_listen(version, None);
                loop {
                    tokio::select! {
                        r = l.accept() => {
                            if let Ok((stream, _)) = r {
                                let _ = stream.set_nodelay(true);
                                let kill = kill_tx.subscribe();
                                tokio::spawn(accept_conn(shared.clone(), stream, kill));
                            }
                        }
                        r = listen_rx.changed() => {
                            if r.is_err() { return }
                            break;
                        }
                        _ = shutdown.changed() => return,
                    }
                }
            }
            Listen::Down { until } => {
                listener = None;
                kill_tx.send_modify(|g| *g += 1);
                shared.faults.ack_listen(version, None);
                let wake = async {
                    match until {
                        Some(t) => tokio::time::sleep_until(t.into()).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    r = listen_rx.changed() => if r.is_err() { return },
                    _ = wake => { shared.faults.request_listen(Listen::Up); }
                    _ = shutdown.changed() => return,
                }
            }
        }
    }
}

async fn accept_conn(
    shared: Arc<Shared>,
    stream: tokio::net::TcpStream,
    kill: watch::Receiver<u64>,
) {
    match shared.tls.clone() {
        None => serve_conn(shared, stream, kill).await,
        Some(acceptor) => {
            let hs = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await;
            if let Ok(Ok(tls)) = hs {
                serve_conn(shared, tls, kill).await;
            }
        }
    }
}

/// Per-connection controls a handler can pull.
#[derive(Default)]
struct ConnCtl {
    /// Close the connection now, without answering.
    drop_now: Notify,
    /// Survive a "down" kill (the control request that asked for it must get its answer).
    exempt: AtomicBool,
}

async fn serve_conn<S>(shared: Arc<Shared>, io: S, mut kill: watch::Receiver<u64>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ctl = Arc::new(ConnCtl::default());
    let svc_ctl = ctl.clone();
    let svc = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        let ctl = svc_ctl.clone();
        async move { Ok::<_, Infallible>(handle(shared, ctl, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    loop {
        // The kill first: a request arriving on a connection after "down" was
        // acknowledged must find it closed, not be served because both were ready.
        tokio::select! {
            biased;
            r = kill.changed() => {
                if r.is_err() || !ctl.exempt.load(Ordering::SeqCst) { break }
            }
            _ = ctl.drop_now.notified() => break,
            _ = &mut conn => break,
        }
    }
}

type Resp = Response<Full<Bytes>>;

fn json_response(status: u16, body: &Value) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn error_response(status: u16, e: &ValidationError) -> Resp {
    json_response(status, &json!({"error": e.error, "field": e.field}))
}

async fn handle(shared: Arc<Shared>, ctl: Arc<ConnCtl>, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_owned();
    let post = req.method() == Method::POST;
    if path == "/v1/traces/ingest" && post {
        return ingest(&shared, &ctl, req).await;
    }
    if let Some(id) = path
        .strip_prefix("/v1/traces/")
        .and_then(|p| p.strip_suffix("/annotations"))
        .filter(|id| !id.contains('/'))
    {
        if post {
            let id = id.to_owned();
            return annotate(&shared, req, &id).await;
        }
    } else if path == "/_staso/faults" && post {
        return control(&shared, &ctl, req).await;
    } else if path == "/_staso/health" {
        return json_response(200, &json!({"ok": true}));
    }
    if let Some(r) = crate::viewer::respond(&shared, crate::viewer::Get::from_request(&req)).await {
        return r;
    }
    let known =
        path == "/v1/traces/ingest" || path.ends_with("/annotations") || path == "/_staso/faults";
    if known {
        json_response(405, &json!({"error": "method not allowed"}))
    } else {
        json_response(404, &json!({"error": "not found", "field": "path"}))
    }
}

/// The parts of a request every handler needs, and the start of its record.
struct Req {
    record: RecordedRequest,
    /// The body to keep with the record.
    body: Option<Bytes>,
}

fn begin(shared: &Shared, req: &Request<Incoming>) -> Req {
    let mut headers = Vec::new();
    let mut api_key_valid = None;
    for (k, v) in req.headers() {
        let name = k.as_str().to_ascii_lowercase();
        let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
        if name == "x-api-key" {
            api_key_valid = Some(value == shared.api_key);
            headers.push((name, "<redacted>".to_owned()));
        } else {
            headers.push((name, value));
        }
    }
    let idempotency_key = req
        .headers()
        .get("idempotency-key")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let record = RecordedRequest {
        seq: 0,
        received_at: SystemTime::now(),
        method: req.method().to_string(),
        path: req.uri().path().to_owned(),
        headers,
        api_key_valid,
        idempotency_key,
        body: None,
        body_forgotten: false,
        body_len: 0,
        status: None,
        fault: None,
        validation_error: None,
        replay: false,
    };
    Req { record, body: None }
}

impl Req {
    fn header(&self) -> impl Fn(&str) -> Option<String> + '_ {
        |name: &str| {
            self.record
                .headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    /// Notes the body read: its length, and a copy of it when bodies are kept (a copy,
    /// so that the kept size is the body's own and not that of a shared read buffer).
    fn set_body(&mut self, shared: &Shared, bytes: &Bytes) {
        self.record.body_len = bytes.len();
        if bytes.is_empty() {
            return;
        }
        if shared.record_bodies && bytes.len() <= shared.body_budget {
            self.body = Some(Bytes::copy_from_slice(bytes));
        } else {
            self.record.body_forgotten = true;
        }
    }
}

/// Reads the body, enforcing the configured limit. `Err` is the 413 answer to send.
async fn read_body(shared: &Shared, req: Request<Incoming>) -> Result<Bytes, usize> {
    let limit = shared
        .faults
        .max_body()
        .unwrap_or(HARD_BODY_LIMIT)
        .min(HARD_BODY_LIMIT);
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(declared.unwrap_or(0));
    }
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(_) => Err(limit + 1),
    }
}

fn too_large(shared: &Shared, mut inc: Req, len: usize) -> Resp {
    inc.record.body_len = len;
    inc.record.status = Some(413);
    shared.record(inc);
    json_response(
        413,
        &json!({"error": "request body too large", "field": "body"}),
    )
}

fn unauthorized() -> ValidationError {
    ValidationError {
        error: "invalid or missing API key".into(),
        field: "headers.X-API-Key".into(),
    }
}

type Checked<'a> = Result<(String, Vec<TraceIn<'a>>), (u16, ValidationError)>;

/// The contract check of an ingest request: API key, headers, then the body.
fn check_ingest<'a>(
    shared: &Shared,
    inc: &Req,
    bytes: &'a [u8],
    slow: &'a mut Option<Value>,
) -> Checked<'a> {
    if inc.record.api_key_valid != Some(true) {
        return Err((401, unauthorized()));
    }
    let key = validate::validate_ingest_headers(inc.header()).map_err(|e| (400, e))?;
    let traces =
        validate::check_ingest_bytes(bytes, !shared.count_only, slow).map_err(|e| (400, e))?;
    Ok((key, traces))
}

async fn ingest(shared: &Arc<Shared>, ctl: &ConnCtl, req: Request<Incoming>) -> Resp {
    let mut inc = begin(shared, &req);
    let bytes = match read_body(shared, req).await {
        Ok(b) => b,
        Err(len) => return too_large(shared, inc, len),
    };
    inc.set_body(shared, &bytes);

    // The contract check, done whatever a fault answers, so it is always recorded.
    let mut slow = None;
    let check = check_ingest(shared, &inc, &bytes, &mut slow);
    inc.record.validation_error = check.as_ref().err().map(|(_, e)| e.clone());

    let (delay, fault) = shared.faults.next_ingest();
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    inc.record.fault = fault.clone();
    match fault {
        None => {}
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::Status(s)) => {
            inc.record.status = Some(s);
            shared.record(inc);
            return json_response(s, &json!({"error": "injected fault", "status": s}));
        }
        Some(Fault::RateLimited { retry_after }) => {
            inc.record.status = Some(429);
            shared.record(inc);
            let mut r = json_response(429, &json!({"error": "rate limited (injected fault)"}));
            if let Some(s) = retry_after {
                r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(s));
            }
            return r;
        }
        Some(Fault::Hang) => {
            shared.record(inc);
            return std::future::pending().await;
        }
        Some(Fault::Stall(d)) => {
            shared.record(inc);
            tokio::time::sleep(d).await;
            ctl.drop_now.notify_one();
            return std::future::pending().await;
        }
        Some(Fault::Drop) => {
            shared.record(inc);
            ctl.drop_now.notify_one();
            return std::future::pending().await;
        }
        Some(Fault::BadAck(kind)) => {
            inc.record.status = Some(200);
            let traces = check.as_ref().map_or(0, |(_, t)| t.len());
            let key = inc.record.idempotency_key.clone().unwrap_or_default();
            shared.record(inc);
            return bad_ack(kind, traces, &key);
        }
    }

    let (key, traces) = match check {
        Ok(ok) => ok,
        Err((status, e)) => {
            inc.record.status = Some(status);
            shared.record(inc);
            return error_response(status, &e);
        }
    };
    let key_number = crate::wire::lower_uuid_u128(&key).unwrap_or_default();
    let outcome = match shared.store.ingest(key_number, &key, &traces) {
        Ok(o) => o,
        Err(e) => {
            inc.record.status = Some(500);
            shared.record(inc);
            return json_response(500, &json!({"error": format!("storage failed: {e}")}));
        }
    };
    inc.record.status = Some(200);
    inc.record.replay = outcome.replay;
    if shared.print_trees && !outcome.replay && !shared.count_only {
        print_traces(shared, &traces);
    }
    let accepted = traces.len();
    drop(traces);
    shared.record(inc);
    json_response(
        200,
        &json!({"accepted": accepted, "rejected": 0, "spans_dropped": 0, "receipt_id": key}),
    )
}

fn bad_ack(kind: BadAck, traces: usize, key: &str) -> Resp {
    let body = match kind {
        BadAck::WrongReceiptId => json!({"accepted": traces, "rejected": 0, "spans_dropped": 0,
            "receipt_id": uuid::Uuid::new_v4().to_string()}),
        BadAck::MissingReceiptId => json!({"accepted": traces, "rejected": 0, "spans_dropped": 0}),
        BadAck::AcceptedAsBool => {
            json!({"accepted": true, "rejected": 0, "spans_dropped": 0, "receipt_id": key})
        }
        BadAck::WrongAcceptedCount => {
            json!({"accepted": traces + 1, "rejected": 0, "spans_dropped": 0, "receipt_id": key})
        }
        BadAck::NonZeroRejected => {
            json!({"accepted": traces, "rejected": 1, "spans_dropped": 0, "receipt_id": key})
        }
        BadAck::NonZeroSpansDropped => {
            json!({"accepted": traces, "rejected": 0, "spans_dropped": 1, "receipt_id": key})
        }
        BadAck::NotAnObject => json!([traces, 0, 0, key]),
        BadAck::NotJson => {
            let mut r = Response::new(Full::new(Bytes::from_static(b"ok")));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            return r;
        }
    };
    json_response(200, &body)
}

#[allow(clippy::print_stdout)]
fn print_traces(shared: &Shared, traces: &[TraceIn<'_>]) {
    for t in traces {
        if let Ok(Some(trace)) = shared.store.trace(&t.trace_id) {
            println!("{}", crate::tree::render_trace(&trace));
        }
    }
}

async fn annotate(shared: &Arc<Shared>, req: Request<Incoming>, trace_id: &str) -> Resp {
    let mut inc = begin(shared, &req);
    let bytes = match read_body(shared, req).await {
        Ok(b) => b,
        Err(len) => return too_large(shared, inc, len),
    };
    inc.set_body(shared, &bytes);
    let parsed: Result<Value, _> = serde_json::from_slice(&bytes);
    let check = (|| {
        if inc.record.api_key_valid != Some(true) {
            return Err((401, unauthorized()));
        }
        validate::validate_annotation_headers(inc.header()).map_err(|e| (400, e))?;
        let body = parsed.as_ref().map_err(|e| {
            (
                400,
                ValidationError {
                    error: format!("body is not JSON: {e}"),
                    field: "body".into(),
                },
            )
        })?;
        validate::validate_annotation(trace_id, body).map_err(|e| (400, e))?;
        Ok(body)
    })();
    let (status, resp) = match check {
        Err((status, e)) => {
            inc.record.validation_error = Some(e.clone());
            (status, error_response(status, &e))
        }
        Ok(body) => match shared.store.add_annotation(trace_id, body) {
            Ok(id) => (
                200,
                json_response(200, &json!({"ok": true, "annotation_id": id})),
            ),
            Err(e) => (
                500,
                json_response(500, &json!({"error": format!("storage failed: {e}")})),
            ),
        },
    };
    inc.record.status = Some(status);
    shared.record(inc);
    resp
}

async fn control(shared: &Arc<Shared>, ctl: &ConnCtl, req: Request<Incoming>) -> Resp {
    let mut inc = begin(shared, &req);
    let bytes = match Limited::new(req.into_body(), 1024 * 1024).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return too_large(shared, inc, 1024 * 1024 + 1),
    };
    inc.set_body(shared, &bytes);
    if inc.record.api_key_valid != Some(true) {
        inc.record.status = Some(401);
        shared.record(inc);
        return error_response(401, &unauthorized());
    }
    let plan: FaultPlan = match serde_json::from_slice(&bytes) {
        Ok(p) => p,
        Err(e) => {
            let e = ValidationError {
                error: format!("bad fault plan: {e}"),
                field: "body".into(),
            };
            inc.record.status = Some(400);
            inc.record.validation_error = Some(e.clone());
            shared.record(inc);
            return error_response(400, &e);
        }
    };
    // This connection must outlive a "down" it asks for, to carry the answer; it is
    // closed right after it.
    let going_down = plan.down_for_ms.is_some();
    if going_down {
        ctl.exempt.store(true, Ordering::SeqCst);
    }
    if let Some(version) = shared.faults.apply_nowait(&plan) {
        shared
            .faults
            .listen_applied(version, Duration::from_secs(5))
            .await;
    }
    inc.record.status = Some(200);
    shared.record(inc);
    let mut r = json_response(
        200,
        &json!({"ok": true, "pending": shared.faults.pending()}),
    );
    if going_down {
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    r
}
