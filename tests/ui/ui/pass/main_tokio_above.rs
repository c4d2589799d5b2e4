//! `#[tokio::main]` above `#[staso::main]`: tokio has already made `main` sync when the
//! staso attribute sees it.
#![deny(warnings)]

#[staso::trace]
async fn step() -> u8 {
    1
}

#[tokio::main]
#[staso::main(api_key = "sk-ui-test", agent_name = "ui-tokio", base_url = "http://127.0.0.1:9", shutdown_timeout = 0.1)]
async fn main() -> Result<(), String> {
    assert_eq!(step().await, 1);
    Ok(())
}
