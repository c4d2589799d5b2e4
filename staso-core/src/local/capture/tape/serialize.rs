//! The serde side of the recorder: `Serializer` for `&mut Recorder`, its compound
//! values, and map keys made into text as the writer's key serializer makes them.

use super::super::json::{Error, MAX_DEPTH, R};
use super::super::redact::{is_secret_key, scrub};
use super::super::text::Bounded;
use super::super::RulesHandle;
use super::{op, Recorder};
use serde::ser::{self, Serialize};
use std::fmt;

#[inline]
fn uint(r: &mut Recorder, v: u64) -> R {
    r.check()?;
    r.tagged_varint(op::U64, v);
    Ok(())
}

#[inline]
fn int(r: &mut Recorder, v: i64) -> R {
    r.check()?;
    r.tagged_varint(op::I64, ((v << 1) ^ (v >> 63)) as u64);
    Ok(())
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

    fn serialize_i8(self, v: i8) -> R {
        int(self, v.into())
    }
    fn serialize_i16(self, v: i16) -> R {
        int(self, v.into())
    }
    fn serialize_i32(self, v: i32) -> R {
        int(self, v.into())
    }
    fn serialize_i64(self, v: i64) -> R {
        int(self, v)
    }
    fn serialize_u8(self, v: u8) -> R {
        uint(self, v.into())
    }
    fn serialize_u16(self, v: u16) -> R {
        uint(self, v.into())
    }
    fn serialize_u32(self, v: u32) -> R {
        uint(self, v.into())
    }
    fn serialize_u64(self, v: u64) -> R {
        uint(self, v)
    }
    fn serialize_i128(self, v: i128) -> R {
        self.event(op::I128)?;
        self.tape.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> R {
        self.event(op::U128)?;
        self.tape.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_bool(self, v: bool) -> R {
        self.event(if v { op::TRUE } else { op::FALSE })
    }
    fn serialize_f32(self, v: f32) -> R {
        self.event(op::F32)?;
        self.tape.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> R {
        self.event(op::F64)?;
        self.tape.extend_from_slice(&v.to_le_bytes());
        Ok(())
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
        let r = k.serialize(KeyText {
            tape: &mut self.tape,
            depth: self.depth,
        });
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

/// Map keys as the writer's key serializer makes them (`ser::KeySer`): strings as they
/// are, numbers and booleans as their text, anything else refused with the same error.
struct KeyText<'t> {
    tape: &'t mut Vec<u8>,
    depth: u32,
}

impl KeyText<'_> {
    fn text(self, k: &str) -> R {
        self.tape.extend_from_slice(k.as_bytes());
        Ok(())
    }
}

fn int_key<I: itoa::Integer>(k: KeyText<'_>, v: I) -> R {
    k.text(itoa::Buffer::new().format(v))
}

macro_rules! int_keys {
    ($($f:ident: $t:ty),*) => {$(
        fn $f(self, v: $t) -> R {
            int_key(self, v)
        }
    )*};
}

macro_rules! refuse {
    ($($f:ident($($arg:ty),*) -> $out:ty;)*) => {$(
        fn $f(self, $(_: $arg),*) -> Result<$out, Error> {
            super::super::ser::not_a_string()
        }
    )*};
}

type No = ser::Impossible<(), Error>;

impl ser::Serializer for KeyText<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = No;
    type SerializeTuple = No;
    type SerializeTupleStruct = No;
    type SerializeTupleVariant = No;
    type SerializeMap = No;
    type SerializeStruct = No;
    type SerializeStructVariant = No;

    int_keys!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_u128: u128);

    fn serialize_bool(self, v: bool) -> R {
        self.text(if v { "true" } else { "false" })
    }
    fn serialize_f32(self, v: f32) -> R {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> R {
        if !v.is_finite() {
            return super::super::ser::not_a_string();
        }
        let s = serde_json::to_string(&v).unwrap_or_default();
        self.text(&s)
    }
    fn serialize_char(self, v: char) -> R {
        self.text(v.encode_utf8(&mut [0u8; 4]))
    }
    fn serialize_str(self, v: &str) -> R {
        self.text(v)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> R {
        self.text(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> R {
        if self.depth >= MAX_DEPTH {
            return super::super::ser::not_a_string();
        }
        v.serialize(KeyText {
            tape: self.tape,
            depth: self.depth + 1,
        })
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> R {
        super::super::ser::not_a_string()
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> R {
        super::super::ser::not_a_string()
    }
    refuse! {
        serialize_bytes(&[u8]) -> ();
        serialize_none() -> ();
        serialize_unit() -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_seq(Option<usize>) -> No;
        serialize_tuple(usize) -> No;
        serialize_tuple_struct(&'static str, usize) -> No;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> No;
        serialize_map(Option<usize>) -> No;
        serialize_struct(&'static str, usize) -> No;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> No;
    }
    fn collect_str<T: fmt::Display + ?Sized>(self, v: &T) -> R {
        let mut s = String::new();
        let mut b = Bounded::new(&mut s, 4096);
        let _ = fmt::write(&mut b, format_args!("{v}"));
        self.text(&s)
    }
}
