//! Every instrumented function, registered at link time by the attribute macros.

use staso_types::{Kind, Registered};

/// What the macros submit to `inventory` (which collects only types of the crate that
/// declares the collection, so the plain `Registered` is wrapped here).
#[doc(hidden)]
pub struct Entry(pub Registered);

inventory::collect!(Entry);

/// Every function instrumented with `#[staso::agent]`, `#[staso::tool]` or
/// `#[staso::trace]` in the program, in no particular order.
///
/// ```
/// for f in staso_core::registry() {
///     println!("{} {} at {}:{}", f.kind, f.name, f.file, f.line);
/// }
/// ```
pub fn registry() -> Vec<&'static Registered> {
    inventory::iter::<Entry>.into_iter().map(|e| &e.0).collect()
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
