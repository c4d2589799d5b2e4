//! The serde side of the JSON writer (see `json`): `Serializer` for `&mut Writer`, its
//! compound values, and map keys.

use super::json::{Error, MAX_DEPTH, R};
use super::text::Bounded;
use super::Writer;
use serde::ser::{self, Serialize};
use std::fmt;

pub(super) fn int<I: itoa::Integer>(w: &mut Writer, v: I) -> R {
    w.scalar(itoa::Buffer::new().format(v))
}

pub(super) fn float<F: Serialize>(w: &mut Writer, v: F, finite: bool) -> R {
    if !finite {
        return w.scalar("null");
    }
    // serde_json's own formatting, through a stack buffer.
    let mut b = [0u8; 32];
    let mut s: &mut [u8] = &mut b;
    let n = match serde_json::to_writer(&mut s, &v) {
        Ok(()) => 32 - s.len(),
        Err(_) => return w.scalar("null"),
    };
    match std::str::from_utf8(&b[..n]) {
        Ok(t) => w.scalar(t),
        Err(_) => w.scalar("null"),
    }
}

/// The serializer methods for every integer type, each handing its value to `$write` (a
/// function of the serializer and an `itoa::Integer`): one list for values and map keys.
macro_rules! int_methods {
    ($write:ident) => {
        int_methods!($write; serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
            serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
            serialize_u32: u32, serialize_u64: u64, serialize_u128: u128);
    };
    ($write:ident; $($f:ident: $t:ty),*) => {$(
        fn $f(self, v: $t) -> R {
            $write(self, v)
        }
    )*};
}

impl Writer {
    /// `{"variant":` then the container of a tuple (`[`) or struct (`{`) variant's fields.
    pub(super) fn begin_variant(&mut self, variant: &'static str, object: bool) -> R {
        self.begin(true)?;
        self.variant_key(variant)?;
        self.begin(object)
    }

    /// Closes a tuple or struct variant: its fields' container, then the `{"variant":…}`
    /// around it.
    pub(super) fn end_variant(&mut self) -> R {
        self.end()?;
        self.end_member();
        self.end()
    }

    /// A map key left without a value (a broken `Serialize`) gets `null`, so the object
    /// stays well formed.
    pub(super) fn close_dangling_key(&mut self) -> R {
        if self.st.key_pending {
            self.scalar("null")?;
            self.end_member();
        }
        Ok(())
    }
}

/// `serialize_tuple_variant` and `serialize_struct_variant`: the same opening, with the
/// fields in an array (`false`) or an object (`true`).
macro_rules! variant_openers {
    ($($f:ident: $object:literal),*) => {$(
        fn $f(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
            _: usize,
        ) -> Result<Self, Error> {
            self.begin_variant(variant, $object)?;
            Ok(self)
        }
    )*};
}

impl ser::Serializer for &mut Writer {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    int_methods!(int);

    fn serialize_bool(self, v: bool) -> R {
        self.scalar(if v { "true" } else { "false" })
    }
    fn serialize_f32(self, v: f32) -> R {
        float(self, v, v.is_finite())
    }
    fn serialize_f64(self, v: f64) -> R {
        float(self, v, v.is_finite())
    }
    fn serialize_char(self, v: char) -> R {
        self.leaf_str(v.encode_utf8(&mut [0u8; 4]))
    }
    fn serialize_str(self, v: &str) -> R {
        self.leaf_str(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> R {
        self.begin(false)?;
        for b in v {
            self.element()?;
            int(self, *b)?;
        }
        self.end()
    }
    fn serialize_none(self) -> R {
        self.scalar("null")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> R {
        self.nested(v)
    }
    fn serialize_unit(self) -> R {
        self.scalar("null")
    }
    fn serialize_unit_struct(self, _: &'static str) -> R {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> R {
        self.leaf_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> R {
        self.nested(v)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> R {
        self.begin(true)?;
        self.member(variant, |w| w.nested(v))?;
        self.end()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, Error> {
        self.begin(false)?;
        Ok(self)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Self, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, Error> {
        self.begin(true)?;
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Error> {
        self.serialize_map(None)
    }
    variant_openers!(serialize_tuple_variant: false, serialize_struct_variant: true);
    fn collect_str<T: fmt::Display + ?Sized>(self, v: &T) -> R {
        match self.leaf_fmt(format_args!("{v}")) {
            Ok(r) => r,
            Err(()) => Err(Error::Custom("a Display impl returned an error".into())),
        }
    }
}

/// The compound serializers whose elements are unnamed: each element is an array element;
/// `$end` closes the array (and, for a variant, the object around it).
macro_rules! positional_compounds {
    ($($trait:ident::$method:ident, $end:ident;)*) => {$(
        impl ser::$trait for &mut Writer {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> R {
                self.element()?;
                self.nested(v)
            }
            fn end(self) -> R {
                Writer::$end(self)
            }
        }
    )*};
}

positional_compounds! {
    SerializeSeq::serialize_element, end;
    SerializeTuple::serialize_element, end;
    SerializeTupleStruct::serialize_field, end;
    SerializeTupleVariant::serialize_field, end_variant;
}

/// The compound serializers whose fields are named in code: each field is an object member;
/// `$end` as in `positional_compounds`.
macro_rules! named_compounds {
    ($($trait:ident, $end:ident;)*) => {$(
        impl ser::$trait for &mut Writer {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, k: &'static str, v: &T) -> R {
                self.member(k, |w| w.nested(v))
            }
            fn end(self) -> R {
                Writer::$end(self)
            }
        }
    )*};
}

named_compounds! {
    SerializeStruct, end;
    SerializeStructVariant, end_variant;
}

impl ser::SerializeMap for &mut Writer {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> R {
        self.close_dangling_key()?;
        k.serialize(KeySer(&mut **self))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> R {
        if !self.st.key_pending {
            self.key("")?;
        }
        let r = if std::mem::take(&mut self.st.redact_next) {
            self.redacted()
        } else {
            self.nested(v)
        };
        self.end_member();
        r
    }
    fn end(self) -> R {
        self.close_dangling_key()?;
        Writer::end(self)
    }
}

/// Where a map key's text goes: the JSON writer, or a tape (see `tape`). The text is
/// made once, by [`KeySer`], for both: a key accepted or refused when written directly is
/// accepted or refused when recorded.
pub(super) trait KeyOut: Sized {
    /// Takes the key's text.
    fn text(self, k: &str) -> R;
    /// Serializes `v` (the inside of a newtype key) one level down, with [`KeySer`];
    /// refused past [`MAX_DEPTH`].
    fn nested<T: Serialize + ?Sized>(self, v: &T) -> R;
}

impl KeyOut for &mut Writer {
    fn text(self, k: &str) -> R {
        self.key(k)
    }
    fn nested<T: Serialize + ?Sized>(self, v: &T) -> R {
        if self.st.depth >= MAX_DEPTH {
            return not_a_string();
        }
        self.st.depth += 1;
        let r = v.serialize(KeySer(&mut *self));
        self.st.depth -= 1;
        r
    }
}

/// Map keys: strings as they are, numbers and booleans quoted (as serde_json writes them);
/// anything else is an error, as in serde_json.
pub(super) struct KeySer<K>(pub K);

impl<K: KeyOut> KeySer<K> {
    fn text(self, k: &str) -> R {
        self.0.text(k)
    }
    fn refuse(self) -> R {
        not_a_string()
    }
}

/// Why a key that is not text, a number or a boolean is refused.
pub(super) fn not_a_string<T>() -> Result<T, Error> {
    Err(Error::Custom("a map key must be a string".into()))
}

/// Numbers as keys: their decimal text, quoted.
fn int_key<K: KeyOut, I: itoa::Integer>(k: KeySer<K>, v: I) -> R {
    k.text(itoa::Buffer::new().format(v))
}

/// The serializer methods that start a container: a key cannot be one.
macro_rules! refuse_containers {
    ($($f:ident($($arg:ty),*) -> $out:ident;)*) => {$(
        fn $f(self, $(_: $arg),*) -> Result<Self::$out, Error> {
            not_a_string()
        }
    )*};
}

impl<K: KeyOut> ser::Serializer for KeySer<K> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    int_methods!(int_key);

    fn serialize_bool(self, v: bool) -> R {
        self.text(if v { "true" } else { "false" })
    }
    fn serialize_f32(self, v: f32) -> R {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> R {
        if !v.is_finite() {
            return self.refuse();
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
    fn serialize_bytes(self, _: &[u8]) -> R {
        self.refuse()
    }
    fn serialize_none(self) -> R {
        self.refuse()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> R {
        self.refuse()
    }
    fn serialize_unit(self) -> R {
        self.refuse()
    }
    fn serialize_unit_struct(self, _: &'static str) -> R {
        self.refuse()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> R {
        self.text(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> R {
        // Transparent, as serde_json; bounded by the key's own depth (a newtype of a newtype
        // of a string is still a string).
        self.0.nested(v)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> R {
        self.refuse()
    }
    refuse_containers! {
        serialize_seq(Option<usize>) -> SerializeSeq;
        serialize_tuple(usize) -> SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> SerializeTupleVariant;
        serialize_map(Option<usize>) -> SerializeMap;
        serialize_struct(&'static str, usize) -> SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> SerializeStructVariant;
    }
    fn collect_str<T: fmt::Display + ?Sized>(self, v: &T) -> R {
        let mut s = String::new();
        let mut b = Bounded::new(&mut s, 4096);
        let _ = fmt::write(&mut b, format_args!("{v}"));
        self.text(&s)
    }
}
