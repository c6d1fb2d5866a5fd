//! Turns raw [`Sources`] into a validated [`Config`], collecting every problem at once.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::settings::*;
use super::{
    BusConfig, ClusterConfig, ClusterSource, Config, ConfigError, DatabaseConfig,
    GitHubSignInConfig, LogFormat, ObjectsConfig, PreviewConfig, Problem, S3Config, Sources,
    TransformSettings,
};

const MIN_SIGNING_KEY_LEN: usize = 32;

/// Collects problems while reading settings, so one run reports all of them.
struct Reader<'a> {
    sources: &'a Sources,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    fn problem(&mut self, setting: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            setting: setting.to_owned(),
            message: message.into(),
        });
    }

    fn text(&self, setting: &str) -> Option<String> {
        self.sources.get(setting).map(str::to_owned)
    }

    /// Parses a setting with `parse`; on failure records `accepts` and returns `None`.
    fn parsed<T>(
        &mut self,
        setting: &str,
        accepts: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let raw = self.sources.get(setting)?;
        match parse(raw) {
            Some(value) => Some(value),
            None => {
                let shown = if find(setting).is_some_and(|s| s.secret) {
                    "(hidden)".to_owned()
                } else {
                    format!("`{raw}`")
                };
                self.problem(setting, format!("{shown} is not valid; expected {accepts}"));
                None
            }
        }
    }

    fn seconds(&mut self, setting: &str, default: u64) -> Duration {
        let secs = self.parsed(setting, "a whole number of seconds such as 10", |s| {
            s.parse::<u64>().ok()
        });
        Duration::from_secs(secs.unwrap_or(default))
    }
}

pub(super) fn parse(sources: &Sources) -> Result<Config, ConfigError> {
    let mut r = Reader {
        sources,
        problems: Vec::new(),
    };

    let default_listen = SocketAddr::from(([127, 0, 0, 1], 3000));
    let listen = r
        .parsed(
            LISTEN,
            "host:port such as 127.0.0.1:3000 or 0.0.0.0:8080",
            |s| s.parse::<SocketAddr>().ok(),
        )
        .unwrap_or(default_listen);
    let data_dir = PathBuf::from(r.text(DATA_DIR).unwrap_or_else(|| "./data".into()));
    let public_url = r
        .parsed(
            PUBLIC_URL,
            "an http:// or https:// URL such as https://slipway.example.com",
            parse_http_url,
        )
        .or_else(|| default_public_url(listen));
    let site_root = PathBuf::from(r.text(SITE_ROOT).unwrap_or_else(|| "target/site".into()));

    let database = parse_database(&mut r, &data_dir);
    let objects = parse_objects(&mut r, &data_dir);
    let bus = match r.parsed(
        REDIS_URL,
        "a redis:// URL such as redis://127.0.0.1:6379",
        parse_redis_url,
    ) {
        Some(url) => BusConfig::Redis {
            display: redact_url(&url),
            url: SecretString::from(url.to_string()),
        },
        None => BusConfig::InProcess,
    };
    let log_format = r
        .parsed(LOG_FORMAT, "`text` or `json`", |s| match s {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        })
        .unwrap_or(LogFormat::Text);
    let log_filter = r.text(LOG).unwrap_or_else(|| "info".into());
    let signing_key = r
        .parsed(SIGNING_KEY, "at least 32 characters", |s| {
            (s.len() >= MIN_SIGNING_KEY_LEN).then_some(s.to_owned())
        })
        .map(SecretString::from);
    let secrets_key = r
        .parsed(SECRETS_KEY, "at least 32 characters", |s| {
            (s.len() >= MIN_SIGNING_KEY_LEN).then_some(s.to_owned())
        })
        .map(SecretString::from);
    let webhook_secrets: Vec<SecretString> = r
        .text(GITHUB_WEBHOOK_SECRET)
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| SecretString::from(s.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let github_token = r.text(GITHUB_TOKEN).map(SecretString::from);
    let metrics_token = r.text(METRICS_TOKEN).map(SecretString::from);
    let trusted_proxies = r
        .parsed(TRUSTED_PROXIES, "comma-separated IP addresses", |s| {
            s.split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(|a| a.parse().ok())
                .collect::<Option<Vec<std::net::IpAddr>>>()
        })
        .unwrap_or_default();
    let github_api_url = r
        .parsed(GITHUB_API_URL, "an http(s) URL", |s| {
            Url::parse(s)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .map(|_| s.trim_end_matches('/').to_owned())
        })
        .unwrap_or_else(|| "https://api.github.com".to_owned());
    let app_id = r.parsed(GITHUB_APP_ID, "a number (the App's id)", |s| {
        s.parse::<u64>().ok()
    });
    let app_key = r.text(GITHUB_APP_PRIVATE_KEY_FILE).map(PathBuf::from);
    let github_app = match (app_id, app_key) {
        (Some(id), Some(key)) => Some((id, key)),
        (Some(_), None) => {
            r.problem(
                GITHUB_APP_PRIVATE_KEY_FILE,
                "is needed with SLIPWAY_GITHUB_APP_ID",
            );
            None
        }
        (None, Some(_)) if r.text(GITHUB_APP_ID).is_none() => {
            r.problem(
                GITHUB_APP_ID,
                "is needed with SLIPWAY_GITHUB_APP_PRIVATE_KEY_FILE",
            );
            None
        }
        _ => None,
    };
    let github_sign_in = parse_github_sign_in(&mut r);
    let mcp = r
        .parsed(
            MCP,
            "`on`, `read-only` or `off`",
            crate::mcp::McpMode::parse,
        )
        .unwrap_or(crate::mcp::McpMode::On);
    let admins = r
        .text(ADMINS)
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let github_permission_cache = r.seconds(GITHUB_PERMISSION_CACHE_SECONDS, 900);
    let reconcile_every = r
        .seconds(RECONCILE_SECONDS, 300)
        .max(Duration::from_secs(1));
    let notification_retry = r
        .seconds(NOTIFICATION_RETRY_SECONDS, 10)
        .max(Duration::from_secs(1));
    let transform_retry = r
        .seconds(TRANSFORM_RETRY_SECONDS, 10)
        .max(Duration::from_secs(1));
    let transform_claim = r
        .seconds(TRANSFORM_CLAIM_SECONDS, 30)
        .max(Duration::from_secs(5));
    let registry = r
        .parsed(
            REGISTRY,
            "a registry host such as ghcr.io/acme or registry.local:5000",
            |s| {
                let s = s.trim().trim_end_matches('/');
                (!s.is_empty() && !s.contains("://") && !s.chars().any(char::is_whitespace))
                    .then(|| s.to_owned())
            },
        )
        .unwrap_or_else(|| "registry.local:5000".to_owned());
    let pipeline_steps = r
        .parsed(PIPELINE_STEPS, "a whole number from 1 to 256", |s| {
            s.parse::<usize>().ok().filter(|n| (1..=256).contains(n))
        })
        .unwrap_or(4);
    let pipelines_namespace = r
        .parsed(
            PIPELINES_NAMESPACE,
            "a DNS-1123 label such as slipway-pipelines",
            namespace_name,
        )
        .unwrap_or_else(|| "slipway-pipelines".to_owned());
    let transforms = transform_settings(&mut r);
    let previews = parse_previews(&mut r);
    let clusters = parse_clusters(&mut r);
    let startup_retry = r.seconds(STARTUP_RETRY_SECONDS, 10);
    let shutdown_grace = r.seconds(SHUTDOWN_GRACE_SECONDS, 20);
    let client_timeout = r
        .seconds(CLIENT_TIMEOUT_SECONDS, 30)
        .max(Duration::from_secs(1));

    let Some(public_url) = public_url.filter(|_| r.problems.is_empty()) else {
        if r.problems.is_empty() {
            r.problem(
                PUBLIC_URL,
                "cannot be derived from SLIPWAY_LISTEN; set it explicitly",
            );
        }
        return Err(ConfigError(r.problems));
    };
    Ok(Config {
        listen,
        data_dir,
        public_url,
        site_root,
        database,
        objects,
        bus,
        clusters,
        log_format,
        log_filter,
        signing_key,
        secrets_key,
        webhook_secrets,
        github_token,
        metrics_token,
        trusted_proxies,
        mcp,
        github_api_url,
        github_app,
        github_sign_in,
        admins,
        github_permission_cache,
        reconcile_every,
        notification_retry,
        transform_retry,
        transform_claim,
        registry,
        pipeline_steps,
        pipelines_namespace,
        transforms,
        previews,
        startup_retry,
        shutdown_grace,
        client_timeout,
    })
}

/// Sign in with GitHub: the client id and secret come together.
fn parse_github_sign_in(r: &mut Reader<'_>) -> Option<GitHubSignInConfig> {
    let web_url = r
        .parsed(GITHUB_WEB_URL, "an http(s) URL", |s| {
            Url::parse(s)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .map(|_| s.trim_end_matches('/').to_owned())
        })
        .unwrap_or_else(|| "https://github.com".to_owned());
    match (r.text(GITHUB_CLIENT_ID), r.text(GITHUB_CLIENT_SECRET)) {
        (Some(client_id), Some(secret)) => Some(GitHubSignInConfig {
            client_id,
            client_secret: SecretString::from(secret),
            web_url,
        }),
        (Some(_), None) => {
            r.problem(
                GITHUB_CLIENT_SECRET,
                "is needed with SLIPWAY_GITHUB_CLIENT_ID",
            );
            None
        }
        (None, Some(_)) => {
            r.problem(
                GITHUB_CLIENT_ID,
                "is needed with SLIPWAY_GITHUB_CLIENT_SECRET",
            );
            None
        }
        (None, None) => None,
    }
}

fn parse_previews(r: &mut Reader<'_>) -> PreviewConfig {
    let domain = r
        .parsed(
            PREVIEW_DOMAIN,
            "a host name pattern such as {{ namespace }}.preview.example.com (no scheme, no path)",
            |s| {
                let s = s.trim();
                (!s.is_empty() && !s.contains("://") && !s.contains('/')).then(|| s.to_owned())
            },
        )
        .unwrap_or_else(|| "{{ namespace }}.preview.localhost".to_owned());
    let name = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && !s.chars().any(char::is_whitespace)).then(|| s.to_owned())
    };
    let ingress_class = r
        .parsed(INGRESS_CLASS, "an ingress class name such as nginx", name)
        .unwrap_or_else(|| "nginx".to_owned());
    let ingress_namespace = r
        .parsed(
            INGRESS_NAMESPACE,
            "a namespace name such as ingress-nginx",
            name,
        )
        .unwrap_or_else(|| "ingress-nginx".to_owned());
    let cert_issuer = r.parsed(
        CERT_ISSUER,
        "a ClusterIssuer name such as letsencrypt",
        name,
    );
    let deadline = r
        .seconds(PREVIEW_DEADLINE_SECONDS, 180)
        .max(Duration::from_secs(1));
    let quota_cpu = r
        .parsed(
            PREVIEW_QUOTA_CPU,
            "a CPU quantity such as 2 or 1500m",
            |s| {
                domain::quantity::cpu_millicores(s.trim())
                    .filter(|m| *m > 0)
                    .map(|_| s.trim().to_owned())
            },
        )
        .unwrap_or_else(|| "2".to_owned());
    let quota_memory = r
        .parsed(PREVIEW_QUOTA_MEMORY, "a memory quantity such as 4Gi", |s| {
            domain::quantity::bytes(s.trim())
                .filter(|b| *b > 0)
                .map(|_| s.trim().to_owned())
        })
        .unwrap_or_else(|| "4Gi".to_owned());
    let helm = r
        .parsed(HELM, "an executable name or path such as helm", name)
        .unwrap_or_else(|| "helm".to_owned());
    PreviewConfig {
        helm,
        domain,
        ingress_class,
        ingress_namespace,
        cert_issuer,
        deadline,
        quota_cpu,
        quota_memory,
    }
}

fn parse_database(r: &mut Reader<'_>, data_dir: &std::path::Path) -> DatabaseConfig {
    let default = DatabaseConfig::Sqlite {
        path: data_dir.join("slipway.db"),
    };
    let accepts = "sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE";
    r.parsed(DATABASE_URL, accepts, |s| {
        if let Some(path) = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or_default();
            return (!path.is_empty()).then(|| DatabaseConfig::Sqlite {
                path: PathBuf::from(path),
            });
        }
        let url = Url::parse(s).ok()?;
        let postgres =
            matches!(url.scheme(), "postgres" | "postgresql") && url.host_str().is_some();
        postgres.then(|| DatabaseConfig::Postgres {
            display: redact_url(&url),
            url: SecretString::from(s.to_owned()),
        })
    })
    .unwrap_or(default)
}

fn parse_objects(r: &mut Reader<'_>, data_dir: &std::path::Path) -> ObjectsConfig {
    let s3_settings = [
        S3_ENDPOINT,
        S3_REGION,
        S3_ACCESS_KEY_ID,
        S3_SECRET_ACCESS_KEY,
        S3_PATH_STYLE,
    ];
    let Some(bucket) = r.text(S3_BUCKET) else {
        if let Some(stray) = s3_settings.iter().find(|s| r.sources.get(s).is_some()) {
            r.problem(
                stray,
                format!("is set but {S3_BUCKET} is not; set the bucket to use S3"),
            );
        }
        return ObjectsConfig::Fs {
            root: data_dir.join("objects"),
        };
    };
    let endpoint = r
        .parsed(S3_ENDPOINT, "an http:// or https:// URL", parse_http_url)
        .map(|u| u.to_string());
    let access_key_id = r.text(S3_ACCESS_KEY_ID);
    let secret_access_key = r.text(S3_SECRET_ACCESS_KEY).map(SecretString::from);
    if access_key_id.is_some() != secret_access_key.is_some() {
        let missing = if access_key_id.is_some() {
            S3_SECRET_ACCESS_KEY
        } else {
            S3_ACCESS_KEY_ID
        };
        r.problem(
            missing,
            format!(
                "is required together with {}",
                if access_key_id.is_some() {
                    S3_ACCESS_KEY_ID
                } else {
                    S3_SECRET_ACCESS_KEY
                }
            ),
        );
    }
    let path_style = r
        .parsed(S3_PATH_STYLE, "`true` or `false`", parse_bool)
        .unwrap_or(true);
    ObjectsConfig::S3(S3Config {
        bucket,
        endpoint,
        region: r.text(S3_REGION).unwrap_or_else(|| "us-east-1".into()),
        access_key_id,
        secret_access_key,
        path_style,
    })
}

/// The default cluster from the environment, then the file's `[[clusters]]`.
fn parse_clusters(r: &mut Reader<'_>) -> Vec<ClusterConfig> {
    let kubeconfig = r.text(KUBECONFIG);
    let context = r.text(KUBE_CONTEXT);
    let mode = r.parsed(
        CLUSTER,
        "`kubeconfig`, `in-cluster` or `sim`",
        |s| match s {
            "kubeconfig" | "in-cluster" | "sim" | "none" => Some(s.to_owned()),
            _ => None,
        },
    );
    let default = match (mode.as_deref(), kubeconfig) {
        (Some("none"), _) => None,
        (Some("sim"), _) => Some(ClusterSource::Sim),
        (Some("in-cluster"), _) => Some(ClusterSource::InCluster),
        (Some("kubeconfig"), None) => {
            r.problem(
                KUBECONFIG,
                "is required when SLIPWAY_CLUSTER is `kubeconfig`",
            );
            None
        }
        (_, Some(path)) => Some(ClusterSource::Kubeconfig {
            path: PathBuf::from(path),
            context,
        }),
        (_, None) => None,
    };
    let mut clusters: Vec<ClusterConfig> = default
        .map(|source| ClusterConfig {
            name: "default".into(),
            source,
        })
        .into_iter()
        .collect();
    for table in r.sources.clusters().to_vec() {
        let setting = format!("clusters.{}", table.name);
        let source = match (table.kubeconfig, table.in_cluster) {
            (Some(path), false) => ClusterSource::Kubeconfig {
                path: PathBuf::from(path),
                context: table.context,
            },
            (None, true) => ClusterSource::InCluster,
            _ => {
                r.problem(
                    &setting,
                    "needs exactly one of `kubeconfig = \"FILE\"` or `in_cluster = true`",
                );
                continue;
            }
        };
        let valid_name = !table.name.is_empty()
            && table
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid_name {
            r.problem(&setting, "the name must be letters, digits and `-`");
        } else if clusters.iter().any(|c| c.name == table.name) {
            r.problem(
                &setting,
                "is defined twice (the environment's cluster is named `default`)",
            );
        } else {
            clusters.push(ClusterConfig {
                name: table.name,
                source,
            });
        }
    }
    clusters
}

fn parse_http_url(s: &str) -> Option<Url> {
    Url::parse(s)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

fn parse_redis_url(s: &str) -> Option<Url> {
    Url::parse(s)
        .ok()
        .filter(|u| u.scheme() == "redis" && u.host_str().is_some())
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `http://<listen>`, with a wildcard address replaced by loopback so links work locally.
fn default_public_url(listen: SocketAddr) -> Option<Url> {
    let mut reachable = listen;
    if listen.ip().is_unspecified() {
        reachable.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    Url::parse(&format!("http://{reachable}")).ok()
}

/// The URL with any password replaced by `***`, safe to print.
pub(crate) fn redact_url(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

/// A namespace's name: a DNS-1123 label.
fn namespace_name(s: &str) -> Option<String> {
    let valid = !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    valid.then(|| s.to_owned())
}

/// `a.b.c.d/n` or an IPv6 address with a prefix length.
fn cidr(s: &str) -> Option<String> {
    let (address, bits) = s.split_once('/')?;
    let address: std::net::IpAddr = address.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let most = if address.is_ipv4() { 32 } else { 128 };
    (bits <= most).then(|| s.to_owned())
}

fn transform_settings(r: &mut Reader<'_>) -> TransformSettings {
    TransformSettings {
        namespace: r
            .parsed(
                TRANSFORMS_NAMESPACE,
                "a DNS-1123 label such as slipway-transforms",
                namespace_name,
            )
            .unwrap_or_else(|| "slipway-transforms".to_owned()),
        egress_cidrs: r
            .parsed(
                TRANSFORM_EGRESS_CIDRS,
                "comma-separated CIDRs such as 140.82.112.0/20,192.30.252.0/22",
                |s| {
                    s.split(',')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(cidr)
                        .collect::<Option<Vec<String>>>()
                },
            )
            .unwrap_or_default(),
        uploader_image: r
            .parsed(TRANSFORM_UPLOADER_IMAGE, "an image reference", |s| {
                let s = s.trim();
                (!s.is_empty() && !s.chars().any(char::is_whitespace)).then(|| s.to_owned())
            })
            .unwrap_or_else(|| "curlimages/curl:8.11.1".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_sources(&Sources::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn embedded_defaults_need_no_settings() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.public_url.as_str(), "http://127.0.0.1:3000/");
        assert!(
            matches!(c.database, DatabaseConfig::Sqlite { ref path } if path.ends_with("data/slipway.db"))
        );
        assert!(matches!(c.objects, ObjectsConfig::Fs { .. }));
        assert!(matches!(c.bus, BusConfig::InProcess));
    }

    #[test]
    fn github_settings_are_read_and_half_an_app_is_a_problem() {
        let both = config(&[
            (GITHUB_WEBHOOK_SECRET, "new, old"),
            (GITHUB_APP_ID, "42"),
            (GITHUB_APP_PRIVATE_KEY_FILE, "/etc/slipway/app.pem"),
            (GITHUB_API_URL, "https://github.example.com/api/v3/"),
        ])
        .expect("valid");
        assert_eq!(both.webhook_secrets.len(), 2);
        assert_eq!(
            both.github_app,
            Some((42, PathBuf::from("/etc/slipway/app.pem")))
        );
        assert_eq!(both.github_api_url, "https://github.example.com/api/v3");
        let half = config(&[(GITHUB_APP_ID, "42")]).expect_err("needs the key");
        assert_eq!(half.0[0].setting, GITHUB_APP_PRIVATE_KEY_FILE);
        let bad = config(&[(GITHUB_API_URL, "ftp://x")]).expect_err("not http");
        assert_eq!(bad.0[0].setting, GITHUB_API_URL);
    }

    #[test]
    fn every_problem_is_reported_with_its_setting() {
        let err = config(&[
            (LISTEN, "nowhere"),
            (LOG_FORMAT, "xml"),
            (DATABASE_URL, "mysql://x"),
            (S3_REGION, "eu-west-1"),
        ])
        .expect_err("invalid");
        let text = err.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            text.contains("SLIPWAY_LISTEN: `nowhere` is not valid; expected host:port"),
            "{text}"
        );
        assert!(
            text.contains("SLIPWAY_LOG_FORMAT: `xml` is not valid; expected `text` or `json`"),
            "{text}"
        );
        assert!(
            text.contains("SLIPWAY_DATABASE_URL: (hidden) is not valid"),
            "secrets are not echoed: {text}"
        );
        assert!(
            text.contains("SLIPWAY_S3_REGION: is set but SLIPWAY_S3_BUCKET is not"),
            "{text}"
        );
    }

    #[test]
    fn postgres_and_redis_urls_are_secrets_with_redacted_display() {
        let c = config(&[
            (DATABASE_URL, "postgres://slipway:hunter2@db:5432/slipway"),
            (REDIS_URL, "redis://:pw@127.0.0.1:6379/0"),
        ])
        .expect("valid");
        let DatabaseConfig::Postgres { url, display } = &c.database else {
            panic!("postgres expected")
        };
        assert_eq!(
            url.expose_secret(),
            "postgres://slipway:hunter2@db:5432/slipway"
        );
        assert_eq!(display, "postgres://slipway:***@db:5432/slipway");
        let BusConfig::Redis { display, .. } = &c.bus else {
            panic!("redis expected")
        };
        assert!(!display.contains("pw"), "{display}");
        assert!(
            !format!("{c:?}").contains("hunter2"),
            "Debug must not leak secrets"
        );
    }

    #[test]
    fn s3_needs_both_keys_and_parses_path_style() {
        let err = config(&[(S3_BUCKET, "b"), (S3_ACCESS_KEY_ID, "k")]).expect_err("missing secret");
        assert!(err.to_string().contains(
            "SLIPWAY_S3_SECRET_ACCESS_KEY: is required together with SLIPWAY_S3_ACCESS_KEY_ID"
        ));
        let c = config(&[
            (S3_BUCKET, "b"),
            (S3_ENDPOINT, "http://127.0.0.1:9000"),
            (S3_ACCESS_KEY_ID, "k"),
            (S3_SECRET_ACCESS_KEY, "s"),
            (S3_PATH_STYLE, "false"),
        ])
        .expect("valid");
        let ObjectsConfig::S3(s3) = c.objects else {
            panic!("s3 expected")
        };
        assert!(!s3.path_style);
        assert_eq!(s3.region, "us-east-1");
    }

    #[test]
    fn clusters_come_from_the_environment_and_the_file() {
        assert!(
            config(&[]).expect("valid").clusters.is_empty(),
            "no cluster by default"
        );
        let sim = config(&[(CLUSTER, "sim")]).expect("valid");
        assert_eq!(sim.clusters[0].source, ClusterSource::Sim);
        let err = config(&[(CLUSTER, "kubeconfig")]).expect_err("needs a file");
        assert!(
            err.to_string().contains("SLIPWAY_KUBECONFIG: is required"),
            "{err}"
        );
        let text = "[[clusters]]\nname = \"eu\"\nkubeconfig = \"/etc/eu.yaml\"\n[[clusters]]\nname = \"local\"\nin_cluster = true\n";
        let sources = Sources::from_toml_str(text).expect("toml");
        let c = Config::from_sources(&sources).expect("valid");
        assert_eq!(
            c.clusters
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["eu", "local"]
        );
        let bad = Sources::from_toml_str("[[clusters]]\nname = \"x\"\n").expect("toml");
        let err = Config::from_sources(&bad).expect_err("no source");
        assert!(
            err.to_string().contains("clusters.x: needs exactly one of"),
            "{err}"
        );
        let typo = Sources::from_toml_str("[[clusters]]\nname = \"x\"\nkubeconfg = \"y\"\n")
            .expect_err("unknown key");
        assert_eq!(typo[0].setting, "clusters");
    }

    #[test]
    fn toml_file_keys_are_checked_and_env_wins() {
        let problems =
            Sources::from_toml_str("listen = \"127.0.0.1:4000\"\nlisen = 1\n").expect_err("typo");
        assert_eq!(problems[0].setting, "lisen");
        let sources = Sources::from_toml_str("listen = \"127.0.0.1:4000\"\ns3_path_style = true\n")
            .expect("valid");
        assert_eq!(sources.get(LISTEN), Some("127.0.0.1:4000"));
        let err = Sources::from_toml_str("listen = [").expect_err("syntax");
        assert!(err[0].message.contains("line 1"), "{:?}", err[0]);
    }
}
