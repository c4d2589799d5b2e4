//! The OTLP options, resolved like every other (argument → environment variable →
//! default; a blank variable counts as unset) and checked at `init`. The environment
//! variables are OpenTelemetry's own (`OTEL_EXPORTER_OTLP_*`): the signal-specific one
//! (`..._TRACES_...`) wins over the generic one, as the OpenTelemetry spec says. A build
//! without the `otlp` feature refuses the options and ignores the variables (other
//! exporters of the process read them too).

use crate::env::{non_blank, Env};
use staso_types::{strip_userinfo, InitError, Options, OtlpProtocol};
use std::fmt;

/// The path of the traces endpoint of an OTLP/HTTP receiver.
const TRACES_PATH: &str = "/v1/traces";

/// Where and how spans are sent over OTLP.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) struct OtlpConfig {
    /// The full URL of the traces endpoint.
    pub endpoint: String,
    pub protocol: OtlpProtocol,
    pub headers: Headers,
}

/// Headers sent with every OTLP request; `Debug` shows their names only.
#[derive(Clone, Default)]
pub(crate) struct Headers(pub Vec<(String, String)>);

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| format!("{k}: [redacted]")))
            .finish()
    }
}

/// The OTLP destination the options and environment ask for, if any.
pub(super) fn resolve(o: &Options, env: &dyn Env) -> Result<Option<OtlpConfig>, InitError> {
    if !cfg!(feature = "otlp") {
        let asked = [
            (o.otlp_endpoint.is_some(), "otlp_endpoint"),
            (o.otlp_protocol.is_some(), "otlp_protocol"),
            (o.otlp_headers.is_some(), "otlp_headers"),
        ];
        return match asked.iter().find(|(set, _)| *set) {
            Some((_, option)) => Err(InitError::OtlpFeatureOff { option }),
            None => Ok(None),
        };
    }
    let Some((raw, from)) = endpoint(o, env) else {
        return Ok(None);
    };
    let endpoint = check_endpoint(&raw, from)?;
    let protocol = match o.otlp_protocol {
        Some(p) => p,
        None => match first_var(
            env,
            &[
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ],
        ) {
            Some((v, from)) => v
                .parse()
                .map_err(|e: staso_types::ParseOtlpProtocolError| {
                    InitError::InvalidOtlpProtocol {
                        from,
                        reason: e.to_string(),
                    }
                })?,
            None => OtlpProtocol::default(),
        },
    };
    let headers = match &o.otlp_headers {
        Some(h) => {
            for (k, v) in h {
                check_header(k, v).map_err(|reason| InitError::InvalidOtlpHeaders {
                    from: "otlp_headers",
                    reason,
                })?;
            }
            h.clone()
        }
        None => match first_var(
            env,
            &[
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "OTEL_EXPORTER_OTLP_HEADERS",
            ],
        ) {
            Some((v, from)) => staso_types::parse_otlp_headers(&v)
                .map_err(|reason| InitError::InvalidOtlpHeaders { from, reason })?,
            None => Vec::new(),
        },
    };
    Ok(Some(OtlpConfig {
        endpoint,
        protocol,
        headers: Headers(headers),
    }))
}

/// The endpoint as given and where it came from: the option, else the traces variable
/// (a URL), else the generic variable (a base URL, `/v1/traces` appended).
fn endpoint(o: &Options, env: &dyn Env) -> Option<(String, &'static str)> {
    if let Some(e) = o.otlp_endpoint.as_ref().filter(|e| !e.trim().is_empty()) {
        return Some((e.trim().to_string(), "otlp_endpoint"));
    }
    const TRACES: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    const GENERIC: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
    if let Some(e) = non_blank(env, TRACES) {
        return Some((e.trim().to_string(), TRACES));
    }
    let base = non_blank(env, GENERIC)?;
    let base = base.trim();
    // Appended to the path, before a query or fragment (which the check refuses).
    let (head, tail) = base.split_at(base.find(['?', '#']).unwrap_or(base.len()));
    Some((
        format!("{}{TRACES_PATH}{tail}", head.trim_end_matches('/')),
        GENERIC,
    ))
}

/// The first of `vars` that is set and not blank, with its name.
fn first_var(env: &dyn Env, vars: &[&'static str]) -> Option<(String, &'static str)> {
    vars.iter()
        .find_map(|v| non_blank(env, v).map(|value| (value, *v)))
}

/// The rules of `base_url`: an absolute http(s) URL with a host, no credentials, query or
/// fragment, plain http only to loopback. A URL with no path is a receiver's address:
/// its traces endpoint is `/v1/traces` (nothing serves OTLP traces at `/`).
fn check_endpoint(raw: &str, from: &'static str) -> Result<String, InitError> {
    let shown = strip_userinfo(raw);
    let invalid = |reason| InitError::InvalidOtlpEndpoint {
        from,
        url: shown.clone(),
        reason,
    };
    let mut url = url::Url::parse(raw).map_err(|_| invalid("it is not an absolute URL"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(invalid("the scheme must be http or https"));
    }
    let Some(host) = url.host() else {
        return Err(invalid("it has no host"));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "it must not contain credentials (send them in `otlp_headers`)",
        ));
    }
    if url.query().is_some() {
        return Err(invalid("it must not contain a query"));
    }
    if url.fragment().is_some() {
        return Err(invalid("it must not contain a fragment"));
    }
    if url.scheme() == "http" && !super::is_loopback(&host) {
        return Err(InitError::InsecureOtlpEndpoint { from, url: shown });
    }
    if url.path() == "/" || url.path().is_empty() {
        url.set_path(TRACES_PATH);
    }
    Ok(url.to_string())
}

/// Whether `name: value` can be sent as a header; the reason never holds the value.
fn check_header(name: &str, value: &str) -> Result<(), String> {
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(format!("{name:?} is not a valid header name"));
    }
    if reqwest::header::HeaderValue::from_str(value).is_err() || !value.is_ascii() {
        return Err(format!(
            "the value of {name} holds a control or non-ASCII character"
        ));
    }
    Ok(())
}

#[cfg(all(test, feature = "otlp"))]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&'static str, &'static str)]) -> HashMap<&'static str, &'static str> {
        pairs.iter().copied().collect()
    }

    fn url(o: Options, pairs: &[(&'static str, &'static str)]) -> Option<String> {
        resolve(&o, &env(pairs)).expect("valid").map(|c| c.endpoint)
    }

    #[test]
    fn the_traces_variable_wins_and_the_generic_one_gets_the_path() {
        let both = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318/"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://127.0.0.1:9/custom/traces",
            ),
        ];
        assert_eq!(
            url(Options::new(), &both).as_deref(),
            Some("http://127.0.0.1:9/custom/traces")
        );
        assert_eq!(
            url(Options::new(), &both[..1]).as_deref(),
            Some("http://localhost:4318/v1/traces")
        );
        assert_eq!(
            url(
                Options::new(),
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://h.example/otlp")]
            )
            .as_deref(),
            Some("https://h.example/otlp/v1/traces")
        );
        assert_eq!(
            url(Options::new().otlp_endpoint("http://[::1]:4318"), &both).as_deref(),
            Some("http://[::1]:4318/v1/traces"),
            "the option wins; a URL without a path gets /v1/traces"
        );
        assert_eq!(
            url(Options::new(), &[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]),
            None
        );
    }

    #[test]
    fn protocol_and_headers_fall_back_to_the_generic_variables() {
        let e = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=1"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "b=2"),
        ]);
        let c = resolve(&Options::new(), &e).expect("valid").expect("otlp");
        assert_eq!(c.protocol, OtlpProtocol::HttpJson);
        assert_eq!(c.headers.0, vec![("b".to_string(), "2".to_string())]);
        let c = resolve(
            &Options::new().otlp_protocol(OtlpProtocol::HttpProtobuf),
            &e,
        )
        .expect("valid")
        .expect("otlp");
        assert_eq!(c.protocol, OtlpProtocol::HttpProtobuf);
    }

    type Vars = &'static [(&'static str, &'static str)];

    #[test]
    fn bad_values_are_refused_naming_where_they_came_from() {
        let cases: [(Options, Vars, &[&str]); 5] = [
            (
                Options::new(),
                &[(
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    "http://collector.internal:4318",
                )],
                &["OTEL_EXPORTER_OTLP_ENDPOINT", "https", "otlp_endpoint"],
            ),
            (
                Options::new().otlp_endpoint("https://u:hunter2@h.example"),
                &[],
                &["otlp_endpoint", "credentials"],
            ),
            (
                Options::new().otlp_endpoint("localhost:4318"),
                &[],
                &["otlp_endpoint", "scheme"],
            ),
            (
                Options::new().otlp_endpoint("http://localhost:4318"),
                &[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")],
                &["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"],
            ),
            (
                Options::new()
                    .otlp_endpoint("http://localhost:4318")
                    .otlp_headers([("authorization", "Bearer hunter2\n")]),
                &[],
                &["otlp_headers", "authorization"],
            ),
        ];
        for (o, pairs, needles) in cases {
            let e = resolve(&o, &env(pairs)).expect_err("refused").to_string();
            for n in needles {
                assert!(e.contains(n), "{n:?} not in {e}");
            }
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn header_values_never_show_in_debug() {
        let o = Options::new()
            .otlp_endpoint("http://localhost:4318")
            .otlp_headers([("authorization", "Bearer hunter2")]);
        let c = resolve(&o, &env(&[])).expect("valid").expect("otlp");
        let shown = format!("{c:?}");
        assert!(
            shown.contains("authorization") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
