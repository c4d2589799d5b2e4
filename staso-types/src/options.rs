//! Everything `init` (and `#[staso::main]`) accepts, and the one table of option names,
//! types and environment variables that the macro, the runtime and the docs all read.

use crate::git::GitContext;
use crate::ids::TraceId;
use crate::kind::Kind;
use crate::otlp::OtlpProtocol;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A hook applied to every string that leaves the process inside captured content (input,
/// output, metadata, error messages, Debug text), after secret redaction: it gets the
/// nearest JSON key (`""` when there is none) and the text, and returns the text to send
/// instead, or `None` to keep it. A panicking hook sends a placeholder. It runs on the
/// thread that writes the text: yours for values set on a span, the SDK's batcher thread
/// for the arguments and result of an instrumented function.
///
/// ```
/// use std::sync::Arc;
/// let mask: staso_types::MaskFn = Arc::new(|key: &str, text: &str| {
///     (key == "email" || text.contains('@')).then(|| "[email]".to_string())
/// });
/// assert_eq!(mask("email", "a@b.c").as_deref(), Some("[email]"));
/// assert_eq!(mask("city", "Paris"), None);
/// ```
pub type MaskFn = Arc<dyn Fn(&str, &str) -> Option<String> + Send + Sync>;

/// What a sampler sees of a trace's root span when it opens (its attributes are not set
/// yet; tags from the attribute are).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct SamplingInput<'a> {
    /// The new trace's id.
    pub trace_id: TraceId,
    /// The root span's name.
    pub name: &'a str,
    /// The root span's kind.
    pub kind: Kind,
    /// The agent it runs under: its own name for an agent span, else the process default.
    pub agent_name: &'a str,
    /// The `tags = [..]` of its attribute, if any.
    pub tags: &'a [&'static str],
}

impl<'a> SamplingInput<'a> {
    /// The input of a root named `name` of `kind`, running under `agent_name`, no tags.
    pub fn new(trace_id: TraceId, name: &'a str, kind: Kind, agent_name: &'a str) -> Self {
        SamplingInput {
            trace_id,
            name,
            kind,
            agent_name,
            tags: &[],
        }
    }

    /// Keeps `rate` (0.0–1.0) of traces, decided by the trace id alone, as OpenTelemetry's
    /// ratio sampler does: the same trace gets the same answer wherever it is asked.
    ///
    /// ```
    /// # use staso_types::{SamplingInput, TraceId, Kind};
    /// let keep = |i: &SamplingInput<'_>| i.agent_name == "billing" || i.ratio(0.1);
    /// # let _ = keep;
    /// ```
    pub fn ratio(&self, rate: f64) -> bool {
        ratio_keeps(self.trace_id, rate)
    }
}

/// Whether a trace is kept at `rate`: its id's low 64 bits below `rate` × 2⁶⁴.
pub fn ratio_keeps(trace_id: TraceId, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate.is_nan() || rate <= 0.0 {
        return false;
    }
    let threshold = (rate * 18_446_744_073_709_551_616.0) as u64;
    (trace_id.to_u128() as u64) < threshold
}

/// Decides at a trace's root whether the trace is recorded; every span of the trace
/// follows the root's decision.
pub type SamplerFn = Arc<dyn Fn(&SamplingInput<'_>) -> bool + Send + Sync>;

/// Everything `init` accepts. Unset fields fall back to their environment variable (see
/// [`OPTIONS`]), then to the contract's default. Build it with the setters, or set fields
/// on `Options::default()`.
///
/// ```
/// use std::time::Duration;
/// let options = staso_types::Options::new()
///     .api_key("ak_test")
///     .agent_name("support-bot")
///     .batch_size(50)
///     .flush_interval(Duration::from_millis(500));
/// assert_eq!(options.batch_size, Some(50));
/// assert!(format!("{options:?}").contains("[redacted]"));
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Options {
    /// API key (`STASO_API_KEY`). Required when tracing is enabled. Surrounding whitespace
    /// is trimmed; a key that still holds whitespace or control characters is refused.
    pub api_key: Option<String>,
    /// Default agent name (`STASO_AGENT_NAME`). Required when tracing is enabled.
    pub agent_name: Option<String>,
    /// Free-form version label (`STASO_AGENT_VERSION`), `""` by default.
    pub agent_version: Option<String>,
    /// Service address (`STASO_BASE_URL`), `https://api.staso.ai` by default. A URL that
    /// already ends in `/v1/traces/ingest` is accepted as the same base.
    pub base_url: Option<String>,
    /// Spans per request, 1..=500; 100 by default.
    pub batch_size: Option<usize>,
    /// Longest wait before finished spans are sent; 5 s by default.
    pub flush_interval: Option<Duration>,
    /// Spans held in memory at most, everything counted (waiting to be sent, waiting for
    /// a retry, in flight); 10 000 by default.
    pub max_queue_size: Option<usize>,
    /// Bytes of captured content (arguments, results, metadata, error messages, LLM
    /// text) held at most by the spans counted in `max_queue_size`, beyond a small
    /// allowance per span that most spans stay within; 64 MiB by default. A span whose
    /// captured content does not fit is dropped and counted, as at a full queue. At least
    /// `max_field_bytes`.
    pub max_queue_bytes: Option<usize>,
    /// `false` (or `STASO_ENABLED=0/false/no/off`) turns tracing off at run time: every
    /// span is a load and a branch, nothing is sent, and no key is needed.
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
    /// How long shutdown (the guard of `#[staso::main]`, dropping the `Client`, the exit
    /// hook) waits for delivery; 5 s by default.
    pub shutdown_timeout: Option<Duration>,
    /// Longest captured field (input, output, metadata value, error message, name), in
    /// bytes; capture stops there, on a UTF-8 boundary. 256 KiB by default.
    pub max_field_bytes: Option<usize>,
    /// Redact secrets in captured content (values under secret-looking keys, `key=value`
    /// pairs, bearer tokens, `sk-…` keys, this SDK's own key); `true` by default.
    pub redact_secrets: Option<bool>,
    /// An extra PEM CA certificate to trust, for self-hosted endpoints (`STASO_CA_CERT`).
    pub ca_cert_path: Option<PathBuf>,
    /// A hook applied to every captured string before it leaves the process.
    pub mask: Option<MaskFn>,
    /// Limit of one HTTP attempt; 10 s by default (the contract's).
    pub request_timeout: Option<Duration>,
    /// Git context given directly (`#[staso::main]` passes the values baked in at compile
    /// time); run-time `STASO_VCS_*` variables still win.
    pub git: Option<GitContext>,
    /// Chain a panic hook at init that keeps the panic message for the span it unwinds
    /// through (the previous hook still runs); `true` by default. Without it a panicking
    /// span says `panicked` without the message.
    pub install_panic_hook: Option<bool>,
    /// Register an `atexit` hook at init that flushes within `shutdown_timeout` when the
    /// process exits without shutting the client down; `true` by default.
    pub install_exit_hook: Option<bool>,
    /// Fraction of traces recorded, 0.0–1.0 (`STASO_SAMPLE_RATE`); 1.0 by default. Decided
    /// once per trace at its root from the trace id, so a trace is kept or dropped whole,
    /// also across services (the W3C `traceparent` sampled flag).
    pub sample_rate: Option<f64>,
    /// Decides per trace instead of `sample_rate` (by agent, root name, kind, tags); see
    /// [`SamplingInput::ratio`] to keep a fraction of some traces.
    pub sampler: Option<SamplerFn>,
    /// The automatic guard checks: the tool calls an LLM reply proposes, and
    /// `#[staso::tool(guard)]`. Falls back to `STASO_GUARD_ENABLED` (only `false` turns
    /// them off, as the Python SDK reads it); on by default. An explicit `staso::guard`
    /// call always runs.
    pub guard_checks: Option<bool>,
    /// Also send every span to an OpenTelemetry endpoint over OTLP/HTTP: the traces URL
    /// (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT` +
    /// `/v1/traces`). A URL without a path gets `/v1/traces` (`http://localhost:4318` is
    /// Jaeger's or a collector's). Needs the `otlp` feature of `staso`; without it an
    /// endpoint given here is refused at init (the environment variables are then
    /// ignored: other OpenTelemetry exporters of the process read them too).
    pub otlp_endpoint: Option<String>,
    /// The OTLP encoding (`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else
    /// `OTEL_EXPORTER_OTLP_PROTOCOL`): `http/protobuf` by default, or `http/json`.
    pub otlp_protocol: Option<OtlpProtocol>,
    /// Headers sent with every OTLP request, e.g. an `authorization` token
    /// (`OTEL_EXPORTER_OTLP_TRACES_HEADERS`, else `OTEL_EXPORTER_OTLP_HEADERS`, written
    /// `key=value,key2=value2`). Their values never appear in `Debug` or logs.
    pub otlp_headers: Option<Vec<(String, String)>>,
    /// Send spans to the Staso ingest (`STASO_INGEST`); `true` by default. `false` with an
    /// `otlp_endpoint` sends to the OpenTelemetry endpoint *instead*: no API key is needed,
    /// annotations are refused, and the automatic guard checks are off unless asked for.
    pub staso_ingest: Option<bool>,
}

macro_rules! setters {
    ($($(#[$m:meta])* $name:ident: $ty:ty => $conv:expr;)*) => {
        impl Options {
            $(
                $(#[$m])*
                pub fn $name(mut self, value: $ty) -> Self {
                    #[allow(clippy::redundant_closure_call)]
                    {
                        self.$name = Some(($conv)(value));
                    }
                    self
                }
            )*
        }
    };
}

impl Options {
    /// Options with nothing set: every value comes from the environment or the default.
    pub fn new() -> Self {
        Self::default()
    }
}

setters! {
    /// Sets [`api_key`](Options::api_key).
    api_key: impl Into<String> => Into::into;
    /// Sets [`agent_name`](Options::agent_name).
    agent_name: impl Into<String> => Into::into;
    /// Sets [`agent_version`](Options::agent_version).
    agent_version: impl Into<String> => Into::into;
    /// Sets [`base_url`](Options::base_url).
    base_url: impl Into<String> => Into::into;
    /// Sets [`batch_size`](Options::batch_size).
    batch_size: usize => std::convert::identity;
    /// Sets [`flush_interval`](Options::flush_interval).
    flush_interval: Duration => std::convert::identity;
    /// Sets [`max_queue_size`](Options::max_queue_size).
    max_queue_size: usize => std::convert::identity;
    /// Sets [`max_queue_bytes`](Options::max_queue_bytes).
    max_queue_bytes: usize => std::convert::identity;
    /// Sets [`enabled`](Options::enabled).
    enabled: bool => std::convert::identity;
    /// Sets [`debug`](Options::debug).
    debug: bool => std::convert::identity;
    /// Sets [`environment`](Options::environment).
    environment: impl Into<String> => Into::into;
    /// Sets [`workspace_slug`](Options::workspace_slug).
    workspace_slug: impl Into<String> => Into::into;
    /// Sets [`capture_messages`](Options::capture_messages).
    capture_messages: bool => std::convert::identity;
    /// Sets [`capture_request`](Options::capture_request).
    capture_request: bool => std::convert::identity;
    /// Sets [`capture_system_prompt`](Options::capture_system_prompt).
    capture_system_prompt: bool => std::convert::identity;
    /// Sets [`capture_tool_schema`](Options::capture_tool_schema).
    capture_tool_schema: bool => std::convert::identity;
    /// Sets [`capture_tool_arguments`](Options::capture_tool_arguments).
    capture_tool_arguments: bool => std::convert::identity;
    /// Sets [`capture_output`](Options::capture_output).
    capture_output: bool => std::convert::identity;
    /// Sets [`capture_git`](Options::capture_git).
    capture_git: bool => std::convert::identity;
    /// Sets [`shutdown_timeout`](Options::shutdown_timeout).
    shutdown_timeout: Duration => std::convert::identity;
    /// Sets [`max_field_bytes`](Options::max_field_bytes).
    max_field_bytes: usize => std::convert::identity;
    /// Sets [`redact_secrets`](Options::redact_secrets).
    redact_secrets: bool => std::convert::identity;
    /// Sets [`ca_cert_path`](Options::ca_cert_path).
    ca_cert_path: impl Into<PathBuf> => Into::into;
    /// Sets [`mask`](Options::mask).
    mask: impl Fn(&str, &str) -> Option<String> + Send + Sync + 'static => |f| Arc::new(f) as MaskFn;
    /// Sets [`request_timeout`](Options::request_timeout).
    request_timeout: Duration => std::convert::identity;
    /// Sets [`git`](Options::git).
    git: GitContext => std::convert::identity;
    /// Sets [`install_panic_hook`](Options::install_panic_hook).
    install_panic_hook: bool => std::convert::identity;
    /// Sets [`install_exit_hook`](Options::install_exit_hook).
    install_exit_hook: bool => std::convert::identity;
    /// Sets [`sample_rate`](Options::sample_rate).
    sample_rate: f64 => std::convert::identity;
    /// Sets [`guard_checks`](Options::guard_checks).
    guard_checks: bool => std::convert::identity;
    /// Sets [`sampler`](Options::sampler).
    sampler: impl Fn(&SamplingInput<'_>) -> bool + Send + Sync + 'static => |f| Arc::new(f) as SamplerFn;
    /// Sets [`otlp_endpoint`](Options::otlp_endpoint).
    otlp_endpoint: impl Into<String> => Into::into;
    /// Sets [`otlp_protocol`](Options::otlp_protocol).
    otlp_protocol: OtlpProtocol => std::convert::identity;
    /// Sets [`staso_ingest`](Options::staso_ingest).
    staso_ingest: bool => std::convert::identity;
}

impl Options {
    /// Sets [`otlp_headers`](Options::otlp_headers), replacing any set before.
    ///
    /// ```
    /// let o = staso_types::Options::new()
    ///     .otlp_endpoint("https://otlp.example.com")
    ///     .otlp_headers([("authorization", "Bearer t0k")]);
    /// assert!(!format!("{o:?}").contains("t0k"));
    /// ```
    pub fn otlp_headers<K: Into<String>, V: Into<String>>(
        mut self,
        headers: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.otlp_headers = Some(
            headers
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }
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
            .field("max_queue_bytes", &self.max_queue_bytes)
            .field("enabled", &self.enabled)
            .field("debug", &self.debug)
            .field("environment", &self.environment)
            .field("workspace_slug", &self.workspace_slug)
            .field("capture_messages", &self.capture_messages)
            .field("capture_git", &self.capture_git)
            .field("mask", &self.mask.as_ref().map(|_| "<fn>"))
            .field("sample_rate", &self.sample_rate)
            .field("sampler", &self.sampler.as_ref().map(|_| "<fn>"))
            .field("otlp_endpoint", &self.otlp_endpoint)
            .field("otlp_protocol", &self.otlp_protocol)
            .field(
                "otlp_headers",
                &self.otlp_headers.as_ref().map(|h| {
                    h.iter()
                        .map(|(k, _)| (k.as_str(), "[redacted]"))
                        .collect::<Vec<_>>()
                }),
            )
            .field("staso_ingest", &self.staso_ingest)
            .finish_non_exhaustive()
    }
}

/// The type of an option's value, as `#[staso::main]` takes it.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum OptionType {
    /// A string literal.
    Text,
    /// A file path, as a string literal.
    Path,
    /// `true` or `false`.
    Flag,
    /// An integer in `min..=max`.
    Count {
        /// Smallest value allowed.
        min: usize,
        /// Largest value allowed.
        max: usize,
    },
    /// Seconds (integer or float), greater than zero.
    Seconds,
    /// A number in 0.0..=1.0.
    Fraction,
    /// One of these strings (parsed into the field's type with `FromStr`).
    Choice(&'static [&'static str]),
    /// `key=value` pairs separated by commas, as a string literal (see
    /// [`parse_otlp_headers`](crate::parse_otlp_headers)).
    Pairs,
}

/// One option: its name (the field of [`Options`] and the key of `#[staso::main]`), its
/// type and its environment variable.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    /// The field and attribute key.
    pub name: &'static str,
    /// What it takes.
    pub ty: OptionType,
    /// The environment variable it falls back to, if any.
    pub env: Option<&'static str>,
}

impl OptionSpec {
    /// The option named `name`.
    pub fn get(name: &str) -> Option<&'static OptionSpec> {
        OPTIONS.iter().find(|o| o.name == name)
    }
}

const fn spec(name: &'static str, ty: OptionType, env: Option<&'static str>) -> OptionSpec {
    OptionSpec { name, ty, env }
}

use OptionType::{Flag, Path, Seconds, Text};

/// Every option that `#[staso::main(..)]` takes, with its environment variable. (`mask`
/// and `git` are set in code only.)
pub const OPTIONS: &[OptionSpec] = &[
    spec("api_key", Text, Some("STASO_API_KEY")),
    spec("agent_name", Text, Some("STASO_AGENT_NAME")),
    spec("agent_version", Text, Some("STASO_AGENT_VERSION")),
    spec("base_url", Text, Some("STASO_BASE_URL")),
    spec("batch_size", OptionType::Count { min: 1, max: 500 }, None),
    spec("flush_interval", Seconds, None),
    spec(
        "max_queue_size",
        OptionType::Count {
            min: 1,
            max: usize::MAX,
        },
        None,
    ),
    spec(
        "max_queue_bytes",
        OptionType::Count {
            min: 1,
            max: usize::MAX,
        },
        None,
    ),
    spec("enabled", Flag, Some("STASO_ENABLED")),
    spec("debug", Flag, Some("STASO_DEBUG")),
    spec("environment", Text, Some("STASO_ENVIRONMENT")),
    spec("workspace_slug", Text, Some("STASO_WORKSPACE_SLUG")),
    spec("capture_messages", Flag, Some("STASO_CAPTURE_MESSAGES")),
    spec("capture_request", Flag, Some("STASO_CAPTURE_REQUEST")),
    spec(
        "capture_system_prompt",
        Flag,
        Some("STASO_CAPTURE_SYSTEM_PROMPT"),
    ),
    spec(
        "capture_tool_schema",
        Flag,
        Some("STASO_CAPTURE_TOOL_SCHEMA"),
    ),
    spec(
        "capture_tool_arguments",
        Flag,
        Some("STASO_CAPTURE_TOOL_ARGUMENTS"),
    ),
    spec("capture_output", Flag, Some("STASO_CAPTURE_OUTPUT")),
    spec("capture_git", Flag, None),
    spec("shutdown_timeout", Seconds, None),
    spec(
        "max_field_bytes",
        OptionType::Count {
            min: 1,
            max: usize::MAX,
        },
        None,
    ),
    spec("redact_secrets", Flag, None),
    spec("ca_cert_path", Path, Some("STASO_CA_CERT")),
    spec("request_timeout", Seconds, None),
    spec("install_panic_hook", Flag, None),
    spec("install_exit_hook", Flag, None),
    spec(
        "sample_rate",
        OptionType::Fraction,
        Some("STASO_SAMPLE_RATE"),
    ),
    spec("guard_checks", Flag, Some("STASO_GUARD_ENABLED")),
    spec(
        "otlp_endpoint",
        Text,
        Some("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    ),
    spec(
        "otlp_protocol",
        OptionType::Choice(&["http/protobuf", "http/json"]),
        Some("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
    ),
    spec(
        "otlp_headers",
        OptionType::Pairs,
        Some("OTEL_EXPORTER_OTLP_TRACES_HEADERS"),
    ),
    spec("staso_ingest", Flag, Some("STASO_INGEST")),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_in_the_table_is_a_field_set_by_its_setter() {
        // The table and the struct are kept in step by this test: each listed option is
        // settable under its name and shows up in the struct.
        let o = Options::new()
            .api_key("k")
            .agent_name("a")
            .agent_version("v")
            .base_url("http://localhost")
            .batch_size(1)
            .flush_interval(Duration::from_secs(1))
            .max_queue_size(1)
            .max_queue_bytes(1)
            .enabled(true)
            .debug(true)
            .environment("e")
            .workspace_slug("w")
            .capture_messages(true)
            .capture_request(true)
            .capture_system_prompt(true)
            .capture_tool_schema(true)
            .capture_tool_arguments(true)
            .capture_output(true)
            .capture_git(true)
            .shutdown_timeout(Duration::from_secs(1))
            .max_field_bytes(1)
            .redact_secrets(true)
            .ca_cert_path("x.pem")
            .request_timeout(Duration::from_secs(1))
            .install_panic_hook(true)
            .install_exit_hook(true)
            .sample_rate(0.5)
            .guard_checks(true)
            .otlp_endpoint("http://localhost:4318")
            .otlp_protocol(OtlpProtocol::HttpJson)
            .otlp_headers([("a", "b")])
            .staso_ingest(false);
        let set = [
            o.api_key.is_some(),
            o.agent_name.is_some(),
            o.agent_version.is_some(),
            o.base_url.is_some(),
            o.batch_size.is_some(),
            o.flush_interval.is_some(),
            o.max_queue_size.is_some(),
            o.max_queue_bytes.is_some(),
            o.enabled.is_some(),
            o.debug.is_some(),
            o.environment.is_some(),
            o.workspace_slug.is_some(),
            o.capture_messages.is_some(),
            o.capture_request.is_some(),
            o.capture_system_prompt.is_some(),
            o.capture_tool_schema.is_some(),
            o.capture_tool_arguments.is_some(),
            o.capture_output.is_some(),
            o.capture_git.is_some(),
            o.shutdown_timeout.is_some(),
            o.max_field_bytes.is_some(),
            o.redact_secrets.is_some(),
            o.ca_cert_path.is_some(),
            o.request_timeout.is_some(),
            o.install_panic_hook.is_some(),
            o.install_exit_hook.is_some(),
            o.sample_rate.is_some(),
            o.guard_checks.is_some(),
            o.otlp_endpoint.is_some(),
            o.otlp_protocol.is_some(),
            o.otlp_headers.is_some(),
            o.staso_ingest.is_some(),
        ];
        assert_eq!(set.len(), OPTIONS.len());
        assert!(set.iter().all(|s| *s));
    }
}
