//! A program that hands hostile values to instrumented functions, then shuts down and
//! exits 0. Run by `tests/capture_hardening.rs`, which reads its exit status, stderr and
//! stdout (the SDK's log lines are written there as `LOG <level> <message>`).
//!
//! Modes:
//! - `deep-json`: a `serde_json::Value` nested 15 000 deep, to a tool, on the main thread
//!   and on a spawned thread;
//! - `deep-debug`: a `Debug`-only value nested 200 000 deep, to a tool, on a thread with a
//!   1 MiB stack;
//! - `panics`: `Serialize`, `Debug`, `Display` impls and the mask hook panic while values
//!   are captured (contained: nothing may be printed), then one real panic (printed).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use serde::ser::{Serialize, Serializer};
use serde_json::Value;
use std::fmt;
use std::time::Duration;

struct StdoutLog;

impl log::Log for StdoutLog {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        if r.target() == "staso" {
            println!("LOG {} {}", r.level(), r.args());
        }
    }
    fn flush(&self) {}
}

#[staso::tool]
fn take_json(doc: &Value) -> usize {
    usize::from(doc.is_array())
}

/// A list as deep as it is long, with only `Debug`.
#[derive(Debug)]
struct Nest(#[allow(dead_code)] Option<Box<Nest>>);

#[staso::tool]
fn take_nest(nest: &Nest) -> bool {
    nest.0.is_some()
}

struct PanicsInSerialize;

impl Serialize for PanicsInSerialize {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("Serialize exploded")
    }
}

struct PanicsInDebug;

impl fmt::Debug for PanicsInDebug {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Debug exploded")
    }
}

#[derive(Debug)]
struct PanicsInDisplay;

impl fmt::Display for PanicsInDisplay {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Display exploded")
    }
}

#[staso::tool]
fn hostile(a: PanicsInSerialize, b: PanicsInDebug) -> Result<u8, PanicsInDisplay> {
    let _ = (a, b);
    Err(PanicsInDisplay)
}

fn deep_json() -> Value {
    let mut v = Value::Null;
    for _ in 0..15_000 {
        v = Value::Array(vec![v]);
    }
    v
}

/// Takes a deep value apart without recursion (its own `Drop` would recurse).
fn dismantle_json(mut v: Value) {
    while let Value::Array(mut a) = v {
        v = a.pop().unwrap_or(Value::Null);
    }
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let _ = log::set_logger(&StdoutLog);
    log::set_max_level(log::LevelFilter::Warn);
    if mode == "panics" {
        // The user's own hook, installed first: ours is chained in front of it at init.
        std::panic::set_hook(Box::new(|info| eprintln!("USER HOOK: {info}")));
    }
    let mask_panics = mode == "panics";
    let mut options = staso_reliability_tests::child_options().agent_name("hostile");
    if mask_panics {
        options = options.mask(|_: &str, text: &str| -> Option<String> {
            if text.contains("mask bomb") {
                panic!("mask exploded")
            }
            None
        });
    }
    let client = match staso::init(options) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    match mode.as_str() {
        "deep-json" => {
            let v = deep_json();
            take_json(&v);
            dismantle_json(v);
            let t = std::thread::spawn(|| {
                let v = deep_json();
                take_json(&v);
                dismantle_json(v);
            });
            if t.join().is_err() {
                std::process::exit(3);
            }
        }
        "deep-debug" => {
            let t = std::thread::Builder::new()
                .stack_size(1024 * 1024)
                .spawn(|| {
                    let mut root = Nest(None);
                    for _ in 0..200_000 {
                        root = Nest(Some(Box::new(root)));
                    }
                    take_nest(&root);
                    let mut cur = root.0.take();
                    while let Some(mut b) = cur {
                        cur = b.0.take();
                    }
                });
            if !t.is_ok_and(|t| t.join().is_ok()) {
                std::process::exit(3);
            }
        }
        "panics" => {
            for _ in 0..3 {
                let _ = hostile(PanicsInSerialize, PanicsInDebug);
            }
            for _ in 0..3 {
                let mut s = staso::span("manual", staso::Kind::Tool);
                s.set_input(&PanicsInSerialize);
                s.set_output(&"mask bomb");
            }
            // A real panic, outside any capture: printed by the hooks as usual.
            let _ = std::panic::catch_unwind(|| panic!("a real panic"));
        }
        other => {
            eprintln!("unknown mode {other:?}");
            std::process::exit(2);
        }
    }
    let report = client.shutdown(Duration::from_secs(10));
    println!(
        "REPORT delivered={} failed={}",
        report.delivered, report.failed
    );
}
