//! The Kubernetes objects of a preview, as data: the namespace (labels, Pod Security Admission),
//! its guard rails (ResourceQuota, LimitRange, default-deny NetworkPolicy) and the built-in app
//! template (Deployment, Service, Ingress). The server applies them; nothing here talks to a
//! cluster.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::definition::{AppTemplate, DEFAULT_CONTAINER_CPU, DEFAULT_CONTAINER_MEMORY};
use crate::cluster::{Manifest, NamespaceSpec, PREVIEW_LABEL};

/// Name of the built-in template's Deployment, Service and Ingress.
pub const APP_NAME: &str = "app";
pub const REPOSITORY_LABEL: &str = "slipway.dev/repository";
pub const PULL_REQUEST_LABEL: &str = "slipway.dev/pull-request";
/// How long the app's pods must stay ready before the rollout counts as done.
pub const MIN_READY_SECS: u32 = 5;
/// Address ranges a preview may not reach (cluster, node and cloud metadata networks).
const PRIVATE_RANGES: [&str; 5] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "127.0.0.0/8",
];

/// What every template of a preview may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewVariables {
    pub preview_id: i64,
    pub pr_number: i64,
    pub branch: String,
    pub sha: String,
    pub repository: String,
    pub namespace: String,
    /// Host name of the public URL.
    pub host: String,
    /// `https://{host}`.
    pub url: String,
    /// The image the pipeline published for the commit, when there is one.
    pub image: Option<String>,
}

impl PreviewVariables {
    pub fn short_sha(&self) -> &str {
        self.sha.get(..7).unwrap_or(&self.sha)
    }

    /// The variables by name, as templates see them.
    pub fn as_map(&self) -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            ("pr_number", self.pr_number.to_string()),
            ("branch", self.branch.clone()),
            ("sha", self.sha.clone()),
            ("short_sha", self.short_sha().to_owned()),
            ("repository", self.repository.clone()),
            ("namespace", self.namespace.clone()),
            ("host", self.host.clone()),
            ("url", self.url.clone()),
            ("image", self.image.clone().unwrap_or_default()),
        ])
    }

    /// The same, as environment variables of the app's container.
    pub fn as_env(&self) -> Vec<(String, String)> {
        vec![
            ("PR_NUMBER".into(), self.pr_number.to_string()),
            ("COMMIT_BRANCH".into(), self.branch.clone()),
            ("COMMIT_SHA".into(), self.sha.clone()),
            ("PREVIEW_NAMESPACE".into(), self.namespace.clone()),
            ("PREVIEW_URL".into(), self.url.clone()),
        ]
    }

    fn labels(&self) -> Value {
        json!({
            PREVIEW_LABEL: self.preview_id.to_string(),
            REPOSITORY_LABEL: label_value(&self.repository),
            PULL_REQUEST_LABEL: self.pr_number.to_string(),
        })
    }
}

/// A label value (at most 63 of letters, digits, `-`, `_`, `.`, alphanumeric at both ends).
pub fn label_value(text: &str) -> String {
    let replaced: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '.'
            }
        })
        .take(63)
        .collect();
    replaced
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

/// The namespace, labelled as the preview's, with Pod Security Admission enforcing
/// `baseline` and warning and auditing against `restricted`.
pub fn namespace_spec(vars: &PreviewVariables) -> NamespaceSpec {
    let mut labels: BTreeMap<String, String> = BTreeMap::from([
        (PREVIEW_LABEL.into(), vars.preview_id.to_string()),
        (REPOSITORY_LABEL.into(), label_value(&vars.repository)),
        (PULL_REQUEST_LABEL.into(), vars.pr_number.to_string()),
    ]);
    for (mode, level) in [
        ("enforce", "baseline"),
        ("warn", "restricted"),
        ("audit", "restricted"),
    ] {
        labels.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            level.to_owned(),
        );
    }
    NamespaceSpec {
        name: vars.namespace.clone(),
        labels,
        annotations: BTreeMap::from([(
            "slipway.dev/pull-request-url".into(),
            format!(
                "https://github.com/{}/pull/{}",
                vars.repository, vars.pr_number
            ),
        )]),
    }
}

/// The namespace's limits as a whole and per container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardRails {
    pub quota_cpu: String,
    pub quota_memory: String,
    /// Namespace the ingress controller runs in (allowed in by the network policy).
    pub ingress_namespace: String,
}

/// ResourceQuota, LimitRange and the default-deny NetworkPolicy with its allowances.
pub fn guard_manifests(vars: &PreviewVariables, guard: &GuardRails) -> Vec<Manifest> {
    let labels = vars.labels();
    let quota = json!({
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": { "name": "preview-quota", "labels": labels },
        "spec": { "hard": {
            "limits.cpu": guard.quota_cpu,
            "limits.memory": guard.quota_memory,
            "requests.cpu": guard.quota_cpu,
            "requests.memory": guard.quota_memory,
            "pods": "20",
        }},
    });
    let limits = json!({
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": { "name": "preview-limits", "labels": labels },
        "spec": { "limits": [{
            "type": "Container",
            "default": { "cpu": DEFAULT_CONTAINER_CPU, "memory": DEFAULT_CONTAINER_MEMORY },
            "defaultRequest": { "cpu": "50m", "memory": "64Mi" },
        }]},
    });
    let policy = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": { "name": "preview-default-deny", "labels": labels },
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                { "from": [{ "podSelector": {} }] },
                { "from": [{ "namespaceSelector": { "matchLabels": {
                    "kubernetes.io/metadata.name": guard.ingress_namespace,
                }}}]},
            ],
            "egress": [
                { "to": [{ "podSelector": {} }] },
                {
                    "to": [{ "namespaceSelector": {} }],
                    "ports": [{ "protocol": "UDP", "port": 53 }, { "protocol": "TCP", "port": 53 }],
                },
                {
                    "to": [{ "ipBlock": { "cidr": "0.0.0.0/0", "except": PRIVATE_RANGES } }],
                    "ports": [{ "protocol": "TCP", "port": 443 }],
                },
            ],
        },
    });
    vec![Manifest(quota), Manifest(limits), Manifest(policy)]
}

/// How the app is reached from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressSettings {
    pub class: String,
    /// cert-manager ClusterIssuer that signs the TLS certificate, when configured.
    pub cert_issuer: Option<String>,
}

/// Deployment, Service and Ingress of the built-in template running `image`.
pub fn app_manifests(
    vars: &PreviewVariables,
    app: &AppTemplate,
    image: &str,
    shared_env: &BTreeMap<String, String>,
    ingress: &IngressSettings,
) -> Vec<Manifest> {
    let labels = vars.labels();
    let selector =
        json!({ "app.kubernetes.io/name": APP_NAME, PREVIEW_LABEL: vars.preview_id.to_string() });
    let mut env: BTreeMap<String, String> = shared_env.clone();
    env.extend(app.env.clone());
    env.extend(vars.as_env());
    let env: Vec<Value> = env
        .into_iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect();
    let probe = match &app.health_path {
        Some(path) => json!({ "httpGet": { "path": path, "port": app.port } }),
        None => json!({ "tcpSocket": { "port": app.port } }),
    };
    let mut container = json!({
        "name": APP_NAME,
        "image": image,
        "ports": [{ "name": "http", "containerPort": app.port }],
        "env": env,
        "readinessProbe": probe,
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": { "drop": ["ALL"] },
            "seccompProfile": { "type": "RuntimeDefault" },
        },
    });
    if !app.command.is_empty() {
        container["command"] = json!(app.command);
    }
    if !app.args.is_empty() {
        container["args"] = json!(app.args);
    }
    let mut limits = serde_json::Map::new();
    if let Some(cpu) = &app.cpu {
        limits.insert("cpu".into(), json!(cpu));
    }
    if let Some(memory) = &app.memory {
        limits.insert("memory".into(), json!(memory));
    }
    if !limits.is_empty() {
        container["resources"] = json!({ "limits": limits, "requests": limits });
    }
    let mut pod_labels = labels.clone();
    pod_labels["app.kubernetes.io/name"] = json!(APP_NAME);
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": APP_NAME, "labels": labels },
        "spec": {
            "replicas": app.replicas,
            // An app that crashes right after starting is not counted as available.
            "minReadySeconds": MIN_READY_SECS,
            "selector": { "matchLabels": selector },
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": { "slipway.dev/commit": vars.sha },
                },
                "spec": {
                    "automountServiceAccountToken": false,
                    "securityContext": { "seccompProfile": { "type": "RuntimeDefault" } },
                    "containers": [container],
                },
            },
        },
    });
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": APP_NAME, "labels": labels },
        "spec": {
            "selector": selector,
            "ports": [{ "name": "http", "port": 80, "targetPort": "http" }],
        },
    });
    let mut annotations = serde_json::Map::new();
    if let Some(issuer) = &ingress.cert_issuer {
        annotations.insert("cert-manager.io/cluster-issuer".into(), json!(issuer));
    }
    let ingress = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": { "name": APP_NAME, "labels": labels, "annotations": annotations },
        "spec": {
            "ingressClassName": ingress.class,
            "tls": [{ "hosts": [vars.host], "secretName": format!("{APP_NAME}-tls") }],
            "rules": [{
                "host": vars.host,
                "http": { "paths": [{
                    "path": "/",
                    "pathType": "Prefix",
                    "backend": { "service": { "name": APP_NAME, "port": { "name": "http" } } },
                }]},
            }],
        },
    });
    vec![Manifest(deployment), Manifest(service), Manifest(ingress)]
}

/// Whether `sha` is a full commit id (40 hexadecimal digits).
pub fn is_commit_sha(sha: &str) -> bool {
    sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit())
}

/// Whether `host` can be a public host name (DNS labels separated by dots, at most 253).
pub fn is_host_name(host: &str) -> bool {
    host.len() <= 253
        && host.contains('.')
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> PreviewVariables {
        PreviewVariables {
            preview_id: 3,
            pr_number: 7,
            branch: "feature/x".into(),
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            repository: "acme/shop".into(),
            namespace: "pr-acme-shop-7".into(),
            host: "pr-acme-shop-7.preview.example.com".into(),
            url: "https://pr-acme-shop-7.preview.example.com".into(),
            image: None,
        }
    }

    #[test]
    fn the_namespace_enforces_baseline_and_warns_about_restricted() {
        let spec = namespace_spec(&vars());
        assert_eq!(
            spec.labels["pod-security.kubernetes.io/enforce"],
            "baseline"
        );
        assert_eq!(spec.labels["pod-security.kubernetes.io/warn"], "restricted");
        assert_eq!(spec.labels[REPOSITORY_LABEL], "acme.shop");
        assert_eq!(spec.labels[PREVIEW_LABEL], "3");
    }

    #[test]
    fn egress_reaches_the_internet_on_443_but_no_private_range() {
        let guard = GuardRails {
            quota_cpu: "2".into(),
            quota_memory: "4Gi".into(),
            ingress_namespace: "ingress-nginx".into(),
        };
        let policy = &guard_manifests(&vars(), &guard)[2].0;
        let internet = &policy["spec"]["egress"][2];
        assert_eq!(internet["ports"][0]["port"], 443);
        assert!(
            internet["to"][0]["ipBlock"]["except"]
                .as_array()
                .is_some_and(|e| e.iter().any(|r| r == "10.0.0.0/8"))
        );
    }

    #[test]
    fn commit_and_host_checks() {
        assert!(is_commit_sha(&vars().sha));
        assert!(!is_commit_sha("abc"));
        assert!(!is_commit_sha(&"g".repeat(40)));
        assert!(is_host_name("pr-1.preview.example.com"));
        assert!(!is_host_name("pr_1.example.com"));
        assert!(!is_host_name("localhost"));
    }

    #[test]
    fn label_values_stay_valid() {
        assert_eq!(label_value("acme/shop"), "acme.shop");
        assert_eq!(label_value("-x-"), "x");
        assert!(label_value(&"a".repeat(100)).len() <= 63);
    }
}
