//! Servers that are not the Staso service: redirects (never followed, the key never
//! leaves for another origin) and oversized answers (never buffered whole). Each server
//! here is a plain TCP listener on loopback that the test starts and inspects.

use staso_core::{init, span, FailureKind, Kind, Options};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());
static LOGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target() == "staso" {
            LOGS.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

fn serial() -> MutexGuard<'static, ()> {
    let g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let _ = log::set_logger(&Capture);
    log::set_max_level(log::LevelFilter::Trace);
    LOGS.lock().unwrap_or_else(|p| p.into_inner()).clear();
    g
}

/// What one request looked like.
#[derive(Debug, Clone)]
struct Seen {
    head: String,
    body_len: usize,
}

/// A loopback HTTP/1.1 server answering every request with `answer(port)` (the raw
/// response bytes); it records each request and whether writing the answer failed.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    write_failures: Arc<AtomicUsize>,
}

impl Server {
    fn start(answer: impl Fn(u16) -> Vec<u8> + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let write_failures = Arc::new(AtomicUsize::new(0));
        let (s, w) = (seen.clone(), write_failures.clone());
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (s, w, answer) = (s.clone(), w.clone(), answer.clone());
                std::thread::spawn(move || serve(conn, port, &s, &w, &*answer));
            }
        });
        Server {
            port,
            seen,
            write_failures,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn serve(
    conn: TcpStream,
    port: u16,
    seen: &Mutex<Vec<Seen>>,
    write_failures: &AtomicUsize,
    answer: &(dyn Fn(u16) -> Vec<u8> + Send + Sync),
) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut out = conn;
    loop {
        let mut head = String::new();
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            let end = line == "\r\n";
            head.push_str(&line);
            if end {
                break;
            }
        }
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        seen.lock().unwrap_or_else(|p| p.into_inner()).push(Seen {
            head,
            body_len: len,
        });
        if out
            .write_all(&answer(port))
            .and_then(|_| out.flush())
            .is_err()
        {
            write_failures.fetch_add(1, Ordering::SeqCst);
            return;
        }
    }
}

fn options(url: String) -> Options {
    Options::new()
        .api_key("ak_secret_key_1234")
        .agent_name("bot")
        .base_url(url)
        .capture_git(false)
        .flush_interval(Duration::from_secs(60))
}

fn redirect(status: &str, location: &str) -> Vec<u8> {
    format!("HTTP/1.1 {status}\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n").into_bytes()
}

#[test]
fn redirects_are_never_followed_and_fail_once_naming_the_location() {
    let _s = serial();
    for status in [
        "301 Moved Permanently",
        "302 Found",
        "303 See Other",
        "307 Temporary Redirect",
        "308 Permanent Redirect",
    ] {
        LOGS.lock().unwrap_or_else(|p| p.into_inner()).clear();
        // Where a redirect would take the key and the spans: it must see nothing.
        let elsewhere = Server::start(|_| b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec());
        let target = format!("{}/steal?token=abc", elsewhere.url());
        let answer = redirect(status, &target);
        let server = Server::start(move |_| answer.clone());
        let client = init(options(server.url())).expect("init");
        drop(span("tool", Kind::Tool));
        let report = client.flush(Duration::from_secs(5));
        assert_eq!(report.failed, 1, "{status}: {report:?}");
        assert_eq!(
            report.last_failure,
            Some(FailureKind::Redirected),
            "{status}"
        );
        assert!(!report.retryable, "{status}");
        assert_eq!(
            server.requests().len(),
            1,
            "{status}: one attempt, not retried"
        );
        assert!(
            elsewhere.requests().is_empty(),
            "{status}: followed the redirect"
        );
        let logs = LOGS.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let warning = logs
            .iter()
            .find(|l| l.contains("redirect"))
            .unwrap_or_else(|| panic!("{status}: no warning in {logs:?}"));
        assert!(
            warning.contains(&format!("127.0.0.1:{}/steal", elsewhere.port)),
            "{warning}"
        );
        assert!(
            !warning.contains("token=abc"),
            "no query in logs: {warning}"
        );
        assert!(!warning.contains("ak_secret"), "{warning}");
        drop(client);
    }
}

#[test]
fn a_redirect_loop_is_one_request_per_batch() {
    let _s = serial();
    let server = Server::start(|port| {
        redirect(
            "307 Temporary Redirect",
            &format!("http://127.0.0.1:{port}/v1/traces/ingest"),
        )
    });
    let client = init(options(server.url())).expect("init");
    for _ in 0..3 {
        drop(span("tool", Kind::Tool));
        let report = client.flush(Duration::from_secs(5));
        assert_eq!(report.last_failure, Some(FailureKind::Redirected));
    }
    assert_eq!(
        server.requests().len(),
        3,
        "one request per batch, never followed"
    );
    let report = client.shutdown(Duration::from_secs(5));
    assert_eq!((report.failed, report.pending), (3, 0), "{report:?}");
}

#[test]
fn an_oversized_answer_is_malformed_and_never_read_whole() {
    let _s = serial();
    const HUGE: usize = 50 * 1024 * 1024;
    // One announcing its size, one streaming chunks without a length.
    let sized = Server::start(|_| {
        let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {HUGE}\r\n\r\n").into_bytes();
        r.resize(r.len() + HUGE, b' ');
        r
    });
    let chunked = Server::start(|_| {
        let mut r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let chunk = format!("{:x}\r\n{}\r\n", 1 << 20, " ".repeat(1 << 20));
        for _ in 0..(HUGE >> 20) {
            r.extend_from_slice(chunk.as_bytes());
        }
        r.extend_from_slice(b"0\r\n\r\n");
        r
    });
    for server in [&sized, &chunked] {
        let client = init(options(server.url())).expect("init");
        drop(span("tool", Kind::Tool));
        let report = client.shutdown(Duration::from_secs(10));
        assert_eq!(report.failed, 1, "{report:?}");
        assert_eq!(report.last_failure, Some(FailureKind::MalformedResponse));
        assert_eq!(server.requests().len(), 1);
        assert!(server.requests()[0].body_len > 0);
        assert!(server.requests()[0].head.contains("x-api-key"));
    }
    // The client hung up instead of reading 50 MB: the servers' writes failed.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sized.write_failures.load(Ordering::SeqCst)
        + chunked.write_failures.load(Ordering::SeqCst)
        < 2
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(sized.write_failures.load(Ordering::SeqCst), 1);
    assert_eq!(chunked.write_failures.load(Ordering::SeqCst), 1);
}
