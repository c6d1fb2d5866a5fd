//! Who is calling, as a person meets it: the first admin's password file, signing in and out
//! in the browser's way (form, cookie), cross-site requests refused, sign-in limits, the
//! `slipway users` and `slipway tokens` commands against SQLite and PostgreSQL, and the audit
//! rows all of it leaves.

use serde_json::{Value, json};

use crate::support::{TestPostgres, TestServer, client_with_token};

/// A client that does not follow redirects, so each answer is seen as a browser gets it.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The `Cookie` header a browser sends after `response` set the session cookie.
fn session_of(response: &reqwest::Response) -> String {
    let set = response.headers()["set-cookie"]
        .to_str()
        .expect("set-cookie");
    set.split(';').next().expect("cookie").to_owned()
}

async fn sign_in(
    server: &TestServer,
    client: &reqwest::Client,
    login: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(server.url("/auth/login"))
        .header("origin", &server.base)
        .form(&[
            ("login", login),
            ("password", password),
            ("next", "/pipelines"),
        ])
        .send()
        .await
        .expect("sign in")
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned()
}

async fn audit(server: &TestServer, action: &str) -> Vec<Value> {
    let page: Value = server
        .http
        .get(server.url(&format!("/api/audit?action={action}")))
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("json");
    page["items"].as_array().expect("items").clone()
}

#[tokio::test]
async fn the_first_admin_signs_in_with_the_password_slipway_wrote_for_them_and_signs_out() {
    let server = TestServer::start(&[]).await;
    let file = server.data_dir().join("initial-admin-password");
    let password = std::fs::read_to_string(&file)
        .expect("password file")
        .trim()
        .to_owned();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "only Slipway's user may read it");

    // A visitor is sent to sign in, and the page says where the password is.
    let tab = browser();
    let page = tab
        .get(server.url("/previews?status=failed"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 303);
    assert_eq!(location(&page), "/login?next=%2Fpreviews%3Fstatus%3Dfailed");
    let login_page = tab
        .get(server.url("/login"))
        .send()
        .await
        .expect("login")
        .text()
        .await
        .expect("html");
    assert!(
        login_page.contains(&file.display().to_string()),
        "{login_page}"
    );

    let wrong = sign_in(&server, &tab, "admin", "not-the-password").await;
    assert!(
        location(&wrong).starts_with("/login?error="),
        "{}",
        location(&wrong)
    );
    let unknown = sign_in(&server, &tab, "nobody-here", "not-the-password").await;
    assert_eq!(
        location(&unknown),
        location(&wrong),
        "an unknown user reads like a wrong password"
    );
    assert!(!wrong.headers().contains_key("set-cookie"));

    let right = sign_in(&server, &tab, "admin", &password).await;
    assert_eq!(location(&right), "/pipelines");
    let set = right.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    assert!(
        !set.contains("Secure"),
        "plain http: no Secure flag ({set})"
    );
    let cookie = session_of(&right);
    let me = |cookie: String| {
        tab.get(server.url("/api/me"))
            .header("cookie", cookie)
            .send()
    };
    let answer: Value = me(cookie.clone())
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["user"]["login"], "admin");
    assert_eq!(answer["via"], "session");
    let page = tab
        .get(server.url("/pipelines"))
        .header("accept", "text/html")
        .header("cookie", &cookie)
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);

    let out = tab
        .post(server.url("/auth/logout"))
        .header("origin", &server.base)
        .header("cookie", &cookie)
        .send()
        .await
        .expect("logout");
    assert_eq!(location(&out), "/login");
    assert_eq!(
        me(cookie).await.expect("me").status(),
        401,
        "the session ended"
    );

    let logins = audit(&server, "auth.login").await;
    assert_eq!(logins.len(), 1, "{logins:?}");
    let failed = audit(&server, "auth.login_failed").await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed
            .iter()
            .all(|row| row["outcome"] == "denied" && row["source"] == "127.0.0.1"),
        "{failed:?}"
    );
    assert!(
        !serde_json::to_string(&failed)
            .expect("json")
            .contains("not-the-password")
    );

    // A restart keeps the admin and does not make another.
    let data = server.stop_keeping_data().await;
    let again = TestServer::start_in(data, &[]).await;
    let users: Value = again
        .http
        .get(again.url("/api/users"))
        .send()
        .await
        .expect("users")
        .json()
        .await
        .expect("json");
    assert_eq!(
        users["items"].as_array().expect("items").len(),
        1,
        "{users}"
    );
    again.stop().await;
}

#[tokio::test]
async fn a_cookie_request_from_another_site_changes_nothing_and_the_same_from_slipway_does() {
    let server = TestServer::start(&[]).await;
    server
        .slipway(
            &["users", "create", "ada", "--admin", "--password-stdin"],
            Some("a long password for ada\n"),
        )
        .await;
    let tab = browser();
    let cookie = session_of(&sign_in(&server, &tab, "ada", "a long password for ada").await);
    let add = |origin: &'static str, name: &'static str| {
        tab.post(server.url("/api/projects"))
            .header("origin", origin)
            .header("cookie", &cookie)
            .json(&json!({"name": name, "clone_url": "https://example.com/x.git"}))
            .send()
    };
    let forged = add("https://evil.example", "acme/forged")
        .await
        .expect("forged");
    assert_eq!(forged.status(), 403);
    let body = forged.text().await.expect("body");
    assert!(body.contains("cross-site request refused"), "{body}");
    let own = add("http://0.0.0.0", "acme/own").await.expect("own");
    assert_eq!(
        own.status(),
        403,
        "an origin that is neither the public URL nor the host"
    );
    let origin: &'static str = Box::leak(server.base.clone().into_boxed_str());
    let own = add(origin, "acme/own").await.expect("own");
    assert_eq!(
        own.status(),
        201,
        "{}",
        own.text().await.unwrap_or_default()
    );
    let projects: Value = server
        .http
        .get(server.url("/api/projects"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let names: Vec<&str> = projects["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["acme/own"]);
    let refused = audit(&server, "auth.cross_site_refused").await;
    assert_eq!(refused.len(), 2, "{refused:?}");
    // A token needs no origin: it cannot ride along with a page from elsewhere.
    let with_token = server
        .http
        .post(server.url("/api/projects"))
        .header("origin", "https://evil.example")
        .json(&json!({"name": "acme/scripted", "clone_url": "https://example.com/x.git"}))
        .send()
        .await
        .expect("token");
    assert_eq!(with_token.status(), 201);
    server.stop().await;
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_held_off_even_with_the_right_password() {
    let server = TestServer::start(&[]).await;
    server
        .slipway(
            &["users", "create", "bob", "--password-stdin"],
            Some("bob's long password\n"),
        )
        .await;
    let tab = browser();
    for _ in 0..10 {
        let wrong = sign_in(&server, &tab, "bob", "guess").await;
        assert!(location(&wrong).contains("wrong"), "{}", location(&wrong));
    }
    let held = sign_in(&server, &tab, "bob", "bob's long password").await;
    assert!(location(&held).contains("too+many"), "{}", location(&held));
    assert!(!held.headers().contains_key("set-cookie"));
    assert_eq!(audit(&server, "auth.login_throttled").await.len(), 1);
    server.stop().await;
}

/// `slipway users` and `slipway tokens` on one database: a user made with a password from
/// standard input signs in; a token limited to a repository reaches it only, and stops
/// working once revoked.
async fn users_and_tokens_from_the_command_line(settings: &[(&'static str, String)]) {
    let server = TestServer::start(settings).await;
    let made = server
        .slipway(
            &["users", "create", "carol", "--operator", "--password-stdin"],
            Some("carol's long password\n"),
        )
        .await;
    assert_eq!(made.trim(), "", "no password printed when one was given");
    let generated = server.slipway(&["users", "create", "dave"], None).await;
    assert_eq!(
        generated.trim().len(),
        24,
        "the generated password, alone: {generated}"
    );
    let listed = server.slipway(&["users", "list"], None).await;
    for line in ["admin", "carol", "dave"] {
        assert!(listed.contains(line), "{listed}");
    }
    assert!(
        listed
            .lines()
            .any(|l| l.contains("carol") && l.contains("operator")),
        "{listed}"
    );
    let tab = browser();
    assert_eq!(
        location(&sign_in(&server, &tab, "dave", generated.trim()).await),
        "/pipelines"
    );

    for name in ["acme/one", "acme/two"] {
        let added = server
            .http
            .post(server.url("/api/projects"))
            .json(&json!({"name": name, "clone_url": "https://example.com/x.git"}))
            .send()
            .await
            .expect("add");
        assert_eq!(added.status(), 201);
    }
    let args = [
        "tokens",
        "create",
        "--user",
        "carol",
        "--scope",
        "write",
        "--repository",
        "acme/one",
        "--expires",
        "30d",
        "--name",
        "deploy bot",
    ];
    let token = server.slipway(&args, None).await.trim().to_owned();
    assert!(
        token.starts_with("slw_") && !token.contains(char::is_whitespace),
        "{token}"
    );
    let carol = client_with_token(&token);
    let me: Value = carol
        .get(server.url("/api/me"))
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(me["via"], "token");
    let reach: Vec<&str> = me["repositories"]
        .as_array()
        .expect("repositories")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(reach, ["acme/one"], "{me}");
    let tokens: Value = carol
        .get(server.url("/api/tokens"))
        .send()
        .await
        .expect("tokens")
        .json()
        .await
        .expect("json");
    let mine = &tokens["items"][0];
    let days = (mine["expires_at_ms"].as_i64().expect("expiry")
        - mine["created_at_ms"].as_i64().expect("created"))
        / 86_400_000;
    assert_eq!(days, 30, "{mine}");
    assert!(
        !tokens.to_string().contains(&token),
        "a listed token never shows its secret"
    );

    let id = mine["id"].as_i64().expect("id").to_string();
    server.slipway(&["tokens", "revoke", &id], None).await;
    let after = carol.get(server.url("/api/me")).send().await.expect("me");
    assert_eq!(after.status(), 401);
    assert_eq!(after.headers()["www-authenticate"], "Bearer");
    let body = after.text().await.expect("body");
    assert!(body.contains("revoked"), "{body}");
    let created = audit(&server, "token.create").await;
    assert!(
        created.iter().any(|row| row["actor_kind"] == "system"
            && row["target"].as_str().is_some_and(|t| t.contains("carol"))),
        "{created:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn users_and_tokens_from_the_command_line_on_sqlite() {
    users_and_tokens_from_the_command_line(&[]).await;
}

#[tokio::test]
async fn users_and_tokens_from_the_command_line_on_postgres() {
    let database = TestPostgres::create().await;
    users_and_tokens_from_the_command_line(&[("SLIPWAY_DATABASE_URL", database.url.clone())]).await;
    database.drop_database().await;
}

#[tokio::test]
async fn a_failed_change_is_audited_as_an_error_and_a_refusal_as_denied() {
    let server = TestServer::start(&[]).await;
    server.slipway(&["users", "create", "erin"], None).await;
    let erin = client_with_token(&server.token_for("erin", "write").await);
    let refused = erin
        .post(server.url("/api/projects"))
        .json(&json!({"name": "acme/x", "clone_url": "https://example.com/x.git"}))
        .send()
        .await
        .expect("add");
    assert_eq!(refused.status(), 403);
    let body = refused.text().await.expect("body");
    assert!(
        body.contains("repository.add needs the instance admin role"),
        "{body}"
    );
    let conflict = |name: &'static str| {
        server
            .http
            .post(server.url("/api/projects"))
            .json(&json!({"name": name, "clone_url": "https://example.com/x.git"}))
            .send()
    };
    assert_eq!(conflict("acme/x").await.expect("add").status(), 201);
    assert_eq!(conflict("acme/x").await.expect("again").status(), 409);
    let rows = audit(&server, "repository.add").await;
    let outcomes: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["actor_login"].as_str().unwrap_or(""),
                r["outcome"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [("admin", "error"), ("admin", "success"), ("erin", "denied")],
        "{rows:?}"
    );
    // Erin administers nothing, so the audit log shows her no rows; the export is JSON lines.
    let hers: Value = erin
        .get(server.url("/api/audit"))
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("json");
    assert_eq!(hers["items"], json!([]));
    let export = server
        .http
        .get(server.url("/api/audit?format=jsonl&action=repository.add"))
        .send()
        .await
        .expect("export");
    assert_eq!(export.headers()["content-type"], "application/x-ndjson");
    let lines = export.text().await.expect("lines");
    assert_eq!(lines.lines().count(), 3, "{lines}");
    assert!(
        lines
            .lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "{lines}"
    );
    server.stop().await;
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session_of_the_user_only() {
    let server = TestServer::start(&[]).await;
    for login in ["fay", "gus"] {
        let args = ["users", "create", login, "--password-stdin"];
        server
            .slipway(&args, Some("a long enough password\n"))
            .await;
    }
    let tab = browser();
    let laptop = session_of(&sign_in(&server, &tab, "fay", "a long enough password").await);
    let phone = session_of(&sign_in(&server, &tab, "fay", "a long enough password").await);
    let other = session_of(&sign_in(&server, &tab, "gus", "a long enough password").await);
    let sessions: Value = tab
        .get(server.url("/api/sessions"))
        .header("cookie", &laptop)
        .send()
        .await
        .expect("sessions")
        .json()
        .await
        .expect("json");
    assert_eq!(
        sessions["items"].as_array().expect("items").len(),
        2,
        "{sessions}"
    );
    let out = tab
        .post(server.url("/auth/logout?everywhere=true"))
        .header("origin", &server.base)
        .header("cookie", &laptop)
        .send()
        .await
        .expect("logout");
    assert_eq!(location(&out), "/login");
    let me = |cookie: &str| {
        tab.get(server.url("/api/me"))
            .header("cookie", cookie.to_owned())
            .send()
    };
    assert_eq!(me(&laptop).await.expect("me").status(), 401);
    assert_eq!(me(&phone).await.expect("me").status(), 401);
    assert_eq!(
        me(&other).await.expect("me").status(),
        200,
        "another user's session stays"
    );
    server.stop().await;
}
