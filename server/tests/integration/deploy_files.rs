//! The files under `deploy/` as an operator's tools read them: the systemd unit passes
//! `systemd-analyze verify` (with this build's binary in its ExecStart) and scores at most 2.0
//! on `systemd-analyze security --offline`; the image file passes hadolint, runs as a fixed
//! non-root user with a health check through `slipway healthcheck`, and pins the tool versions
//! the build uses; the compose file and the CI workflow validate against their published
//! schemas, and the workflow runs the README's test command; the scripts pass shellcheck; the
//! Kubernetes overlays render with `kubectl kustomize`, pass `kubernetes-validate --strict` and
//! a policy on every workload (restricted security context, probes, resources, labels, an RBAC
//! without wildcards or exec); the monitoring overlay's ServiceMonitor scrapes the Service with
//! the token Slipway reads, and its PrometheusRule is the rules file; the alert rules pass
//! `promtool check rules` and their unit tests fire each alert; every YAML file passes yamllint.

use std::path::PathBuf;
use std::process::Command;

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let unit = std::fs::read_to_string(repository_root().join("deploy/systemd/slipway.service"))
        .expect("the unit");
    for directive in [
        "DynamicUser=yes",
        "StateDirectory=slipway",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "LoadCredential=secrets-key:",
        "Environment=SLIPWAY_SECRETS_KEY_FILE=%d/secrets-key",
    ] {
        assert!(unit.contains(directive), "the unit lacks {directive:?}");
    }
    // verify checks that ExecStart's program exists: point it at this build's binary.
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("slipway.service");
    let bin = env!("CARGO_BIN_EXE_slipway");
    std::fs::write(&copy, unit.replace("/usr/local/bin/slipway", bin)).expect("copy");
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .current_dir(dir.path())
        .output()
        .expect("systemd-analyze runs (Debian's systemd package)");
    let said = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success() && said.trim().is_empty(), "{said}");
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--threshold=20"])
        .arg(&copy)
        .current_dir(dir.path())
        .output()
        .expect("systemd-analyze runs");
    let report = String::from_utf8_lossy(&security.stdout);
    let overall = report
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_default();
    println!("{overall}");
    assert!(
        security.status.success(),
        "exposure above 2.0: {overall}\n{report}"
    );
}

fn run(program: &std::path::Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(program)
        .args(args)
        .current_dir(repository_root())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{} runs (scripts/setup test installs it): {e}",
                program.display()
            )
        });
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

#[test]
fn the_image_file_passes_hadolint_and_runs_slipway_as_a_non_root_user() {
    let hadolint = crate::support::test_venv_bin("hadolint");
    let (clean, said) = run(&hadolint, &["deploy/Containerfile"]);
    assert!(clean, "hadolint: {said}");
    let file = std::fs::read_to_string(repository_root().join("deploy/Containerfile"))
        .expect("the image file");
    for line in [
        "USER 10001:10001",
        "SLIPWAY_DATA_DIR=/data",
        "SLIPWAY_LISTEN=0.0.0.0:3000",
        "CMD [\"/usr/local/bin/slipway\", \"healthcheck\"]",
    ] {
        assert!(file.contains(line), "the image file lacks {line:?}");
    }
    // The build uses the tools the repository pins.
    let lock = std::fs::read_to_string(repository_root().join("Cargo.lock")).expect("lock");
    let bindgen = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"wasm-bindgen\"\n"))
        .and_then(|p| p.lines().find(|l| l.starts_with("version = ")))
        .map(|l| {
            l.trim_start_matches("version = ")
                .trim_matches('"')
                .to_owned()
        })
        .expect("wasm-bindgen in Cargo.lock");
    assert!(
        file.contains(&format!("ARG WASM_BINDGEN_VERSION={bindgen}")),
        "the image builds with wasm-bindgen {bindgen}, as Cargo.lock has it"
    );
    let setup = std::fs::read_to_string(repository_root().join("scripts/setup")).expect("setup");
    let leptos = file
        .lines()
        .find_map(|l| l.strip_prefix("ARG CARGO_LEPTOS_VERSION="))
        .expect("a cargo-leptos version");
    assert!(
        setup.contains(&format!("cargo-leptos {leptos}")),
        "scripts/setup and the image build with the same cargo-leptos ({leptos})"
    );
}

#[test]
fn the_compose_file_follows_the_compose_specification() {
    let check = crate::support::test_venv_bin("check-jsonschema");
    let (valid, said) = run(
        &check,
        &[
            "--builtin-schema",
            "vendor.compose-spec",
            "deploy/compose.yaml",
        ],
    );
    assert!(valid, "{said}");
    let file = std::fs::read_to_string(repository_root().join("deploy/compose.yaml"))
        .expect("compose file");
    for secret in [
        "SLIPWAY_DATABASE_URL_FILE",
        "SLIPWAY_GITHUB_WEBHOOK_SECRET_FILE",
        "SLIPWAY_SECRETS_KEY_FILE",
    ] {
        assert!(file.contains(secret), "secrets come from files: {secret}");
    }
}

#[test]
fn the_ci_workflow_runs_the_readme_s_test_command() {
    let check = crate::support::test_venv_bin("check-jsonschema");
    let (valid, said) = run(
        &check,
        &[
            "--builtin-schema",
            "vendor.github-workflows",
            ".github/workflows/ci.yml",
        ],
    );
    assert!(valid, "{said}");
    let workflow = std::fs::read_to_string(repository_root().join(".github/workflows/ci.yml"))
        .expect("workflow");
    let readme = std::fs::read_to_string(repository_root().join("README.md")).expect("README");
    assert!(
        readme.contains("scripts/test   # every check"),
        "README names scripts/test"
    );
    assert!(
        workflow.contains("run: scripts/test"),
        "the workflow runs it"
    );
}

#[test]
fn the_scripts_pass_shellcheck() {
    let scripts = [
        "scripts/setup",
        "scripts/test",
        "scripts/run",
        "scripts/bench",
        "scripts/fuzz",
        "scripts/chaos",
        "scripts/env.sh",
        "scripts/verify-deployment",
        "end2end/image-root.sh",
        ".ci/run",
    ];
    let mut args = vec!["-x"];
    args.extend(scripts);
    let (clean, said) = run(std::path::Path::new("shellcheck"), &args);
    assert!(clean, "shellcheck: {said}");
}

/// `kubectl kustomize` of an overlay, validated strictly against Kubernetes 1.32's schemas and
/// held to the policy; what the policy script saw.
fn rendered_overlay(overlay: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rendered, yaml) = run(
        std::path::Path::new("kubectl"),
        &[
            "kustomize",
            &format!("deploy/kubernetes/overlays/{overlay}"),
        ],
    );
    assert!(rendered, "kubectl kustomize {overlay}: {yaml}");
    let file = dir.path().join(format!("{overlay}.yaml"));
    std::fs::write(&file, &yaml).expect("rendered");
    let path = file.display().to_string();
    let validate = crate::support::test_venv_bin("kubernetes-validate");
    let (valid, said) = run(&validate, &["--strict", "--quiet", "-k", "1.32.0", &path]);
    assert!(valid, "kubernetes-validate {overlay}: {said}");
    let script = repository_root().join("server/tests/clients/manifest_policy.py");
    let python = crate::support::test_venv_bin("python");
    let (ran, report) = run(&python, &[&script.display().to_string(), &path]);
    assert!(ran, "the policy script: {report}");
    let seen: serde_json::Value = serde_json::from_str(&report).expect("JSON");
    assert_eq!(
        seen["violations"],
        serde_json::json!([]),
        "{overlay}: {seen}"
    );
    seen
}

#[test]
fn the_single_replica_overlay_keeps_its_data_on_a_volume_and_never_runs_two_pods() {
    let seen = rendered_overlay("single");
    let slipway = &seen["deployments"]["slipway"];
    assert_eq!(slipway["replicas"], 1);
    assert_eq!(slipway["strategy"], "Recreate", "SQLite has one writer");
    assert_eq!(seen["kinds"]["PersistentVolumeClaim"], 1);
    assert_eq!(seen["kinds"]["ClusterRole"], 1);
}

#[test]
fn the_production_overlay_runs_replicas_that_are_never_fewer_than_wanted() {
    let seen = rendered_overlay("production");
    let slipway = &seen["deployments"]["slipway"];
    assert_eq!(slipway["replicas"], 2);
    assert_eq!(slipway["max_unavailable"], 0);
    assert_eq!(slipway["spread"], true, "spread over nodes");
    for kind in [
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "Ingress",
        "NetworkPolicy",
    ] {
        assert_eq!(seen["kinds"][kind], 1, "{kind}: {seen}");
    }
}

#[test]
fn every_yaml_file_passes_yamllint() {
    let yamllint = crate::support::test_venv_bin("yamllint");
    let (clean, said) = run(
        &yamllint,
        &["-c", "deploy/.yamllint.yaml", "deploy/", ".github/"],
    );
    assert!(clean, "yamllint: {said}");
}

#[test]
fn the_alert_rules_pass_promtool_and_each_fires_as_its_unit_test_says() {
    let promtool = std::path::Path::new("promtool");
    let (valid, said) = run(
        promtool,
        &["check", "rules", "deploy/prometheus/slipway.rules.yaml"],
    );
    assert!(valid, "promtool check rules: {said}");
    assert!(said.contains("SUCCESS: 9 rules found"), "{said}");
    let (passed, said) = run(
        promtool,
        &["test", "rules", "deploy/prometheus/slipway.rules.test.yaml"],
    );
    assert!(passed, "promtool test rules: {said}");
    // Every alert has a unit test that expects it to fire.
    let rules =
        std::fs::read_to_string(repository_root().join("deploy/prometheus/slipway.rules.yaml"))
            .expect("rules");
    let tests = std::fs::read_to_string(
        repository_root().join("deploy/prometheus/slipway.rules.test.yaml"),
    )
    .expect("rule tests");
    for alert in rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
    {
        assert!(
            tests.contains(&format!(
                "alertname: {alert}\n        exp_alerts:\n          - exp_labels"
            )),
            "no test fires {alert}"
        );
    }
}

#[test]
fn the_monitoring_overlay_scrapes_with_the_token_and_carries_the_same_alert_rules() {
    let (rendered, yaml) = run(
        std::path::Path::new("kubectl"),
        &["kustomize", "deploy/kubernetes/overlays/monitoring"],
    );
    assert!(rendered, "kubectl kustomize monitoring: {yaml}");
    let script = repository_root().join("server/tests/clients/monitoring_objects.py");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("monitoring.yaml");
    std::fs::write(&file, &yaml).expect("rendered");
    let python = crate::support::test_venv_bin("python");
    let rules = repository_root().join("deploy/prometheus/slipway.rules.yaml");
    let (ran, report) = run(
        &python,
        &[
            &script.display().to_string(),
            &file.display().to_string(),
            &rules.display().to_string(),
        ],
    );
    assert!(ran, "the monitoring check: {report}");
    let seen: serde_json::Value = serde_json::from_str(&report).expect("JSON");
    assert_eq!(seen["problems"], serde_json::json!([]), "{seen}");
    assert_eq!(
        seen["same_rules"], true,
        "the PrometheusRule's groups are the rules file's"
    );
    assert_eq!(seen["scraped_path"], "/metrics");
    assert_eq!(
        seen["token_file"], "/run/secrets/slipway/metrics-token",
        "Slipway reads the token the ServiceMonitor sends"
    );
}
