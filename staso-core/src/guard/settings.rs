//! Where a check's configuration comes from: the running client's, else the environment
//! (as the Python SDK does for hook subprocesses and code that never called `init`), and
//! the guard's own environment variables, read on every call.

use crate::config::Config;
use crate::env::{non_blank, Env};
use staso_types::{GuardFailureMode, Options};
use std::sync::Arc;
use std::time::Duration;

/// The timeout of one check when none is given.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The deadline of a batch of tool calls when none is given.
pub(crate) const DEFAULT_BATCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Checks of one batch running at once, by default and at most.
pub(crate) const DEFAULT_CONCURRENCY: usize = 4;
pub(crate) const MAX_CONCURRENCY: usize = 8;

/// The configuration a check runs with.
pub(crate) enum Source {
    /// The running client's configuration (also with `enabled = false`: tracing off does
    /// not switch policy off).
    Client(Arc<Config>),
    /// No client: resolved from the environment.
    Env(Arc<Config>),
    /// No client and the environment is not a valid configuration (e.g. a plain-http
    /// `STASO_BASE_URL` to a remote host): nothing is sent. Holds the reason.
    Invalid(String),
}

impl Source {
    /// The configuration, when there is a usable one.
    pub(crate) fn config(&self) -> Option<&Arc<Config>> {
        match self {
            Source::Client(c) | Source::Env(c) => Some(c),
            Source::Invalid(_) => None,
        }
    }
}

/// The running client's configuration, else one resolved from `env` with tracing off (so
/// a missing key or agent name is not an error: a missing key is answered `invalid_key`).
pub(crate) fn source(env: &dyn Env) -> Source {
    if let Some(c) = crate::client::with_client(|c| c.config.clone()) {
        return Source::Client(c);
    }
    let options = Options::new().enabled(false).capture_git(false);
    match crate::config::resolve(&options, env) {
        Ok(c) => Source::Env(Arc::new(c)),
        Err(e) => Source::Invalid(e.to_string()),
    }
}

/// A lenient boolean, as the Python SDK reads `STASO_GUARD_FAIL_CLOSED`: `1/true/yes/on`.
fn truthy(env: &dyn Env, var: &str) -> bool {
    non_blank(env, var).is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// The argument if given, else `STASO_GUARD_FAIL_CLOSED` (read on every call); fail-open
/// by default.
pub(crate) fn failure_mode(fail_closed: Option<bool>, env: &dyn Env) -> GuardFailureMode {
    let closed = fail_closed.unwrap_or_else(|| truthy(env, "STASO_GUARD_FAIL_CLOSED"));
    if closed {
        GuardFailureMode::FailClosed
    } else {
        GuardFailureMode::FailOpen
    }
}

/// Seconds in `var` as a duration; `None` when unset or not a finite number ≥ 0.
fn seconds(env: &dyn Env, var: &str) -> Option<Duration> {
    let v: f64 = non_blank(env, var)?.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| Duration::from_secs_f64(v.min(1e9)))
}

/// `STASO_GUARD_TIMEOUT`, else 10 s.
pub(crate) fn timeout(env: &dyn Env) -> Duration {
    seconds(env, "STASO_GUARD_TIMEOUT").unwrap_or(DEFAULT_TIMEOUT)
}

/// `STASO_GUARD_BATCH_TIMEOUT` (at least 1 ms), else 10 s.
pub(crate) fn batch_timeout(env: &dyn Env) -> Duration {
    seconds(env, "STASO_GUARD_BATCH_TIMEOUT")
        .map(|d| d.max(Duration::from_millis(1)))
        .unwrap_or(DEFAULT_BATCH_TIMEOUT)
}

/// `STASO_GUARD_MAX_CONCURRENCY` limited to 1..=8, else 4.
pub(crate) fn max_concurrency(env: &dyn Env) -> usize {
    non_blank(env, "STASO_GUARD_MAX_CONCURRENCY")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|n| n.clamp(1, MAX_CONCURRENCY as i64) as usize)
        .unwrap_or(DEFAULT_CONCURRENCY)
}

/// Whether the automatic checks (of tool calls an LLM proposes, and of
/// `#[staso::tool(guard)]`) run: the client's `guard_checks` option when it was given,
/// else everything but `STASO_GUARD_ENABLED=false`. It never switches off an explicit
/// `staso::guard` call.
pub(crate) fn automatic_checks_enabled(env: &dyn Env) -> bool {
    // A test capture's options first (its spans go there), then the client's.
    let configured = crate::local::context::with_current_shallow(|ctx| {
        ctx.sink.as_ref().map(|s| s.config().guard_checks)
    })
    .or_else(|| crate::client::with_config(|c| c.guard_checks))
    .flatten();
    if let Some(on) = configured {
        return on;
    }
    env.var("STASO_GUARD_ENABLED")
        .map_or(true, |v| !v.trim().eq_ignore_ascii_case("false"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&'static str, &'static str)]) -> HashMap<&'static str, &'static str> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn fail_closed_comes_from_the_argument_then_the_environment() {
        use GuardFailureMode::*;
        assert_eq!(failure_mode(None, &env(&[])), FailOpen);
        for on in ["1", "true", "YES", " on "] {
            let e = env(&[("STASO_GUARD_FAIL_CLOSED", on)]);
            assert_eq!(failure_mode(None, &e), FailClosed, "{on}");
            assert_eq!(failure_mode(Some(false), &e), FailOpen, "{on}");
        }
        for off in ["0", "false", "nope"] {
            let e = env(&[("STASO_GUARD_FAIL_CLOSED", off)]);
            assert_eq!(failure_mode(None, &e), FailOpen, "{off}");
        }
        assert_eq!(failure_mode(Some(true), &env(&[])), FailClosed);
    }

    #[test]
    fn timeouts_and_concurrency_from_the_environment() {
        assert_eq!(timeout(&env(&[])), DEFAULT_TIMEOUT);
        assert_eq!(
            timeout(&env(&[("STASO_GUARD_TIMEOUT", "1.5")])),
            Duration::from_millis(1500)
        );
        for bad in ["inf", "nan", "-1", "soon"] {
            assert_eq!(
                timeout(&env(&[("STASO_GUARD_TIMEOUT", bad)])),
                DEFAULT_TIMEOUT,
                "{bad}"
            );
        }
        assert_eq!(
            batch_timeout(&env(&[("STASO_GUARD_BATCH_TIMEOUT", "0")])),
            Duration::from_millis(1)
        );
        assert_eq!(max_concurrency(&env(&[])), 4);
        assert_eq!(
            max_concurrency(&env(&[("STASO_GUARD_MAX_CONCURRENCY", "20")])),
            8
        );
        assert_eq!(
            max_concurrency(&env(&[("STASO_GUARD_MAX_CONCURRENCY", "0")])),
            1
        );
        assert!(automatic_checks_enabled(&env(&[])));
        assert!(automatic_checks_enabled(&env(&[(
            "STASO_GUARD_ENABLED",
            "0"
        )])));
        assert!(!automatic_checks_enabled(&env(&[(
            "STASO_GUARD_ENABLED",
            "FALSE"
        )])));
    }
}
