//! The `staso-collector` binary: `serve` prints received trees and takes fault flags and
//! the control endpoint; `show` prints stored traces later.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_staso-collector");

fn db_path(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}.db", uuid::Uuid::new_v4()));
    let _ = std::fs::remove_file(&p);
    p
}

/// A running `serve`, its URL, and its stdout lines.
struct Server {
    child: Child,
    url: String,
    lines: mpsc::Receiver<String>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--port", "0", "--api-key", KEY])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("first line");
        let url = first
            .strip_prefix("staso-collector listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        Server { child, url, lines }
    }

    /// Reads stdout until a line contains `needle`; returns everything read.
    fn read_until(&self, needle: &str) -> String {
        let mut seen = String::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(needle) {
                return seen;
            }
        }
        panic!("{needle:?} not printed; got:\n{seen}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_prints_trees_and_show_prints_them_later() {
    let db = db_path("serve-show");
    let db_arg = db.to_str().expect("utf-8 path");
    let server = Server::start(&["--db", db_arg]);
    let out = server.read_until("fault control");
    assert!(!out.contains(KEY), "the API key is never printed");

    let (t, body) = three_span_body();
    let (status, ack) = status_json(post(&client(), &server.url, &body).expect("send"));
    assert_eq!(status, 200, "{ack}");
    let printed = server.read_until("ask [llm]");
    assert!(printed.contains(&format!("trace {t}")), "{printed}");
    assert!(
        printed.contains("└─ agent_run [agent] 12.50 ms ok"),
        "{printed}"
    );
    assert!(
        printed.contains("   └─ search [tool] 12.50 ms ok"),
        "{printed}"
    );

    let (t2, body2) = three_span_body();
    post(&client(), &server.url, &body2).expect("send");
    server.read_until("ask [llm]");
    drop(server);

    let show = Command::new(BIN)
        .args(["show", "--db", db_arg])
        .output()
        .expect("show");
    assert!(show.status.success());
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains(&format!("trace {t}")) && text.contains(&format!("trace {t2}")));
    assert!(text.contains("      └─ ask [llm] 12.50 ms ok"), "{text}");

    let last = Command::new(BIN)
        .args(["show", "--last", "1", "--db", db_arg])
        .output()
        .expect("show --last");
    let text = String::from_utf8_lossy(&last.stdout);
    assert!(
        text.contains(&format!("trace {t2}")) && !text.contains(&format!("trace {t}")),
        "{text}"
    );
    let _ = std::fs::remove_file(&db);
}

#[test]
fn fault_flags_and_control_endpoint() {
    let server = Server::start(&[
        "--memory",
        "--quiet",
        "--fail-next",
        "1:502",
        "--rate-limit-next",
        "1:4",
    ]);
    let http = client();
    let (_, body) = three_span_body();
    assert_eq!(
        post(&http, &server.url, &body)
            .expect("send")
            .status()
            .as_u16(),
        502
    );
    let r = post(&http, &server.url, &body).expect("send");
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["retry-after"].to_str().ok()
        ),
        (429, Some("4"))
    );
    assert_eq!(
        post(&http, &server.url, &body)
            .expect("send")
            .status()
            .as_u16(),
        200
    );

    let r = http
        .post(format!("{}/_staso/faults", server.url))
        .header("X-API-Key", KEY)
        .body(r#"{"bad_ack_next": {"count": 1, "kind": "accepted_as_bool"}}"#)
        .send()
        .expect("control");
    assert_eq!(r.status().as_u16(), 200);
    let (status, ack) = status_json(post(&http, &server.url, &body).expect("send"));
    assert_eq!(
        (status, ack["accepted"].clone()),
        (200, serde_json::json!(true))
    );
}

#[test]
fn guard_flags_set_rules() {
    let server = Server::start(&[
        "--memory",
        "--quiet",
        "--guard",
        "delete_file=block:no deletes",
        "--guard",
        "*=audit",
    ]);
    let decide = |tool: &str| {
        let mut req: serde_json::Value =
            serde_json::from_str(include_str!("fixtures/guard_request_openai.json"))
                .expect("fixture");
        req["tool_name"] = serde_json::json!(tool);
        let r = client()
            .post(format!("{}/v1/guard/evaluate", server.url))
            .header("X-API-Key", KEY)
            .header("Content-Type", "application/json")
            .header("User-Agent", "staso-python/0.5.25")
            .body(req.to_string())
            .send()
            .expect("send");
        status_json(r).1
    };
    let blocked = decide("delete_file");
    assert_eq!(
        (blocked["action"].as_str(), blocked["reason"].as_str()),
        (Some("block"), Some("no deletes"))
    );
    let audited = decide("get_weather");
    assert_eq!(
        (
            audited["action"].as_str(),
            audited["results"][0]["action"].as_str()
        ),
        (Some("allow"), Some("audit"))
    );
    let out = Command::new(BIN)
        .args([
            "serve",
            "--memory",
            "--api-key",
            KEY,
            "--guard",
            "x=explode",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown guard action"));
}

#[test]
fn bad_usage_is_refused() {
    let out = Command::new(BIN)
        .args(["serve", "--bogus"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let out = Command::new(BIN)
        .args(["show", "--db", "/nonexistent/x.db"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let out = Command::new(BIN).arg("help").output().expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).contains("/_staso/faults"));
}

/// With no key anywhere, `serve` still starts (one command, no account): it expects the
/// built-in local key, says so, and prints the viewer's address.
#[test]
fn serve_without_a_key_uses_the_local_key_and_prints_the_viewer() {
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--memory", "--quiet"])
        .env_remove("STASO_API_KEY")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let done = line.starts_with("point an SDK here");
        seen.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = seen.join("\n");
    let url = seen[0]
        .strip_prefix("staso-collector listening on ")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(text.contains(&format!("trace viewer: {url}/")), "{text}");
    assert!(
        text.contains(&format!("STASO_BASE_URL={url} STASO_API_KEY=local-dev-key")),
        "{text}"
    );
}

#[test]
fn tls_flag_writes_the_ca_for_clients() {
    let ca_path = db_path("ca").with_extension("pem");
    let ca_arg = ca_path.to_str().expect("utf-8 path");
    let server = Server::start(&["--memory", "--quiet", "--tls", "--ca-out", ca_arg]);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    server.read_until("fault control");
    let pem = std::fs::read(&ca_path).expect("CA written");
    let http = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("pem"))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let (_, body) = three_span_body();
    assert_eq!(
        post(&http, &server.url, &body)
            .expect("send")
            .status()
            .as_u16(),
        200
    );
    let _ = std::fs::remove_file(&ca_path);
}
