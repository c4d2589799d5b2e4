//! A captured value whose `Serialize`, `Debug` or `Display` fails or panics is undone and
//! replaced by a placeholder, in the same way whether it is written as JSON now or
//! recorded on a tape: one implementation over [`Target`], for both.

use super::{json, tape, warn_contained, Site, Writer};
use serde::Serialize;
use std::fmt;

/// What [`Out`] needs of where it writes (the JSON writer, or a tape's recorder), so that
/// a value that fails or panics is undone and replaced the same way in both.
pub(super) trait Target {
    type Mark;
    fn full(&self) -> bool;
    fn mark(&self) -> Self::Mark;
    fn restore(&mut self, m: Self::Mark);
    fn placeholder(&mut self, ty: &str, why: fmt::Arguments<'_>) -> Result<(), json::Error>;
    fn site(&self) -> Site;
    /// `Debug`/`Display` text as a string value; `Err(())` when the impl failed on its own.
    fn leaf_fmt(&mut self, args: fmt::Arguments<'_>) -> Result<Result<(), json::Error>, ()>;
}

impl Target for Writer {
    type Mark = json::Mark;
    fn full(&self) -> bool {
        self.st.full
    }
    fn mark(&self) -> json::Mark {
        Writer::mark(self)
    }
    fn restore(&mut self, m: json::Mark) {
        Writer::restore(self, &m)
    }
    fn placeholder(&mut self, ty: &str, why: fmt::Arguments<'_>) -> Result<(), json::Error> {
        Writer::placeholder(self, ty, why)
    }
    fn site(&self) -> Site {
        Writer::site(self)
    }
    fn leaf_fmt(&mut self, args: fmt::Arguments<'_>) -> Result<Result<(), json::Error>, ()> {
        Writer::leaf_fmt(self, args)
    }
}

impl Target for tape::Recorder {
    type Mark = tape::TapeMark;
    fn full(&self) -> bool {
        self.full
    }
    fn mark(&self) -> tape::TapeMark {
        tape::Recorder::mark(self)
    }
    fn restore(&mut self, m: tape::TapeMark) {
        tape::Recorder::restore(self, m)
    }
    fn placeholder(&mut self, ty: &str, why: fmt::Arguments<'_>) -> Result<(), json::Error> {
        tape::Recorder::placeholder(self, ty, why)
    }
    fn site(&self) -> Site {
        tape::Recorder::site(self)
    }
    fn leaf_fmt(&mut self, args: fmt::Arguments<'_>) -> Result<Result<(), json::Error>, ()> {
        tape::Recorder::leaf_fmt(self, args)
    }
}

/// Writes `v` with its `Serialize` into `w`: one that fails or panics is undone and
/// replaced by a placeholder (a panic also logs one warning per call site).
pub(super) fn serialize_guarded<W: Target, T: Serialize + ?Sized>(w: &mut W, v: &T)
where
    for<'w> &'w mut W: serde::Serializer<Ok = (), Error = json::Error>,
{
    if w.full() {
        return;
    }
    let mark = w.mark();
    match crate::panic::contain(|| v.serialize(&mut *w)) {
        Ok(Ok(())) => {}
        Ok(Err(_)) if w.full() => {}
        Ok(Err(e)) => {
            w.restore(mark);
            let _ = w.placeholder(
                std::any::type_name::<T>(),
                format_args!("not serializable: {e}"),
            );
        }
        Err(_) => {
            warn_contained(w.site(), "a Serialize impl");
            if !w.full() {
                w.restore(mark);
                let _ = w.placeholder(
                    std::any::type_name::<T>(),
                    format_args!("Serialize panicked"),
                );
            }
        }
    }
}

/// Writes `Debug` or `Display` text (`what`) of a value of type `ty` into `w`, as
/// [`serialize_guarded`] does a `Serialize`.
pub(super) fn fmt_guarded<W: Target>(w: &mut W, ty: &str, what: &str, args: fmt::Arguments<'_>) {
    if w.full() {
        return;
    }
    let mark = w.mark();
    match crate::panic::contain(|| w.leaf_fmt(args)) {
        Ok(Ok(_)) => {}
        Ok(Err(())) => {
            w.restore(mark);
            let _ = w.placeholder(ty, format_args!("{what} returned an error"));
        }
        Err(_) => {
            warn_contained(
                w.site(),
                if what == "Debug" {
                    "a Debug impl"
                } else {
                    "a Display impl"
                },
            );
            if !w.full() {
                w.restore(mark);
                let _ = w.placeholder(ty, format_args!("{what} panicked"));
            }
        }
    }
}
