//! `slipway check-config`: the effective value of every setting, secrets redacted, and where
//! each value came from.

use secrecy::SecretString;

use super::settings::*;
use super::sources::Origin;
use super::{BusConfig, ClusterSource, Config, DatabaseConfig, LogFormat, ObjectsConfig, Sources};

const REDACTED: &str = "***";

/// One line per setting: `NAME = value  (origin)`.
pub fn describe(config: &Config, sources: &Sources) -> String {
    let mut lines = Vec::new();
    for setting in SETTINGS {
        let value = effective_value(config, setting.env);
        let origin = match sources.origin(setting.env) {
            Some(Origin::Environment) => "environment",
            Some(Origin::File) => "file",
            Some(Origin::SecretFile) => "secret file",
            None => "default",
        };
        lines.push(format!(
            "{} = {}  ({origin})",
            setting.env,
            value.unwrap_or_else(|| "(unset)".into())
        ));
    }
    lines.join("\n")
}

fn redacted(secret: Option<&SecretString>) -> Option<String> {
    secret.map(|_| REDACTED.to_owned())
}

fn default_cluster(c: &Config, env: &str) -> Option<String> {
    let source = &c
        .clusters
        .iter()
        .find(|cluster| cluster.name == "default")?
        .source;
    match (env, source) {
        (CLUSTER, ClusterSource::Sim) => Some("sim".into()),
        (CLUSTER, ClusterSource::InCluster) => Some("in-cluster".into()),
        (CLUSTER, ClusterSource::Kubeconfig { .. }) => Some("kubeconfig".into()),
        (KUBECONFIG, ClusterSource::Kubeconfig { path, .. }) => Some(path.display().to_string()),
        (KUBE_CONTEXT, ClusterSource::Kubeconfig { context, .. }) => context.clone(),
        _ => None,
    }
}

fn effective_value(c: &Config, env: &str) -> Option<String> {
    let s3 = match &c.objects {
        ObjectsConfig::S3(s3) => Some(s3),
        ObjectsConfig::Fs { .. } => None,
    };
    match env {
        LISTEN => Some(c.listen.to_string()),
        DATA_DIR => Some(c.data_dir.display().to_string()),
        PUBLIC_URL => Some(c.public_url.to_string()),
        SITE_ROOT => Some(c.site_root.display().to_string()),
        DATABASE_URL => Some(match &c.database {
            DatabaseConfig::Sqlite { path } => format!("sqlite://{}", path.display()),
            DatabaseConfig::Postgres { display, .. } => display.clone(),
        }),
        REDIS_URL => match &c.bus {
            BusConfig::Redis { display, .. } => Some(display.clone()),
            BusConfig::InProcess => None,
        },
        S3_BUCKET => s3.map(|s| s.bucket.clone()),
        S3_ENDPOINT => s3.and_then(|s| s.endpoint.clone()),
        S3_REGION => s3.map(|s| s.region.clone()),
        S3_ACCESS_KEY_ID => s3.and_then(|s| s.access_key_id.clone()),
        S3_SECRET_ACCESS_KEY => s3.and_then(|s| redacted(s.secret_access_key.as_ref())),
        S3_PATH_STYLE => s3.map(|s| s.path_style.to_string()),
        LOG_FORMAT => Some(match c.log_format {
            LogFormat::Text => "text".into(),
            LogFormat::Json => "json".into(),
        }),
        LOG => Some(c.log_filter.clone()),
        SIGNING_KEY => redacted(c.signing_key.as_ref()),
        SECRETS_KEY => redacted(c.secrets_key.as_ref()),
        GITHUB_WEBHOOK_SECRET => redacted(c.webhook_secrets.first()),
        GITHUB_TOKEN => redacted(c.github_token.as_ref()),
        METRICS_TOKEN => redacted(c.metrics_token.as_ref()),
        TRUSTED_PROXIES => (!c.trusted_proxies.is_empty()).then(|| {
            c.trusted_proxies
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }),
        MCP => Some(c.mcp.as_str().to_owned()),
        GITHUB_API_URL => Some(c.github_api_url.clone()),
        GITHUB_APP_ID => c.github_app.as_ref().map(|(id, _)| id.to_string()),
        GITHUB_APP_PRIVATE_KEY_FILE => c
            .github_app
            .as_ref()
            .map(|(_, key)| key.display().to_string()),
        GITHUB_CLIENT_ID => c.github_sign_in.as_ref().map(|g| g.client_id.clone()),
        GITHUB_CLIENT_SECRET => redacted(c.github_sign_in.as_ref().map(|g| &g.client_secret)),
        GITHUB_WEB_URL => Some(
            c.github_sign_in
                .as_ref()
                .map_or_else(|| "https://github.com".to_owned(), |g| g.web_url.clone()),
        ),
        ADMINS => (!c.admins.is_empty()).then(|| c.admins.join(", ")),
        GITHUB_PERMISSION_CACHE_SECONDS => Some(c.github_permission_cache.as_secs().to_string()),
        RECONCILE_SECONDS => Some(c.reconcile_every.as_secs().to_string()),
        NOTIFICATION_RETRY_SECONDS => Some(c.notification_retry.as_secs().to_string()),
        TRANSFORM_RETRY_SECONDS => Some(c.transform_retry.as_secs().to_string()),
        TRANSFORM_CLAIM_SECONDS => Some(c.transform_claim.as_secs().to_string()),
        REGISTRY => Some(c.registry.clone()),
        PIPELINE_STEPS => Some(c.pipeline_steps.to_string()),
        PIPELINES_NAMESPACE => Some(c.pipelines_namespace.clone()),
        TRANSFORMS_NAMESPACE => Some(c.transforms.namespace.clone()),
        TRANSFORM_EGRESS_CIDRS => {
            (!c.transforms.egress_cidrs.is_empty()).then(|| c.transforms.egress_cidrs.join(","))
        }
        TRANSFORM_UPLOADER_IMAGE => Some(c.transforms.uploader_image.clone()),
        PREVIEW_DOMAIN => Some(c.previews.domain.clone()),
        INGRESS_CLASS => Some(c.previews.ingress_class.clone()),
        INGRESS_NAMESPACE => Some(c.previews.ingress_namespace.clone()),
        CERT_ISSUER => c.previews.cert_issuer.clone(),
        PREVIEW_DEADLINE_SECONDS => Some(c.previews.deadline.as_secs().to_string()),
        PREVIEW_QUOTA_CPU => Some(c.previews.quota_cpu.clone()),
        PREVIEW_QUOTA_MEMORY => Some(c.previews.quota_memory.clone()),
        HELM => Some(c.previews.helm.clone()),
        STARTUP_RETRY_SECONDS => Some(c.startup_retry.as_secs().to_string()),
        SHUTDOWN_GRACE_SECONDS => Some(c.shutdown_grace.as_secs().to_string()),
        CLIENT_TIMEOUT_SECONDS => Some(c.client_timeout.as_secs().to_string()),
        CLUSTER | KUBECONFIG | KUBE_CONTEXT => default_cluster(c, env),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_origins_named() {
        let sources = Sources::from_pairs([
            (DATABASE_URL, "postgres://u:topsecret@db/slipway"),
            (SIGNING_KEY, "0123456789abcdef0123456789abcdef"),
            (S3_BUCKET, "logs"),
            (S3_ACCESS_KEY_ID, "AKID"),
            (S3_SECRET_ACCESS_KEY, "s3cr3t-value"),
        ]);
        let config = Config::from_sources(&sources).expect("valid");
        let text = describe(&config, &sources);
        assert!(
            !text.contains("topsecret")
                && !text.contains("s3cr3t-value")
                && !text.contains("0123456789abcdef"),
            "{text}"
        );
        assert!(
            text.contains("SLIPWAY_DATABASE_URL = postgres://u:***@db/slipway  (environment)"),
            "{text}"
        );
        assert!(
            text.contains("SLIPWAY_LISTEN = 127.0.0.1:3000  (default)"),
            "{text}"
        );
        assert_eq!(text.lines().count(), SETTINGS.len());
    }
}
