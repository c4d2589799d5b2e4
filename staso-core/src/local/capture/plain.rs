//! Plain-text fields (an error message, a span name, a tag): written through a bounded
//! `fmt::Write`, then cut, scrubbed and masked like every captured string. Apart from the
//! JSON documents because they are text, not JSON, on the wire; the SDK's own messages
//! (a panic's) go through the same cleaning when they are encoded.

use super::text::{floor_boundary, Bounded};
use super::{
    json, scrub, warn_contained, Bufs, Captured, Lease, RulesHandle, Site, Writer, TRUNCATED,
};
use crate::config::Config;
use std::borrow::Cow;
use std::fmt;

/// Where an error message (or a name, a tag) is written as plain text: bounded, then
/// scrubbed and masked like every captured string.
pub struct TextOut<'a> {
    w: &'a mut Writer,
    cap: usize,
    over: bool,
    refused: usize,
}

impl TextOut<'_> {
    /// The `Display` text of `v`.
    pub fn display<T: fmt::Display + ?Sized>(&mut self, v: &T) {
        self.fmt_text(std::any::type_name::<T>(), "Display", format_args!("{v}"));
    }

    /// The `Debug` text of `v`.
    pub fn debug<T: fmt::Debug + ?Sized>(&mut self, v: &T) {
        self.fmt_text(std::any::type_name::<T>(), "Debug", format_args!("{v:?}"));
    }

    /// `<type>`, for a value with neither.
    pub fn placeholder<T: ?Sized>(&mut self) {
        self.w.b.scratch.clear();
        self.w.b.scratch.push('<');
        self.w.b.scratch.push_str(std::any::type_name::<T>());
        self.w.b.scratch.push('>');
    }

    pub(crate) fn text(&mut self, s: &str) {
        let take = floor_boundary(s, self.cap);
        self.w.b.scratch.clear();
        self.w.b.scratch.push_str(&s[..take]);
        self.over = take < s.len();
        self.refused = s.len() - take;
    }

    fn fmt_text(&mut self, ty: &str, what: &str, args: fmt::Arguments<'_>) {
        let cap = self.cap;
        let w = &mut *self.w;
        w.b.scratch.clear();
        let r = crate::panic::contain(|| {
            let mut b = Bounded::new(&mut w.b.scratch, cap);
            let failed = fmt::write(&mut b, args).is_err();
            (failed && !b.stopped(), b.over, b.refused, b.deep)
        });
        match r {
            Ok((false, over, refused, deep)) => {
                if deep {
                    w.b.scratch.push_str("…[too deep]");
                }
                self.over = over;
                self.refused = refused;
            }
            Ok((true, ..)) => {
                w.b.scratch.clear();
                let _ = fmt::write(
                    &mut w.b.scratch,
                    format_args!("<{ty}: {what} returned an error>"),
                );
            }
            Err(_) => {
                warn_contained(
                    w.site,
                    if what == "Debug" {
                        "a Debug impl"
                    } else {
                        "a Display impl"
                    },
                );
                w.b.scratch.clear();
                let _ = fmt::write(&mut w.b.scratch, format_args!("<{ty}: {what} panicked>"));
            }
        }
    }
}

/// Captures a plain text (an error message, a span name, a tag) under `key` (for the mask).
pub(crate) fn text(
    handle: RulesHandle,
    site: Site,
    key: &str,
    f: impl FnOnce(&mut TextOut<'_>),
) -> Captured {
    let mut lease = Lease::take();
    let mut w = Writer::new(lease.bufs(), handle, site);
    let max = w.handle.config().max_field_bytes;
    let mut out = TextOut {
        w: &mut w,
        cap: max.saturating_add(json::LOOKAHEAD),
        over: false,
        refused: 0,
    };
    f(&mut out);
    let (over, refused) = (out.over, out.refused);
    let Bufs { buf, scratch, .. } = &mut *w.b;
    let truncated = finish_text(
        buf,
        scratch,
        over,
        scratch.len() + refused,
        w.handle.config(),
        key,
        site,
    );
    lease.put(w.into_parts().0);
    Captured { lease, truncated }
}

/// Cuts, scrubs and masks a text into `out`; returns at least its original size when cut.
fn finish_text(
    out: &mut String,
    raw: &str,
    over: bool,
    orig: usize,
    cfg: &Config,
    key: &str,
    site: Site,
) -> Option<usize> {
    let max = cfg.max_field_bytes;
    let take = floor_boundary(raw, max.saturating_add(json::LOOKAHEAD));
    let cut = over || take < raw.len();
    let orig = orig.max(raw.len());
    let s = scrub(&raw[..take], cfg.redact_secrets, cfg.api_key.expose());
    let s = apply_mask(cfg, key, s, site);
    if !cut && s.len() <= max {
        out.push_str(&s);
        return None;
    }
    let keep = floor_boundary(&s, max.saturating_sub(TRUNCATED.len()));
    out.push_str(&s[..keep]);
    out.push_str(TRUNCATED);
    Some(orig.max(s.len()))
}

/// A text the SDK itself put into a record (a panic message, which may quote user data),
/// cleaned when it is encoded: cut at the bound, scrubbed, masked.
pub(crate) fn clean_sdk_text<'a>(
    raw: &'a str,
    cfg: &Config,
    key: &str,
) -> (Cow<'a, str>, Option<usize>) {
    let mut out = String::new();
    let truncated = finish_text(&mut out, raw, false, raw.len(), cfg, key, None);
    if truncated.is_none() && out == raw {
        return (Cow::Borrowed(raw), None);
    }
    (Cow::Owned(out), truncated)
}

/// `text` after the user's mask hook, given `key`; a panicking hook gives a placeholder.
pub(crate) fn apply_mask<'t>(
    cfg: &Config,
    key: &str,
    text: Cow<'t, str>,
    site: Site,
) -> Cow<'t, str> {
    let Some(mask) = &cfg.mask else {
        return text;
    };
    match crate::panic::contain(|| (mask.0)(key, &text)) {
        Ok(Some(new)) => Cow::Owned(new),
        Ok(None) => text,
        Err(_) => {
            warn_contained(site, "the mask hook");
            Cow::Borrowed("<mask hook panicked>")
        }
    }
}
