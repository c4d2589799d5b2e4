//! The request handlers: routing, the three SDK endpoints (ingest, annotations, guard)
//! with their contract checks and faults, and the control endpoints.

use crate::annotation::{self, Replay};
use crate::body::{self, Body};
use crate::contract::{check_common_headers, idempotency_key, ValidationError};
use crate::faults::{BadAck, Fault, FaultPlan};
use crate::guard::{self, GuardPlan};
use crate::ingest::{self, TraceIn};
use crate::record::{Endpoint, RecordedRequest};
use crate::server::{ConnCtl, Shared};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Bodies above this are refused with 413 even when no limit is configured.
const HARD_BODY_LIMIT: usize = 64 * 1024 * 1024;
/// The largest body the control endpoints read.
const CONTROL_BODY_LIMIT: usize = 1024 * 1024;

type Resp = Response<Full<Bytes>>;

fn response(status: u16, content_type: &'static str, body: Bytes) -> Resp {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn json_response(status: u16, body: &Value) -> Resp {
    response(status, "application/json", Bytes::from(body.to_string()))
}

fn error_response(status: u16, e: &ValidationError) -> Resp {
    json_response(status, &json!({"error": e.error, "field": e.field}))
}

/// Routes a request to its handler.
pub(crate) async fn handle(shared: Arc<Shared>, ctl: Arc<ConnCtl>, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_owned();
    let post = req.method() == Method::POST;
    let annotated = path
        .strip_prefix("/v1/traces/")
        .and_then(|p| p.strip_suffix("/annotations"))
        .filter(|id| !id.contains('/'));
    match (post, path.as_str(), annotated) {
        (true, "/v1/traces/ingest", _) => ingest(&shared, &ctl, req).await,
        (true, "/v1/guard/evaluate", _) => guard_evaluate(&shared, &ctl, req).await,
        (true, _, Some(trace_id)) => {
            let trace_id = trace_id.to_owned();
            annotate(&shared, &ctl, req, trace_id).await
        }
        (true, "/_staso/faults", _) => control(&shared, &ctl, req, false).await,
        (true, "/_staso/guard", _) => control(&shared, &ctl, req, true).await,
        (_, "/_staso/health", _) => json_response(200, &json!({"ok": true})),
        (_, p, None) if crate::viewer::is_viewer_path(p) => {
            crate::viewer::respond(&shared, crate::viewer::Get::from_request(&req))
                .await
                .unwrap_or_else(|| {
                    json_response(404, &json!({"error": "not found", "field": "path"}))
                })
        }
        (false, p, a)
            if a.is_some()
                || matches!(
                    p,
                    "/v1/traces/ingest" | "/v1/guard/evaluate" | "/_staso/faults" | "/_staso/guard"
                ) =>
        {
            json_response(405, &json!({"error": "method not allowed"}))
        }
        _ => json_response(404, &json!({"error": "not found", "field": "path"})),
    }
}

/// A request being handled: its record so far, and the body to keep with it.
struct Req {
    record: RecordedRequest,
    body: Option<Bytes>,
}

fn begin(shared: &Shared, req: &Request<Incoming>, endpoint: Option<Endpoint>) -> Req {
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
        endpoint,
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

type Refusal = (u16, ValidationError);

fn bad(e: ValidationError) -> Refusal {
    (400, e)
}

impl Req {
    fn header(&self, name: &str) -> Option<String> {
        self.record
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// The API key (401), then the headers every SDK request carries (400).
    fn check_headers(&self) -> Result<(), Refusal> {
        if self.record.api_key_valid != Some(true) {
            return Err((401, unauthorized()));
        }
        check_common_headers(&|n| self.header(n)).map_err(bad)
    }

    fn idempotency_key(&self) -> Result<Option<String>, Refusal> {
        idempotency_key(&|n| self.header(n)).map_err(bad)
    }

    /// Notes the body read: its length, and a copy of it when bodies are kept (a copy,
    /// so that the kept size is the body's own and not that of a shared read buffer).
    fn set_body(&mut self, shared: &Shared, bytes: &[u8]) {
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

    /// Notes the outcome of the contract check.
    fn checked<T>(&mut self, check: &Result<T, Refusal>) {
        self.record.validation_error = check.as_ref().err().map(|(_, e)| e.clone());
    }

    /// Waits `d` before answering. A client that gives up meanwhile (the handler is then
    /// dropped) still leaves its request recorded, with no answer.
    async fn wait(&self, shared: &Shared, d: std::time::Duration) {
        struct Abandoned<'a> {
            shared: &'a Shared,
            req: Option<&'a Req>,
        }
        impl Drop for Abandoned<'_> {
            fn drop(&mut self) {
                if let Some(r) = self.req {
                    let mut record = r.record.clone();
                    record.status = None;
                    self.shared.record(record, r.body.clone());
                }
            }
        }
        let mut abandoned = Abandoned {
            shared,
            req: Some(self),
        };
        tokio::time::sleep(d).await;
        abandoned.req = None;
    }

    /// Records the request with the status answered (`None`: no answer).
    fn finish(mut self, shared: &Shared, status: Option<u16>) {
        self.record.status = status;
        shared.record(self.record, self.body);
    }

    /// Records a refusal and answers it.
    fn refuse(self, shared: &Shared, (status, e): Refusal) -> Resp {
        self.finish(shared, Some(status));
        error_response(status, &e)
    }
}

fn unauthorized() -> ValidationError {
    ValidationError::new("headers.X-API-Key", "invalid or missing API key")
}

/// Starts an SDK request: its record and its body, within the endpoint's size limit.
async fn receive(
    shared: &Shared,
    req: Request<Incoming>,
    endpoint: Endpoint,
) -> Result<(Req, Body), Resp> {
    let mut inc = begin(shared, &req, Some(endpoint));
    let limit = shared
        .faults
        .max_body(endpoint)
        .map_or(HARD_BODY_LIMIT, |m| m.min(HARD_BODY_LIMIT));
    match body::read(req, limit).await {
        Ok(bytes) => {
            inc.set_body(shared, &bytes);
            Ok((inc, bytes))
        }
        Err(len) => {
            inc.record.body_len = len;
            let e = ValidationError::new("body", "request body too large");
            Err(inc.refuse(shared, (413, e)))
        }
    }
}

/// Applies the endpoint's next fault: `Ok` to go on handling the request (after a plain
/// delay, if any), `Err` with the fault's answer (the request is then recorded, not
/// stored). `traces` is what a bad ingest ack miscounts.
async fn faulted(
    shared: &Shared,
    ctl: &ConnCtl,
    mut inc: Req,
    endpoint: Endpoint,
    traces: usize,
) -> Result<Req, Resp> {
    let (delay, fault) = shared.faults.next(endpoint);
    inc.record.fault = fault.clone();
    if let Some(d) = delay {
        inc.wait(shared, d).await;
    }
    match fault {
        None => Ok(inc),
        Some(Fault::Delay(d)) => {
            inc.wait(shared, d).await;
            Ok(inc)
        }
        Some(Fault::Status(s)) => {
            inc.finish(shared, Some(s));
            Err(json_response(
                s,
                &json!({"error": "injected fault", "status": s}),
            ))
        }
        Some(Fault::RateLimited { retry_after }) => {
            inc.finish(shared, Some(429));
            let mut r = json_response(429, &json!({"error": "rate limited (injected fault)"}));
            if let Some(s) = retry_after {
                r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(s));
            }
            Err(r)
        }
        Some(Fault::Hang) => {
            inc.finish(shared, None);
            std::future::pending().await
        }
        Some(Fault::Stall(d)) => {
            inc.finish(shared, None);
            tokio::time::sleep(d).await;
            ctl.drop_now.notify_one();
            std::future::pending().await
        }
        Some(Fault::Drop) => {
            inc.finish(shared, None);
            ctl.drop_now.notify_one();
            std::future::pending().await
        }
        Some(Fault::BadAck(kind)) => {
            let key = inc.record.idempotency_key.clone().unwrap_or_default();
            inc.finish(shared, Some(200));
            Err(bad_ack(kind, traces, &key))
        }
    }
}

/// The ingest contract check: headers, Idempotency-Key, then the body.
fn check_ingest<'a>(
    shared: &Shared,
    inc: &Req,
    bytes: &'a [u8],
) -> Result<(String, Vec<TraceIn<'a>>), Refusal> {
    inc.check_headers()?;
    let key = inc.idempotency_key()?.ok_or_else(|| {
        bad(ValidationError::new(
            "headers.Idempotency-Key",
            "missing Idempotency-Key header",
        ))
    })?;
    let traces = ingest::parse(bytes, !shared.count_only).map_err(bad)?;
    Ok((key, traces))
}

async fn ingest(shared: &Shared, ctl: &ConnCtl, req: Request<Incoming>) -> Resp {
    let (mut inc, bytes) = match receive(shared, req, Endpoint::Ingest).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    // The contract check, done whatever a fault answers, so it is always recorded.
    let check = check_ingest(shared, &inc, &bytes);
    inc.checked(&check);
    let traces = check.as_ref().map_or(0, |(_, t)| t.len());
    let mut inc = match faulted(shared, ctl, inc, Endpoint::Ingest, traces).await {
        Ok(inc) => inc,
        Err(resp) => return resp,
    };
    let (key, traces) = match check {
        Ok(ok) => ok,
        Err(refusal) => return inc.refuse(shared, refusal),
    };
    let key_number = crate::formats::lower_uuid_u128(&key).unwrap_or_default();
    let outcome = match shared.store.ingest(key_number, &key, &traces) {
        Ok(o) => o,
        Err(e) => {
            inc.finish(shared, Some(500));
            return json_response(500, &json!({"error": format!("storage failed: {e}")}));
        }
    };
    inc.record.replay = outcome.replay;
    if shared.print_trees && !outcome.replay && !shared.count_only {
        print_traces(shared, &traces);
    }
    let accepted = traces.len();
    inc.finish(shared, Some(200));
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
        BadAck::NotJson => return response(200, "text/plain", Bytes::from_static(b"ok")),
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

async fn annotate(
    shared: &Shared,
    ctl: &ConnCtl,
    req: Request<Incoming>,
    trace_id: String,
) -> Resp {
    let (mut inc, bytes) = match receive(shared, req, Endpoint::Annotations).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let check = inc.check_headers().and_then(|()| {
        let key = inc.idempotency_key()?;
        let body = annotation::check(&trace_id, &bytes).map_err(bad)?;
        Ok((key, body))
    });
    inc.checked(&check);
    let inc = match faulted(shared, ctl, inc, Endpoint::Annotations, 0).await {
        Ok(inc) => inc,
        Err(resp) => return resp,
    };
    match check {
        Ok((key, body)) => store_annotation(shared, inc, &trace_id, key, body),
        Err(refusal) => inc.refuse(shared, refusal),
    }
}

/// Stores a checked annotation once per Idempotency-Key; a replay gets the first answer.
fn store_annotation(
    shared: &Shared,
    mut inc: Req,
    trace_id: &str,
    key: Option<String>,
    body: Value,
) -> Resp {
    let mut replays = shared
        .annotation_replays
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let answer = |id: i64| json_response(200, &json!({"ok": true, "annotation_id": id}));
    if let Some(key) = &key {
        match replays.check(key, trace_id, &body) {
            Replay::New => {}
            Replay::Same(id) => {
                inc.record.replay = true;
                inc.finish(shared, Some(200));
                return answer(id);
            }
            Replay::Conflict => {
                let e = ValidationError::new(
                    "headers.Idempotency-Key",
                    "this Idempotency-Key was used for another annotation",
                );
                inc.record.validation_error = Some(e.clone());
                inc.finish(shared, Some(409));
                return json_response(
                    409,
                    &json!({"error": e.error, "field": e.field, "code": "idempotency_conflict"}),
                );
            }
        }
    }
    match shared.store.add_annotation(trace_id, &body) {
        Ok(id) => {
            if let Some(key) = key {
                replays.remember(key, trace_id, body, id);
            }
            drop(replays);
            inc.finish(shared, Some(200));
            answer(id)
        }
        Err(e) => {
            inc.finish(shared, Some(500));
            json_response(500, &json!({"error": format!("storage failed: {e}")}))
        }
    }
}

async fn guard_evaluate(shared: &Shared, ctl: &ConnCtl, req: Request<Incoming>) -> Resp {
    let (mut inc, bytes) = match receive(shared, req, Endpoint::Guard).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let check = inc
        .check_headers()
        .and_then(|()| guard::check_request(&bytes).map_err(bad));
    inc.checked(&check);
    let inc = match faulted(shared, ctl, inc, Endpoint::Guard, 0).await {
        Ok(inc) => inc,
        Err(resp) => return resp,
    };
    let request = match check {
        Ok(r) => r,
        Err(refusal) => return inc.refuse(shared, refusal),
    };
    let rule = shared.guard.rule_for(&request.tool_name);
    if let Some(delay) = rule.as_ref().map(|r| r.delay).filter(|d| !d.is_zero()) {
        inc.wait(shared, delay).await;
    }
    match guard::answer(&request, rule.as_ref()) {
        guard::Answer::Json(status, body) => {
            inc.finish(shared, Some(status));
            json_response(status, &body)
        }
        guard::Answer::NotJson => {
            inc.finish(shared, Some(200));
            response(200, "text/plain", Bytes::from_static(b"allow"))
        }
    }
}

/// `POST /_staso/faults` (a [`FaultPlan`]) and `POST /_staso/guard` (a [`GuardPlan`]).
async fn control(shared: &Shared, ctl: &ConnCtl, req: Request<Incoming>, guard: bool) -> Resp {
    let mut inc = begin(shared, &req, None);
    let bytes = match body::read(req, CONTROL_BODY_LIMIT).await {
        Ok(b) => b,
        Err(len) => {
            inc.record.body_len = len;
            let e = ValidationError::new("body", "request body too large");
            return inc.refuse(shared, (413, e));
        }
    };
    inc.set_body(shared, &bytes);
    if inc.record.api_key_valid != Some(true) {
        return inc.refuse(shared, (401, unauthorized()));
    }
    let bad_plan = |e: serde_json::Error| {
        let what = if guard { "guard plan" } else { "fault plan" };
        (
            400,
            ValidationError::new("body", format!("bad {what}: {e}")),
        )
    };
    if guard {
        return match serde_json::from_slice::<GuardPlan>(&bytes) {
            Ok(plan) => {
                shared.guard.apply(&plan);
                inc.finish(shared, Some(200));
                json_response(200, &json!({"ok": true}))
            }
            Err(e) => {
                let refusal = bad_plan(e);
                inc.record.validation_error = Some(refusal.1.clone());
                inc.refuse(shared, refusal)
            }
        };
    }
    let plan: FaultPlan = match serde_json::from_slice(&bytes) {
        Ok(p) => p,
        Err(e) => {
            let refusal = bad_plan(e);
            inc.record.validation_error = Some(refusal.1.clone());
            return inc.refuse(shared, refusal);
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
    inc.finish(shared, Some(200));
    let pending = shared.faults.on(plan.endpoint).pending();
    let mut r = json_response(200, &json!({"ok": true, "pending": pending}));
    if going_down {
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    r
}
