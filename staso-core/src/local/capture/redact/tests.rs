use super::*;

#[test]
fn operational_keys_are_not_secrets() {
    assert!(!is_secret_key("time_to_first_token"));
    assert!(!is_secret_key("cache_read_input_tokens"));
    assert!(is_secret_key("access_token"));
}

#[test]
fn secret_keys_plural_and_common_forms() {
    for k in [
        "password",
        "Password",
        "passwords",
        "user_pwd",
        "PASSWD",
        "api_key",
        "api_keys",
        "apiKey",
        "X-Api-Key",
        "openai_api_key",
        "token",
        "refresh_token",
        "bearer",
        "secret",
        "secrets",
        "secret_sauce",
        "secretKey",
        "SECRET_ACCESS_KEY",
        "client_secret",
        "private_key",
        "access_key",
        "aws_secret_access_key",
        "Authorization",
        "auth",
        "set-cookie",
        "credentials",
        "jwt",
    ] {
        assert!(is_secret_key(k), "{k} should be secret");
    }
    for k in [
        "user",
        "query",
        "limit",
        "result",
        "max_tokens",
        "input_tokens",
        "tokens",
        "token_count",
        "secretary",
        "author",
        "keyword",
        "access_key_id",
        "",
        "__",
    ] {
        assert!(!is_secret_key(k), "{k} should not be secret");
    }
}

fn s(text: &str) -> String {
    scrub(text, true, "").into_owned()
}

#[test]
fn key_value_pairs_in_text() {
    assert_eq!(
        s(r#"Creds { user: "bob", password: "hunter2" }"#),
        r#"Creds { user: "bob", password: "[REDACTED]" }"#
    );
    assert_eq!(
        s(r#"{"api_key": "k-123", "n": 1}"#),
        r#"{"api_key": "[REDACTED]", "n": 1}"#
    );
    assert_eq!(
        s("login failed for password=hunter2 at 10:30"),
        "login failed for password=[REDACTED] at 10:30"
    );
    assert_eq!(
        s("GET /x?user=a&token=abc123&page=2"),
        "GET /x?user=a&token=[REDACTED]&page=2"
    );
    assert_eq!(
        s("Authorization: Bearer abcdefghijkl next"),
        "Authorization: [REDACTED] next"
    );
    assert_eq!(
        s(r#"Cfg { token: Some("abc"), n: 2 }"#),
        r#"Cfg { token: [REDACTED], n: 2 }"#
    );
    assert_eq!(
        s("Outer { secret: Inner { a: 1, b: 2 }, ok: true }"),
        "Outer { secret: [REDACTED], ok: true }"
    );
    assert_eq!(s("pwd='x y'"), "pwd='[REDACTED]'");
    // Not secrets.
    for t in [
        "max_tokens: 100",
        "https://example.com:8080/a",
        "std::io::Error",
        "a == b",
        "password",
        "password: ",
        "time 12:30",
    ] {
        assert_eq!(s(t), t);
    }
}

#[test]
fn bearer_and_sk_tokens() {
    assert_eq!(
        s("sent with bearer eyJhbGciOiJIUzI1NiJ9.x.y ok"),
        "sent with bearer [REDACTED] ok"
    );
    assert_eq!(
        s("key sk-proj-abcdefghijklmnop1234 leaked"),
        "key [REDACTED] leaked"
    );
    assert_eq!(
        s("task-sk-abcdefghijklmnopqrstu"),
        "task-sk-abcdefghijklmnopqrstu"
    );
    assert_eq!(s("sk-short"), "sk-short");
    assert_eq!(s("the bearer of news"), "the bearer of news");
}

#[test]
fn the_api_key_anywhere_even_without_patterns() {
    let key = "ak_live_123456789";
    assert_eq!(
        scrub("url?k=ak_live_123456789&x", false, key),
        "url?k=[REDACTED]&x"
    );
    assert_eq!(scrub("short", false, "short"), "short");
    assert!(matches!(scrub("nothing here", true, key), Cow::Borrowed(_)));
}

#[test]
fn secrets_far_into_long_text() {
    let pad = "a".repeat(100);
    assert_eq!(
        s(&format!("{pad}password=x")),
        format!("{pad}password=[REDACTED]")
    );
    assert_eq!(
        scrub(
            &format!("{pad}ak_live_123456789"),
            false,
            "ak_live_123456789"
        ),
        format!("{pad}[REDACTED]")
    );
}

/// Each secret at every offset from 0 to 40: found whether it starts in a 32-byte
/// chunk, an 8-byte word or the tail, and whatever the bytes around it (`B` and `b`
/// for the bearer's trigger, a multibyte pad).
#[test]
fn secrets_at_every_offset() {
    let key = "ak_live_123456789";
    for pad in ["a", "é", "-"] {
        for n in 0..40 {
            let p = pad.repeat(n);
            for (secret, redacted) in [
                ("password=x", "password=[REDACTED]"),
                ("token: abc", "token: [REDACTED]"),
                ("Bearer eyJhbGciOiJIUzI1NiJ9.x.y", "Bearer [REDACTED]"),
                ("bearer eyJhbGciOiJIUzI1NiJ9.x.y", "bearer [REDACTED]"),
                ("sk-proj-abcdefghijklmnop1234", "[REDACTED]"),
            ] {
                let t = format!("{p} {secret}");
                assert_eq!(s(&t), format!("{p} {redacted}"), "{t:?}");
            }
            let t = format!("{p}{key}");
            assert_eq!(scrub(&t, false, key), format!("{p}[REDACTED]"), "{t:?}");
            assert_eq!(scrub(&t, true, key), format!("{p}[REDACTED]"), "{t:?}");
            assert!(matches!(scrub(&p, true, key), Cow::Borrowed(_)), "{p:?}");
        }
    }
}

#[test]
fn multibyte_text_is_kept_intact() {
    assert_eq!(s("é password=é€ ü"), "é password=[REDACTED] ü");
}
