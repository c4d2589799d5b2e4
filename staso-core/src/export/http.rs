//! The HTTP client settings every request of the SDK shares (ingest, guard, annotations):
//! rustls with verification always on plus an optional extra CA, the proxy variables,
//! per-attempt timeouts, and never a redirect (following one would send the key and the
//! content to another origin, around the "TLS, and http only to loopback" rules). Answers
//! are read up to a small bound.

use crate::config::Config;
use std::time::Duration;

/// The User-Agent of every request.
pub(crate) const USER_AGENT: &str = concat!("staso-rust/", env!("CARGO_PKG_VERSION"));

/// The most of an answer's body we read; an acknowledgement or a decision is far smaller.
pub(crate) const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A client with the SDK's settings; `timeout` bounds each attempt.
pub(crate) fn client(cfg: &Config, timeout: Duration) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(USER_AGENT)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true);
    if let Some(pem) = &cfg.ca_cert_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| format!("the CA certificate is not valid PEM: {e}"))?;
        if certs.is_empty() {
            return Err("the CA certificate file holds no certificate".into());
        }
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    builder.build().map_err(|e| e.to_string())
}

/// Why an answer's body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Longer than the bound: not an answer of the service.
    TooLarge,
    /// The connection failed while reading.
    Http(reqwest::Error),
}

/// Reads at most `limit` bytes of the body; more is [`BodyError::TooLarge`] (the rest is
/// never buffered).
pub(crate) async fn read_bounded(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Http)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A POST of a JSON `body` to the Staso service (ingest or annotations), with the API
/// key and the idempotency key that makes its retries safe.
pub(crate) fn post_json(
    client: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    api_key: &str,
    idempotency_key: &str,
    body: Vec<u8>,
) -> reqwest::RequestBuilder {
    client
        .post(url)
        .header("X-API-Key", api_key)
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", idempotency_key)
        .body(body)
}

/// The answer's `Retry-After` in seconds (a date is not read: the caller's backoff
/// applies).
pub(crate) fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Where a redirect pointed, for a message: scheme, host, port and path only (a query
/// could hold a token, userinfo a password).
pub(crate) fn redirect_target(resp: &reqwest::Response) -> String {
    let Some(loc) = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return "no Location".into();
    };
    match resp.url().join(loc) {
        Ok(u) => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!(
                "{}://{}{port}{}",
                u.scheme(),
                u.host_str().unwrap_or(""),
                u.path()
            )
        }
        Err(_) => "an unreadable Location".into(),
    }
}
