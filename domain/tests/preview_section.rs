//! The `preview:` section of `.platform.yaml`: what a valid section becomes, its defaults, and
//! the exact message (with line and column) for each mistake.

use domain::preview::definition::{ChartLocation, DEFAULT_TTL_SECS, PreviewKind};
use domain::preview::parse::parse_preview;

fn errors(yaml: &str) -> Vec<String> {
    match parse_preview(yaml) {
        Ok(definition) => panic!("expected errors, got {definition:?}"),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn an_app_preview_takes_its_settings_and_defaults() {
    let yaml = r#"
preview:
  app:
    port: 3000
    health_check: /healthz
    env:
      LOG_LEVEL: debug
    resources:
      cpu: 250m
      memory: 256Mi
  ttl: 2d
  domain: "{{ namespace }}.preview.acme.dev"
  env:
    FEATURE_FLAGS: all
"#;
    let preview = parse_preview(yaml).expect("valid").expect("a preview");
    let PreviewKind::App(app) = &preview.kind else {
        panic!("an app, got {:?}", preview.kind);
    };
    assert_eq!(app.port, 3000);
    assert_eq!(app.image, None, "the pipeline's image is the default");
    assert_eq!(app.replicas, 1);
    assert_eq!(app.health_path.as_deref(), Some("/healthz"));
    assert_eq!(app.cpu.as_deref(), Some("250m"));
    assert_eq!(app.env["LOG_LEVEL"], "debug");
    assert_eq!(preview.ttl_secs, 2 * 24 * 3600);
    assert_eq!(
        preview.domain.as_deref(),
        Some("{{ namespace }}.preview.acme.dev")
    );
    assert_eq!(preview.env["FEATURE_FLAGS"], "all");
}

#[test]
fn manifests_and_charts_are_read() {
    let manifests = parse_preview("preview:\n  manifests: deploy/preview/\n")
        .expect("valid")
        .expect("a preview");
    assert_eq!(manifests.ttl_secs, DEFAULT_TTL_SECS);
    assert!(matches!(manifests.kind, PreviewKind::Manifests(ref m) if m.path == "deploy/preview"));

    let chart = r#"
preview:
  chart:
    repo: https://charts.example.com
    name: shop
    version: 1.2.3
    values: deploy/values-preview.yaml
    set:
      replicaCount: 1
"#;
    let chart = parse_preview(chart).expect("valid").expect("a preview");
    let PreviewKind::Chart(chart) = chart.kind else {
        panic!("a chart");
    };
    assert!(matches!(chart.chart, ChartLocation::Repository { ref name, .. } if name == "shop"));
    assert_eq!(chart.set["replicaCount"], "1");
}

#[test]
fn no_preview_section_means_no_preview() {
    assert_eq!(parse_preview("pipeline:\n  steps: []\n").ok(), Some(None));
}

#[test]
fn each_mistake_is_reported_where_it_is() {
    assert_eq!(
        errors("preview:\n  app: {}\n  manifests: k8s\n"),
        [
            "2:3: `preview` needs exactly one of `app`, `manifests` or `chart` (found `app` and `manifests`)"
        ]
    );
    assert_eq!(
        errors("preview:\n  ttl: 3\n"),
        [
            "2:3: `preview` needs exactly one of `app`, `manifests` or `chart` (found none)",
            "2:8: preview ttl `3` is not a duration: use e.g. `90s`, `10m`, `1h30m`, `7d`"
        ]
    );
    assert_eq!(
        errors("preview:\n  app:\n    port: 70000\n    replicas: 0\n    health_check: healthz\n"),
        [
            "3:11: preview app: port 70000 is not a port (1 to 65535)",
            "4:15: preview app: replicas must be between 1 and 10 (found 0)",
            "5:19: preview app: health_check `healthz` must be an HTTP path starting with `/`"
        ]
    );
    assert_eq!(
        errors("preview:\n  manifests: ../secrets\n"),
        ["2:14: preview manifests `../secrets` must be a path inside the repository, without `..`"]
    );
    assert_eq!(
        errors("preview:\n  chart:\n    name: shop\n"),
        [
            "3:5: preview chart: give either `path` (a chart in the repository) or both `repo` and `name`"
        ]
    );
    assert_eq!(
        errors("preview:\n  app: {}\n  domain: https://x.example.com\n"),
        [
            "3:11: preview domain `https://x.example.com` must be a host name pattern such as `{{ namespace }}.preview.example.com` (no scheme, no path)"
        ]
    );
    assert_eq!(
        errors("preview:\n  app:\n    env:\n      PREVIEW_URL: x\n"),
        ["4:20: preview app: `PREVIEW_URL` is set by Slipway and cannot be overridden"]
    );
    assert_eq!(
        errors("preview:\n  app:\n    imagee: x\n"),
        [
            "3:5: unknown field `imagee`, expected one of image, port, env, command, args, resources, health_check, replicas"
        ]
    );
}
