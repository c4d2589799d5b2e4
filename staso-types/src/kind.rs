//! What a span represents and how it ended, with the contract's names.

use std::fmt;
use std::str::FromStr;

/// Declares an enum whose variants each have one contract name, listed once.
macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name { $($(#[$vm])* $v,)* }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v,)*];

            /// The contract's name.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$v => $s,)* }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
pub(crate) use named_enum;

named_enum! {
    /// What a span represents on the dashboard.
    ///
    /// ```
    /// use staso_types::Kind;
    /// assert_eq!("tool".parse::<Kind>(), Ok(Kind::Tool));
    /// assert_eq!(Kind::Llm.to_string(), "llm");
    /// ```
    Kind {
        /// A call to a language model.
        Llm = "llm",
        /// A tool the agent calls.
        Tool = "tool",
        /// A step of a pipeline; the default of `#[staso::trace]`.
        Chain = "chain",
        /// A retrieval (search, vector store, ...).
        Retriever = "retriever",
        /// An agent entry point; names the agent of everything nested inside.
        Agent = "agent",
        /// Anything else.
        Custom = "custom",
    }
}

named_enum! {
    /// How a span ended.
    Status {
        /// It succeeded.
        Ok = "ok",
        /// It failed (an `Err`, a panic, or a future dropped before completion).
        Error = "error",
        /// It ran out of time.
        Timeout = "timeout",
    }
}

// A derive cannot see through `named_enum!`.
#[allow(clippy::derivable_impls)]
impl Default for Status {
    fn default() -> Self {
        Status::Ok
    }
}

/// A kind name that is not one of the contract's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseKindError(String);

impl fmt::Display for ParseKindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown span kind {:?}: expected one of ", self.0)?;
        for (i, k) in Kind::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(k.as_str())?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseKindError {}

impl FromStr for Kind {
    type Err = ParseKindError;
    fn from_str(s: &str) -> Result<Kind, ParseKindError> {
        Kind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| ParseKindError(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_unknown_names_list_the_valid_ones() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>(), Ok(*k));
        }
        let e = "toll".parse::<Kind>().expect_err("unknown");
        assert_eq!(
            e.to_string(),
            "unknown span kind \"toll\": expected one of llm, tool, chain, retriever, agent, custom"
        );
    }
}
