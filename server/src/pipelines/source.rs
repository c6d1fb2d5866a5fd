//! A run's source: the commit a ref resolves to in the repository's mirror, the
//! `.platform.yaml` at that commit, and cheap checkouts of it (per-step workspaces, a preview's
//! manifests and charts). Every run and preview of a repository shares one bare mirror
//! (`Mirrors`), fetched only when it lacks what is asked for: two hundred pull requests at one
//! commit cost one fetch, not two hundred clones. Git runs as a child process (`git` on PATH),
//! never prompting, with credentials kept out of messages and off the disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tokio::process::Command;

use super::redact::Redactor;
use domain::Repository;
use domain::git_host::GitHost;

/// How long one git command may take (a first fetch of a large repository included).
const GIT_TIMEOUT: Duration = Duration::from_secs(600);
/// Fetches run at this lower priority (through coreutils' `nice`, so that the processes a
/// fetch starts inherit it): a busy fetch must not starve Slipway's own work.
const FETCH_NICENESS: &str = "10";
/// What a mirror keeps of its repository (pull request heads are fetched by name, on demand).
const MIRRORED_REFS: [&str; 2] = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];

/// Why the source could not be prepared; the message is safe to show (credentials masked).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot clone {url}")]
    Clone {
        url: String,
        #[source]
        source: GitError,
    },
    #[error("`{git_ref}` is not a branch, tag or commit of {url}")]
    UnknownRef { url: String, git_ref: String },
    #[error("git {what} failed")]
    Git {
        what: String,
        #[source]
        source: GitError,
    },
    #[error(
        "`.platform.yaml` is {bytes} bytes; Slipway reads files of at most {} bytes (1 MiB)",
        domain::pipeline::parse::MAX_FILE_BYTES
    )]
    TooLarge { bytes: u64 },
    #[error("cannot prepare a workspace in {path}")]
    Workspace {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Why one git command did not do its job.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git")]
    Spawn(#[source] std::io::Error),
    #[error("no answer within {0} s")]
    Timeout(u64),
    /// It ran and failed: the last lines it printed, credentials masked (or its exit status).
    #[error("{0}")]
    Failed(String),
    #[error("cannot create {path}")]
    Directory {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Why no token to clone a repository could be had.
#[derive(Debug, thiserror::Error)]
#[error("cannot get a token to clone {repository}")]
pub struct CloneTokenError {
    pub repository: String,
    #[source]
    pub source: domain::git_host::GitHostError,
}

/// `.platform.yaml` files remembered per (mirror, commit): a commit's files never change, and
/// a pipeline run and a preview of one commit both read it.
const REMEMBERED_FILES: usize = 256;

/// What was read of each commit: (mirror, commit) → its `.platform.yaml`, if it has one.
type ReadFiles = HashMap<(PathBuf, String), Option<String>>;

/// The bare mirrors of the repositories Slipway builds, one directory each under `root`;
/// fetches into one mirror take turns.
#[derive(Debug, Clone)]
pub struct Mirrors {
    root: PathBuf,
    fetching: Arc<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>>,
    files: Arc<Mutex<ReadFiles>>,
}

impl Mirrors {
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            fetching: Arc::default(),
            files: Arc::default(),
        }
    }

    fn files(&self) -> std::sync::MutexGuard<'_, ReadFiles> {
        self.files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the commit was read before (so the mirror has it).
    fn knows(&self, mirror: &Path, sha: &str) -> bool {
        self.files()
            .contains_key(&(mirror.to_owned(), sha.to_ascii_lowercase()))
    }

    fn remember(&self, mirror: &Path, sha: &str, file: Option<String>) {
        let mut files = self.files();
        if files.len() >= REMEMBERED_FILES {
            files.clear();
        }
        files.insert((mirror.to_owned(), sha.to_owned()), file);
    }

    fn remembered(&self, mirror: &Path, sha: &str) -> Option<Option<String>> {
        self.files()
            .get(&(mirror.to_owned(), sha.to_owned()))
            .cloned()
    }

    /// The mirror of `clone_url`, named by a hash of the URL without its credentials (so a
    /// renewed token finds the same mirror).
    fn path_for(&self, clone_url: &str) -> PathBuf {
        let bare = match url::Url::parse(clone_url) {
            Ok(mut url) if url.has_host() => {
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.to_string()
            }
            _ => clone_url.to_owned(),
        };
        let digest = Sha256::digest(bare.as_bytes());
        let name: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        self.root.join(format!("{name}.git"))
    }

    fn turn(&self, mirror: &Path) -> Arc<tokio::sync::Mutex<()>> {
        self.fetching
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(mirror.to_owned())
            .or_default()
            .clone()
    }
}

/// A commit of a repository, read from its mirror.
#[derive(Debug)]
pub struct Source {
    mirrors: Mirrors,
    mirror: PathBuf,
    commit_sha: String,
}

impl Source {
    /// Resolves `commit_sha` (when the event named it) or else `git_ref` (branch, tag, full
    /// ref or commit) in the mirror of `clone_url`, fetching when the mirror lacks it.
    pub async fn fetch(
        mirrors: &Mirrors,
        clone_url: &str,
        token: Option<&str>,
        git_ref: &str,
        commit_sha: Option<&str>,
    ) -> Result<Self, SourceError> {
        let mirror = mirrors.path_for(clone_url);
        let wanted = commit_sha.unwrap_or(git_ref);
        let found = |commit_sha: String| Self {
            mirrors: mirrors.clone(),
            mirror: mirror.clone(),
            commit_sha,
        };
        // A commit the mirror already has needs no fetch (and no turn).
        if is_commit_id(wanted) && mirrors.knows(&mirror, wanted) {
            return Ok(found(wanted.to_ascii_lowercase()));
        }
        if is_commit_id(wanted)
            && mirror.exists()
            && let Some(sha) = rev_parse(&mirror, wanted).await
        {
            return Ok(found(sha));
        }
        let turn = mirrors.turn(&mirror);
        let _turn = turn.lock().await;
        let safe_url = Redactor::new(Vec::new()).line(clone_url);
        let clone_error = |source| SourceError::Clone {
            url: safe_url.clone(),
            source,
        };
        if !mirror.exists() {
            create_mirror(&mirrors.root, &mirror)
                .await
                .map_err(clone_error)?;
        } else if is_commit_id(wanted)
            && let Some(sha) = rev_parse(&mirror, wanted).await
        {
            // Fetched by whoever had the turn before.
            return Ok(found(sha));
        }
        let mut fetch = vec![
            "fetch",
            "--quiet",
            "--prune",
            "--no-write-fetch-head",
            "--",
            clone_url,
        ];
        fetch.extend(MIRRORED_REFS);
        niced_git(&mirror, &fetch, token)
            .await
            .map_err(clone_error)?;
        if let Some(sha) = resolve(&mirror, wanted).await {
            return Ok(found(sha));
        }
        // Refs such as refs/pull/7/head, or commits no branch holds: ask for them.
        let fetched = niced_git(
            &mirror,
            &["fetch", "--quiet", "--", clone_url, wanted],
            token,
        )
        .await;
        let sha = match fetched {
            Ok(_) => rev_parse(&mirror, "FETCH_HEAD").await,
            Err(_) => None,
        };
        sha.map(found).ok_or_else(|| SourceError::UnknownRef {
            url: safe_url.clone(),
            git_ref: wanted.to_owned(),
        })
    }

    pub fn commit_sha(&self) -> &str {
        &self.commit_sha
    }

    /// The repository a workspace is cloned from (it holds the commit).
    pub fn path(&self) -> PathBuf {
        self.mirror.clone()
    }

    /// A work tree of the commit under `work_root` (previews read manifests and charts from
    /// it); removed when the returned directory is dropped. The files are at `<dir>/repo`.
    pub async fn check_out(&self, work_root: &Path) -> Result<TempDir, SourceError> {
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
        checkout_workspace(&self.mirror, &self.commit_sha, &dir.path().join("repo")).await?;
        Ok(dir)
    }

    /// The text of `.platform.yaml` at the commit; `None` when the commit has none.
    pub async fn platform_file(&self) -> Result<Option<String>, SourceError> {
        if let Some(file) = self.mirrors.remembered(&self.mirror, &self.commit_sha) {
            return Ok(file);
        }
        let spec = format!("{}:.platform.yaml", self.commit_sha);
        // Its size first, so a huge file is refused without being read into memory.
        let size = match git(Some(&self.mirror), &["cat-file", "-s", &spec], None).await {
            Ok(size) => size.trim().parse::<u64>().ok(),
            Err(GitError::Failed(tail)) if tail.contains("does not exist") => {
                self.mirrors.remember(&self.mirror, &self.commit_sha, None);
                return Ok(None);
            }
            Err(_) => None,
        };
        let limit = domain::pipeline::parse::MAX_FILE_BYTES as u64;
        if let Some(bytes) = size.filter(|bytes| *bytes > limit) {
            return Err(SourceError::TooLarge { bytes });
        }
        let file = match git(Some(&self.mirror), &["cat-file", "blob", &spec], None).await {
            Ok(text) => Some(text),
            // The commit is in the mirror (it was resolved there): only the file is missing.
            Err(GitError::Failed(tail)) if tail.contains("does not exist") => None,
            Err(source) => {
                return Err(SourceError::Git {
                    what: "read .platform.yaml".into(),
                    source,
                });
            }
        };
        self.mirrors
            .remember(&self.mirror, &self.commit_sha, file.clone());
        Ok(file)
    }
}

/// How long a clone token must stay valid: enough to schedule a step's pod and clone.
const TOKEN_VALID_FOR: Duration = Duration::from_secs(10 * 60);

/// The token to fetch `repository` with, when it lives on the configured GitHub (`None`
/// otherwise: local paths and other hosts are fetched as they are).
pub async fn clone_token(
    git_host: Option<&dyn GitHost>,
    repository: &Repository,
) -> Result<Option<String>, CloneTokenError> {
    let Some(host) = git_host else {
        return Ok(None);
    };
    host.clone_token(&repository.name, &repository.clone_url, TOKEN_VALID_FOR)
        .await
        .map_err(|source| CloneTokenError {
            repository: repository.name.clone(),
            source,
        })
}

/// A new, empty bare mirror at `mirror` (made in a temporary directory and renamed, so a
/// half-made one is never seen).
async fn create_mirror(root: &Path, mirror: &Path) -> Result<(), GitError> {
    let directory = |path: &Path| {
        let path = path.display().to_string();
        move |source| GitError::Directory { path, source }
    };
    tokio::fs::create_dir_all(root)
        .await
        .map_err(directory(root))?;
    let building = tempfile::Builder::new()
        .prefix("mirror-")
        .tempdir_in(root)
        .map_err(directory(root))?;
    git(None, &["init", "--quiet", "--bare"], Some(building.path())).await?;
    let building = building.keep();
    tokio::fs::rename(&building, mirror).await.map_err(|e| {
        let _ = std::fs::remove_dir_all(&building);
        directory(mirror)(e)
    })
}

fn is_commit_id(wanted: &str) -> bool {
    wanted.len() == 40 && wanted.chars().all(|c| c.is_ascii_hexdigit())
}

/// Makes `dest` a checkout of `commit_sha` from the repository at `source` (shares its
/// objects).
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
    .map_err(|source| SourceError::Git {
        what: "clone workspace".into(),
        source,
    })?;
    git(
        Some(dest),
        &["checkout", "--quiet", "--detach", commit_sha],
        None,
    )
    .await
    .map_err(|source| SourceError::Git {
        what: format!("checkout {commit_sha}"),
        source,
    })?;
    Ok(())
}

/// The commit `wanted` names in the mirror: a branch, a tag, or a commit.
async fn resolve(mirror: &Path, wanted: &str) -> Option<String> {
    let branch = wanted.strip_prefix("refs/heads/").unwrap_or(wanted);
    let tag = wanted.strip_prefix("refs/tags/").unwrap_or(wanted);
    let candidates = [
        format!("refs/heads/{branch}"),
        format!("refs/tags/{tag}"),
        wanted.to_owned(),
    ];
    for candidate in candidates {
        if let Some(sha) = rev_parse(mirror, &candidate).await {
            return Some(sha);
        }
    }
    None
}

async fn rev_parse(repository: &Path, name: &str) -> Option<String> {
    let spec = format!("{name}^{{commit}}");
    git(
        Some(repository),
        &["rev-parse", "--verify", "--quiet", &spec],
        None,
    )
    .await
    .ok()
    .map(|out| out.trim().to_owned())
    .filter(|sha| sha.len() == 40)
}

/// Runs git at a lower priority (fetches: the heavy part), authenticating HTTP(S) requests
/// with `token` when there is one.
async fn niced_git(dir: &Path, args: &[&str], token: Option<&str>) -> Result<String, GitError> {
    let mut command = Command::new("nice");
    command.args(["-n", FETCH_NICENESS, "git"]).args(args);
    if let Some(token) = token {
        command.envs(token_config(token));
    }
    run(command, Some(dir)).await
}

/// Git configuration, as environment variables (never on a command line others can read, never
/// written to disk), that sends `token` as GitHub expects: basic auth as `x-access-token`.
pub fn token_config(token: &str) -> [(&'static str, String); 3] {
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
    [
        ("GIT_CONFIG_COUNT", "1".to_owned()),
        ("GIT_CONFIG_KEY_0", "http.extraHeader".to_owned()),
        (
            "GIT_CONFIG_VALUE_0",
            format!("Authorization: Basic {basic}"),
        ),
    ]
}

/// Runs git; `Ok(stdout)` or why not (`Failed` with the last lines of stderr, credentials
/// masked).
async fn git(
    dir: Option<&Path>,
    args: &[&str],
    last_arg: Option<&Path>,
) -> Result<String, GitError> {
    let mut command = Command::new("git");
    command.args(args).args(last_arg);
    run(command, dir).await
}

async fn run(mut command: Command, dir: Option<&Path>) -> Result<String, GitError> {
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    command
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = match tokio::time::timeout(GIT_TIMEOUT, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => return Err(GitError::Spawn(error)),
        Err(_) => return Err(GitError::Timeout(GIT_TIMEOUT.as_secs())),
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
    Err(GitError::Failed(if tail.is_empty() {
        format!("git exited with {}", output.status)
    } else {
        tail
    }))
}
