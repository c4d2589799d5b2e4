//! OTLP options are checked at compile time: the protocol is one of its two strings, the
//! headers are `key=value` pairs.
#[staso::main(agent_name = "bot", otlp_protocol = "grpc")]
fn main() {}

#[staso::main(agent_name = "bot", otlp_headers = "authorization")]
fn other() {}
