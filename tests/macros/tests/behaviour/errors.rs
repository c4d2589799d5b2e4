//! `Err` returns and panics.

use serde_json::json;
use staso::testing::capture;
use std::fmt;

#[derive(Debug, PartialEq)]
struct RateLimited {
    retry_after: u32,
}

impl fmt::Display for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rate limited, retry after {}s", self.retry_after)
    }
}

#[derive(Debug, PartialEq)]
enum DebugOnly {
    Boom,
}

#[derive(PartialEq)]
struct Nothing;

#[staso::tool]
fn display_err() -> Result<u8, RateLimited> {
    Err(RateLimited { retry_after: 3 })
}

#[staso::tool]
fn debug_err() -> Result<u8, DebugOnly> {
    Err(DebugOnly::Boom)
}

#[staso::tool]
#[allow(clippy::result_unit_err)]
fn opaque_err() -> Result<u8, Nothing> {
    Err(Nothing)
}

#[staso::tool]
fn io_err() -> std::io::Result<()> {
    Err(std::io::Error::other("disk full"))
}

#[test]
fn err_marks_the_span_and_reaches_the_caller_unchanged() {
    let (r, spans) = capture(display_err);
    assert_eq!(r, Err(RateLimited { retry_after: 3 }));
    let s = &spans[0];
    assert_eq!(s.status(), "error");
    assert_eq!(s.error_message(), Some("rate limited, retry after 3s"));
    let ty = s.attribute("exception.type").expect("exception.type");
    assert!(
        ty.as_str().is_some_and(|t| t.ends_with("RateLimited")),
        "{ty}"
    );
    assert_eq!(s.output(), None, "no output on Err");
}

#[test]
fn error_text_falls_back_to_debug_then_placeholder() {
    let (r, spans) = capture(debug_err);
    assert_eq!(r, Err(DebugOnly::Boom));
    assert_eq!(spans[0].error_message(), Some("Boom"));
    let (r, spans) = capture(opaque_err);
    assert!(r.is_err());
    let msg = spans[0].error_message().expect("message");
    assert!(msg.contains("Nothing"), "{msg}");
}

#[test]
fn io_result_alias_is_a_result() {
    let (r, spans) = capture(io_err);
    assert!(r.is_err());
    assert_eq!(spans[0].status(), "error");
    assert_eq!(spans[0].error_message(), Some("disk full"));
}

#[staso::tool]
fn panics(x: u8) -> u8 {
    if x > 0 {
        panic!("tool exploded with {x}");
    }
    x
}

#[test]
fn panic_marks_the_span_and_still_unwinds() {
    let (caught, spans) = capture(|| std::panic::catch_unwind(|| panics(7)));
    assert!(caught.is_err(), "the panic reached the caller");
    let s = &spans[0];
    assert_eq!(s.status(), "error");
    assert_eq!(s.error_message(), Some("tool exploded with 7"));
    assert_eq!(s.attribute("exception.type"), Some(json!("panic")));
}

#[staso::tool]
fn cleanup_step(n: u8) -> u8 {
    n + 1
}

/// Runs `cleanup_step` from its destructor: while its thread unwinds.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        assert!(std::thread::panicking());
        cleanup_step(1);
    }
}

#[staso::tool]
fn fails_with_cleanup() {
    let _cleanup = Cleanup;
    panic!("failed before cleaning up");
}

/// A function that returns normally while its thread unwinds (called from a destructor)
/// did not fail: its span is ok; the function that unwound is failed.
#[test]
fn a_call_that_returns_while_its_thread_unwinds_did_not_fail() {
    let (caught, spans) = capture(|| std::panic::catch_unwind(fails_with_cleanup));
    assert!(caught.is_err());
    let by = |name: &str| {
        spans
            .iter()
            .find(|s| s.name() == name)
            .unwrap_or_else(|| panic!("no span {name}: {spans:?}"))
    };
    assert_eq!(by("cleanup_step").status(), "ok");
    assert_eq!(by("cleanup_step").output(), Some(json!({"result": 2})));
    assert_eq!(by("fails_with_cleanup").status(), "error");
    assert_eq!(
        by("fails_with_cleanup").error_message(),
        Some("failed before cleaning up")
    );
}
