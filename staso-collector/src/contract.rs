//! What every endpoint checks the same way: the refusal type naming the offending field,
//! the request headers, the five-category `capture` map, and the typed reading of one
//! JSON value that the body checks are built on.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Why a request was refused with `400`: a human message and the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ValidationError {
    /// What is wrong, e.g. `"expected one of llm, tool, chain, retriever, agent, custom"`.
    pub error: String,
    /// Where: `headers.Idempotency-Key`, `body`, `traces[0].spans[2].kind`, `capture.output`, …
    pub field: String,
}

impl ValidationError {
    pub(crate) fn new(field: impl Into<String>, error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            field: field.into(),
        }
    }

    /// The refusal of a body that is not JSON at all.
    pub(crate) fn not_json(e: impl fmt::Display) -> Self {
        Self::new("body", format!("body is not JSON: {e}"))
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.error)
    }
}

impl std::error::Error for ValidationError {}

/// `path.name`; `name` at the top level, `path` for the value itself.
pub(crate) fn join(path: &str, name: &str) -> String {
    match (path, name) {
        ("", name) => name.to_owned(),
        (path, "") => path.to_owned(),
        (path, name) => format!("{path}.{name}"),
    }
}

pub(crate) const KINDS: &[&str] = &["llm", "tool", "chain", "retriever", "agent", "custom"];
pub(crate) const STATUSES: &[&str] = &["ok", "error", "timeout"];
pub(crate) const CAPTURE_CATEGORIES: &[&str] = &[
    "request",
    "system_prompt",
    "tool_schema",
    "tool_arguments",
    "output",
];

/// Reads a header by lower-case name.
pub(crate) type Header<'a> = &'a dyn Fn(&str) -> Option<String>;

/// `Content-Type: application/json` (parameters allowed) and `User-Agent: <sdk>/<version>`:
/// what every SDK request carries.
pub(crate) fn check_common_headers(header: Header<'_>) -> Result<(), ValidationError> {
    let ct = header("content-type")
        .ok_or_else(|| ValidationError::new("headers.Content-Type", "missing Content-Type"))?;
    let media = ct.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(ValidationError::new(
            "headers.Content-Type",
            "expected application/json",
        ));
    }
    let ua = header("user-agent")
        .ok_or_else(|| ValidationError::new("headers.User-Agent", "missing User-Agent"))?;
    // staso-rust/<version>, staso-python/<version>: a product token and a version.
    match ua.split_once('/') {
        Some((product, version)) if !product.trim().is_empty() && !version.trim().is_empty() => {
            Ok(())
        }
        _ => Err(ValidationError::new(
            "headers.User-Agent",
            "expected <sdk-name>/<version>",
        )),
    }
}

/// The `Idempotency-Key` header: a lowercase hyphenated UUID v4 when present.
pub(crate) fn idempotency_key(header: Header<'_>) -> Result<Option<String>, ValidationError> {
    match header("idempotency-key") {
        Some(key) if crate::formats::is_uuid_v4(&key) => Ok(Some(key)),
        Some(_) => Err(ValidationError::new(
            "headers.Idempotency-Key",
            "expected a lowercase hyphenated UUID v4",
        )),
        None => Ok(None),
    }
}

/// A string as serde_json hands it over: borrowed from the body, or unescaped into its
/// scratch buffer (then it lives only as long as the call).
pub(crate) enum Str<'de, 's> {
    Body(&'de str),
    Scratch(&'s str),
}

impl<'de> Str<'de, '_> {
    pub(crate) fn get(&self) -> &str {
        match self {
            Str::Body(s) => s,
            Str::Scratch(s) => s,
        }
    }

    /// The string, borrowed from the body when it can be (a copy only if it had escapes).
    pub(crate) fn keep(self) -> std::borrow::Cow<'de, str> {
        match self {
            Str::Body(s) => std::borrow::Cow::Borrowed(s),
            Str::Scratch(s) => std::borrow::Cow::Owned(s.to_owned()),
        }
    }
}

/// The type of one JSON value, and for a string what the reader made of it. Arrays and
/// objects are skipped, not kept.
pub(crate) enum Json<T> {
    Null,
    Bool(bool),
    UInt(u64),
    Int(i64),
    Float(f64),
    Str(T),
    Array,
    Object,
}

impl<T> Json<T> {
    /// The value as a number, whatever its JSON spelling.
    pub(crate) fn number(&self) -> Option<f64> {
        match *self {
            Json::UInt(n) => Some(n as f64),
            Json::Int(n) => Some(n as f64),
            Json::Float(x) => Some(x),
            _ => None,
        }
    }
}

/// Reads one JSON value without building it: the string case goes to the function.
pub(crate) struct Read<F>(F);

/// A [`Read`] of `f` (a function, so that a closure gets the signature it needs).
pub(crate) fn read<'de, T, F: for<'s> FnOnce(Str<'de, 's>) -> T>(f: F) -> Read<F> {
    Read(f)
}

/// The next key of a map, borrowed when it has no escapes.
pub(crate) fn next_key<'de, A: MapAccess<'de>>(
    a: &mut A,
) -> Result<Option<std::borrow::Cow<'de, str>>, A::Error> {
    match a.next_key_seed(read(|s| s.keep()))? {
        None => Ok(None),
        Some(Json::Str(k)) => Ok(Some(k)),
        // JSON keys are strings: serde_json never gets here.
        Some(_) => Err(de::Error::custom("a map key that is not a string")),
    }
}

impl<'de, T, F> DeserializeSeed<'de> for Read<F>
where
    F: for<'s> FnOnce(Str<'de, 's>) -> T,
{
    type Value = Json<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json<T>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T, F> Visitor<'de> for Read<F>
where
    F: for<'s> FnOnce(Str<'de, 's>) -> T,
{
    type Value = Json<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Json<T>, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json<T>, E> {
        Ok(Json::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json<T>, E> {
        Ok(Json::UInt(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json<T>, E> {
        // serde_json hands non-negative integers to visit_u64; others read a u64 as i64.
        Ok(u64::try_from(v).map_or(Json::Int(v), Json::UInt))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json<T>, E> {
        Ok(Json::Float(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Json<T>, E> {
        Ok(Json::Str((self.0)(Str::Body(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json<T>, E> {
        Ok(Json::Str((self.0)(Str::Scratch(v))))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Json<T>, A::Error> {
        while a.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Json::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Json<T>, A::Error> {
        while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Json::Object)
    }
}

/// A refusal found inside a nested value, its field relative to that value ("" for the
/// value itself); the caller puts its own path in front.
pub(crate) struct Nested {
    pub field: String,
    pub error: &'static str,
}

/// The `capture` map: an object holding exactly the five categories, each `"captured"`
/// or `"suppressed"`. Reads the whole value whatever it finds, so that the parse can go on.
pub(crate) struct Capture;

impl<'de> DeserializeSeed<'de> for Capture {
    type Value = Result<(), Nested>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Capture {
    type Value = Result<(), Nested>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the capture map")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        let mut seen = 0u8;
        let mut refusal = None;
        while let Some(key) = next_key(&mut a)? {
            let index = CAPTURE_CATEGORIES.iter().position(|c| *c == key);
            let value =
                a.next_value_seed(read(|s| matches!(s.get(), "captured" | "suppressed")))?;
            if refusal.is_some() {
                continue;
            }
            refusal = match index {
                None => Some(Nested {
                    field: key.into_owned(),
                    error: "unknown field",
                }),
                Some(i) if seen & (1 << i) != 0 => Some(Nested {
                    field: key.into_owned(),
                    error: "repeated field",
                }),
                Some(i) => {
                    seen |= 1 << i;
                    (!matches!(value, Json::Str(true))).then(|| Nested {
                        field: key.into_owned(),
                        error: "expected \"captured\" or \"suppressed\"",
                    })
                }
            };
        }
        if let Some(r) = refusal {
            return Ok(Err(r));
        }
        match (0..CAPTURE_CATEGORIES.len()).find(|i| seen & (1 << i) == 0) {
            Some(i) => Ok(Err(Nested {
                field: CAPTURE_CATEGORIES[i].to_owned(),
                error: "missing field",
            })),
            None => Ok(Ok(())),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(not_an_object())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(not_an_object())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(not_an_object())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(not_an_object())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(not_an_object())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(not_an_object())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        while a.next_element::<IgnoredAny>()?.is_some() {}
        Ok(not_an_object())
    }
}

fn not_an_object() -> Result<(), Nested> {
    Err(Nested {
        field: String::new(),
        error: "expected an object",
    })
}
