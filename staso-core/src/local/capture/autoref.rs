//! Which capture a value gets, chosen at compile time by method lookup through
//! references ("autoref specialisation"): the macros write
//! `(&&&&Capture(&value)).__staso_capture(out)`, and the first trait whose receiver
//! matches wins, from the most capable down: a plain scalar, `Serialize`, `Debug`, else a
//! placeholder.

use super::Out;
use serde::Serialize;
use std::fmt;

/// Wraps a reference for capture; see [`CaptureScalar`], [`CaptureSerialize`],
/// [`CaptureDebug`] and [`CaptureOpaque`].
pub struct Capture<'a, T: ?Sized>(pub &'a T);

/// Chosen when the value is a string, an integer of up to 64 bits or a `bool`: written
/// directly, as its `Serialize` would write it, without serde or a panic guard (the
/// commonest arguments and results; the guard and the calls cost more than the value).
pub trait CaptureScalar {
    /// Writes the value.
    fn __staso_capture(&self, out: &mut Out<'_>);
}

/// Chosen when the value is `Serialize`: captured as JSON.
pub trait CaptureSerialize {
    /// Writes the value.
    fn __staso_capture(&self, out: &mut Out<'_>);
}

/// Chosen when the value is `Debug` but not `Serialize`: captured as its `Debug` text.
pub trait CaptureDebug {
    /// Writes the value.
    fn __staso_capture(&self, out: &mut Out<'_>);
}

/// Chosen for every other value: a placeholder naming the type.
pub trait CaptureOpaque {
    /// Writes the value.
    fn __staso_capture(&self, out: &mut Out<'_>);
}

/// [`CaptureScalar`] for `$t`, written by `Out::$write` after `$conv`.
macro_rules! scalars {
    ($($t:ty => |$v:ident| $write:ident($e:expr);)*) => {$(
        impl CaptureScalar for &&&Capture<'_, $t> {
            #[inline]
            fn __staso_capture(&self, out: &mut Out<'_>) {
                let $v = self.0;
                out.$write($e);
            }
        }
    )*};
}

scalars! {
    str => |v| str(v);
    &str => |v| str(v);
    String => |v| str(v);
    &String => |v| str(v);
    bool => |v| bool(*v);
    u8 => |v| uint(u64::from(*v));
    u16 => |v| uint(u64::from(*v));
    u32 => |v| uint(u64::from(*v));
    u64 => |v| uint(*v);
    usize => |v| uint(*v as u64);
    i8 => |v| int(i64::from(*v));
    i16 => |v| int(i64::from(*v));
    i32 => |v| int(i64::from(*v));
    i64 => |v| int(*v);
    isize => |v| int(*v as i64);
}

impl<T: Serialize + ?Sized> CaptureSerialize for &&Capture<'_, T> {
    fn __staso_capture(&self, out: &mut Out<'_>) {
        out.serialize(self.0);
    }
}

impl<T: fmt::Debug + ?Sized> CaptureDebug for &Capture<'_, T> {
    fn __staso_capture(&self, out: &mut Out<'_>) {
        out.debug(self.0);
    }
}

impl<T: ?Sized> CaptureOpaque for Capture<'_, T> {
    fn __staso_capture(&self, out: &mut Out<'_>) {
        out.placeholder::<T>("not Serialize or Debug");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind of value takes the tier meant for it: the scalar one writes exactly
    /// what `Serialize` writes.
    #[test]
    // Written as the macros write it: the four references are what picks the tier.
    #[allow(clippy::needless_borrow)]
    fn each_value_takes_its_tier() {
        use crate::local::capture::tape_tests::direct_doc;
        #[derive(Debug)]
        struct OnlyDebug;
        struct Nothing;
        let s = String::from("s \"q\"");
        let doc = direct_doc(|i| {
            i.arg("str", |o| (&&&&Capture("a\nb")).__staso_capture(o));
            i.arg("string", |o| (&&&&Capture(&s)).__staso_capture(o));
            i.arg("u", |o| (&&&&Capture(&u64::MAX)).__staso_capture(o));
            i.arg("i", |o| (&&&&Capture(&i64::MIN)).__staso_capture(o));
            i.arg("usize", |o| (&&&&Capture(&7usize)).__staso_capture(o));
            i.arg("b", |o| (&&&&Capture(&true)).__staso_capture(o));
            i.arg("vec", |o| (&&&&Capture(&vec![1, 2])).__staso_capture(o));
            i.arg("debug", |o| (&&&&Capture(&OnlyDebug)).__staso_capture(o));
            i.arg("opaque", |o| (&&&&Capture(&Nothing)).__staso_capture(o));
        });
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&doc).expect("JSON"),
            serde_json::json!({
                "str": "a\nb", "string": "s \"q\"", "u": u64::MAX, "i": i64::MIN,
                "usize": 7, "b": true, "vec": [1, 2], "debug": "OnlyDebug",
                "opaque": format!("<{}: not Serialize or Debug>", std::any::type_name::<Nothing>()),
            })
        );
    }
}
