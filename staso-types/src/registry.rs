//! An instrumented function, as the registry lists it.

use crate::kind::Kind;

/// An instrumented function, as `staso::registry()` lists it. Written by the attribute
/// macros (one per function, collected at link time).
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
