//! A lane that fills a batch gets it sent without a flush, without its thread paying for
//! a wake-up while the batcher is busy: the batcher ticks while it has been busy lately
//! and parks when idle, and a full batch leaves in both states.

use staso_collector::{Collector, CollectorConfig};
use staso_core::{init, span, Kind};
use std::time::Duration;

/// A full batch leaves without a flush whether the batcher ticks (busy lately: the lane
/// only raises a flag) or has parked (idle: the lane wakes it), long before the flush
/// interval (60 s here).
#[test]
fn a_full_batch_leaves_whether_the_batcher_ticks_or_parked() {
    let c = Collector::start_blocking(CollectorConfig::default()).expect("collector");
    let client = init(
        staso_reliability_tests::local_options(c.url())
            .batch_size(5)
            .flush_interval(Duration::from_secs(60)),
    )
    .expect("init");
    let parked = |before: u64| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while staso_core::batcher_parks() <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "the batcher never parked"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    for round in 1..=3usize {
        // Parked: nothing happened for a while.
        parked(staso_core::batcher_parks());
        for i in 0..5 {
            drop(span(format!("parked{round}.{i}"), Kind::Tool));
        }
        assert!(
            c.wait_until(Duration::from_secs(10), |n| n.spans >= 10 * round - 5),
            "a parked batcher is woken by a full batch"
        );
        // Busy: it just sent, so it ticks.
        for i in 0..5 {
            drop(span(format!("ticking{round}.{i}"), Kind::Tool));
        }
        assert!(
            c.wait_until(Duration::from_secs(10), |n| n.spans >= 10 * round),
            "a ticking batcher finds the full batch on its own"
        );
    }
    drop(client);
}
