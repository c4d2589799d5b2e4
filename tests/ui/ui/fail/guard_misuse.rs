// `guard` is a tool key without a value, and needs the body to start after the check.
#[staso::agent(guard)]
fn agent() -> Result<(), String> {
    Ok(())
}

#[staso::tool(guard = true)]
fn tool() -> Result<(), String> {
    Ok(())
}

#[staso::tool(guard)]
fn later(n: u64) -> impl std::future::Future<Output = Result<u64, String>> {
    async move { Ok(n) }
}

fn main() {}
