//! Sign in with GitHub and GitHub-derived permissions, against the fake GitHub: the whole
//! browser flow (authorize redirect with state and an S256 code challenge, callback, token
//! exchange checking the verifier, `/user`), users keyed on GitHub's id, `SLIPWAY_ADMINS`,
//! wrong and replayed states, GitHub refusing or down; levels from the collaborator
//! permission endpoint, kept for the cache time and asked again, live, before a destructive
//! action.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fake_github::{self, CLIENT_ID, CLIENT_SECRET, Fake};
use crate::support::TestServer;

async fn start(cache_seconds: u64) -> (TestServer, Arc<Fake>, String) {
    let (github, fake) = fake_github::start().await;
    let server = TestServer::start(&[
        ("SLIPWAY_GITHUB_API_URL", github.clone()),
        ("SLIPWAY_GITHUB_WEB_URL", github.clone()),
        ("SLIPWAY_GITHUB_TOKEN", "ghp_slipway".into()),
        ("SLIPWAY_GITHUB_CLIENT_ID", CLIENT_ID.into()),
        ("SLIPWAY_GITHUB_CLIENT_SECRET", CLIENT_SECRET.into()),
        ("SLIPWAY_ADMINS", "Octo-Admin".into()),
        (
            "SLIPWAY_GITHUB_PERMISSION_CACHE_SECONDS",
            cache_seconds.to_string(),
        ),
    ])
    .await;
    (server, fake, github)
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned()
}

/// `name=value` of the cookie `name` that `response` sets.
fn cookie_set(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .find(|pair| pair.starts_with(&format!("{name}=")) && pair.len() > name.len() + 1)
}

/// The first half: Slipway's redirect to GitHub and GitHub's back; the pending cookie and
/// the callback URL GitHub sent the browser to.
async fn to_github_and_back(server: &TestServer, next: &str) -> (String, String) {
    let browser = &server.anonymous;
    let start = browser
        .get(server.url(&format!("/auth/github?next={next}")))
        .send()
        .await
        .expect("start");
    assert_eq!(start.status(), 303, "Slipway sends the browser to GitHub");
    let pending = cookie_set(&start, "slipway_github_sign_in").expect("pending cookie");
    let set = start.headers()["set-cookie"].to_str().expect("header");
    assert!(
        set.contains("HttpOnly") && set.contains("Path=/auth/github"),
        "{set}"
    );
    let authorize = location(&start);
    assert!(authorize.contains("/login/oauth/authorize?"), "{authorize}");
    for part in [
        "code_challenge=",
        "code_challenge_method=S256",
        "state=",
        "client_id=",
    ] {
        assert!(authorize.contains(part), "{authorize} has {part}");
    }
    let github = browser.get(&authorize).send().await.expect("authorize");
    assert_eq!(
        github.status(),
        302,
        "{}",
        github.text().await.unwrap_or_default()
    );
    let callback = location(&github);
    assert!(
        callback.starts_with(&server.url("/auth/github/callback?")),
        "{callback}"
    );
    (pending, callback)
}

async fn callback(server: &TestServer, url: &str, pending: Option<&str>) -> reqwest::Response {
    let mut request = server.anonymous.get(url);
    if let Some(pending) = pending {
        request = request.header("cookie", pending);
    }
    request.send().await.expect("callback")
}

/// Signs in through GitHub as the fake's current account: the session's `Cookie` header.
async fn sign_in(server: &TestServer) -> String {
    let (pending, url) = to_github_and_back(server, "/previews").await;
    let done = callback(server, &url, Some(&pending)).await;
    assert_eq!(
        done.status(),
        303,
        "{}",
        done.text().await.unwrap_or_default()
    );
    assert_eq!(
        location(&done),
        "/previews",
        "back where the person started"
    );
    cookie_set(&done, "slipway_session").expect("a session")
}

async fn me(server: &TestServer, session: &str) -> Value {
    let response = server
        .anonymous
        .get(server.url("/api/me"))
        .header("cookie", session)
        .send()
        .await
        .expect("me");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

#[tokio::test]
async fn github_users_are_made_on_first_sign_in_keyed_on_their_id_and_admins_listed_become_admins()
{
    let (server, fake, _) = start(900).await;
    let page = server
        .anonymous
        .get(server.url("/login"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(page.contains("Sign in with GitHub"), "the page offers it");

    let session = sign_in(&server).await;
    let first = me(&server, &session).await;
    assert_eq!(first["user"]["login"], "octo-dev");
    assert_eq!(first["user"]["github_id"], 4242);
    assert_eq!(first["user"]["role"], "member");

    // Renamed at GitHub: the same user, under the new login.
    *fake.account.lock().expect("lock") = (4242, "octo-renamed".into());
    let again = me(&server, &sign_in(&server).await).await;
    assert_eq!(again["user"]["id"], first["user"]["id"]);
    assert_eq!(again["user"]["login"], "octo-renamed");
    let users = server.slipway(&["users", "list"], None).await;
    assert!(!users.contains("octo-dev"), "{users}");

    *fake.account.lock().expect("lock") = (7, "octo-admin".into());
    let admin = me(&server, &sign_in(&server).await).await;
    assert_eq!(
        admin["user"]["role"], "admin",
        "SLIPWAY_ADMINS names it (any case)"
    );

    // A GitHub login that is a local account's does not take it over.
    *fake.account.lock().expect("lock") = (99, "admin".into());
    let (pending, url) = to_github_and_back(&server, "/").await;
    let refused = callback(&server, &url, Some(&pending)).await;
    assert_eq!(refused.status(), 409);
    assert!(
        refused
            .text()
            .await
            .expect("page")
            .contains("belongs to a local account")
    );
    server.stop().await;
}

#[tokio::test]
async fn wrong_replayed_or_cookieless_states_are_refused_with_400_and_audited() {
    let (server, _fake, _) = start(900).await;
    let (pending, url) = to_github_and_back(&server, "/").await;

    let tampered = url.replace("state=", "state=x");
    let wrong = callback(&server, &tampered, Some(&pending)).await;
    assert_eq!(wrong.status(), 400);
    assert!(wrong.text().await.expect("page").contains("not valid"));
    let (pending, url) = to_github_and_back(&server, "/").await;
    let cookieless = callback(&server, &url, None).await;
    assert_eq!(cookieless.status(), 400, "started in another browser");
    let forged = callback(&server, &url, Some("slipway_github_sign_in=00ff")).await;
    assert_eq!(forged.status(), 400);

    let done = callback(&server, &url, Some(&pending)).await;
    assert_eq!(done.status(), 303);
    let replayed = callback(&server, &url, Some(&pending)).await;
    assert_eq!(replayed.status(), 400, "a state is good once");

    let audit: Value = server
        .http
        .get(server.url("/api/audit?action=auth.login_failed"))
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("json");
    let rows = audit["items"].as_array().expect("items");
    assert_eq!(rows.len(), 4, "{audit}");
    assert!(
        rows.iter()
            .all(|r| r["outcome"] == "denied" && r["target"] == "github")
    );
    server.stop().await;
}

#[tokio::test]
async fn github_refusing_the_code_or_down_is_said_on_the_page_and_sessions_keep_working() {
    let (server, fake, _) = start(900).await;
    let session = sign_in(&server).await;

    let (pending, url) = to_github_and_back(&server, "/").await;
    let bogus = url::Url::parse(&url).expect("url");
    let state = bogus
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let state: String = url::form_urlencoded::byte_serialize(state.as_bytes()).collect();
    let refused_url = server.url(&format!("/auth/github/callback?code=bogus&state={state}"));
    let refused = callback(&server, &refused_url, Some(&pending)).await;
    assert_eq!(refused.status(), 401);
    let page = refused.text().await.expect("page");
    assert!(page.contains("GitHub refused the sign-in"), "{page}");

    let (pending, url) = to_github_and_back(&server, "/").await;
    fake.oauth_down.store(true, Ordering::SeqCst);
    let down = callback(&server, &url, Some(&pending)).await;
    assert_eq!(down.status(), 503);
    assert!(
        down.text()
            .await
            .expect("page")
            .contains("GitHub is unavailable")
    );

    assert_eq!(me(&server, &session).await["user"]["login"], "octo-dev");
    server.stop().await;
}

/// Adds a repository whose clone URL is on the fake GitHub; its id.
async fn github_repository(server: &TestServer, github: &str, name: &str) -> i64 {
    let body = json!({ "name": name, "clone_url": format!("{github}/{name}.git") });
    let added = server
        .http
        .post(server.url("/api/projects"))
        .json(&body)
        .send()
        .await
        .expect("add");
    assert_eq!(added.status(), 201);
    added.json::<Value>().await.expect("json")["id"]
        .as_i64()
        .expect("id")
}

async fn set_secret(server: &TestServer, session: &str, repository: i64) -> reqwest::StatusCode {
    server
        .anonymous
        .put(server.url(&format!("/api/projects/{repository}/secrets/DEPLOY_KEY")))
        .header("cookie", session)
        .header("origin", &server.base)
        .json(&json!({ "value": "s3cr3t" }))
        .send()
        .await
        .expect("put")
        .status()
}

fn level_on(me: &Value, name: &str) -> Option<String> {
    me["repositories"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == name)
        .map(|r| r["level"].as_str().unwrap_or_default().to_owned())
}

/// Polls `/api/me` until GitHub's answer on acme/shop reads `level` (the cache time passed).
async fn wait_for_level(server: &TestServer, session: &str, level: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = me(server, session).await;
        if level_on(&now, "acme/shop").as_deref() == Some(level) {
            return;
        }
        assert!(Instant::now() < deadline, "{level} never showed: {now}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn github_permissions_are_cached_and_asked_again_live_before_a_destructive_action() {
    let (server, fake, github) = start(2).await;
    let shop = github_repository(&server, &github, "acme/shop").await;
    let other = github_repository(&server, &github, "acme/other").await;
    fake.set_role("acme/shop", "octo-dev", "admin");
    let session = sign_in(&server).await;

    let first = me(&server, &session).await;
    assert_eq!(level_on(&first, "acme/shop").as_deref(), Some("admin"));
    assert_eq!(
        level_on(&first, "acme/other"),
        None,
        "no access at GitHub: not listed"
    );
    let hidden = server
        .anonymous
        .get(server.url(&format!("/api/projects/{other}")))
        .header("cookie", &session)
        .send()
        .await
        .expect("get");
    assert_eq!(hidden.status(), 404);
    let asked = fake.permission_lookups();
    me(&server, &session).await;
    assert_eq!(
        fake.permission_lookups(),
        asked,
        "answers are kept, not asked per request"
    );

    assert_eq!(set_secret(&server, &session, shop).await, 200);

    // Lowered at GitHub: lists keep the answer they have until the cache time has passed…
    fake.set_role("acme/shop", "octo-dev", "write");
    let before = fake.permission_lookups();
    let cached = me(&server, &session).await;
    if fake.permission_lookups() == before {
        assert_eq!(level_on(&cached, "acme/shop").as_deref(), Some("admin"));
    }
    wait_for_level(&server, &session, "write").await;

    // …but a destructive action asks GitHub at once: admin in the cache, write at GitHub.
    fake.set_role("acme/shop", "octo-dev", "admin");
    wait_for_level(&server, &session, "admin").await;
    fake.set_role("acme/shop", "octo-dev", "write");
    let before = fake.permission_lookups();
    assert_eq!(set_secret(&server, &session, shop).await, 403);
    assert_eq!(fake.permission_lookups(), before + 1, "asked live");
    assert_eq!(
        level_on(&me(&server, &session).await, "acme/shop").as_deref(),
        Some("write"),
        "the live answer is kept"
    );

    // GitHub down: a destructive action it alone would allow waits for it, and says so.
    fake.set_role("acme/shop", "octo-dev", "admin");
    fake.permissions_down.store(true, Ordering::SeqCst);
    let unconfirmed = server
        .anonymous
        .put(server.url(&format!("/api/projects/{shop}/secrets/DEPLOY_KEY")))
        .header("cookie", &session)
        .header("origin", &server.base)
        .json(&json!({ "value": "s3cr3t" }))
        .send()
        .await
        .expect("put");
    assert_eq!(unconfirmed.status(), 503);
    let body: Value = unconfirmed.json().await.expect("json");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("GitHub"),
        "{body}"
    );
    server.stop().await;
}
