//! The errors that refuse a configuration at `init`, before anything is sent. Each message
//! names the option, its environment variable and the fix, and never holds the API key.

use std::fmt;
use std::time::Duration;

/// A configuration refused at init.
///
/// ```
/// use staso_types::InitError;
/// let e = InitError::MissingApiKey;
/// assert!(e.to_string().contains("STASO_API_KEY"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitError {
    /// Neither `api_key` nor `STASO_API_KEY` is set, or it is blank.
    MissingApiKey,
    /// The API key is a placeholder such as `change-me`.
    PlaceholderApiKey,
    /// The API key cannot be sent as an HTTP header value (whitespace or a control
    /// character inside it, after trimming the ends).
    InvalidApiKey {
        /// What is wrong with it (never the key itself).
        reason: &'static str,
    },
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
        /// The URL as given, with any credentials removed.
        url: String,
    },
    /// `batch_size` outside 1..=500.
    BatchSize(usize),
    /// `flush_interval` is zero.
    FlushInterval(Duration),
    /// `max_queue_size` is zero.
    MaxQueueSize,
    /// `max_field_bytes` is zero.
    MaxFieldBytes,
    /// `max_queue_bytes` is below `max_field_bytes`: a span with one full field could
    /// never be queued.
    MaxQueueBytes {
        /// `max_queue_bytes` as given.
        max_queue_bytes: usize,
        /// `max_field_bytes` in force.
        max_field_bytes: usize,
    },
    /// `sample_rate` is not a number in 0.0..=1.0.
    SampleRate(String),
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
    /// An OTLP option was given to a build without the `otlp` feature of `staso`.
    OtlpFeatureOff {
        /// The option that asks for OTLP.
        option: &'static str,
    },
    /// The OTLP endpoint is not an absolute http(s) URL with a host, or carries
    /// credentials, a query or a fragment.
    InvalidOtlpEndpoint {
        /// Where it came from: `otlp_endpoint` or the environment variable's name.
        from: &'static str,
        /// The URL as given, with any credentials removed.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Plain `http` to an OTLP endpoint that is not loopback.
    InsecureOtlpEndpoint {
        /// Where it came from: `otlp_endpoint` or the environment variable's name.
        from: &'static str,
        /// The URL as given, with any credentials removed.
        url: String,
    },
    /// The OTLP protocol is not `http/protobuf` or `http/json`.
    InvalidOtlpProtocol {
        /// Where it came from: the environment variable's name.
        from: &'static str,
        /// Why (names the value and what to use).
        reason: String,
    },
    /// An OTLP header cannot be sent (the message never holds a header value).
    InvalidOtlpHeaders {
        /// Where it came from: `otlp_headers` or the environment variable's name.
        from: &'static str,
        /// What is wrong, without the value.
        reason: String,
    },
    /// `staso_ingest` is off and no OTLP endpoint is set: spans would go nowhere.
    NoDestination,
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::MissingApiKey => write!(
                f,
                "staso: no API key: set `api_key` in staso::Options or the STASO_API_KEY environment variable (or disable tracing with `enabled = false` / STASO_ENABLED=0)"
            ),
            InitError::PlaceholderApiKey => write!(
                f,
                "staso: the API key is a placeholder value: set `api_key` (or STASO_API_KEY) to the key from your Staso dashboard"
            ),
            InitError::InvalidApiKey { reason } => write!(
                f,
                "staso: the API key (`api_key` / STASO_API_KEY) {reason}: copy the key again from your Staso dashboard"
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
                "staso: `base_url` (STASO_BASE_URL) {url:?} uses plain http to a non-loopback host: use https (plain http is allowed only for localhost, 127.0.0.0/8 and ::1)"
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
            InitError::MaxFieldBytes => write!(
                f,
                "staso: `max_field_bytes` is 0: it must be greater than zero"
            ),
            InitError::MaxQueueBytes {
                max_queue_bytes,
                max_field_bytes,
            } => write!(
                f,
                "staso: `max_queue_bytes` ({max_queue_bytes}) is below `max_field_bytes` \
                 ({max_field_bytes}): a span with one full captured field could never be \
                 queued; raise `max_queue_bytes` to at least {max_field_bytes} or lower \
                 `max_field_bytes`"
            ),
            InitError::SampleRate(v) => write!(
                f,
                "staso: `sample_rate` (STASO_SAMPLE_RATE) is {v}: it must be a number between 0.0 and 1.0"
            ),
            InitError::InvalidEnv { var, value, expected } => write!(
                f,
                "staso: environment variable {var}={value:?} is not valid: it must be one of {expected}"
            ),
            InitError::CaCert { path, reason } => write!(
                f,
                "staso: cannot use `ca_cert_path` (STASO_CA_CERT) {path:?}: {reason}; give a readable PEM certificate file"
            ),
            InitError::Runtime(reason) => write!(
                f,
                "staso: cannot start the delivery thread: {reason}"
            ),
            InitError::OtlpFeatureOff { option } => write!(
                f,
                "staso: `{option}` asks for OTLP export, which this build does not include: turn on the `otlp` feature of staso (staso = {{ version = \"0.1\", features = [\"otlp\"] }}), or remove `{option}`"
            ),
            InitError::InvalidOtlpEndpoint { from, url, reason } => write!(
                f,
                "staso: invalid OTLP endpoint {url:?} (from {from}, option `otlp_endpoint`): {reason}; use the URL of an OTLP/HTTP receiver such as http://localhost:4318 or https://otlp.example.com/v1/traces"
            ),
            InitError::InsecureOtlpEndpoint { from, url } => write!(
                f,
                "staso: the OTLP endpoint {url:?} (from {from}, option `otlp_endpoint`) uses plain http to a non-loopback host: use https (plain http is allowed only for localhost, 127.0.0.0/8 and ::1)"
            ),
            InitError::InvalidOtlpProtocol { from, reason } => write!(
                f,
                "staso: invalid OTLP protocol in {from} (option `otlp_protocol`): {reason}"
            ),
            InitError::InvalidOtlpHeaders { from, reason } => write!(
                f,
                "staso: invalid OTLP headers in {from} (option `otlp_headers`): {reason}"
            ),
            InitError::NoDestination => write!(
                f,
                "staso: `staso_ingest` (STASO_INGEST) is off and no OTLP endpoint is set, so spans would go nowhere: set `otlp_endpoint` (or OTEL_EXPORTER_OTLP_ENDPOINT), turn `staso_ingest` back on, or disable tracing with `enabled = false` / STASO_ENABLED=0"
            ),
        }
    }
}

impl std::error::Error for InitError {}
