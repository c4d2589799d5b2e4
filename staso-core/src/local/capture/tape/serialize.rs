//! The serde side of the recorder: `Serializer` for `&mut Recorder`, its compound
//! values, and map keys made into text as the writer's key serializer makes them.

use super::super::json::{Error, MAX_DEPTH, R};
use super::super::redact::{is_secret_key, scrub};
use super::super::ser::{not_a_string, KeyOut, KeySer};
use super::super::RulesHandle;
use super::{op, Recorder};
use serde::ser::{self, Serialize};
use std::fmt;

fn uint(r: &mut Recorder, v: u64) -> R {
    r.leaf_uint(v)
}

fn int(r: &mut Recorder, v: i64) -> R {
    r.leaf_int(v)
}

/// Integers up to 64 bits, widened to `i64` or `u64` (their JSON text is the same).
macro_rules! widened {
    ($($f:ident: $t:ty => $write:ident),*) => {$(
        fn $f(self, v: $t) -> R {
            $write(self, v.into())
        }
    )*};
}

/// Values kept as their little-endian bytes after their tag.
macro_rules! fixed_width {
    ($($f:ident: $t:ty => $tag:ident),*) => {$(
        fn $f(self, v: $t) -> R {
            self.event(op::$tag)?;
            self.tape.extend_from_slice(&v.to_le_bytes());
            Ok(())
        }
    )*};
}

/// The writer's depth rule for a variant's fields (see `ser::begin_variant`): two
/// containers.
const VARIANT_LEVELS: u32 = 2;

impl ser::Serializer for &mut Recorder {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    widened! {
        serialize_i8: i8 => int, serialize_i16: i16 => int, serialize_i32: i32 => int,
        serialize_i64: i64 => int, serialize_u8: u8 => uint, serialize_u16: u16 => uint,
        serialize_u32: u32 => uint, serialize_u64: u64 => uint
    }
    fixed_width! {
        serialize_i128: i128 => I128, serialize_u128: u128 => U128,
        serialize_f32: f32 => F32, serialize_f64: f64 => F64
    }
    fn serialize_bool(self, v: bool) -> R {
        self.leaf_bool(v)
    }
    fn serialize_char(self, v: char) -> R {
        self.leaf_str(v.encode_utf8(&mut [0u8; 4]))
    }
    fn serialize_str(self, v: &str) -> R {
        self.leaf_str(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> R {
        self.check()?;
        // Each byte is at least two bytes of JSON: half the room is already past the
        // writer's bound.
        let take = v.len().min(self.room());
        self.tagged_bytes(op::BYTES, &v[..take]);
        if take < v.len() {
            self.stop();
            return Err(Error::Full);
        }
        Ok(())
    }
    fn serialize_none(self) -> R {
        self.event(op::NULL)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> R {
        self.event(op::SOME)?;
        self.nested(v)
    }
    fn serialize_unit(self) -> R {
        self.event(op::NULL)
    }
    fn serialize_unit_struct(self, _: &'static str) -> R {
        self.event(op::NULL)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> R {
        self.named(op::UNIT_VARIANT, variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> R {
        self.event(op::NEWTYPE)?;
        self.nested(v)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> R {
        // The writer opens an object whose one member is the variant.
        self.open += 1;
        let r = self.member(op::NEWTYPE_VARIANT, variant, |r| r.nested(v));
        self.open -= 1;
        r
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, Error> {
        self.open_container(op::SEQ, 1)?;
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, Error> {
        self.serialize_seq(None)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, Error> {
        self.serialize_seq(None)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self, Error> {
        self.open_variant(op::TUPLE_VARIANT, variant)?;
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, Error> {
        self.open_container(op::MAP, 1)?;
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Error> {
        self.open_container(op::STRUCT, 1)?;
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self, Error> {
        self.open_variant(op::STRUCT_VARIANT, variant)?;
        Ok(self)
    }
    fn collect_str<T: fmt::Display + ?Sized>(self, v: &T) -> R {
        match self.leaf_fmt(format_args!("{v}")) {
            Ok(r) => r,
            Err(()) => Err(Error::Custom("a Display impl returned an error".into())),
        }
    }
}

/// Compounds whose elements are unnamed (`$levels`: containers their opening opened).
macro_rules! positional {
    ($($trait:ident::$method:ident, $levels:expr;)*) => {$(
        impl ser::$trait for &mut Recorder {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> R {
                self.nested(v)
            }
            fn end(self) -> R {
                self.close($levels)
            }
        }
    )*};
}

positional! {
    SerializeSeq::serialize_element, 1;
    SerializeTuple::serialize_element, 1;
    SerializeTupleStruct::serialize_field, 1;
    SerializeTupleVariant::serialize_field, VARIANT_LEVELS;
}

macro_rules! named {
    ($($trait:ident, $levels:expr;)*) => {$(
        impl ser::$trait for &mut Recorder {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, k: &'static str, v: &T) -> R {
                self.member(op::FIELD, k, |r| r.nested(v))
            }
            fn end(self) -> R {
                self.close($levels)
            }
        }
    )*};
}

named! {
    SerializeStruct, 1;
    SerializeStructVariant, VARIANT_LEVELS;
}

impl ser::SerializeMap for &mut Recorder {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> R {
        self.check()?;
        // The key's text straight into the tape, after a 4-byte length written last.
        let mark = self.tape.len();
        self.tape.push(op::KEY);
        self.tape.extend_from_slice(&[0; 4]);
        let r = k.serialize(KeySer(KeyText {
            tape: &mut self.tape,
            depth: self.depth,
        }));
        if let Err(e) = r {
            self.tape.truncate(mark);
            return Err(e);
        }
        let len = u32::try_from(self.tape.len() - mark - 5).unwrap_or(u32::MAX);
        // The writer scrubs a key, then redacts its value when it looks secret.
        let secret = self.redact && {
            if self.handle.is_none() {
                self.handle = RulesHandle::current();
            }
            let text = std::str::from_utf8(&self.tape[mark + 5..]).unwrap_or_default();
            let api_key = self
                .handle
                .as_ref()
                .map_or("", |h| h.config().api_key.expose());
            is_secret_key(&scrub(text, true, api_key))
        };
        self.tape[mark + 1..mark + 5].copy_from_slice(&len.to_le_bytes());
        self.key_secret = Some(secret);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> R {
        self.check()?;
        // A value without a key has the key "", which is not secret.
        if self.key_secret.take().unwrap_or(false) {
            self.tape.push(op::SKIPPED);
            return Ok(());
        }
        self.tape.push(op::VALUE);
        self.nested(v)
    }
    fn end(self) -> R {
        self.key_secret = None;
        self.close(1)
    }
}

/// A map key's text, written into the tape by the writer's own key serializer
/// ([`KeySer`]).
struct KeyText<'t> {
    tape: &'t mut Vec<u8>,
    depth: u32,
}

impl KeyOut for KeyText<'_> {
    fn text(self, k: &str) -> R {
        self.tape.extend_from_slice(k.as_bytes());
        Ok(())
    }
    fn nested<T: Serialize + ?Sized>(self, v: &T) -> R {
        if self.depth >= MAX_DEPTH {
            return not_a_string();
        }
        v.serialize(KeySer(KeyText {
            tape: self.tape,
            depth: self.depth + 1,
        }))
    }
}
