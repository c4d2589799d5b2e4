//! A real browser for the viewer tests: the system's Chromium driven over WebDriver by
//! the system's chromedriver (Debian packages `chromium` and `chromium-driver`; nothing
//! is downloaded). `STASO_CHROMIUM` / `STASO_CHROMEDRIVER` point elsewhere.
//!
//! Missing browser: the tests fail when `CI` is set, and are skipped with a notice
//! otherwise (`apt-get install -y chromium chromium-driver` installs it).
#![allow(dead_code, clippy::print_stderr)]

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One browser test at a time: Chromium is heavy for a 2-core machine, and the SDK's
/// client is process-wide.
pub static SERIAL: Mutex<()> = Mutex::new(());

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn tool(env: &str, default: &str) -> PathBuf {
    std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// The two programs, or `None` (and a notice) when they are missing outside CI.
pub fn programs() -> Option<(PathBuf, PathBuf)> {
    let chromium = tool("STASO_CHROMIUM", CHROMIUM);
    let driver = tool("STASO_CHROMEDRIVER", CHROMEDRIVER);
    let missing: Vec<String> = [&chromium, &driver]
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some((chromium, driver));
    }
    let msg = format!(
        "the viewer's browser tests need Chromium and chromedriver, not found: {}. \
         Install them with `apt-get install -y chromium chromium-driver` (scripts/test.sh \
         does), or set STASO_CHROMIUM / STASO_CHROMEDRIVER",
        missing.join(", ")
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("skipping: {msg}");
    None
}

/// Where screenshots go for a person to look at: `target/viewer-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("viewer-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// The chromedriver process, stopped when dropped (also when starting the session fails).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A chromedriver process and one Chromium session on a fresh profile.
pub struct Browser {
    pub client: Client,
    driver: Driver,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium (dark colour scheme when `dark`).
    pub async fn start(dark: bool) -> Option<Browser> {
        let (chromium, driver_path) = programs()?;
        let mut driver = Driver(
            Command::new(&driver_path)
                .args(["--port=0", "--log-level=SEVERE"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", driver_path.display())),
        );
        // chromedriver says which port it chose once it listens.
        let stdout = driver.0.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // "ChromeDriver was started successfully on port N." (the chosen port).
                if let Some(rest) = line.split("successfully on port ").nth(1) {
                    let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    let _ = tx.send(port);
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("chromedriver reports its port");
        let profile = std::env::temp_dir().join(format!("staso-viewer-{}", uuid::Uuid::new_v4()));
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1440,1000".to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        if dark {
            args.push("--force-dark-mode".to_owned());
        }
        let caps = json!({
            "goog:chromeOptions": {"binary": chromium.display().to_string(), "args": args}
        });
        let caps = match caps {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session with Chromium");
        Some(Browser {
            client,
            driver,
            profile,
        })
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("goto");
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` returns a truthy value (checked every 50 ms) and returns it;
    /// panics with `what` after `timeout`.
    pub async fn until(&self, what: &str, timeout: Duration, script: &str) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.js(script, vec![]).await;
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let body = self
                    .js("return document.body.innerText.slice(0, 2000)", vec![])
                    .await;
                panic!(
                    "timed out waiting for {what}; the page shows:\n{}",
                    body.as_str().unwrap_or("")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page says it finished drawing `view` (body[data-ready]).
    pub async fn ready(&self, view: &str) {
        self.until(
            &format!("the {view} view"),
            Duration::from_secs(20),
            &format!("return document.body.dataset.ready === {view:?}"),
        )
        .await;
    }

    pub async fn css(&self, selector: &str) -> fantoccini::elements::Element {
        self.client
            .find(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no element {selector}: {e}"))
    }

    pub async fn text(&self, selector: &str) -> String {
        self.css(selector).await.text().await.expect("text")
    }

    /// Saves a PNG of the window under `target/viewer-screenshots/NAME.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Ends the session (Chromium quits), then the driver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    /// Also after a failed assertion: stops the driver, and any Chromium process of this
    /// session's profile still running (found by its own `--user-data-dir`).
    fn drop(&mut self) {
        let _ = self.driver.0.kill();
        let _ = self.driver.0.wait();
        let marker = format!("--user-data-dir={}", self.profile.display());
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for e in entries.flatten() {
                let pid = e.file_name().to_string_lossy().into_owned();
                if !pid.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains(&marker) {
                    let _ = Command::new("kill").args(["-9", &pid]).status();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Runs a browser test body on its own runtime, one test at a time.
pub fn run<F: std::future::Future<Output = ()>>(f: F) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f);
}
