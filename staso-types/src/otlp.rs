//! The OpenTelemetry side of the options: the OTLP/HTTP encodings and the `k=v,k2=v2`
//! header lists of `OTEL_EXPORTER_OTLP_HEADERS`. Plain data, in both builds; the exporter
//! itself is in `staso-core` behind the `otlp` feature.

use crate::kind::named_enum;
use std::fmt;

named_enum! {
    /// How spans are encoded for an OTLP/HTTP endpoint (`OTEL_EXPORTER_OTLP_PROTOCOL`).
    /// gRPC is not offered: every OTLP receiver that speaks gRPC (port 4317) also speaks
    /// HTTP (port 4318).
    ///
    /// ```
    /// use staso_types::OtlpProtocol;
    /// assert_eq!("http/json".parse(), Ok(OtlpProtocol::HttpJson));
    /// assert_eq!(OtlpProtocol::default(), OtlpProtocol::HttpProtobuf);
    /// assert!("grpc".parse::<OtlpProtocol>().is_err());
    /// ```
    #[derive(Default)]
    OtlpProtocol {
        /// Binary protobuf, `Content-Type: application/x-protobuf` (the default).
        #[default]
        HttpProtobuf = "http/protobuf",
        /// The OTLP JSON mapping of the same messages, `Content-Type: application/json`.
        HttpJson = "http/json",
    }
}

/// The error of parsing an [`OtlpProtocol`]: the value, and why it is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOtlpProtocolError {
    value: String,
}

impl fmt::Display for ParseOtlpProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.trim().eq_ignore_ascii_case("grpc") {
            write!(
                f,
                "\"grpc\" is not supported: staso sends OTLP over HTTP; use \"http/protobuf\" (port 4318 of a collector) or \"http/json\""
            )
        } else {
            write!(
                f,
                "{:?} is not an OTLP protocol: use \"http/protobuf\" or \"http/json\"",
                self.value
            )
        }
    }
}

impl std::error::Error for ParseOtlpProtocolError {}

impl std::str::FromStr for OtlpProtocol {
    type Err = ParseOtlpProtocolError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
            "http/json" => Ok(OtlpProtocol::HttpJson),
            _ => Err(ParseOtlpProtocolError {
                value: s.to_string(),
            }),
        }
    }
}

/// Parses a header list in the form of `OTEL_EXPORTER_OTLP_HEADERS`: `key=value` pairs
/// separated by commas, surrounding whitespace trimmed, values percent-decoded (the W3C
/// Baggage form the OpenTelemetry spec names). The error never repeats a value (they are
/// usually credentials).
///
/// ```
/// let h = staso_types::parse_otlp_headers("authorization=Bearer%20t0k, x-team = cx").unwrap();
/// assert_eq!(h, vec![
///     ("authorization".to_string(), "Bearer t0k".to_string()),
///     ("x-team".to_string(), "cx".to_string()),
/// ]);
/// assert!(staso_types::parse_otlp_headers("novalue").is_err());
/// ```
pub fn parse_otlp_headers(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, item) in s.split(',').enumerate() {
        if item.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        let Some((k, v)) = item.split_once('=') else {
            return Err(format!(
                "entry {n} has no `=` (the form is key=value,key2=value2)"
            ));
        };
        let key = percent_decode(k.trim())
            .ok_or_else(|| format!("entry {n}: the name is not valid percent-encoded UTF-8"))?;
        let value = percent_decode(v.trim()).ok_or_else(|| {
            format!("entry {n} ({key}): the value is not valid percent-encoded UTF-8")
        })?;
        check_header(&key, &value).map_err(|why| format!("entry {n}: {why}"))?;
        out.push((key, value));
    }
    Ok(out)
}

/// Whether `name: value` can be sent as an HTTP header; the reason names the header,
/// never the value.
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(format!("{name:?} is not a valid header name"));
    }
    if value
        .chars()
        .any(|c| (c.is_control() && c != '\t') || !c.is_ascii())
    {
        return Err(format!(
            "the value of {name} holds a control or non-ASCII character"
        ));
    }
    Ok(())
}

/// `%XX` sequences decoded; `None` when one is broken or the bytes are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_as_the_otel_spec_writes_them() {
        assert_eq!(parse_otlp_headers("").expect("empty"), vec![]);
        assert_eq!(
            parse_otlp_headers("a=1,,b=x%2Cy=z").expect("valid"),
            vec![("a".into(), "1".into()), ("b".into(), "x,y=z".into())]
        );
        for bad in ["a", "=v", "a b=c", "a=%zz", "a=\u{7}"] {
            assert!(parse_otlp_headers(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn header_errors_never_repeat_the_value() {
        let e = parse_otlp_headers("authorization=Bearer s3cr3t\u{1}").expect_err("control");
        assert!(!e.contains("s3cr3t"), "{e}");
        assert!(e.contains("authorization"), "{e}");
    }

    #[test]
    fn grpc_is_refused_with_the_fix() {
        let e = "grpc".parse::<OtlpProtocol>().expect_err("grpc");
        assert!(e.to_string().contains("http/protobuf"), "{e}");
        assert_eq!(" HTTP/JSON ".parse(), Ok(OtlpProtocol::HttpJson));
    }
}
