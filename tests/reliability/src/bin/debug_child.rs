//! A debug-mode program whose deliveries fail in every way the collector can make them
//! fail; its whole output is searched for the API key.

#![allow(clippy::print_stdout, clippy::print_stderr)]

fn main() {
    let options = staso_reliability_tests::child_options()
        .debug(true)
        .request_timeout(std::time::Duration::from_millis(500));
    println!("options: {options:?}");
    let client = match staso_core::init(options) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    println!("client: {client:?}");
    for _ in 0..6 {
        staso_reliability_tests::produce_spans();
        let report = client.flush(std::time::Duration::from_secs(3));
        println!("report: {report:?}");
    }
    let report = client.shutdown(std::time::Duration::from_secs(2));
    println!("final: {report:?}");
}
