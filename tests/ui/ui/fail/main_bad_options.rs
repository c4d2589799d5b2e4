#[staso::main(agent_nam = "bot")]
fn main() {}
