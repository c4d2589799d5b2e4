//! The runtime side of `#[staso::tool(guard)]`, apart because the guard's check is not
//! part of the span.

use crate::local::capture::{self, Out};
use crate::local::context;
use crate::local::record::CallSite;
use serde_json::{Map, Value};
use std::future::Future;

/// The arguments `#[staso::tool(guard)]` sends to the guard: those the span would capture
/// (`skip` and `capture_input = false` apply), when the capture policy lets tool
/// arguments leave the process.
pub struct GuardInput {
    name: &'static str,
    input: Option<Map<String, Value>>,
}

impl GuardInput {
    /// Decides, once per call, whether arguments are collected.
    #[inline]
    pub fn new(cs: &'static CallSite) -> GuardInput {
        let policy = context::with_current_shallow(|ctx| match &ctx.sink {
            Some(s) => Some(s.config().capture),
            None => crate::client::with_config(|c| c.capture),
        });
        let wanted = cs.capture_input && policy.map_or(true, |p| p.tool_arguments);
        GuardInput {
            name: cs.name,
            input: wanted.then(Map::new),
        }
    }

    /// Whether arguments are collected for this call.
    #[inline]
    pub fn wants_args(&self) -> bool {
        self.input.is_some()
    }

    /// Adds an argument, written by `f` (bounded and safe like every captured value).
    pub fn arg<F: FnOnce(&mut Out<'_>)>(&mut self, name: &'static str, f: F) {
        if let Some(m) = &mut self.input {
            m.insert(name.to_string(), capture::value(f));
        }
    }

    /// [`GuardInput::arg`], called the way the attributes call `Input::arg_known` (the
    /// guard's input is checked as a whole, so `_secret` is not needed here).
    pub fn arg_known<F: FnOnce(&mut Out<'_>)>(&mut self, name: &'static str, _secret: bool, f: F) {
        self.arg(name, f);
    }

    fn input(&mut self) -> Value {
        Value::Object(self.input.take().unwrap_or_default())
    }

    /// The check, on this thread: `Err` when the tool must not run.
    pub fn check_blocking(mut self) -> Result<(), staso_types::GuardBlocked> {
        let input = self.input();
        crate::guard::tool_check_blocking(self.name, input)
    }

    /// The check, as a future: `Err` when the tool must not run.
    pub fn check(
        mut self,
    ) -> impl Future<Output = Result<(), staso_types::GuardBlocked>> + Send + 'static {
        let input = self.input();
        crate::guard::tool_check(self.name, input)
    }
}

/// The error type a `#[staso::tool(guard)]` function returns must be able to carry a
/// blocked call.
#[diagnostic::on_unimplemented(
    message = "`#[staso::tool(guard)]` returns `Err(staso::GuardBlocked)` converted with `From`, and `{Self}` has no `From<staso::GuardBlocked>`",
    label = "this error type cannot carry a `staso::GuardBlocked`",
    note = "implement `From<staso::GuardBlocked>` for it, or return `Result<_, Box<dyn std::error::Error + Send + Sync>>` or `anyhow::Result<_>`"
)]
pub trait FromGuardBlocked {
    /// The error for a blocked call.
    fn from_guard_blocked(blocked: staso_types::GuardBlocked) -> Self;
}

impl<E: From<staso_types::GuardBlocked>> FromGuardBlocked for E {
    #[inline]
    fn from_guard_blocked(blocked: staso_types::GuardBlocked) -> Self {
        E::from(blocked)
    }
}
