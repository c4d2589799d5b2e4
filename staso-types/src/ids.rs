//! Trace and span ids. Their bits are private: they are made by the runtime, parsed from
//! text (a W3C `traceparent`, a UUID) and written in the contract's forms.

use std::fmt;
use std::num::{NonZeroU128, NonZeroU64};
use std::str::FromStr;

/// A trace id: 128 bits, never zero. Written as a lowercase hyphenated UUID.
///
/// ```
/// use staso_types::TraceId;
/// let id: TraceId = "0af7651916cd43dd8448eb211c80319c".parse().unwrap();
/// assert_eq!(id.to_string(), "0af76519-16cd-43dd-8448-eb211c80319c");
/// assert_eq!(id.to_w3c(), "0af7651916cd43dd8448eb211c80319c");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(NonZeroU128);

/// A span id: 64 bits, never zero. Written as the contract's left-padded UUID,
/// `00000000-0000-0000-xxxx-xxxxxxxxxxxx`.
///
/// ```
/// use staso_types::SpanId;
/// let id: SpanId = "00f067aa0ba902b7".parse().unwrap();
/// assert_eq!(id.to_string(), "00000000-0000-0000-00f0-67aa0ba902b7");
/// assert_eq!(id.to_w3c(), "00f067aa0ba902b7");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(NonZeroU64);

/// Text that is not an id: not 32 (trace) or 16 (span) hex digits, with or without the
/// UUID hyphens, or all zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseIdError {
    what: &'static str,
}

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a {}: expected hex digits (optionally in UUID form), not all zero",
            self.what
        )
    }
}

impl std::error::Error for ParseIdError {}

/// The hex digits of `s` with UUID hyphens removed, if it is nothing else.
fn hex_digits(s: &str) -> Option<String> {
    let digits: String = s.chars().filter(|c| *c != '-').collect();
    digits
        .chars()
        .all(|c| c.is_ascii_hexdigit())
        .then_some(digits)
}

/// The constructors and accessors of an id type over a non-zero integer.
macro_rules! id_bits {
    ($id:ident, $int:ty, $nonzero:ty, $from:ident, $to:ident, $width:literal) => {
        impl $id {
            /// The id with these bits; `None` for zero (not a valid id).
            pub const fn $from(bits: $int) -> Option<$id> {
                match <$nonzero>::new(bits) {
                    Some(v) => Some($id(v)),
                    None => None,
                }
            }

            /// The id's bits.
            pub const fn $to(self) -> $int {
                self.0.get()
            }

            /// Lowercase hex digits, as in a W3C `traceparent`.
            pub fn to_w3c(self) -> String {
                format!("{:0width$x}", self.$to(), width = $width)
            }
        }
    };
}

id_bits!(TraceId, u128, NonZeroU128, from_u128, to_u128, 32);
id_bits!(SpanId, u64, NonZeroU64, from_u64, to_u64, 16);

impl FromStr for TraceId {
    type Err = ParseIdError;
    /// 32 hex digits, hyphenated (a UUID) or not (W3C).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = ParseIdError { what: "trace id" };
        let d = hex_digits(s).filter(|d| d.len() == 32).ok_or(err.clone())?;
        u128::from_str_radix(&d, 16)
            .ok()
            .and_then(TraceId::from_u128)
            .ok_or(err)
    }
}

impl FromStr for SpanId {
    type Err = ParseIdError;
    /// 16 hex digits (W3C), or the contract's 32-digit UUID form whose first 16 are zero.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = ParseIdError { what: "span id" };
        let d = hex_digits(s).ok_or(err.clone())?;
        let d = match d.len() {
            16 => d.as_str(),
            32 if d[..16].bytes().all(|b| b == b'0') => &d[16..],
            _ => return Err(err),
        };
        u64::from_str_radix(d, 16)
            .ok()
            .and_then(SpanId::from_u64)
            .ok_or(err)
    }
}

/// Writes 128 bits as `8-4-4-4-12` lowercase hex.
fn write_uuid(v: u128, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    fmt::Display::fmt(&uuid::Uuid::from_u128(v).hyphenated(), f)
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_uuid(self.to_u128(), f)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_uuid(u128::from(self.to_u64()), f)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

impl serde::Serialize for TraceId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl serde::Serialize for SpanId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A UUID v5 of `name` in `namespace`, hyphenated.
pub(crate) fn uuid_v5(namespace: &[u8; 16], name: &[u8]) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::from_bytes(*namespace), name).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_id_is_left_padded_to_a_uuid() {
        let id = SpanId::from_u64(0xabcdef0123456789).expect("non-zero");
        assert_eq!(id.to_string(), "00000000-0000-0000-abcd-ef0123456789");
        let one = SpanId::from_u64(1).expect("non-zero");
        assert_eq!(one.to_string(), "00000000-0000-0000-0000-000000000001");
        assert_eq!(SpanId::from_u64(0), None);
    }

    #[test]
    fn trace_id_is_a_lowercase_hyphenated_uuid() {
        let id = TraceId::from_u128(0x0123456789ABCDEF0123456789ABCDEF).expect("non-zero");
        assert_eq!(id.to_string(), "01234567-89ab-cdef-0123-456789abcdef");
    }

    #[test]
    fn ids_parse_from_every_form_they_are_written_in() {
        let t = TraceId::from_u128(0x0af7651916cd43dd8448eb211c80319c).expect("non-zero");
        assert_eq!(t.to_string().parse::<TraceId>(), Ok(t));
        assert_eq!(t.to_w3c().parse::<TraceId>(), Ok(t));
        let s = SpanId::from_u64(0x00f067aa0ba902b7).expect("non-zero");
        assert_eq!(s.to_string().parse::<SpanId>(), Ok(s));
        assert_eq!(s.to_w3c().parse::<SpanId>(), Ok(s));
        for bad in [
            "",
            "xyz",
            "00000000000000000000000000000000",
            "0af7651916cd43dd",
        ] {
            assert!(bad.parse::<TraceId>().is_err(), "{bad}");
        }
        for bad in [
            "0000000000000000",
            "1234",
            "11111111-0000-0000-00f0-67aa0ba902b7",
        ] {
            assert!(bad.parse::<SpanId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn agent_id_is_the_python_sdks() {
        // uuid.uuid5(uuid.UUID("a1b2c3d4-e5f6-7890-abcd-ef1234567890"), "support-bot")
        assert_eq!(
            crate::agent_id("support-bot"),
            "db9640e0-b131-55a4-a5cd-0ded511b7f92"
        );
        // Values printed by Python's uuid.uuid5 for the same namespace: the agent of the
        // guard fixtures (shared/llm-fixtures, `agent_id` on every span), an empty name,
        // and a name with non-ASCII text (hashed as UTF-8, as Python does).
        for (name, python) in [
            ("llm-contract", "32967a32-2ed1-5f32-b9f7-72ad5f144e75"),
            ("", "3639b375-9779-5616-8e43-a967e6cdf609"),
            ("agent é 😀", "aed3f90c-ae28-5c02-9363-4282ba2bb95c"),
        ] {
            assert_eq!(crate::agent_id(name), python, "{name:?}");
        }
    }
}
