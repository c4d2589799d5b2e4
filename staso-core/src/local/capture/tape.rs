//! Arguments and results recorded on the caller's thread as a tape of serde events, to be
//! written as JSON later by the batcher (see `replay`).
//!
//! A span's arguments and result are the hot part of capture: the JSON writer escapes,
//! scrubs, masks and checks its bound on every byte, ~3 000 instructions for two small
//! arguments and a result. The recorder keeps only what the value's `Serialize` said —
//! numbers as they are, strings as bytes, names from code as pointers — so the caller's
//! thread does the part that needs the borrowed value and nothing else. Replaying the
//! tape through the JSON writer then gives the document the writer would have written
//! (the tests check it): the recorder mirrors every decision that stops the value's own
//! code early, so that the caller's cost stays bounded as before:
//! - depth and open containers, counted as the writer counts them (a deeper value is
//!   recorded as its placeholder without calling its `Serialize`);
//! - secret-looking field names and map keys (their values are never serialized);
//! - failing and panicking `Serialize`, `Debug` and `Display` (a placeholder, one warning);
//! - the size bound, in bytes of tape: [`TAPE_FACTOR`] × `max_field_bytes` for the whole
//!   tape, past which the value's `Serialize` is stopped, and what the writer reads of one
//!   leaf for each string or text (`max_field_bytes` and the look-ahead), so a huge
//!   string costs the bound once. The writer's own bound applies at replay; a tape holds
//!   more than the bound allows, so the document is cut where the writer cuts it, unless
//!   the JSON is much smaller than the tape (masks or redaction shrinking most of it):
//!   then it is cut earlier, still valid and marked.

use super::json::{Error, LOOKAHEAD, MAX_DEPTH, MAX_OPEN, R};
use super::text::{floor_boundary, stack_low, Bounded};
use super::{Captured, Input, Lease, Out, RulesHandle, Site, To, Writer};
use serde::ser::Serialize;
use std::cell::Cell;
use std::fmt;

mod copy;
mod format;
mod serialize;

use copy::copy_short;
pub(super) use format::{int_count, int_head, int_len, op, INT_TAG};

/// A tape may take this many times `max_field_bytes` (plus the look-ahead of a string):
/// a tape is larger than its JSON for small numbers and short field names (a name from
/// code costs 13 bytes, `"a":` 4), so the factor leaves the writer's bound to cut first
/// (a test fails with a factor of 1).
pub(crate) const TAPE_FACTOR: usize = 4;

/// The key of a function's output (`{"result": ..}`).
const RESULT: &str = "result";

/// What a recording needs of the capture rules, copied when the span opens (so the hot
/// path touches no shared configuration): the bound, and whether secrets are redacted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TapeRules {
    /// `max_field_bytes`, saturated at `u32::MAX` (kept small: it rides in every handle
    /// of a function that captures).
    pub max_field_bytes: u32,
    pub redact: bool,
}

impl TapeRules {
    pub(crate) fn of(cfg: &crate::config::Config) -> TapeRules {
        TapeRules {
            max_field_bytes: u32::try_from(cfg.max_field_bytes).unwrap_or(u32::MAX),
            redact: cfg.redact_secrets,
        }
    }
}

thread_local! {
    /// This thread's tape buffer and text scratch, lent to one recording at a time (a
    /// recording inside a value's `Serialize` gets fresh ones).
    static SPARE_TAPE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    static SPARE_TEXT: Cell<String> = const { Cell::new(String::new()) };
}

/// Capacity a thread keeps of its tape buffer and text scratch: as the JSON buffers keep.
const KEEP_TAPE: usize = super::KEEP;

/// Writes events into a tape.
pub(crate) struct Recorder {
    pub(super) tape: TapeBuf,
    /// Takes `Debug`/`Display` text (borrowed from the thread when first needed).
    scratch: String,
    /// The tape may not grow past this.
    limit: usize,
    /// What the writer reads of one leaf at most (see [`Recorder::room`]).
    leaf_max: usize,
    depth: u32,
    open: u32,
    pub(super) full: bool,
    redact: bool,
    /// The rules for scrubbing a map key, looked up when the first one comes.
    handle: Option<RulesHandle>,
    site: Site,
    /// A map key was recorded and its value not yet: whether the writer redacts it.
    key_secret: Option<bool>,
}

/// Where a value started on the tape, to undo it.
#[derive(Clone, Copy)]
pub(super) struct TapeMark {
    len: usize,
    depth: u32,
    open: u32,
    key_secret: Option<bool>,
}

/// The buffer a recording appends to: a vector borrowed mutably for that recording only,
/// held as a pointer so that the recorder needs no lifetime (it travels as `&mut
/// Recorder` inside `Input` and `Out`, whose lifetime is the API's). Borrowed rather than
/// owned: a span's box lent its vector to each document's recorder and took it back,
/// copies on every document.
///
/// Sound because a `TapeBuf` is made only by [`record_into`], from a `&mut Vec<u8>` that
/// outlives the call, for a recorder that lives inside that call (made, lent to the
/// recording as `&mut`, finished). Nothing in the crate moves a recorder out from behind
/// its `&mut` (with `mem::swap` between two recordings), which is what could let the
/// pointer outlive its borrow.
pub(super) struct TapeBuf(std::ptr::NonNull<Vec<u8>>);

impl std::ops::Deref for TapeBuf {
    type Target = Vec<u8>;

    #[inline(always)]
    fn deref(&self) -> &Vec<u8> {
        // SAFETY: the pointer comes from a `&mut Vec<u8>` borrowed for the whole life of
        // the recorder that holds this `TapeBuf` (see the type's doc), so it is valid,
        // aligned and initialised; only that recorder reaches the vector meanwhile, and it
        // does so through this `&self` or the `&mut self` below, never both at once.
        unsafe { self.0.as_ref() }
    }
}

impl std::ops::DerefMut for TapeBuf {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        // SAFETY: as in `deref`; `&mut self` is the only access to the vector while it
        // lives (the borrow it came from is exclusive and lasts longer).
        unsafe { self.0.as_mut() }
    }
}

/// Records a document appended to `tape` with `f` (see [`Recorder::after`]): the only
/// place a recorder is made, so that its borrowed buffer (see [`TapeBuf`]) lives as long
/// as the recorder.
#[inline(always)]
fn record_into(tape: &mut Vec<u8>, rules: TapeRules, site: Site, f: impl FnOnce(&mut Recorder)) {
    let mut r = Recorder::after(TapeBuf(std::ptr::NonNull::from(tape)), rules, site);
    f(&mut r);
    r.finish();
}

/// Gives back what a recording took beyond its tape: the text scratch, to this thread,
/// and the rules handle, dropped.
#[cold]
fn release(scratch: String, handle: Option<RulesHandle>) {
    give_back_text(scratch);
    drop(handle);
}

/// Gives a text scratch back to this thread, for the next recording.
fn give_back_text(mut s: String) {
    if s.capacity() > 0 {
        s.clear();
        s.shrink_to(KEEP_TAPE);
        let _ = SPARE_TEXT.try_with(|c| c.set(s));
    }
}

impl Recorder {
    /// A document (an object, like the writer's `begin_object`) recorded after what `tape`
    /// holds (a span's input, when its result is recorded next to it, or nothing, in this
    /// thread's spare buffer); its bound counts from there.
    #[inline(always)]
    fn after(tape: TapeBuf, rules: TapeRules, site: Site) -> Recorder {
        let max = rules.max_field_bytes as usize;
        let budget = max.saturating_mul(TAPE_FACTOR).saturating_add(LOOKAHEAD);
        Recorder {
            limit: budget.min(u32::MAX as usize).saturating_add(tape.len()),
            tape,
            leaf_max: max.saturating_add(LOOKAHEAD),
            scratch: String::new(),
            depth: 0,
            open: 1,
            full: false,
            redact: rules.redact,
            handle: None,
            site,
            key_secret: None,
        }
    }

    /// Ends the document (its tape stays where it was written).
    ///
    /// Taken apart field by field (the recorder has no `Drop`, so that it can be): moved
    /// whole into a `ManuallyDrop`, it was copied on every document. Only what a
    /// recording may have taken is given back or dropped: the usual document took no
    /// scratch and no rules handle, so this is two tests. (A recording that unwinds drops
    /// its scratch instead of giving it back to the thread: the next one takes a new one.)
    #[inline]
    fn finish(self) {
        let Recorder {
            scratch, handle, ..
        } = self;
        if scratch.capacity() > 0 || handle.is_some() {
            release(scratch, handle);
        }
    }

    pub(super) fn site(&self) -> Site {
        self.site
    }

    #[inline]
    pub(super) fn mark(&self) -> TapeMark {
        TapeMark {
            len: self.tape.len(),
            depth: self.depth,
            open: self.open,
            key_secret: self.key_secret,
        }
    }

    pub(super) fn restore(&mut self, m: TapeMark) {
        self.tape.truncate(m.len);
        self.depth = m.depth;
        self.open = m.open;
        self.key_secret = m.key_secret;
    }

    // ------------------------------------------------------------------ bytes

    /// Bytes one leaf (a string, `Debug` text, a byte string) may still take: the tape's
    /// room, and never more than the writer reads of one leaf (its bound and the
    /// look-ahead), so a huge string costs the bound once, not the tape's whole room.
    #[inline]
    fn room(&self) -> usize {
        self.limit
            .saturating_sub(self.tape.len())
            .min(self.leaf_max)
    }

    /// Checks the bound before an event: past it, the document stops here.
    #[inline(always)]
    fn check(&mut self) -> R {
        if self.full || self.tape.len() >= self.limit {
            return Err(self.stopped());
        }
        Ok(())
    }

    #[cold]
    fn stopped(&mut self) -> Error {
        self.stop();
        Error::Full
    }

    /// Ends the tape, cut (once).
    pub(super) fn stop(&mut self) {
        if !self.full {
            self.full = true;
            self.tape.push(op::STOP);
        }
    }

    /// `tag` then `v` (see [`Recorder::put_int`]).
    #[inline(always)]
    fn tagged_int(&mut self, tag: u8, v: u64) {
        self.put_int(tag, v);
    }

    /// `v` alone (a length; see [`Recorder::put_int`]).
    #[inline(always)]
    fn int(&mut self, v: u64) {
        self.put_int(0, v);
    }

    /// `head` with the count of `v`'s bytes in its top three bits (see [`int_head`]),
    /// then those bytes, little-endian: one reservation, two stores and no loop (a
    /// varint's loop was a tenth of what capturing two small arguments and a result cost
    /// the caller). Never longer than a varint would be.
    #[inline(always)]
    fn put_int(&mut self, head: u8, v: u64) {
        let n = int_len(v);
        self.tape.reserve(9);
        let len = self.tape.len();
        // SAFETY: `reserve(9)` left room for 9 bytes past `len`: the head and all 8 bytes
        // of `v`, so both writes land in allocated memory of the vector (the second is
        // unaligned, as written). The length then covers the head and the `n <= 8` bytes
        // that hold `v`, all initialised; the bytes past them were written but are not
        // counted, which a vector allows.
        unsafe {
            let p = self.tape.as_mut_ptr().add(len);
            p.write(int_head(head, n));
            p.add(1).cast::<[u8; 8]>().write_unaligned(v.to_le_bytes());
            self.tape.set_len(len + 1 + n);
        }
    }

    /// `tag` then a byte string: its length (4 bytes) and its bytes.
    #[inline(always)]
    fn tagged_bytes(&mut self, tag: u8, b: &[u8]) {
        let mut head = [tag, 0, 0, 0, 0];
        head[1..].copy_from_slice(&(b.len() as u32).to_le_bytes());
        // Room for what may follow a cut leaf (a flag and a length) too: a tape that grows
        // by doubling after a bound-sized leaf would cost the caller twice the bound.
        self.tape.reserve(5 + b.len() + 11);
        let len = self.tape.len();
        // SAFETY: the reservation left room for the 5 bytes of `head` and those of `b`
        // past `len`; `b` is borrowed from elsewhere (a `&[u8]` while the tape is borrowed
        // mutably), so the copies do not overlap; the new length covers exactly what was
        // written.
        unsafe {
            let p = self.tape.as_mut_ptr().add(len);
            std::ptr::copy_nonoverlapping(head.as_ptr(), p, 5);
            copy_short(b.as_ptr(), p.add(5), b.len());
            self.tape.set_len(len + 5 + b.len());
        }
    }

    #[inline(always)]
    fn event(&mut self, tag: u8) -> R {
        self.check()?;
        self.tape.push(tag);
        Ok(())
    }

    /// `tag` then a name from code: its address and length (see `Cursor::name` for
    /// reading it back), in one copy.
    #[inline(always)]
    fn named(&mut self, tag: u8, name: &'static str) -> R {
        self.check()?;
        let mut b = [0u8; 13];
        b[0] = tag;
        b[1..9].copy_from_slice(&(name.as_ptr() as usize as u64).to_le_bytes());
        b[9..].copy_from_slice(&(name.len() as u32).to_le_bytes());
        self.tape.extend_from_slice(&b);
        Ok(())
    }

    // ------------------------------------------------------------------ values

    /// An unsigned integer (any width up to 64 bits: their JSON is the same). Inlined into
    /// the scalar tier's writes, which then skip the call into the serializer.
    #[inline(always)]
    pub(super) fn leaf_uint(&mut self, v: u64) -> R {
        self.check()?;
        self.tagged_int(op::U64, v);
        Ok(())
    }

    /// A signed integer, zigzag-encoded (see [`Recorder::leaf_uint`]).
    #[inline(always)]
    pub(super) fn leaf_int(&mut self, v: i64) -> R {
        self.check()?;
        self.tagged_int(op::I64, ((v << 1) ^ (v >> 63)) as u64);
        Ok(())
    }

    /// A boolean (see [`Recorder::leaf_uint`]).
    #[inline(always)]
    pub(super) fn leaf_bool(&mut self, v: bool) -> R {
        self.event(if v { op::TRUE } else { op::FALSE })
    }

    /// A string value: whole, or its beginning up to the tape's bound (and the writer
    /// cuts it at replay).
    #[inline(always)]
    pub(super) fn leaf_str(&mut self, s: &str) -> R {
        self.check()?;
        let room = self.room();
        if s.len() < room {
            self.tagged_bytes(op::STR, s.as_bytes());
            return Ok(());
        }
        self.leaf_str_cut(s, room)
    }

    /// A string that reaches the bound: its beginning, its whole length, and the end of
    /// the tape.
    #[cold]
    #[inline(never)]
    fn leaf_str_cut(&mut self, s: &str, room: usize) -> R {
        let take = floor_boundary(s, room);
        self.tagged_bytes(op::STR_CUT, &s.as_bytes()[..take]);
        self.int(s.len() as u64);
        self.stop();
        Err(Error::Full)
    }

    /// `Debug`/`Display` text read through a writer that refuses past the tape's bound;
    /// `Err(())` when the impl failed on its own.
    pub(super) fn leaf_fmt(&mut self, args: fmt::Arguments<'_>) -> Result<R, ()> {
        if let Err(e) = self.check() {
            return Ok(Err(e));
        }
        let cap = self.room();
        let s = &mut self.scratch;
        s.clear();
        if s.capacity() == 0 {
            *s = SPARE_TEXT.try_with(Cell::take).unwrap_or_default();
        }
        let mut w = Bounded::new(s, cap);
        let failed = fmt::write(&mut w, args).is_err();
        let (over, deep, refused) = (w.over, w.deep, w.refused);
        if failed && !over && !deep {
            return Err(());
        }
        if deep {
            s.push_str("…[too deep]");
        }
        let orig = s.len() + refused;
        let s = std::mem::take(&mut self.scratch);
        self.tagged_bytes(op::FMT, s.as_bytes());
        self.scratch = s;
        self.tape.push(over as u8);
        self.int(orig as u64);
        if over {
            self.stop();
            return Ok(Err(Error::Full));
        }
        Ok(Ok(()))
    }

    /// `<type: why>` as a string value (as the writer's placeholder).
    pub(super) fn placeholder(&mut self, ty: &str, why: fmt::Arguments<'_>) -> R {
        let mut s = std::mem::take(&mut self.scratch);
        s.clear();
        let _ = fmt::write(
            &mut Bounded::new(&mut s, 1024),
            format_args!("<{ty}: {why}>"),
        );
        let r = self.leaf_str(&s);
        self.scratch = s;
        r
    }

    /// A value one level down, unless the writer would write a placeholder there.
    fn nested<T: Serialize + ?Sized>(&mut self, v: &T) -> R {
        self.check()?;
        if self.depth >= MAX_DEPTH || self.open >= MAX_OPEN || (self.depth >= 4 && stack_low()) {
            return self.named(op::DEEP, std::any::type_name::<T>());
        }
        self.depth += 1;
        let r = v.serialize(&mut *self);
        self.depth -= 1;
        r
    }

    /// Whether the writer redacts the value of a name from code.
    #[inline]
    fn secret_name(&self, k: &'static str) -> bool {
        self.redact && super::json::name_is_secret(k)
    }

    /// A member named in code: its name, then its value, or [`op::SKIPPED`] when the
    /// writer would redact it (the value is then not serialized at all).
    #[inline]
    fn member(&mut self, tag: u8, k: &'static str, v: impl FnOnce(&mut Self) -> R) -> R {
        let secret = self.secret_name(k);
        self.member_known(tag, k, secret, v)
    }

    /// [`Recorder::member`] whose secrecy (`secret`, before the redaction switch) is known.
    #[inline(always)]
    fn member_known(
        &mut self,
        tag: u8,
        k: &'static str,
        secret: bool,
        v: impl FnOnce(&mut Self) -> R,
    ) -> R {
        self.named(tag, k)?;
        if secret {
            self.tape.push(op::SKIPPED);
            return Ok(());
        }
        v(self)
    }

    /// An argument whose name's secrecy was decided at compile time (see
    /// `Input::arg_known`).
    #[inline]
    pub(super) fn arg_known(&mut self, k: &'static str, secret: bool, v: impl FnOnce(&mut Self)) {
        if self.full {
            return;
        }
        let secret = secret && self.redact;
        let _ = self.member_known(op::ARG, k, secret, |r| {
            v(r);
            Ok(())
        });
    }

    /// A top-level member: an argument, `agent_name` or `result`.
    #[inline]
    pub(super) fn arg(&mut self, k: &'static str, v: impl FnOnce(&mut Self)) {
        if self.full {
            return;
        }
        let _ = self.member(op::ARG, k, |r| {
            v(r);
            Ok(())
        });
    }

    fn open_container(&mut self, tag: u8, levels: u32) -> R {
        self.event(tag)?;
        self.open += levels;
        Ok(())
    }

    fn open_variant(&mut self, tag: u8, variant: &'static str) -> R {
        self.named(tag, variant)?;
        self.open += 2;
        Ok(())
    }

    fn close(&mut self, levels: u32) -> R {
        self.event(op::END)?;
        self.open -= levels;
        Ok(())
    }
}

// ------------------------------------------------------------------ documents

/// A function's input object (see `capture::input`) recorded as a tape, for the batcher to
/// write as JSON (see `tape`): what the attributes capture of a function's arguments.
pub(crate) fn input_tape(
    rules: TapeRules,
    site: Site,
    agent: Option<&str>,
    f: impl FnOnce(&mut Input<'_>),
) -> Taped {
    let mut tape = spare();
    input_tape_after(&mut tape, rules, site, agent, f);
    Taped { tape }
}

/// [`input_tape`] appended to `tape` (a span's own buffer of tapes, see `Extras`).
#[inline(always)]
pub(crate) fn input_tape_after(
    tape: &mut Vec<u8>,
    rules: TapeRules,
    site: Site,
    agent: Option<&str>,
    f: impl FnOnce(&mut Input<'_>),
) {
    record_into(tape, rules, site, |r| {
        if let Some(name) = agent {
            r.arg("agent_name", |r| {
                let _ = r.leaf_str(name);
            });
        }
        f(&mut Input { to: To::Tape(r) });
    });
}

/// A function's result, `{"result": <value>}`, recorded as a tape.
#[inline]
pub(crate) fn result_tape(rules: TapeRules, site: Site, f: impl FnOnce(&mut Out<'_>)) -> Taped {
    let mut tape = spare();
    result_tape_after(&mut tape, rules, site, f);
    Taped { tape }
}

/// [`result_tape`] appended to `tape` (see [`input_tape_after`]).
#[inline(always)]
pub(crate) fn result_tape_after(
    tape: &mut Vec<u8>,
    rules: TapeRules,
    site: Site,
    f: impl FnOnce(&mut Out<'_>),
) {
    record_into(tape, rules, site, |r| {
        // `result` is the key of every function's output: known not to look secret.
        r.arg_known(RESULT, false, |r| f(&mut Out { to: To::Tape(r) }));
    });
}

/// A recorded document (see [`input_tape`]), in this thread's tape buffer until the
/// record keeps a copy.
pub(crate) struct Taped {
    tape: Vec<u8>,
}

impl Taped {
    pub(crate) fn tape(&self) -> &[u8] {
        &self.tape
    }
}

impl Drop for Taped {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.tape));
    }
}

/// Writes a recorded document as JSON under `handle`'s rules: the document the JSON
/// writer would have written on the caller's thread.
pub(crate) fn replay(handle: RulesHandle, site: Site, tape: &[u8]) -> Captured {
    let mut lease = Lease::take();
    let mut w = Writer::new(lease.bufs(), handle, site);
    super::replay::document(&mut w, tape);
    let truncated = w.finish_doc();
    lease.put(w.into_parts().0);
    Captured { lease, truncated }
}

/// This thread's spare tape buffer (an empty one when it is lent out).
#[inline]
fn spare() -> Vec<u8> {
    SPARE_TAPE.try_with(Cell::take).unwrap_or_default()
}

/// Gives a tape buffer back to this thread, for the next recording.
#[inline]
fn give_back(mut tape: Vec<u8>) {
    if tape.capacity() == 0 {
        return;
    }
    tape.clear();
    if tape.capacity() > KEEP_TAPE {
        tape.shrink_to(KEEP_TAPE);
    }
    let _ = SPARE_TAPE.try_with(|c| c.set(tape));
}
