//! Every instrumented function, registered at link time by the attribute macros.

use crate::span::Kind;

/// An instrumented function, as `staso::registry()` lists it.
#[derive(Debug, Clone, Copy)]
pub struct Registered {
    /// The span name.
    pub name: &'static str,
    /// The span kind.
    pub kind: Kind,
    /// `module_path!()` of the function.
    pub module_path: &'static str,
    /// `file!()`.
    pub file: &'static str,
    /// Line of the function.
    pub line: u32,
}

inventory::collect!(Registered);

/// Every function instrumented with `#[staso::agent]`, `#[staso::tool]` or
/// `#[staso::trace]` in the program, in no particular order.
///
/// ```
/// for f in staso_core::registry() {
///     println!("{} {} at {}:{}", f.kind, f.name, f.file, f.line);
/// }
/// ```
pub fn registry() -> Vec<&'static Registered> {
    inventory::iter::<Registered>.into_iter().collect()
}

/// Agents sharing a name look like one agent on the dashboard: say so at init.
pub(crate) fn warn_duplicate_agents() {
    let mut agents: Vec<&Registered> = registry()
        .into_iter()
        .filter(|r| r.kind == Kind::Agent)
        .collect();
    agents.sort_by_key(|r| (r.name, r.file, r.line));
    for pair in agents.windows(2) {
        if pair[0].name == pair[1].name {
            crate::diag::warn(&format!(
                "staso: two agents are named {:?} ({}:{} and {}:{}); give one of them `name = \"..\"`",
                pair[0].name, pair[0].file, pair[0].line, pair[1].file, pair[1].line
            ));
        }
    }
}
