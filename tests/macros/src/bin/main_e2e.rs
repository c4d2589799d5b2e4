//! A program with `#[staso::main]`, run by `tests/main_e2e.rs` against a local collector.
//! The first argument picks how `main` ends: `ok`, `err` or `panic`. The API key and the
//! address come from `STASO_API_KEY`/`STASO_BASE_URL` (options the attribute leaves out
//! are read from the environment). The flush interval is long, so only the guard's
//! shutdown at the end of `main` can have delivered the spans.

#[staso::tool]
fn lookup(id: u64) -> Result<String, String> {
    Ok(format!("order {id}"))
}

#[staso::agent(name = "e2e-agent")]
fn handle(mode: &str) -> Result<String, String> {
    let found = lookup(7)?;
    match mode {
        "panic" => panic!("handler exploded"),
        "err" => Err(format!("{found}: refused")),
        _ => Ok(found),
    }
}

#[staso::main(agent_name = "e2e-main", flush_interval = 30, shutdown_timeout = 5)]
fn main() -> Result<(), String> {
    let mode = std::env::args().nth(1).unwrap_or_default();
    handle(&mode)?;
    Ok(())
}
