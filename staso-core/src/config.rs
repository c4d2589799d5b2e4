//! From `Options` to the configuration a client runs with: each option resolved in one
//! place (argument → environment variable → default) and checked, so a bad configuration
//! is refused at `init` with an error that names the option and the fix.

use crate::env::{non_blank, Env};
use crate::sampling::Sampling;
use staso_types::{
    strip_userinfo, CapturePolicy, Category, GitContext, InitError, MaskFn, Options,
    DEFAULT_BASE_URL,
};
use std::fmt;
use std::time::Duration;

mod otlp;
pub(crate) use otlp::OtlpConfig;

const PLACEHOLDER_KEYS: [&str; 6] = [
    "change-me",
    "changeme",
    "your-api-key",
    "your_api_key",
    "replace-me",
    "placeholder",
];

/// The ingest endpoint's path under the base URL.
pub(crate) const INGEST_PATH: &str = "/v1/traces/ingest";

/// The API key, kept out of every `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq, Default)]
pub(crate) struct ApiKey(String);

impl ApiKey {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `MaskFn` with a `Debug` that does not try to print a closure.
#[derive(Clone)]
pub(crate) struct Mask(pub MaskFn);

impl fmt::Debug for Mask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MaskFn")
    }
}

/// A configuration that passed every check; what the client runs with.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub api_key: ApiKey,
    pub agent_name: String,
    pub agent_id: String,
    pub agent_version: String,
    pub base_url: String,
    pub batch_size: usize,
    pub flush_interval: Duration,
    pub max_queue_size: usize,
    /// Bytes of captured content the queued spans hold at most beyond their allowance
    /// (see `export::queue::captured`).
    pub max_queue_bytes: usize,
    pub enabled: bool,
    pub debug: bool,
    pub environment: String,
    pub workspace_slug: String,
    pub capture: CapturePolicy,
    pub git: Option<GitContext>,
    pub session_id: String,
    pub shutdown_timeout: Duration,
    pub max_field_bytes: usize,
    pub redact_secrets: bool,
    pub ca_cert_pem: Option<Vec<u8>>,
    pub request_timeout: Duration,
    pub mask: Option<Mask>,
    pub install_panic_hook: bool,
    pub install_exit_hook: bool,
    /// `None`: every trace is recorded.
    pub sampling: Option<Sampling>,
    /// The `guard_checks` option as given (`None`: `STASO_GUARD_ENABLED` decides, read at
    /// each check as the Python SDK does).
    pub guard_checks: Option<bool>,
    /// Spans go to the Staso ingest (`staso_ingest`).
    pub staso_ingest: bool,
    /// Spans also (or only) go to this OpenTelemetry endpoint.
    pub otlp: Option<OtlpConfig>,
}

/// `max_queue_bytes` by default: 64 MiB.
pub(crate) const DEFAULT_MAX_QUEUE_BYTES: usize = 64 * 1024 * 1024;

const STRICT_BOOL: &str = "1/0, true/false, yes/no, on/off";

/// A strict boolean (capture switches, `STASO_ENABLED`): anything but the listed words is
/// an error.
fn parse_strict(var: &'static str, value: String) -> Result<bool, InitError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(InitError::InvalidEnv {
            var,
            value,
            expected: STRICT_BOOL,
        }),
    }
}

/// `explicit`, else the strict boolean in `var` (blank counts as unset).
fn flag(
    explicit: Option<bool>,
    env: &dyn Env,
    var: &'static str,
) -> Result<Option<bool>, InitError> {
    match explicit {
        Some(v) => Ok(Some(v)),
        None => non_blank(env, var)
            .map(|v| parse_strict(var, v))
            .transpose(),
    }
}

/// Lenient flag parsing for `STASO_DEBUG` (as the reference client: `1`/`true`).
fn lenient_flag(env: &dyn Env, var: &str) -> Option<bool> {
    non_blank(env, var).map(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// A string option: the argument unless blank, else the variable unless blank.
fn text(explicit: &Option<String>, env: &dyn Env, var: &str) -> Option<String> {
    explicit
        .clone()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| non_blank(env, var))
}

/// Explicit option → `STASO_CAPTURE_<CATEGORY>` → (`request` and `system_prompt` only)
/// `capture_messages`/`STASO_CAPTURE_MESSAGES` → on.
fn capture_policy(o: &Options, env: &dyn Env) -> Result<CapturePolicy, InitError> {
    let messages = flag(o.capture_messages, env, "STASO_CAPTURE_MESSAGES")?;
    let one = |explicit: Option<bool>, c: Category| -> Result<bool, InitError> {
        let legacy = matches!(c, Category::Request | Category::SystemPrompt);
        let v = flag(explicit, env, c.env_var())?;
        Ok(v.or(if legacy { messages } else { None }).unwrap_or(true))
    };
    Ok(CapturePolicy {
        request: one(o.capture_request, Category::Request)?,
        system_prompt: one(o.capture_system_prompt, Category::SystemPrompt)?,
        tool_schema: one(o.capture_tool_schema, Category::ToolSchema)?,
        tool_arguments: one(o.capture_tool_arguments, Category::ToolArguments)?,
        output: one(o.capture_output, Category::Output)?,
    })
}

/// The key as users give it (often read from a file, with a trailing newline): trimmed,
/// then refused when it still cannot be an HTTP header value.
fn check_api_key(raw: &str) -> Result<ApiKey, InitError> {
    let key = raw.trim();
    if PLACEHOLDER_KEYS.contains(&key.to_ascii_lowercase().as_str()) {
        return Err(InitError::PlaceholderApiKey);
    }
    let reason = if key.chars().any(char::is_whitespace) {
        Some("contains whitespace")
    } else if key.chars().any(char::is_control) {
        Some("contains a control character")
    } else if !key.is_ascii() {
        Some("contains a non-ASCII character")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(InitError::InvalidApiKey { reason }),
        None => Ok(ApiKey(key.to_string())),
    }
}

/// Checks `options` against `env` and returns the configuration the client runs with,
/// or the first problem found. With tracing disabled a missing key or agent name is not
/// an error (there is nothing to send); a malformed value still is.
pub(crate) fn resolve(o: &Options, env: &dyn Env) -> Result<Config, InitError> {
    let enabled = flag(o.enabled, env, "STASO_ENABLED")?.unwrap_or(true);
    let otlp = otlp::resolve(o, env)?;
    let staso_ingest = flag(o.staso_ingest, env, "STASO_INGEST")?.unwrap_or(true);
    if enabled && !staso_ingest && otlp.is_none() {
        return Err(InitError::NoDestination);
    }
    let api_key = match text(&o.api_key, env, "STASO_API_KEY") {
        Some(k) => check_api_key(&k)?,
        None if enabled && staso_ingest => return Err(InitError::MissingApiKey),
        None => ApiKey::default(),
    };
    let agent_name = match text(&o.agent_name, env, "STASO_AGENT_NAME") {
        Some(n) => n,
        None if enabled => return Err(InitError::MissingAgentName),
        None => String::new(),
    };
    let base_url =
        text(&o.base_url, env, "STASO_BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
    let base_url = check_base_url(&base_url)?;

    let batch_size = o.batch_size.unwrap_or(100);
    if !(1..=500).contains(&batch_size) {
        return Err(InitError::BatchSize(batch_size));
    }
    let flush_interval = o.flush_interval.unwrap_or(Duration::from_secs(5));
    if flush_interval.is_zero() {
        return Err(InitError::FlushInterval(flush_interval));
    }
    let max_queue_size = o.max_queue_size.unwrap_or(10_000);
    if max_queue_size == 0 {
        return Err(InitError::MaxQueueSize);
    }
    let max_field_bytes = o.max_field_bytes.unwrap_or(256 * 1024);
    if max_field_bytes == 0 {
        return Err(InitError::MaxFieldBytes);
    }
    let max_queue_bytes = o.max_queue_bytes.unwrap_or(DEFAULT_MAX_QUEUE_BYTES);
    if max_queue_bytes < max_field_bytes {
        return Err(InitError::MaxQueueBytes {
            max_queue_bytes,
            max_field_bytes,
        });
    }
    let capture = capture_policy(o, env)?;
    let git = if o.capture_git.unwrap_or(true) {
        crate::git::detect(env, o.git.clone())
    } else {
        None
    };
    let ca_cert_pem = match o
        .ca_cert_path
        .clone()
        .or_else(|| non_blank(env, "STASO_CA_CERT").map(Into::into))
    {
        Some(path) => Some(std::fs::read(&path).map_err(|e| InitError::CaCert {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?),
        None => None,
    };
    let session_id =
        non_blank(env, "STASO_SESSION_ID").unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let rate = match (o.sample_rate, non_blank(env, "STASO_SAMPLE_RATE")) {
        (Some(r), _) => r,
        (None, Some(v)) => v
            .trim()
            .parse::<f64>()
            .map_err(|_| InitError::SampleRate(format!("{v:?}")))?,
        (None, None) => 1.0,
    };
    if !(0.0..=1.0).contains(&rate) {
        return Err(InitError::SampleRate(rate.to_string()));
    }
    Ok(Config {
        agent_id: staso_types::agent_id(&agent_name),
        api_key,
        agent_name,
        agent_version: text(&o.agent_version, env, "STASO_AGENT_VERSION").unwrap_or_default(),
        base_url,
        batch_size,
        flush_interval,
        max_queue_size,
        max_queue_bytes,
        enabled,
        debug: o
            .debug
            .or_else(|| lenient_flag(env, "STASO_DEBUG"))
            .unwrap_or(false),
        environment: text(&o.environment, env, "STASO_ENVIRONMENT")
            .unwrap_or_else(|| "default".into()),
        workspace_slug: text(&o.workspace_slug, env, "STASO_WORKSPACE_SLUG")
            .unwrap_or_else(|| "default".into()),
        capture,
        git,
        session_id,
        shutdown_timeout: o.shutdown_timeout.unwrap_or(Duration::from_secs(5)),
        max_field_bytes,
        redact_secrets: o.redact_secrets.unwrap_or(true),
        ca_cert_pem,
        request_timeout: o.request_timeout.unwrap_or(Duration::from_secs(10)),
        mask: o.mask.clone().map(Mask),
        install_panic_hook: o.install_panic_hook.unwrap_or(true),
        install_exit_hook: o.install_exit_hook.unwrap_or(true),
        sampling: Sampling::new(rate, o.sampler.clone()),
        // Guard decisions come from the Staso service: without it they are off unless
        // asked for.
        guard_checks: o.guard_checks.or((!staso_ingest).then_some(false)),
        staso_ingest,
        otlp,
    })
}

/// Accepts an absolute http(s) URL with a host and nothing that does not belong in a base
/// URL; plain http only to loopback. A URL that already ends in the ingest path is the
/// same base. Returns it without a trailing slash. Errors never repeat credentials.
fn check_base_url(raw: &str) -> Result<String, InitError> {
    let shown = strip_userinfo(raw.trim());
    let invalid = |reason| InitError::InvalidBaseUrl {
        url: shown.clone(),
        reason,
    };
    let url = url::Url::parse(raw.trim()).map_err(|_| invalid("it is not an absolute URL"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(invalid("the scheme must be http or https"));
    }
    let host = match url.host() {
        Some(h) => h,
        None => return Err(invalid("it has no host")),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("it must not contain credentials"));
    }
    if url.query().is_some() {
        return Err(invalid("it must not contain a query"));
    }
    if url.fragment().is_some() {
        return Err(invalid("it must not contain a fragment"));
    }
    if url.scheme() == "http" && !is_loopback(&host) {
        return Err(InitError::InsecureBaseUrl { url: shown });
    }
    let s = url.as_str().trim_end_matches('/');
    let s = s.strip_suffix(INGEST_PATH).unwrap_or(s);
    Ok(s.trim_end_matches('/').to_string())
}

/// `localhost`, 127.0.0.0/8 or ::1: where plain http is allowed.
fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&'static str, &'static str)]) -> HashMap<&'static str, &'static str> {
        pairs.iter().copied().collect()
    }

    fn policy(
        pairs: &[(&'static str, &'static str)],
        o: Options,
    ) -> Result<CapturePolicy, InitError> {
        capture_policy(&o, &env(pairs))
    }

    #[test]
    fn capture_messages_off_switches_request_and_system_prompt_unless_explicit() {
        let p = policy(
            &[
                ("STASO_CAPTURE_MESSAGES", "false"),
                ("STASO_CAPTURE_REQUEST", "on"),
            ],
            Options::default(),
        )
        .expect("valid");
        assert!(p.request);
        assert!(!p.system_prompt);
        assert!(p.tool_arguments && p.output && p.tool_schema);
    }

    #[test]
    fn strict_parsing_refuses_other_words() {
        let err = policy(&[("STASO_CAPTURE_OUTPUT", "maybe")], Options::default())
            .expect_err("must be refused");
        assert!(err.to_string().contains("STASO_CAPTURE_OUTPUT"), "{err}");
        assert!(err.to_string().contains(STRICT_BOOL), "{err}");
    }

    #[test]
    fn explicit_option_wins_over_env() {
        let o = Options::new().capture_output(true);
        assert!(
            policy(&[("STASO_CAPTURE_OUTPUT", "0")], o)
                .expect("valid")
                .output
        );
    }

    #[test]
    fn a_base_url_ending_in_the_ingest_path_is_the_same_base() {
        assert_eq!(
            check_base_url("https://host/v1/traces/ingest").expect("valid"),
            "https://host"
        );
        assert_eq!(
            check_base_url("https://host/proxy/v1/traces/ingest/").expect("valid"),
            "https://host/proxy"
        );
        assert_eq!(
            check_base_url("https://host/").expect("valid"),
            "https://host"
        );
    }

    #[test]
    fn base_url_errors_never_repeat_credentials() {
        for raw in [
            "http://user:hunter2@example.com",
            "https://user:hunter2@example.com/?q=1",
            "ftp://user:hunter2@example.com",
        ] {
            let e = check_base_url(raw).expect_err(raw).to_string();
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn keys_read_from_files_are_trimmed_and_broken_ones_refused() {
        assert_eq!(
            check_api_key("ak_123\n").expect("trimmed").expose(),
            "ak_123"
        );
        for (raw, why) in [
            ("ak_1 23", "whitespace"),
            ("ak_1\u{7}23", "control"),
            ("ak_1é23", "non-ASCII"),
        ] {
            let e = check_api_key(raw).expect_err(raw).to_string();
            assert!(e.contains(why) && e.contains("STASO_API_KEY"), "{e}");
            assert!(!e.contains("ak_1"), "the key is never repeated: {e}");
        }
    }

    #[test]
    fn otlp_instead_of_staso_needs_no_key_but_needs_a_destination() {
        let e = resolve(
            &Options::new().agent_name("a").staso_ingest(false),
            &env(&[]),
        )
        .expect_err("no destination");
        assert_eq!(e, InitError::NoDestination);
        assert!(e.to_string().contains("otlp_endpoint"), "{e}");
        let e = resolve(
            &Options::new().agent_name("a"),
            &env(&[("STASO_INGEST", "maybe")]),
        )
        .expect_err("strict");
        assert!(e.to_string().contains("STASO_INGEST"), "{e}");
    }

    #[cfg(feature = "otlp")]
    #[test]
    fn otlp_only_runs_without_an_api_key_and_without_guard_checks() {
        let c = resolve(
            &Options::new().agent_name("a"),
            &env(&[
                ("STASO_INGEST", "0"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"),
            ]),
        )
        .expect("valid");
        assert!(!c.staso_ingest);
        assert_eq!(c.guard_checks, Some(false));
        assert_eq!(
            c.otlp.map(|o| o.endpoint).as_deref(),
            Some("http://localhost:4318/v1/traces")
        );
    }

    #[cfg(not(feature = "otlp"))]
    #[test]
    fn without_the_feature_asking_for_otlp_names_the_feature() {
        let o = Options::new()
            .api_key("ak_1")
            .agent_name("a")
            .otlp_endpoint("http://localhost:4318");
        let e = resolve(&o, &env(&[])).expect_err("feature off");
        assert_eq!(
            e,
            InitError::OtlpFeatureOff {
                option: "otlp_endpoint"
            }
        );
        assert!(e.to_string().contains("features = [\"otlp\"]"), "{e}");
        // The variables are OpenTelemetry's, shared with other exporters: ignored here.
        let c = resolve(
            &Options::new().api_key("ak_1").agent_name("a"),
            &env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")]),
        )
        .expect("ignored");
        assert!(c.otlp.is_none() && c.staso_ingest);
    }
}
