//! The fast path for the JSON documents embedded in `input`, `output` and `attributes`:
//! the document is checked where it sits in the body, still escaped, in one pass, instead
//! of scanning the string token, unescaping it into a buffer and reading that again.
//!
//! An SDK writes such a document with `"` as `\"` and `\` as `\\` and nothing else
//! escaped (other characters are sent as they are), so the outer string's escapes are
//! read as part of the document's tokens: `\"` opens and closes the document's own
//! strings, `\\` starts one of their escapes. Only a document that is valid JSON written
//! that way is taken; anything else (another escape of the outer string, white space
//! other than spaces, a surrogate escape, an invalid document, deep nesting) gives
//! `None` and the slow path decides, with its messages. So the fast path accepts only
//! what the slow path accepts, and says the same about `staso.provisional_root`.

use crate::json::{hex4, Reader, MAX_DEPTH};
use crate::scan::find_special;

/// What a string holding an embedded document holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Doc {
    /// Nothing (`""`).
    Empty,
    /// A JSON object; `provisional` when its (last) `staso.provisional_root` is `true`.
    Object { provisional: bool },
    /// Another JSON value.
    Other,
}

/// `text[start]` is the opening quote of a string token. When the string is empty or
/// holds one valid JSON document written as described in the module doc (an object when
/// `object_only`), returns what it holds and the offset just after its closing quote.
#[inline]
pub(super) fn check(text: &str, start: usize, object_only: bool) -> Option<(Doc, usize)> {
    let mut e = Esc {
        text,
        b: text.as_bytes(),
        pos: start + 1,
    };
    if e.byte() == Some(b'"') {
        return (!object_only).then_some((Doc::Empty, e.pos + 1));
    }
    e.spaces();
    let doc = if e.byte() == Some(b'{') {
        Doc::Object {
            provisional: e.object(0)?,
        }
    } else if object_only {
        return None;
    } else {
        e.value(0)?;
        Doc::Other
    };
    e.spaces();
    (e.byte() == Some(b'"')).then_some((doc, e.pos + 1))
}

/// The key whose `true` marks a provisional root copy, as written in the body.
const PROVISIONAL_ROOT: &[u8] = b"staso.provisional_root";

/// A reader of a document inside a string token, over the body's bytes.
struct Esc<'a> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
}

impl Esc<'_> {
    #[inline]
    fn byte(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    /// White space between tokens: only spaces (a tab or a newline of the document is
    /// an escape in the string, left to the slow path).
    #[inline]
    fn spaces(&mut self) {
        while self.byte() == Some(b' ') {
            self.pos += 1;
        }
    }

    /// Eats `c` (after spaces) if it is next.
    #[inline]
    fn eat(&mut self, c: u8) -> bool {
        self.spaces();
        if self.byte() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// One value, at the current byte (spaces already skipped); `depth` containers
    /// enclose it.
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.byte()? {
            b'\\' => self.string().map(drop),
            b'{' => self.object(depth).map(drop),
            b'[' => self.array(depth),
            b'-' | b'0'..=b'9' => {
                let mut r = Reader::at(self.text, self.pos);
                r.number().ok()?;
                self.pos = r.pos();
                Some(())
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => None,
        }
    }

    #[inline]
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos + word.len();
        (self.b.get(self.pos..end) == Some(word)).then(|| self.pos = end)
    }

    /// A string of the document (`\"…\"`), at its opening `\"`: whether it has escapes
    /// of its own, and its text between the quotes as written.
    #[inline(always)]
    fn string(&mut self) -> Option<(bool, &[u8])> {
        if self.b.get(self.pos + 1) != Some(&b'"') {
            return None;
        }
        let start = self.pos + 2;
        let mut i = start;
        let mut escaped = false;
        loop {
            i = find_special(self.b, i);
            // Only a backslash may stop the scan: a bare quote ends the outer string
            // inside this one, a control character is not JSON.
            if self.b.get(i) != Some(&b'\\') {
                return None;
            }
            match self.b.get(i + 1)? {
                b'"' => {
                    self.pos = i + 2;
                    return Some((escaped, self.b.get(start..i)?));
                }
                // `\\`: the document's own escape; what follows is `\"` or `\\` (an
                // escaped quote or backslash) or a plain escape letter.
                b'\\' => {
                    escaped = true;
                    i = match self.b.get(i + 2)? {
                        b'\\' if matches!(self.b.get(i + 3), Some(b'"' | b'\\')) => i + 4,
                        b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i + 3,
                        b'u' => match hex4(self.b, i + 3).ok()? {
                            0xD800..=0xDFFF => return None,
                            _ => i + 7,
                        },
                        _ => return None,
                    };
                }
                _ => return None,
            }
        }
    }

    /// An object, at its `{`: whether its last `staso.provisional_root` is `true`
    /// (only looked at for the document's top-level object, `depth` 0).
    fn object(&mut self, depth: usize) -> Option<bool> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        let mut flag = false;
        if self.eat(b'}') {
            return Some(false);
        }
        loop {
            self.spaces();
            if self.byte() != Some(b'\\') {
                return None;
            }
            let (escaped, key) = self.string()?;
            // A top-level key with escapes could still spell it: left to the slow path.
            if depth == 0 && escaped {
                return None;
            }
            let provisional = depth == 0 && key == PROVISIONAL_ROOT;
            if !self.eat(b':') {
                return None;
            }
            self.spaces();
            if provisional {
                flag = self.byte() == Some(b't');
            }
            self.value(depth + 1)?;
            if self.eat(b',') {
                continue;
            }
            return self.eat(b'}').then_some(flag);
        }
    }

    /// An array, at its `[`.
    fn array(&mut self, depth: usize) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        if self.eat(b']') {
            return Some(());
        }
        loop {
            self.spaces();
            self.value(depth + 1)?;
            if self.eat(b',') {
                continue;
            }
            return self.eat(b']').then_some(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::span::{is_json, provisional};
    use super::*;

    /// The slow path: the string token at the start of `body` unescaped, then read as a
    /// document; what it holds and the offset after it.
    fn slow(body: &str, object_only: bool) -> Option<(Doc, usize)> {
        let mut r = Reader::new(body);
        let s = r.string().ok()?;
        let end = r.pos();
        let doc = s.text();
        if doc.is_empty() {
            return (!object_only).then_some((Doc::Empty, end));
        }
        if let Some(flag) = provisional(&doc) {
            return Some((Doc::Object { provisional: flag }, end));
        }
        (!object_only && is_json(&doc)).then_some((Doc::Other, end))
    }

    /// Checks the fast path against the slow one on one string token (followed by a
    /// comma): when the fast path takes it, the slow path must say the same. Returns
    /// whether it took it.
    fn agrees(token: &str) -> bool {
        let body = format!("{token},");
        let mut took = false;
        for object_only in [false, true] {
            if let Some(fast) = check(&body, 0, object_only) {
                assert_eq!(
                    Some(fast),
                    slow(&body, object_only),
                    "{token} ({object_only})"
                );
                took = true;
            }
        }
        took
    }

    const DOCS: &[&str] = &[
        "",
        "{}",
        "[]",
        "0",
        "-1.5e3",
        "1e400",
        "01",
        "true",
        "nul",
        "\"text\"",
        "{\"query\": \"refund policy\", \"i\": 7}",
        "{\"result\": {\"a\": [1, 2.5, null, true, false, \"x\"]}}",
        "{\"code.filepath\": \"src/lib.rs\", \"code.lineno\": 17, \"code.function\": \"f\"}",
        "{\"code.function\": \"f\", \"staso.provisional_root\": true}",
        "{\"staso.provisional_root\": false}",
        "{\"staso.provisional_root\": true, \"staso.provisional_root\": 1}",
        "{\"a\": {\"staso.provisional_root\": true}}",
        "{\"staso.provisional_roo\\u0074\": true}",
        "{\"s\": \"quote \\\" backslash \\\\ slash \\/ \\b\\f\\n\\r\\t \\u00e9 \\ud83d\\ude00\"}",
        "{\"s\": \"é ü 中 😀\"}",
        "{\"bad\": \"\\x\"}",
        "{\"bad\": \"\\u12\"}",
        "{\"bad\": \"\\ud83d\"}",
        "{\"nan\": NaN, \"inf\": [Infinity, -Infinity]}",
        " { \"a\" : [ 1 , 2 ] } ",
        "{\"a\":1,}",
        "[1,]",
        "{\"a\" 1}",
        "{a: 1}",
        "{\"a\": 1} x",
        "{\"a\": 1}{}",
        "{\n\t\"a\": 1\r\n}",
        "{\"ctl\": \"a\u{1}b\"}",
        "{\"ctl\": \"a\nb\"}",
        "\\",
        "{\"a\": \"b\\\\\"}",
        "{\"unterminated\": \"x}",
    ];

    /// The fast path takes what the SDK writes, and agrees with the slow path on every
    /// document above written as a JSON string.
    #[test]
    fn agrees_with_the_slow_path() {
        for doc in DOCS {
            agrees(&serde_json::to_string(doc).expect("encode"));
        }
        for doc in [
            "",
            "{\"query\": \"refund policy\", \"i\": 7}",
            "{\"code.function\": \"f\", \"staso.provisional_root\": true}",
            "{\"s\": \"quote \\\" backslash \\\\ slash \\/ \\b\\f\\n\\r\\t \\u00e9\"}",
            "[1, -2.5e-3, \"x\", {}]",
        ] {
            let token = serde_json::to_string(doc).expect("encode");
            assert!(agrees(&token), "the fast path should take {token}");
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(!agrees(&serde_json::to_string(&deep).expect("encode")));
    }

    /// Every document above, broken at every offset (a byte removed, a `\`, `"`, `\"`,
    /// space, `,` or `}` inserted), written raw between quotes (not always a valid
    /// string token): the fast path never takes what the slow path refuses.
    #[test]
    fn agrees_on_every_mutation() {
        let mut taken = 0;
        for doc in DOCS {
            let token = serde_json::to_string(doc).expect("encode");
            let inner = &token[1..token.len() - 1];
            for at in (0..=inner.len()).filter(|i| inner.is_char_boundary(*i)) {
                let (head, tail) = inner.split_at(at);
                let mut variants: Vec<String> = ["\\", "\"", "\\\"", " ", ",", "}", "\\\\"]
                    .iter()
                    .map(|ins| format!("\"{head}{ins}{tail}\""))
                    .collect();
                if let Some(c) = tail.chars().next() {
                    variants.push(format!("\"{head}{}\"", &tail[c.len_utf8()..]));
                }
                for v in variants {
                    taken += usize::from(agrees(&v));
                }
            }
        }
        assert!(taken > 100, "the fast path took only {taken} variants");
    }
}
