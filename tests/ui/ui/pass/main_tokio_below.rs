//! `#[staso::main]` above `#[tokio::main]`: tokio runs the body, the guard is its first
//! statement.
#![deny(warnings)]

#[staso::trace]
async fn step() -> u8 {
    1
}

#[staso::main(api_key = "sk-ui-test", agent_name = "ui-tokio", base_url = "http://127.0.0.1:9", shutdown_timeout = 0, enabled = false)]
#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(step().await, 1);
}
