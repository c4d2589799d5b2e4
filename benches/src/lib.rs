//! Benchmarks of the staso hot path (see BENCHMARKS.md): what the benches and the
//! allocation test share — the instrumented functions, the loopback collector, the client
//! set-up, an allocation-counting allocator and a few process figures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

pub use staso_collector::{Collector, CollectorConfig, StoreMode};
use std::io::{BufRead, Write};

/// The API key of the in-process collector.
pub const API_KEY: &str = "bench-key";

/// A tool span with nothing captured (target 1): two arguments and a result that are not
/// captured, so the span is ids, two clock reads and one queue push.
#[staso::tool(capture_input = false, capture_output = false)]
#[inline(never)]
pub fn tool_nothing_captured(a: u64, b: u64) -> u64 {
    std::hint::black_box(a.wrapping_add(b))
}

/// Bytes of one [`tool_nothing_captured`] span in a request body, rounded up: 874
/// measured (a body's length over its spans, printed from the encoder). The sustained
/// bench and the memory test compute the SDK's byte bound with it (BENCHMARKS.md, target 5).
pub const SPAN_JSON_BYTES: usize = 880;

/// A second call site like [`tool_nothing_captured`] (another name), for runs whose spans
/// alternate between call sites, as an agent's do (`STASO_SUSTAINED_MIX=1`).
#[staso::tool(capture_input = false, capture_output = false)]
#[inline(never)]
pub fn other_tool_nothing_captured(a: u64, b: u64) -> u64 {
    std::hint::black_box(a.wrapping_mul(b))
}

/// A tool span with the default capture (target 2): two small arguments and the result
/// become JSON values on the caller's thread.
#[staso::tool]
#[inline(never)]
pub fn tool_default_capture(query: &str, limit: u64) -> u64 {
    std::hint::black_box(query.len() as u64 + limit)
}

/// A tool whose one argument is captured (issue 8.6: a 100 MB `String` argument costs the
/// caller what `max_field_bytes` allows, not what the value weighs).
#[staso::tool]
#[inline(never)]
pub fn tool_big_argument(doc: &str) -> usize {
    std::hint::black_box(doc.len())
}

/// [`tool_nothing_captured`] as an `async fn` (its span is carried by its future).
#[staso::tool(capture_input = false, capture_output = false)]
#[inline(never)]
pub async fn async_tool_nothing_captured(a: u64, b: u64) -> u64 {
    std::hint::black_box(a.wrapping_add(b))
}

/// [`tool_default_capture`] as an `async fn`.
#[staso::tool]
#[inline(never)]
pub async fn async_tool_default_capture(query: &str, limit: u64) -> u64 {
    std::hint::black_box(query.len() as u64 + limit)
}

/// Polls `fut` once with a waker that does nothing: for futures that complete at once
/// (the async tools above), what an executor's poll of them costs, without the executor.
pub fn poll_once<F: std::future::Future>(fut: F) -> Option<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(fut).poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

/// The plain function the instrumented ones are compared with.
#[inline(never)]
pub fn plain(a: u64, b: u64) -> u64 {
    std::hint::black_box(a.wrapping_add(b))
}

/// A layer that does nothing: with it, a `tracing` span costs what `tracing` and its
/// registry cost (it also stands for another layer, fmt or OpenTelemetry, that wants every
/// span).
pub struct NoopLayer;
impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for NoopLayer {}

/// An ordinary `tracing` span (no GenAI field): the bridge does not take it.
#[inline(never)]
pub fn tracing_plain_span(i: u64) {
    let span = tracing::info_span!("db_query", rows = std::hint::black_box(i));
    let _e = span.enter();
}

/// An agent span: the spans of a burst are nested in it, as in an agent run.
pub fn agent_span() -> staso::SpanGuard {
    staso::span("bench-agent", staso::Kind::Agent)
}

/// Starts the loopback collector in this process, in its fastest store mode (count-only:
/// every request still validated, deduped and acknowledged per the contract).
pub fn start_collector() -> Collector {
    let config = CollectorConfig {
        api_key: API_KEY.into(),
        store: StoreMode::CountOnly,
        record_bodies: false,
        ..CollectorConfig::default()
    };
    match Collector::start_blocking(config) {
        Ok(c) => c,
        Err(e) => panic!("cannot start the loopback collector: {e}"),
    }
}

/// Set in the environment of the child process that serves the collector.
const CHILD_ENV: &str = "STASO_BENCH_COLLECTOR_CHILD";

/// First thing in a bench binary's `main`: when this process was started by
/// [`CollectorProcess::start`], serve the collector until the parent closes our stdin,
/// answer with `<final spans> <duplicate final copies>` and exit.
pub fn serve_collector_if_child() {
    let Some(mode) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    if mode == "pin" {
        pin_process_to_background_cpu();
    } else {
        // Started from a pinned thread: undo the mask it inherited.
        allow_all_cpus();
    }
    let c = start_collector();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", c.url());
    let _ = out.flush();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    let _ = writeln!(out, "{} {}", c.counts().final_spans, c.counts().duplicated);
    let _ = out.flush();
    std::process::exit(0);
}

/// The loopback collector in a child process (this same binary, see
/// [`serve_collector_if_child`]), so that its memory and CPU are not the SDK's: the bench
/// process's RSS is the SDK's own, and its index of counted spans does not grow here.
pub struct CollectorProcess {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    url: String,
}

impl CollectorProcess {
    /// Starts the child and waits for its address.
    pub fn start() -> CollectorProcess {
        Self::start_with(true)
    }

    /// [`start`](Self::start); `pin`: the child keeps to the background CPU (per-span
    /// benches) or runs where the scheduler puts it (sustained load).
    pub fn start_with(pin: bool) -> CollectorProcess {
        use std::process::{Command, Stdio};
        let exe = match std::env::current_exe() {
            Ok(e) => e,
            Err(e) => panic!("cannot find this executable: {e}"),
        };
        let mut child = match Command::new(exe)
            .env(CHILD_ENV, if pin { "pin" } else { "free" })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => panic!("cannot start the collector process: {e}"),
        };
        let stdin = child.stdin.take();
        let Some(stdout) = child.stdout.take() else {
            panic!("the collector process has no stdout")
        };
        let mut stdout = std::io::BufReader::new(stdout);
        let mut url = String::new();
        let _ = stdout.read_line(&mut url);
        let url = url.trim().to_string();
        assert!(url.starts_with("http://"), "collector process said {url:?}");
        CollectorProcess {
            child,
            stdin,
            stdout,
            url,
        }
    }

    /// The collector's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the collector; returns the final spans it counted and how many of them it
    /// received more than once.
    pub fn finish(mut self) -> (u64, u64) {
        self.stdin.take();
        let mut line = String::new();
        let _ = self.stdout.read_line(&mut line);
        let _ = self.child.wait();
        let mut it = line.split_whitespace().map(|v| v.parse().unwrap_or(0));
        (it.next().unwrap_or(0), it.next().unwrap_or(0))
    }
}

impl Drop for CollectorProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Options of a client delivering to the collector at `url` (defaults otherwise: batches of
/// 100, flush every 5 s); `enabled: false` for the runtime-disabled figure.
pub fn options(url: &str, enabled: bool, max_queue_size: usize) -> staso::Options {
    staso::Options::new()
        .api_key(API_KEY)
        .agent_name("bench-agent")
        .base_url(url.to_string())
        .max_queue_size(max_queue_size)
        .enabled(enabled)
        .capture_git(false)
        .shutdown_timeout(Duration::from_secs(30))
}

/// A loopback port nothing listens on: a client sending there fails to connect on every
/// batch and keeps its spans for a retry, so they pile up to the bound (the memory
/// tests).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().expect("its address").port()
}

/// The environment variable `name` parsed, else `default` (unset or not a `T`): the
/// knobs of the benches and examples (`BURST`, `EVERY`, `GAP`, `STASO_SUSTAINED_*`).
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The caller thread's CPU time of each burst (its root span, the spans under it, and the
/// root's end, which is where fastrace hands its spans over), kept so that `hot`,
/// `fastrace_hot` and `design_floor` print the same per-burst figures: the cheapest burst
/// of a run and the median one. On a machine whose speed varies from second to second
/// (this VM's does, by 1.8x), the cheapest burst of each run is what the code costs when
/// the machine is not slowed; compare runs of both tracers interleaved, round by round.
#[derive(Debug, Default)]
pub struct BurstCpu(Vec<Duration>);

impl BurstCpu {
    /// Times `burst` (one burst, root span included) by the calling thread's CPU time.
    pub fn time<R>(&mut self, burst: impl FnOnce() -> R) -> R {
        let t = thread_cpu_time();
        let r = burst();
        self.0.push(thread_cpu_time().saturating_sub(t));
        r
    }

    /// `burst cpu ns/span min <x> median <y>` for bursts of `spans` spans. With `SHOW`
    /// set, the line starts with every burst's figure in the order they ran (how a run
    /// moves between a fast and a slow state, which its minimum and median hide).
    pub fn summary(&self, spans: u64) -> String {
        let per = |d: &Duration| d.as_nanos() as f64 / spans.max(1) as f64;
        let each = if std::env::var_os("SHOW").is_some() {
            let all: Vec<String> = self.0.iter().map(|d| format!("{:.0}", per(d))).collect();
            format!("each burst: {}\n", all.join(" "))
        } else {
            String::new()
        };
        let mut v = self.0.clone();
        v.sort();
        let per_opt = |d: Option<&Duration>| d.map_or(f64::NAN, per);
        format!(
            "{each}burst cpu ns/span min {:.1} median {:.1}",
            per_opt(v.first()),
            per_opt(v.get(v.len() / 2))
        )
    }
}

/// Measurement time per figure in ms: `STASO_BENCH_MS`, else `default` (every bench
/// reads the same variable).
pub fn bench_ms(default: u64) -> u64 {
    env_or("STASO_BENCH_MS", default)
}

/// fastrace's side of the comparison, the same in every bench and example that measures
/// it: a reporter that discards, and a traced function with the body of staso's
/// `tool_nothing_captured`.
pub mod fastrace_anchor {
    /// A reporter that drops what it is given (the collector's work still runs).
    pub struct Discard;

    impl fastrace::collector::Reporter for Discard {
        fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
            std::hint::black_box(spans);
        }
    }

    /// A `#[trace]` function (callgrind: `--toggle-collect='*traced*'`).
    #[fastrace::trace]
    #[inline(never)]
    pub fn traced(a: u64, b: u64) -> u64 {
        std::hint::black_box(a.wrapping_add(b))
    }
}

/// Starts the client; panics with the reason when it cannot.
pub fn init(options: staso::Options) -> staso::Client {
    match staso::init(options) {
        Ok(c) => c,
        Err(e) => panic!("staso::init: {e}"),
    }
}

/// Counts heap allocations (and bytes) of the whole process; install it with
/// `#[global_allocator] static A: CountingAlloc = CountingAlloc;`.
pub struct CountingAlloc;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);
/// Bytes allocated and not yet freed, and the most there were since the last reset.
static LIVE_BYTES: AtomicU64 = AtomicU64::new(0);
static PEAK_LIVE_BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        freed(layout.size());
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        freed(layout.size());
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

thread_local! {
    // Const-initialised, no destructor: safe to touch from inside the allocator.
    static THREAD_ALLOCS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[inline]
fn count(bytes: usize) {
    ALLOCS.fetch_add(1, Relaxed);
    ALLOC_BYTES.fetch_add(bytes as u64, Relaxed);
    let live = LIVE_BYTES.fetch_add(bytes as u64, Relaxed) + bytes as u64;
    PEAK_LIVE_BYTES.fetch_max(live, Relaxed);
    let _ = THREAD_ALLOCS.try_with(|c| c.set(c.get() + 1));
}

/// Heap allocations made by the calling thread so far (with [`CountingAlloc`]): other
/// threads (the batcher, the collector) do not disturb it.
pub fn thread_allocations() -> u64 {
    THREAD_ALLOCS.try_with(|c| c.get()).unwrap_or(0)
}

/// Heap allocations made by the whole process so far (only with [`CountingAlloc`]
/// installed; 0 otherwise).
pub fn allocations() -> u64 {
    ALLOCS.load(Relaxed)
}

/// Bytes requested from the heap so far (with [`CountingAlloc`]).
pub fn allocated_bytes() -> u64 {
    ALLOC_BYTES.load(Relaxed)
}

#[inline]
fn freed(bytes: usize) {
    LIVE_BYTES.fetch_sub(bytes as u64, Relaxed);
}

/// Heap bytes of the whole process allocated and not yet freed (with [`CountingAlloc`]).
pub fn live_bytes() -> u64 {
    LIVE_BYTES.load(Relaxed)
}

/// The most [`live_bytes`] there were since the last [`reset_peak_live_bytes`].
pub fn peak_live_bytes() -> u64 {
    PEAK_LIVE_BYTES.load(Relaxed)
}

/// Starts a new peak of [`live_bytes`] from what is live now.
pub fn reset_peak_live_bytes() {
    PEAK_LIVE_BYTES.store(LIVE_BYTES.load(Relaxed), Relaxed);
}

/// A line of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`); 0 where there is none.
pub fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the peak RSS (`VmHWM`) of this process, where the kernel allows it.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`): time the thread was not
/// running (preempted by the batcher or the collector on a 2-core machine) is not in it.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant of the OS.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Pins this thread to CPU 0 and every other thread of the process (the batcher, the
/// collector threads of the anchors) to CPU 1, where there are two CPUs or more: the
/// caller's thread then runs alone on its CPU and what the tracer does in the background
/// runs beside it, as on a machine where the application has a core of its own. Call it
/// again after starting threads. Without a second CPU it does nothing.
pub fn pin_threads() {
    if cpus() < 2 {
        return;
    }
    // SAFETY: gettid has no preconditions.
    let me = unsafe { libc::gettid() };
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return;
    };
    for t in tasks.flatten() {
        let Some(tid) = t.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        set_affinity(tid, if tid == me { 0 } else { 1 });
    }
}

/// Pins the whole process (threads started later inherit it) to CPU 1; for the collector
/// child, so it does not run on the caller's CPU.
pub fn pin_process_to_background_cpu() {
    if cpus() >= 2 {
        set_affinity(0, 1);
    }
}

/// CPUs online (not `available_parallelism`, which counts the CPUs this thread may run
/// on: 1 once it is pinned, and threads and processes started from it inherit that).
fn cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1)
}

/// Lets the calling thread (and what it starts) run on every CPU again.
pub fn allow_all_cpus() {
    // SAFETY: as in `set_affinity`.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in 0..cpus() {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn set_affinity(tid: i32, cpu: usize) {
    // SAFETY: `set` is a plain bit set, zero-initialised and then filled through the
    // libc macros; sched_setaffinity reads it and nothing else.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// `staso::flush` run on a helper thread (on the background CPU) while the calling thread
/// spins until it returns: the caller's CPU then does not go idle while the bench waits
/// for delivery. An idle virtual CPU is handed to other work by the host and comes back
/// with cold caches, which made the first burst after a wait 5-10x slower than the rest
/// and measured the host rather than the tracer.
pub fn flush_busy(timeout: Duration) -> staso::DeliveryReport {
    use std::sync::mpsc;
    use std::sync::OnceLock;
    type Reply = (Duration, mpsc::Sender<staso::DeliveryReport>);
    static FLUSHER: OnceLock<std::sync::Mutex<mpsc::Sender<Reply>>> = OnceLock::new();
    let tx = FLUSHER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Reply>();
        std::thread::Builder::new()
            .name("bench-flusher".into())
            .spawn(move || {
                if cpus() >= 2 {
                    set_affinity(0, 1);
                }
                for (timeout, reply) in rx {
                    let _ = reply.send(staso::flush(timeout));
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| panic!("cannot start the flusher thread: {e}"));
        std::sync::Mutex::new(tx)
    });
    let (reply, rx) = mpsc::channel();
    if let Ok(tx) = tx.lock() {
        let _ = tx.send((timeout, reply));
    }
    loop {
        match rx.try_recv() {
            Ok(r) => return r,
            Err(mpsc::TryRecvError::Empty) => std::hint::spin_loop(),
            Err(mpsc::TryRecvError::Disconnected) => {
                panic!("the flusher thread is gone")
            }
        }
    }
}
