//! Annotations on their way to `POST /v1/traces/{trace_id}/annotations`, off the caller's
//! thread: a small bounded queue the caller pushes into (never a wait), and the sender the
//! batcher thread drives each turn (one request per annotation, at most a few at once,
//! retryable failures retried with the batcher's backoff under the same Idempotency-Key),
//! with their own counts in the delivery report.

use super::http::{self, BodyError};
use super::transport::{backoff, classify_error, http_failure, send_once, Failure};
use crate::config::Config;
use crossbeam_queue::ArrayQueue;
use serde_json::{Map, Value};
use staso_types::{Annotation, AnnotationReport, FailureKind, TraceId};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Annotations waiting in the queue, and held by the sender, at most (each).
pub(crate) const CAPACITY: usize = 1024;
/// Annotation requests in flight at once.
const MAX_IN_FLIGHT: usize = 4;

/// One annotation, encoded, with its delivery state.
#[derive(Debug)]
pub(crate) struct Pending {
    /// Reused by every retry, so the service stores it once.
    key: String,
    path: String,
    body: Vec<u8>,
    /// Numbered when the sender takes it (flush waits for those numbered before it).
    seq: u64,
    attempts: u32,
    not_before: Instant,
}

/// The body of the contract: `{name, value, data_type}` plus `span_id` and `comment` only
/// when they are set.
pub(crate) fn encode(trace_id: TraceId, a: &Annotation) -> Pending {
    let mut m = Map::new();
    m.insert("name".into(), a.name().into());
    m.insert(
        "value".into(),
        serde_json::to_value(a.value()).unwrap_or(Value::Null),
    );
    m.insert("data_type".into(), a.value().data_type().into());
    if let Some(s) = a.target_span() {
        m.insert("span_id".into(), s.to_string().into());
    }
    if let Some(c) = a.comment_text() {
        m.insert("comment".into(), c.into());
    }
    Pending {
        key: uuid::Uuid::new_v4().to_string(),
        // A trace id is hex digits and hyphens: nothing in it needs escaping.
        path: format!("/v1/traces/{trace_id}/annotations"),
        body: serde_json::to_vec(&Value::Object(m)).unwrap_or_default(),
        seq: 0,
        attempts: 0,
        not_before: Instant::now(),
    }
}

/// The callers' side: a bounded queue and the counts of the report.
pub(crate) struct AnnotationQueue {
    items: ArrayQueue<Pending>,
    closed: AtomicBool,
    /// Taken by the sender (it numbers them 1, 2, ...).
    taken: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
    last_failure: AtomicU8,
    last_full_warning: std::sync::Mutex<Option<Instant>>,
}

impl Default for AnnotationQueue {
    fn default() -> Self {
        AnnotationQueue {
            items: ArrayQueue::new(CAPACITY),
            closed: AtomicBool::new(false),
            taken: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            last_failure: AtomicU8::new(0),
            last_full_warning: std::sync::Mutex::new(None),
        }
    }
}

impl AnnotationQueue {
    /// Queues an annotation; false when it was refused (closed, or full), which is counted.
    pub(crate) fn push(&self, p: Pending) -> bool {
        if self.closed.load(Acquire) {
            self.reject(FailureKind::Shutdown);
            return false;
        }
        if self.items.push(p).is_err() {
            self.reject(FailureKind::QueueFull);
            self.warn_full();
            return false;
        }
        true
    }

    /// Counts an annotation refused at the door.
    pub(crate) fn reject(&self, kind: FailureKind) {
        self.rejected.fetch_add(1, Relaxed);
        self.last_failure.store(kind.code(), Relaxed);
    }

    fn warn_full(&self) {
        let mut last = self
            .last_full_warning
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if last.map_or(true, |t| t.elapsed() > Duration::from_secs(60)) {
            *last = Some(Instant::now());
            crate::diag::warn(&format!(
                "staso: annotation queue full ({CAPACITY} waiting), dropping annotations; the count is in the delivery report"
            ));
        }
    }

    /// Refuses annotations from now on (shutdown).
    pub(crate) fn close(&self) {
        self.closed.store(true, Release);
    }

    fn failed(&self, kind: FailureKind) {
        self.failed.fetch_add(1, Release);
        self.last_failure.store(kind.code(), Relaxed);
    }

    /// The annotations' part of the delivery report; queued ones are accepted and pending.
    pub(crate) fn report(&self) -> AnnotationReport {
        let mut r = AnnotationReport::default();
        r.accepted = self.taken.load(Acquire) + self.items.len() as u64;
        r.delivered = self.delivered.load(Acquire);
        r.failed = self.failed.load(Acquire);
        r.pending = r.accepted.saturating_sub(r.delivered + r.failed);
        r.rejected = self.rejected.load(Acquire);
        r.last_failure = FailureKind::from_code(self.last_failure.load(Acquire));
        r
    }
}

/// The batcher's side: takes annotations from the queue, sends them, retries the
/// retryable failures, files the outcomes.
pub(crate) struct AnnotationSender {
    client: reqwest::Client,
    base_url: String,
    api_key: Arc<str>,
    /// Taken, not in flight: due now or waiting for a retry, by due time.
    outbox: VecDeque<Pending>,
    in_flight: JoinSet<Result<(), Failure>>,
    /// The annotations being sent, by their request's task (kept here, so a request that
    /// panics or is cancelled still gives its annotation back).
    sent_by_task: HashMap<tokio::task::Id, Pending>,
    /// Where a finished request wakes the batcher.
    wake: Arc<tokio::sync::Notify>,
    warned: HashSet<FailureKind>,
}

impl AnnotationSender {
    pub(crate) fn new(cfg: &Config, wake: Arc<tokio::sync::Notify>) -> Result<Self, String> {
        Ok(AnnotationSender {
            client: http::client(cfg, cfg.request_timeout)?,
            base_url: cfg.base_url.clone(),
            api_key: cfg.api_key.expose().into(),
            outbox: VecDeque::new(),
            in_flight: JoinSet::new(),
            sent_by_task: HashMap::new(),
            wake,
            warned: HashSet::new(),
        })
    }

    fn held(&self) -> usize {
        self.outbox.len() + self.sent_by_task.len()
    }

    /// Takes what is queued, as far as the bound allows, numbering it.
    pub(crate) fn drain(&mut self, q: &AnnotationQueue) {
        while self.held() < CAPACITY {
            let Some(mut p) = q.items.pop() else { break };
            p.seq = q.taken.fetch_add(1, AcqRel) + 1;
            p.not_before = Instant::now();
            let pos = self
                .outbox
                .partition_point(|o| o.not_before <= p.not_before);
            self.outbox.insert(pos, p);
        }
    }

    /// The number of the last annotation accepted so far (taken or still queued): what a
    /// flush called now waits for.
    pub(crate) fn barrier(&self, q: &AnnotationQueue) -> u64 {
        q.taken.load(Acquire) + q.items.len() as u64
    }

    /// True when every annotation numbered up to `barrier` was delivered or failed.
    pub(crate) fn settled_through(&self, q: &AnnotationQueue, barrier: u64) -> bool {
        let oldest = self
            .outbox
            .iter()
            .chain(self.sent_by_task.values())
            .map(|p| p.seq)
            .min();
        q.taken.load(Acquire) >= barrier && oldest.map_or(true, |s| s > barrier)
    }

    /// Nothing queued, held or in flight.
    pub(crate) fn idle(&self, q: &AnnotationQueue) -> bool {
        q.items.is_empty() && self.outbox.is_empty() && self.sent_by_task.is_empty()
    }

    /// One turn of the batcher: file what finished, take what is queued, send what is due.
    pub(crate) fn turn(&mut self, rt: &tokio::runtime::Runtime, q: &AnnotationQueue) {
        while let Some(joined) = self.in_flight.try_join_next_with_id() {
            let (id, result) = match joined {
                Ok((id, r)) => (id, r),
                Err(e) => (e.id(), Err(super::transport::cut_short())),
            };
            if let Some(p) = self.sent_by_task.remove(&id) {
                self.finished(q, p, result);
            }
        }
        self.drain(q);
        let now = Instant::now();
        while self.in_flight.len() < MAX_IN_FLIGHT
            && self.outbox.front().is_some_and(|p| p.not_before <= now)
        {
            if let Some(p) = self.outbox.pop_front() {
                self.launch(rt, p);
            }
        }
    }

    /// When the next retry falls due, if one waits and a request could start.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            return None;
        }
        self.outbox.front().map(|p| p.not_before)
    }

    fn launch(&mut self, rt: &tokio::runtime::Runtime, mut p: Pending) {
        p.attempts += 1;
        let client = self.client.clone();
        let url = format!("{}{}", self.base_url, p.path);
        let key = self.api_key.clone();
        let wake = self.wake.clone();
        let (idempotency_key, body) = (p.key.clone(), p.body.clone());
        let _guard = rt.enter();
        let handle = self.in_flight.spawn(async move {
            let result = send(&client, &url, &key, &idempotency_key, body).await;
            wake.notify_one();
            result
        });
        self.sent_by_task.insert(handle.id(), p);
    }

    fn finished(&mut self, q: &AnnotationQueue, mut p: Pending, result: Result<(), Failure>) {
        let f = match result {
            Ok(()) => {
                q.delivered.fetch_add(1, Release);
                return;
            }
            Err(f) => f,
        };
        let status = f.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
        let msg = format!(
            "staso: annotation delivery failed{status}: {}: {}",
            f.kind, f.detail
        );
        if self.warned.insert(f.kind) {
            crate::diag::warn(&msg);
        } else {
            crate::diag::debug(&msg);
        }
        if !f.retryable {
            q.failed(f.kind);
            return;
        }
        q.last_failure.store(f.kind.code(), Relaxed);
        p.not_before = Instant::now() + backoff(p.attempts, f.retry_after);
        let pos = self
            .outbox
            .partition_point(|o| o.not_before <= p.not_before);
        self.outbox.insert(pos, p);
    }
}

/// One attempt: 2xx is delivered (the answer's body is not read for anything).
async fn send(
    client: &reqwest::Client,
    url: &str,
    api_key: &str,
    idempotency_key: &str,
    body: Vec<u8>,
) -> Result<(), Failure> {
    let (resp, status) = send_once(
        http::post_json(client, url, api_key, idempotency_key, body),
        "annotations endpoint",
        "base_url",
        |e| classify_error(e, "annotation"),
    )
    .await?;
    let retry_after = http::retry_after(&resp);
    let body = match http::read_bounded(resp, http::MAX_ANSWER_BYTES).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => Vec::new(),
        Err(BodyError::Http(e)) if (200..300).contains(&status) => {
            // The answer was sent; only its body was cut: it counts as delivered.
            let _ = e;
            Vec::new()
        }
        Err(BodyError::Http(e)) => return Err(classify_error(e, "annotation")),
    };
    if (200..300).contains(&status) {
        return Ok(());
    }
    let mut f = http_failure(status, retry_after);
    f.detail = match f.kind {
        FailureKind::BackendUnavailable => "the annotation service is unavailable".into(),
        FailureKind::RateLimited => "rate limited by the annotation service".into(),
        FailureKind::MalformedResponse => {
            // The service says what it refused (e.g. an unknown trace): shown with debug.
            let said: String = String::from_utf8_lossy(&body).chars().take(300).collect();
            crate::diag::debug(&format!(
                "staso: the annotation service answered {status}: {said}"
            ));
            "the annotation service refused it (e.g. an unknown trace id)".into()
        }
        _ => f.detail,
    };
    Err(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use staso_types::SpanId;

    #[test]
    fn the_body_carries_span_and_comment_only_when_set() {
        let t = TraceId::from_u128(0x0af7651916cd43dd8448eb211c80319c).expect("id");
        let p = encode(t, &Annotation::new("helpfulness", 0.5));
        assert_eq!(
            p.path,
            "/v1/traces/0af76519-16cd-43dd-8448-eb211c80319c/annotations"
        );
        let v: Value = serde_json::from_slice(&p.body).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"name": "helpfulness", "value": 0.5, "data_type": "numeric"})
        );
        let s = SpanId::from_u64(0xabc).expect("id");
        let p = encode(
            t,
            &Annotation::new("label", "good").span_id(s).comment("by qa"),
        );
        let v: Value = serde_json::from_slice(&p.body).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"name": "label", "value": "good", "data_type": "categorical",
                "span_id": "00000000-0000-0000-0000-000000000abc", "comment": "by qa"})
        );
        let p = encode(t, &Annotation::new("ok", true).comment(""));
        let v: Value = serde_json::from_slice(&p.body).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"name": "ok", "value": true, "data_type": "boolean"})
        );
    }

    #[test]
    fn a_full_queue_and_a_closed_one_refuse_and_count() {
        let q = AnnotationQueue::default();
        let t = TraceId::from_u128(1).expect("id");
        for _ in 0..CAPACITY {
            assert!(q.push(encode(t, &Annotation::new("n", 1))));
        }
        assert!(!q.push(encode(t, &Annotation::new("n", 1))));
        q.close();
        assert!(!q.push(encode(t, &Annotation::new("n", 1))));
        let r = q.report();
        assert_eq!(
            (r.accepted, r.pending, r.rejected),
            (CAPACITY as u64, CAPACITY as u64, 2)
        );
        assert_eq!(r.last_failure, Some(FailureKind::Shutdown));
    }
}
