//! One OTLP/HTTP attempt: POST an encoded `ExportTraceServiceRequest`, classify the
//! answer. 429 and 5xx (and connection errors and timeouts) are retried, honouring
//! `Retry-After`, as for the Staso ingest: OTLP/HTTP names 502, 503 and 504, and a 500 of
//! a collector whose storage hiccuped is as transient (501 and 505 are not). Every other
//! 4xx is final. A 2xx may carry a partial success: the receiver's count of spans it
//! rejected.

use super::http::{self, BodyError};
use super::transport::{classify_error, send_once, Failure};
use crate::config::{Config, OtlpConfig};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use staso_types::{FailureKind, OtlpProtocol};
use std::time::Duration;

/// The longest `Retry-After` waited; a longer one is waited this long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// What a 2xx said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Accepted {
    /// Spans the receiver rejected (`partial_success.rejected_spans`).
    pub rejected: u64,
}

#[derive(Clone)]
pub(crate) struct OtlpTransport {
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
    pub(crate) protocol: OtlpProtocol,
}

impl OtlpTransport {
    pub(crate) fn new(cfg: &Config, otlp: &OtlpConfig) -> Result<Self, String> {
        let mut headers = HeaderMap::new();
        for (k, v) in &otlp.headers.0 {
            // Checked at init; the message names the header, never its value.
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("invalid OTLP header name {k:?}"))?;
            let mut value = HeaderValue::from_str(v)
                .map_err(|_| format!("invalid value for OTLP header {k}"))?;
            value.set_sensitive(true);
            headers.append(name, value);
        }
        let content_type = match otlp.protocol {
            OtlpProtocol::HttpJson => "application/json",
            _ => "application/x-protobuf",
        };
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        Ok(OtlpTransport {
            client: http::client(cfg, cfg.request_timeout)?,
            url: otlp.endpoint.clone(),
            headers,
            protocol: otlp.protocol,
        })
    }

    /// One attempt.
    pub(crate) async fn send(&self, body: Vec<u8>) -> Result<Accepted, Failure> {
        let request = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .body(body);
        let (resp, status) = send_once(request, "OTLP endpoint", "otlp_endpoint", |e| {
            classify_error(e, "OTLP endpoint")
        })
        .await?;
        if !(200..300).contains(&status) {
            let retry_after = http::retry_after(&resp).map(|d| d.min(MAX_RETRY_AFTER));
            return Err(failure(status, retry_after));
        }
        // The answer is only read for a partial success; one that cannot be read is
        // still a success (the status says so).
        let body = match http::read_bounded(resp, http::MAX_ANSWER_BYTES).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => return Ok(Accepted::default()),
            Err(BodyError::Http(e)) => return Err(classify_error(e, "OTLP endpoint")),
        };
        Ok(Accepted {
            rejected: rejected_spans(&body, self.protocol),
        })
    }
}

/// `partial_success.rejected_spans` of an answer, 0 when there is none or it is unreadable.
fn rejected_spans(body: &[u8], protocol: OtlpProtocol) -> u64 {
    if body.is_empty() {
        return 0;
    }
    let response = match protocol {
        OtlpProtocol::HttpJson => serde_json::from_slice::<ExportTraceServiceResponse>(body).ok(),
        _ => <ExportTraceServiceResponse as prost::Message>::decode(body).ok(),
    };
    let partial = response.and_then(|r| r.partial_success);
    if let Some(p) = partial.as_ref().filter(|p| p.rejected_spans > 0) {
        crate::diag::debug(&format!(
            "staso: the OTLP endpoint rejected {} span(s): {}",
            p.rejected_spans, p.error_message
        ));
    }
    partial.map_or(0, |p| u64::try_from(p.rejected_spans).unwrap_or(0))
}

/// The OTLP/HTTP table of answers.
pub(crate) fn failure(status: u16, retry_after: Option<Duration>) -> Failure {
    let (kind, retryable, detail) = match status {
        401 => (
            FailureKind::InvalidKey,
            false,
            "the OTLP endpoint refused the credentials: check `otlp_headers`",
        ),
        403 => (
            FailureKind::Forbidden,
            false,
            "the OTLP endpoint refused access: check `otlp_headers`",
        ),
        413 => (
            FailureKind::MalformedResponse,
            false,
            "the batch is too large for the OTLP endpoint",
        ),
        429 => (
            FailureKind::RateLimited,
            true,
            "rate limited by the OTLP endpoint",
        ),
        501 | 505 => (
            FailureKind::BackendUnavailable,
            false,
            "the OTLP endpoint does not implement this request (check `otlp_endpoint`)",
        ),
        s if s >= 500 => (
            FailureKind::BackendUnavailable,
            true,
            "the OTLP endpoint is unavailable",
        ),
        _ => (
            FailureKind::MalformedResponse,
            false,
            "the OTLP endpoint refused the request (check `otlp_endpoint`: a receiver's traces path is /v1/traces)",
        ),
    };
    Failure {
        kind,
        status: Some(status),
        retryable,
        retry_after: if retryable { retry_after } else { None },
        too_large: status == 413,
        detail: detail.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_otlp_http_retry_rules() {
        for s in [429, 500, 502, 503, 504] {
            assert!(failure(s, None).retryable, "{s}");
        }
        for s in [400, 401, 403, 404, 501, 505] {
            assert!(!failure(s, None).retryable, "{s}");
        }
        let f = failure(503, Some(Duration::from_secs(2)));
        assert_eq!(f.retry_after, Some(Duration::from_secs(2)));
        assert!(failure(413, None).too_large);
    }
}
