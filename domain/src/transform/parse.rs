//! Turns a transform spec's text into a [`TransformSpec`], or into every problem it has, each
//! with its line, column and what is wrong in words (the same checker as `.platform.yaml`).

use std::collections::{BTreeMap, HashMap};

use serde_saphyr::Spanned;

use super::definition::{
    DEFAULT_STEP_TIMEOUT_SECS, DEFAULT_TRANSFORM_TIMEOUT_SECS, TransformSpec, TransformStep,
};
use super::file::{TransformFile, TransformStepSection};
use crate::pipeline::file::EnvValue;
use crate::pipeline::parse::{Checker, NAME_RULE, read_yaml, valid_name, valid_secret_name};
use crate::pipeline::{DefinitionError, DefinitionErrors};

/// A spec's name is shown in lists and summaries.
const MAX_NAME_CHARS: usize = 100;

/// Parses and validates a transform spec.
pub fn parse_transform(text: &str) -> Result<TransformSpec, DefinitionErrors> {
    if text.trim().is_empty() {
        return Err(DefinitionErrors(vec![DefinitionError {
            line: 1,
            column: 1,
            message: "the spec is empty: it needs `name`, `repositories` and `steps`".to_owned(),
        }]));
    }
    let file: TransformFile = read_yaml(text)?;
    let mut check = Checker::default();
    let spec = spec(&mut check, file);
    if check.errors.is_empty() {
        Ok(spec)
    } else {
        check.errors.sort_by_key(|error| (error.line, error.column));
        Err(DefinitionErrors(check.errors))
    }
}

fn spec(check: &mut Checker, file: TransformFile) -> TransformSpec {
    let name = file.name.value.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        check.error(
            file.name.referenced,
            format!("`name` must be 1 to {MAX_NAME_CHARS} characters"),
        );
    }
    if file.repositories.is_empty() {
        check.error_in_file(
            "`repositories` needs at least one repository name or pattern".to_owned(),
        );
    }
    let repositories = patterns(check, "repositories", file.repositories);
    let exclude = patterns(check, "exclude", file.exclude);
    let base_ref = file.base_ref.map(|base| {
        let value = base.value.trim().to_owned();
        if value.is_empty()
            || value.starts_with('-')
            || value.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            check.error(
                base.referenced,
                format!("base_ref `{value}` is not a valid branch, tag or commit"),
            );
        }
        value
    });
    if file.steps.is_empty() {
        check.error_in_file("`steps` needs at least one step".to_owned());
    }
    let mut first_seen: HashMap<String, u64> = HashMap::new();
    let steps = file
        .steps
        .into_iter()
        .map(|section| {
            let name = &section.name;
            match first_seen.get(&name.value) {
                Some(line) => check.error(
                    name.referenced,
                    format!(
                        "step `{}` is defined twice (first on line {line})",
                        name.value
                    ),
                ),
                None => {
                    first_seen.insert(name.value.clone(), name.referenced.line());
                }
            }
            step(check, section)
        })
        .collect();
    let timeout_secs = check.duration(
        file.timeout.as_ref(),
        "timeout",
        DEFAULT_TRANSFORM_TIMEOUT_SECS,
    );
    TransformSpec {
        name,
        repositories,
        exclude,
        base_ref,
        steps,
        timeout_secs,
        dry_run: file.dry_run,
    }
}

/// Names and glob patterns; a pattern that is not a valid glob is an error where it is written.
fn patterns(check: &mut Checker, field: &str, values: Vec<Spanned<String>>) -> Vec<String> {
    values
        .into_iter()
        .map(|value| {
            let pattern = value.value.trim().to_owned();
            if pattern.is_empty() {
                check.error(value.referenced, format!("`{field}`: an entry is empty"));
            } else if let Err(error) = super::select::glob(&pattern) {
                check.error(
                    value.referenced,
                    format!("`{field}`: `{pattern}` is not a valid pattern: {error}"),
                );
            }
            pattern
        })
        .collect()
}

fn step(check: &mut Checker, section: TransformStepSection) -> TransformStep {
    let name = section.name.value.clone();
    let at = section.name.referenced;
    if !valid_name(&name) {
        check.error(at, format!("step name `{name}` is not valid: {NAME_RULE}"));
    }
    let image = match section.image {
        Some(image) if !image.value.trim().is_empty() => image.value.trim().to_owned(),
        Some(image) => {
            check.error(
                image.referenced,
                format!("step `{name}`: image is required"),
            );
            String::new()
        }
        None => {
            check.error(at, format!("step `{name}`: image is required"));
            String::new()
        }
    };
    if section.commands.iter().all(|c| c.trim().is_empty()) {
        check.error(
            at,
            format!("step `{name}`: commands are required (at least one)"),
        );
    }
    let env = environment(check, &name, section.env);
    let secrets = section
        .secrets
        .into_iter()
        .map(|secret| {
            if !valid_secret_name(&secret.value) {
                check.error(
                    secret.referenced,
                    format!(
                        "step `{name}`: secret name `{}` is not valid: use letters, digits and `_`",
                        secret.value
                    ),
                );
            }
            secret.value
        })
        .collect();
    let timeout_secs = check.duration(
        section.timeout.as_ref(),
        &format!("step `{name}`: timeout"),
        DEFAULT_STEP_TIMEOUT_SECS,
    );
    TransformStep {
        name,
        image,
        commands: section.commands,
        env,
        secrets,
        timeout_secs,
    }
}

fn environment(
    check: &mut Checker,
    step: &str,
    env: BTreeMap<String, Spanned<EnvValue>>,
) -> BTreeMap<String, String> {
    env.into_iter()
        .map(|(key, value)| {
            check.env_name(&format!("step `{step}`"), &key, value.referenced);
            (key, value.value.0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "\
name: bump-serde
repositories: [acme/*, tools/cli]
exclude: [acme/legacy-*]
steps:
  - name: bump
    image: rust:1.85-slim
    commands: [\"sed -i s/1.0.1/1.0.2/ Cargo.toml\"]
    env: { RETRIES: 3 }
    secrets: [REGISTRY_TOKEN]
  - name: test
    image: rust:1.85-slim
    commands: [cargo test]
    timeout: 20m
";

    #[test]
    fn a_spec_gets_its_defaults() {
        let spec = parse_transform(SPEC).expect("valid");
        assert_eq!(spec.repositories, ["acme/*", "tools/cli"]);
        assert_eq!(spec.exclude, ["acme/legacy-*"]);
        assert_eq!(spec.base_ref, None);
        assert_eq!(spec.timeout_secs, 45 * 60);
        assert!(!spec.dry_run);
        assert_eq!(spec.steps[0].timeout_secs, 600);
        assert_eq!(spec.steps[0].env["RETRIES"], "3");
        assert_eq!(spec.steps[0].secrets, ["REGISTRY_TOKEN"]);
        assert_eq!(spec.steps[1].timeout_secs, 20 * 60);
    }

    #[test]
    fn every_problem_is_reported_where_it_is_written() {
        let text = "\
name: x
repositories: ['acme/[']
steps:
  - name: a
    image: alpine
    commands: [true]
    timeout: soon
  - name: a
    commands: [true]
";
        let errors = parse_transform(text).expect_err("invalid").0;
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 4, "{shown:#?}");
        assert!(
            shown[0].starts_with("2:16: `repositories`: `acme/[` is not a valid pattern"),
            "{shown:#?}"
        );
        assert!(
            shown[1].starts_with("7:14: step `a`: timeout `soon` is not a duration"),
            "{shown:#?}"
        );
        assert_eq!(
            shown[2],
            "8:11: step `a` is defined twice (first on line 4)"
        );
        assert_eq!(shown[3], "8:11: step `a`: image is required");
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_position() {
        let errors = parse_transform("name: x\nrepos: [a]\n")
            .expect_err("invalid")
            .0;
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.contains("repos"), "{errors:?}");
    }

    #[test]
    fn an_empty_spec_says_what_it_needs() {
        let errors = parse_transform("  \n").expect_err("invalid");
        assert!(
            errors
                .to_string()
                .contains("`name`, `repositories` and `steps`")
        );
    }
}
