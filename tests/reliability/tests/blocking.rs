//! flush and shutdown return within their timeout (plus a small margin) from every
//! context a program calls them from, while the server accepts connections and never
//! answers.

use staso_collector::{Collector, CollectorConfig};
use staso_core::{init, span, Kind};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());
const TIMEOUT: Duration = Duration::from_millis(300);
/// What "within the timeout" allows on top: scheduling on a loaded 2-core machine.
const MARGIN: Duration = Duration::from_millis(700);

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A collector that accepts every connection and never answers, and a client on it
/// holding one span.
fn hung() -> (Collector, staso_core::Client) {
    let c = Collector::start_blocking(CollectorConfig::default()).expect("collector");
    c.faults().hang_next(u32::MAX);
    let client = init(
        staso_reliability_tests::local_options(c.url())
            .flush_interval(Duration::from_secs(60))
            .shutdown_timeout(TIMEOUT),
    )
    .expect("init");
    drop(span("stuck", Kind::Tool));
    (c, client)
}

fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

fn check(what: &str, report: staso_core::DeliveryReport, took: Duration) {
    assert!(took <= TIMEOUT + MARGIN, "{what} took {took:?}");
    assert!(report.timed_out, "{what}: {report:?}");
    assert_eq!(
        report.pending, 1,
        "{what}: the span is reported pending, not lost: {report:?}"
    );
}

#[test]
fn from_plain_main() {
    let _s = serial();
    let (_c, client) = hung();
    let (r, took) = timed(|| client.flush(TIMEOUT));
    check("flush", r, took);
    let (r, took) = timed(|| client.shutdown(TIMEOUT));
    check("shutdown", r, took);
}

#[test]
fn from_a_current_thread_runtime() {
    let _s = serial();
    let (_c, client) = hung();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let (r, took) = timed(|| staso_core::flush(TIMEOUT));
        check("flush", r, took);
        let (r, took) = timed(|| staso_core::shutdown(TIMEOUT));
        check("shutdown", r, took);
    });
    drop(client);
}

#[test]
fn from_a_one_worker_multi_thread_runtime_and_a_spawned_task() {
    let _s = serial();
    let (_c, client) = hung();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        tokio::spawn(async {
            let (r, took) = timed(|| staso_core::flush(TIMEOUT));
            check("flush in task", r, took);
            let (r, took) = timed(|| staso_core::shutdown(TIMEOUT));
            check("shutdown in task", r, took);
        })
        .await
        .expect("task");
    });
    drop(client);
}

struct ShutsDownOnDrop(Option<Duration>);

impl Drop for ShutsDownOnDrop {
    fn drop(&mut self) {
        let (r, took) = timed(|| staso_core::shutdown(TIMEOUT));
        check("shutdown in Drop", r, took);
        self.0 = Some(took);
    }
}

#[test]
fn from_drop() {
    let _s = serial();
    let (_c, client) = hung();
    drop(ShutsDownOnDrop(None));
    drop(client);
}

#[test]
fn from_a_panic_hook() {
    let _s = serial();
    let (_c, client) = hung();
    let took = std::sync::Arc::new(Mutex::new(None));
    let seen = took.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |_| {
        let t = Instant::now();
        let r = staso_core::flush(TIMEOUT);
        *seen.lock().unwrap_or_else(|p| p.into_inner()) = Some((r, t.elapsed()));
    }));
    let _ = std::thread::spawn(|| panic!("boom")).join();
    std::panic::set_hook(previous);
    let (r, t) = took
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .expect("hook ran");
    check("flush in panic hook", r, t);
    let (r, t) = timed(|| client.shutdown(TIMEOUT));
    check("shutdown", r, t);
}
