//! A step's environment: the variables Slipway sets for every step, the step's own, and
//! `${{ secrets.NAME }}` references in its values replaced by the repository's secrets (a
//! reference to a secret the repository does not have fails the step, naming it).

use std::collections::BTreeMap;

use domain::Repository;
use domain::pipeline::{PipelineRun, StepDefinition};

/// What a step's environment depends on besides the step itself.
#[derive(Debug, Clone)]
pub struct RunContext<'a> {
    pub repository: &'a Repository,
    pub run: &'a PipelineRun,
    pub commit_sha: &'a str,
    pub registry: &'a str,
    /// The pull request's preview URL, for pull request runs.
    pub preview_url: Option<String>,
    /// The repository's secrets, by name, opened.
    pub secrets: &'a BTreeMap<String, String>,
}

/// A step's variable refers to a secret the repository does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` refers to secret `{name}`, which is not set for {repository}")]
pub struct MissingSecret {
    pub key: String,
    pub name: String,
    pub repository: String,
}

/// The step's complete environment, or which secret is missing.
pub fn step_environment(
    context: &RunContext<'_>,
    step: &StepDefinition,
) -> Result<BTreeMap<String, String>, MissingSecret> {
    let run = context.run;
    let mut env = BTreeMap::new();
    let project = project_name(&context.repository.name);
    let mut set = |key: &str, value: String| {
        env.insert(key.to_owned(), value);
    };
    set("PLATFORM_PROJECT_ID", context.repository.id.to_string());
    set("PLATFORM_PROJECT_NAME", context.repository.name.clone());
    set("COMMIT_SHA", context.commit_sha.to_owned());
    set("COMMIT_REF", run.git_ref.clone());
    set("COMMIT_BRANCH", run.branch().to_owned());
    set("PIPELINE_ID", run.id.to_string());
    set("STEP_NAME", step.name.clone());
    set("REGISTRY", context.registry.to_owned());
    set("PROJECT", project);
    if let Some(number) = run.pr_number {
        set("PR_NUMBER", number.to_string());
    }
    if let Some(url) = &context.preview_url {
        set("PREVIEW_URL", url.clone());
    }
    for (key, value) in &step.environment {
        env.insert(key.clone(), resolve_secrets(context, key, value)?);
    }
    Ok(env)
}

/// `value` with each `${{ secrets.NAME }}` replaced by the secret's value (other `${{ }}`
/// expressions are left as written).
fn resolve_secrets(
    context: &RunContext<'_>,
    key: &str,
    value: &str,
) -> Result<String, MissingSecret> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${{") {
        let after = &rest[start + 3..];
        let Some(end) = after.find("}}") else { break };
        out.push_str(&rest[..start]);
        match after[..end].trim().strip_prefix("secrets.").map(str::trim) {
            Some(name) => match context.secrets.get(name) {
                Some(secret) => out.push_str(secret),
                None => {
                    return Err(MissingSecret {
                        key: key.to_owned(),
                        name: name.to_owned(),
                        repository: context.repository.name.clone(),
                    });
                }
            },
            None => out.push_str(&rest[start..start + 3 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The image name part of `$REGISTRY/$PROJECT:$COMMIT_SHA`: the repository name, lower-cased,
/// with characters registries refuse replaced by `-`.
pub fn project_name(repository: &str) -> String {
    repository
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_are_valid_image_names() {
        assert_eq!(project_name("Acme/Shop"), "acme/shop");
        assert_eq!(project_name("my repo"), "my-repo");
    }
}
