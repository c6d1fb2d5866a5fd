//! The access matrix: every JSON route (as the OpenAPI document lists them) and every server
//! function (as Leptos registers them) × every kind of caller → the answer each must get, and
//! nothing changed in the database where the answer is a refusal. A route or server function
//! without a row here fails the test.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::access_world::{EVERYONE, Scratch, Who, World};

/// What a row needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Anyone, signed in or not.
    Open,
    /// A signed-in person (lists are filtered to what they can see).
    SignedIn,
    /// The level on acme/alpha (404 when they cannot see it, 403 when they see it).
    Alpha(Level),
    /// Deleting a preview: write on alpha, or the operator role.
    PreviewCleanup,
    /// The operator (or admin) role.
    Operator,
    /// The instance admin role.
    InstanceAdmin,
    /// A session, or a token of `admin` scope (making and revoking tokens).
    AdminScope,
    /// A session, or a token of `write` scope or more (signing out everywhere).
    WriteScope,
    /// The writer's scratch token: its owner or an admin, with a token of admin scope.
    OwnToken,
    /// Checks credentials of its own (a signed upload link): refused without a signature.
    SignedLink,
    /// Starting a transform run over alpha: a token of write scope, then write on alpha (a
    /// spec naming a repository the caller cannot see is invalid input, as a misspelt one is).
    StartTransform,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Read,
    Write,
    Admin,
}

/// What the matrix expects one caller to get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allowed,
    Refused(u16),
}

fn alpha_level(who: Who) -> Option<Level> {
    match who {
        Who::Reader | Who::NarrowScope | Who::Operator => Some(Level::Read),
        Who::Writer => Some(Level::Write),
        Who::RepositoryAdmin | Who::Admin => Some(Level::Admin),
        _ => None,
    }
}

fn token_scope(who: Who) -> Level {
    match who {
        Who::NoAccess | Who::Reader | Who::NarrowScope => Level::Read,
        Who::RepositoryAdmin | Who::Admin => Level::Admin,
        _ => Level::Write,
    }
}

fn expect(need: Need, who: Who) -> Expect {
    use Expect::{Allowed, Refused};
    if need == Need::Open {
        return Allowed;
    }
    if need == Need::SignedLink {
        return Refused(403);
    }
    if matches!(who, Who::Anonymous | Who::Expired | Who::Revoked) {
        return Refused(401);
    }
    let allowed = |yes: bool| if yes { Allowed } else { Refused(403) };
    match need {
        Need::Open | Need::SignedLink | Need::SignedIn => Allowed,
        Need::Alpha(needed) => match alpha_level(who) {
            None => Refused(404),
            Some(held) => allowed(held >= needed),
        },
        Need::PreviewCleanup => match alpha_level(who) {
            None => Refused(404),
            Some(held) => allowed(held >= Level::Write || who == Who::Operator),
        },
        Need::Operator => allowed(matches!(who, Who::Operator | Who::Admin)),
        Need::InstanceAdmin => allowed(who == Who::Admin),
        Need::AdminScope => allowed(token_scope(who) == Level::Admin),
        Need::WriteScope => allowed(token_scope(who) >= Level::Write),
        // Only tokens of admin scope revoke tokens; the repository admin's reaches it but does
        // not own it, and is told it does not exist.
        Need::StartTransform if token_scope(who) < Level::Write => Refused(403),
        Need::StartTransform => match alpha_level(who) {
            None => Refused(400),
            Some(held) => allowed(held >= Level::Write),
        },
        Need::OwnToken => match who {
            Who::Admin => Allowed,
            Who::RepositoryAdmin => Refused(404),
            _ => Refused(403),
        },
    }
}

/// One request of the matrix. `{alpha}`, `{beta}`, `{pipeline}`, `{preview}`, `{delivery}`,
/// `{transform}`, `{execution}`, `{reader}`, `{team}` and `{scratch}` in the path and body are
/// filled in.
struct Row {
    /// The OpenAPI operation id, or `rpc:<endpoint>` for a server function.
    name: &'static str,
    method: &'static str,
    path: &'static str,
    body: Body,
    need: Need,
    scratch: Scratch,
    /// The fixture has nothing there (no published image, artifact or step): an allowed
    /// caller gets a 404 that says so, unlike the one a caller who cannot see alpha gets.
    absent: bool,
}

#[derive(Clone, Copy)]
enum Body {
    None,
    Json(&'static str),
    Form(&'static str),
}

const fn row(name: &'static str, method: &'static str, path: &'static str, need: Need) -> Row {
    Row {
        name,
        method,
        path,
        body: Body::None,
        need,
        scratch: Scratch::None,
        absent: false,
    }
}

const fn json_row(
    name: &'static str,
    method: &'static str,
    path: &'static str,
    body: &'static str,
    need: Need,
) -> Row {
    Row {
        name,
        method,
        path,
        body: Body::Json(body),
        need,
        scratch: Scratch::None,
        absent: false,
    }
}

const fn rpc(
    name: &'static str,
    method: &'static str,
    path: &'static str,
    form: &'static str,
    need: Need,
) -> Row {
    Row {
        name,
        method,
        path,
        body: Body::Form(form),
        need,
        scratch: Scratch::None,
        absent: false,
    }
}

const fn absent(mut row: Row) -> Row {
    row.absent = true;
    row
}

const fn on_scratch(mut row: Row, scratch: Scratch) -> Row {
    row.scratch = scratch;
    row
}

use Need::*;

// One row per line, as a table reads.
#[rustfmt::skip]
const ROWS: &[Row] = &[
    row("get_health", "GET", "/healthz", Open),
    row("get_readiness", "GET", "/readyz", Open),
    row("get_openapi_document", "GET", "/api/openapi.json", Open),
    row("upload_artifact", "PUT", "/api/artifacts/{pipeline}/1/app.txt", SignedLink),
    row("upload_transform_output", "PUT", "/api/transform-uploads/{execution}/tf-1-000000/patch.diff", SignedLink),
    row("follow_events", "GET", "/api/events", SignedIn),
    row("list_deliveries", "GET", "/api/deliveries", SignedIn),
    row("get_delivery", "GET", "/api/deliveries/{delivery}", Alpha(Level::Read)),
    row("redeliver_delivery", "POST", "/api/deliveries/{delivery}/redeliver", Alpha(Level::Write)),
    row("list_projects", "GET", "/api/projects", SignedIn),
    json_row("add_project", "POST", "/api/projects", r#"{"name": "acme/new-{scratch}", "clone_url": "https://example.com/new.git"}"#, InstanceAdmin),
    row("list_project_pipelines", "GET", "/api/projects/{alpha}/pipelines", Alpha(Level::Read)),
    json_row("trigger_pipeline", "POST", "/api/projects/{alpha}/pipelines", r#"{"git_ref": "main"}"#, Alpha(Level::Write)),
    absent(row("get_published_image", "GET", "/api/projects/{alpha}/images/deadbeef", Alpha(Level::Read))),
    row("list_secrets", "GET", "/api/projects/{alpha}/secrets", Alpha(Level::Admin)),
    json_row("set_secret", "PUT", "/api/projects/{alpha}/secrets/TOKEN", r#"{"value": "s3cret"}"#, Alpha(Level::Admin)),
    on_scratch(row("remove_secret", "DELETE", "/api/projects/{alpha}/secrets/{scratch}", Alpha(Level::Admin)), Scratch::Secret),
    row("list_subscriptions", "GET", "/api/projects/{alpha}/notifications", Alpha(Level::Admin)),
    json_row("subscribe", "POST", "/api/projects/{alpha}/notifications", r#"{"url": "https://hooks.example.com/m", "events": ["pipeline.failed"], "secret": "matrix-secret-0123456789"}"#, Alpha(Level::Admin)),
    on_scratch(row("unsubscribe", "DELETE", "/api/projects/{alpha}/notifications/{scratch}", Alpha(Level::Admin)), Scratch::Subscription),
    on_scratch(row("list_notification_deliveries", "GET", "/api/projects/{alpha}/notifications/{scratch}/deliveries", Alpha(Level::Admin)), Scratch::Subscription),
    absent(row("get_notification_delivery", "GET", "/api/projects/{alpha}/notification-deliveries/none", Alpha(Level::Admin))),
    absent(row("redeliver_notification", "POST", "/api/projects/{alpha}/notification-deliveries/none/redeliver", Alpha(Level::Admin))),
    row("list_transform_runs", "GET", "/api/runs", SignedIn),
    json_row("start_transform_run", "POST", "/api/runs", r#"{"spec": "name: matrix\nrepositories: [acme/alpha]\ndry_run: true\nsteps:\n  - name: s\n    image: alpine\n    commands: [true]\n"}"#, StartTransform),
    row("get_transform_run", "GET", "/api/runs/{transform}", Alpha(Level::Read)),
    row("list_transform_executions", "GET", "/api/runs/{transform}/executions", Alpha(Level::Read)),
    absent(row("get_transform_artifact", "GET", "/api/runs/{transform}/executions/{execution}/artifacts/logs.txt", Alpha(Level::Read))),
    row("follow_transform_log", "GET", "/api/runs/{transform}/executions/{execution}/log", Alpha(Level::Read)),
    on_scratch(row("cancel_transform_run", "POST", "/api/runs/{scratch}/cancel", Alpha(Level::Write)), Scratch::TransformRun),
    on_scratch(row("retry_failed_transform_executions", "POST", "/api/runs/{scratch}/retry-failed", Alpha(Level::Write)), Scratch::TransformRun),
    row("retry_transform_execution", "POST", "/api/runs/{transform}/executions/{execution}/retry", Alpha(Level::Write)),
    row("get_transform_queue", "GET", "/api/transform-queue", SignedIn),
    row("pause_transform_queue", "POST", "/api/transform-queue/pause", InstanceAdmin),
    row("resume_transform_queue", "POST", "/api/transform-queue/resume", InstanceAdmin),
    row("list_previews", "GET", "/api/previews", SignedIn),
    row("get_preview", "GET", "/api/previews/{preview}", Alpha(Level::Read)),
    row("get_preview_logs", "GET", "/api/previews/{preview}/logs", Alpha(Level::Read)),
    row("get_usage_report", "GET", "/api/operator/usage", Operator),
    row("get_project_pipeline", "GET", "/api/projects/{alpha}/pipelines/{pipeline}", Alpha(Level::Read)),
    row("list_project_artifacts", "GET", "/api/projects/{alpha}/pipelines/{pipeline}/artifacts", Alpha(Level::Read)),
    absent(row("download_project_artifact", "GET", "/api/projects/{alpha}/pipelines/{pipeline}/artifacts/1/download", Alpha(Level::Read))),
    absent(row("get_project_step_log", "GET", "/api/projects/{alpha}/pipelines/{pipeline}/steps/1/logs", Alpha(Level::Read))),
    row("list_pipelines", "GET", "/api/pipelines", SignedIn),
    row("get_pipeline", "GET", "/api/pipelines/{pipeline}", Alpha(Level::Read)),
    row("list_artifacts", "GET", "/api/pipelines/{pipeline}/artifacts", Alpha(Level::Read)),
    absent(row("get_step_log", "GET", "/api/pipelines/{pipeline}/steps/1/logs", Alpha(Level::Read))),
    row("cancel_project_pipeline", "POST", "/api/projects/{alpha}/pipelines/{pipeline}/cancel", Alpha(Level::Write)),
    row("cancel_pipeline", "POST", "/api/pipelines/{pipeline}/cancel", Alpha(Level::Write)),
    row("retry_pipeline", "POST", "/api/pipelines/{pipeline}/retry", Alpha(Level::Write)),
    row("retry_preview", "POST", "/api/previews/{preview}/retry", Alpha(Level::Write)),
    row("delete_preview", "DELETE", "/api/previews/{preview}", PreviewCleanup),
    row("get_me", "GET", "/api/me", SignedIn),
    row("list_tokens", "GET", "/api/tokens", SignedIn),
    json_row("create_token", "POST", "/api/tokens", r#"{"name": "matrix"}"#, AdminScope),
    on_scratch(row("revoke_token", "DELETE", "/api/tokens/{scratch}", OwnToken), Scratch::Token),
    row("list_sessions", "GET", "/api/sessions", SignedIn),
    row("end_sessions", "DELETE", "/api/sessions", WriteScope),
    row("list_users", "GET", "/api/users", InstanceAdmin),
    json_row("create_user", "POST", "/api/users", r#"{"login": "new-{scratch}"}"#, InstanceAdmin),
    json_row("update_user", "PATCH", "/api/users/{reader}", r#"{"role": "member"}"#, InstanceAdmin),
    on_scratch(row("delete_user", "DELETE", "/api/users/{scratch}", InstanceAdmin), Scratch::User),
    row("list_teams", "GET", "/api/teams", SignedIn),
    json_row("create_team", "POST", "/api/teams", r#"{"name": "new {scratch}"}"#, InstanceAdmin),
    on_scratch(row("delete_team", "DELETE", "/api/teams/{scratch}", InstanceAdmin), Scratch::Team),
    on_scratch(row("add_team_member", "PUT", "/api/teams/{team}/members/{scratch}", InstanceAdmin), Scratch::User),
    on_scratch(row("remove_team_member", "DELETE", "/api/teams/{team}/members/{scratch}", InstanceAdmin), Scratch::User),
    json_row("grant_team_repository", "PUT", "/api/teams/{team}/repositories/{beta}", r#"{"level": "read"}"#, InstanceAdmin),
    row("revoke_team_repository", "DELETE", "/api/teams/{team}/repositories/{beta}", InstanceAdmin),
    row("list_audit", "GET", "/api/audit", SignedIn),
    // Server functions, as the dashboard calls them.
    rpc("rpc:get_me", "GET", "/rpc/get_me", "", SignedIn),
    rpc("rpc:list_my_tokens", "GET", "/rpc/list_my_tokens", "", SignedIn),
    rpc("rpc:create_my_token", "POST", "/rpc/create_my_token", "input[name]=rpc&input[scope]=read&input[repositories]=&input[expires_in_days]=30", AdminScope),
    on_scratch(rpc("rpc:revoke_my_token", "POST", "/rpc/revoke_my_token", "id={scratch}", OwnToken), Scratch::Token),
    rpc("rpc:get_instance_info", "GET", "/rpc/get_instance_info", "", SignedIn),
    rpc("rpc:list_transform_runs", "GET", "/rpc/list_transform_runs", "", SignedIn),
    rpc("rpc:get_transform_run", "GET", "/rpc/get_transform_run", "id={transform}", Alpha(Level::Read)),
    rpc("rpc:get_transform_output", "GET", "/rpc/get_transform_output", "run={transform}&execution={execution}", Alpha(Level::Read)),
    rpc("rpc:start_transform", "POST", "/rpc/start_transform", "spec=name%3A+matrix%0Arepositories%3A+%5Bacme%2Falpha%5D%0Adry_run%3A+true%0Asteps%3A%0A++-+name%3A+s%0A++++image%3A+alpine%0A++++commands%3A+%5Btrue%5D%0A", StartTransform),
    on_scratch(rpc("rpc:cancel_transform_run", "POST", "/rpc/cancel_transform_run", "id={scratch}", Alpha(Level::Write)), Scratch::TransformRun),
    on_scratch(rpc("rpc:retry_failed_transforms", "POST", "/rpc/retry_failed_transforms", "id={scratch}", Alpha(Level::Write)), Scratch::TransformRun),
    rpc("rpc:retry_transform_execution", "POST", "/rpc/retry_transform_execution", "run={transform}&execution={execution}", Alpha(Level::Write)),
    rpc("rpc:get_transform_queue", "GET", "/rpc/get_transform_queue", "", SignedIn),
    rpc("rpc:set_transform_queue", "POST", "/rpc/set_transform_queue", "paused=false", InstanceAdmin),
    rpc("rpc:list_members", "GET", "/rpc/list_members", "", InstanceAdmin),
    rpc("rpc:set_member_role", "POST", "/rpc/set_member_role", "user={reader}&role=member", InstanceAdmin),
    rpc("rpc:create_team", "POST", "/rpc/create_team", "name=rpc {scratch}", InstanceAdmin),
    on_scratch(rpc("rpc:delete_team", "POST", "/rpc/delete_team", "id={scratch}", InstanceAdmin), Scratch::Team),
    rpc("rpc:set_team_member", "POST", "/rpc/set_team_member", "team={team}&login=reader&add=true", InstanceAdmin),
    rpc("rpc:set_team_grant", "POST", "/rpc/set_team_grant", "team={team}&repository={beta}&level=read", InstanceAdmin),
    rpc("rpc:list_audit", "GET", "/rpc/list_audit", "query[actor]=&query[action]=", SignedIn),
    rpc("rpc:list_deliveries", "GET", "/rpc/list_deliveries", "query[event]=", SignedIn),
    rpc("rpc:get_delivery", "GET", "/rpc/get_delivery", "id={delivery}", Alpha(Level::Read)),
    rpc("rpc:redeliver_delivery", "POST", "/rpc/redeliver_delivery", "id={delivery}", Alpha(Level::Write)),
    rpc("rpc:list_pipelines", "GET", "/rpc/list_pipelines", "query[status]=", SignedIn),
    rpc("rpc:get_pipeline", "GET", "/rpc/get_pipeline", "id={pipeline}", Alpha(Level::Read)),
    rpc("rpc:list_artifacts", "GET", "/rpc/list_artifacts", "id={pipeline}", Alpha(Level::Read)),
    rpc("rpc:trigger_pipeline", "POST", "/rpc/trigger_pipeline", "input[repository_id]={alpha}&input[git_ref]=main", Alpha(Level::Write)),
    rpc("rpc:cancel_pipeline", "POST", "/rpc/cancel_pipeline", "id={pipeline}", Alpha(Level::Write)),
    rpc("rpc:retry_pipeline", "POST", "/rpc/retry_pipeline", "id={pipeline}", Alpha(Level::Write)),
    rpc("rpc:list_previews", "GET", "/rpc/list_previews", "query[status]=", SignedIn),
    rpc("rpc:get_preview", "GET", "/rpc/get_preview", "key={preview}", Alpha(Level::Read)),
    rpc("rpc:retry_preview", "POST", "/rpc/retry_preview", "key={preview}", Alpha(Level::Write)),
    rpc("rpc:delete_preview", "POST", "/rpc/delete_preview", "key={preview}", PreviewCleanup),
    rpc("rpc:get_usage_report", "GET", "/rpc/get_usage_report", "", Operator),
    rpc("rpc:list_repositories", "GET", "/rpc/list_repositories", "", SignedIn),
    rpc("rpc:add_repository", "POST", "/rpc/add_repository", "input[name]=acme/rpc-{scratch}&input[clone_url]=https://example.com/r.git", InstanceAdmin),
    rpc("rpc:set_preview_rules", "POST", "/rpc/set_preview_rules", "input[id]={alpha}&input[target_branches]=&input[ignore_drafts]=on&input[labels_required]=&input[labels_excluded]=", Alpha(Level::Admin)),
    rpc("rpc:set_reporting", "POST", "/rpc/set_reporting", "input[id]={alpha}&input[checks]=on&input[comment]=on", Alpha(Level::Admin)),
    rpc("rpc:list_subscriptions", "GET", "/rpc/list_subscriptions", "repository_id={alpha}", Alpha(Level::Admin)),
    rpc("rpc:subscribe", "POST", "/rpc/subscribe", "input[repository_id]={alpha}&input[url]=https://hooks.example.com/rpc&input[secret]=matrix-secret-0123456789&input[pipeline_failed]=on", Alpha(Level::Admin)),
    on_scratch(rpc("rpc:unsubscribe", "POST", "/rpc/unsubscribe", "repository_id={alpha}&subscription_id={scratch}", Alpha(Level::Admin)), Scratch::Subscription),
    on_scratch(rpc("rpc:list_notification_deliveries", "GET", "/rpc/list_notification_deliveries", "repository_id={alpha}&subscription_id={scratch}", Alpha(Level::Admin)), Scratch::Subscription),
    absent(rpc("rpc:redeliver_notification", "POST", "/rpc/redeliver_notification", "repository_id={alpha}&delivery_id=none", Alpha(Level::Admin))),
    rpc("rpc:list_secrets", "GET", "/rpc/list_secrets", "repository_id={alpha}", Alpha(Level::Admin)),
    rpc("rpc:set_secret", "POST", "/rpc/set_secret", "input[repository_id]={alpha}&input[name]=RPC&input[value]=s3cret", Alpha(Level::Admin)),
    on_scratch(rpc("rpc:remove_secret", "POST", "/rpc/remove_secret", "repository_id={alpha}&name={scratch}", Alpha(Level::Admin)), Scratch::Secret),
    on_scratch(rpc("rpc:remove_repository", "POST", "/rpc/remove_repository", "id={scratch}", Alpha(Level::Admin)), Scratch::Repository),
];

fn fill(template: &str, world: &World, scratch: &str) -> String {
    template
        .replace("{alpha}", &world.alpha.to_string())
        .replace("{beta}", &world.beta.to_string())
        .replace("{pipeline}", &world.pipeline.to_string())
        .replace("{preview}", &world.preview.to_string())
        .replace("{delivery}", &world.delivery)
        .replace("{transform}", &world.transform.to_string())
        .replace("{execution}", &world.execution.to_string())
        .replace("{reader}", &world.reader_id.to_string())
        .replace("{team}", &world.teams[0].to_string())
        .replace("{scratch}", scratch)
}

async fn send(world: &World, row: &Row, who: Who, scratch: &str) -> (u16, String) {
    let client = world.client(who);
    let path = fill(row.path, world, scratch);
    let method = reqwest::Method::from_bytes(row.method.as_bytes()).expect("method");
    let mut request = match row.body {
        Body::Form(form) if row.method == "GET" => {
            let query = fill(form, world, scratch);
            let sep = if query.is_empty() { "" } else { "?" };
            client.request(method, world.server.url(&format!("{path}{sep}{query}")))
        }
        _ => client.request(method, world.server.url(&path)),
    };
    match row.body {
        Body::Json(body) => {
            let body: Value = serde_json::from_str(&fill(body, world, scratch)).expect("row body");
            request = request.json(&body);
        }
        Body::Form(form) if row.method != "GET" => {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(fill(form, world, scratch));
        }
        _ => {}
    }
    let response = tokio::time::timeout(std::time::Duration::from_secs(20), request.send())
        .await
        .unwrap_or_else(|_| panic!("{} {path} answers within 20 s", row.method))
        .expect("request");
    let status = response.status().as_u16();
    // Event streams do not end (a waiting execution's log waits for it to start): their
    // status and headers are the answer.
    let streams = matches!(row.name, "follow_events" | "follow_transform_log");
    let body = if streams && status == 200 {
        String::new()
    } else {
        tokio::time::timeout(std::time::Duration::from_secs(20), response.text())
            .await
            .unwrap_or_else(|_| panic!("{} {path} finishes its answer within 20 s", row.method))
            .unwrap_or_default()
    };
    (status, body)
}

#[tokio::test]
async fn every_route_and_server_function_answers_each_caller_as_the_permission_model_says() {
    let world = World::build().await;

    // Every route the document lists, and every server function, has a row.
    let document: Value = world
        .server
        .anonymous
        .get(world.server.url("/api/openapi.json"))
        .send()
        .await
        .expect("document")
        .json()
        .await
        .expect("json");
    let mut listed: BTreeSet<String> = BTreeSet::new();
    for item in document["paths"].as_object().expect("paths").values() {
        for operation in item.as_object().expect("item").values() {
            if let Some(id) = operation["operationId"].as_str() {
                listed.insert(id.to_owned());
            }
        }
    }
    for (path, _) in leptos::server_fn::axum::server_fn_paths() {
        listed.insert(format!("rpc:{}", path.trim_start_matches("/rpc/")));
    }
    let rows: BTreeSet<String> = ROWS.iter().map(|r| r.name.to_owned()).collect();
    let missing: Vec<&String> = listed.difference(&rows).collect();
    let stale: Vec<&String> = rows.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in the access matrix: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "rows for routes that do not exist: {stale:?}"
    );

    let mut wrong = Vec::new();
    for row in ROWS {
        let mut hidden_answer = String::new();
        for who in EVERYONE {
            let scratch = match row.scratch {
                Scratch::None => format!("{}", rand_suffix()),
                kind => world.scratch(kind).await,
            };
            let expected = expect(row.need, who);
            let before = match expected {
                Expect::Refused(_) => Some(world.fingerprint().await),
                Expect::Allowed => None,
            };
            let (status, body) = send(&world, row, who, &scratch).await;
            if who == Who::NoAccess {
                hidden_answer = body.clone();
            }
            let ok = match expected {
                Expect::Allowed if status == 404 => row.absent && body != hidden_answer,
                Expect::Allowed => !matches!(status, 401 | 403) && status < 500,
                Expect::Refused(code) => status == code,
            };
            if !ok {
                wrong.push(format!(
                    "{} as {who:?}: expected {expected:?}, got {status} {body:.200}",
                    row.name
                ));
            }
            if let Some(before) = before
                && world.fingerprint().await != before
            {
                wrong.push(format!(
                    "{} as {who:?}: refused ({status}) but the database changed",
                    row.name
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} answers differ from the permission model:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // Every refusal of a signed-in caller is in the audit log.
    let audit: Value = world
        .server
        .http
        .get(world.server.url("/api/audit?limit=500&action=secret.set"))
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("json");
    let outcomes: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|row| row["outcome"].as_str())
        .collect();
    assert!(
        outcomes.contains(&"denied") && outcomes.contains(&"success"),
        "{audit}"
    );
    let body = json!(audit).to_string();
    assert!(
        !body.contains("s3cret"),
        "a secret value reached the audit log: {body}"
    );
}

/// A number that makes a row's created names unique.
fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
