//! A program that never calls shutdown still delivers at exit: returning from main,
//! `std::process::exit`, and a panicking main.

use staso_collector::{Collector, CollectorConfig};
use std::process::Command;

fn run_child(mode: &str) -> (Collector, std::process::Output) {
    let c = Collector::start_blocking(CollectorConfig::default()).expect("collector");
    let out = Command::new(env!("CARGO_BIN_EXE_exit_child"))
        .arg(mode)
        .env("STASO_API_KEY", "test-key")
        .env("STASO_BASE_URL", c.url())
        .output()
        .expect("child runs");
    (c, out)
}

fn assert_delivered(c: &Collector, mode: &str) {
    // The child has exited: whatever it delivered is already stored.
    let names: Vec<String> = c
        .spans()
        .into_iter()
        .filter(|s| !s.provisional)
        .map(|s| s.name)
        .collect();
    for n in ["agent-run", "tool-0", "tool-1", "tool-2"] {
        assert!(
            names.iter().any(|x| x == n),
            "{mode}: {n} missing from {names:?}"
        );
    }
    assert!(c.spans().iter().all(|s| s.final_copies_received == 1));
}

#[test]
fn returning_from_main_delivers() {
    let (c, out) = run_child("return");
    assert!(out.status.success(), "{out:?}");
    assert_delivered(&c, "return");
}

#[test]
fn process_exit_delivers() {
    let (c, out) = run_child("exit");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_delivered(&c, "exit");
}

#[test]
fn a_panicking_main_delivers() {
    let (c, out) = run_child("panic");
    assert_eq!(out.status.code(), Some(101), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("the agent crashed"));
    assert_delivered(&c, "panic");
}
