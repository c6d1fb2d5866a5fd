//! A transform spec as Slipway runs it: which repositories, at which ref, and the ordered steps
//! that make the change (each with its own timeout), validated and with defaults filled in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A step may run this long unless it says otherwise (10 minutes).
pub const DEFAULT_STEP_TIMEOUT_SECS: u64 = 600;
/// A whole execution (clone, steps, diff) may run this long unless the spec says otherwise.
pub const DEFAULT_TRANSFORM_TIMEOUT_SECS: u64 = 45 * 60;
/// Attempts an execution gets before it goes to the dead letters.
pub const DEFAULT_ATTEMPTS: u32 = 3;

/// A validated transform spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransformSpec {
    pub name: String,
    /// Repository names or glob patterns over them (`acme/*`), in the order written.
    pub repositories: Vec<String>,
    /// Names or patterns taken out of what `repositories` selects.
    pub exclude: Vec<String>,
    /// The branch, tag or commit each repository is changed from; `None`: its default branch.
    pub base_ref: Option<String>,
    pub steps: Vec<TransformStep>,
    /// Deadline of one repository's execution, in seconds.
    pub timeout_secs: u64,
    /// Record what would run, run nothing.
    pub dry_run: bool,
}

impl TransformSpec {
    /// The one image every step names: on a cluster the steps run one after another in one
    /// container (the checkout and what each step leaves are shared).
    pub fn single_image(&self) -> Result<&str, MixedImages> {
        let first = self.steps.first().map_or("", |s| s.image.as_str());
        match self.steps.iter().find(|s| s.image != first) {
            None => Ok(first),
            Some(other) => Err(MixedImages {
                first: self
                    .steps
                    .first()
                    .map(|s| s.name.clone())
                    .unwrap_or_default(),
                first_image: first.to_owned(),
                other: other.name.clone(),
                other_image: other.image.clone(),
            }),
        }
    }
}

/// Steps that name different images, which a cluster cannot run in one container.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "on a cluster all steps run in one container, so they must name one image: step `{first}` names `{first_image}` and step `{other}` names `{other_image}`"
)]
pub struct MixedImages {
    pub first: String,
    pub first_image: String,
    pub other: String,
    pub other_image: String,
}

/// One step of a transform: commands run in order in the repository's checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransformStep {
    pub name: String,
    /// The container image the commands run in (ignored by the local runner).
    pub image: String,
    pub commands: Vec<String>,
    /// Variables set for the commands.
    pub env: BTreeMap<String, String>,
    /// Repository secrets set as variables of the same name.
    pub secrets: Vec<String>,
    pub timeout_secs: u64,
}
