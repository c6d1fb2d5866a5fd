//! A fake GitHub on loopback for the GitHost adapter's and sign-in's tests: the REST endpoints
//! Slipway uses (issue comments, commit statuses, check runs, deployments and their statuses,
//! contents, open pull requests, collaborator permissions, rate limit), the OAuth web flow
//! (authorize, which signs in as [`Fake::account`] at once, and the token exchange, which
//! checks the client secret and the PKCE verifier against the challenge, as GitHub does),
//! `GET /user`; every request recorded, a budget that can be set low, a switch that answers
//! the next request as a spent rate limit, a count of requests to answer `502 Bad Gateway`, and
//! `acme/missing` as a repository that does not exist.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use base64::Engine;
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub repository: String,
    pub number: i64,
    pub body: String,
}

#[derive(Debug, Default)]
pub struct Fake {
    pub comments: Mutex<BTreeMap<u64, Comment>>,
    pub statuses: Mutex<Vec<(String, String, Value)>>,
    /// `(repository, path, ref)` → text.
    pub files: Mutex<BTreeMap<(String, String, String), String>>,
    /// Open pull requests by repository, as `GET /repos/{o}/{r}/pulls` lists them.
    pub pulls: Mutex<BTreeMap<String, Vec<Value>>>,
    /// `METHOD path` and the Authorization header of every request.
    pub requests: Mutex<Vec<(String, Option<String>)>>,
    pub rate_limit_next: AtomicBool,
    /// How many of the next requests answer `502 Bad Gateway`, as GitHub does in an incident.
    pub bad_gateway_next: std::sync::atomic::AtomicU32,
    /// `(repository, login)` → GitHub's `role_name`; unknown pairs answer `none`.
    pub roles: Mutex<BTreeMap<(String, String), String>>,
    /// Permission lookups answer 502 while set (GitHub down).
    pub permissions_down: AtomicBool,
    /// The token exchange answers 503 while set.
    pub oauth_down: AtomicBool,
    /// The account the authorize page signs in as: `(id, login)`.
    pub account: Mutex<Account>,
    /// Codes handed out and not exchanged yet: code → (challenge, account).
    codes: Mutex<BTreeMap<String, (String, Account)>>,
    /// User tokens handed out: token → account.
    user_tokens: Mutex<BTreeMap<String, Account>>,
    /// Told after every answered request, for tests waiting for a write.
    pub answered: tokio::sync::Notify,
    next_id: AtomicU64,
    /// Check runs by id: the repository and every body sent for it (the creation first).
    pub check_runs: Mutex<BTreeMap<u64, (String, Vec<Value>)>>,
    /// Deployments by id: the repository, the creation's body and each status's body.
    pub deployments: Mutex<BTreeMap<u64, Deployment>>,
    /// What `x-ratelimit-remaining` says (of 5,000); 4,999 until set.
    pub remaining: std::sync::atomic::AtomicI64,
    /// The next this many deployment statuses answer 502.
    pub failing_deployment_statuses: std::sync::atomic::AtomicU32,
}

#[derive(Debug, Clone)]
pub struct Deployment {
    pub repository: String,
    pub body: Value,
    pub statuses: Vec<Value>,
}

/// A GitHub account: `(id, login)`.
pub type Account = (i64, String);

/// The OAuth client the fake accepts.
pub const CLIENT_ID: &str = "Iv1.fakeclient";
pub const CLIENT_SECRET: &str = "fake-client-secret";

impl Fake {
    /// Sets what GitHub says `login` may do on `repository` (`admin`, `maintain`, `write`,
    /// `triage`, `read`).
    pub fn set_role(&self, repository: &str, login: &str, role: &str) {
        self.roles
            .lock()
            .expect("lock")
            .insert((repository.into(), login.into()), role.into());
    }

    /// How many permission lookups GitHub answered so far.
    pub fn permission_lookups(&self) -> usize {
        self.requests
            .lock()
            .expect("lock")
            .iter()
            .filter(|(line, _)| line.ends_with("/permission"))
            .count()
    }

    /// Waits until what GitHub received satisfies `done`; panics naming `what` when it does
    /// not within a minute.
    pub async fn until(&self, what: &str, done: impl Fn(&Fake) -> bool) {
        let wait = async {
            loop {
                let answered = self.answered.notified();
                tokio::pin!(answered);
                answered.as_mut().enable();
                if done(self) {
                    return;
                }
                answered.await;
            }
        };
        if tokio::time::timeout(std::time::Duration::from_secs(60), wait)
            .await
            .is_err()
        {
            panic!("GitHub never saw {what}");
        }
    }

    /// Every body sent for the check runs of `sha`, by check run id.
    pub fn checks_of(&self, sha: &str) -> Vec<(u64, Vec<Value>)> {
        self.check_runs
            .lock()
            .expect("lock")
            .iter()
            .filter(|(_, (_, bodies))| bodies[0]["head_sha"] == sha)
            .map(|(id, (_, bodies))| (*id, bodies.clone()))
            .collect()
    }

    /// The deployments made, oldest first.
    pub fn deployment_list(&self) -> Vec<(u64, Deployment)> {
        self.deployments
            .lock()
            .expect("lock")
            .iter()
            .map(|(id, d)| (*id, d.clone()))
            .collect()
    }

    /// A comment someone (or an earlier Slipway) wrote; its id.
    pub fn add_comment(&self, repository: &str, number: i64, body: &str) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst) + 1_000;
        let comment = Comment {
            repository: repository.into(),
            number,
            body: body.into(),
        };
        self.comments.lock().expect("lock").insert(id, comment);
        id
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn record(State(fake): State<Arc<Fake>>, request: Request, next: Next) -> Response {
    let line = format!("{} {}", request.method(), request.uri());
    let auth = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    fake.requests.lock().expect("lock").push((line, auth));
    if fake
        .bad_gateway_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return (StatusCode::BAD_GATEWAY, "Bad Gateway").into_response();
    }
    if fake.rate_limit_next.swap(false, Ordering::SeqCst) {
        let reset = (now() + 1).to_string();
        let headers = [
            ("x-ratelimit-remaining", "0".to_owned()),
            ("x-ratelimit-limit", "5000".to_owned()),
            ("x-ratelimit-reset", reset),
        ];
        let body = Json(json!({ "message": "API rate limit exceeded" }));
        return (StatusCode::FORBIDDEN, headers, body).into_response();
    }
    // A repository the token cannot see, as GitHub answers for it.
    if request.uri().path().starts_with("/repos/acme/missing/") {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "message": "Not Found" })),
        )
            .into_response();
    }
    let mut response = next.run(request).await;
    fake.answered.notify_waiters();
    let remaining = match fake.remaining.load(Ordering::SeqCst) {
        0 => 4_999,
        set => set,
    };
    let headers = response.headers_mut();
    headers.insert(
        "x-ratelimit-remaining",
        remaining.to_string().parse().expect("value"),
    );
    headers.insert("x-ratelimit-limit", "5000".parse().expect("value"));
    headers.insert(
        "x-ratelimit-reset",
        (now() + 3600).to_string().parse().expect("value"),
    );
    response
}

fn comment_json(id: u64, c: &Comment) -> Value {
    json!({ "id": id, "body": c.body, "user": { "login": "slipway[bot]" } })
}

async fn list_comments(
    State(fake): State<Arc<Fake>>,
    Path((owner, repo, number)): Path<(String, String, i64)>,
) -> Json<Value> {
    let repository = format!("{owner}/{repo}");
    let comments = fake.comments.lock().expect("lock");
    Json(Value::Array(
        comments
            .iter()
            .filter(|(_, c)| c.repository == repository && c.number == number)
            .map(|(id, c)| comment_json(*id, c))
            .collect(),
    ))
}

async fn create_comment(
    State(fake): State<Arc<Fake>>,
    Path((owner, repo, number)): Path<(String, String, i64)>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let text = body["body"].as_str().unwrap_or_default();
    let id = fake.add_comment(&format!("{owner}/{repo}"), number, text);
    let comments = fake.comments.lock().expect("lock");
    (StatusCode::CREATED, Json(comment_json(id, &comments[&id])))
}

async fn edit_comment(
    State(fake): State<Arc<Fake>>,
    Path((_owner, _repo, id)): Path<(String, String, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let mut comments = fake.comments.lock().expect("lock");
    match comments.get_mut(&id) {
        Some(comment) => {
            comment.body = body["body"].as_str().unwrap_or_default().to_owned();
            Json(comment_json(id, comment)).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "message": "Not Found" })),
        )
            .into_response(),
    }
}

async fn create_status(
    State(fake): State<Arc<Fake>>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    fake.statuses
        .lock()
        .expect("lock")
        .push((format!("{owner}/{repo}"), sha, body.clone()));
    (StatusCode::CREATED, Json(body))
}

async fn create_check_run(
    State(fake): State<Arc<Fake>>,
    Path((owner, repo)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let id = fake.next_id.fetch_add(1, Ordering::SeqCst) + 9_000_000_000;
    let mut answer = body.clone();
    answer["id"] = id.into();
    fake.check_runs
        .lock()
        .expect("lock")
        .insert(id, (format!("{owner}/{repo}"), vec![body]));
    (StatusCode::CREATED, Json(answer))
}

async fn update_check_run(
    State(fake): State<Arc<Fake>>,
    Path((_owner, _repo, id)): Path<(String, String, u64)>,
    Json(body): Json<Value>,
) -> Response {
    match fake.check_runs.lock().expect("lock").get_mut(&id) {
        Some((_, bodies)) => {
            bodies.push(body.clone());
            let mut answer = body;
            answer["id"] = id.into();
            Json(answer).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "message": "Not Found" })),
        )
            .into_response(),
    }
}

async fn create_deployment(
    State(fake): State<Arc<Fake>>,
    Path((owner, repo)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    // GitHub refuses a deployment while other checks are not green, unless told not to wait.
    if body["required_contexts"] != json!([]) {
        return (
            StatusCode::CONFLICT,
            Json(json!({ "message": "Conflict: Commit status checks failed for main." })),
        )
            .into_response();
    }
    let id = fake.next_id.fetch_add(1, Ordering::SeqCst) + 5_000;
    let deployment = Deployment {
        repository: format!("{owner}/{repo}"),
        body: body.clone(),
        statuses: Vec::new(),
    };
    fake.deployments
        .lock()
        .expect("lock")
        .insert(id, deployment);
    let mut answer = body;
    answer["id"] = id.into();
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn create_deployment_status(
    State(fake): State<Arc<Fake>>,
    Path((_owner, _repo, id)): Path<(String, String, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let failing = &fake.failing_deployment_statuses;
    if failing
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return (StatusCode::BAD_GATEWAY, "upstream down").into_response();
    }
    match fake.deployments.lock().expect("lock").get_mut(&id) {
        Some(deployment) => {
            deployment.statuses.push(body.clone());
            (StatusCode::CREATED, Json(body)).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "message": "Not Found" })),
        )
            .into_response(),
    }
}

async fn contents(
    State(fake): State<Arc<Fake>>,
    Path((owner, repo, path)): Path<(String, String, String)>,
    axum::extract::Query(query): axum::extract::Query<BTreeMap<String, String>>,
) -> Response {
    let key = (
        format!("{owner}/{repo}"),
        path.clone(),
        query.get("ref").cloned().unwrap_or_default(),
    );
    match fake.files.lock().expect("lock").get(&key) {
        Some(text) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(text);
            // Wrapped at 60 characters, as GitHub sends it.
            let wrapped: Vec<String> = encoded
                .as_bytes()
                .chunks(60)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            Json(json!({ "type": "file", "path": path, "encoding": "base64", "content": wrapped.join("\n") })).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "message": "Not Found" })),
        )
            .into_response(),
    }
}

async fn list_pulls(
    State(fake): State<Arc<Fake>>,
    Path((owner, repo)): Path<(String, String)>,
) -> Json<Value> {
    let pulls = fake.pulls.lock().expect("lock");
    Json(Value::Array(
        pulls
            .get(&format!("{owner}/{repo}"))
            .cloned()
            .unwrap_or_default(),
    ))
}

/// The App's installation on a repository (GitHub's published installation object).
async fn repository_installation() -> Json<Value> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github-payloads/installation.created.payload.json");
    let event: Value =
        serde_json::from_slice(&std::fs::read(path).expect("example")).expect("json");
    Json(event["installation"].clone())
}

async fn access_token(Path(id): Path<u64>) -> (StatusCode, Json<Value>) {
    let expires = "2099-01-01T00:00:00Z";
    (
        StatusCode::CREATED,
        Json(json!({
            "token": format!("ghs_installation_{id}"),
            "expires_at": expires,
            "permissions": { "issues": "write", "statuses": "write", "contents": "read", "pull_requests": "read" },
            "repository_selection": "all",
        })),
    )
}

async fn app() -> Json<Value> {
    Json(json!({ "id": 1, "slug": "slipway", "name": "Slipway" }))
}

async fn rate_limit(_headers: HeaderMap) -> Json<Value> {
    Json(json!({ "resources": { "core": { "limit": 5000, "remaining": 4999 } } }))
}

async fn permission(
    State(fake): State<Arc<Fake>>,
    Path((owner, repo, login)): Path<(String, String, String)>,
) -> Response {
    if fake.permissions_down.load(Ordering::SeqCst) {
        return (StatusCode::BAD_GATEWAY, "upstream down").into_response();
    }
    let key = (format!("{owner}/{repo}"), login.clone());
    let role = fake.roles.lock().expect("lock").get(&key).cloned();
    let role = role.unwrap_or_else(|| "none".into());
    let permission = match role.as_str() {
        "maintain" => "write",
        "triage" => "read",
        other => other,
    };
    Json(json!({ "permission": permission, "role_name": role, "user": { "login": login } }))
        .into_response()
}

/// GitHub's authorize page, after the person agreed: back to the app with a code.
async fn authorize(
    State(fake): State<Arc<Fake>>,
    axum::extract::Query(query): axum::extract::Query<BTreeMap<String, String>>,
) -> Response {
    if query.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || query.get("code_challenge_method").map(String::as_str) != Some("S256")
    {
        return (StatusCode::BAD_REQUEST, "bad client or no S256 challenge").into_response();
    }
    let (Some(redirect), Some(state), Some(challenge)) = (
        query.get("redirect_uri"),
        query.get("state"),
        query.get("code_challenge"),
    ) else {
        return (StatusCode::BAD_REQUEST, "missing parameters").into_response();
    };
    let code = format!("code{}", fake.next_id.fetch_add(1, Ordering::SeqCst));
    let account = fake.account.lock().expect("lock").clone();
    fake.codes
        .lock()
        .expect("lock")
        .insert(code.clone(), (challenge.clone(), account));
    let state: String = url::form_urlencoded::byte_serialize(state.as_bytes()).collect();
    let location = format!("{redirect}?code={code}&state={state}");
    (StatusCode::FOUND, [("location", location)]).into_response()
}

/// The token exchange: GitHub answers `200 OK` with an `error` when it refuses.
async fn access_token_for_user(
    State(fake): State<Arc<Fake>>,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    if fake.oauth_down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response();
    }
    let refuse = |error: &str, description: &str| {
        Json(json!({ "error": error, "error_description": description })).into_response()
    };
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return refuse(
            "incorrect_client_credentials",
            "The client_id and/or client_secret passed are incorrect.",
        );
    }
    let code = form.get("code").cloned().unwrap_or_default();
    let Some((challenge, account)) = fake.codes.lock().expect("lock").remove(&code) else {
        return refuse(
            "bad_verification_code",
            "The code passed is incorrect or expired.",
        );
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    use sha2::Digest;
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    if expected != challenge {
        return refuse(
            "bad_verification_code",
            "The code_verifier does not match the challenge.",
        );
    }
    let token = format!("gho_user{}", fake.next_id.fetch_add(1, Ordering::SeqCst));
    fake.user_tokens
        .lock()
        .expect("lock")
        .insert(token.clone(), account);
    Json(json!({ "access_token": token, "token_type": "bearer", "scope": "" })).into_response()
}

async fn user(State(fake): State<Arc<Fake>>, headers: HeaderMap) -> Response {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match fake.user_tokens.lock().expect("lock").get(token) {
        Some((id, login)) => {
            Json(json!({ "id": id, "login": login, "type": "User" })).into_response()
        }
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "message": "Bad credentials" })),
        )
            .into_response(),
    }
}

/// Starts the fake on a free loopback port; its base URL and state.
pub async fn start() -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake {
        account: Mutex::new((4_242, "octo-dev".into())),
        ..Fake::default()
    });
    let app = Router::new()
        .route("/rate_limit", get(rate_limit))
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            get(list_comments).post(create_comment),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments/{id}",
            patch(edit_comment),
        )
        .route("/repos/{owner}/{repo}/statuses/{sha}", post(create_status))
        .route("/repos/{owner}/{repo}/check-runs", post(create_check_run))
        .route(
            "/repos/{owner}/{repo}/check-runs/{id}",
            patch(update_check_run),
        )
        .route("/repos/{owner}/{repo}/deployments", post(create_deployment))
        .route(
            "/repos/{owner}/{repo}/deployments/{id}/statuses",
            post(create_deployment_status),
        )
        .route("/repos/{owner}/{repo}/pulls", get(list_pulls))
        .route(
            "/repos/{owner}/{repo}/installation",
            get(repository_installation),
        )
        .route("/app/installations/{id}/access_tokens", post(access_token))
        .route("/app", get(app))
        .route("/repos/{owner}/{repo}/contents/{*path}", get(contents))
        .route(
            "/repos/{owner}/{repo}/collaborators/{login}/permission",
            get(permission),
        )
        .route("/login/oauth/authorize", get(authorize))
        .route("/login/oauth/access_token", post(access_token_for_user))
        .route("/user", get(user))
        .layer(middleware::from_fn_with_state(fake.clone(), record))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{address}"), fake)
}
