//! Issue 8.13: the clock is calibrated by `init`, so the first span does not pay for it
//! (quanta's calibration takes up to 200 ms; before, the first span's timestamp came a
//! millisecond after the clock read just before it). Its own process: nothing else may
//! have calibrated the clock first.

use staso_collector::{Collector, CollectorConfig};
use staso_core::{clock_is_calibrated, init, span, Kind, Options};
use std::time::Duration;

#[test]
fn init_calibrates_the_clock_before_the_first_span() {
    let c = Collector::start_blocking(CollectorConfig::default()).expect("collector");
    assert!(
        !clock_is_calibrated(),
        "nothing has calibrated the clock before init"
    );
    let client = init(
        Options::new()
            .api_key("test-key")
            .agent_name("bot")
            .base_url(c.url())
            .capture_git(false),
    )
    .expect("init");
    assert!(
        clock_is_calibrated(),
        "init calibrated the clock: the first span will not"
    );
    drop(span("first", Kind::Agent));
    let report = client.shutdown(Duration::from_secs(5));
    assert_eq!(report.delivered, 1, "{report:?}");
}
