//! Options, their resolution (argument → environment variable → default) in one place,
//! and the errors that refuse a bad configuration before anything is sent.

use crate::capture::CapturePolicy;
use crate::git::GitContext;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The service's address when none is given.
pub const DEFAULT_BASE_URL: &str = "https://api.staso.ai";
const PLACEHOLDER_KEYS: [&str; 6] = [
    "change-me",
    "changeme",
    "your-api-key",
    "your_api_key",
    "replace-me",
    "placeholder",
];

/// Where configuration falls back to when an option is not given. The process
/// environment by default; tests pass a map instead of calling `set_var`.
pub trait Env {
    /// The value of the variable `name`, if set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Env for HashMap<&str, &str> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| v.to_string())
    }
}

/// A hook applied to every captured value (input, output, metadata) before it leaves the
/// process: return the value to send.
pub type MaskFn = Arc<dyn Fn(serde_json::Value) -> serde_json::Value + Send + Sync>;

/// Everything `init` accepts. Unset fields fall back to their environment variable, then
/// to the contract's default.
///
/// ```
/// let options = staso_core::Options {
///     api_key: Some("sk-test".into()),
///     agent_name: Some("support-bot".into()),
///     batch_size: Some(50),
///     ..Default::default()
/// };
/// assert!(format!("{options:?}").contains("[redacted]"));
/// ```
#[derive(Clone, Default)]
pub struct Options {
    /// API key (`STASO_API_KEY`). Required.
    pub api_key: Option<String>,
    /// Default agent name (`STASO_AGENT_NAME`). Required.
    pub agent_name: Option<String>,
    /// Free-form version label (`STASO_AGENT_VERSION`), `""` by default.
    pub agent_version: Option<String>,
    /// Service address (`STASO_BASE_URL`), `https://api.staso.ai` by default.
    pub base_url: Option<String>,
    /// Spans per request, 1..=500; 100 by default.
    pub batch_size: Option<usize>,
    /// Longest wait before queued spans are sent; 5 s by default.
    pub flush_interval: Option<Duration>,
    /// Spans held in memory at most (queued or waiting for a retry); 10 000 by default.
    pub max_queue_size: Option<usize>,
    /// `false` turns every tracing call into a no-op at run time.
    pub enabled: Option<bool>,
    /// Verbose SDK logging (`STASO_DEBUG`).
    pub debug: Option<bool>,
    /// Environment label (`STASO_ENVIRONMENT`), `default` by default.
    pub environment: Option<String>,
    /// Workspace (`STASO_WORKSPACE_SLUG`), `default` by default.
    pub workspace_slug: Option<String>,
    /// `false` switches off the `request` and `system_prompt` capture categories unless
    /// those are set explicitly (`STASO_CAPTURE_MESSAGES`).
    pub capture_messages: Option<bool>,
    /// Capture category `request` (`STASO_CAPTURE_REQUEST`).
    pub capture_request: Option<bool>,
    /// Capture category `system_prompt` (`STASO_CAPTURE_SYSTEM_PROMPT`).
    pub capture_system_prompt: Option<bool>,
    /// Capture category `tool_schema` (`STASO_CAPTURE_TOOL_SCHEMA`).
    pub capture_tool_schema: Option<bool>,
    /// Capture category `tool_arguments` (`STASO_CAPTURE_TOOL_ARGUMENTS`).
    pub capture_tool_arguments: Option<bool>,
    /// Capture category `output` (`STASO_CAPTURE_OUTPUT`).
    pub capture_output: Option<bool>,
    /// Look up the git commit, branch and repository at init; `true` by default.
    pub capture_git: Option<bool>,
    /// How long the guard returned by `#[staso::main]` (and the exit hook) waits for
    /// delivery at exit; 5 s by default.
    pub shutdown_timeout: Option<Duration>,
    /// Longest captured input/output/metadata value, in bytes; larger ones are truncated on
    /// a UTF-8 boundary. 256 KiB by default.
    pub max_field_bytes: Option<usize>,
    /// Replace values under secret-looking keys (`password`, `api_key`, `token`, ...) with
    /// `[REDACTED]`; `true` by default.
    pub redact_secrets: Option<bool>,
    /// An extra PEM CA certificate to trust, for self-hosted endpoints
    /// (`STASO_CA_CERT`).
    pub ca_cert_path: Option<std::path::PathBuf>,
    /// A hook applied to every captured value before it leaves the process.
    pub mask: Option<MaskFn>,
    /// Limit of one HTTP attempt; 10 s by default (the contract's).
    pub request_timeout: Option<Duration>,
    /// Git context given directly (the `#[staso::main]` attribute passes the values baked
    /// in at compile time); run-time `STASO_VCS_*` variables still win.
    pub git: Option<GitContext>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("agent_name", &self.agent_name)
            .field("agent_version", &self.agent_version)
            .field("base_url", &self.base_url)
            .field("batch_size", &self.batch_size)
            .field("flush_interval", &self.flush_interval)
            .field("max_queue_size", &self.max_queue_size)
            .field("enabled", &self.enabled)
            .field("debug", &self.debug)
            .field("environment", &self.environment)
            .field("workspace_slug", &self.workspace_slug)
            .field("capture_messages", &self.capture_messages)
            .field("capture_git", &self.capture_git)
            .finish_non_exhaustive()
    }
}

/// A configuration refused at init. Each message names the option (and its environment
/// variable) and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitError {
    /// Neither `api_key` nor `STASO_API_KEY` is set, or it is blank.
    MissingApiKey,
    /// The API key is a placeholder such as `change-me`.
    PlaceholderApiKey,
    /// Neither `agent_name` nor `STASO_AGENT_NAME` is set, or it is blank.
    MissingAgentName,
    /// `base_url` is not an absolute http(s) URL with a host, or carries credentials, a
    /// query or a fragment.
    InvalidBaseUrl {
        /// The URL as given, with any credentials removed.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Plain `http` to a host that is not loopback.
    InsecureBaseUrl {
        /// The URL as given.
        url: String,
    },
    /// `batch_size` outside 1..=500.
    BatchSize(usize),
    /// `flush_interval` is zero.
    FlushInterval(Duration),
    /// `max_queue_size` is zero.
    MaxQueueSize,
    /// An environment variable holds a value that cannot be parsed.
    InvalidEnv {
        /// The variable's name.
        var: &'static str,
        /// What it holds.
        value: String,
        /// What it may hold.
        expected: &'static str,
    },
    /// The CA certificate could not be read or parsed.
    CaCert {
        /// The file.
        path: String,
        /// Why it failed.
        reason: String,
    },
    /// The background delivery thread could not be started.
    Runtime(String),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::MissingApiKey => write!(
                f,
                "staso: no API key: set `api_key` in staso::Options or the STASO_API_KEY environment variable"
            ),
            InitError::PlaceholderApiKey => write!(
                f,
                "staso: the API key is a placeholder value: set `api_key` (or STASO_API_KEY) to the key from your Staso dashboard"
            ),
            InitError::MissingAgentName => write!(
                f,
                "staso: no agent name: set `agent_name` in staso::Options or the STASO_AGENT_NAME environment variable"
            ),
            InitError::InvalidBaseUrl { url, reason } => write!(
                f,
                "staso: invalid `base_url` (STASO_BASE_URL) {url:?}: {reason}; use an absolute URL such as https://api.staso.ai"
            ),
            InitError::InsecureBaseUrl { url } => write!(
                f,
                "staso: `base_url` {url:?} uses plain http to a non-loopback host: use https (plain http is allowed only for localhost, 127.0.0.0/8 and ::1)"
            ),
            InitError::BatchSize(n) => write!(
                f,
                "staso: `batch_size` is {n}: it must be between 1 and 500"
            ),
            InitError::FlushInterval(d) => write!(
                f,
                "staso: `flush_interval` is {d:?}: it must be greater than zero"
            ),
            InitError::MaxQueueSize => write!(
                f,
                "staso: `max_queue_size` is 0: it must be greater than zero"
            ),
            InitError::InvalidEnv { var, value, expected } => write!(
                f,
                "staso: environment variable {var}={value:?} is not valid: it must be one of {expected}"
            ),
            InitError::CaCert { path, reason } => write!(
                f,
                "staso: cannot use `ca_cert_path` {path:?}: {reason}; give a readable PEM certificate file"
            ),
            InitError::Runtime(reason) => write!(
                f,
                "staso: cannot start the delivery thread: {reason}"
            ),
        }
    }
}

impl std::error::Error for InitError {}

/// The API key, kept out of every `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
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
    #[allow(dead_code)]
    pub mask: Option<MaskFnDebug>,
}

/// `MaskFn` with a `Debug` that does not try to print a closure.
#[derive(Clone)]
pub(crate) struct MaskFnDebug(pub MaskFn);

impl fmt::Debug for MaskFnDebug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MaskFn")
    }
}

/// The namespace of agent ids (UUID v5 of the agent name), shared with the Python SDK.
const AGENT_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0xa1b2c3d4_e5f6_7890_abcd_ef1234567890);

/// UUID v5 of an agent name in the Staso namespace.
pub(crate) fn agent_id(name: &str) -> String {
    uuid::Uuid::new_v5(&AGENT_NAMESPACE, name.as_bytes()).to_string()
}

fn non_blank(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// Lenient flag parsing for `STASO_DEBUG` (as the reference client: `1`/`true`).
fn env_flag(env: &dyn Env, var: &str) -> Option<bool> {
    env.var(var).map(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

impl Options {
    /// Checks the options against `env` and returns the configuration the client runs
    /// with, or the first problem found.
    pub(crate) fn resolve(&self, env: &dyn Env) -> Result<Config, InitError> {
        let api_key = non_blank(self.api_key.clone())
            .or_else(|| non_blank(env.var("STASO_API_KEY")))
            .ok_or(InitError::MissingApiKey)?;
        if PLACEHOLDER_KEYS.contains(&api_key.trim().to_ascii_lowercase().as_str()) {
            return Err(InitError::PlaceholderApiKey);
        }
        let agent_name = non_blank(self.agent_name.clone())
            .or_else(|| non_blank(env.var("STASO_AGENT_NAME")))
            .ok_or(InitError::MissingAgentName)?;
        let base_url = self
            .base_url
            .clone()
            .or_else(|| env.var("STASO_BASE_URL"))
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let base_url = check_base_url(&base_url)?;

        let batch_size = self.batch_size.unwrap_or(100);
        if !(1..=500).contains(&batch_size) {
            return Err(InitError::BatchSize(batch_size));
        }
        let flush_interval = self.flush_interval.unwrap_or(Duration::from_secs(5));
        if flush_interval.is_zero() {
            return Err(InitError::FlushInterval(flush_interval));
        }
        let max_queue_size = self.max_queue_size.unwrap_or(10_000);
        if max_queue_size == 0 {
            return Err(InitError::MaxQueueSize);
        }
        let capture = CapturePolicy::resolve(self, env)?;
        let capture_git = self.capture_git.unwrap_or(true);
        let git = if capture_git {
            crate::git::detect(env, self.git.clone())
        } else {
            None
        };
        let ca_cert_pem = match self
            .ca_cert_path
            .clone()
            .or_else(|| env.var("STASO_CA_CERT").map(Into::into))
        {
            Some(path) => Some(std::fs::read(&path).map_err(|e| InitError::CaCert {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?),
            None => None,
        };
        let session_id = non_blank(env.var("STASO_SESSION_ID"))
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        Ok(Config {
            agent_id: agent_id(&agent_name),
            api_key: ApiKey(api_key),
            agent_name,
            agent_version: self
                .agent_version
                .clone()
                .or_else(|| env.var("STASO_AGENT_VERSION"))
                .unwrap_or_default(),
            base_url,
            batch_size,
            flush_interval,
            max_queue_size,
            enabled: self.enabled.unwrap_or(true),
            debug: self
                .debug
                .or_else(|| env_flag(env, "STASO_DEBUG"))
                .unwrap_or(false),
            environment: non_blank(self.environment.clone())
                .or_else(|| non_blank(env.var("STASO_ENVIRONMENT")))
                .unwrap_or_else(|| "default".into()),
            workspace_slug: non_blank(self.workspace_slug.clone())
                .or_else(|| non_blank(env.var("STASO_WORKSPACE_SLUG")))
                .unwrap_or_else(|| "default".into()),
            capture,
            git,
            session_id,
            shutdown_timeout: self.shutdown_timeout.unwrap_or(Duration::from_secs(5)),
            max_field_bytes: self.max_field_bytes.unwrap_or(256 * 1024),
            redact_secrets: self.redact_secrets.unwrap_or(true),
            ca_cert_pem,
            request_timeout: self.request_timeout.unwrap_or(Duration::from_secs(10)),
            mask: self.mask.clone().map(MaskFnDebug),
        })
    }
}

/// Accepts an absolute http(s) URL with a host and nothing that does not belong in a base
/// URL; plain http only to loopback. Returns it without a trailing slash.
fn check_base_url(raw: &str) -> Result<String, InitError> {
    let invalid = |reason| InitError::InvalidBaseUrl {
        url: strip_userinfo(raw),
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
    if url.scheme() == "http" {
        let loopback = match host {
            url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
        };
        if !loopback {
            return Err(InitError::InsecureBaseUrl {
                url: raw.to_string(),
            });
        }
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Removes `user:password@` from a URL-looking string, for messages and repo URLs.
pub(crate) fn strip_userinfo(raw: &str) -> String {
    if let Some(scheme_end) = raw.find("://") {
        let rest = &raw[scheme_end + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            return format!("{}{}", &raw[..scheme_end + 3], &rest[at + 1..]);
        }
    }
    raw.to_string()
}
