//! What leaves the process: secrets redacted, the user's mask applied, oversized fields
//! truncated. Runs on the batcher thread, never on the caller's.

use serde_json::Value;

/// Keys whose values are replaced with `[REDACTED]` (compared case-insensitively, with
/// `-` and `_` ignored, and as a suffix: `openai_api_key` matches `apikey`).
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "auth",
    "cookie",
    "privatekey",
    "clientsecret",
    "accesskey",
    "credentials",
];

use staso_types::REDACTED;

/// Whether a key names a secret. The contract's operational keys never do
/// (`time_to_first_token` is a duration, not a token).
pub(crate) fn is_secret_key(key: &str) -> bool {
    if staso_types::OPERATIONAL_KEYS.contains(&key) {
        return false;
    }
    let norm: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-' && *c != '.')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_KEYS.iter().any(|s| norm.ends_with(s))
}

/// Replaces the values of secret-looking keys, at any depth. Depth is bounded so a
/// pathological value cannot exhaust the stack.
pub(crate) fn redact(v: &mut Value, depth: usize) {
    if depth > 64 {
        *v = Value::String("[too deep]".into());
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
/// panicking hook gives a placeholder. Depth is bounded like [`redact`].
pub(crate) fn mask(
    v: &mut Value,
    key: &str,
    f: &(dyn Fn(&str, &str) -> Option<String> + Send + Sync),
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    match v {
        Value::String(s) => {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(key, s))) {
                Ok(Some(new)) => *s = new,
                Ok(None) => {}
                Err(_) => *s = "<mask hook panicked>".into(),
            }
        }
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                mask(val, k, f, depth + 1);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| mask(i, key, f, depth + 1)),
        _ => {}
    }
}

/// Serializes a captured value to the wire string, truncating it past `max` bytes.
/// Returns the string and, when truncated, the original size. A truncated document is
/// sent as a JSON string holding its first `max` bytes (cut on a UTF-8 boundary), so the
/// field is still valid JSON.
pub(crate) fn to_wire_string(v: &Value, max: usize) -> (String, Option<usize>) {
    let s = serde_json::to_string(v).unwrap_or_else(|_| "\"<unserializable>\"".into());
    if s.len() <= max {
        return (s, None);
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let truncated = format!("{}…[truncated]", &s[..cut]);
    let wrapped = serde_json::to_string(&truncated).unwrap_or_default();
    (wrapped, Some(s.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let mut v = json!({"user": "a", "Password": "p", "nested": [{"openai_api_key": "k", "n": 1}], "Authorization": "Bearer x"});
        redact(&mut v, 0);
        assert_eq!(
            v,
            json!({"user": "a", "Password": REDACTED, "nested": [{"openai_api_key": REDACTED, "n": 1}], "Authorization": REDACTED})
        );
    }

    #[test]
    fn operational_keys_are_not_secrets() {
        assert!(!is_secret_key("time_to_first_token"));
        assert!(!is_secret_key("cache_read_input_tokens"));
        assert!(is_secret_key("access_token"));
    }

    #[test]
    fn truncation_keeps_valid_json_and_utf8() {
        let v = json!("ééééééééé");
        let (s, orig) = to_wire_string(&v, 6);
        assert!(orig.is_some());
        let back: Value = serde_json::from_str(&s).expect("valid json");
        assert!(back.as_str().expect("string").ends_with("[truncated]"));
    }
}
