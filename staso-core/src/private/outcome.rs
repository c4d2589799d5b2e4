//! What a call ended with (its output or its error) recorded on the current span, apart
//! from the span types because the attributes call it on whichever span is innermost.

use crate::local::capture::{self, Out, RulesHandle, TextOut};
use crate::local::context;
use crate::local::record::SpanRecord;
use std::borrow::Cow;
use std::panic::Location;

/// Records a returned value, written by `f`, as the output `{"result": value}` of the
/// current span.
#[track_caller]
pub fn record_output<F: FnOnce(&mut Out<'_>)>(f: F) {
    let site = Location::caller();
    let Some(rules) = RulesHandle::current() else {
        return;
    };
    let t = capture::result_tape(capture::TapeRules::of(rules.config()), Some(site), f);
    context::with_innermost_record(|r| r.extras().set_output_tape(t.tape(), Some(site)));
}

/// Records an `Err` on the current span: status `error`, its message (written by `f`; the
/// encoder sends it when the policy allows), and its type name as `exception.type`.
#[track_caller]
pub fn record_error<E: ?Sized, F: FnOnce(&mut TextOut<'_>)>(_err: &E, f: F) {
    let site = Location::caller();
    let ty = std::any::type_name::<E>();
    let msg =
        RulesHandle::current().map(|rules| capture::text(rules, Some(site), "error_message", f));
    context::with_innermost_record(|r| set_error(r, ty, msg));
}

/// Marks `r` as failed with the error's message (when captured) and type name.
pub(super) fn set_error(r: &mut SpanRecord, type_name: &str, msg: Option<capture::Captured>) {
    r.status = staso_types::Status::Error;
    let e = r.extras();
    if let Some(m) = &msg {
        e.set_error_text(m.text(), m.truncated);
    }
    e.exception_type = Some(Cow::Owned(short_type_name(type_name)));
}

/// `std::io::error::Error` → `io::Error`-like short names are ambiguous; keep the full
/// path but drop the `alloc::`/`core::` prefixes rustc adds for std types.
fn short_type_name(full: &str) -> String {
    full.replace("alloc::", "").replace("core::", "")
}

/// An error's message: `Display` when it has one, else `Debug`, else a placeholder. The
/// macros write `(&&&ErrorText(err)).__staso_error_text(out)`.
pub struct ErrorText<'a, T: ?Sized>(pub &'a T);

/// Chosen for `Display` errors.
pub trait ErrorDisplay {
    /// Writes the message.
    fn __staso_error_text(&self, out: &mut TextOut<'_>);
}
/// Chosen for `Debug`-only errors.
pub trait ErrorDebug {
    /// Writes the message.
    fn __staso_error_text(&self, out: &mut TextOut<'_>);
}
/// Chosen for anything else.
pub trait ErrorOpaque {
    /// Writes the message.
    fn __staso_error_text(&self, out: &mut TextOut<'_>);
}
impl<T: std::fmt::Display + ?Sized> ErrorDisplay for &&ErrorText<'_, T> {
    fn __staso_error_text(&self, out: &mut TextOut<'_>) {
        out.display(self.0);
    }
}
impl<T: std::fmt::Debug + ?Sized> ErrorDebug for &ErrorText<'_, T> {
    fn __staso_error_text(&self, out: &mut TextOut<'_>) {
        out.debug(self.0);
    }
}
impl<T: ?Sized> ErrorOpaque for ErrorText<'_, T> {
    fn __staso_error_text(&self, out: &mut TextOut<'_>) {
        out.placeholder::<T>();
    }
}
