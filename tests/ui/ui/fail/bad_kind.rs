#[staso::trace(kind = "llms")]
fn f() {}

#[staso::tool(kind = "llm")]
fn g() {}

fn main() {}
