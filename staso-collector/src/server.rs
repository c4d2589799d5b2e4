//! The HTTP server: the accept loop (with "down"/"up" on the same port), connections
//! (plain or TLS, killable for faults) and the state the handlers share.

use crate::annotation::Replays;
use crate::faults::{Faults, Listen};
use crate::guard::GuardRules;
use crate::handlers::handle;
use crate::record::{RecordedRequest, Recorder};
use crate::store::Store;
use crate::wait::Signal;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{watch, Notify};
use tokio_rustls::TlsAcceptor;

/// State shared by the handlers and the [`crate::Collector`].
pub(crate) struct Shared {
    pub api_key: String,
    pub store: Store,
    /// Spans are validated and counted, not stored (nothing to print either).
    pub count_only: bool,
    pub faults: Faults,
    pub guard: GuardRules,
    pub print_trees: bool,
    pub record_bodies: bool,
    pub body_budget: usize,
    pub requests: Mutex<Recorder>,
    /// Annotations stored under an Idempotency-Key (also the lock that makes a replay
    /// wait for the first copy to be stored).
    pub annotation_replays: Mutex<Replays>,
    pub signal: Signal,
    pub tls: Option<TlsAcceptor>,
}

impl Shared {
    /// Records a request and wakes the waiters.
    pub(crate) fn record(&self, record: RecordedRequest, body: Option<Bytes>) {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record, body, self.body_budget);
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
pub(crate) struct ConnCtl {
    /// Close the connection now, without answering.
    pub drop_now: Notify,
    /// Survive a "down" kill (the control request that asked for it must get its answer).
    pub exempt: AtomicBool,
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
