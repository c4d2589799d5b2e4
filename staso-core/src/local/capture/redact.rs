//! The redaction rule, in one place: what is replaced with `[REDACTED]` before a captured
//! value leaves the process. The capture path applies it on the caller's thread while it
//! writes a value; the encoder applies it to the few texts the SDK writes itself (a panic
//! message).
//!
//! # The rule (with `redact_secrets`, on by default)
//!
//! 1. **Secret keys.** A value stored under a secret-looking key is replaced with
//!    `"[REDACTED]"` without being serialized: struct fields, map keys, the names of
//!    function arguments, metadata keys. A key is secret-looking when, compared without
//!    case and without `_`, `-`, `.` and spaces, it
//!    - ends with one of `password`, `passwords`, `passwd`, `pwd`, `passphrase`, `secret`,
//!      `secrets`, `token`, `apikey`, `apikeys`, `authorization`, `auth`, `bearer`, `jwt`,
//!      `cookie`, `cookies`, `credential`, `credentials`, `privatekey`, `privatekeys`,
//!      `accesskey`, `accesskeys`, `signingkey`, `encryptionkey` (so `openai_api_key`,
//!      `client_secret`, `refresh_token`, `X-Api-Key`, `set-cookie` match), or
//!    - starts with `secret` followed by a separator, a capital letter or nothing
//!      (`secret_key`, `secretToken`; not `secretary`).
//!
//!    `tokens` alone is deliberately not in the list: `max_tokens`, `input_tokens` are
//!    token counts, not secrets.
//! 2. **Secrets inside text.** Every captured string (a string inside a JSON value, the
//!    `Debug` or `Display` text of a value, an error message, a span name, a tag) is
//!    scanned, and the value part is replaced in
//!    - `key=value`, `key: value`, `"key": "value"`, `key='value'` where `key` is
//!      secret-looking (rule 1). An unquoted value runs to the next space, `,`, `;`, `&`
//!      or closing bracket; brackets and quotes inside it are skipped as a whole
//!      (`token: Some("abc")`), an auth scheme takes its credential with it
//!      (`Authorization: Bearer abc`), and a `Debug` struct takes its fields
//!      (`secret: Inner { .. }`);
//!    - `Bearer <token>` (any case, token of 8 or more characters);
//!    - `sk-…` tokens (`sk-` at the start of a word, then 16 or more letters, digits, `-`
//!      or `_`: OpenAI, Anthropic and similar keys).
//! 3. **The SDK's own API key** is replaced wherever it appears in any captured text, also
//!    with `redact_secrets = false` (when it has at least 8 characters).
//!
//! Then the user's `mask` hook, if any, sees every string (after this rule) with the
//! nearest key, and may replace it.
//!
//! Redaction is a safety net, not a guarantee: a secret under an innocent key in free
//! text (`"my code is 1234"`) is not found. Keep secrets out of captured values with
//! `skip(..)`, `capture_input = false`, or the `mask` hook.

use super::text::swar;
use staso_types::REDACTED;
use std::borrow::Cow;

// Rule 1 is written as `const fn`s so that the attributes can decide it at compile time
// for the names of a function's arguments (see `__private::is_secret_name`): one function,
// whether it runs in the compiler or on the batcher.

/// Key endings, compared without case and separators (see the module's rule 1). Grouped by
/// their last byte, so a key is compared with a handful of them at most.
const fn endings(last: u8) -> &'static [&'static [u8]] {
    match last {
        b'd' => &[b"password", b"passwd", b"pwd"],
        b's' => &[
            b"passwords",
            b"secrets",
            b"apikeys",
            b"cookies",
            b"credentials",
            b"privatekeys",
            b"accesskeys",
        ],
        b'e' => &[b"passphrase", b"cookie"],
        b't' => &[b"secret", b"jwt"],
        b'n' => &[b"token", b"authorization"],
        b'y' => &[
            b"apikey",
            b"privatekey",
            b"accesskey",
            b"signingkey",
            b"encryptionkey",
        ],
        b'h' => &[b"auth"],
        b'r' => &[b"bearer"],
        b'l' => &[b"credential"],
        _ => &[],
    }
}

/// Separators ignored when keys are compared.
const fn is_sep(b: u8) -> bool {
    matches!(b, b'_' | b'-' | b'.' | b' ')
}

/// Whether `key`, without case and separators, ends with `pat` (lower case).
const fn ends_with_norm(key: &[u8], pat: &[u8]) -> bool {
    let mut i = key.len();
    let mut j = pat.len();
    while j > 0 {
        j -= 1;
        loop {
            if i == 0 {
                return false;
            }
            i -= 1;
            if !is_sep(key[i]) {
                if key[i].to_ascii_lowercase() != pat[j] {
                    return false;
                }
                break;
            }
        }
    }
    true
}

/// Whether `a` and `b` are the same bytes.
const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether a key names a secret (rule 1). No allocation: it runs for every struct field
/// and map key of every captured value.
pub(crate) const fn is_secret_key(key: &str) -> bool {
    let k = key.as_bytes();
    // The contract's operational keys are never secrets (`time_to_first_token` is a
    // duration, `cache_read_input_tokens` a count).
    let ops = staso_types::OPERATIONAL_KEYS;
    let mut o = 0;
    while o < ops.len() {
        if same(ops[o].as_bytes(), k) {
            return false;
        }
        o += 1;
    }
    // The last byte that is not a separator picks the endings to compare.
    let mut i = k.len();
    let last = loop {
        if i == 0 {
            return false;
        }
        i -= 1;
        if !is_sep(k[i]) {
            break k[i];
        }
    };
    let ends = endings(last.to_ascii_lowercase());
    let mut e = 0;
    while e < ends.len() {
        if ends_with_norm(k, ends[e]) {
            return true;
        }
        e += 1;
    }
    // `secret` + separator, capital letter or end.
    if k.len() < 6 {
        return false;
    }
    let mut c = 0;
    while c < 6 {
        if k[c].to_ascii_lowercase() != b"secret"[c] {
            return false;
        }
        c += 1;
    }
    k.len() == 6 || is_sep(k[6]) || k[6].is_ascii_uppercase()
}

/// Replaces secrets in free text (rules 2 and 3); borrowed when there is nothing to replace,
/// which is the common case. `patterns` is `redact_secrets`; `api_key` is the client's key.
/// Linear in the text.
pub(crate) fn scrub<'a>(text: &'a str, patterns: bool, api_key: &str) -> Cow<'a, str> {
    let ak = api_key.as_bytes();
    let key0 = ak.first().copied().filter(|_| ak.len() >= 8);
    if !patterns && key0.is_none() {
        return Cow::Borrowed(text);
    }
    // Only a few bytes can start something to redact, and most text has none: found out
    // here, before a rewrite is set up.
    match next_trigger(text.as_bytes(), patterns, key0) {
        None => Cow::Borrowed(text),
        Some(first) => rewrite(text, first, patterns, ak, key0),
    }
}

/// [`scrub`] from `text[first..]`, where something may start (`key0`: the API key's first
/// byte, when the key is looked for).
#[inline(never)]
fn rewrite<'a>(
    text: &'a str,
    first: usize,
    patterns: bool,
    ak: &[u8],
    key0: Option<u8>,
) -> Cow<'a, str> {
    let b = text.as_bytes();
    let mut edit = Edit {
        src: text,
        out: String::new(),
        from: 0,
    };
    let mut i = first;
    loop {
        let c = b[i];
        if key0 == Some(c) && b[i..].starts_with(ak) {
            edit.replace(i, i + ak.len());
            i += ak.len();
        } else {
            let found = match c {
                _ if !patterns => None,
                b'=' | b':' => kv_value(b, i),
                b'b' | b'B' => bearer_token(b, i),
                b's' => sk_token(b, i),
                _ => None,
            };
            match found {
                Some((s, e)) => {
                    edit.replace(s, e);
                    i = e;
                }
                None => i += 1,
            }
        }
        match b
            .get(i..)
            .and_then(|rest| next_trigger(rest, patterns, key0))
        {
            Some(skip) => i += skip,
            None => return edit.finish(),
        }
    }
}

/// Bytes where a pattern of rule 2 may start.
static TRIGGERS: [bool; 256] = {
    let mut t = [false; 256];
    t[b'=' as usize] = true;
    t[b':' as usize] = true;
    t[b'b' as usize] = true;
    t[b'B' as usize] = true;
    t[b's' as usize] = true;
    t
};

/// The index of the first byte of `b` where something may start (`trigger`), skipping
/// 32 bytes at a time where none is (a test the compiler turns into vector compares), then
/// 8.
#[inline]
fn next_trigger(b: &[u8], patterns: bool, key0: Option<u8>) -> Option<usize> {
    let trigger = |c: u8| (patterns && TRIGGERS[c as usize]) || key0 == Some(c);
    const CHUNK: usize = 32;
    let k = key0.unwrap_or(b'=');
    let mut at = 0;
    if b.len() >= CHUNK {
        for chunk in b.chunks_exact(CHUNK) {
            let hit = chunk.iter().fold(false, |acc, &c| {
                let pattern = c == b'=' || c == b':' || (c | 0x20) == b'b' || c == b's';
                acc | (patterns & pattern) | (c == k)
            });
            if hit {
                break;
            }
            at += CHUNK;
        }
    }
    // Then 8 bytes at a time (in a text shorter than a word, the rest is zero, which
    // triggers nothing): most captured strings are shorter than a chunk.
    while at < b.len() {
        let x = swar::word(b, at).unwrap_or_else(|| swar::tail(b, at, 0));
        let mut hit = swar::eq(x, k);
        if patterns {
            // `| 0x20` maps `B` to `b` and no other byte to either.
            hit |= swar::eq(x, b'=')
                | swar::eq(x, b':')
                | swar::eq(x, b's')
                | swar::eq(x | 0x2020_2020_2020_2020, b'b');
        }
        if swar::any(hit) {
            return b[at..].iter().position(|&c| trigger(c)).map(|p| at + p);
        }
        at += 8;
    }
    None
}

/// The text being rewritten: `src[from..]` is not copied yet; `out` is empty until the
/// first replacement.
struct Edit<'a> {
    src: &'a str,
    out: String,
    from: usize,
}

impl<'a> Edit<'a> {
    fn replace(&mut self, start: usize, end: usize) {
        if self.out.capacity() == 0 {
            self.out.reserve(self.src.len());
        }
        self.out.push_str(&self.src[self.from..start]);
        self.out.push_str(REDACTED);
        self.from = end;
    }

    fn finish(mut self) -> Cow<'a, str> {
        if self.out.capacity() == 0 {
            return Cow::Borrowed(self.src);
        }
        self.out.push_str(&self.src[self.from..]);
        Cow::Owned(self.out)
    }
}

/// Bytes of a key in free text.
fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Bytes of a bearer token (RFC 6750's b64token) or an `sk-` key.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// At a `=` or `:` at `p`: the byte range of the value when the key before it is secret.
fn kv_value(b: &[u8], p: usize) -> Option<(usize, usize)> {
    let n = b.len();
    let next = b.get(p + 1).copied();
    let prev = p.checked_sub(1).map(|i| b[i]);
    if b[p] == b':' && (next == Some(b':') || next == Some(b'/') || prev == Some(b':')) {
        return None; // `a::b`, `https://`
    }
    if b[p] == b'=' && (next == Some(b'=') || matches!(prev, Some(b'=' | b'!' | b'<' | b'>'))) {
        return None; // `==`, `!=`, `<=`
    }
    let mut end = p;
    if matches!(prev, Some(b'"' | b'\'')) {
        end -= 1;
    }
    // Runs of key bytes end at a non-key byte (`=` and `:` are not key bytes), so the runs
    // scanned for successive separators do not overlap: linear in the text.
    let mut start = end;
    while start > 0 && is_key_byte(b[start - 1]) {
        start -= 1;
    }
    if start == end {
        return None;
    }
    // Key bytes are ASCII: a valid `str`.
    let key = std::str::from_utf8(&b[start..end]).ok()?;
    if !is_secret_key(key) {
        return None;
    }
    let mut v = p + 1;
    while v < n && (b[v] == b' ' || b[v] == b'\t') {
        v += 1;
    }
    if v >= n || b[v..].starts_with(REDACTED.as_bytes()) {
        return None;
    }
    let (s, e) = match b[v] {
        q @ (b'"' | b'\'') => (v + 1, closing_quote(b, v + 1, q)),
        _ => (v, unquoted_end(b, v)),
    };
    if e <= s || b[s..].starts_with(REDACTED.as_bytes()) {
        return None;
    }
    Some((s, e))
}

/// The index of the quote `q` closing a quoted run that starts at `from` (backslash
/// escapes skipped), or the end of the text.
fn closing_quote(b: &[u8], from: usize, q: u8) -> usize {
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == q => return i,
            _ => i += 1,
        }
    }
    b.len()
}

/// Auth schemes whose credential follows after a space.
fn is_scheme(word: &[u8]) -> bool {
    [
        &b"bearer"[..],
        b"basic",
        b"token",
        b"digest",
        b"bot",
        b"apikey",
    ]
    .iter()
    .any(|s| word.eq_ignore_ascii_case(s))
}

/// Where an unquoted value starting at `v` ends (see the module's rule 2).
fn unquoted_end(b: &[u8], v: usize) -> usize {
    let n = b.len();
    let mut i = v;
    let mut depth = 0usize;
    let mut extended = false;
    while i < n {
        match b[i] {
            q @ (b'"' | b'\'') if depth > 0 || i == v => {
                i = closing_quote(b, i + 1, q) + 1;
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            b',' | b';' | b'&' if depth == 0 => break,
            c if c.is_ascii_whitespace() && depth == 0 => {
                let next = b.get(i + 1).copied();
                if !extended
                    && is_scheme(&b[v..i])
                    && next.is_some_and(|c| !c.is_ascii_whitespace())
                {
                    extended = true;
                } else if c == b' ' && matches!(next, Some(b'{' | b'(')) {
                    // `Name { .. }` / `Name (..)`: the brace opens on the next byte.
                } else {
                    break;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i.min(n)
}

/// At a `b`/`B` at `i`: the token of `Bearer <token>`.
fn bearer_token(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return None;
    }
    if !b.get(i..i + 6)?.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let mut j = i + 6;
    let spaces = j;
    while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
        j += 1;
    }
    if j == spaces {
        return None;
    }
    let start = j;
    while j < b.len() && is_token_byte(b[j]) {
        j += 1;
    }
    (j - start >= 8).then_some((start, j))
}

/// At an `s` at `i`: an `sk-…` key.
fn sk_token(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || matches!(b[i - 1], b'_' | b'-')) {
        return None;
    }
    if !b[i..].starts_with(b"sk-") {
        return None;
    }
    let mut j = i + 3;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || matches!(b[j], b'-' | b'_')) {
        j += 1;
    }
    (j - (i + 3) >= 16).then_some((i, j))
}

#[cfg(test)]
mod tests;
