//! A tape (see `tape`) written as JSON: each event is handed to the JSON writer as the
//! value's `Serialize` handed it to the writer on the caller's thread, so the document,
//! its bound, its redaction and its mask are the writer's own.

use super::json::{Error, LOOKAHEAD, MAX_DEPTH, R};
use super::tape::{int_count, op, INT_TAG};
use super::text::floor_boundary;
use super::Writer;
use serde::ser::Serializer as _;

/// Reads a tape. Every tape was written by `Recorder` in this process; a tape that does
/// not parse (which would be a bug) ends the document as if its bound were reached.
pub(super) struct Cursor<'t> {
    tape: &'t [u8],
    at: usize,
}

impl<'t> Cursor<'t> {
    pub(super) fn new(tape: &'t [u8]) -> Self {
        Cursor { tape, at: 0 }
    }

    fn done(&self) -> bool {
        self.at >= self.tape.len()
    }

    fn peek(&self) -> Option<u8> {
        self.tape.get(self.at).copied()
    }

    fn u8(&mut self) -> Result<u8, Error> {
        let b = self.peek().ok_or(Error::Full)?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'t [u8], Error> {
        let end = self.at.checked_add(n).ok_or(Error::Full)?;
        let s = self.tape.get(self.at..end).ok_or(Error::Full)?;
        self.at = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// The `n` bytes of an integer (see `Recorder::put_int`).
    fn int_bytes(&mut self, n: usize) -> Result<u64, Error> {
        let mut a = [0u8; 8];
        a.get_mut(..n)
            .ok_or(Error::Full)?
            .copy_from_slice(self.take(n)?);
        Ok(u64::from_le_bytes(a))
    }

    /// An integer written alone (a length).
    fn int(&mut self) -> Result<u64, Error> {
        let head = self.u8()?;
        self.int_bytes(int_count(head))
    }

    fn bytes(&mut self) -> Result<&'t [u8], Error> {
        let n = u32::from_le_bytes(self.array()?) as usize;
        self.take(n)
    }

    fn text(&mut self) -> Result<&'t str, Error> {
        // Written from a `&str` (whole, or cut at a char boundary).
        std::str::from_utf8(self.bytes()?).map_err(|_| Error::Full)
    }

    /// A name from code, written by `Recorder::name`.
    fn name(&mut self) -> Result<&'static str, Error> {
        let ptr = u64::from_le_bytes(self.array()?) as usize;
        let len = u32::from_le_bytes(self.array()?) as usize;
        // SAFETY: `Recorder::name` is the only writer of this encoding, and it writes the
        // address and length of a `&'static str`: the bytes live, unchanged and valid
        // UTF-8, for the rest of the process. Tapes never leave the process and are only
        // read from their start, event by event, as they were written, so these 8 bytes
        // and this length are the ones `name` wrote.
        Ok(unsafe {
            std::str::from_utf8_unchecked(std::slice::from_raw_parts(ptr as *const u8, len))
        })
    }

    /// Consumes a [`op::SKIPPED`], if it is next.
    fn skipped(&mut self) -> bool {
        let s = self.peek() == Some(op::SKIPPED);
        if s {
            self.at += 1;
        }
        s
    }
}

/// Writes the document on `tape` (an object of top-level members) with `w`.
pub(super) fn document(w: &mut Writer, tape: &[u8]) {
    let mut c = Cursor::new(tape);
    if w.begin_object().is_err() {
        return;
    }
    while !c.done() {
        let r = match c.u8() {
            Ok(op::ARG) => c.name().and_then(|k| member(w, &mut c, k, false)),
            _ => Err(stop(w)),
        };
        if r.is_err() || w.st.full {
            return;
        }
    }
}

/// The tape's bound was reached (or it did not parse): the writer's bound is reached too.
fn stop(w: &mut Writer) -> Error {
    let at = w.b.buf.len();
    w.overflow(at, 1)
}

/// A value one level down (the writer's `nested`; the recorder already put a placeholder
/// where the writer would).
fn nested(w: &mut Writer, c: &mut Cursor<'_>) -> R {
    if w.st.full {
        return Err(Error::Full);
    }
    w.st.depth += 1;
    let r = value(w, c);
    w.st.depth -= 1;
    r
}

/// A member named in code (`nested`: one level down, as a field; else a top-level
/// member, whose value the writer takes at its own level). The recorder skipped the value
/// exactly when the writer redacts it; should they ever disagree, the document is cut
/// rather than read out of step.
fn member(w: &mut Writer, c: &mut Cursor<'_>, k: &'static str, down: bool) -> R {
    let mut called = false;
    w.member(k, |w| {
        called = true;
        if c.skipped() {
            return Err(stop(w));
        }
        if down {
            nested(w, c)
        } else {
            value(w, c)
        }
    })?;
    if !called && !c.skipped() {
        return Err(stop(w));
    }
    Ok(())
}

/// One value, as its `Serialize` handed it to the writer.
fn value(w: &mut Writer, c: &mut Cursor<'_>) -> R {
    let head = c.u8()?;
    // An integer's head holds its byte count too (see `tape::int_head`).
    let count = int_count(head);
    match head & INT_TAG {
        op::NULL => w.serialize_unit(),
        op::TRUE => w.serialize_bool(true),
        op::FALSE => w.serialize_bool(false),
        op::U64 => w.serialize_u64(c.int_bytes(count)?),
        op::I64 => {
            let z = c.int_bytes(count)?;
            w.serialize_i64((z >> 1) as i64 ^ -((z & 1) as i64))
        }
        op::U128 => w.serialize_u128(u128::from_le_bytes(c.array()?)),
        op::I128 => w.serialize_i128(i128::from_le_bytes(c.array()?)),
        op::F32 => w.serialize_f32(f32::from_le_bytes(c.array()?)),
        op::F64 => w.serialize_f64(f64::from_le_bytes(c.array()?)),
        op::STR => w.leaf_str(c.text()?),
        op::STR_CUT => {
            let text = c.text()?;
            let orig = c.int()? as usize;
            cut_leaf(w, text, true, orig)
        }
        op::FMT => {
            let text = c.text()?;
            let over = c.u8()? != 0;
            let orig = c.int()? as usize;
            cut_leaf(w, text, over, orig)
        }
        op::BYTES => w.serialize_bytes(c.bytes()?),
        op::SOME | op::NEWTYPE => nested(w, c),
        op::UNIT_VARIANT => w.leaf_str(c.name()?),
        op::NEWTYPE_VARIANT => {
            let variant = c.name()?;
            w.begin(true)?;
            member(w, c, variant, true)?;
            w.end()
        }
        op::SEQ => {
            w.begin(false)?;
            elements(w, c)?;
            w.end()
        }
        op::TUPLE_VARIANT => {
            w.begin_variant(c.name()?, false)?;
            elements(w, c)?;
            w.end_variant()
        }
        op::STRUCT => {
            w.begin(true)?;
            fields(w, c)?;
            w.end()
        }
        op::STRUCT_VARIANT => {
            w.begin_variant(c.name()?, true)?;
            fields(w, c)?;
            w.end_variant()
        }
        op::MAP => {
            w.begin(true)?;
            entries(w, c)?;
            w.close_dangling_key()?;
            w.end()
        }
        op::DEEP => {
            let ty = c.name()?;
            w.leaf_str(&format!("<{ty}: nested deeper than {MAX_DEPTH} levels>"))
        }
        _ => Err(stop(w)),
    }
}

/// A string that was read through a bound (`cut`: not all of it; `orig`: at least its
/// length): what the writer would have read of it with its own room, then written.
fn cut_leaf(w: &mut Writer, text: &str, cut: bool, orig: usize) -> R {
    if w.st.full {
        return Err(Error::Full);
    }
    let room = w.st.room(w.b.buf.len());
    let take = floor_boundary(text, room.saturating_add(LOOKAHEAD));
    w.leaf(&text[..take], cut || take < text.len(), orig)
}

/// Array elements up to the container's end.
fn elements(w: &mut Writer, c: &mut Cursor<'_>) -> R {
    loop {
        if c.peek() == Some(op::END) {
            c.at += 1;
            return Ok(());
        }
        w.element()?;
        nested(w, c)?;
    }
}

/// Struct fields up to the container's end.
fn fields(w: &mut Writer, c: &mut Cursor<'_>) -> R {
    loop {
        match c.u8()? {
            op::END => return Ok(()),
            op::FIELD => {
                let k = c.name()?;
                member(w, c, k, true)?;
            }
            _ => return Err(stop(w)),
        }
    }
}

/// Map keys and values up to the container's end (as `SerializeMap` for the writer).
fn entries(w: &mut Writer, c: &mut Cursor<'_>) -> R {
    loop {
        match c.u8()? {
            op::END => return Ok(()),
            op::KEY => {
                let len = u32::from_le_bytes(c.array()?) as usize;
                let k = std::str::from_utf8(c.take(len)?).map_err(|_| stop(w))?;
                w.close_dangling_key()?;
                w.key(k)?;
            }
            t @ (op::VALUE | op::SKIPPED) => {
                if !w.st.key_pending {
                    w.key("")?;
                }
                let redact = std::mem::take(&mut w.st.redact_next);
                let r = match (redact, t == op::VALUE) {
                    (true, false) => w.redacted(),
                    (false, true) => nested(w, c),
                    _ => Err(stop(w)),
                };
                w.end_member();
                r?;
            }
            _ => return Err(stop(w)),
        }
    }
}
