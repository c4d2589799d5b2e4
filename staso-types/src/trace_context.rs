//! W3C Trace Context (`traceparent` / `tracestate`): the parsed value, its errors, and the
//! carriers it is read from and written to. Plain data, compiled in both builds: the
//! enabled build joins spans to it, the compiled-out build only parses.
//!
//! Format (version `00`): `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, all
//! lowercase; the ids are never all zeros; flag bit 0 is "sampled".

use crate::ids::{SpanId, TraceId};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;

/// The header that carries the trace and the caller's span.
pub const TRACEPARENT: &str = "traceparent";
/// The header that carries vendors' state; passed along unchanged.
pub const TRACESTATE: &str = "tracestate";

/// `tracestate` values longer than this are dropped (the spec's limit for what a
/// participant must propagate).
const MAX_TRACESTATE: usize = 512;

/// A trace context received from (or sent to) another service: the trace, the span of
/// the caller that the receiver's spans become children of, whether the caller recorded
/// the trace, and vendors' `tracestate`.
///
/// ```
/// use staso_types::TraceContext;
/// let ctx: TraceContext = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?;
/// assert!(ctx.sampled());
/// assert_eq!(ctx.span_id().to_w3c(), "00f067aa0ba902b7");
/// assert_eq!(ctx.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// # Ok::<(), staso_types::TraceparentError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: TraceId,
    span_id: SpanId,
    sampled: bool,
    tracestate: Option<String>,
}

impl TraceContext {
    /// A context for span `span_id` of trace `trace_id`.
    pub fn new(trace_id: TraceId, span_id: SpanId, sampled: bool) -> TraceContext {
        TraceContext {
            trace_id,
            span_id,
            sampled,
            tracestate: None,
        }
    }

    /// The trace (128 bits).
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The caller's span (64 bits): the parent of the spans that join this context.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// Whether the caller recorded this trace (flag `01`). Spans that join an unsampled
    /// context are not recorded either.
    pub fn sampled(&self) -> bool {
        self.sampled
    }

    /// Vendors' `tracestate`, passed along unchanged.
    pub fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_deref()
    }

    /// Sets the `tracestate` to pass along; empty, too long (over 512 bytes) or
    /// non-printable values are dropped, as the spec allows.
    pub fn with_tracestate(mut self, tracestate: impl Into<String>) -> TraceContext {
        let s = tracestate.into();
        let s = s.trim();
        let ok = !s.is_empty()
            && s.len() <= MAX_TRACESTATE
            && s.bytes().all(|b| (0x20..0x7f).contains(&b) || b == b'\t');
        self.tracestate = ok.then(|| s.to_string());
        self
    }

    /// Reads a context from a carrier (HTTP headers, a map): `Ok(None)` when there is no
    /// `traceparent`, an error when there is one that is not valid.
    pub fn from_carrier<C: Extractor + ?Sized>(
        carrier: &C,
    ) -> Result<Option<TraceContext>, TraceparentError> {
        let Some(tp) = carrier.get(TRACEPARENT) else {
            return Ok(None);
        };
        let ctx: TraceContext = tp.parse()?;
        Ok(Some(match carrier.get(TRACESTATE) {
            Some(ts) => ctx.with_tracestate(ts),
            None => ctx,
        }))
    }

    /// Writes `traceparent` (and `tracestate` when there is one) into a carrier.
    pub fn inject_into<C: Injector + ?Sized>(&self, carrier: &mut C) {
        carrier.set(TRACEPARENT, self.to_string());
        if let Some(ts) = &self.tracestate {
            carrier.set(TRACESTATE, ts.clone());
        }
    }
}

impl fmt::Display for TraceContext {
    /// The `traceparent` value (version `00`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id.to_u128(),
            self.span_id.to_u64(),
            u8::from(self.sampled)
        )
    }
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceContext")
            .field("traceparent", &self.to_string())
            .field("tracestate", &self.tracestate)
            .finish()
    }
}

/// Why a `traceparent` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceparentError {
    /// Not `version-traceid-parentid-flags` with 2, 32, 16 and 2 characters.
    Shape,
    /// A field holds something other than lowercase hex digits.
    NotLowercaseHex(&'static str),
    /// Version `ff` is forbidden by the spec.
    ForbiddenVersion,
    /// Version `00` followed by more than the four fields.
    TrailingData,
    /// The trace id or the parent id is all zeros.
    ZeroId(&'static str),
}

impl fmt::Display for TraceparentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fix = "expected `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, e.g. \
                   `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`";
        match self {
            TraceparentError::Shape => write!(f, "traceparent is malformed: {fix}"),
            TraceparentError::NotLowercaseHex(what) => {
                write!(f, "traceparent's {what} is not lowercase hex: {fix}")
            }
            TraceparentError::ForbiddenVersion => {
                write!(f, "traceparent version `ff` is invalid: {fix}")
            }
            TraceparentError::TrailingData => {
                write!(
                    f,
                    "traceparent version `00` has data after the flags: {fix}"
                )
            }
            TraceparentError::ZeroId(what) => {
                write!(
                    f,
                    "traceparent's {what} is all zeros, which is invalid: {fix}"
                )
            }
        }
    }
}

impl std::error::Error for TraceparentError {}

/// Parses `s` as lowercase hex of exactly its length.
fn hex(s: &str, what: &'static str) -> Result<u128, TraceparentError> {
    if !s
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(TraceparentError::NotLowercaseHex(what));
    }
    u128::from_str_radix(s, 16).map_err(|_| TraceparentError::NotLowercaseHex(what))
}

impl std::str::FromStr for TraceContext {
    type Err = TraceparentError;

    /// Parses a `traceparent` value. A version above `00` is read by its first four
    /// fields, as the spec asks of a receiver that knows only `00`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        // version(2) - trace(32) - parent(16) - flags(2) = 55 characters.
        if s.len() < 55 || !s.is_char_boundary(55) {
            return Err(TraceparentError::Shape);
        }
        let (head, rest) = s.split_at(55);
        let b = head.as_bytes();
        if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return Err(TraceparentError::Shape);
        }
        let version = hex(&head[..2], "version")?;
        if version == 0xff {
            return Err(TraceparentError::ForbiddenVersion);
        }
        if !rest.is_empty() && (version == 0 || !rest.starts_with('-')) {
            return Err(if version == 0 {
                TraceparentError::TrailingData
            } else {
                TraceparentError::Shape
            });
        }
        let trace = hex(&head[3..35], "trace id")?;
        let parent = hex(&head[36..52], "parent id")?;
        let flags = hex(&head[53..55], "flags")?;
        let trace_id = TraceId::from_u128(trace).ok_or(TraceparentError::ZeroId("trace id"))?;
        let span_id = u64::try_from(parent)
            .ok()
            .and_then(SpanId::from_u64)
            .ok_or(TraceparentError::ZeroId("parent id"))?;
        Ok(TraceContext::new(trace_id, span_id, flags & 1 == 1))
    }
}

/// Something a trace context can be read from: request headers, a map of strings.
/// Names are the lowercase header names (`traceparent`, `tracestate`).
pub trait Extractor {
    /// The value of `name`, if present and text.
    fn get(&self, name: &str) -> Option<&str>;
}

/// Something a trace context can be written into: outgoing headers, a map of strings.
pub trait Injector {
    /// Sets `name` (lowercase) to `value`, replacing what was there.
    fn set(&mut self, name: &str, value: String);
}

impl<S: BuildHasher> Extractor for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&str> {
        match HashMap::get(self, name) {
            Some(v) => Some(v),
            // Header names are case-insensitive; a plain map may keep `Traceparent`.
            None => self
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str()),
        }
    }
}

impl<S: BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, name: &str, value: String) {
        self.retain(|k, _| !k.eq_ignore_ascii_case(name));
        self.insert(name.to_string(), value);
    }
}

impl Extractor for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        match BTreeMap::get(self, name) {
            Some(v) => Some(v),
            None => self
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str()),
        }
    }
}

impl Injector for BTreeMap<String, String> {
    fn set(&mut self, name: &str, value: String) {
        self.retain(|k, _| !k.eq_ignore_ascii_case(name));
        self.insert(name.to_string(), value);
    }
}

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl Extractor for http::HeaderMap {
    fn get(&self, name: &str) -> Option<&str> {
        http::HeaderMap::get(self, name).and_then(|v| v.to_str().ok())
    }
}

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl Injector for http::HeaderMap {
    fn set(&mut self, name: &str, value: String) {
        let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) else {
            return;
        };
        self.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_and_prints_the_spec_example() {
        let ctx: TraceContext = EXAMPLE.parse().expect("valid");
        assert_eq!(ctx.trace_id().to_w3c(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.span_id().to_w3c(), "00f067aa0ba902b7");
        assert!(ctx.sampled());
        assert_eq!(ctx.to_string(), EXAMPLE);
        let unsampled: TraceContext = EXAMPLE.replace("-01", "-00").parse().expect("valid");
        assert!(!unsampled.sampled());
        assert!(unsampled.to_string().ends_with("-00"));
    }

    #[test]
    fn refuses_what_the_spec_refuses_with_the_reason() {
        let cases = [
            ("", TraceparentError::Shape),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                TraceparentError::Shape,
            ),
            (
                "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                TraceparentError::Shape,
            ),
            (
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                TraceparentError::NotLowercaseHex("trace id"),
            ),
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                TraceparentError::ForbiddenVersion,
            ),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                TraceparentError::ZeroId("trace id"),
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                TraceparentError::ZeroId("parent id"),
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                TraceparentError::TrailingData,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
                TraceparentError::NotLowercaseHex("flags"),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                input.parse::<TraceContext>(),
                Err(want.clone()),
                "{input:?}"
            );
            assert!(
                want.to_string().contains("00-4bf92f"),
                "the fix is named: {want}"
            );
        }
    }

    #[test]
    fn a_later_version_is_read_by_its_first_four_fields() {
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-what-comes-next";
        let ctx: TraceContext = later.parse().expect("forward compatible");
        assert!(ctx.sampled());
        assert_eq!(
            ctx.to_string(),
            EXAMPLE,
            "we answer in the version we speak"
        );
    }

    #[test]
    fn maps_carry_both_headers_whatever_the_case_of_the_name() {
        let mut m: HashMap<String, String> = HashMap::new();
        m.insert("Traceparent".into(), EXAMPLE.into());
        m.insert("TraceState".into(), "congo=t61rcWkgMzE".into());
        let ctx = TraceContext::from_carrier(&m)
            .expect("valid")
            .expect("present");
        assert_eq!(ctx.tracestate(), Some("congo=t61rcWkgMzE"));

        let mut out: BTreeMap<String, String> = BTreeMap::new();
        out.insert("TRACEPARENT".into(), "stale".into());
        ctx.inject_into(&mut out);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out["traceparent"], EXAMPLE);
        assert_eq!(out["tracestate"], "congo=t61rcWkgMzE");

        let none: HashMap<String, String> = HashMap::new();
        assert_eq!(TraceContext::from_carrier(&none), Ok(None));
    }

    #[test]
    fn an_oversized_or_binary_tracestate_is_dropped() {
        let ctx: TraceContext = EXAMPLE.parse().expect("valid");
        assert_eq!(
            ctx.clone().with_tracestate("x".repeat(513)).tracestate(),
            None
        );
        assert_eq!(ctx.clone().with_tracestate("a=\u{7}").tracestate(), None);
        assert_eq!(ctx.with_tracestate(" a=b ").tracestate(), Some("a=b"));
    }

    #[cfg(feature = "http")]
    #[test]
    fn header_maps_carry_both_headers() {
        let ctx: TraceContext = EXAMPLE.parse().expect("valid");
        let ctx = ctx.with_tracestate("rojo=00f067aa0ba902b7");
        let mut h = http::HeaderMap::new();
        ctx.inject_into(&mut h);
        assert_eq!(h["traceparent"], EXAMPLE);
        let back = TraceContext::from_carrier(&h)
            .expect("valid")
            .expect("present");
        assert_eq!(back, ctx);
    }
}
