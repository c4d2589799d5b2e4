//! A program that initialises staso, makes spans, and leaves without shutting down:
//! `return` (1 ms after its last span), `exit` (`std::process::exit(0)`) or `panic`.
//! The exit hook must still deliver its spans.

#![allow(clippy::print_stdout, clippy::print_stderr)]

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let client = match staso_core::init(staso_reliability_tests::child_options()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    // Not dropped: the process must not depend on the guard to deliver.
    std::mem::forget(client);
    staso_reliability_tests::produce_spans();
    match mode.as_str() {
        "return" => std::thread::sleep(std::time::Duration::from_millis(1)),
        "exit" => std::process::exit(0),
        "panic" => panic!("the agent crashed"),
        other => {
            eprintln!("unknown mode {other:?}");
            std::process::exit(2)
        }
    }
}
