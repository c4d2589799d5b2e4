//! The trace viewer: a web page and a JSON API served by the collector itself, on the
//! same port as ingest.
//!
//! The page is hand-written HTML, CSS and JavaScript embedded in the binary (see
//! `assets`), so nothing needs building and nothing is fetched from elsewhere. It reads
//! the store through the API in `api`; `summary` keeps the per-trace rows the list
//! pages through, `query` reads them.

mod api;
mod assets;
mod query;
pub(crate) mod summary;

use crate::server::Shared;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;
use std::sync::Arc;

type Resp = Response<Full<Bytes>>;

/// What a viewer request needs from the HTTP request (owned, so handlers can await).
pub(crate) struct Get {
    method: Method,
    path: String,
    query: String,
    host: Option<String>,
}

impl Get {
    /// Takes the parts of `req` the viewer reads.
    pub(crate) fn from_request<B>(req: &Request<B>) -> Self {
        Get {
            method: req.method().clone(),
            path: req.uri().path().to_owned(),
            query: req.uri().query().unwrap_or("").to_owned(),
            host: req
                .headers()
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned),
        }
    }
}

/// Whether `path` is one the viewer serves (page, asset or API).
pub(crate) fn is_viewer_path(path: &str) -> bool {
    path == "/"
        || path == "/favicon.svg"
        || page_path(path)
        || path.starts_with("/assets/")
        || path == "/api"
        || path.starts_with("/api/")
}

/// The page's own routes: every one of them is answered with the same HTML, which reads
/// the address to know what to show (so links can be shared).
fn page_path(path: &str) -> bool {
    path == "/traces"
        || path.starts_with("/traces/")
        || path == "/conversations"
        || path.starts_with("/conversations/")
}

/// A loopback `Host` header (with or without port). Anything else is refused, so a web
/// page elsewhere cannot read the store through DNS rebinding.
fn loopback_host(host: Option<&str>) -> bool {
    let Some(host) = host else {
        return false;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name == "localhost" || name == "::1" || name.starts_with("127.")
}

/// Answers a viewer request, or `None` when `get` is not one (the server then answers
/// 404 as before).
pub(crate) async fn respond(shared: &Arc<Shared>, get: Get) -> Option<Resp> {
    if !is_viewer_path(&get.path) {
        return None;
    }
    if get.method != Method::GET && get.method != Method::HEAD {
        return Some(json_response(
            405,
            &json!({"error": "method not allowed: the viewer and its API only answer GET"}),
        ));
    }
    if !loopback_host(get.host.as_deref()) {
        return Some(json_response(
            403,
            &json!({"error": "the viewer answers only requests addressed to 127.0.0.1 or localhost",
                    "field": "headers.Host"}),
        ));
    }
    if get.path.starts_with("/api") {
        return Some(api::respond(shared, &get.path, &get.query).await);
    }
    let asset = if get.path == "/" || page_path(&get.path) {
        assets::INDEX
    } else {
        assets::find(&get.path)?
    };
    Some(asset_response(asset))
}

fn asset_response(asset: &assets::Asset) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from_static(asset.body)));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    // Nothing but this server: no CDN, no inline script.
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    r
}

pub(crate) fn json_response<T: serde::Serialize + ?Sized>(status: u16, body: &T) -> Resp {
    let text = serde_json::to_vec(body).unwrap_or_else(|e| {
        json!({"error": format!("encoding the answer failed: {e}")})
            .to_string()
            .into_bytes()
    });
    let mut r = Response::new(Full::new(Bytes::from(text)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts() {
        for ok in [
            "127.0.0.1:8787",
            "127.0.0.1",
            "localhost:8787",
            "localhost",
            "[::1]:8787",
        ] {
            assert!(loopback_host(Some(ok)), "{ok}");
        }
        for bad in ["evil.example:8787", "example.com", "", "[fe80::1]:80"] {
            assert!(!loopback_host(Some(bad)), "{bad}");
        }
        assert!(!loopback_host(None));
    }

    #[test]
    fn viewer_paths() {
        for p in [
            "/",
            "/traces",
            "/traces/abc",
            "/conversations/s",
            "/api/traces",
            "/assets/app.js",
        ] {
            assert!(is_viewer_path(p), "{p}");
        }
        for p in ["/v1/traces/ingest", "/_staso/health", "/nope"] {
            assert!(!is_viewer_path(p), "{p}");
        }
    }
}
