//! A transform spec as written (YAML, unknown keys refused), with the position of every value a
//! later check may point at. It is also the source of the spec's JSON Schema
//! (`slipway schema transform`), so the schema and the parser cannot disagree.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::pipeline::file::EnvValue;

/// A change to try across many repositories, publishing nothing.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Slipway transform spec")]
pub struct TransformFile {
    /// What the change is, e.g. `bump-serde` (at most 100 characters).
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Repository names Slipway knows (`acme/shop`) or glob patterns over them (`acme/*`).
    #[schemars(with = "Vec<String>")]
    #[serde(default)]
    pub repositories: Vec<Spanned<String>>,
    /// Names or patterns left out of what `repositories` selects.
    #[schemars(with = "Vec<String>")]
    #[serde(default)]
    pub exclude: Vec<Spanned<String>>,
    /// The branch, tag or commit to change; by default each repository's default branch.
    #[schemars(with = "Option<String>")]
    pub base_ref: Option<Spanned<String>>,
    /// Run in order in the repository's checkout; the first failure ends the execution.
    #[serde(default)]
    pub steps: Vec<TransformStepSection>,
    /// Deadline of one repository's execution, e.g. `45m` (the default).
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    /// Record what would run, run nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransformStepSection {
    /// Unique within the spec: letters, digits, `-`, `_`, `.` (at most 63).
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Container image the commands run in, e.g. `rust:1.85-slim`.
    #[schemars(with = "Option<String>")]
    pub image: Option<Spanned<String>>,
    /// Shell commands, run in order; the first failure fails the step.
    #[serde(default)]
    pub commands: Vec<String>,
    /// Variables set for the commands.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, EnvValue>")]
    pub env: BTreeMap<String, Spanned<EnvValue>>,
    /// Repository secrets set as variables of the same name.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub secrets: Vec<Spanned<String>>,
    /// How long the step may run, e.g. `10m` (the default), `90s`.
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
}
