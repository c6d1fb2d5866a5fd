//! Turns the `preview:` section of `.platform.yaml` into a [`PreviewDefinition`], or into every
//! problem it has, each with its line, column and what is wrong in words.

use std::collections::BTreeMap;

use serde_saphyr::{Location, Spanned};

use super::definition::{
    AppTemplate, ChartLocation, ChartSource, DEFAULT_APP_PORT, DEFAULT_TTL_SECS, ManifestsSource,
    PreviewDefinition, PreviewKind, Quota,
};
use super::file::{AppSection, ChartSection, PreviewSection};
use crate::pipeline::definition::DefinitionErrors;
use crate::pipeline::file::EnvValue;
use crate::pipeline::parse::{Checker, read_file};

/// Most replicas a preview may ask for.
pub const MAX_REPLICAS: u32 = 10;

/// Parses and validates the `preview:` section; `Ok(None)` when the file has none.
pub fn parse_preview(text: &str) -> Result<Option<PreviewDefinition>, DefinitionErrors> {
    let file = read_file(text)?;
    let Some(section) = file.preview else {
        return Ok(None);
    };
    let mut check = Checker::default();
    let definition = check.preview(section.value, section.referenced);
    if check.errors.is_empty() {
        Ok(Some(definition))
    } else {
        check.errors.sort_by_key(|error| (error.line, error.column));
        Err(DefinitionErrors(check.errors))
    }
}

impl Checker {
    fn preview(&mut self, section: PreviewSection, at: Location) -> PreviewDefinition {
        let given: Vec<&str> = [
            section.app.as_ref().map(|_| "`app`"),
            section.manifests.as_ref().map(|_| "`manifests`"),
            section.chart.as_ref().map(|_| "`chart`"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if given.len() != 1 {
            let found = if given.is_empty() {
                "none".to_owned()
            } else {
                given.join(" and ")
            };
            self.error(
                at,
                format!(
                    "`preview` needs exactly one of `app`, `manifests` or `chart` (found {found})"
                ),
            );
        }
        let kind = if let Some(app) = section.app {
            PreviewKind::App(self.app(app.value))
        } else if let Some(chart) = section.chart {
            PreviewKind::Chart(self.chart(chart.value, chart.referenced))
        } else if let Some(path) = section.manifests {
            self.relative_path(&path, "manifests");
            PreviewKind::Manifests(ManifestsSource {
                path: path.value.trim().trim_end_matches('/').to_owned(),
            })
        } else {
            PreviewKind::App(AppTemplate::default())
        };
        let ttl_secs = self.duration(section.ttl.as_ref(), "preview ttl", DEFAULT_TTL_SECS);
        if let Some(domain) = &section.domain {
            let text = domain.value.trim();
            if text.is_empty() || text.contains("://") || text.contains('/') {
                self.error(
                    domain.referenced,
                    format!(
                        "preview domain `{text}` must be a host name pattern such as `{{{{ namespace }}}}.preview.example.com` (no scheme, no path)"
                    ),
                );
            }
        }
        let env = self.env("preview", section.env);
        let quota = section
            .quota
            .map(|q| self.quantities("preview quota", q))
            .unwrap_or_default();
        PreviewDefinition {
            kind,
            ttl_secs,
            domain: section.domain.map(|d| d.value.trim().to_owned()),
            env,
            quota: Quota {
                cpu: quota.0,
                memory: quota.1,
            },
        }
    }

    fn app(&mut self, app: AppSection) -> AppTemplate {
        let port = match app.port {
            Some(port) if (1..=65_535).contains(&port.value) => port.value as u16,
            Some(port) => {
                self.error(
                    port.referenced,
                    format!(
                        "preview app: port {} is not a port (1 to 65535)",
                        port.value
                    ),
                );
                DEFAULT_APP_PORT
            }
            None => DEFAULT_APP_PORT,
        };
        let replicas = match app.replicas {
            Some(r) if (1..=MAX_REPLICAS).contains(&r.value) => r.value,
            Some(r) => {
                self.error(
                    r.referenced,
                    format!(
                        "preview app: replicas must be between 1 and {MAX_REPLICAS} (found {})",
                        r.value
                    ),
                );
                1
            }
            None => 1,
        };
        if let Some(image) = &app.image
            && (image.value.trim().is_empty() || image.value.contains(char::is_whitespace))
        {
            self.error(
                image.referenced,
                format!(
                    "preview app: image `{}` is not an image reference",
                    image.value
                ),
            );
        }
        if let Some(path) = &app.health_check
            && !path.value.starts_with('/')
        {
            self.error(
                path.referenced,
                format!(
                    "preview app: health_check `{}` must be an HTTP path starting with `/`",
                    path.value
                ),
            );
        }
        let (cpu, memory) = app
            .resources
            .map(|r| self.quantities("preview app", r))
            .unwrap_or_default();
        AppTemplate {
            image: app.image.map(|i| i.value.trim().to_owned()),
            port,
            env: self.env("preview app", app.env),
            command: app.command,
            args: app.args,
            cpu,
            memory,
            health_path: app.health_check.map(|p| p.value),
            replicas,
        }
    }

    fn chart(&mut self, chart: ChartSection, at: Location) -> ChartSource {
        let location = match (&chart.path, &chart.repo, &chart.name) {
            (Some(path), None, None) => {
                self.relative_path(path, "chart path");
                ChartLocation::Path(path.value.trim().trim_end_matches('/').to_owned())
            }
            (None, Some(repo), Some(name)) => {
                if !repo.value.starts_with("https://") && !repo.value.starts_with("oci://") {
                    self.error(
                        repo.referenced,
                        format!(
                            "preview chart: repo `{}` must be an https:// or oci:// URL",
                            repo.value
                        ),
                    );
                }
                ChartLocation::Repository {
                    repo: repo.value.clone(),
                    name: name.value.clone(),
                    version: chart.version.clone(),
                }
            }
            _ => {
                self.error(
                    at,
                    "preview chart: give either `path` (a chart in the repository) or both `repo` and `name`".to_owned(),
                );
                ChartLocation::Path(String::new())
            }
        };
        if let Some(values) = &chart.values {
            self.relative_path(values, "chart values");
        }
        let set = chart
            .set
            .into_iter()
            .map(|(key, value)| (key, value.value.0))
            .collect();
        ChartSource {
            chart: location,
            values: chart.values.map(|v| v.value.trim().to_owned()),
            set,
        }
    }

    fn relative_path(&mut self, path: &Spanned<String>, what: &str) {
        let text = path.value.trim();
        if text.is_empty() || text.starts_with('/') || text.split('/').any(|s| s == "..") {
            self.error(
                path.referenced,
                format!(
                    "preview {what} `{text}` must be a path inside the repository, without `..`"
                ),
            );
        }
    }

    fn env(
        &mut self,
        what: &str,
        env: BTreeMap<String, Spanned<EnvValue>>,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (key, value) in env {
            self.env_name(what, &key, value.referenced);
            if value.value.0.contains("${{") {
                self.error(
                    value.referenced,
                    format!(
                        "{what}: `{key}`: secrets (`${{{{ secrets.NAME }}}}`) are available to pipeline steps only"
                    ),
                );
            }
            out.insert(key, value.value.0);
        }
        out
    }
}
