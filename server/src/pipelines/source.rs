//! A run's source: one clone of the repository, the commit its ref resolves to, the
//! `.platform.yaml` at that commit, and cheap per-step workspaces cloned from it. Git runs as a
//! child process (`git` on PATH), never prompting, with credentials kept out of messages.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;
use tokio::process::Command;

use super::redact::Redactor;

/// How long one git command may take (a clone of a large repository included).
const GIT_TIMEOUT: Duration = Duration::from_secs(600);

/// Why the source could not be prepared; the message is safe to show (credentials masked).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot clone {url}: {detail}")]
    Clone { url: String, detail: String },
    #[error("`{git_ref}` is not a branch, tag or commit of {url}")]
    UnknownRef { url: String, git_ref: String },
    #[error("git {what} failed: {detail}")]
    Git { what: String, detail: String },
    #[error("cannot prepare a workspace in {path}")]
    Workspace {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A clone of a repository at one commit; removed when dropped.
#[derive(Debug)]
pub struct Source {
    dir: TempDir,
    commit_sha: String,
}

impl Source {
    /// Clones `clone_url` under `work_root` and resolves `commit_sha` (when the event named
    /// it) or else `git_ref` (branch, tag, full ref or commit).
    pub async fn fetch(
        clone_url: &str,
        git_ref: &str,
        commit_sha: Option<&str>,
        work_root: &Path,
    ) -> Result<Self, SourceError> {
        let safe_url = Redactor::new(Vec::new()).line(clone_url);
        let workspace_error = |source| SourceError::Workspace {
            path: work_root.display().to_string(),
            source,
        };
        tokio::fs::create_dir_all(work_root)
            .await
            .map_err(workspace_error)?;
        let dir = tempfile::Builder::new()
            .prefix("source-")
            .tempdir_in(work_root)
            .map_err(workspace_error)?;
        let checkout = dir.path().join("repo");
        git(
            None,
            &["clone", "--quiet", "--no-checkout", "--", clone_url],
            Some(&checkout),
        )
        .await
        .map_err(|detail| SourceError::Clone {
            url: safe_url.clone(),
            detail,
        })?;
        let wanted = commit_sha.unwrap_or(git_ref);
        let commit_sha = match resolve(&checkout, wanted).await {
            Some(sha) => sha,
            None => {
                // Refs such as refs/pull/7/head, or commits no branch holds: ask for them.
                let fetched = git(
                    Some(&checkout),
                    &["fetch", "--quiet", "origin", wanted],
                    None,
                )
                .await;
                match fetched {
                    Ok(_) => rev_parse(&checkout, "FETCH_HEAD").await,
                    Err(_) => None,
                }
                .ok_or_else(|| SourceError::UnknownRef {
                    url: safe_url.clone(),
                    git_ref: wanted.to_owned(),
                })?
            }
        };
        Ok(Self { dir, commit_sha })
    }

    pub fn commit_sha(&self) -> &str {
        &self.commit_sha
    }

    /// The clone's path, which a local workspace can be cloned from.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// Fills the clone's own work tree with the commit's files (previews read manifests and
    /// charts from it).
    pub async fn check_out(&self) -> Result<(), SourceError> {
        git(
            Some(&self.path()),
            &[
                "checkout",
                "--quiet",
                "--force",
                "--detach",
                &self.commit_sha,
            ],
            None,
        )
        .await
        .map(|_| ())
        .map_err(|detail| SourceError::Git {
            what: format!("checkout {}", self.commit_sha),
            detail,
        })
    }

    /// The text of `.platform.yaml` at the commit; `None` when the commit has none.
    pub async fn platform_file(&self) -> Result<Option<String>, SourceError> {
        let spec = format!("{}:.platform.yaml", self.commit_sha);
        let exists = git(Some(&self.path()), &["cat-file", "-e", &spec], None).await;
        if exists.is_err() {
            return Ok(None);
        }
        git(Some(&self.path()), &["show", &spec], None)
            .await
            .map(Some)
            .map_err(|detail| SourceError::Git {
                what: "show .platform.yaml".into(),
                detail,
            })
    }
}

/// Makes `dest` a checkout of `commit_sha` from the clone at `source` (shares its objects).
pub async fn checkout_workspace(
    source: &Path,
    commit_sha: &str,
    dest: &Path,
) -> Result<(), SourceError> {
    let source = source.display().to_string();
    git(
        None,
        &[
            "clone",
            "--quiet",
            "--shared",
            "--no-checkout",
            "--",
            &source,
        ],
        Some(dest),
    )
    .await
    .map_err(|detail| SourceError::Git {
        what: "clone workspace".into(),
        detail,
    })?;
    git(
        Some(dest),
        &["checkout", "--quiet", "--detach", commit_sha],
        None,
    )
    .await
    .map_err(|detail| SourceError::Git {
        what: format!("checkout {commit_sha}"),
        detail,
    })?;
    Ok(())
}

/// The commit `wanted` names in the clone: a remote branch, a tag, or a commit.
async fn resolve(checkout: &Path, wanted: &str) -> Option<String> {
    let branch = wanted.strip_prefix("refs/heads/").unwrap_or(wanted);
    let tag = wanted.strip_prefix("refs/tags/").unwrap_or(wanted);
    let candidates = [
        format!("refs/remotes/origin/{branch}"),
        format!("refs/tags/{tag}"),
        wanted.to_owned(),
    ];
    for candidate in candidates {
        if let Some(sha) = rev_parse(checkout, &candidate).await {
            return Some(sha);
        }
    }
    None
}

async fn rev_parse(checkout: &Path, name: &str) -> Option<String> {
    let spec = format!("{name}^{{commit}}");
    git(
        Some(checkout),
        &["rev-parse", "--verify", "--quiet", &spec],
        None,
    )
    .await
    .ok()
    .map(|out| out.trim().to_owned())
    .filter(|sha| sha.len() == 40)
}

/// Runs git; `Ok(stdout)` or `Err(the last lines of stderr, credentials masked)`.
async fn git(dir: Option<&Path>, args: &[&str], last_arg: Option<&Path>) -> Result<String, String> {
    let mut command = Command::new("git");
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    command
        .args(args)
        .args(last_arg)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = match tokio::time::timeout(GIT_TIMEOUT, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => return Err(format!("cannot run git: {error}")),
        Err(_) => return Err(format!("no answer within {} s", GIT_TIMEOUT.as_secs())),
    };
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut redactor = Redactor::new(Vec::new());
    let lines: Vec<String> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| redactor.line(l))
        .collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" / ");
    Err(if tail.is_empty() {
        format!("git exited with {}", output.status)
    } else {
        tail
    })
}
