//! One HTTP attempt of the contract: POST a batch, classify the answer. Retrying and
//! backoff belong to the batcher, which decides with the whole queue in view.

use super::http::{self, BodyError};
use crate::config::Config;
use staso_types::FailureKind;
use std::time::Duration;

/// The longest `Retry-After` we honour; longer ones are not retried (as the reference).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub kind: FailureKind,
    pub status: Option<u16>,
    pub retryable: bool,
    /// Honoured `Retry-After`, when the answer carried one.
    pub retry_after: Option<Duration>,
    /// 413: the batch is too large and should be split.
    pub too_large: bool,
    /// A short, content-free explanation (never the key or span content).
    pub detail: String,
}

#[derive(Clone)]
pub(crate) struct Transport {
    client: reqwest::Client,
    /// Parsed once: a `&str` is parsed again by every request (~7 000 instructions).
    url: reqwest::Url,
    api_key: std::sync::Arc<str>,
}

impl Transport {
    pub(crate) fn new(cfg: &Config) -> Result<Self, String> {
        Ok(Transport {
            client: http::client(cfg, cfg.request_timeout)?,
            url: reqwest::Url::parse(&format!("{}{}", cfg.base_url, crate::config::INGEST_PATH))
                .map_err(|e| format!("base_url: {e}"))?,
            api_key: cfg.api_key.expose().into(),
        })
    }

    /// One attempt; `Ok` only for a complete acknowledgement.
    pub(crate) async fn send(
        &self,
        body: Vec<u8>,
        key: &str,
        traces: usize,
    ) -> Result<(), Failure> {
        let (resp, status) = send_once(
            http::post_json(&self.client, self.url.clone(), &self.api_key, key, body),
            "ingest endpoint",
            "base_url",
            |e| classify_error(e, "ingest"),
        )
        .await?;
        if !(200..300).contains(&status) {
            return Err(http_failure(status, http::retry_after(&resp)));
        }
        let malformed = |detail: &str| Failure {
            kind: FailureKind::MalformedResponse,
            status: Some(status),
            retryable: false,
            retry_after: None,
            too_large: false,
            detail: detail.into(),
        };
        let bytes = match http::read_bounded(resp, http::MAX_ANSWER_BYTES).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                return Err(malformed(
                    "the acknowledgement is larger than any the service sends (64 KiB)",
                ))
            }
            Err(BodyError::Http(e)) => return Err(classify_error(e, "ingest")),
        };
        if ack_is_complete(&bytes, traces, key) {
            Ok(())
        } else {
            Err(malformed("the acknowledgement does not match the request"))
        }
    }
}

/// The contract's table of answers.
pub(crate) fn http_failure(status: u16, retry_after: Option<Duration>) -> Failure {
    let (kind, retryable, detail) = match status {
        401 => (FailureKind::InvalidKey, false, "check the API key"),
        402 => (
            FailureKind::PlanExpired,
            false,
            "upgrade or check the active plan",
        ),
        403 => (
            FailureKind::Forbidden,
            false,
            "check key capability and workspace access",
        ),
        429 => (
            FailureKind::RateLimited,
            retry_after.is_some_and(|d| d <= MAX_RETRY_AFTER),
            "rate limited by the ingest service",
        ),
        413 => (
            FailureKind::MalformedResponse,
            false,
            "the batch is too large",
        ),
        s if s >= 500 => (
            FailureKind::BackendUnavailable,
            true,
            "the ingest service is unavailable",
        ),
        _ => (
            FailureKind::MalformedResponse,
            false,
            "the ingest service refused the request",
        ),
    };
    Failure {
        kind,
        status: Some(status),
        retryable,
        retry_after: retry_after.filter(|d| *d <= MAX_RETRY_AFTER),
        too_large: status == 413,
        detail: detail.into(),
    }
}

/// A 3xx: never followed, never retried (the same request would be redirected again).
/// Backoff between retries: 0.5 s doubling, with jitter, capped here.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// The wait before retry `attempts + 1`: `Retry-After` when the service gave one, else
/// 0.5 s doubling up to 30 s, with jitter. Shared by spans and annotations.
pub(crate) fn backoff(attempts: u32, retry_after: Option<Duration>) -> Duration {
    retry_after.unwrap_or_else(|| {
        let exp = FIRST_BACKOFF.saturating_mul(1u32 << attempts.saturating_sub(1).min(16));
        // Jitter in [50%, 100%] so many clients do not retry in step.
        exp.min(MAX_BACKOFF).mul_f64(0.5 + fastrand::f64() * 0.5)
    })
}

/// Sends `request` once: its answer and status, or the failure of the exchange (`on_error`
/// classifies a transport error); a 3xx from `endpoint` (set by `option`) is never
/// followed and fails.
pub(crate) async fn send_once(
    request: reqwest::RequestBuilder,
    endpoint: &str,
    option: &str,
    on_error: impl FnOnce(reqwest::Error) -> Failure,
) -> Result<(reqwest::Response, u16), Failure> {
    let resp = request.send().await.map_err(on_error)?;
    let status = resp.status().as_u16();
    if (300..400).contains(&status) {
        let target = http::redirect_target(&resp);
        return Err(redirected(status, endpoint, option, &target));
    }
    Ok((resp, status))
}

/// A 3xx from `endpoint` (set by `option`): never followed, final.
fn redirected(status: u16, endpoint: &str, option: &str, target: &str) -> Failure {
    Failure {
        kind: FailureKind::Redirected,
        status: Some(status),
        retryable: false,
        retry_after: None,
        too_large: false,
        detail: format!(
            "the {endpoint} redirects to {target}; redirects are never followed (they would send the API key and the data elsewhere): set `{option}` to the final address"
        ),
    }
}

/// An attempt that ended without an answer of its own (its task was cancelled).
pub(crate) fn cut_short() -> Failure {
    Failure {
        kind: FailureKind::NetworkUnavailable,
        status: None,
        retryable: true,
        retry_after: None,
        too_large: false,
        detail: "the attempt ended without an answer".into(),
    }
}

/// A request that got no answer: a timeout or a connection error, both retryable.
/// `what` names the endpoint in the detail (`ingest`, `OTLP endpoint`).
pub(crate) fn classify_error(e: reqwest::Error, what: &str) -> Failure {
    let (kind, detail) = if e.is_timeout() {
        (
            FailureKind::Timeout,
            format!("the {what} request timed out"),
        )
    } else {
        let tls = error_chain(&e).to_ascii_lowercase();
        let detail =
            if tls.contains("certificate") || tls.contains("tls") || tls.contains("handshake") {
                format!("TLS error: {}", error_chain(&e))
            } else {
                format!("the {what} network is unavailable")
            };
        (FailureKind::NetworkUnavailable, detail)
    };
    Failure {
        kind,
        status: None,
        retryable: true,
        retry_after: None,
        too_large: false,
        detail,
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = String::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        if !s.is_empty() {
            s.push_str(": ");
        }
        s.push_str(&err.to_string());
        cur = err.source();
    }
    s
}

/// `accepted` = traces sent, `rejected` = `spans_dropped` = 0 (integers, not booleans),
/// `receipt_id` = our Idempotency-Key.
pub(crate) fn ack_is_complete(body: &[u8], traces: usize, key: &str) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    let int = |k: &str| v.get(k).and_then(|x| x.as_u64());
    v.is_object()
        && int("accepted") == Some(traces as u64)
        && int("rejected") == Some(0)
        && int("spans_dropped") == Some(0)
        && v.get("receipt_id").and_then(|x| x.as_str()) == Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_must_match_exactly() {
        let k = "5f0c6f38-7d55-4c1e-9d6b-0b8a1c2d3e4f";
        let ok = format!(r#"{{"accepted":2,"rejected":0,"spans_dropped":0,"receipt_id":"{k}"}}"#);
        assert!(ack_is_complete(ok.as_bytes(), 2, k));
        assert!(!ack_is_complete(ok.as_bytes(), 3, k));
        let boolean =
            format!(r#"{{"accepted":true,"rejected":0,"spans_dropped":0,"receipt_id":"{k}"}}"#);
        assert!(!ack_is_complete(boolean.as_bytes(), 1, k));
        let wrong = r#"{"accepted":2,"rejected":0,"spans_dropped":0,"receipt_id":"other"}"#;
        assert!(!ack_is_complete(wrong.as_bytes(), 2, k));
        assert!(!ack_is_complete(b"[]", 0, k));
    }

    #[test]
    fn failure_table() {
        assert_eq!(http_failure(401, None).kind, FailureKind::InvalidKey);
        assert_eq!(http_failure(402, None).kind, FailureKind::PlanExpired);
        assert_eq!(http_failure(403, None).kind, FailureKind::Forbidden);
        assert!(!http_failure(429, None).retryable);
        assert!(http_failure(429, Some(Duration::from_secs(2))).retryable);
        assert!(!http_failure(429, Some(Duration::from_secs(61))).retryable);
        assert!(http_failure(503, None).retryable);
        assert_eq!(http_failure(404, None).kind, FailureKind::MalformedResponse);
    }
}
