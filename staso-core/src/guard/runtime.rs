//! Where guard requests run: a small runtime of the guard's own (one worker thread,
//! started on first use), so a check works from any executor or none, never needs the
//! caller's runtime and never shares the batcher's. Its HTTP client is built once per set
//! of TLS settings and reused (keep-alive), with the settings every request of the SDK
//! has (`export::http`).

use crate::config::Config;
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();

fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("staso-guard")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the guard runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Runs `fut` on the guard runtime; its output arrives on the returned channel, which
/// any executor can await. The task stops when the receiver is dropped.
pub(crate) fn spawn<F>(fut: F) -> Result<tokio::sync::oneshot::Receiver<F::Output>, String>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    runtime()?.spawn(async move {
        let mut tx = tx;
        tokio::select! {
            out = fut => { let _ = tx.send(out); }
            _ = tx.closed() => {}
        }
    });
    Ok(rx)
}

/// [`spawn`] with a reply a plain thread can wait on (from inside an async context too,
/// where a tokio receiver's blocking wait would panic).
pub(crate) fn spawn_blocking_reply<F>(
    fut: F,
) -> Result<std::sync::mpsc::Receiver<F::Output>, String>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    runtime()?.spawn(async move {
        let _ = tx.send(fut.await);
    });
    Ok(rx)
}

/// The client for `cfg`'s TLS settings: built on first use, rebuilt only when the extra
/// CA changes. Each request sets its own timeout; this one only bounds a stray request.
pub(crate) fn http_client(cfg: &Config) -> Result<reqwest::Client, String> {
    static CLIENT: Mutex<Option<(Option<Vec<u8>>, reqwest::Client)>> = Mutex::new(None);
    let mut slot = CLIENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((ca, client)) = slot.as_ref() {
        if *ca == cfg.ca_cert_pem {
            return Ok(client.clone());
        }
    }
    let client = crate::export::http::client(cfg, Duration::from_secs(60))?;
    *slot = Some((cfg.ca_cert_pem.clone(), client.clone()));
    Ok(client)
}
