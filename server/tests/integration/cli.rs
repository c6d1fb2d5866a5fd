//! The `slipway` binary as an operator runs it: exit codes and messages for bad configuration,
//! unreachable services, `check-config`, `migrate` and `healthcheck`.

use std::process::{Command, Output};

fn slipway(args: &[&str], env: &[(&str, &str)]) -> Output {
    let data = tempfile::tempdir().expect("tempdir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_slipway"));
    command
        .args(args)
        .env("SLIPWAY_DATA_DIR", data.path())
        .env("SLIPWAY_STARTUP_RETRY_SECONDS", "0");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run slipway")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn invalid_configuration_exits_2_with_one_line_per_problem() {
    let out = slipway(
        &["serve"],
        &[
            ("SLIPWAY_LISTEN", "localhost"),
            ("SLIPWAY_REDIS_URL", "http://x"),
            ("SLIPWAY_SHUTDOWN_GRACE_SECONDS", "soon"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("SLIPWAY_LISTEN: `localhost` is not valid"),
        "{stderr}"
    );
    assert!(
        stderr.contains("SLIPWAY_REDIS_URL: (hidden) is not valid; expected a redis:// URL"),
        "{stderr}"
    );
    assert!(
        stderr.contains("SLIPWAY_SHUTDOWN_GRACE_SECONDS: `soon` is not valid"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

#[test]
fn check_config_prints_every_setting_with_secrets_redacted() {
    let out = slipway(
        &["check-config"],
        &[(
            "SLIPWAY_DATABASE_URL",
            "postgres://slipway:hunter2@db.internal:5432/slipway",
        )],
    );
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "SLIPWAY_DATABASE_URL = postgres://slipway:***@db.internal:5432/slipway  (environment)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("SLIPWAY_REDIS_URL = (unset)  (default)"),
        "{stdout}"
    );
    assert!(!stdout.contains("hunter2"));
}

#[test]
fn a_config_file_with_an_unknown_key_is_refused_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("slipway.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:4000\"\nredis = \"redis://x\"\n",
    )
    .expect("write");
    let out = slipway(
        &["--config", file.to_str().expect("utf-8"), "check-config"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("redis: unknown setting"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(&file, "listen = \"127.0.0.1:4000\"\n").expect("write");
    let out = slipway(
        &["--config", file.to_str().expect("utf-8"), "check-config"],
        &[],
    );
    assert!(
        text(&out.stdout).contains("SLIPWAY_LISTEN = 127.0.0.1:4000  (file)"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn unreachable_postgres_stops_startup_naming_it_without_the_password() {
    let port = crate::support::free_port();
    let url = format!("postgres://slipway:hunter2@127.0.0.1:{port}/slipway");
    let out = slipway(
        &["serve"],
        &[
            ("SLIPWAY_DATABASE_URL", &url),
            ("SLIPWAY_LISTEN", "127.0.0.1:0"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot reach PostgreSQL at postgres://slipway:***@127.0.0.1:{port}/slipway"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn unreachable_redis_stops_startup_naming_it() {
    let port = crate::support::free_port();
    let out = slipway(
        &["serve"],
        &[
            ("SLIPWAY_REDIS_URL", &format!("redis://127.0.0.1:{port}")),
            ("SLIPWAY_LISTEN", "127.0.0.1:0"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("cannot reach Redis at redis://127.0.0.1:{port}")),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn migrate_creates_and_migrates_the_sqlite_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db/slipway.db");
    let url = format!("sqlite://{}", db.display());
    let out = slipway(&["migrate"], &[("SLIPWAY_DATABASE_URL", &url)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(db.exists());
    let again = slipway(&["migrate"], &[("SLIPWAY_DATABASE_URL", &url)]);
    assert!(again.status.success(), "migrating twice is a no-op");
}

#[test]
fn unreachable_s3_stops_startup_naming_the_bucket_and_endpoint() {
    let port = crate::support::free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let out = slipway(
        &["serve"],
        &[
            ("SLIPWAY_S3_BUCKET", "logs"),
            ("SLIPWAY_S3_ENDPOINT", &endpoint),
            ("SLIPWAY_S3_ACCESS_KEY_ID", "id"),
            ("SLIPWAY_S3_SECRET_ACCESS_KEY", "very-secret-key"),
            ("SLIPWAY_LISTEN", "127.0.0.1:0"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot reach object storage: bucket logs at {endpoint}/"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("very-secret-key"), "{stderr}");
}

#[test]
fn an_unreadable_kubeconfig_stops_startup_naming_the_setting() {
    let out = slipway(
        &["serve"],
        &[
            ("SLIPWAY_KUBECONFIG", "/nonexistent/kubeconfig"),
            ("SLIPWAY_LISTEN", "127.0.0.1:0"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cluster `default` is not usable (SLIPWAY_KUBECONFIG)"),
        "{stderr}"
    );
    assert!(stderr.contains("/nonexistent/kubeconfig"), "{stderr}");
}

#[test]
fn an_unknown_cluster_mode_is_a_configuration_error() {
    let out = slipway(&["serve", "--cluster", "minikube"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "SLIPWAY_CLUSTER: `minikube` is not valid; expected `kubeconfig`, `in-cluster` or `sim`"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn validate_lints_a_platform_file_with_positions_and_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        "pipeline:\n  steps:\n    - name: test\n      image: alpine\n      commands: [make test]\n  on:\n    push:\n      branches: [main]\n",
    )
    .expect("write");
    let out = slipway(&["validate", good.to_str().expect("utf-8 path")], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("ok: 1 step (test); runs on push to main; API"),
        "{stdout}"
    );

    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "pipeline:\n  steps:\n    - name: build\n      image: alpine\n      commands: [make]\n      depends_on: [tset]\n      colour: red\n",
    )
    .expect("write");
    let out = slipway(&["validate", bad.to_str().expect("utf-8 path")], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let path = bad.display();
    assert!(
        stderr.contains(&format!("{path}:7:7: unknown field `colour`")),
        "{stderr}"
    );

    let missing = slipway(&["validate", "/nonexistent/.platform.yaml"], &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("cannot read /nonexistent/.platform.yaml"));
}

/// The example spec of the README's "Transform runs" section.
fn readme_spec() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README");
    let section = readme
        .split("### Transform runs")
        .nth(1)
        .expect("a Transform runs section");
    let start = section.find("```yaml\n").expect("an example") + "```yaml\n".len();
    let end = start + section[start..].find("```").expect("its end");
    section[start..end].to_owned()
}

#[test]
fn validate_checks_a_transform_spec_and_its_schema_holds_the_readme_s_example() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("bump.yaml");
    std::fs::write(&good, readme_spec()).expect("write");
    let good_path = good.to_str().expect("utf-8 path");
    let out = slipway(&["validate", "--transform", good_path], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("ok: `bump-serde` on acme/*, tools/cli except acme/legacy-*, from main; 2 steps (bump, test)"),
        "{stdout}"
    );
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "name: x\nrepositories: [acme/api]\nsteps:\n  - name: a\n    image: alpine\n    commands: [true]\n    retries: 3\n").expect("write");
    let out = slipway(
        &["validate", "--transform", bad.to_str().expect("utf-8 path")],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("{}:7:5: unknown field `retries`", bad.display())),
        "{}",
        text(&out.stderr)
    );

    // A validator we did not write agrees: the example fits the printed schema, the bad one not.
    let out = slipway(&["schema", "transform"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let schema = dir.path().join("transform.schema.json");
    std::fs::write(&schema, &out.stdout).expect("write schema");
    let check = |instance: &std::path::Path| {
        std::process::Command::new(crate::support::test_venv_bin("check-jsonschema"))
            .arg("--schemafile")
            .arg(&schema)
            .arg(instance)
            .output()
            .expect("check-jsonschema runs (scripts/setup test installs it)")
    };
    let checked = check(&good);
    assert!(checked.status.success(), "{}", text(&checked.stdout));
    assert!(
        !check(&bad).status.success(),
        "an unknown key breaks the schema too"
    );
}

#[test]
fn the_published_task_schema_and_the_worker_judge_tasks_alike() {
    let out = slipway(&["schema", "task"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = dir.path().join("task.schema.json");
    std::fs::write(&schema, &out.stdout).expect("write schema");
    let good = r#"{"type":"ExecuteTransform","task_id":"preview:7:acme/shop","run_id":7,"repository":"acme/shop"}"#;
    let cases = [
        good.to_owned(),
        good.replace(r#""run_id":7"#, r#""run_id":"7""#),
        good.replace(r#""run_id":7"#, r#""run_id":0"#),
        good.replace("ExecuteTransform", "DeleteEverything"),
        good.replace(r#","repository":"acme/shop""#, ""),
        good.replace(r#""repository":"acme/shop""#, r#""repository":"acme shop""#),
        good.replace(r#""task_id":"preview:7:acme/shop""#, r#""task_id":"7""#),
        good.replace('}', r#","priority":1}"#),
        "[]".to_owned(),
    ];
    for (index, case) in cases.iter().enumerate() {
        let instance = dir.path().join(format!("case-{index}.json"));
        std::fs::write(&instance, case).expect("write case");
        let checked = std::process::Command::new(crate::support::test_venv_bin("check-jsonschema"))
            .arg("--schemafile")
            .arg(&schema)
            .arg(&instance)
            .output()
            .expect("check-jsonschema runs (scripts/setup test installs it)");
        let worker = domain::transform::task::read(case);
        assert_eq!(
            checked.status.success(),
            worker.is_ok(),
            "{case}: check-jsonschema says {}, the worker {worker:?}",
            text(&checked.stdout)
        );
    }
}

#[test]
fn schema_pipeline_prints_the_json_schema_of_platform_yaml() {
    let out = slipway(&["schema", "pipeline"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON schema");
    assert_eq!(schema["title"], ".platform.yaml");
    assert!(schema["$defs"]["StepSection"]["properties"]["depends_on"].is_object());
}

#[tokio::test]
async fn healthcheck_exits_0_while_slipway_answers_and_1_saying_why_when_it_does_not() {
    let server = crate::support::TestServer::start(&[]).await;
    let listen = server.base.trim_start_matches("http://").to_owned();
    let ask = |ready: bool| {
        let listen = listen.clone();
        tokio::task::spawn_blocking(move || {
            let mut args = vec!["healthcheck"];
            if ready {
                args.push("--ready");
            }
            slipway(
                &args,
                &[("SLIPWAY_LISTEN", &listen), ("SLIPWAY_LOG", "off")],
            )
        })
    };
    let alive = ask(false).await.expect("ran");
    assert!(alive.status.success(), "{}", text(&alive.stderr));
    assert!(
        text(&alive.stdout).contains("/healthz"),
        "{}",
        text(&alive.stdout)
    );
    let ready = ask(true).await.expect("ran");
    assert!(ready.status.success(), "{}", text(&ready.stderr));
    server.stop().await;
    let down = ask(false).await.expect("ran");
    assert_eq!(down.status.code(), Some(1));
    assert!(
        text(&down.stderr).contains(&format!(
            "Slipway does not answer at http://{listen}/healthz"
        )),
        "{}",
        text(&down.stderr)
    );
}

#[test]
fn a_secret_setting_can_be_read_from_the_file_its_file_variable_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("webhook-secret");
    std::fs::write(&secret, "from-a-file\n").expect("write");
    let path = secret.display().to_string();
    let out = slipway(
        &["check-config"],
        &[("SLIPWAY_GITHUB_WEBHOOK_SECRET_FILE", &path)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("SLIPWAY_GITHUB_WEBHOOK_SECRET = ***  (secret file)"),
        "{shown}"
    );
    assert!(!shown.contains("from-a-file"), "the value is never printed");

    // What the file holds is the value: a signing key too short to use is refused as one.
    let short = dir.path().join("signing-key");
    std::fs::write(&short, "too short\n").expect("write");
    let out = slipway(
        &["check-config"],
        &[("SLIPWAY_SIGNING_KEY_FILE", &short.display().to_string())],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("SLIPWAY_SIGNING_KEY"),
        "{}",
        text(&out.stderr)
    );

    // A file that cannot be read, and both ways at once, are refused naming the variable.
    let out = slipway(
        &["check-config"],
        &[("SLIPWAY_METRICS_TOKEN_FILE", "/nonexistent/token")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("SLIPWAY_METRICS_TOKEN_FILE: cannot read `/nonexistent/token`"),
        "{}",
        text(&out.stderr)
    );
    let out = slipway(
        &["check-config"],
        &[
            ("SLIPWAY_GITHUB_WEBHOOK_SECRET", "inline"),
            ("SLIPWAY_GITHUB_WEBHOOK_SECRET_FILE", &path),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "set SLIPWAY_GITHUB_WEBHOOK_SECRET or SLIPWAY_GITHUB_WEBHOOK_SECRET_FILE, not both"
        ),
        "{}",
        text(&out.stderr)
    );
}
