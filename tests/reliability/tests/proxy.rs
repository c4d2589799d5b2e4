//! HTTPS_PROXY and NO_PROXY are honoured: delivery to a TLS collector tunnels through a
//! CONNECT proxy when one is set, and goes direct when NO_PROXY names the host.

use staso_collector::{Collector, CollectorConfig};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A minimal CONNECT proxy on loopback that counts the tunnels it opens.
fn connect_proxy() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let tunnels = Arc::new(AtomicUsize::new(0));
    let count = tunnels.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { return };
            let count = count.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match client.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let mut words = head.split_whitespace();
                let (Some("CONNECT"), Some(target)) = (words.next(), words.next()) else {
                    let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n");
                    return;
                };
                let Ok(upstream) = TcpStream::connect(target.replace("localhost", "127.0.0.1"))
                else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                let (mut c2, mut u2) = (
                    client.try_clone().expect("clone"),
                    upstream.try_clone().expect("clone"),
                );
                let (mut c1, mut u1) = (client, upstream);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c2, &mut u2);
                    let _ = u2.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(&mut u1, &mut c1);
            });
        }
    });
    (port, tunnels)
}

fn run_child(
    c: &Collector,
    ca: &std::path::Path,
    proxy: &str,
    no_proxy: &str,
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_exit_child"))
        .arg("return")
        .env("STASO_API_KEY", "test-key")
        .env("STASO_BASE_URL", format!("https://localhost:{}", c.port()))
        .env("STASO_CA_CERT", ca)
        .env("HTTPS_PROXY", proxy)
        .env("NO_PROXY", no_proxy)
        .env_remove("https_proxy")
        .env_remove("no_proxy")
        .output()
        .expect("child runs")
}

fn tls_collector() -> (Collector, std::path::PathBuf) {
    let c = Collector::start_blocking(CollectorConfig {
        tls: true,
        ..Default::default()
    })
    .expect("collector");
    let ca = std::env::temp_dir().join(format!(
        "staso-proxy-ca-{}-{}.pem",
        std::process::id(),
        c.port()
    ));
    std::fs::write(&ca, c.ca_pem().expect("ca")).expect("write");
    (c, ca)
}

#[test]
fn https_proxy_is_used() {
    let (c, ca) = tls_collector();
    let (port, tunnels) = connect_proxy();
    let out = run_child(&c, &ca, &format!("http://127.0.0.1:{port}"), "");
    assert!(out.status.success(), "{out:?}");
    assert!(
        tunnels.load(Ordering::SeqCst) >= 1,
        "delivery went through the proxy"
    );
    assert_eq!(c.spans().into_iter().filter(|s| !s.provisional).count(), 4);
    let _ = std::fs::remove_file(ca);
}

#[test]
fn no_proxy_bypasses_it() {
    let (c, ca) = tls_collector();
    let (port, tunnels) = connect_proxy();
    let out = run_child(&c, &ca, &format!("http://127.0.0.1:{port}"), "localhost");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(tunnels.load(Ordering::SeqCst), 0, "NO_PROXY went direct");
    assert_eq!(c.spans().into_iter().filter(|s| !s.provisional).count(), 4);
    let _ = std::fs::remove_file(ca);
}
