//! Sampling: decided once per trace at its root, kept or dropped whole, counted in the
//! report apart from drops; the rate holds statistically; a sampler decides by rule.

use staso_collector::{Collector, CollectorConfig};
use staso_core::{init, span, Client, InitError, Kind, Options};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn client(c: &Collector, o: Options) -> Client {
    init(
        o.api_key("test-key")
            .agent_name("bot")
            .base_url(c.url())
            .capture_git(false)
            .max_queue_size(50_000)
            .flush_interval(Duration::from_secs(60)),
    )
    .expect("init")
}

/// `traces` traces of a root and two children, each on this thread.
fn run_traces(traces: usize, root: &'static str, kind: Kind) {
    for _ in 0..traces {
        let _root = span(root, kind);
        drop(span("child", Kind::Tool));
        let _c = span("child", Kind::Tool);
        drop(span("grandchild", Kind::Tool));
    }
}

#[test]
fn a_quarter_of_the_traces_are_kept_whole() {
    let _s = serial();
    let c = Collector::start_blocking(CollectorConfig::default()).expect("collector");
    let client = client(&c, Options::new().sample_rate(0.25));
    const N: usize = 4_000;
    run_traces(N, "agent", Kind::Agent);
    let r = client.flush(Duration::from_secs(30));
    assert!(r.ok(), "{r:?}");
    let mut per_trace: HashMap<String, usize> = HashMap::new();
    for s in c.spans().iter().filter(|s| !s.provisional) {
        *per_trace.entry(s.trace_id.clone()).or_default() += 1;
    }
    let kept = per_trace.len();
    // Binomial(4000, 0.25): mean 1000, sd 27.4; five standard deviations either side.
    assert!((863..=1137).contains(&kept), "kept {kept} of {N}");
    assert!(
        per_trace.values().all(|n| *n == 4),
        "whole traces: {per_trace:?}"
    );
    assert_eq!(r.delivered, (kept * 4) as u64, "{r:?}");
    assert_eq!(r.sampled_out, (N - kept) as u64, "{r:?}");
    assert_eq!(r.rejected, 0, "sampling is not a drop");
}

#[test]
fn a_sampler_decides_by_agent() {
    let _s = serial();
    let c = Collector::start_blocking(CollectorConfig::default()).expect("collector");
    let client = client(
        &c,
        Options::new().sampler(|i: &staso_core::SamplingInput<'_>| i.agent_name == "billing"),
    );
    run_traces(10, "billing", Kind::Agent);
    run_traces(10, "chit-chat", Kind::Agent);
    let r = client.flush(Duration::from_secs(10));
    assert_eq!((r.delivered, r.sampled_out), (40, 10), "{r:?}");
    assert!(c.spans().iter().all(|s| s.name != "chit-chat"));
}

#[test]
fn the_rate_is_checked_at_init() {
    let _s = serial();
    let o = || {
        Options::new()
            .api_key("k")
            .agent_name("a")
            .base_url("http://127.0.0.1:9")
    };
    let e = init(o().sample_rate(1.5)).expect_err("out of range");
    assert!(matches!(e, InitError::SampleRate(_)), "{e}");
    assert!(e.to_string().contains("STASO_SAMPLE_RATE"), "{e}");
    let env: HashMap<&str, &str> = [("STASO_SAMPLE_RATE", "most")].into_iter().collect();
    let e = staso_core::testing::init_with_env(o(), &env).expect_err("not a number");
    assert!(e.to_string().contains("\"most\""), "{e}");
}

#[test]
fn test_captures_follow_the_sampling_rule_too() {
    let (_, spans) = staso_core::testing::capture_with(Options::new().sample_rate(0.0), || {
        run_traces(5, "agent", Kind::Agent)
    });
    assert!(spans.is_empty(), "{spans:?}");
}
