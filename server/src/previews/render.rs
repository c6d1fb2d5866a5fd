//! Templates of a preview: the host name pattern, `--set` values and the manifests folder, all
//! rendered with minijinja over the preview's variables (`{{ namespace }}`, `{{ url }}`, …).
//! An unknown variable is an error, not an empty string, so a typo cannot deploy silently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use domain::cluster::Manifest;
use domain::preview::template::PreviewVariables;
use minijinja::{Environment, UndefinedBehavior};

/// Largest manifests folder read (files × bytes), so a mistaken path cannot exhaust memory.
const MAX_MANIFEST_FILES: usize = 200;
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// What went wrong, in words a developer can act on.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(pub String);

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

/// Renders `text` (named `name` in messages) with the variables and `env` as `env.NAME`.
pub fn render(
    name: &str,
    text: &str,
    vars: &PreviewVariables,
    env: &BTreeMap<String, String>,
) -> Result<String, RenderError> {
    let mut context: BTreeMap<&str, minijinja::Value> = vars
        .as_map()
        .into_iter()
        .map(|(k, v)| (k, minijinja::Value::from(v)))
        .collect();
    context.insert("env", minijinja::Value::from_serialize(env));
    environment().render_str(text, context).map_err(|error| {
        let at = error
            .line()
            .map(|l| format!(" (line {l})"))
            .unwrap_or_default();
        RenderError(format!("{name}{at}: {}", error_text(&error)))
    })
}

fn error_text(error: &minijinja::Error) -> String {
    match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    }
}

/// The host of the public URL, from `pattern`; checked to be a host name.
pub fn host(pattern: &str, vars: &PreviewVariables) -> Result<String, RenderError> {
    let host = render("preview domain", pattern, vars, &BTreeMap::new())?
        .trim()
        .to_ascii_lowercase();
    if domain::preview::template::is_host_name(&host) {
        Ok(host)
    } else {
        Err(RenderError(format!(
            "preview domain `{pattern}` gives `{host}`, which is not a host name"
        )))
    }
}

/// `relative` (a path the repository's `.platform.yaml` names) in `checkout`, refused when it
/// leads out of the checkout through a symbolic link — the parser already refuses `..` and
/// absolute paths, but a link committed to the repository (`deploy -> /etc`) would get past
/// that. A path that does not exist is returned as is (reading it says so).
pub fn within_checkout(
    checkout: &Path,
    relative: &str,
    what: &str,
) -> Result<PathBuf, RenderError> {
    let path = checkout.join(relative);
    // The path itself, or (when it does not exist) the nearest folder on the way that does.
    let real = path.ancestors().find_map(|p| std::fs::canonicalize(p).ok());
    match (std::fs::canonicalize(checkout), real) {
        (Ok(root), Some(real)) if !real.starts_with(&root) => Err(RenderError(format!(
            "{what} `{relative}` is a symbolic link (or passes through one) that leads out of the repository"
        ))),
        _ => Ok(std::fs::canonicalize(&path).unwrap_or(path)),
    }
}

/// Every `*.yaml`/`*.yml` file of the folder `shown` of `checkout` (in name order), rendered, and
/// split into objects. Files that are symbolic links are read when they stay in the checkout.
pub async fn manifests(
    checkout: &Path,
    shown: &str,
    vars: &PreviewVariables,
    env: &BTreeMap<String, String>,
) -> Result<Vec<Manifest>, RenderError> {
    let dir = within_checkout(checkout, shown, "manifests folder")?;
    let mut entries = tokio::fs::read_dir(&dir).await.map_err(|_| {
        RenderError(format!(
            "manifests folder `{shown}` does not exist at this commit"
        ))
    })?;
    let mut files = Vec::new();
    while let Ok(Some(entry)) = entries.next_entry().await {
        let path = entry.path();
        let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        let kind = entry.file_type().await;
        if !yaml {
            continue;
        }
        if kind.as_ref().is_ok_and(|t| t.is_symlink()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let real = within_checkout(checkout, &format!("{shown}/{name}"), "manifest")?;
            if real.is_file() {
                files.push(real);
            }
        } else if kind.is_ok_and(|t| t.is_file()) {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(RenderError(format!(
            "manifests folder `{shown}` holds no .yaml or .yml file"
        )));
    }
    if files.len() > MAX_MANIFEST_FILES {
        return Err(RenderError(format!(
            "manifests folder `{shown}` holds {} files; at most {MAX_MANIFEST_FILES} are read",
            files.len()
        )));
    }
    let mut out = Vec::new();
    for file in files {
        let name = format!(
            "{shown}/{}",
            file.file_name().unwrap_or_default().to_string_lossy()
        );
        let size = tokio::fs::metadata(&file)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        if size > MAX_MANIFEST_BYTES {
            return Err(RenderError(format!("{name} is larger than 1 MiB")));
        }
        let text = tokio::fs::read_to_string(&file)
            .await
            .map_err(|e| RenderError(format!("cannot read {name}: {e}")))?;
        let rendered = render(&name, &text, vars, env)?;
        let documents: Vec<serde_json::Value> =
            serde_saphyr::from_multiple(&rendered).map_err(|e| {
                RenderError(format!(
                    "{name} is not valid YAML once rendered: {}",
                    first_line(&e.to_string())
                ))
            })?;
        for (index, document) in documents.into_iter().enumerate() {
            let manifest = Manifest(document);
            if manifest.kind().is_empty() || manifest.name().is_empty() {
                return Err(RenderError(format!(
                    "{name}: document {} has no `kind` or `metadata.name`",
                    index + 1
                )));
            }
            if manifest.kind() == "Namespace" {
                return Err(RenderError(format!(
                    "{name}: a preview's manifests cannot create namespaces (Slipway creates `{}`)",
                    vars.namespace
                )));
            }
            out.push(manifest);
        }
    }
    Ok(out)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_or_values_path_may_not_leave_the_checkout_through_a_link() {
        let checkout = tempfile::tempdir().expect("checkout");
        let outside = tempfile::tempdir().expect("outside");
        let root = checkout.path();
        std::fs::create_dir(root.join("chart")).expect("chart");
        std::os::unix::fs::symlink("chart", root.join("linked-chart")).expect("inner link");
        std::os::unix::fs::symlink(outside.path(), root.join("escape")).expect("outer link");
        let inner = within_checkout(root, "linked-chart", "chart").expect("inside");
        assert!(inner.ends_with("chart") && inner.is_dir());
        let refused = within_checkout(root, "escape/values.yaml", "chart values file");
        assert!(
            refused.is_err_and(|e| e.0.contains("chart values file `escape/values.yaml`")),
            "a path through a link to the outside is refused"
        );
        let missing = within_checkout(root, "nowhere", "chart").expect("missing");
        assert_eq!(
            missing,
            root.join("nowhere"),
            "reading it will say it is missing"
        );
    }

    fn vars() -> PreviewVariables {
        PreviewVariables {
            preview_id: 1,
            pr_number: 42,
            branch: "feature".into(),
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            repository: "acme/shop".into(),
            namespace: "pr-acme-shop-42".into(),
            host: "pr-acme-shop-42.preview.example.com".into(),
            url: "https://pr-acme-shop-42.preview.example.com".into(),
            image: Some("registry.local:5000/shop:0123456".into()),
        }
    }

    #[test]
    fn the_host_comes_from_the_pattern() {
        assert_eq!(
            host("{{ namespace }}.preview.example.com", &vars()).expect("host"),
            "pr-acme-shop-42.preview.example.com"
        );
        assert_eq!(
            host("pr-{{ pr_number }}-{{ short_sha }}.Example.com", &vars()).expect("host"),
            "pr-42-0123456.example.com"
        );
    }

    #[test]
    fn a_misspelt_variable_is_an_error_naming_the_template() {
        let error = render(
            "deploy/app.yaml",
            "name: {{ namespce }}",
            &vars(),
            &BTreeMap::new(),
        )
        .expect_err("undefined");
        assert!(
            error
                .0
                .starts_with("deploy/app.yaml (line 1): undefined value"),
            "{error}"
        );
        let error = host("{{ branch }}_x.example.com", &vars()).expect_err("not a host");
        assert!(error.0.contains("not a host name"), "{error}");
    }

    #[test]
    fn env_values_are_available_as_env_dot_name() {
        let env = BTreeMap::from([("MODE".to_owned(), "demo".to_owned())]);
        assert_eq!(
            render("x", "{{ env.MODE }}-{{ pr_number }}", &vars(), &env).expect("render"),
            "demo-42"
        );
    }
}
