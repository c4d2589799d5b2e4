//! The runtime side of `#[staso::main]`, apart because it concerns the process rather than
//! a span.

use staso_types::Options;
use std::future::Future;

/// Keeps the client of `#[staso::main]` alive until `main` returns (or unwinds), then
/// shuts it down within its `shutdown_timeout`.
pub struct MainGuard {
    _client: crate::client::Client,
}

/// Initialises from the `#[staso::main]` attribute's options; on a configuration error,
/// prints it and exits with status 1 before `main`'s body runs.
pub fn main_init(options: Options) -> MainGuard {
    match crate::client::init(options) {
        Ok(client) => MainGuard { _client: client },
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("{e}");
            }
            std::process::exit(1)
        }
    }
}

/// The git facts baked in at compile time; `None` outside a checkout.
pub fn baked_git(
    sha: &str,
    branch: &str,
    dirty: bool,
    repo_url: &str,
) -> Option<staso_types::GitContext> {
    (!sha.is_empty()).then(|| staso_types::GitContext {
        commit_sha: sha.to_string(),
        branch: branch.to_string(),
        repo_url: repo_url.to_string(),
        is_dirty: dirty,
    })
}

/// Runs an `async fn main` on a multi-thread tokio runtime (for `#[staso::main]` without
/// `#[tokio::main]`).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(fut),
        Err(e) => panic!("staso: cannot start a tokio runtime for async main: {e}"),
    }
}
