//! The tape's bytes: one tag per serde event, integers in as few bytes as they need.

/// Event tags. A value is one event, or an opening event, its parts, and [`END`].
pub(crate) mod op {
    pub const NULL: u8 = 1;
    pub const TRUE: u8 = 2;
    pub const FALSE: u8 = 3;
    pub const U64: u8 = 4;
    pub const I64: u8 = 5;
    pub const U128: u8 = 6;
    pub const I128: u8 = 7;
    pub const F32: u8 = 8;
    pub const F64: u8 = 9;
    /// A whole string.
    pub const STR: u8 = 10;
    /// The beginning of a string, cut at the tape's bound, then its whole length.
    pub const STR_CUT: u8 = 11;
    pub const BYTES: u8 = 12;
    pub const SOME: u8 = 13;
    pub const UNIT_VARIANT: u8 = 14;
    pub const NEWTYPE: u8 = 15;
    pub const NEWTYPE_VARIANT: u8 = 16;
    pub const SEQ: u8 = 17;
    pub const TUPLE_VARIANT: u8 = 18;
    pub const MAP: u8 = 19;
    pub const STRUCT: u8 = 20;
    pub const STRUCT_VARIANT: u8 = 21;
    pub const END: u8 = 22;
    /// A map key, as the text the writer makes of it.
    pub const KEY: u8 = 23;
    /// A map value follows.
    pub const VALUE: u8 = 24;
    /// The value of a secret key or name: not recorded (the writer redacts it).
    pub const SKIPPED: u8 = 25;
    /// A struct field's name (a value or [`SKIPPED`] follows).
    pub const FIELD: u8 = 26;
    /// `Debug`/`Display` text: the text, whether it was cut, its whole length.
    pub const FMT: u8 = 27;
    /// A value nested too deep: its type name.
    pub const DEEP: u8 = 28;
    /// The tape's bound was reached: the document ends here, cut.
    pub const STOP: u8 = 29;
    /// A top-level member (an argument, `agent_name`, `result`): its name, then a value
    /// or [`SKIPPED`].
    pub const ARG: u8 = 30;

    // An integer's head keeps its top three bits for the byte count (`int_head`).
    const _: () = assert!(ARG < 32);
}

/// Bytes of `v` that are not leading zeros: 1 to 8 (a zero takes one).
#[inline(always)]
pub(crate) fn int_len(v: u64) -> usize {
    (71 - (v | 1).leading_zeros() as usize) / 8
}

/// An integer's first byte: `head` (an event tag, below 32, or 0 before a length) and,
/// in the top three bits, its byte count less one (see [`int_len`]).
#[inline(always)]
pub(crate) fn int_head(head: u8, n: usize) -> u8 {
    head | (((n - 1) as u8) << 5)
}

/// The bits of an integer's head that say which event it is (see [`int_head`]).
pub(crate) const INT_TAG: u8 = 0x1f;

/// An integer's byte count, from its head (see [`int_head`]).
pub(crate) fn int_count(head: u8) -> usize {
    usize::from(head >> 5) + 1
}
