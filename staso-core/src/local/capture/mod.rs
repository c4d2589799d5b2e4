//! Capturing user values: JSON text, written on the caller's thread or, for the arguments
//! and result the attributes capture, by the batcher from a tape recorded on the caller's.
//!
//! A value is written once, by a serde `Serializer` of ours ([`json`]) or through a bounded
//! `fmt::Write` ([`text`]), into a per-thread buffer that is reused from span to span; the
//! span's record then keeps a copy of that text, and the batcher puts it into the request
//! body as it is. No intermediate `serde_json::Value` is built. While it writes, the capture
//! - stops at `max_field_bytes`: the caller's cost and memory are bounded by the bound, not
//!   by the value (a 100 MB `String` costs what 256 KiB cost), and the field gets a
//!   `staso.truncated.<field>` attribute with at least the size it would have had;
//! - stops at depth 64 (or when the thread's stack runs low): deeper parts become a
//!   placeholder and the value's own `Serialize`/`Debug` recursion stops with it;
//! - applies the redaction rule ([`redact`]) and the user's `mask` hook;
//! - contains panics of `Serialize`, `Debug`, `Display` and the mask hook: the value
//!   becomes a placeholder, nothing is printed (see `crate::panic`), and one warning per
//!   call site is logged.
//!
//! A function's arguments and result (the hot part: every call of an instrumented
//! function) are instead recorded as a compact tape of serde events ([`tape`]), which
//! keeps every bound that stops the value's own code; the batcher writes the tape as JSON
//! with the same writer ([`replay`]), so escaping, scrubbing, masking and the size bound
//! cost the batcher, not the caller. The document is the same either way (tested).
//!
//! Which fields are captured at all (the capture policy) is decided before any of this.

mod autoref;
mod decision;
mod guarded;
mod json;
mod plain;
mod redact;
mod replay;
mod ser;
mod tape;
mod text;

pub use autoref::{Capture, CaptureDebug, CaptureOpaque, CaptureScalar, CaptureSerialize};
pub use decision::SiteDecision;
pub(crate) use decision::{Decided, Packed};
use guarded::{fmt_guarded, serialize_guarded};
pub(crate) use json::TRUNCATED;
pub use plain::TextOut;
pub(crate) use plain::{apply_mask, clean_sdk_text, text};
pub(crate) use redact::{is_secret_key, scrub};
pub(crate) use tape::TapeRules;
pub(crate) use tape::{
    input_tape, input_tape_after, replay, result_tape, result_tape_after, Taped,
};
pub(crate) use text::{ascii_str, escape_into, needs_escape};

use crate::config::Config;
use crate::local::context::{self, Sink};
use serde::Serialize;
use std::cell::RefCell;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

/// Where a capture happens, for its one warning: the setter's or the attribute's location
/// (every call an attribute generates has the attribute's location), `None` inside the SDK.
pub(crate) type Site = Option<&'static Location<'static>>;

// -------------------------------------------------------------------------- rules

/// The configuration a capture follows: the test capture's, or the running client's.
#[derive(Clone)]
pub(crate) enum RulesHandle {
    /// The client's configuration, through this thread's cache.
    Client(crate::client::ThreadConfig),
    /// A test capture's.
    Sink(Arc<dyn Sink>),
    /// A configuration held directly (the batcher's, writing recorded values as JSON).
    Shared(Arc<Config>),
}

impl RulesHandle {
    pub(crate) fn config(&self) -> &Config {
        match self {
            RulesHandle::Client(c) => c,
            RulesHandle::Sink(s) => s.config(),
            RulesHandle::Shared(c) => c,
        }
    }

    /// The rules of spans that go to `sink`, or to the running client; `None` when there
    /// is neither.
    #[inline]
    pub(crate) fn of(sink: Option<&Arc<dyn Sink>>) -> Option<RulesHandle> {
        match sink {
            Some(s) => Some(RulesHandle::Sink(s.clone())),
            None => client_rules(),
        }
    }

    /// The rules of the context current on this thread.
    pub(crate) fn current() -> Option<RulesHandle> {
        context::with_current_shallow(|c| RulesHandle::of(c.sink.as_ref()))
    }
}

/// The running client's rules, through this thread's cache: no shared cache line touched.
#[inline]
fn client_rules() -> Option<RulesHandle> {
    crate::client::thread_config().map(RulesHandle::Client)
}

// -------------------------------------------------------------------------- writers

/// The buffers of a capture, reused: each thread keeps a few (see [`Lease`]), so a capture
/// allocates nothing once its thread has warmed up.
#[derive(Default)]
pub(crate) struct Bufs {
    /// The document.
    buf: String,
    /// `Debug`/`Display` text before it is scrubbed and escaped.
    scratch: String,
    /// The keys above the value being written, `\0`-separated (kept only with a mask: the
    /// hook is given the nearest).
    keys: String,
}

/// A document being written: the buffers, where the document stands, and the rules.
pub(crate) struct Writer {
    b: Box<Bufs>,
    st: json::State,
    handle: RulesHandle,
    site: Site,
    redact: bool,
    has_mask: bool,
}

impl Writer {
    /// A document at the end of `b`, under `handle`'s rules.
    fn new(b: Box<Bufs>, handle: RulesHandle, site: Site) -> Writer {
        let max = handle.config().max_field_bytes;
        let st = json::State::new(b.buf.len(), max);
        Writer::resume(b, st, handle, site)
    }

    /// A document written before (its buffers and state) continued.
    fn resume(b: Box<Bufs>, st: json::State, handle: RulesHandle, site: Site) -> Writer {
        let cfg = handle.config();
        Writer {
            redact: cfg.redact_secrets,
            has_mask: cfg.mask.is_some(),
            b,
            st,
            handle,
            site,
        }
    }

    fn into_parts(self) -> (Box<Bufs>, json::State) {
        (self.b, self.st)
    }
}

/// Capacity kept by a thread's buffers after use: enough for a field at the default bound
/// (256 KiB and what is read past it), so that capturing big values does not grow a
/// buffer from scratch each time. Above it, the buffer goes back to the allocator.
const KEEP: usize = 320 * 1024;
/// Buffers a thread keeps for reuse (a function's input is built while its metadata and,
/// rarely, a nested span's values are captured).
const POOL: usize = 4;

thread_local! {
    // Boxed: a lease moves a pointer, not the buffers.
    #[allow(clippy::vec_box)]
    static SPARE: RefCell<Vec<Box<Bufs>>> = const { RefCell::new(Vec::new()) };
}

/// Buffers lent by this thread's pool, given back when dropped.
pub(crate) struct Lease(Option<Box<Bufs>>);

impl Lease {
    fn take() -> Lease {
        let b = SPARE
            .try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.pop()))
            .ok()
            .flatten();
        Lease(b)
    }

    /// The buffers, to write with (put them back with [`Lease::put`]).
    fn bufs(&mut self) -> Box<Bufs> {
        self.0.take().unwrap_or_default()
    }

    fn put(&mut self, b: Box<Bufs>) {
        self.0 = Some(b);
    }

    fn text(&self) -> &str {
        self.0.as_deref().map_or("", |b| &b.buf)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(mut b) = self.0.take() else { return };
        for s in [&mut b.buf, &mut b.scratch, &mut b.keys] {
            s.clear();
            if s.capacity() > KEEP {
                s.shrink_to(KEEP);
            }
        }
        let _ = SPARE.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                if s.len() < POOL {
                    s.push(b);
                }
            }
        });
    }
}

/// A captured field: its text (a JSON document, or plain text for messages, names and
/// tags), and when it was cut at the bound, at least the size it would have had.
pub(crate) struct Captured {
    lease: Lease,
    pub truncated: Option<usize>,
}

impl Captured {
    pub(crate) fn text(&self) -> &str {
        self.lease.text()
    }
}

// -------------------------------------------------------------------------- values

/// Where the macros (and the setters) write one captured value. The three capture traits
/// call it: JSON through `Serialize`, else the `Debug` text, else a placeholder.
pub struct Out<'a> {
    to: To<'a>,
}

/// Where an [`Out`] or [`Input`] writes: JSON now, or a tape for the batcher.
enum To<'a> {
    Json(&'a mut Writer),
    Tape(&'a mut tape::Recorder),
}

impl<'a> Out<'a> {
    fn json(w: &'a mut Writer) -> Self {
        Out { to: To::Json(w) }
    }
}

/// `Out` methods that write a scalar (the scalar tier's writes, see `autoref`): straight to
/// the recorder's leaf `$leaf`, or with the writer's serializer method `$ser`.
/// The tape's branch is inlined into the attributes' code; the writer's is a call.
macro_rules! scalar_writes {
    ($($(#[$doc:meta])* $name:ident($t:ty) => $ser:ident, $leaf:ident;)*) => {$(
        $(#[$doc])*
        #[inline(always)]
        pub fn $name(&mut self, v: $t) {
            #[inline(never)]
            fn json(w: &mut Writer, v: $t) {
                use serde::Serializer as _;
                if !w.st.full {
                    let _ = w.$ser(v);
                }
            }
            match &mut self.to {
                To::Json(w) => json(w, v),
                To::Tape(r) => {
                    if !r.full {
                        let _ = r.$leaf(v);
                    }
                }
            }
        }
    )*};
}

impl Out<'_> {
    /// Writes `v` as JSON. A `Serialize` that fails or panics gives a placeholder.
    pub fn serialize<T: Serialize + ?Sized>(&mut self, v: &T) {
        match &mut self.to {
            To::Json(w) => serialize_guarded(&mut **w, v),
            To::Tape(r) => serialize_guarded(&mut **r, v),
        }
    }

    /// Writes the `Debug` text of `v` as a JSON string.
    pub fn debug<T: fmt::Debug + ?Sized>(&mut self, v: &T) {
        self.fmt_value(std::any::type_name::<T>(), "Debug", format_args!("{v:?}"));
    }

    /// Writes a placeholder naming `T` and why it is one.
    pub fn placeholder<T: ?Sized>(&mut self, why: &str) {
        let ty = std::any::type_name::<T>();
        let _ = match &mut self.to {
            To::Json(w) => w.placeholder(ty, format_args!("{why}")),
            To::Tape(r) => r.placeholder(ty, format_args!("{why}")),
        };
    }

    /// Writes a string (what its `Serialize` writes, without serde or a panic guard:
    /// writing it cannot panic).
    #[inline(always)]
    pub fn str(&mut self, v: &str) {
        #[inline(never)]
        fn json(w: &mut Writer, v: &str) {
            if !w.st.full {
                let _ = w.leaf_str(v);
            }
        }
        match &mut self.to {
            To::Json(w) => json(w, v),
            To::Tape(r) => {
                if !r.full {
                    let _ = r.leaf_str(v);
                }
            }
        }
    }

    scalar_writes! {
        /// Writes an unsigned integer (as [`Out::str`] does a string).
        uint(u64) => serialize_u64, leaf_uint;
        /// Writes a signed integer (as [`Out::str`] does a string).
        int(i64) => serialize_i64, leaf_int;
        /// Writes a boolean (as [`Out::str`] does a string).
        bool(bool) => serialize_bool, leaf_bool;
    }

    fn fmt_value(&mut self, ty: &str, what: &str, args: fmt::Arguments<'_>) {
        match &mut self.to {
            To::Json(w) => fmt_guarded(&mut **w, ty, what, args),
            To::Tape(r) => fmt_guarded(&mut **r, ty, what, args),
        }
    }
}

impl Writer {
    /// `<type: why>` as a string value.
    fn placeholder(&mut self, ty: &str, why: fmt::Arguments<'_>) -> Result<(), json::Error> {
        let mut s = std::mem::take(&mut self.b.scratch);
        s.clear();
        let _ = fmt::write(
            &mut text::Bounded::new(&mut s, 1024),
            format_args!("<{ty}: {why}>"),
        );
        let r = self.leaf_str(&s);
        self.b.scratch = s;
        r
    }
}

/// Captures one value as a JSON document (`set_input`, `set_output`, a metadata value).
/// `key` is the value's key for the redaction rule and the mask (`""` for none): a value
/// under a secret key is `"[REDACTED]"` and `f` is not called.
pub(crate) fn document(
    handle: RulesHandle,
    site: Site,
    key: &str,
    f: impl FnOnce(&mut Out<'_>),
) -> Captured {
    let mut lease = Lease::take();
    let mut w = Writer::new(lease.bufs(), handle, site);
    if w.redact && is_secret_key(key) {
        let _ = w.redacted();
    } else {
        if w.has_mask {
            w.b.keys.push_str(key);
        }
        f(&mut Out::json(&mut w));
    }
    let truncated = w.finish_doc();
    lease.put(w.into_parts().0);
    Captured { lease, truncated }
}

/// Captures a function's result as `{"result": <value>}`, directly: what the replay of
/// [`result_tape`] must equal (the attributes record a tape).
#[cfg(test)]
pub(crate) fn result_document(
    handle: RulesHandle,
    site: Site,
    f: impl FnOnce(&mut Out<'_>),
) -> Captured {
    let mut lease = Lease::take();
    let mut w = Writer::new(lease.bufs(), handle, site);
    if w.begin_object().is_ok() {
        let _ = w.member("result", |w| {
            f(&mut Out::json(w));
            Ok(())
        });
    }
    let truncated = w.finish_doc();
    lease.put(w.into_parts().0);
    Captured { lease, truncated }
}

/// Where the macros write a function's arguments, one [`Input::arg`] each.
pub struct Input<'a> {
    to: To<'a>,
}

impl Input<'_> {
    /// Adds argument `name`, written by `f` (not called for a secret-looking name, or once
    /// the input reached its bound).
    pub fn arg<F: FnOnce(&mut Out<'_>)>(&mut self, name: &'static str, f: F) {
        match &mut self.to {
            To::Json(w) => {
                if w.st.full {
                    return;
                }
                let _ = w.member(name, |w| {
                    f(&mut Out::json(w));
                    Ok(())
                });
            }
            To::Tape(r) => r.arg(name, |r| {
                f(&mut Out { to: To::Tape(r) });
            }),
        }
    }

    /// [`Input::arg`] for a name whose secrecy was decided when the program was compiled
    /// (`secret` is `__private::is_secret_name(name)`, which the attributes evaluate in a
    /// constant): nothing to look up per call.
    #[inline]
    pub fn arg_known<F: FnOnce(&mut Out<'_>)>(&mut self, name: &'static str, secret: bool, f: F) {
        match &mut self.to {
            To::Json(_) => self.arg(name, f),
            To::Tape(r) => r.arg_known(name, secret, |r| {
                f(&mut Out { to: To::Tape(r) });
            }),
        }
    }
}

/// Captures a function's input object, `{"arg": value, ..}` with `agent_name` first for
/// agents; `f` adds the arguments. Directly: what the replay of [`input_tape`] must equal
/// (the attributes record a tape).
#[cfg(test)]
pub(crate) fn input(
    handle: RulesHandle,
    site: Site,
    agent: Option<&str>,
    f: impl FnOnce(&mut Input<'_>),
) -> Captured {
    let mut lease = Lease::take();
    let mut w = Writer::new(lease.bufs(), handle, site);
    if w.begin_object().is_ok() {
        if let Some(name) = agent {
            let _ = w.member("agent_name", |w| w.leaf_str(name));
        }
        f(&mut Input {
            to: To::Json(&mut w),
        });
    }
    let truncated = w.finish_doc();
    lease.put(w.into_parts().0);
    Captured { lease, truncated }
}

/// A value as a `serde_json::Value`, for the guard (which sends the arguments as JSON and
/// applies redaction and the mask to what it sends): written by `f` like any captured
/// value (bounded, depth-bounded, panics contained, the API key removed), then parsed.
/// `Null` without a client or test capture.
pub(crate) fn value(f: impl FnOnce(&mut Out<'_>)) -> serde_json::Value {
    let Some(handle) = RulesHandle::current().or_else(plain_rules) else {
        return serde_json::Value::Null;
    };
    let mut lease = Lease::take();
    let mut w = Writer::new(lease.bufs(), handle, None);
    w.redact = false;
    w.has_mask = false;
    f(&mut Out::json(&mut w));
    let _ = w.finish_doc();
    let v = serde_json::from_str(&w.b.buf).unwrap_or(serde_json::Value::Null);
    lease.put(w.into_parts().0);
    v
}

/// The rules of a value captured with no client and no test capture (the guard can run
/// without either): the default bound, nothing else.
fn plain_rules() -> Option<RulesHandle> {
    static PLAIN: std::sync::OnceLock<Option<Arc<Config>>> = std::sync::OnceLock::new();
    let cfg = PLAIN.get_or_init(|| {
        let o = staso_types::Options::new()
            .api_key("staso-no-client")
            .agent_name("staso")
            .capture_git(false)
            .redact_secrets(false);
        let env: std::collections::HashMap<String, String> = Default::default();
        crate::config::resolve(&o, &env).ok().map(Arc::new)
    });
    cfg.clone().map(|c| RulesHandle::Client(Rc::new(c)))
}

/// [`value`] of a `Serialize` value.
pub(crate) fn to_value_safely<T: Serialize + ?Sized>(v: &T) -> serde_json::Value {
    value(|o| o.serialize(v))
}

// -------------------------------------------------------------------------- warnings

/// Logs that `what` panicked during a capture, once per call site (the panic itself was
/// contained and printed nothing).
pub(crate) fn warn_contained(site: Site, what: &str) {
    static WARNED: Mutex<Vec<usize>> = Mutex::new(Vec::new());
    let id = site.map_or(0, |l| l as *const Location<'static> as usize);
    {
        let mut warned = match WARNED.lock() {
            Ok(w) => w,
            Err(p) => p.into_inner(),
        };
        if warned.contains(&id) {
            return;
        }
        if warned.len() < 4096 {
            warned.push(id);
        }
    }
    let place = match site {
        Some(l) => format!(" at {}:{}", l.file(), l.line()),
        None => String::new(),
    };
    crate::diag::warn(&format!(
        "staso: {what} panicked while a value was captured{place}; the span was sent with a \
         placeholder (reported once per call site)"
    ));
}

#[cfg(test)]
mod tape_tests;
#[cfg(test)]
mod tests;
