//! The delivery report is honest: every span that ended is delivered, failed, pending or
//! rejected — exactly, at every report, under every fault the collector can inject — and
//! what the SDK holds never exceeds `max_queue_size`.

use staso_collector::{BadAck, Collector, CollectorConfig, RandomFaults};
use staso_core::{init, span, Client, DeliveryReport, FailureKind, Kind, Options};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn collector() -> Collector {
    Collector::start_blocking(CollectorConfig::default()).expect("collector")
}

fn client(c: &Collector, max_queue_size: usize) -> Client {
    init(
        Options::new()
            .api_key("test-key")
            .agent_name("bot")
            .base_url(c.url())
            .capture_git(false)
            .max_queue_size(max_queue_size)
            .batch_size(50)
            .flush_interval(Duration::from_millis(50))
            .request_timeout(Duration::from_millis(300))
            .shutdown_timeout(Duration::from_millis(500)),
    )
    .expect("init")
}

/// Ends `n` spans on each of `threads` threads (one root with children each).
fn produce(threads: usize, n: usize) -> u64 {
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let _root = span("agent", Kind::Agent);
                for _ in 1..n {
                    drop(span("tool", Kind::Tool));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("producer");
    }
    (threads * n) as u64
}

#[track_caller]
fn adds_up(produced: u64, r: &DeliveryReport) {
    assert_eq!(
        produced,
        r.delivered + r.failed + r.pending + r.rejected,
        "produced {produced} != delivered + failed + pending + rejected: {r:?}"
    );
    assert_eq!(r.accepted, r.delivered + r.failed + r.pending, "{r:?}");
}

#[test]
fn every_span_is_accounted_for_under_every_fault() {
    let _s = serial();
    type Inject = fn(&Collector);
    let faults: &[(&str, Inject)] = &[
        ("down", |c| c.faults().go_down()),
        ("hang", |c| c.faults().hang_next(1_000)),
        ("500", |c| c.faults().fail_next(1_000, 500)),
        ("401", |c| c.faults().fail_next(1_000, 401)),
        ("429 + Retry-After", |c| {
            c.faults().rate_limit_next(1_000, Some(1))
        }),
        ("dropped connections", |c| c.faults().drop_next(1_000)),
        ("bad acks", |c| {
            c.faults().bad_ack_next(1_000, BadAck::WrongReceiptId)
        }),
        ("random", |c| {
            c.faults().set_random(Some(RandomFaults::new(7, 0.5)))
        }),
    ];
    for (name, inject) in faults {
        let c = collector();
        inject(&c);
        let client = client(&c, 200);
        let late = span("late", Kind::Tool);
        let produced = produce(2, 300);
        // Mid-outage: more was produced than the bound holds.
        let r = client.flush(Duration::from_millis(300));
        adds_up(produced, &r);
        assert!(r.pending <= 200, "{name}: {r:?}");
        let r = client.shutdown(Duration::from_millis(500));
        adds_up(produced, &r);
        // After shutdown, spans that were still open are refused and counted.
        drop(late);
        let again = client.shutdown(Duration::from_millis(10));
        assert_eq!(again.rejected, r.rejected + 1, "{name}: {again:?}");
        drop(client);
    }
}

#[test]
fn spans_ended_after_shutdown_are_rejected_with_kind_shutdown() {
    let _s = serial();
    let c = collector();
    let client = client(&c, 100);
    let open = span("long", Kind::Agent);
    drop(span("done", Kind::Tool));
    let first = client.shutdown(Duration::from_secs(5));
    assert_eq!((first.delivered, first.rejected), (1, 0), "{first:?}");
    drop(open);
    let after = client.shutdown(Duration::from_secs(1));
    assert_eq!(after.rejected, 1, "{after:?}");
    assert_eq!(after.last_failure, Some(FailureKind::Shutdown));
    adds_up(2, &after);
}

#[test]
fn what_is_held_never_exceeds_max_queue_size() {
    let _s = serial();
    let c = collector();
    c.faults().go_down();
    let client = client(&c, 1_000);
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(Ordering::Acquire) {
                peak = peak.max(staso_core::flush(Duration::ZERO).pending);
                std::thread::sleep(Duration::from_millis(1));
            }
            peak
        })
    };
    let produced = produce(2, 5_000);
    let mid = client.flush(Duration::ZERO);
    done.store(true, Ordering::Release);
    let peak = watcher.join().expect("watcher").max(mid.pending);
    assert!(
        peak <= 1_000,
        "held {peak} spans with max_queue_size = 1000"
    );
    assert!(peak >= 900, "the bound was reached: peak {peak}");
    // What was not held was refused: at the caller (no credit), or by the batcher when a
    // retry would have held more than the bound (failed, `QueueFull`); how the ~9 000
    // split between the two depends on scheduling.
    assert!(mid.rejected + mid.failed >= 9_000 - 100, "{mid:?}");
    adds_up(produced, &mid);
}

/// Spans refused at a full queue are counted by their own thread's lane (no shared counter
/// for threads refused together to contend on); a thread that exits takes its count into
/// the report's total as the batcher retires its lane, and the total never goes down.
#[test]
fn rejections_of_threads_that_exit_stay_counted() {
    let _s = serial();
    let c = collector();
    c.faults().go_down();
    let client = client(&c, 100);
    let produced = produce(3, 2_000);
    let first = client.flush(Duration::ZERO);
    adds_up(produced, &first);
    assert!(first.rejected >= 5_000, "{first:?}");
    // The last failure is the refusals' or, when the batcher's attempt at the server that
    // is down came after them, the network's: both happen in this run.
    assert!(
        matches!(
            first.last_failure,
            Some(FailureKind::QueueFull | FailureKind::NetworkUnavailable)
        ),
        "{first:?}"
    );
    // A flush that waits lets the batcher drain, which retires the lanes of the threads
    // that exited; their counts move with them.
    let later = client.flush(Duration::from_millis(300));
    adds_up(produced, &later);
    assert!(later.rejected >= first.rejected, "{first:?} then {later:?}");
}

/// Ends `n` spans on a new thread, which then exits.
fn on_a_thread_that_exits(n: usize) {
    std::thread::spawn(move || {
        for _ in 0..n {
            drop(span("worker", Kind::Tool));
        }
    })
    .join()
    .expect("worker");
}

#[test]
fn a_thread_that_exits_hands_its_spans_over() {
    let _s = serial();
    let c = collector();
    let client = client(&c, 1_000);
    on_a_thread_that_exits(10);
    let r = client.flush(Duration::from_secs(10));
    assert_eq!((r.delivered, r.pending), (10, 0), "{r:?}");
    assert_eq!(c.counts().final_spans, 10);
}

/// A thread takes credits in chunks and gives back what it did not spend when it exits:
/// a hundred short-lived threads, each ending 3 spans under a bound of 1 000 (chunks of
/// 15), would otherwise leak 1 200 credits and see their last spans rejected.
#[test]
fn threads_that_exit_give_their_unspent_credits_back() {
    let _s = serial();
    let c = collector();
    let client = client(&c, 1_000);
    for _ in 0..100 {
        on_a_thread_that_exits(3);
    }
    let r = client.flush(Duration::from_secs(10));
    assert_eq!((r.delivered, r.rejected, r.pending), (300, 0, 0), "{r:?}");
    assert_eq!(c.counts().final_spans, 300);
}

#[test]
fn a_thread_that_never_ends_its_root_is_still_flushed() {
    let _s = serial();
    let c = collector();
    let client = client(&c, 1_000);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        let _root = span("long-running agent", Kind::Agent);
        for _ in 0..5 {
            drop(span("step", Kind::Tool));
        }
        ready_tx.send(()).expect("ready");
        rx.recv().expect("release");
    });
    ready_rx.recv().expect("worker ready");
    let r = client.flush(Duration::from_secs(10));
    assert_eq!((r.delivered, r.pending), (5, 0), "{r:?}");
    assert!(
        c.wait_until(Duration::from_secs(5), |n| n.spans >= 6),
        "5 steps + the provisional root"
    );
    tx.send(()).expect("release");
    worker.join().expect("worker");
    assert_eq!(client.shutdown(Duration::from_secs(10)).delivered, 6);
}
