//! A local stand-in for the Staso service, for SDK tests and demos.
//!
//! It serves `POST /v1/traces/ingest`, `POST /v1/traces/{trace_id}/annotations` and
//! `POST /v1/guard/evaluate` on 127.0.0.1, checks every request strictly against the
//! contracts (answering 400 with the offending field), acks like the service, stores
//! traces in SQLite, prints them as trees, answers guard checks from per-tool rules, and
//! injects faults (error statuses, 429, delays, hangs, dropped connections, bad acks,
//! server down, random failures, body limits).
//!
//! ```no_run
//! use staso_collector::{Collector, CollectorConfig, GuardRule};
//! use std::time::Duration;
//!
//! let c = Collector::start_blocking(CollectorConfig {
//!     api_key: "test-key".into(),
//!     ..Default::default()
//! })?;
//! c.faults().fail_next(2, 503); // the next two ingest requests get a 503
//! c.guard().set("delete_file", GuardRule::block("no-deletes", "deleting is off"));
//! // point the SDK at c.url() with api key "test-key", run the code under test, then:
//! assert!(c.wait_until(Duration::from_secs(5), |n| n.final_spans >= 3));
//! for span in c.spans() {
//!     println!("{} {} {}", span.name, span.kind, span.final_copies_received);
//! }
//! assert!(c.requests().ingest().iter().all(|r| r.validation_error.is_none()));
//! # Ok::<(), staso_collector::Error>(())
//! ```
//!
//! The collector runs on its own threads with its own Tokio runtime, so it can be used
//! from plain `#[test]` functions and from async tests alike; it stops when dropped.
//! For load and soak tests, [`StoreMode::CountOnly`] keeps only each span's copy counts
//! (still validating, deduping and acking every request).

mod annotation;
mod body;
mod contract;
mod faults;
mod formats;
mod guard;
mod handlers;
mod ingest;
mod json;
mod probe;
mod record;
mod scan;
mod server;
mod spans;
mod store;
mod tls;
mod tree;
mod viewer;
mod wait;

pub use contract::ValidationError;
pub use faults::{
    BadAck, Count, CountBadAck, CountMs, CountRetry, CountStatus, Fault, FaultPlan, Faults,
    RandomFaults,
};
pub use guard::{GuardAnswer, GuardPlan, GuardRule, GuardRules};
pub use ingest::validate_ingest_body;
#[doc(hidden)]
pub use probe::IngestProbe;
pub use record::{Endpoint, RecordedRequest, Requests};
pub use spans::{Counts, Spans};
pub use store::{SpanCopies, StoredAnnotation, StoredSpan, StoredTrace};
pub use tree::{render_trace, render_traces};

use server::Shared;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::watch;

/// What the collector keeps of the spans it accepts.
///
/// Every mode validates every request strictly, dedupes batches by Idempotency-Key, acks
/// per the contract and keeps each span's copy counts, so [`Collector::counts`], the
/// waits and [`Spans::copies`] work in all of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StoreMode {
    /// Store every span in SQLite ([`CollectorConfig::db_path`], or in memory): the rows
    /// of [`Collector::spans`], [`Collector::traces`] and tree printing. The default.
    #[default]
    Sqlite,
    /// Keep only the counts (about 100 bytes per distinct span): for throughput and soak
    /// tests. [`Collector::spans`] then has no rows and [`Collector::traces`] is empty,
    /// nothing is printed, `db_path` is not used, and annotations are kept in memory.
    CountOnly,
}

/// How to start a [`Collector`].
#[derive(Clone)]
pub struct CollectorConfig {
    /// The API key clients must send in `X-API-Key`. Default: `"test-key"`.
    pub api_key: String,
    /// Port on 127.0.0.1; 0 (the default) picks a free one.
    pub port: u16,
    /// SQLite database file; `None` (the default) keeps everything in memory.
    pub db_path: Option<PathBuf>,
    /// What to keep of accepted spans. Default: [`StoreMode::Sqlite`].
    pub store: StoreMode,
    /// Keep request bodies for [`RecordedRequest::body`]. Default: on, within
    /// [`CollectorConfig::body_budget_bytes`].
    pub record_bodies: bool,
    /// At most this many bytes of request bodies are kept (the most recent requests'):
    /// older records keep everything but their body (see
    /// [`RecordedRequest::body_forgotten`]). Default: 32 MiB.
    pub body_budget_bytes: usize,
    /// Print each received trace as a tree on stdout. Default: off.
    pub print_trees: bool,
    /// Serve HTTPS with a certificate generated at start (see [`Collector::ca_pem`]).
    pub tls: bool,
    /// Faults in force from the start.
    pub faults: FaultPlan,
    /// Guard rules in force from the start, by tool name (`"*"`: any other tool); see
    /// [`Collector::guard`].
    pub guard_rules: BTreeMap<String, GuardRule>,
}

impl std::fmt::Debug for CollectorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectorConfig")
            .field("api_key", &"<redacted>")
            .field("port", &self.port)
            .field("db_path", &self.db_path)
            .field("store", &self.store)
            .field("record_bodies", &self.record_bodies)
            .field("body_budget_bytes", &self.body_budget_bytes)
            .field("print_trees", &self.print_trees)
            .field("tls", &self.tls)
            .field("faults", &self.faults)
            .field("guard_rules", &self.guard_rules)
            .finish()
    }
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            api_key: "test-key".into(),
            port: 0,
            db_path: None,
            store: StoreMode::Sqlite,
            record_bodies: true,
            body_budget_bytes: 32 * 1024 * 1024,
            print_trees: false,
            tls: false,
            faults: FaultPlan::default(),
            guard_rules: BTreeMap::new(),
        }
    }
}

/// Why the collector could not start or read its store.
#[derive(Debug)]
pub enum Error {
    /// Binding the port, spawning the thread, TLS setup.
    Io(std::io::Error),
    /// Opening or reading the SQLite database.
    Storage(String),
    /// A configuration value that cannot work (e.g. an empty API key).
    Config(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Storage(e) => write!(f, "storage error: {e}"),
            Error::Config(e) => write!(f, "configuration error: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Storage(e.to_string())
    }
}

/// A running collector. Dropping it stops the server and closes its port.
pub struct Collector {
    shared: Arc<Shared>,
    addr: SocketAddr,
    ca_pem: Option<String>,
    shutdown: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

type Ready = Box<dyn FnOnce(std::io::Result<SocketAddr>) + Send>;

impl Collector {
    /// Starts a collector from async code. The server itself runs on its own thread and
    /// runtime; this only awaits its readiness.
    pub async fn start(config: CollectorConfig) -> Result<Collector, Error> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut c = Self::spawn(
            config,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        )?;
        let addr = rx
            .await
            .map_err(|_| Error::Io(std::io::Error::other("collector thread died")))??;
        c.addr = addr;
        Ok(c)
    }

    /// Starts a collector from synchronous code (its runtime runs on a background thread).
    pub fn start_blocking(config: CollectorConfig) -> Result<Collector, Error> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let mut c = Self::spawn(
            config,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        )?;
        let addr = rx
            .recv()
            .map_err(|_| Error::Io(std::io::Error::other("collector thread died")))??;
        c.addr = addr;
        Ok(c)
    }

    fn spawn(config: CollectorConfig, ready: Ready) -> Result<Collector, Error> {
        if config.api_key.trim().is_empty() {
            return Err(Error::Config("api_key must not be empty".into()));
        }
        let count_only = config.store == StoreMode::CountOnly;
        let store = store::Store::open(config.db_path.as_deref(), !count_only)?;
        let (faults, listen_rx) = Faults::new();
        faults.apply_nowait(&FaultPlan {
            down_for_ms: None,
            ..config.faults.clone()
        });
        let tls = if config.tls {
            Some(tls::generate()?)
        } else {
            None
        };
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let guard = GuardRules::default();
        guard.apply(&GuardPlan {
            clear: false,
            rules: config.guard_rules.clone(),
        });
        let shared = Arc::new(Shared {
            api_key: config.api_key.clone(),
            store,
            count_only,
            faults,
            guard,
            print_trees: config.print_trees,
            record_bodies: config.record_bodies,
            body_budget: config.body_budget_bytes,
            requests: Mutex::new(record::Recorder::default()),
            annotation_replays: Mutex::default(),
            signal: wait::Signal::default(),
            tls: tls.map(|t| t.acceptor),
        });
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
        let thread_shared = shared.clone();
        let down_for = config.faults.down_for_ms;
        let thread = std::thread::Builder::new()
            .name("staso-collector".into())
            .spawn(move || {
                // Validation is CPU work done in the handlers: use the cores.
                let workers =
                    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .thread_name("staso-collector")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => return ready(Err(e)),
                };
                rt.block_on(async move {
                    let listener = match server::bind(addr) {
                        Ok(l) => l,
                        Err(e) => return ready(Err(e)),
                    };
                    let bound = match listener.local_addr() {
                        Ok(a) => a,
                        Err(e) => return ready(Err(e)),
                    };
                    if let Some(ms) = down_for {
                        thread_shared.faults.apply_nowait(&FaultPlan {
                            down_for_ms: Some(ms),
                            ..FaultPlan::default()
                        });
                    }
                    ready(Ok(bound));
                    server::run(thread_shared, listener, bound, listen_rx, shutdown_rx).await;
                });
                // Hung and stalled requests never finish by themselves.
                rt.shutdown_timeout(Duration::from_secs(1));
            })?;
        Ok(Collector {
            shared,
            addr,
            ca_pem,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// Base URL for an SDK: `http://127.0.0.1:PORT` (or `https://…` in TLS mode).
    pub fn url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The port listened on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// In TLS mode, the PEM of the CA that signed the server certificate (for
    /// `localhost` and `127.0.0.1`): what a client must trust.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The fault injection handle for the ingest endpoint ([`Faults::on`] gives the
    /// others'). Cloneable; changes apply to the next request.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// The guard rules, by tool name (cloneable; changes apply to the next request).
    pub fn guard(&self) -> &GuardRules {
        &self.shared.guard
    }

    /// What was received so far, cheaply: span, final span, duplicate and request counts.
    pub fn counts(&self) -> Counts {
        let requests = self
            .shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len();
        let store = &self.shared.store;
        Counts {
            spans: store.span_count(false),
            final_spans: store.span_count(true),
            duplicated: store.duplicated(),
            requests,
        }
    }

    /// The accepted spans: the stored rows (none in [`StoreMode::CountOnly`]) and every
    /// span's copy counts.
    pub fn spans(&self) -> Spans {
        let copies = self.shared.store.copies();
        Spans::new(self.shared.store.spans().unwrap_or_default(), copies)
    }

    /// Every stored trace with its spans, in the order first stored (none in
    /// [`StoreMode::CountOnly`]). [`render_traces`] prints them as trees.
    pub fn traces(&self) -> Vec<StoredTrace> {
        self.shared.store.traces(None).unwrap_or_default()
    }

    /// Every stored annotation, oldest first (a replayed one once).
    pub fn annotations(&self) -> Vec<StoredAnnotation> {
        self.shared.store.annotations().unwrap_or_default()
    }

    /// Every request received so far, in arrival order, whatever its endpoint and
    /// outcome. Kept bodies are parsed on each call (see
    /// [`CollectorConfig::body_budget_bytes`]).
    pub fn requests(&self) -> Requests {
        let records = self
            .shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .snapshot();
        record::with_bodies(records)
    }

    /// Forgets the recorded requests (not the stored spans), e.g. between soak phases.
    pub fn clear_requests(&self) {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Blocks until `pred` holds for the [`Counts`], evaluating it now and after every
    /// received request (no polling); `false` if it still does not hold after `timeout`.
    ///
    /// ```no_run
    /// # let c = staso_collector::Collector::start_blocking(Default::default())?;
    /// # use std::time::Duration;
    /// assert!(c.wait_until(Duration::from_secs(5), |n| n.final_spans >= 3));
    /// # Ok::<(), staso_collector::Error>(())
    /// ```
    pub fn wait_until(&self, timeout: Duration, mut pred: impl FnMut(Counts) -> bool) -> bool {
        self.shared
            .signal
            .wait_until(timeout, || pred(self.counts()))
    }

    /// [`Collector::wait_until`] for async code: waits without blocking the runtime.
    pub async fn wait_until_async(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(Counts) -> bool,
    ) -> bool {
        self.shared
            .signal
            .wait_until_async(timeout, || pred(self.counts()))
            .await
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads the traces stored in the database at `db` (the `--last` most recently updated
/// ones when given), oldest first — what `staso-collector show` prints.
pub fn stored_traces(db: &Path, last: Option<usize>) -> Result<Vec<StoredTrace>, Error> {
    if !db.exists() {
        return Err(Error::Storage(format!("no database at {}", db.display())));
    }
    Ok(store::Store::open_for_reading(db)?.traces(last)?)
}

/// A trace, span or idempotency id in the contract's shape (lowercase hyphenated
/// 8-4-4-4-12 hex digits) read as one number, as [`SpanCopies`] holds them; `None` for
/// any other string.
///
/// ```
/// assert_eq!(staso_collector::id_key("00000000-0000-0000-0000-0000000000ff"), Some(255));
/// assert_eq!(staso_collector::id_key("not an id"), None);
/// ```
pub fn id_key(id: &str) -> Option<u128> {
    formats::lower_uuid_u128(id)
}
