//! Behaviour of the attributes as a user sees it: the spans they produce, captured in
//! memory with `staso::testing`.

mod async_fns;
mod capture;
mod errors;
mod methods;
mod nesting;
mod registry;
mod sync_fns;
mod unrecorded;

use serde_json::Value;

/// The `input` of a span as a JSON object (panics when none was captured).
pub fn input(s: &staso::testing::CapturedSpan) -> Value {
    s.input()
        .unwrap_or_else(|| panic!("no input on {}", s.json()))
}

/// The `result` inside a span's output.
pub fn result(s: &staso::testing::CapturedSpan) -> Value {
    s.output()
        .and_then(|o| o.get("result").cloned())
        .unwrap_or_else(|| panic!("no output on {}", s.json()))
}
