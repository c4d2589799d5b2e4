//! `#[staso::main]` on a plain `main` returning a `Result`, with `?` in the body.
#![deny(warnings)]

#[staso::tool]
fn work(x: u8) -> Result<u8, String> {
    Ok(x)
}

#[staso::main(api_key = "sk-ui-test", agent_name = "ui-sync", base_url = "http://127.0.0.1:9", shutdown_timeout = 0.2, capture_git = false)]
fn main() -> Result<(), String> {
    let v = work(1)?;
    assert_eq!(v, 1);
    Ok(())
}
