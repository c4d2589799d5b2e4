//! `#[staso::main]` alone on `async fn main`: the runtime's own executor runs it; `?`
//! keeps its meaning.
#![deny(warnings)]

#[staso::agent]
async fn agent(q: &str) -> Result<usize, std::num::ParseIntError> {
    q.parse()
}

#[staso::main(api_key = "sk-ui-test", agent_name = "ui-async", base_url = "http://127.0.0.1:9", shutdown_timeout = 0.2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = agent("42").await?;
    assert_eq!(n, 42);
    tokio::task::yield_now().await;
    Ok(())
}
