//! The other kinds of preview: a folder of manifest templates rendered with the preview's
//! variables and applied; a Helm chart installed through the `helm` CLI (a fake one here that
//! records its arguments); and the clear failure when helm is missing or a template is wrong,
//! or when a symbolic link in the repository leads out of it.

use std::os::unix::fs::PermissionsExt;

use domain::Cluster;
use domain::cluster::ObjectKind;

use crate::pipeline_support::commit;
use crate::preview_support::World;

const MANIFESTS: &str = "preview:\n  manifests: deploy/preview\n  env:\n    MODE: demo\n";
const WEB: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: web
          image: "registry.example.com/web:{{ short_sha }}"
          env:
            - { name: PUBLIC_URL, value: "{{ url }}" }
            - { name: MODE, value: "{{ env.MODE }}" }
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  namespace: "{{ namespace }}"
"#;

#[tokio::test]
async fn manifest_templates_are_rendered_and_applied() {
    let mut world = World::start(
        &[
            (".platform.yaml", MANIFESTS),
            ("deploy/preview/web.yaml", WEB),
        ],
        &[],
    )
    .await;
    let ns = "pr-acme-shop-21";
    let first = world.first_sha.clone();
    world.pull_request("opened", 21, &first).await;
    world.until(ns, &["running"], Some(&first)).await;
    let web = world
        .cluster
        .get_object(
            ns,
            ObjectKind {
                api_version: "apps/v1",
                kind: "Deployment",
            },
            "web",
        )
        .await
        .expect("read")
        .expect("web");
    let container = &web.0["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["image"],
        format!("registry.example.com/web:{}", &first[..7])
    );
    assert_eq!(
        container["env"][0]["value"],
        "https://pr-acme-shop-21.preview.example.com"
    );
    assert_eq!(container["env"][1]["value"], "demo");
    assert_eq!(
        web.0["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "slipway"
    );
    let settings = world
        .cluster
        .get_object(
            ns,
            ObjectKind {
                api_version: "v1",
                kind: "ConfigMap",
            },
            "settings",
        )
        .await
        .expect("read")
        .expect("settings");
    assert_eq!(settings.0["data"]["namespace"], ns);

    // A misspelt variable fails the preview, naming the file and the line.
    let broken = WEB.replace("{{ namespace }}", "{{ namespce }}");
    let (_, second) = commit(&world.repo, &[("deploy/preview/web.yaml", &broken)], "typo");
    world.pull_request("synchronize", 21, &second).await;
    let detail = world.until(ns, &["failed"], Some(&second)).await;
    let reason = detail["preview"]["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("deploy/preview/web.yaml (line 25)") && reason.contains("undefined"),
        "{reason}"
    );
    world.server.stop().await;
}

#[tokio::test]
async fn a_chart_is_installed_with_helm_and_a_missing_helm_says_so() {
    let tools = tempfile::tempdir().expect("tempdir");
    let helm = tools.path().join("helm");
    let recorded = tools.path().join("arguments");
    std::fs::write(
        &helm,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\necho installed\n",
            recorded.display()
        ),
    )
    .expect("fake helm");
    std::fs::set_permissions(&helm, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let chart = "preview:\n  chart:\n    path: chart\n    values: chart/values-preview.yaml\n    set:\n      image.tag: \"{{ short_sha }}\"\n      ingress.host: \"{{ host }}\"\n";
    let mut world = World::start(
        &[
            (".platform.yaml", chart),
            (
                "chart/Chart.yaml",
                "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
            ),
            ("chart/values-preview.yaml", "replicaCount: 1\n"),
        ],
        &[("SLIPWAY_HELM", helm.display().to_string())],
    )
    .await;
    let ns = "pr-acme-shop-22";
    let first = world.first_sha.clone();
    world.pull_request("opened", 22, &first).await;
    world.until(ns, &["running"], Some(&first)).await;
    let arguments = std::fs::read_to_string(&recorded).expect("helm ran");
    let arguments: Vec<&str> = arguments.lines().collect();
    assert_eq!(&arguments[..3], ["upgrade", "--install", "preview"]);
    assert!(arguments[3].ends_with("/chart"), "{arguments:?}");
    let after = |flag: &str| {
        arguments
            .iter()
            .position(|a| *a == flag)
            .map(|i| arguments[i + 1])
    };
    assert_eq!(after("--namespace"), Some(ns));
    assert_eq!(after("--timeout"), Some("180s"));
    assert!(after("--values").is_some_and(|v| v.ends_with("chart/values-preview.yaml")));
    assert!(arguments.contains(&"--wait"));
    let sets: Vec<&str> = arguments
        .windows(2)
        .filter(|w| w[0] == "--set")
        .map(|w| w[1])
        .collect();
    assert_eq!(
        sets,
        [
            format!("image.tag={}", &first[..7]),
            "ingress.host=pr-acme-shop-22.preview.example.com".to_owned()
        ]
    );
    // The namespace and its guard rails come first, as for every kind.
    assert!(
        world
            .cluster
            .get_namespace(ns)
            .await
            .expect("read")
            .is_some()
    );
    world.server.stop().await;

    // Without helm, the preview fails saying what to do.
    let mut world = World::start(
        &[(".platform.yaml", chart)],
        &[("SLIPWAY_HELM", "/nonexistent/helm".to_owned())],
    )
    .await;
    let first = world.first_sha.clone();
    world.pull_request("opened", 23, &first).await;
    let detail = world.until("pr-acme-shop-23", &["failed"], None).await;
    let reason = detail["preview"]["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("helm (`/nonexistent/helm`, SLIPWAY_HELM) is not installed"),
        "{reason}"
    );
    world.server.stop().await;
}

const EXTRA: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  from: link\n";
const STOLEN: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stolen\ndata:\n  from: outside\n";

async fn config_map(world: &World, ns: &str, name: &str) -> bool {
    let kind = ObjectKind {
        api_version: "v1",
        kind: "ConfigMap",
    };
    let found = world.cluster.get_object(ns, kind, name).await;
    found.expect("read").is_some()
}

#[tokio::test]
async fn manifests_behind_symbolic_links_are_read_inside_the_repository_and_refused_outside_it() {
    let mut world = World::start(
        &[
            (".platform.yaml", MANIFESTS),
            ("deploy/preview/web.yaml", WEB),
            ("deploy/shared/extra.yaml", EXTRA),
        ],
        &[],
    )
    .await;
    let ns = "pr-acme-shop-22";
    let preview = world.repo.join("deploy/preview");
    std::os::unix::fs::symlink("../shared/extra.yaml", preview.join("extra.yaml")).expect("link");
    let (_, linked) = commit(&world.repo, &[], "a manifest linked from inside");
    world.pull_request("opened", 22, &linked).await;
    world.until(ns, &["running"], Some(&linked)).await;
    assert!(
        config_map(&world, ns, "extra").await,
        "a link inside the checkout is followed"
    );

    // A link to a file outside the checkout, then the whole folder as a link outside it.
    let outside = tempfile::tempdir().expect("outside");
    std::fs::write(outside.path().join("stolen.yaml"), STOLEN).expect("outside manifest");
    std::os::unix::fs::symlink(
        outside.path().join("stolen.yaml"),
        preview.join("stolen.yaml"),
    )
    .expect("link");
    let (_, file_link) = commit(&world.repo, &[], "a manifest linked from outside");
    world.pull_request("synchronize", 22, &file_link).await;
    let detail = world.until(ns, &["failed"], Some(&file_link)).await;
    let reason = detail["preview"]["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("manifest `deploy/preview/stolen.yaml` is a symbolic link")
            && reason.contains("leads out of the repository"),
        "{reason}"
    );
    std::fs::remove_dir_all(&preview).expect("remove folder");
    std::os::unix::fs::symlink(outside.path(), &preview).expect("link folder");
    let (_, folder_link) = commit(&world.repo, &[], "the manifests folder linked outside");
    world.pull_request("synchronize", 22, &folder_link).await;
    let detail = world.until(ns, &["failed"], Some(&folder_link)).await;
    let reason = detail["preview"]["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("manifests folder `deploy/preview` is a symbolic link"),
        "{reason}"
    );
    assert!(
        !config_map(&world, ns, "stolen").await,
        "nothing outside was applied"
    );
    world.server.stop().await;
}
