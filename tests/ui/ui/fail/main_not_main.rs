#[staso::main(agent_name = "bot")]
fn start() {}

fn main() {}
