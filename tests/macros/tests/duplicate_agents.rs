//! Two agents with one name look like one agent on the dashboard: init says so.

static LOGS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.level() == log::Level::Warn {
            LOGS.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

mod billing {
    #[staso::agent(name = "helper")]
    pub fn run() {}
}

mod support {
    #[staso::agent(name = "helper")]
    pub fn run() {}
}

#[staso::agent(name = "unique-agent")]
fn unique() {}

#[test]
fn init_warns_when_two_agents_share_a_name() {
    log::set_logger(&Capture).expect("logger");
    log::set_max_level(log::LevelFilter::Warn);
    billing::run();
    support::run();
    unique();
    let client = staso::init(
        staso::Options::new()
            .api_key("k")
            .agent_name("bot")
            .base_url("http://127.0.0.1:9")
            .capture_git(false)
            .shutdown_timeout(std::time::Duration::from_millis(10)),
    )
    .expect("init");
    let logs = LOGS.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let dup: Vec<&String> = logs.iter().filter(|m| m.contains("two agents")).collect();
    assert_eq!(dup.len(), 1, "{logs:?}");
    assert!(
        dup[0].contains("\"helper\"") && dup[0].contains("duplicate_agents.rs"),
        "{dup:?}"
    );
    assert!(!logs.iter().any(|m| m.contains("unique-agent")));
    drop(client);
}
