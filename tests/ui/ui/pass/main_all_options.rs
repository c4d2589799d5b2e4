//! Every option `#[staso::main]` accepts, with its type.
#![deny(warnings)]

#[staso::main(
    api_key = "sk-ui-test",
    agent_name = "ui-all",
    agent_version = "1.2.3",
    base_url = "http://127.0.0.1:9",
    batch_size = 50,
    flush_interval = 0.5,
    max_queue_size = 1000,
    enabled = true,
    debug = false,
    environment = "test",
    workspace_slug = "ws",
    capture_messages = true,
    capture_request = true,
    capture_system_prompt = false,
    capture_tool_schema = true,
    capture_tool_arguments = true,
    capture_output = true,
    capture_git = true,
    shutdown_timeout = 1,
    max_field_bytes = 65536,
    redact_secrets = true,
    request_timeout = 5,
    install_panic_hook = true,
    install_exit_hook = true,
    sample_rate = 0.5,
    guard_checks = false,
    staso_ingest = true,
)]
fn main() {}
