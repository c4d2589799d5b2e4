//! Redaction and the mask hook over a `serde_json::Value`, for the guard, which builds its
//! request from values (see `guard`). Spans do not use this: their values are redacted and
//! masked while they are captured (`local::capture`), with the same key rule.

use crate::local::capture::is_secret_key;
use serde_json::Value;
use staso_types::REDACTED;

/// Deeper than this, a value is left as it is (capture bounds depth at 64 already).
const MAX_DEPTH: usize = 128;

/// Replaces the values of secret-looking keys, at any depth up to [`MAX_DEPTH`].
pub(crate) fn redact(v: &mut Value, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if is_secret_key(k) {
                    *val = Value::String(REDACTED.into());
                } else {
                    redact(val, depth + 1);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| redact(i, depth + 1)),
        _ => {}
    }
}

/// Applies the user's mask hook to every string in `v` (with the nearest key); a
/// panicking hook gives a placeholder, silently (see `panic`).
pub(crate) fn mask(
    v: &mut Value,
    key: &str,
    f: &(dyn Fn(&str, &str) -> Option<String> + Send + Sync),
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Value::String(s) => match crate::panic::contain(|| f(key, s)) {
            Ok(Some(new)) => *s = new,
            Ok(None) => {}
            Err(_) => *s = "<mask hook panicked>".into(),
        },
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                mask(val, k, f, depth + 1);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| mask(i, key, f, depth + 1)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_keys_are_redacted_at_any_depth() {
        let mut v = json!({"user": "a", "api_keys": ["k"], "nested": [{"pwd": "p", "n": 1}]});
        redact(&mut v, 0);
        assert_eq!(
            v,
            json!({"user": "a", "api_keys": REDACTED, "nested": [{"pwd": REDACTED, "n": 1}]})
        );
    }
}
