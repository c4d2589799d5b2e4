//! trybuild UI tests: forms that must compile (and run), misuse that must fail with an
//! error pointing at the offending token. Snapshots (`ui/fail/*.stderr`) are rustc's
//! wording, so they run on stable only; regenerate with `TRYBUILD=overwrite`.

fn stable() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    std::process::Command::new(rustc)
        .arg("-V")
        .output()
        .map(|o| {
            let v = String::from_utf8_lossy(&o.stdout);
            !v.contains("nightly") && !v.contains("beta") && !v.contains("dev")
        })
        .unwrap_or(false)
}

#[test]
fn ui() {
    if !stable() {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("UI snapshots are checked on stable rustc only; skipped");
        }
        return;
    }
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
