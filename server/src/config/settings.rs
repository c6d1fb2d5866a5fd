//! The list of every setting: its environment variable, default and meaning. README's
//! configuration table and `slipway check-config` are generated from this list.

/// One documented setting.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// Environment variable; the TOML key is the same without `SLIPWAY_`, lower-cased.
    pub env: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
    pub secret: bool,
}

const fn setting(env: &'static str, default: &'static str, meaning: &'static str) -> Setting {
    Setting {
        env,
        default,
        meaning,
        secret: false,
    }
}

const fn secret(env: &'static str, default: &'static str, meaning: &'static str) -> Setting {
    Setting {
        env,
        default,
        meaning,
        secret: true,
    }
}

pub const LISTEN: &str = "SLIPWAY_LISTEN";
pub const DATA_DIR: &str = "SLIPWAY_DATA_DIR";
pub const PUBLIC_URL: &str = "SLIPWAY_PUBLIC_URL";
pub const SITE_ROOT: &str = "SLIPWAY_SITE_ROOT";
pub const DATABASE_URL: &str = "SLIPWAY_DATABASE_URL";
pub const REDIS_URL: &str = "SLIPWAY_REDIS_URL";
pub const S3_BUCKET: &str = "SLIPWAY_S3_BUCKET";
pub const S3_ENDPOINT: &str = "SLIPWAY_S3_ENDPOINT";
pub const S3_REGION: &str = "SLIPWAY_S3_REGION";
pub const S3_ACCESS_KEY_ID: &str = "SLIPWAY_S3_ACCESS_KEY_ID";
pub const S3_SECRET_ACCESS_KEY: &str = "SLIPWAY_S3_SECRET_ACCESS_KEY";
pub const S3_PATH_STYLE: &str = "SLIPWAY_S3_PATH_STYLE";
pub const LOG_FORMAT: &str = "SLIPWAY_LOG_FORMAT";
pub const LOG: &str = "SLIPWAY_LOG";
pub const SIGNING_KEY: &str = "SLIPWAY_SIGNING_KEY";
pub const SECRETS_KEY: &str = "SLIPWAY_SECRETS_KEY";
pub const STARTUP_RETRY_SECONDS: &str = "SLIPWAY_STARTUP_RETRY_SECONDS";
pub const SHUTDOWN_GRACE_SECONDS: &str = "SLIPWAY_SHUTDOWN_GRACE_SECONDS";
pub const CLIENT_TIMEOUT_SECONDS: &str = "SLIPWAY_CLIENT_TIMEOUT_SECONDS";
pub const CLUSTER: &str = "SLIPWAY_CLUSTER";
pub const KUBECONFIG: &str = "SLIPWAY_KUBECONFIG";
pub const KUBE_CONTEXT: &str = "SLIPWAY_KUBE_CONTEXT";
pub const GITHUB_WEBHOOK_SECRET: &str = "SLIPWAY_GITHUB_WEBHOOK_SECRET";
pub const GITHUB_TOKEN: &str = "SLIPWAY_GITHUB_TOKEN";
pub const GITHUB_APP_ID: &str = "SLIPWAY_GITHUB_APP_ID";
pub const GITHUB_APP_PRIVATE_KEY_FILE: &str = "SLIPWAY_GITHUB_APP_PRIVATE_KEY_FILE";
pub const GITHUB_API_URL: &str = "SLIPWAY_GITHUB_API_URL";
pub const GITHUB_CLIENT_ID: &str = "SLIPWAY_GITHUB_CLIENT_ID";
pub const GITHUB_CLIENT_SECRET: &str = "SLIPWAY_GITHUB_CLIENT_SECRET";
pub const GITHUB_WEB_URL: &str = "SLIPWAY_GITHUB_WEB_URL";
pub const ADMINS: &str = "SLIPWAY_ADMINS";
pub const GITHUB_PERMISSION_CACHE_SECONDS: &str = "SLIPWAY_GITHUB_PERMISSION_CACHE_SECONDS";
pub const RECONCILE_SECONDS: &str = "SLIPWAY_RECONCILE_SECONDS";
pub const NOTIFICATION_RETRY_SECONDS: &str = "SLIPWAY_NOTIFICATION_RETRY_SECONDS";
pub const TRANSFORM_RETRY_SECONDS: &str = "SLIPWAY_TRANSFORM_RETRY_SECONDS";
pub const TRANSFORM_CLAIM_SECONDS: &str = "SLIPWAY_TRANSFORM_CLAIM_SECONDS";
pub const REGISTRY: &str = "SLIPWAY_REGISTRY";
pub const PIPELINE_STEPS: &str = "SLIPWAY_PIPELINE_STEPS";
pub const PIPELINES_NAMESPACE: &str = "SLIPWAY_PIPELINES_NAMESPACE";
pub const TRANSFORMS_NAMESPACE: &str = "SLIPWAY_TRANSFORMS_NAMESPACE";
pub const TRANSFORM_EGRESS_CIDRS: &str = "SLIPWAY_TRANSFORM_EGRESS_CIDRS";
pub const TRANSFORM_UPLOADER_IMAGE: &str = "SLIPWAY_TRANSFORM_UPLOADER_IMAGE";
pub const PREVIEW_DOMAIN: &str = "SLIPWAY_PREVIEW_DOMAIN";
pub const INGRESS_CLASS: &str = "SLIPWAY_INGRESS_CLASS";
pub const INGRESS_NAMESPACE: &str = "SLIPWAY_INGRESS_NAMESPACE";
pub const CERT_ISSUER: &str = "SLIPWAY_CERT_ISSUER";
pub const PREVIEW_DEADLINE_SECONDS: &str = "SLIPWAY_PREVIEW_DEADLINE_SECONDS";
pub const PREVIEW_QUOTA_CPU: &str = "SLIPWAY_PREVIEW_QUOTA_CPU";
pub const PREVIEW_QUOTA_MEMORY: &str = "SLIPWAY_PREVIEW_QUOTA_MEMORY";
pub const HELM: &str = "SLIPWAY_HELM";
pub const METRICS_TOKEN: &str = "SLIPWAY_METRICS_TOKEN";
pub const TRUSTED_PROXIES: &str = "SLIPWAY_TRUSTED_PROXIES";
pub const MCP: &str = "SLIPWAY_MCP";

/// Every setting Slipway reads, in the order README lists them.
pub const SETTINGS: &[Setting] = &[
    setting(
        LISTEN,
        "127.0.0.1:3000",
        "Address and port the HTTP server listens on.",
    ),
    setting(
        DATA_DIR,
        "./data",
        "Folder for the embedded SQLite database, objects and generated keys.",
    ),
    setting(
        PUBLIC_URL,
        "http://<SLIPWAY_LISTEN>",
        "URL users and GitHub reach Slipway at; used in links and signed URLs.",
    ),
    setting(
        SITE_ROOT,
        "target/site",
        "Folder with the dashboard's compiled assets (wasm, JS, CSS) built by cargo-leptos.",
    ),
    secret(
        DATABASE_URL,
        "sqlite://<SLIPWAY_DATA_DIR>/slipway.db",
        "`sqlite://PATH` or `postgres://USER:PASSWORD@HOST:PORT/DB`.",
    ),
    secret(
        REDIS_URL,
        "(unset: in-process bus)",
        "`redis://[:PASSWORD@]HOST:PORT[/DB]` to share events between replicas through Redis or Valkey.",
    ),
    setting(
        S3_BUCKET,
        "(unset: objects on the filesystem)",
        "Bucket for logs and artifacts; setting it switches object storage to S3.",
    ),
    setting(
        S3_ENDPOINT,
        "(AWS)",
        "S3 endpoint URL, e.g. `http://127.0.0.1:9000` for MinIO.",
    ),
    setting(S3_REGION, "us-east-1", "S3 region."),
    setting(S3_ACCESS_KEY_ID, "(AWS default chain)", "S3 access key id."),
    secret(
        S3_SECRET_ACCESS_KEY,
        "(AWS default chain)",
        "S3 secret access key.",
    ),
    setting(
        S3_PATH_STYLE,
        "true",
        "`true` for path-style URLs (MinIO and most S3-compatible servers), `false` for virtual-host style.",
    ),
    setting(
        LOG_FORMAT,
        "text",
        "`text` for people, `json` for log collectors.",
    ),
    setting(
        LOG,
        "info",
        "Log filter, e.g. `info,server=debug` (tracing-subscriber EnvFilter syntax).",
    ),
    secret(
        SIGNING_KEY,
        "(generated in the data dir)",
        "Key (at least 32 characters) for Slipway's signed download URLs.",
    ),
    secret(
        SECRETS_KEY,
        "(generated in the data dir)",
        "Key (at least 32 characters) repository secrets are encrypted with in the database. Changing it makes stored secrets unreadable.",
    ),
    setting(
        STARTUP_RETRY_SECONDS,
        "10",
        "How long `serve` retries unreachable PostgreSQL, Redis or S3 before giving up.",
    ),
    setting(
        CLUSTER,
        "(unset: none, or kubeconfig when SLIPWAY_KUBECONFIG is set)",
        "The default cluster: `kubeconfig`, `in-cluster` (the pod's service account), or `sim` (an embedded simulated cluster, for demos). More clusters: `[[clusters]]` tables in the TOML file.",
    ),
    setting(
        KUBECONFIG,
        "(unset)",
        "Kubeconfig file for the default cluster.",
    ),
    setting(
        KUBE_CONTEXT,
        "(the file's current context)",
        "Context to use from SLIPWAY_KUBECONFIG.",
    ),
    secret(
        GITHUB_WEBHOOK_SECRET,
        "(unset: webhooks refused with 503)",
        "Secret of the GitHub App's webhook; several, comma-separated, while rotating it.",
    ),
    secret(
        GITHUB_TOKEN,
        "(unset: Slipway does not write to GitHub)",
        "Token Slipway comments, sets commit statuses and clones repositories with (a personal or installation token with `repo` scope).",
    ),
    secret(
        METRICS_TOKEN,
        "(unset: /metrics is open)",
        "Bearer token /metrics asks for (Prometheus `authorization` credentials).",
    ),
    setting(
        TRUSTED_PROXIES,
        "(unset: the peer address is the source)",
        "Comma-separated addresses of reverse proxies whose X-Forwarded-For names the client (in the audit log and sign-in limits).",
    ),
    setting(
        MCP,
        "on",
        "MCP for AI agents at `/mcp` (personal API tokens only): `on`, `read-only` (only tools that change nothing), or `off`.",
    ),
    setting(
        GITHUB_APP_ID,
        "(unset)",
        "The GitHub App's id; with SLIPWAY_GITHUB_APP_PRIVATE_KEY_FILE, Slipway acts as the App (installation tokens, renewed before they expire) instead of with SLIPWAY_GITHUB_TOKEN.",
    ),
    setting(
        GITHUB_APP_PRIVATE_KEY_FILE,
        "(unset)",
        "PEM file with the GitHub App's private key (keep it readable by Slipway only).",
    ),
    setting(
        GITHUB_API_URL,
        "https://api.github.com",
        "GitHub's REST API, e.g. `https://github.example.com/api/v3` for GitHub Enterprise Server.",
    ),
    setting(
        GITHUB_CLIENT_ID,
        "(unset: no GitHub sign-in)",
        "Client id of the GitHub App (or OAuth App) people sign in with; with SLIPWAY_GITHUB_CLIENT_SECRET, the sign-in page offers \"Sign in with GitHub\". Its callback URL is `<SLIPWAY_PUBLIC_URL>/auth/github/callback`.",
    ),
    secret(
        GITHUB_CLIENT_SECRET,
        "(unset)",
        "Client secret of that App.",
    ),
    setting(
        GITHUB_WEB_URL,
        "https://github.com",
        "GitHub's web address, where people sign in (a GitHub Enterprise Server's, e.g. `https://github.example.com`).",
    ),
    setting(
        ADMINS,
        "(unset)",
        "Comma-separated GitHub logins made instance admins when they sign in.",
    ),
    setting(
        GITHUB_PERMISSION_CACHE_SECONDS,
        "900",
        "How long a GitHub user's permission on a repository is trusted before GitHub is asked again (destructive actions always ask).",
    ),
    setting(
        RECONCILE_SECONDS,
        "300",
        "How often open pull requests are compared with GitHub's list, to catch missed webhooks (needs SLIPWAY_GITHUB_TOKEN).",
    ),
    setting(
        NOTIFICATION_RETRY_SECONDS,
        "10",
        "The first gap before a failed notification delivery is tried again; gaps double up to an hour, and Slipway stops trying a day after the event.",
    ),
    setting(
        TRANSFORM_RETRY_SECONDS,
        "10",
        "The first gap before a transform execution whose attempt failed for a reason other than its steps (a clone, storage) is tried again; the gap doubles, and after the third attempt it goes to the dead letters.",
    ),
    setting(
        TRANSFORM_CLAIM_SECONDS,
        "30",
        "How long a transform execution stays its worker's without a renewal (each running one is renewed every 2 s): a replica that stopped answering loses its executions, and on Redis its tasks, to another after this long. At least 5.",
    ),
    setting(
        REGISTRY,
        "registry.local:5000",
        "Container registry pipeline steps push images to; steps see it as `$REGISTRY`.",
    ),
    setting(
        PIPELINE_STEPS,
        "4",
        "How many pipeline steps this instance runs at once, across all pipelines.",
    ),
    setting(
        PIPELINES_NAMESPACE,
        "slipway-pipelines",
        "Namespace pipeline step pods run in, on the default cluster (with no cluster, steps run as local processes).",
    ),
    setting(
        TRANSFORMS_NAMESPACE,
        "slipway-transforms",
        "Namespace transform Jobs run in, on the default cluster (with no cluster, transforms run as local processes). Slipway gives it a policy that denies all egress but DNS, Slipway's own pods and SLIPWAY_TRANSFORM_EGRESS_CIDRS.",
    ),
    setting(
        TRANSFORM_EGRESS_CIDRS,
        "",
        "Comma-separated CIDRs transform Jobs may reach besides DNS and Slipway's pods: put your git host's ranges here (for GitHub, the `git` ranges of https://api.github.com/meta), and the address SLIPWAY_PUBLIC_URL resolves to when that is not a Slipway pod (an ingress controller, or Slipway outside the cluster).",
    ),
    setting(
        TRANSFORM_UPLOADER_IMAGE,
        "curlimages/curl:8.11.1",
        "Image of the transform Job's sidecar that uploads the patch to Slipway; it needs `sh` and `curl`.",
    ),
    setting(
        PREVIEW_DOMAIN,
        "{{ namespace }}.preview.localhost",
        "Host name pattern of preview URLs (`https://` + it); `.platform.yaml` may set its own. Variables: namespace, pr_number, repository, branch, short_sha.",
    ),
    setting(
        INGRESS_CLASS,
        "nginx",
        "Ingress class of previews' Ingress objects.",
    ),
    setting(
        INGRESS_NAMESPACE,
        "ingress-nginx",
        "Namespace of the ingress controller, the one allowed into previews by their network policy.",
    ),
    setting(
        CERT_ISSUER,
        "(unset: no cert-manager annotation)",
        "cert-manager ClusterIssuer that signs previews' TLS certificates.",
    ),
    setting(
        PREVIEW_DEADLINE_SECONDS,
        "180",
        "How long a preview's rollout may take before it is reported failed.",
    ),
    setting(
        PREVIEW_QUOTA_CPU,
        "2",
        "CPU a preview namespace may use in all (ResourceQuota); `.platform.yaml` may ask for less.",
    ),
    setting(
        PREVIEW_QUOTA_MEMORY,
        "4Gi",
        "Memory a preview namespace may use in all (ResourceQuota); `.platform.yaml` may ask for less.",
    ),
    setting(
        HELM,
        "helm",
        "The helm executable previews with a `chart:` are installed with: a name looked up on PATH, or a path.",
    ),
    setting(
        SHUTDOWN_GRACE_SECONDS,
        "20",
        "How long in-flight requests and workers get to finish after SIGTERM/SIGINT.",
    ),
    setting(
        CLIENT_TIMEOUT_SECONDS,
        "30",
        "How long a client may take to send a request's headers, or stay silent while sending its body, before the connection is closed (slow or stalled clients cannot hold connections open). At least 1.",
    ),
];

/// The documentation of `env`, if it is a setting.
pub fn find(env: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.env == env)
}

/// The TOML key of a setting: `SLIPWAY_S3_BUCKET` → `s3_bucket`.
pub fn toml_key(env: &str) -> String {
    env.trim_start_matches("SLIPWAY_").to_ascii_lowercase()
}

/// README's configuration table, generated from [`SETTINGS`] so the two never disagree.
pub fn markdown_table() -> String {
    let mut table = String::from("| Setting | Default | Meaning |\n| --- | --- | --- |\n");
    for s in SETTINGS {
        let secret = if s.secret {
            format!(
                " Secret: never logged or printed; `{}_FILE` may name a file holding it instead.",
                s.env
            )
        } else {
            String::new()
        };
        table.push_str(&format!(
            "| `{}` | `{}` | {}{secret} |\n",
            s.env, s.default, s.meaning
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    #[test]
    fn readme_lists_every_setting_as_the_code_defines_it() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
            .expect("README.md");
        let table = super::markdown_table();
        assert!(
            readme.contains(&table),
            "README.md's configuration table is out of date; it should read:\n{table}"
        );
    }
}
