//! `.platform.yaml`'s preview section, and the Kubernetes objects its built-in template makes
//! for a pull request: parsing never panics, and neither does rendering what it accepted.
#![no_main]

use std::collections::BTreeMap;

use domain::preview::template::{
    GuardRails, IngressSettings, PreviewVariables, app_manifests, guard_manifests, namespace_spec,
};
use domain::preview::{PreviewKind, preview_namespace};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    // Whatever a repository is called, its namespace is a valid DNS label.
    assert!(domain::preview::namespace::is_dns_label(&preview_namespace(text, 7)));
    let Ok(Some(definition)) = domain::preview::parse::parse_preview(text) else {
        return;
    };
    let vars = PreviewVariables {
        preview_id: 1,
        pr_number: 7,
        branch: "feature/x".into(),
        sha: "0123456789abcdef0123456789abcdef01234567".into(),
        repository: "acme/shop".into(),
        namespace: preview_namespace("acme/shop", 7),
        host: "pr-7.preview.example.com".into(),
        url: "https://pr-7.preview.example.com".into(),
        image: Some("registry.example.com/shop:0123456".into()),
    };
    let guard = GuardRails {
        quota_cpu: definition.quota.cpu.clone().unwrap_or_else(|| "2".into()),
        quota_memory: definition.quota.memory.clone().unwrap_or_else(|| "2Gi".into()),
        ingress_namespace: "ingress-nginx".into(),
    };
    let _ = namespace_spec(&vars);
    let _ = guard_manifests(&vars, &guard);
    if let PreviewKind::App(app) = &definition.kind {
        let ingress = IngressSettings {
            class: "nginx".into(),
            cert_issuer: None,
        };
        let image = app.image.clone().unwrap_or_default();
        let _ = app_manifests(&vars, app, &image, &BTreeMap::new(), &ingress);
    }
});
