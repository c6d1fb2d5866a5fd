//! The world the access matrix runs in: one Slipway with two repositories (`acme/alpha`, which
//! the people below hold at different levels through teams, and `acme/beta`), a pipeline run,
//! a preview and a delivery of alpha, and a caller of every kind — each with a token made on
//! the command line, as an operator makes them.

use domain::identity::NewApiToken;
use domain::pull_request::{PreviewVerdict, PullRequestSnapshot};
use domain::{NewDelivery, Store};
use serde_json::{Value, json};

use crate::support::{TestServer, client_with_token};

/// Who calls, in the order the matrix tries them (the instance admin last, so a change it is
/// allowed to make cannot hide a refusal of someone else).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Anonymous,
    Expired,
    Revoked,
    NoAccess,
    Reader,
    /// The writer, with a token of `read` scope.
    NarrowScope,
    /// The writer, with a token limited to `acme/beta`.
    OtherRepository,
    Writer,
    RepositoryAdmin,
    Operator,
    Admin,
}

pub const EVERYONE: [Who; 11] = [
    Who::Anonymous,
    Who::Expired,
    Who::Revoked,
    Who::NoAccess,
    Who::Reader,
    Who::NarrowScope,
    Who::OtherRepository,
    Who::Writer,
    Who::RepositoryAdmin,
    Who::Operator,
    Who::Admin,
];

/// What a row's scratch target is (made again before each caller by the admin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scratch {
    None,
    Repository,
    Secret,
    User,
    Team,
    /// A token of the writer.
    Token,
    /// A notification subscription of alpha.
    Subscription,
    /// A transform run over alpha that never becomes due (so it stays queued).
    TransformRun,
}

/// A transform run over alpha whose execution is due only in the far future: it stays queued.
async fn queued_transform(
    store: &dyn domain::Store,
    alpha: i64,
) -> domain::transform::TransformRun {
    let spec = domain::transform::parse::parse_transform(
        "name: matrix\nrepositories: [acme/alpha]\nsteps:\n  - name: s\n    image: alpine\n    commands: [true]\n",
    )
    .expect("spec");
    let new = domain::transform::NewTransformRun {
        spec,
        repositories: vec![(domain::RepositoryId(alpha), "acme/alpha".into())],
        started_by: None,
        max_attempts: 3,
    };
    store
        .create_transform_run(&new, i64::MAX / 4)
        .await
        .expect("transform run")
}

pub struct World {
    pub server: TestServer,
    pub alpha: i64,
    pub beta: i64,
    pub pipeline: i64,
    pub preview: i64,
    pub delivery: String,
    /// A queued transform run over alpha, and its execution.
    pub transform: i64,
    pub execution: i64,
    pub reader_id: i64,
    pub teams: [i64; 3],
    clients: Vec<(Who, reqwest::Client)>,
    next_scratch: std::sync::atomic::AtomicU32,
}

async fn json_ok(response: reqwest::Response, what: &str) -> Value {
    let status = response.status();
    let body = response.text().await.expect("body");
    assert!(status.is_success(), "{what}: {status} {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

impl World {
    pub async fn build() -> Self {
        let server = TestServer::start(&[]).await;
        let admin = &server.http;
        let repository = |name: &'static str| {
            let url = server.url("/api/projects");
            let body =
                json!({"name": name, "clone_url": format!("https://example.com/{name}.git")});
            async move {
                json_ok(admin.post(url).json(&body).send().await.expect("add"), name).await["id"]
                    .as_i64()
                    .expect("id")
            }
        };
        let alpha = repository("acme/alpha").await;
        let beta = repository("acme/beta").await;
        for (login, flag) in [
            ("nobody", None),
            ("reader", None),
            ("writer", None),
            ("repoadmin", None),
            ("operator", Some("--operator")),
        ] {
            let mut args = vec!["users", "create", login];
            args.extend(flag);
            server.slipway(&args, None).await;
        }
        let users: Value = json_ok(
            admin
                .get(server.url("/api/users"))
                .send()
                .await
                .expect("users"),
            "users",
        )
        .await;
        let id_of = |login: &str| {
            users["items"]
                .as_array()
                .expect("items")
                .iter()
                .find(|u| u["login"] == login)
                .and_then(|u| u["id"].as_i64())
                .expect("user id")
        };
        let mut teams = [0; 3];
        for (slot, (team, login, level)) in [
            ("alpha readers", "reader", "read"),
            ("alpha writers", "writer", "write"),
            ("alpha admins", "repoadmin", "admin"),
        ]
        .into_iter()
        .enumerate()
        {
            let created = json_ok(
                admin
                    .post(server.url("/api/teams"))
                    .json(&json!({"name": team}))
                    .send()
                    .await
                    .expect("team"),
                team,
            )
            .await;
            let id = created["id"].as_i64().expect("team id");
            teams[slot] = id;
            let member = format!("/api/teams/{id}/members/{}", id_of(login));
            json_ok(
                admin.put(server.url(&member)).send().await.expect("member"),
                "member",
            )
            .await;
            let grant = format!("/api/teams/{id}/repositories/{alpha}");
            json_ok(
                admin
                    .put(server.url(&grant))
                    .json(&json!({"level": level}))
                    .send()
                    .await
                    .expect("grant"),
                "grant",
            )
            .await;
        }
        // The writer can also write to beta, which their beta-only token reaches.
        let grant = format!("/api/teams/{}/repositories/{beta}", teams[1]);
        json_ok(
            admin
                .put(server.url(&grant))
                .json(&json!({"level": "write"}))
                .send()
                .await
                .expect("grant"),
            "grant",
        )
        .await;

        let store = server.running.services.store.clone();
        let pipeline = store
            .create_pipeline(
                &domain::pipeline::NewPipeline {
                    repository_id: domain::RepositoryId(alpha),
                    git_ref: "main".into(),
                    commit_sha: None,
                    trigger: domain::pipeline::TriggerKind::Api,
                    trigger_detail: None,
                    pr_number: None,
                    retry_of: None,
                    delivery_id: None,
                },
                1,
            )
            .await
            .expect("pipeline")
            .id
            .0;
        let preview = preview_of_alpha(store.as_ref()).await;
        let transform = queued_transform(store.as_ref(), alpha).await.id;
        let execution = store.list_executions(transform).await.expect("executions")[0].id;
        let delivery = "access-matrix-delivery".to_owned();
        store
            .record_delivery(&NewDelivery {
                delivery_id: delivery.clone(),
                event: "pull_request".into(),
                action: Some("opened".into()),
                repository: Some("acme/alpha".into()),
                pull_request: Some(1),
                received_at_ms: 1,
                payload: "{}".into(),
                error: Some("recorded by the access matrix".into()),
            })
            .await
            .expect("delivery");

        let mut clients = Vec::new();
        for who in EVERYONE {
            let client = match who {
                Who::Anonymous => server.anonymous.clone(),
                Who::Admin => server.http.clone(),
                Who::Expired => {
                    client_with_token(&expired_token(store.as_ref(), id_of("writer")).await)
                }
                Who::Revoked => {
                    let token = server.token_for("writer", "write").await;
                    let client = client_with_token(&token);
                    let mine = json_ok(
                        client
                            .get(server.url("/api/tokens"))
                            .send()
                            .await
                            .expect("tokens"),
                        "tokens",
                    )
                    .await;
                    let id = mine["items"][0]["id"].as_i64().expect("token id");
                    server
                        .slipway(&["tokens", "revoke", &id.to_string()], None)
                        .await;
                    client
                }
                Who::NoAccess => client_with_token(&server.token_for("nobody", "read").await),
                Who::Reader => client_with_token(&server.token_for("reader", "read").await),
                Who::NarrowScope => client_with_token(&server.token_for("writer", "read").await),
                Who::OtherRepository => {
                    let args = [
                        "tokens",
                        "create",
                        "--user",
                        "writer",
                        "--scope",
                        "write",
                        "--repository",
                        "acme/beta",
                    ];
                    client_with_token(server.slipway(&args, None).await.trim())
                }
                Who::Writer => client_with_token(&server.token_for("writer", "write").await),
                Who::RepositoryAdmin => {
                    client_with_token(&server.token_for("repoadmin", "admin").await)
                }
                Who::Operator => client_with_token(&server.token_for("operator", "write").await),
            };
            clients.push((who, client));
        }
        Self {
            alpha,
            beta,
            pipeline,
            preview,
            delivery,
            transform: transform.0,
            execution,
            reader_id: id_of("reader"),
            teams,
            clients,
            next_scratch: Default::default(),
            server,
        }
    }

    pub fn client(&self, who: Who) -> &reqwest::Client {
        &self
            .clients
            .iter()
            .find(|(w, _)| *w == who)
            .expect("client")
            .1
    }

    /// Makes the scratch target a destructive row acts on, as the admin; its id (or name).
    pub async fn scratch(&self, kind: Scratch) -> String {
        let n = self
            .next_scratch
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let admin = &self.server.http;
        let url = |path: &str| self.server.url(path);
        match kind {
            Scratch::None => String::new(),
            Scratch::Repository => {
                let name = format!("acme/scratch-{n}");
                let body = json!({"name": name, "clone_url": "https://example.com/scratch.git"});
                let created = json_ok(
                    admin
                        .post(url("/api/projects"))
                        .json(&body)
                        .send()
                        .await
                        .expect("add"),
                    "scratch",
                )
                .await;
                let id = created["id"].as_i64().expect("id");
                for (team, level) in self.teams.iter().zip(["read", "write", "admin"]) {
                    let grant = format!("/api/teams/{team}/repositories/{id}");
                    json_ok(
                        admin
                            .put(url(&grant))
                            .json(&json!({"level": level}))
                            .send()
                            .await
                            .expect("grant"),
                        "grant",
                    )
                    .await;
                }
                id.to_string()
            }
            Scratch::Secret => {
                let path = format!("/api/projects/{}/secrets/SCRATCH", self.alpha);
                json_ok(
                    admin
                        .put(url(&path))
                        .json(&json!({"value": "s3cret"}))
                        .send()
                        .await
                        .expect("secret"),
                    "secret",
                )
                .await;
                "SCRATCH".to_owned()
            }
            Scratch::User => {
                let body = json!({"login": format!("scratch-{n}")});
                let created = json_ok(
                    admin
                        .post(url("/api/users"))
                        .json(&body)
                        .send()
                        .await
                        .expect("user"),
                    "user",
                )
                .await;
                created["user"]["id"].as_i64().expect("id").to_string()
            }
            Scratch::Team => {
                let body = json!({"name": format!("scratch {n}")});
                let created = json_ok(
                    admin
                        .post(url("/api/teams"))
                        .json(&body)
                        .send()
                        .await
                        .expect("team"),
                    "team",
                )
                .await;
                created["id"].as_i64().expect("id").to_string()
            }
            Scratch::Subscription => {
                let path = format!("/api/projects/{}/notifications", self.alpha);
                let body = json!({"url": format!("https://hooks.example.com/{n}"), "events": ["pipeline.failed"], "secret": "scratch-secret-0123456789"});
                let created = json_ok(
                    admin
                        .post(url(&path))
                        .json(&body)
                        .send()
                        .await
                        .expect("subscription"),
                    "subscription",
                )
                .await;
                created["id"].as_i64().expect("id").to_string()
            }
            Scratch::TransformRun => {
                let store = self.server.running.services.store.as_ref();
                queued_transform(store, self.alpha).await.id.to_string()
            }
            Scratch::Token => {
                let body = json!({"user": "writer", "name": format!("scratch {n}")});
                let created = json_ok(
                    admin
                        .post(url("/api/tokens"))
                        .json(&body)
                        .send()
                        .await
                        .expect("token"),
                    "token",
                )
                .await;
                created["token"]["id"].as_i64().expect("id").to_string()
            }
        }
    }

    /// What a refusal must leave as it was: repositories and their rules, which runs exist and
    /// which were asked to stop, previews' wish and round, secrets, users, teams, tokens and
    /// deliveries, as the Store reports them (not what background workers change meanwhile:
    /// run, preview and delivery statuses).
    pub async fn fingerprint(&self) -> String {
        let store = self.server.running.services.store.as_ref();
        let repositories = store.list_repositories().await.expect("repositories");
        let runs = store
            .list_pipelines(&domain::pipeline::PipelineFilter {
                limit: 200,
                ..Default::default()
            })
            .await
            .expect("runs");
        let previews = store
            .list_previews(&domain::preview::PreviewFilter {
                limit: 200,
                include_deleted: true,
                ..Default::default()
            })
            .await
            .expect("previews");
        let secrets = store
            .list_secrets(domain::RepositoryId(self.alpha))
            .await
            .expect("secrets");
        let subscriptions = store
            .list_subscriptions(domain::RepositoryId(self.alpha))
            .await
            .expect("subscriptions");
        let users = store.list_users().await.expect("users");
        let teams = store.list_teams().await.expect("teams");
        let tokens = store.list_tokens(None).await.expect("tokens");
        let deliveries = store
            .list_deliveries(&domain::DeliveryFilter {
                limit: 200,
                ..Default::default()
            })
            .await
            .expect("deliveries");
        let transforms = store
            .list_transform_runs(&domain::transform::TransformRunFilter {
                limit: 200,
                ..Default::default()
            })
            .await
            .expect("transform runs");
        format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            repositories
                .iter()
                .map(|r| (&r.name, &r.preview_rules, r.reporting))
                .collect::<Vec<_>>(),
            runs.iter()
                .map(|r| (r.id, r.cancel_requested))
                .collect::<Vec<_>>(),
            previews
                .iter()
                .map(|p| (p.id, p.wanted, p.round))
                .collect::<Vec<_>>(),
            secrets
                .iter()
                .map(|s| (&s.name, s.updated_at_ms))
                .collect::<Vec<_>>(),
            users.iter().map(|u| (&u.login, u.role)).collect::<Vec<_>>(),
            teams,
            tokens
                .iter()
                .map(|t| (t.id, t.revoked_at_ms.is_some()))
                .collect::<Vec<_>>(),
            deliveries
                .iter()
                .map(|d| &d.delivery_id)
                .collect::<Vec<_>>(),
            subscriptions.iter().map(|s| s.id).collect::<Vec<_>>(),
            transforms
                .iter()
                .map(|t| (t.id, t.cancel_requested))
                .collect::<Vec<_>>(),
        )
    }
}

/// A wanted preview of an open pull request of alpha.
async fn preview_of_alpha(store: &dyn Store) -> i64 {
    let snapshot = PullRequestSnapshot {
        repository: "acme/alpha".into(),
        clone_url: "https://example.com/acme/alpha.git".into(),
        default_branch: "main".into(),
        number: 1,
        title: "Faster checkout".into(),
        author: "octocat".into(),
        head_ref: "faster".into(),
        head_sha: "a".repeat(40),
        base_ref: "main".into(),
        draft: false,
        labels: Vec::new(),
        open: true,
        merged: false,
        updated_at: "2026-12-01T10:00:00Z".into(),
    };
    store
        .record_pull_request(&snapshot, &PreviewVerdict::Wanted, 1)
        .await
        .expect("pull request");
    let filter = domain::preview::PreviewFilter {
        limit: 10,
        ..Default::default()
    };
    store.list_previews(&filter).await.expect("previews")[0].id
}

/// A token of `user` that expired yesterday (the command line never makes one: written
/// through the Store, as time would leave it).
async fn expired_token(store: &dyn Store, user: i64) -> String {
    let secret = services::credentials::new_secret(services::credentials::TOKEN_PREFIX);
    let token = NewApiToken {
        token_hash: services::credentials::secret_hash(&secret),
        user_id: domain::identity::UserId(user),
        name: "expired".into(),
        scope: domain::identity::Level::Write,
        repositories: Vec::new(),
        expires_at_ms: domain::time::now_ms() - 24 * 60 * 60 * 1000,
    };
    store.create_token(&token, 1).await.expect("token");
    secret
}
