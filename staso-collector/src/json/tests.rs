//! The JSON reader against serde_json, and its fast paths against the slow ones.

use super::*;
use serde::de::IgnoredAny;

fn accepts(s: &str) -> bool {
    let mut r = Reader::new(s);
    r.skip().is_ok() && r.at_end()
}

/// The reader accepts what serde_json accepts, on tricky and broken documents.
#[test]
fn same_grammar_as_serde_json() {
    let docs = [
        "{}",
        "[]",
        "0",
        "-0",
        "1",
        "-1",
        "12.5",
        "1e5",
        "1E+5",
        "1.5e-3",
        "-0.0",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "1e400",
        "-1e400",
        "01",
        "1.",
        ".5",
        "+1",
        "-",
        "1e",
        "1e+",
        "--1",
        "0x10",
        "true",
        "false",
        "null",
        "tru",
        "nul",
        "True",
        "\"\"",
        "\"a\\\"b\"",
        "\"\\u00e9\\ud83d\\ude00\"",
        "\"\\ud83d\"",
        "\"\\ude00\"",
        "\"\\ud83dx\"",
        "\"\\x\"",
        "\"\\u12\"",
        "\"a\tb\"",
        "\"a\u{1}b\"",
        "\"é ü 中\"",
        "[1,]",
        "[,1]",
        "[1 2]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{a:1}",
        "{\"a\":1 \"b\":2}",
        "{\"a\":[{\"b\":null}],\"c\":\"d\"}",
        " [ 1 , { } ] ",
        "[",
        "{",
        "\"abc",
        "[1]]",
        "{}{}",
        "NaN",
        "Infinity",
        "{\"x\": NaN}",
        "\"12345678901234567\\n\"",
    ];
    for d in docs {
        let serde = serde_json::from_str::<IgnoredAny>(d).is_ok()
            && serde_json::from_str::<serde_json::Value>(d).is_ok();
        assert_eq!(accepts(d), serde, "{d:?}");
    }
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert!(!accepts(&deep));
    let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert!(accepts(&ok));
}

#[test]
fn numbers_and_strings_read_like_serde_json() {
    for (text, num) in [
        ("7", Num::UInt(7)),
        ("-7", Num::Int(-7)),
        ("12.5", Num::Float(12.5)),
        ("18446744073709551616", Num::Float(18446744073709551616.0)),
    ] {
        assert_eq!(Reader::new(text).number(), Ok(num));
    }
    let s = r#""a\"b\\c\/d\u00e9\ud83d\ude00\n""#;
    let raw = Reader::new(s).string().expect("string");
    assert!(raw.escaped);
    let expected: String = serde_json::from_str(s).expect("serde");
    assert_eq!(raw.text(), expected);
    let plain = Reader::new("\"plain\"").string().expect("string");
    assert!(!plain.escaped && matches!(plain.text(), Cow::Borrowed("plain")));
}

/// Numbers with a short fraction take the exact-division fast path: the same double as
/// the decimal parser, for every shape around it (signs, zeros, long integer parts,
/// fraction lengths up to and past the fast path's limit, exponents).
#[test]
fn short_fractions_read_like_the_decimal_parser() {
    let ints = [
        "0",
        "1",
        "9",
        "12",
        "999",
        "4503599627370495",
        "9007199254740993",
        "18446744073709551615",
    ];
    let fractions = [
        "0",
        "5",
        "01",
        "1",
        "10",
        "25",
        "99",
        "333",
        "1234567",
        "000000000000001",
        "999999999999999",
        "123456789012345",
        "1234567890123456",
        "12345678901234567",
    ];
    let mut fast = 0;
    for sign in ["", "-"] {
        for int in ints {
            for fraction in fractions {
                for exp in ["", "e0", "e-2", "E+3"] {
                    let text = format!("{sign}{int}.{fraction}{exp}");
                    let expected: f64 = text.parse().expect("decimal");
                    match Reader::new(&text).number() {
                        Ok(Num::Float(x)) => {
                            assert_eq!(x.to_bits(), expected.to_bits(), "{text}");
                        }
                        other => panic!("{text}: {other:?}"),
                    }
                    if exp.is_empty()
                        && exact_decimal(int.parse().unwrap_or(u64::MAX), fraction.as_bytes())
                            .is_some()
                    {
                        fast += 1;
                    }
                }
            }
        }
    }
    assert!(fast > 50, "the fast path was taken {fast} times");
    for (text, num) in [
        ("0", Num::UInt(0)),
        ("7", Num::UInt(7)),
        ("0.01", Num::Float(0.01)),
        ("-0.0", Num::Float(-0.0)),
    ] {
        assert_eq!(Reader::new(text).number(), Ok(num), "{text}");
    }
    assert!(Reader::new("-0.0")
        .number()
        .is_ok_and(|n| n.as_f64().is_sign_negative()));
}
