//! Every refusal of the configuration, env fallbacks, and the key kept out of output.

use staso_core::testing::init_with_env;
use staso_core::{InitError, Options};
use std::collections::HashMap;
use std::time::Duration;

fn env(pairs: &[(&'static str, &'static str)]) -> HashMap<&'static str, &'static str> {
    pairs.iter().copied().collect()
}

fn ok_opts() -> Options {
    Options::new()
        .api_key("sk-test-123")
        .agent_name("bot")
        .base_url("http://127.0.0.1:9")
        .capture_git(false)
        .shutdown_timeout(Duration::from_millis(10))
}

fn err(o: Options, e: &HashMap<&'static str, &'static str>) -> InitError {
    match init_with_env(o, e) {
        Ok(_) => panic!("expected an InitError"),
        Err(e) => e,
    }
}

#[test]
fn missing_key_names_the_option_and_env_var() {
    let e = err(
        {
            let mut o = ok_opts();
            o.api_key = None;
            o
        },
        &env(&[]),
    );
    assert_eq!(e, InitError::MissingApiKey);
    let msg = e.to_string();
    assert!(
        msg.contains("api_key") && msg.contains("STASO_API_KEY"),
        "{msg}"
    );
    let blank = err(ok_opts().api_key("  "), &env(&[]));
    assert_eq!(blank, InitError::MissingApiKey);
}

#[test]
fn placeholder_keys_are_refused() {
    for k in [
        "change-me",
        "changeme",
        "your-api-key",
        "your_api_key",
        "replace-me",
        "placeholder",
        "CHANGE-ME",
    ] {
        let e = err(ok_opts().api_key(k), &env(&[]));
        assert_eq!(e, InitError::PlaceholderApiKey, "{k}");
    }
}

#[test]
fn missing_agent_name_names_the_option_and_env_var() {
    let e = err(
        {
            let mut o = ok_opts();
            o.agent_name = None;
            o
        },
        &env(&[]),
    );
    assert_eq!(e, InitError::MissingAgentName);
    assert!(e.to_string().contains("STASO_AGENT_NAME"));
}

#[test]
fn bad_base_urls_are_refused_with_the_reason() {
    let cases = [
        ("not a url", "absolute"),
        ("ftp://example.com", "scheme"),
        ("https://user:pw@api.example.com", "credentials"),
        ("https://api.example.com?x=1", "query"),
        ("https://api.example.com#frag", "fragment"),
    ];
    for (url, why) in cases {
        let e = err(ok_opts().base_url(url), &env(&[]));
        assert!(
            matches!(e, InitError::InvalidBaseUrl { .. }),
            "{url}: {e:?}"
        );
        assert!(e.to_string().contains(why), "{url}: {e}");
        assert!(
            !e.to_string().contains("pw@"),
            "credentials must not be echoed: {e}"
        );
    }
}

#[test]
fn plain_http_only_to_loopback() {
    let e = err(ok_opts().base_url("http://api.example.com"), &env(&[]));
    assert!(matches!(e, InitError::InsecureBaseUrl { .. }));
    assert!(e.to_string().contains("https"));
    for ok in [
        "http://localhost:1",
        "http://127.0.0.5:1",
        "http://[::1]:1",
        "https://api.example.com",
    ] {
        let c = init_with_env(ok_opts().base_url(ok), &env(&[]));
        assert!(c.is_ok(), "{ok}: {:?}", c.err());
    }
}

#[test]
fn numeric_ranges() {
    assert_eq!(
        err(ok_opts().batch_size(0), &env(&[])),
        InitError::BatchSize(0)
    );
    assert_eq!(
        err(ok_opts().batch_size(501), &env(&[])),
        InitError::BatchSize(501)
    );
    assert!(init_with_env(ok_opts().batch_size(500), &env(&[])).is_ok());
    assert!(matches!(
        err(ok_opts().flush_interval(Duration::ZERO), &env(&[])),
        InitError::FlushInterval(_)
    ));
    assert_eq!(
        err(ok_opts().max_queue_size(0), &env(&[])),
        InitError::MaxQueueSize
    );
    let msg = InitError::BatchSize(0).to_string();
    assert!(
        msg.contains("batch_size") && msg.contains("1 and 500"),
        "{msg}"
    );
}

/// A byte bound below one full field could never queue such a span: refused at init,
/// with both values and the two ways out.
#[test]
fn a_byte_bound_below_one_field_is_refused() {
    let e = err(
        ok_opts().max_field_bytes(4_096).max_queue_bytes(4_095),
        &env(&[]),
    );
    assert_eq!(
        e,
        InitError::MaxQueueBytes {
            max_queue_bytes: 4_095,
            max_field_bytes: 4_096
        }
    );
    let msg = e.to_string();
    for part in [
        "max_queue_bytes",
        "4095",
        "max_field_bytes",
        "4096",
        "at least 4096",
    ] {
        assert!(msg.contains(part), "{part:?} missing from {msg}");
    }
    // The default (64 MiB) is below a field bound above it.
    assert!(matches!(
        err(ok_opts().max_field_bytes(65 * 1024 * 1024), &env(&[])),
        InitError::MaxQueueBytes { .. }
    ));
    assert!(init_with_env(
        ok_opts().max_field_bytes(4_096).max_queue_bytes(4_096),
        &env(&[])
    )
    .is_ok());
}

#[test]
fn env_fills_what_options_leave_unset_and_options_win() {
    let e = env(&[
        ("STASO_API_KEY", "sk-from-env"),
        ("STASO_AGENT_NAME", "env-bot"),
        ("STASO_BASE_URL", "https://user:pw@x.example.com"),
    ]);
    // The env var is used (and refused here, proving it was read) when the option is unset.
    let o = {
        let mut o = ok_opts();
        o.api_key = None;
        o.agent_name = None;
        o.base_url = None;
        o
    };
    assert!(matches!(err(o, &e), InitError::InvalidBaseUrl { .. }));
    // The option wins over the env var.
    assert!(init_with_env(ok_opts(), &e).is_ok());
}

#[test]
fn strict_capture_env_is_checked_at_init() {
    let e = err(
        ok_opts(),
        &env(&[("STASO_CAPTURE_TOOL_ARGUMENTS", "sometimes")]),
    );
    assert!(matches!(
        e,
        InitError::InvalidEnv {
            var: "STASO_CAPTURE_TOOL_ARGUMENTS",
            ..
        }
    ));
}

#[test]
fn the_key_never_appears_in_debug_output() {
    let o = ok_opts();
    assert!(!format!("{o:?}").contains("sk-test-123"));
    let client = init_with_env(o, &env(&[])).expect("init");
    assert!(!format!("{client:?}").contains("sk-test-123"), "{client:?}");
    let e = err(ok_opts().api_key("changeme"), &env(&[]));
    assert!(!format!("{e:?} {e}").contains("changeme"));
}

#[test]
fn unreadable_ca_cert_is_an_init_error() {
    let e = err(ok_opts().ca_cert_path("/nonexistent/ca.pem"), &env(&[]));
    assert!(matches!(e, InitError::CaCert { .. }));
    assert!(e.to_string().contains("ca_cert_path"));
}
