//! Turns the text of `.platform.yaml` into a [`PipelineDefinition`], or into every problem it
//! has, each with its line, column and what is wrong in words.

use std::collections::{BTreeMap, HashMap};

use serde_saphyr::{Location, Spanned};

use super::dag::Dag;
use super::definition::{
    ArtifactDefinition, DEFAULT_ARTIFACT_EXPIRY_SECS, DEFAULT_PIPELINE_TIMEOUT_SECS,
    DEFAULT_STEP_TIMEOUT_SECS, DefinitionError, DefinitionErrors, INJECTED_VARIABLES,
    PipelineDefinition, Schedule, StepDefinition, StepResources, Triggers,
};
use super::file::{
    ArtifactSection, PipelineSection, PlatformFile, Publishes, StepSection, TriggerSection,
};
use crate::quantity;

/// Pull request actions a pipeline can run on.
pub const PULL_REQUEST_ACTIONS: [&str; 6] = [
    "opened",
    "synchronize",
    "reopened",
    "ready_for_review",
    "labeled",
    "edited",
];

/// Parses and validates a whole `.platform.yaml`; `Ok(None)` when it has no `pipeline:`.
pub fn parse_pipeline(text: &str) -> Result<Option<PipelineDefinition>, DefinitionErrors> {
    let file = read_file(text)?;
    let Some(section) = file.pipeline else {
        return Ok(None);
    };
    let mut check = Checker::default();
    let definition = check.pipeline(section.value, section.referenced);
    if check.errors.is_empty() {
        Ok(Some(definition))
    } else {
        check.errors.sort_by_key(|error| (error.line, error.column));
        Err(DefinitionErrors(check.errors))
    }
}

pub(crate) fn read_file(text: &str) -> Result<PlatformFile, DefinitionErrors> {
    if text.trim().is_empty() {
        return Ok(PlatformFile {
            pipeline: None,
            preview: None,
        });
    }
    read_yaml(text)
}

/// The largest file Slipway reads as `.platform.yaml` or a transform spec.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// The most steps one pipeline may have.
pub const MAX_STEPS: usize = 300;

/// Reads YAML text as `T`; a problem is one error with its line and column. Files over
/// [`MAX_FILE_BYTES`] are refused unread; aliases are bounded by the parser's own budget (an
/// alias "bomb" is refused, not expanded).
pub(crate) fn read_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, DefinitionErrors> {
    if text.len() > MAX_FILE_BYTES {
        return Err(DefinitionErrors(vec![DefinitionError {
            line: 1,
            column: 1,
            message: format!(
                "the file is {} bytes; Slipway reads files of at most {MAX_FILE_BYTES} bytes (1 MiB)",
                text.len()
            ),
        }]));
    }
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_str_with_options(text, options).map_err(|error| {
        let (line, column) = error
            .location()
            .map_or((1, 1), |at| (clamp(at.line()), clamp(at.column())));
        DefinitionErrors(vec![DefinitionError {
            line,
            column,
            message: plain_message(&error.to_string()),
        }])
    })
}

/// The parser's message without the position it appends (the error carries that separately).
fn plain_message(rendered: &str) -> String {
    let first = rendered.lines().next().unwrap_or(rendered).trim();
    // A problem inside an alias also says where its anchor is (and where it is used, which is
    // the error's own position).
    let (first, anchor) = match first.split_once(" (defined at line ") {
        Some((message, rest)) => (message, rest.split_once(')').map(|(at, _)| at)),
        None => (first, None),
    };
    let message = plain_words(first);
    match anchor {
        Some(at) => format!("{message} (in what the alias here repeats, defined at line {at})"),
        None => message,
    }
}

fn plain_words(first: &str) -> String {
    let without_position = first
        .rsplit_once(" at line ")
        .map_or(first, |(message, _)| message);
    let message = without_position.trim_end_matches('.');
    // The parser's words for YAML node kinds, in the words of someone editing the file.
    match message {
        "expected string scalar" => "expected a string".to_owned(),
        "expected sequence start" => "expected a list (`- item` lines or `[a, b]`)".to_owned(),
        "expected mapping start" => "expected `key: value` lines".to_owned(),
        other => other.to_owned(),
    }
}

fn clamp(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Collects every problem of a file, with its position.
#[derive(Default)]
pub(crate) struct Checker {
    pub(crate) errors: Vec<DefinitionError>,
}

impl Checker {
    pub(crate) fn error(&mut self, at: Location, message: String) {
        self.errors.push(DefinitionError {
            line: clamp(at.line()),
            column: clamp(at.column()),
            message,
        });
    }

    /// A problem of the whole file (something missing), reported at its first line.
    pub(crate) fn error_in_file(&mut self, message: String) {
        self.errors.push(DefinitionError {
            line: 1,
            column: 1,
            message,
        });
    }

    fn pipeline(&mut self, mut section: PipelineSection, at: Location) -> PipelineDefinition {
        if section.steps.is_empty() {
            self.error(at, "`pipeline.steps` needs at least one step".to_owned());
        }
        if section.steps.len() > MAX_STEPS {
            self.error(
                at,
                format!(
                    "`pipeline.steps` has {} steps; a pipeline has at most {MAX_STEPS}",
                    section.steps.len()
                ),
            );
            // The rest is not checked step by step: one problem, not thousands.
            section.steps.truncate(MAX_STEPS);
        }
        let mut first_seen: HashMap<String, Location> = HashMap::new();
        for step in &section.steps {
            if let Some(first) = first_seen.get(&step.name.value) {
                self.error(
                    step.name.referenced,
                    format!(
                        "step `{}` is defined twice (first on line {})",
                        step.name.value,
                        first.line()
                    ),
                );
            } else {
                first_seen.insert(step.name.value.clone(), step.name.referenced);
            }
        }
        let names: Vec<String> = section.steps.iter().map(|s| s.name.value.clone()).collect();
        let steps: Vec<StepDefinition> = section
            .steps
            .into_iter()
            .map(|step| self.step(step, &names))
            .collect();
        self.cycles(&steps, &first_seen);
        let last_step = names.last().cloned().unwrap_or_default();
        let artifacts = self.artifacts(section.artifacts, &names, &last_step);
        let triggers = section
            .on
            .map_or_else(Triggers::default, |on| self.triggers(on));
        let timeout_secs = self.duration(
            section.timeout.as_ref(),
            "pipeline timeout",
            DEFAULT_PIPELINE_TIMEOUT_SECS,
        );
        PipelineDefinition {
            steps,
            artifacts,
            triggers,
            timeout_secs,
        }
    }

    fn step(&mut self, step: StepSection, names: &[String]) -> StepDefinition {
        let name = step.name.value.clone();
        let at = step.name.referenced;
        if !valid_name(&name) {
            self.error(at, format!("step name `{name}` is not valid: {NAME_RULE}"));
        }
        let image = match step.image {
            Some(image) if !image.value.trim().is_empty() => image.value.trim().to_owned(),
            Some(image) => {
                self.error(
                    image.referenced,
                    format!("step `{name}`: image is required"),
                );
                String::new()
            }
            None => {
                self.error(at, format!("step `{name}`: image is required"));
                String::new()
            }
        };
        if step.commands.iter().all(|c| c.trim().is_empty()) {
            self.error(
                at,
                format!("step `{name}`: commands are required (at least one)"),
            );
        }
        for dep in &step.depends_on {
            if dep.value == name {
                self.error(dep.referenced, format!("step `{name}` depends on itself"));
            } else if !names.contains(&dep.value) {
                let hint = closest(&dep.value, names)
                    .map(|near| format!(" (did you mean `{near}`?)"))
                    .unwrap_or_default();
                self.error(
                    dep.referenced,
                    format!(
                        "step `{name}` depends on unknown step `{}`{hint}",
                        dep.value
                    ),
                );
            }
        }
        let environment = self.environment(&name, step.environment);
        let resources = self.resources(&name, step.resources);
        let timeout_secs = self.duration(
            step.timeout.as_ref(),
            &format!("step `{name}`: timeout"),
            DEFAULT_STEP_TIMEOUT_SECS,
        );
        let publishes_image = step.publishes == Some(Publishes::Image) || image.contains("kaniko");
        StepDefinition {
            name,
            image,
            commands: step.commands,
            environment,
            depends_on: step.depends_on.into_iter().map(|d| d.value).collect(),
            timeout_secs,
            resources,
            publishes_image,
        }
    }

    fn environment(
        &mut self,
        step: &str,
        environment: BTreeMap<String, Spanned<super::file::EnvValue>>,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (key, value) in environment {
            self.env_name(&format!("step `{step}`"), &key, value.referenced);
            if let Some(bad) = secret_references(&value.value.0)
                .into_iter()
                .find(|name| !valid_secret_name(name))
            {
                self.error(
                    value.referenced,
                    format!(
                        "step `{step}`: secret name `{bad}` is not valid: use letters, digits and `_`"
                    ),
                );
            }
            out.insert(key, value.value.0);
        }
        out
    }

    fn resources(
        &mut self,
        step: &str,
        resources: Option<super::file::ResourcesSection>,
    ) -> StepResources {
        let Some(resources) = resources else {
            return StepResources::default();
        };
        let (cpu, memory) = self.quantities(&format!("step `{step}`"), resources);
        StepResources { cpu, memory }
    }

    /// Checks CPU and memory quantities, naming `what` they belong to in messages.
    pub(crate) fn quantities(
        &mut self,
        what: &str,
        resources: super::file::ResourcesSection,
    ) -> (Option<String>, Option<String>) {
        if let Some(cpu) = &resources.cpu
            && quantity::cpu_millicores(&cpu.value).is_none_or(|m| m == 0)
        {
            self.error(
                cpu.referenced,
                format!(
                    "{what}: cpu `{}` is not a CPU quantity: use e.g. `500m` or `2`",
                    cpu.value
                ),
            );
        }
        if let Some(memory) = &resources.memory
            && quantity::bytes(&memory.value).is_none_or(|b| b == 0)
        {
            self.error(
                memory.referenced,
                format!(
                    "{what}: memory `{}` is not a memory quantity: use e.g. `512Mi` or `2Gi`",
                    memory.value
                ),
            );
        }
        (
            resources.cpu.map(|c| c.value),
            resources.memory.map(|m| m.value),
        )
    }

    /// Checks an environment variable's name: valid, and not one Slipway sets.
    pub(crate) fn env_name(&mut self, what: &str, key: &str, at: Location) {
        let valid = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            self.error(
                at,
                format!(
                    "{what}: environment variable name `{key}` is not valid: use letters, digits and `_`, not starting with a digit"
                ),
            );
        } else if INJECTED_VARIABLES.contains(&key) {
            self.error(
                at,
                format!("{what}: `{key}` is set by Slipway and cannot be overridden"),
            );
        }
    }

    fn cycles(&mut self, steps: &[StepDefinition], positions: &HashMap<String, Location>) {
        let dag = Dag::new(&PipelineDefinition {
            steps: steps.to_vec(),
            artifacts: Vec::new(),
            triggers: Triggers::default(),
            timeout_secs: 0,
        });
        // A step depending on itself is reported where it is written.
        if let Some(cycle) = dag.find_cycle().filter(|cycle| cycle.len() > 2) {
            let names: Vec<&str> = cycle.iter().map(|&i| steps[i].name.as_str()).collect();
            if let Some(&at) = positions.get(names[0]) {
                self.error(at, format!("cycle: {}", names.join(" → ")));
            }
        }
    }

    fn artifacts(
        &mut self,
        artifacts: Vec<ArtifactSection>,
        steps: &[String],
        last_step: &str,
    ) -> Vec<ArtifactDefinition> {
        let mut seen: HashMap<String, u64> = HashMap::new();
        let mut out = Vec::new();
        for artifact in artifacts {
            let name = artifact.name.value;
            let at = artifact.name.referenced;
            if !valid_name(&name) {
                self.error(
                    at,
                    format!("artifact name `{name}` is not valid: {NAME_RULE}"),
                );
            }
            if let Some(first) = seen.get(&name) {
                self.error(
                    at,
                    format!("artifact `{name}` is defined twice (first on line {first})"),
                );
            } else {
                seen.insert(name.clone(), at.line());
            }
            let path = artifact.path.value.trim().to_owned();
            let escapes = path.split('/').any(|segment| segment == "..");
            if path.is_empty() || path.starts_with('/') || escapes {
                self.error(
                    artifact.path.referenced,
                    format!(
                        "artifact `{name}`: path `{path}` must be relative to the workspace, without `..`"
                    ),
                );
            }
            let step = match artifact.step {
                Some(step) if steps.contains(&step.value) => step.value,
                Some(step) => {
                    self.error(
                        step.referenced,
                        format!("artifact `{name}` comes from unknown step `{}`", step.value),
                    );
                    step.value
                }
                None => last_step.to_owned(),
            };
            let expires_secs = self.duration(
                artifact.expires.as_ref(),
                &format!("artifact `{name}`: expires"),
                DEFAULT_ARTIFACT_EXPIRY_SECS,
            );
            out.push(ArtifactDefinition {
                name,
                path,
                step,
                expires_secs,
            });
        }
        out
    }

    fn triggers(&mut self, on: TriggerSection) -> Triggers {
        let push_branches = on.push.map(|push| {
            let mut branches = Vec::new();
            for branch in push.branches {
                if let Err(error) = super::trigger::branch_glob(&branch.value) {
                    self.error(
                        branch.referenced,
                        format!("branch pattern `{}` is not valid: {error}", branch.value),
                    );
                }
                branches.push(branch.value);
            }
            if branches.is_empty() {
                branches.push("**".to_owned());
            }
            branches
        });
        let pull_request_actions = on.mr.map(|mr| match mr.actions {
            None => Triggers::default().pull_request_actions.unwrap_or_default(),
            Some(actions) => actions
                .into_iter()
                .map(|action| {
                    let normalised = match action.value.as_str() {
                        "synchronized" | "updated" => "synchronize".to_owned(),
                        other => other.to_owned(),
                    };
                    if !PULL_REQUEST_ACTIONS.contains(&normalised.as_str()) {
                        self.error(
                            action.referenced,
                            format!(
                                "pull request action `{}` is not known: use {}",
                                action.value,
                                PULL_REQUEST_ACTIONS.join(", ")
                            ),
                        );
                    }
                    normalised
                })
                .collect(),
        });
        let schedules = on
            .schedule
            .into_iter()
            .map(|schedule| {
                if let Err(reason) = super::trigger::parse_cron(&schedule.cron.value) {
                    self.error(
                        schedule.cron.referenced,
                        format!(
                            "schedule `{}` is not a valid cron expression: {reason}",
                            schedule.cron.value
                        ),
                    );
                }
                Schedule {
                    cron: schedule.cron.value,
                    branch: schedule.branch.map(|b| b.value),
                }
            })
            .collect();
        Triggers {
            push_branches,
            pull_request_actions,
            schedules,
        }
    }

    pub(crate) fn duration(
        &mut self,
        value: Option<&Spanned<String>>,
        what: &str,
        default: u64,
    ) -> u64 {
        let Some(value) = value else {
            return default;
        };
        match humantime::parse_duration(value.value.trim()) {
            Ok(duration) if duration.as_secs() > 0 => duration.as_secs(),
            _ => {
                self.error(
                    value.referenced,
                    format!(
                        "{what} `{}` is not a duration: use e.g. `90s`, `10m`, `1h30m`, `7d`",
                        value.value
                    ),
                );
                default
            }
        }
    }
}

pub(crate) const NAME_RULE: &str =
    "use letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit, at most 63";

/// Step and artifact names end up in pod names, labels and object keys.
pub(crate) fn valid_name(name: &str) -> bool {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    name.len() <= 63
        && edge_ok(name.chars().next())
        && edge_ok(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

pub(crate) fn valid_secret_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Names in `${{ secrets.NAME }}` references, in order.
pub fn secret_references(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let after = &rest[start + 3..];
        let Some(end) = after.find("}}") else { break };
        if let Some(name) = after[..end].trim().strip_prefix("secrets.") {
            names.push(name.trim().to_owned());
        }
        rest = &after[end + 2..];
    }
    names
}

/// The known name nearest to a misspelt one, when it is close enough to be a typo.
pub(crate) fn closest<'a>(unknown: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .map(|name| (strsim::levenshtein(unknown, name), name))
        .filter(|(distance, name)| *distance <= 2.max(name.len() / 3))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name.as_str())
}
