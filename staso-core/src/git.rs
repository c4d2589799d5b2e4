//! Which commit is running: found once at init, sent on root spans as `vcs.*`.

use crate::env::Env;
use staso_types::{read_checkout, strip_userinfo, GitContext};
use std::path::Path;

/// CI platforms: (sha, branch, repository, the variable that says we run there).
const PLATFORMS: &[(&str, Option<&str>, Option<&str>, &str)] = &[
    (
        "GITHUB_SHA",
        Some("GITHUB_REF_NAME"),
        Some("GITHUB_REPOSITORY"),
        "GITHUB_ACTIONS",
    ),
    (
        "VERCEL_GIT_COMMIT_SHA",
        Some("VERCEL_GIT_COMMIT_REF"),
        Some("VERCEL_GIT_REPO_SLUG"),
        "VERCEL",
    ),
    (
        "RAILWAY_GIT_COMMIT_SHA",
        Some("RAILWAY_GIT_BRANCH"),
        None,
        "RAILWAY_ENVIRONMENT",
    ),
    ("HEROKU_SLUG_COMMIT", None, None, "HEROKU_SLUG_COMMIT"),
    (
        "CI_COMMIT_SHA",
        Some("CI_COMMIT_BRANCH"),
        Some("CI_PROJECT_URL"),
        "GITLAB_CI",
    ),
    (
        "CIRCLE_SHA1",
        Some("CIRCLE_BRANCH"),
        Some("CIRCLE_REPOSITORY_URL"),
        "CIRCLECI",
    ),
    (
        "BITBUCKET_COMMIT",
        Some("BITBUCKET_BRANCH"),
        Some("BITBUCKET_GIT_HTTP_ORIGIN"),
        "BITBUCKET_COMMIT",
    ),
    (
        "CODEBUILD_RESOLVED_SOURCE_VERSION",
        None,
        Some("CODEBUILD_SOURCE_REPO_URL"),
        "CODEBUILD_BUILD_ID",
    ),
    (
        "COMMIT_REF",
        Some("BRANCH"),
        Some("REPOSITORY_URL"),
        "NETLIFY",
    ),
    (
        "BUILD_SOURCEVERSION",
        Some("BUILD_SOURCEBRANCH"),
        Some("BUILD_REPOSITORY_URI"),
        "TF_BUILD",
    ),
];

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// `STASO_VCS_*`, then the values baked in at compile time, then the CI platform's
/// variables, then `git` in the working directory, then `.staso-build-info`.
pub(crate) fn detect(env: &dyn Env, baked: Option<GitContext>) -> Option<GitContext> {
    let cwd = std::env::current_dir().ok();
    detect_in(env, baked, cwd.as_deref())
}

pub(crate) fn detect_in(
    env: &dyn Env,
    baked: Option<GitContext>,
    cwd: Option<&Path>,
) -> Option<GitContext> {
    from_staso_env(env)
        .or(baked.filter(|g| !g.commit_sha.is_empty()))
        .or_else(|| from_platform_env(env))
        .or_else(|| cwd.and_then(from_git_cli))
        .or_else(|| cwd.and_then(from_build_info))
        .map(|mut g| {
            g.repo_url = strip_userinfo(&g.repo_url);
            g
        })
}

fn from_staso_env(env: &dyn Env) -> Option<GitContext> {
    Some(GitContext {
        commit_sha: non_empty(env.var("STASO_VCS_COMMIT_SHA"))?,
        branch: env.var("STASO_VCS_BRANCH").unwrap_or_default(),
        repo_url: env.var("STASO_VCS_REPO_URL").unwrap_or_default(),
        is_dirty: false,
    })
}

fn from_platform_env(env: &dyn Env) -> Option<GitContext> {
    PLATFORMS.iter().find_map(|(sha, branch, repo, guard)| {
        non_empty(env.var(guard))?;
        Some(GitContext {
            commit_sha: non_empty(env.var(sha))?,
            branch: branch.and_then(|b| env.var(b)).unwrap_or_default(),
            repo_url: repo.and_then(|r| env.var(r)).unwrap_or_default(),
            is_dirty: false,
        })
    })
}

fn from_git_cli(cwd: &Path) -> Option<GitContext> {
    read_checkout(cwd).map(|c| c.context)
}

fn from_build_info(cwd: &Path) -> Option<GitContext> {
    let text = std::fs::read_to_string(cwd.join(".staso-build-info")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let s = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let sha = s("commit_sha");
    (!sha.is_empty()).then(|| GitContext {
        commit_sha: sha,
        branch: s("branch"),
        repo_url: s("repo_url"),
        is_dirty: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&'static str, &'static str)]) -> HashMap<&'static str, &'static str> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn staso_env_wins_over_baked_and_ci() {
        let e = env(&[
            ("STASO_VCS_COMMIT_SHA", "abc"),
            ("STASO_VCS_BRANCH", "main"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SHA", "def"),
        ]);
        let baked = GitContext {
            commit_sha: "baked".into(),
            ..Default::default()
        };
        let g = detect_in(&e, Some(baked), None).expect("found");
        assert_eq!((g.commit_sha.as_str(), g.branch.as_str()), ("abc", "main"));
    }

    #[test]
    fn baked_wins_over_ci_platform() {
        let e = env(&[("GITHUB_ACTIONS", "true"), ("GITHUB_SHA", "def")]);
        let baked = GitContext {
            commit_sha: "baked".into(),
            ..Default::default()
        };
        assert_eq!(
            detect_in(&e, Some(baked), None).expect("found").commit_sha,
            "baked"
        );
    }

    #[test]
    fn ci_platform_needs_its_guard_and_credentials_are_stripped() {
        let e = env(&[("CI_COMMIT_SHA", "x")]);
        assert_eq!(detect_in(&e, None, None), None);
        let e = env(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_SHA", "x"),
            ("CI_COMMIT_BRANCH", "dev"),
            ("CI_PROJECT_URL", "https://user:tok@gitlab.com/a/b"),
        ]);
        let g = detect_in(&e, None, None).expect("found");
        assert_eq!(g.repo_url, "https://gitlab.com/a/b");
        assert_eq!(g.branch, "dev");
    }

    #[test]
    fn build_info_file_is_the_last_resort() {
        let dir = std::env::temp_dir().join(format!("staso-git-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp");
        std::fs::write(
            dir.join(".staso-build-info"),
            r#"{"commit_sha":"f00","branch":"rel","repo_url":"https://t:k@h/r"}"#,
        )
        .expect("write");
        let g = detect_in(&env(&[]), None, Some(&dir)).expect("found");
        assert_eq!(g.commit_sha, "f00");
        assert_eq!(g.repo_url, "https://h/r");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
