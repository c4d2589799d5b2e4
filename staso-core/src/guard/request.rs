//! One guard request: the body the contract describes, one POST under a real overall
//! deadline (connect, send and the whole answer), and the classification of what came
//! back. Never retried: a retry is the caller's, with the same decision id.

use super::runtime;
use crate::config::Config;
use crate::export::http::{self, BodyError};
use serde_json::{json, Map, Value};
use staso_types::{CapturePolicy, DecisionId, DecisionSource, GuardFailureKind, GuardFailureMode};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The guard endpoint's path under the base URL.
pub(crate) const PATH: &str = "/v1/guard/evaluate";

/// The most of an error answer read for its `code`.
const ERROR_BODY_BYTES: usize = 4096;

/// The `deadline_ms` the service is given: the timeout less 100 ms of headroom for the
/// transport, within the 100..=30 000 the service accepts.
pub(crate) fn deadline_ms(timeout: Duration) -> u64 {
    let ms = timeout.as_millis().min(u128::from(u64::MAX)) as u64;
    ms.saturating_sub(100).clamp(100, 30_000)
}

/// The request body.
#[allow(clippy::too_many_arguments)]
pub(crate) fn body(
    tool_name: &str,
    tool_input: Map<String, Value>,
    context: Map<String, Value>,
    decision_id: DecisionId,
    source: DecisionSource,
    mode: GuardFailureMode,
    policy: &CapturePolicy,
    timeout: Duration,
) -> Vec<u8> {
    let capture: Map<String, Value> = policy
        .wire()
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    let body = json!({
        "payload_version": 1,
        "tool_name": tool_name,
        "tool_input": tool_input,
        "context": context,
        "decision_id": decision_id.to_string(),
        "decision_source": source.as_str(),
        "failure_mode": mode.as_str(),
        "capture": capture,
        "deadline_ms": deadline_ms(timeout),
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// A request ready to go: no thread-local state, so it can run on the guard runtime.
pub(crate) struct Request {
    pub config: Arc<Config>,
    pub body: Vec<u8>,
    pub timeout: Duration,
}

/// Why a request got no decision body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failed {
    pub kind: GuardFailureKind,
    /// The text of the reason (the mode's label is added by the caller).
    pub text: String,
    pub retryable: bool,
    /// Logged as `Guard check failed: <text> (<log>)`; `None` for what is not logged
    /// (a body that fails validation).
    pub log: Option<String>,
}

impl Failed {
    pub(crate) fn of(kind: GuardFailureKind, log: Option<String>) -> Failed {
        Failed {
            kind,
            text: kind.text().to_string(),
            retryable: kind.retryable(),
            log,
        }
    }
}

/// What a request came back with: a 2xx body, or a failure; and how long it took.
pub(crate) struct Answer {
    pub result: Result<Vec<u8>, Failed>,
    pub latency: Duration,
}

impl Answer {
    /// A result known without a request.
    pub(crate) fn at_once(f: Failed) -> Answer {
        Answer {
            result: Err(f),
            latency: Duration::ZERO,
        }
    }
}

/// Sends `req` on the guard runtime and waits (asynchronously, on any executor) for the
/// answer.
pub(crate) async fn send(req: Request) -> Answer {
    let start = Instant::now();
    let result = match runtime::spawn(exchange(req)) {
        Ok(rx) => match rx.await {
            Ok(r) => r,
            Err(_) => Err(Failed::of(
                GuardFailureKind::NetworkUnavailable,
                Some("the guard runtime dropped the request".into()),
            )),
        },
        Err(e) => Err(Failed::of(GuardFailureKind::NetworkUnavailable, Some(e))),
    };
    Answer {
        result,
        latency: start.elapsed(),
    }
}

/// [`send`] for a thread that may block.
pub(crate) fn send_blocking(req: Request) -> Answer {
    let start = Instant::now();
    let timeout = req.timeout;
    let result = match runtime::spawn_blocking_reply(exchange(req)) {
        // The exchange is bounded by its own deadline; the margin only covers a runtime
        // that stopped answering.
        Ok(rx) => match rx.recv_timeout(timeout + Duration::from_secs(1)) {
            Ok(r) => r,
            Err(_) => Err(Failed::of(
                GuardFailureKind::DeadlineExceeded,
                Some("the guard runtime did not answer in time".into()),
            )),
        },
        Err(e) => Err(Failed::of(GuardFailureKind::NetworkUnavailable, Some(e))),
    };
    Answer {
        result,
        latency: start.elapsed(),
    }
}

/// The POST and its answer, all within `req.timeout`.
pub(crate) async fn exchange(req: Request) -> Result<Vec<u8>, Failed> {
    match tokio::time::timeout(req.timeout, post(&req)).await {
        Ok(r) => r,
        Err(_) => Err(Failed::of(
            GuardFailureKind::DeadlineExceeded,
            Some("deadline passed".into()),
        )),
    }
}

async fn post(req: &Request) -> Result<Vec<u8>, Failed> {
    let client = runtime::http_client(&req.config)
        .map_err(|e| Failed::of(GuardFailureKind::NetworkUnavailable, Some(e)))?;
    let url = format!("{}{PATH}", req.config.base_url);
    let resp = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-API-Key", req.config.api_key.expose())
        .timeout(req.timeout)
        .body(req.body.clone())
        .send()
        .await
        .map_err(transport_error)?;
    let status = resp.status().as_u16();
    if (300..400).contains(&status) {
        let target = http::redirect_target(&resp);
        return Err(Failed {
            kind: GuardFailureKind::MalformedResponse,
            text: "Guard request was rejected".into(),
            retryable: false,
            log: Some(format!(
                "HTTP {status}: the guard endpoint redirects to {target}; redirects are never followed (they would send the API key elsewhere): set `base_url` to the final address"
            )),
        });
    }
    if !(200..300).contains(&status) {
        let code = match http::read_bounded(resp, ERROR_BODY_BYTES).await {
            Ok(b) => error_code(&b),
            Err(_) => None,
        };
        return Err(http_failure(status, code));
    }
    match http::read_bounded(resp, http::MAX_ANSWER_BYTES).await {
        Ok(b) => Ok(b),
        Err(BodyError::TooLarge) => Err(Failed::of(GuardFailureKind::MalformedResponse, None)),
        Err(BodyError::Http(e)) => Err(transport_error(e)),
    }
}

/// A stable machine code in an error answer: `code`, `error.code` or `detail.code`,
/// when it names a failure kind. Nothing else of the body is kept (it could reflect
/// customer data).
pub(crate) fn error_code(body: &[u8]) -> Option<GuardFailureKind> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let m = v.as_object()?;
    let present = |v: Option<&Value>| v.filter(|c| !c.is_null()).cloned();
    let nested = |k: &str| present(m.get(k).and_then(Value::as_object)?.get("code"));
    let code = present(m.get("code"))
        .or_else(|| nested("error"))
        .or_else(|| nested("detail"))?;
    GuardFailureKind::from_name(code.as_str()?)
}

/// The contract's table of HTTP answers; a known code in the body wins over the status.
pub(crate) fn http_failure(status: u16, code: Option<GuardFailureKind>) -> Failed {
    let log = Some(format!("HTTP {status}"));
    if let Some(kind) = code {
        return Failed::of(kind, log);
    }
    let (kind, text) = match status {
        401 => (GuardFailureKind::InvalidKey, None),
        402 => (GuardFailureKind::PlanExpired, None),
        403 => (GuardFailureKind::Forbidden, None),
        // Retry-After is not read: a check is never retried by the SDK.
        429 => (GuardFailureKind::RateLimited, None),
        s if s >= 500 => (GuardFailureKind::BackendUnavailable, None),
        _ => (
            GuardFailureKind::MalformedResponse,
            Some("Guard request was rejected"),
        ),
    };
    let mut f = Failed::of(kind, log);
    if let Some(t) = text {
        f.text = t.to_string();
    }
    f
}

/// A connection that failed or a read that stopped: the network is unavailable (a
/// reqwest timeout is our own deadline, reached from inside).
fn transport_error(e: reqwest::Error) -> Failed {
    if e.is_timeout() {
        return Failed::of(
            GuardFailureKind::DeadlineExceeded,
            Some("deadline passed".into()),
        );
    }
    let chain = crate::guard::error_chain(&e);
    let lower = chain.to_ascii_lowercase();
    let what = if lower.contains("certificate") || lower.contains("tls") {
        format!("TLS error: {chain}")
    } else {
        "connection error".to_string()
    };
    Failed::of(GuardFailureKind::NetworkUnavailable, Some(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_ms_leaves_headroom_within_the_services_range() {
        assert_eq!(deadline_ms(Duration::from_secs(10)), 9_900);
        assert_eq!(deadline_ms(Duration::from_millis(1500)), 1_400);
        assert_eq!(deadline_ms(Duration::from_millis(150)), 100);
        assert_eq!(deadline_ms(Duration::from_secs(600)), 30_000);
    }

    #[test]
    fn status_table_and_codes() {
        use GuardFailureKind as K;
        for (status, kind, retry, text) in [
            (401, K::InvalidKey, false, "Guard authentication rejected"),
            (402, K::PlanExpired, false, "Guard plan is inactive"),
            (403, K::Forbidden, false, "Guard access rejected"),
            (429, K::RateLimited, true, "Guard rate limited"),
            (
                500,
                K::BackendUnavailable,
                true,
                "Guard service unavailable",
            ),
            (
                503,
                K::BackendUnavailable,
                true,
                "Guard service unavailable",
            ),
            (
                400,
                K::MalformedResponse,
                false,
                "Guard request was rejected",
            ),
            (
                404,
                K::MalformedResponse,
                false,
                "Guard request was rejected",
            ),
        ] {
            let f = http_failure(status, None);
            assert_eq!(
                (f.kind, f.retryable, f.text.as_str()),
                (kind, retry, text),
                "{status}"
            );
        }
        let f = http_failure(503, Some(K::CapacityExhausted));
        assert_eq!(
            (f.kind, f.retryable, f.text.as_str()),
            (
                K::CapacityExhausted,
                false,
                "Guard evaluation capacity is exhausted"
            )
        );
        for (body, want) in [
            (
                r#"{"code":"idempotency_conflict"}"#,
                Some(K::IdempotencyConflict),
            ),
            (r#"{"error":{"code":"rate_limited"}}"#, Some(K::RateLimited)),
            (
                r#"{"detail":{"code":"capacity_exhausted"}}"#,
                Some(K::CapacityExhausted),
            ),
            (r#"{"code":"exploded"}"#, None),
            (r#"{"error":"plain text"}"#, None),
            (r#"["code"]"#, None),
            ("not json", None),
        ] {
            assert_eq!(error_code(body.as_bytes()), want, "{body}");
        }
    }
}
