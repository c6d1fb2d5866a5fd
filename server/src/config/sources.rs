//! Where setting values come from: the process environment over an optional TOML file.

use std::collections::BTreeMap;
use std::path::Path;

use super::settings::{SETTINGS, toml_key};
use super::{ConfigError, Problem};

/// Where a value was found, as `check-config` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Environment,
    File,
    /// A secret read from the file its `…_FILE` variable names (Docker and Kubernetes
    /// secrets, systemd credentials).
    SecretFile,
}

/// One `[[clusters]]` table of the TOML file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterTable {
    pub name: String,
    pub kubeconfig: Option<String>,
    pub context: Option<String>,
    #[serde(default)]
    pub in_cluster: bool,
}

/// Raw setting values by environment-variable name, before validation.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    values: BTreeMap<String, (String, Origin)>,
    clusters: Vec<ClusterTable>,
}

impl Sources {
    /// The process environment over the TOML file at `file`.
    pub fn from_process(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut sources = match file {
            Some(path) => Self::from_toml_file(path)?,
            None => Self::default(),
        };
        for (name, value) in std::env::vars_os() {
            let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
                continue;
            };
            if SETTINGS.iter().any(|s| s.env == name) {
                sources
                    .values
                    .insert(name.to_owned(), (value.to_owned(), Origin::Environment));
            }
        }
        sources.read_secret_files(|name| std::env::var_os(name))?;
        Ok(sources)
    }

    /// Every secret setting may instead be given as a file: `SLIPWAY_X_FILE=/run/secrets/x`
    /// reads `SLIPWAY_X` from it (one trailing line break dropped). Setting both is refused, as
    /// is a file that cannot be read, naming the `…_FILE` variable.
    fn read_secret_files(
        &mut self,
        var: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        for setting in SETTINGS.iter().filter(|s| s.secret) {
            let file_var = format!("{}_FILE", setting.env);
            let Some(path) = var(&file_var) else {
                continue;
            };
            if self.get(setting.env).is_some() {
                let message = format!("set {} or {file_var}, not both", setting.env);
                problems.push(Problem {
                    setting: file_var,
                    message,
                });
                continue;
            }
            let shown = std::path::Path::new(&path).display().to_string();
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let value = text
                        .strip_suffix('\n')
                        .map(|t| t.strip_suffix('\r').unwrap_or(t))
                        .unwrap_or(&text)
                        .to_owned();
                    self.values
                        .insert(setting.env.to_owned(), (value, Origin::SecretFile));
                }
                Err(error) => problems.push(Problem {
                    setting: file_var,
                    message: format!("cannot read `{shown}`: {error}"),
                }),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(problems))
        }
    }

    /// Values given directly, as if they came from the environment.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let values = pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), (v.to_owned(), Origin::Environment)))
            .collect();
        Self {
            values,
            clusters: Vec::new(),
        }
    }

    fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let setting = format!("--config {}", path.display());
        let problem = |message: String| {
            ConfigError(vec![Problem {
                setting: setting.clone(),
                message,
            }])
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| problem(format!("cannot read the file: {e}")))?;
        Self::from_toml_str(&text).map_err(|problems| {
            ConfigError(
                problems
                    .into_iter()
                    .map(|p| Problem {
                        setting: format!("{setting}: {}", p.setting),
                        message: p.message,
                    })
                    .collect(),
            )
        })
    }

    /// Parses a TOML document whose keys are the settings' TOML keys (`s3_bucket = "logs"`).
    pub fn from_toml_str(text: &str) -> Result<Self, Vec<Problem>> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            vec![Problem {
                setting: "TOML".into(),
                message: e.to_string().trim().replace('\n', " "),
            }]
        })?;
        let mut values = BTreeMap::new();
        let mut problems = Vec::new();
        let mut clusters = Vec::new();
        for (key, value) in table {
            if key == "clusters" {
                match value.try_into::<Vec<ClusterTable>>() {
                    Ok(tables) => clusters = tables,
                    Err(e) => problems.push(Problem {
                        setting: "clusters".into(),
                        message: format!("expected [[clusters]] tables with name, kubeconfig, context, in_cluster: {}", e.to_string().trim()),
                    }),
                }
                continue;
            }
            let Some(setting) = SETTINGS.iter().find(|s| toml_key(s.env) == key) else {
                problems.push(Problem {
                    setting: key.clone(),
                    message: "unknown setting (see README's configuration table)".into(),
                });
                continue;
            };
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    problems.push(Problem {
                        setting: key.clone(),
                        message: format!(
                            "expected a string, number or boolean, found {}",
                            other.type_str()
                        ),
                    });
                    continue;
                }
            };
            values.insert(setting.env.to_owned(), (text, Origin::File));
        }
        if problems.is_empty() {
            Ok(Self { values, clusters })
        } else {
            Err(problems)
        }
    }

    /// The value of a setting, if given anywhere. Blank values count as not given.
    pub fn get(&self, env: &str) -> Option<&str> {
        self.values
            .get(env)
            .map(|(v, _)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Sets a value as if it came from the environment (command-line flags use this).
    pub fn set(&mut self, env: &str, value: &str) {
        self.values
            .insert(env.to_owned(), (value.to_owned(), Origin::Environment));
    }

    /// The `[[clusters]]` tables of the file.
    pub fn clusters(&self) -> &[ClusterTable] {
        &self.clusters
    }

    /// Adds a `[[clusters]]` table as if it came from the file (tests).
    pub fn with_cluster(mut self, table: ClusterTable) -> Self {
        self.clusters.push(table);
        self
    }

    pub fn origin(&self, env: &str) -> Option<Origin> {
        self.get(env)
            .and_then(|_| self.values.get(env).map(|(_, o)| *o))
    }
}
