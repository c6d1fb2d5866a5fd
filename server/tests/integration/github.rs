//! The GitHost adapter (octocrab) against a fake GitHub: the sticky comment is created once
//! and then edited, recreated when deleted and adopted when found by its marker; commit
//! statuses; files at a commit; a spent rate limit waited out.

use std::sync::atomic::Ordering;
use std::time::Duration;

use domain::git_host::{CommitState, CommitStatus, GitHost, GitHostError};
use secrecy::SecretString;
use server::github::GitHub;

use crate::fake_github;

const MARKER: &str = "<!-- slipway:preview -->";
const REPO: &str = "acme/shop";

async fn client() -> (GitHub, std::sync::Arc<fake_github::Fake>) {
    let (url, fake) = fake_github::start().await;
    let token = SecretString::from("ghp_test_token".to_owned());
    let github = GitHub::with_token(&url, &token, Duration::from_secs(5)).expect("client");
    (github, fake)
}

fn body(status: &str) -> String {
    format!("{MARKER}\n### Preview: {status}")
}

#[tokio::test]
async fn the_sticky_comment_is_created_once_then_edited_recreated_and_adopted() {
    let (github, fake) = client().await;
    let first = github
        .upsert_comment(REPO, 7, None, MARKER, &body("building"))
        .await
        .expect("create");
    let again = github
        .upsert_comment(REPO, 7, Some(first), MARKER, &body("ready"))
        .await
        .expect("edit");
    assert_eq!(first, again, "the same comment is edited");
    {
        let comments = fake.comments.lock().expect("lock");
        assert_eq!(comments.len(), 1);
        assert!(comments[&first].body.ends_with("ready"));
    }

    // Someone deletes it: the next status recreates it.
    fake.comments.lock().expect("lock").clear();
    let recreated = github
        .upsert_comment(REPO, 7, Some(first), MARKER, &body("failed"))
        .await
        .expect("recreate");
    assert_ne!(recreated, first);
    assert_eq!(fake.comments.lock().expect("lock").len(), 1);

    // A comment with the marker, written before Slipway stored its id, is adopted.
    let other_pr = fake.add_comment(REPO, 8, &format!("{MARKER}\nold text"));
    fake.add_comment(REPO, 8, "LGTM");
    let adopted = github
        .upsert_comment(REPO, 8, None, MARKER, &body("ready"))
        .await
        .expect("adopt");
    assert_eq!(adopted, other_pr);
    assert_eq!(
        fake.comments.lock().expect("lock").len(),
        3,
        "nothing new created"
    );

    let auth = fake.requests.lock().expect("lock")[0].1.clone();
    assert_eq!(auth.as_deref(), Some("Bearer ghp_test_token"));
}

#[tokio::test]
async fn statuses_files_and_a_spent_rate_limit() {
    let (github, fake) = client().await;
    let status = CommitStatus {
        state: CommitState::Pending,
        target_url: "http://slipway.local/previews/7".into(),
        description: "Deploying ".repeat(20),
        context: "slipway/preview".into(),
    };
    github
        .set_status(REPO, "abc123", &status)
        .await
        .expect("status");
    {
        let statuses = fake.statuses.lock().expect("lock");
        let (repo, sha, sent) = &statuses[0];
        assert_eq!((repo.as_str(), sha.as_str()), (REPO, "abc123"));
        assert_eq!(sent["state"], "pending");
        assert_eq!(sent["context"], "slipway/preview");
        assert_eq!(
            sent["description"].as_str().expect("text").chars().count(),
            140
        );
    }

    let yaml =
        "steps:\n  - name: test\n    image: rust:1.95\n    commands: [cargo test]\n".repeat(3);
    fake.files.lock().expect("lock").insert(
        (REPO.into(), ".platform.yaml".into(), "abc123".into()),
        yaml.clone(),
    );
    assert_eq!(
        github
            .file_at(REPO, "abc123", ".platform.yaml")
            .await
            .expect("read"),
        Some(yaml)
    );
    assert_eq!(
        github
            .file_at(REPO, "def456", ".platform.yaml")
            .await
            .expect("missing is not an error"),
        None
    );

    // The next answer says the budget is spent until the next second: the call waits and
    // succeeds.
    fake.rate_limit_next.store(true, Ordering::SeqCst);
    github.check().await.expect("waited out the rate limit");
    let budget = github.rate_budget().expect("budget seen");
    assert_eq!((budget.remaining, budget.limit), (4999, 5000));

    let unknown = github
        .upsert_comment("acme/missing", 1, Some(12345), MARKER, "x")
        .await;
    assert!(
        matches!(unknown, Err(GitHostError::NotFound(_))),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn a_configured_token_makes_github_part_of_readiness_and_shows_the_budget() {
    let (url, fake) = fake_github::start().await;
    let server = crate::support::TestServer::start(&[
        ("SLIPWAY_GITHUB_TOKEN", "ghp_configured".to_owned()),
        ("SLIPWAY_GITHUB_API_URL", url),
    ])
    .await;
    let (_, readiness) = server.readiness().await;
    let github = crate::support::check_named(&readiness, "github");
    assert_eq!(github["ok"], true, "{readiness}");
    assert!(
        fake.requests
            .lock()
            .expect("lock")
            .iter()
            .any(|(line, auth)| line == "GET /rate_limit"
                && auth.as_deref() == Some("Bearer ghp_configured"))
    );
    let metrics = server.page("/metrics").await;
    assert!(
        metrics.contains("slipway_github_rate_limit_remaining 4999"),
        "{metrics}"
    );
    assert!(metrics.contains("slipway_dependency_up{backend=\"octocrab\",name=\"github\"} 1"));
    let page = server.page("/deliveries").await;
    assert!(
        page.contains("GitHub API: 4999 of 5000 requests left"),
        "the budget is shown"
    );
    server.stop().await;
}

#[tokio::test]
async fn as_a_github_app_each_repository_uses_its_installation_token() {
    let (url, fake) = fake_github::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("app.pem");
    let generated = std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&key)
        .arg("2048")
        .output()
        .expect("openssl runs");
    assert!(generated.status.success(), "{generated:?}");
    let github = GitHub::as_app(&url, 42, &key, Duration::from_secs(5)).expect("app client");
    github.check().await.expect("the App's JWT is accepted");
    github
        .upsert_comment(REPO, 7, None, MARKER, &body("building"))
        .await
        .expect("comment");
    github
        .upsert_comment(REPO, 7, None, MARKER, &body("ready"))
        .await
        .expect("comment again");

    let requests = fake.requests.lock().expect("lock").clone();
    let auth_of = |prefix: &str| -> Vec<Option<String>> {
        requests
            .iter()
            .filter(|(line, _)| line.starts_with(prefix))
            .map(|(_, auth)| auth.clone())
            .collect()
    };
    let jwt = auth_of("GET /app");
    assert!(
        jwt[0]
            .as_deref()
            .is_some_and(|a| a.starts_with("Bearer ") && a.matches('.').count() == 2),
        "the App authenticates with a JWT: {jwt:?}"
    );
    assert_eq!(
        auth_of("GET /repos/acme/shop/installation").len(),
        1,
        "installation looked up once"
    );
    assert_eq!(
        auth_of("POST /app/installations/").len(),
        1,
        "the installation token is cached"
    );
    let comments = auth_of("POST /repos/acme/shop/issues/7/comments");
    assert!(
        comments[0]
            .as_deref()
            .is_some_and(|a| a.ends_with("ghs_installation_957387")),
        "{comments:?}"
    );

    // Git clones this GitHub's remotes with the installation's token, and nothing else gets it.
    let remote = format!("{url}/acme/shop.git");
    let minutes = Duration::from_secs(600);
    assert_eq!(
        github
            .clone_token(REPO, &remote, minutes)
            .await
            .expect("token")
            .as_deref(),
        Some("ghs_installation_957387")
    );
    for elsewhere in [
        "https://gitlab.example.com/acme/shop.git",
        "/srv/git/acme/shop",
    ] {
        assert_eq!(
            github
                .clone_token(REPO, elsewhere, minutes)
                .await
                .expect("no token"),
            None,
            "{elsewhere}"
        );
    }
}
