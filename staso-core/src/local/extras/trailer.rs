//! A span's captured tapes as the bytes that travel with its record in its lane's ring
//! (see `export::lane::Lane::push_taped`): the input's tape, the result's, then a footer
//! with their lengths and where they were recorded. The thread that captured them writes
//! them into the ring's tape beside the record; the batcher puts them in a box of its own.
//! So a captured span costs its thread no box from the shared pool, whose memory the
//! batcher wrote last: the thread records its tapes in a box it keeps.

use super::{piece, Extras, TAPED_INPUT, TAPED_OUTPUT};
use std::panic::Location;

/// The footer's bytes: the input's length and the result's (`u32` each, the top bit set
/// when there is one), then the site's address (`u64`, 0 for none).
const FOOTER: usize = 16;

/// The top bit of a length in the footer: the field has a tape.
const TAPED: u32 = 1 << 31;

impl Extras {
    /// Whether the box holds tapes and nothing else: what the attributes' sync spans
    /// keep while they run (see `FnSpan`), and what [`Extras::trailer`] carries.
    pub(crate) fn only_tapes(&self) -> bool {
        let Extras {
            text,
            input: _,
            output: _,
            error,
            metadata,
            tags,
            truncated,
            error_message,
            exception_type,
            llm,
            wire_span_id,
            taped: _,
            tape_site: _,
            tapes: _,
            charged,
        } = self;
        text.is_empty()
            && error.is_none()
            && metadata.is_empty()
            && tags.is_empty()
            && truncated.iter().all(|t| *t == 0)
            && error_message.is_none()
            && exception_type.is_none()
            && llm.is_empty()
            && wire_span_id.is_none()
            && charged.0 == 0
    }

    /// The tapes and their footer, the bytes [`Extras::set_trailer`] takes back (in two
    /// parts, so that nothing is copied to join them); `None` unless the buffer is the
    /// input's tape followed by the result's (each optional), as a span that recorded
    /// each once leaves it. Only for a box that holds nothing but tapes (what an
    /// instrumented function's span keeps while it runs, see `FnSpan`, or what
    /// `SpanRecord::take_tapes_only` checked; a full check costs more than the rest of a
    /// sync span's push, so it is only asserted in debug builds).
    #[inline]
    pub(crate) fn trailer(&self) -> Option<(&[u8], [u8; FOOTER])> {
        debug_assert!(self.only_tapes());
        let taped = |bit: u8, p: Option<super::Piece>| p.filter(|_| self.taped & bit != 0);
        let input = taped(TAPED_INPUT, self.input);
        let output = taped(TAPED_OUTPUT, self.output);
        let split = input.map_or(0, |p| p.end);
        let whole = self.tapes.len() as u32;
        if input.is_some_and(|p| p.start != 0)
            || output.is_some_and(|p| p.start != split || p.end != whole)
            || (output.is_none() && split != whole)
        {
            return None;
        }
        let length = |p: Option<super::Piece>| p.map_or(0, |p| (p.end - p.start) | TAPED);
        let site = self
            .tape_site
            .map_or(0, |s| s as *const Location<'static> as usize as u64);
        let mut footer = [0; FOOTER];
        footer[..4].copy_from_slice(&length(input).to_le_bytes());
        footer[4..8].copy_from_slice(&length(output).to_le_bytes());
        footer[8..].copy_from_slice(&site.to_le_bytes());
        Some((&self.tapes, footer))
    }

    /// Empties a box that held only tapes, for the thread's next span (its tape buffer's
    /// capacity stays, up to what the pool keeps).
    #[inline]
    pub(crate) fn clear_tapes(&mut self) {
        self.tapes.clear();
        if self.tapes.capacity() > super::TAPES_KEEP {
            self.tapes = Vec::new();
        }
        self.input = None;
        self.output = None;
        self.taped = 0;
        self.tape_site = None;
    }

    /// Takes the tapes of `bytes` (what [`Extras::trailer`] gave, joined) into this box,
    /// which holds none yet. Bytes that are not a trailer (never, but they come from a
    /// ring shared with another thread) leave the box without tapes.
    pub(crate) fn set_trailer(&mut self, bytes: &[u8]) {
        let Some(split) = bytes.len().checked_sub(FOOTER) else {
            return;
        };
        let (tapes, footer) = bytes.split_at(split);
        let word = |i: usize| {
            let mut w = [0; 4];
            w.copy_from_slice(&footer[i..i + 4]);
            u32::from_le_bytes(w)
        };
        let (input, output) = (word(0), word(4));
        let (in_len, out_len) = ((input & !TAPED) as usize, (output & !TAPED) as usize);
        if in_len + out_len != tapes.len() {
            return;
        }
        let mut site = [0; 8];
        site.copy_from_slice(&footer[8..]);
        let site = u64::from_le_bytes(site) as usize;
        let start = self.tapes.len();
        self.tapes.extend_from_slice(tapes);
        if input & TAPED != 0 {
            self.input = Some(piece(start, start + in_len));
            self.taped |= TAPED_INPUT;
        }
        if output & TAPED != 0 {
            self.output = Some(piece(start + in_len, start + in_len + out_len));
            self.taped |= TAPED_OUTPUT;
        }
        self.tape_site = (site != 0).then(|| {
            // SAFETY: a non-zero site is the address of a `&'static Location<'static>`
            // that `trailer` wrote in this process (a ring never leaves it): the location
            // lives for the whole program, so the reference is valid.
            unsafe { &*(site as *const Location<'static>) }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::extras::{ExtrasBox, Field};

    #[test]
    fn a_trailer_gives_the_same_tapes_to_a_new_box() {
        let site = Location::caller();
        let mut b = ExtrasBox::take();
        b.tapes_mut().extend_from_slice(b"in-tape");
        b.keep_tape(Field::Input, 0, Some(site));
        let start = b.tapes_mut().len();
        b.tapes_mut().extend_from_slice(b"result-tape");
        b.keep_tape(Field::Output, start, Some(site));
        assert!(b.only_tapes());
        let bytes = joined(&b).expect("input, then result");
        let mut other = ExtrasBox::take();
        other.set_trailer(&bytes);
        let mut back = ExtrasBox::take();
        other.move_tapes_into(&mut back);
        assert_eq!(other.tape_site.map(|s| s.line()), Some(site.line()));
        let mut want = ExtrasBox::take();
        b.clear_tapes();
        assert!(
            !b.has_tapes() && b.tapes_mut().is_empty(),
            "cleared for the next span"
        );
        want.set_input_tape(b"in-tape", Some(site));
        want.set_output_tape(b"result-tape", Some(site));
        assert_eq!(format!("{:?}", &*back), format!("{:?}", &*want));
    }

    #[test]
    fn only_the_result_or_nothing_travels_too() {
        let mut b = ExtrasBox::take();
        b.tapes_mut().extend_from_slice(b"r");
        b.keep_tape(Field::Output, 0, None);
        let bytes = joined(&b).expect("a result alone");
        let mut other = ExtrasBox::take();
        other.set_trailer(&bytes);
        assert!(other.input.is_none());
        assert_eq!(
            other.output.map(|p| other.tape(p).to_vec()),
            Some(b"r".to_vec())
        );
        assert!(other.tape_site.is_none());
        let mut short = ExtrasBox::take();
        short.set_trailer(&bytes[..FOOTER - 1]);
        assert!(
            !short.has_tapes(),
            "bytes that are not a trailer are ignored"
        );
    }

    #[test]
    fn an_input_recorded_twice_travels_in_the_box() {
        let mut b = ExtrasBox::take();
        b.tapes_mut().extend_from_slice(b"old");
        b.keep_tape(Field::Input, 0, None);
        b.tapes_mut().extend_from_slice(b"new");
        b.keep_tape(Field::Input, 3, None);
        assert!(b.trailer().is_none(), "the buffer is not input then result");
    }

    /// The trailer's two parts, joined as the ring's tape holds them.
    fn joined(b: &Extras) -> Option<Vec<u8>> {
        let (tapes, footer) = b.trailer()?;
        Some([tapes, &footer[..]].concat())
    }
}
