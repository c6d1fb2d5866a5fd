//! `.platform.yaml` as written: the YAML shape (unknown keys refused), with the position of
//! every value a later check may point at. It is also the source of the file's JSON Schema
//! (`slipway schema pipeline`), so the schema and the parser cannot disagree.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// `.platform.yaml`: Slipway's per-repository configuration.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = ".platform.yaml")]
pub struct PlatformFile {
    /// The pipeline Slipway runs on pushes, pull requests, schedules and API calls.
    #[schemars(with = "Option<PipelineSection>")]
    pub pipeline: Option<Spanned<PipelineSection>>,
    /// The environment every pull request gets.
    #[schemars(with = "Option<crate::preview::file::PreviewSection>")]
    pub preview: Option<Spanned<crate::preview::file::PreviewSection>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineSection {
    /// Steps run as containers (or local processes); independent steps run in parallel. At
    /// most 300.
    #[serde(default)]
    #[schemars(length(max = crate::pipeline::parse::MAX_STEPS))]
    pub steps: Vec<StepSection>,
    /// Files kept after a run, downloadable from the pipeline's page.
    #[serde(default)]
    pub artifacts: Vec<ArtifactSection>,
    /// When the pipeline runs by itself. Without it: every push and pull request.
    pub on: Option<TriggerSection>,
    /// Deadline for the whole run, e.g. `45m` (the default), `1h30m`.
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSection {
    /// Unique within the pipeline: letters, digits, `-`, `_`, `.` (at most 63).
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Container image the commands run in, e.g. `rust:1.85-slim`.
    #[schemars(with = "Option<String>")]
    pub image: Option<Spanned<String>>,
    /// Shell commands, run in order in `/workspace`; the first failure fails the step.
    #[serde(default)]
    pub commands: Vec<String>,
    /// Extra environment variables; `${{ secrets.NAME }}` inserts a repository secret.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, EnvValue>")]
    pub environment: BTreeMap<String, Spanned<EnvValue>>,
    /// Steps that must succeed before this one starts.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub depends_on: Vec<Spanned<String>>,
    /// How long the step may run, e.g. `10m` (the default), `90s`.
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    /// CPU and memory for the step's container (Kubernetes quantities).
    pub resources: Option<ResourcesSection>,
    /// `image`: the step pushes `$REGISTRY/$PROJECT:$COMMIT_SHA`, the image previews deploy.
    pub publishes: Option<Publishes>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcesSection {
    /// e.g. `500m`, `2`.
    #[schemars(with = "Option<String>")]
    pub cpu: Option<Spanned<String>>,
    /// e.g. `512Mi`, `2Gi`.
    #[schemars(with = "Option<String>")]
    pub memory: Option<Spanned<String>>,
}

/// What a step publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Publishes {
    Image,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtifactSection {
    /// Unique within the pipeline: letters, digits, `-`, `_`, `.` (at most 63).
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// File or folder relative to the workspace, e.g. `target/nextest/`.
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    /// The step that produces it; by default the last step in the file.
    #[schemars(with = "Option<String>")]
    pub step: Option<Spanned<String>>,
    /// How long it is kept, e.g. `7d` (the default), `12h`.
    #[schemars(with = "Option<String>")]
    pub expires: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerSection {
    /// Pushes to matching branches run the pipeline.
    pub push: Option<PushSection>,
    /// Pull request events run the pipeline at the pull request's head commit.
    pub mr: Option<PullRequestSection>,
    /// Cron schedules (UTC).
    #[serde(default)]
    pub schedule: Vec<ScheduleSection>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PushSection {
    /// Branch globs such as `main` or `release/*`; empty or absent: every branch.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub branches: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PullRequestSection {
    /// `opened`, `synchronize` (a new push), `reopened`, `ready_for_review`, `labeled`,
    /// `edited`; absent: opened, synchronize and reopened.
    #[schemars(with = "Option<Vec<String>>")]
    pub actions: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSection {
    /// Five cron fields, UTC: minute hour day-of-month month day-of-week.
    #[schemars(with = "String")]
    pub cron: Spanned<String>,
    /// Branch to run on; the repository's default branch when absent.
    #[schemars(with = "Option<String>")]
    pub branch: Option<Spanned<String>>,
}

/// An environment value: YAML strings, numbers and booleans are all taken as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvValue(pub String);

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = EnvValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_owned()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl JsonSchema for EnvValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EnvValue".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": ["string", "number", "boolean"] })
    }
}
