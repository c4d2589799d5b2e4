//! The compile-time choice of how to capture a value: JSON when it is `Serialize`, its
//! `Debug` text otherwise, a placeholder when it is neither.

use serde::Serialize;

/// A value captured from user code, ready to be put into a span.
pub type Captured = serde_json::Value;

/// Wraps a reference for capture; see [`CaptureSerialize`], [`CaptureDebug`] and
/// [`CaptureOpaque`]. The macros write `(&&&Capture(&value)).__staso_capture()`, and
/// method resolution picks the most capable of the three at compile time.
pub struct Capture<'a, T: ?Sized>(pub &'a T);

/// Chosen when the value is `Serialize`: captured as JSON. A failing or panicking
/// `Serialize` impl gives a placeholder instead of an error.
pub trait CaptureSerialize {
    /// The captured value.
    fn __staso_capture(&self) -> Captured;
}

/// Chosen when the value is `Debug` but not `Serialize`: captured as its `Debug` text.
pub trait CaptureDebug {
    /// The captured value.
    fn __staso_capture(&self) -> Captured;
}

/// Chosen for every other value: a placeholder naming the type.
pub trait CaptureOpaque {
    /// The captured value.
    fn __staso_capture(&self) -> Captured;
}

impl<T: Serialize + ?Sized> CaptureSerialize for &&Capture<'_, T> {
    fn __staso_capture(&self) -> Captured {
        to_value_safely(self.0)
    }
}

impl<T: std::fmt::Debug + ?Sized> CaptureDebug for &Capture<'_, T> {
    fn __staso_capture(&self) -> Captured {
        let v = self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| format!("{v:?}"))) {
            Ok(s) => serde_json::Value::String(s),
            Err(_) => placeholder::<T>("Debug panicked"),
        }
    }
}

impl<T: ?Sized> CaptureOpaque for Capture<'_, T> {
    fn __staso_capture(&self) -> Captured {
        placeholder::<T>("not Serialize or Debug")
    }
}

fn placeholder<T: ?Sized>(why: &str) -> Captured {
    serde_json::Value::String(format!("<{}: {why}>", std::any::type_name::<T>()))
}

/// Serializes a user value, turning a failing or panicking `Serialize` impl into a
/// placeholder. Non-finite floats become `null`, as serde_json writes them.
pub fn to_value_safely<T: Serialize + ?Sized>(v: &T) -> Captured {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serde_json::to_value(v))) {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => serde_json::Value::String(format!(
            "<{}: not serializable: {e}>",
            std::any::type_name::<T>()
        )),
        Err(_) => placeholder::<T>("Serialize panicked"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct OnlyDebug(#[allow(dead_code)] u8);
    struct Nothing;

    #[test]
    #[allow(clippy::needless_borrow)]
    fn autoref_picks_serialize_then_debug_then_placeholder() {
        assert_eq!((&&&Capture(&5u32)).__staso_capture(), serde_json::json!(5));
        assert_eq!(
            (&&&Capture(&OnlyDebug(3))).__staso_capture(),
            serde_json::json!("OnlyDebug(3)")
        );
        let p = (&&&Capture(&Nothing)).__staso_capture();
        assert!(p.as_str().expect("string").contains("Nothing"), "{p}");
    }
}
