//! Which commit is running. Read from the checkout by `git` (at compile time by
//! `#[staso::main]`, at run time by `init`), sent on root spans as `vcs.*`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The commit, branch and repository of the running code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GitContext {
    /// Full commit SHA.
    pub commit_sha: String,
    /// Branch name, `""` when detached or unknown.
    pub branch: String,
    /// Repository URL without credentials, `""` when unknown.
    pub repo_url: String,
    /// Whether the working tree had uncommitted changes (tracked files only).
    pub is_dirty: bool,
}

/// What `git` says about a checkout: its [`GitContext`] and the files whose change means
/// HEAD moved (`HEAD` and the current branch's ref, or `packed-refs` when the ref is
/// packed), which a build can watch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Checkout {
    /// Commit, branch, origin URL (credentials stripped) and dirty flag.
    pub context: GitContext,
    /// Files to watch for HEAD moving.
    pub watch: Vec<PathBuf>,
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Reads the checkout around `dir` with the `git` command; `None` outside a checkout or
/// without `git`.
pub fn read_checkout(dir: &Path) -> Option<Checkout> {
    let sha = git(dir, &["rev-parse", "--verify", "-q", "HEAD"]).filter(|s| !s.is_empty())?;
    let full_ref = git(dir, &["symbolic-ref", "-q", "HEAD"]).unwrap_or_default();
    let branch = full_ref
        .strip_prefix("refs/heads/")
        .unwrap_or(&full_ref)
        .to_string();
    let dirty =
        git(dir, &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    let repo_url = git(dir, &["config", "--get", "remote.origin.url"])
        .map(|u| strip_userinfo(&u))
        .unwrap_or_default();
    let mut watch = Vec::new();
    if let Some(git_dir) = git(dir, &["rev-parse", "--absolute-git-dir"]).map(PathBuf::from) {
        let head = git_dir.join("HEAD");
        if head.is_file() {
            watch.push(head);
        }
        // Worktrees keep their refs in the common directory.
        let common = git(dir, &["rev-parse", "--git-common-dir"])
            .map(PathBuf::from)
            .map(|p| if p.is_absolute() { p } else { dir.join(p) })
            .and_then(|p| p.canonicalize().ok())
            .unwrap_or(git_dir);
        if !full_ref.is_empty() {
            let loose = common.join(&full_ref);
            let packed = common.join("packed-refs");
            if loose.is_file() {
                watch.push(loose);
            } else if packed.is_file() {
                watch.push(packed);
            }
        }
    }
    Some(Checkout {
        context: GitContext {
            commit_sha: sha,
            branch,
            repo_url,
            is_dirty: dirty,
        },
        watch,
    })
}

/// `https://user:token@host/org/repo` → `https://host/org/repo`; other forms unchanged.
///
/// ```
/// assert_eq!(
///     staso_types::strip_userinfo("https://user:ghp_x@github.com/o/r.git"),
///     "https://github.com/o/r.git"
/// );
/// ```
pub fn strip_userinfo(raw: &str) -> String {
    if let Some(scheme_end) = raw.find("://") {
        let rest = &raw[scheme_end + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            return format!("{}{}", &raw[..scheme_end + 3], &rest[at + 1..]);
        }
    }
    raw.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_stripped() {
        assert_eq!(
            strip_userinfo("https://user:ghp_secret@github.com/o/r.git"),
            "https://github.com/o/r.git"
        );
        assert_eq!(
            strip_userinfo("https://token@gitlab.com/o/r"),
            "https://gitlab.com/o/r"
        );
        assert_eq!(
            strip_userinfo("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
        assert_eq!(
            strip_userinfo("https://github.com/o/r?x=a@b"),
            "https://github.com/o/r?x=a@b"
        );
    }

    #[test]
    fn outside_a_checkout_there_is_nothing() {
        let dir = std::env::temp_dir().join(format!("staso-git-none-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        // A temp dir may itself sit inside a checkout on odd machines; only assert then.
        if git(&dir, &["rev-parse", "--git-dir"]).is_none() {
            assert_eq!(read_checkout(&dir), None);
        }
        let _ = std::fs::remove_dir(&dir);
    }

    #[test]
    fn this_checkout_is_read() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        if git(here, &["rev-parse", "HEAD"]).is_some() {
            let c = read_checkout(here).expect("a checkout");
            assert_eq!(c.context.commit_sha.len(), 40, "{c:?}");
            assert!(c.watch.iter().any(|p| p.ends_with("HEAD")), "{c:?}");
        }
    }
}
