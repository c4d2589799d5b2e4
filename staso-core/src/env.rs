//! Where configuration falls back to when an option is not given: the process environment,
//! or a map in tests (so no test calls `set_var`).

use std::collections::HashMap;

/// Where configuration falls back to when an option is not given. The process
/// environment by default; tests pass a map instead of calling `set_var`.
///
/// ```
/// use std::collections::HashMap;
/// use staso_core::testing::Env;
/// let env: HashMap<&str, &str> = [("STASO_AGENT_NAME", "bot")].into_iter().collect();
/// assert_eq!(env.var("STASO_AGENT_NAME").as_deref(), Some("bot"));
/// ```
pub trait Env {
    /// The value of the variable `name`, if set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Env for HashMap<&str, &str> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| v.to_string())
    }
}

/// `name`'s value unless it is unset or blank (a variable set to `""` counts as unset).
pub(crate) fn non_blank(env: &dyn Env, name: &str) -> Option<String> {
    env.var(name).filter(|v| !v.trim().is_empty())
}
