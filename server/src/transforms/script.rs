//! The shell script an execution runs in the repository's checkout: each step in order under
//! `timeout --foreground` where it has it (GNU's, which stays in the runner's process group, so that a cancel or
//! Slipway stopping ends the step's processes with the rest; its variables and secrets come from the process environment, never from the
//! script's text, which others on the host can read), marker lines saying which step runs and
//! which one timed out, then everything staged and the binary-safe patch and its numbers
//! written where the runner collects them (`.git/slipway/`, outside the work tree).

use std::collections::BTreeMap;

use domain::transform::{TransformSpec, TransformStep};

use crate::pipelines::local::{script as commands_script, shell_quote};

/// What the script's own lines start with.
pub const MARKER: &str = "::slipway::";
/// Where the patch and its numbers are left, relative to the checkout.
pub const OUTPUT_DIR: &str = ".git/slipway";
pub const PATCH_FILE: &str = "patch.diff";
pub const NUMSTAT_FILE: &str = "numstat";
/// The variable the script travels in, and the one command the runner is given: the script
/// then runs in a shell of its own (the runner's `set -e` would end it before it could say
/// which step failed).
pub const SCRIPT_VARIABLE: &str = "SLIPWAY_TRANSFORM_SCRIPT";
pub const RUN_SCRIPT: &str = "exec sh -c \"$SLIPWAY_TRANSFORM_SCRIPT\"";

/// Whether an output line is the runner's own about the machinery (the command it echoes,
/// the files it collected), which the execution's log leaves out.
pub fn is_machinery(line: &str) -> bool {
    line.strip_prefix("+ ") == Some(RUN_SCRIPT) || line.starts_with("slipway: artifact `patch`")
}

/// `timeout`'s exit code when the time ran out.
const TIMED_OUT: i32 = 124;

/// The environment variable that carries `key` of step number `index` (from 1).
fn carrier(index: usize, key: &str) -> String {
    format!("SLIPWAY_T{index}_{key}")
}

/// The script, and the environment it needs (each step's variables and opened secrets under
/// carrier names); `secrets` are the repository's, by name.
pub fn execution_script(
    spec: &TransformSpec,
    secrets: &BTreeMap<String, String>,
) -> Result<(String, BTreeMap<String, String>), MissingSecret> {
    let mut environment = BTreeMap::new();
    // BusyBox's `timeout` (in Alpine-based images) has no `--foreground`, which only matters
    // on a host (a container is its own process group).
    let mut script = String::from(
        "set -u\nif timeout --foreground 5 true 2>/dev/null; then fg=--foreground; else fg=; fi\n",
    );
    for (index, step) in spec.steps.iter().enumerate() {
        let index = index + 1;
        let mut exports = String::new();
        for (key, value) in step_variables(step, secrets)? {
            let carried = carrier(index, &key);
            exports.push_str(&format!("export {key}=\"${{{carried}}}\"; "));
            environment.insert(carried, value);
        }
        let name = shell_quote(&step.name);
        let inner = shell_quote(&commands_script(&step.commands));
        let secs = step.timeout_secs;
        script.push_str(&format!(
            "printf '%s step %s\\n' '{MARKER}' {name}\n\
             code=0\n\
             ( {exports}exec timeout $fg -k 5 {secs} sh -c {inner} ) || code=$?\n\
             if [ \"$code\" -eq {TIMED_OUT} ]; then printf '%s timed-out %s\\n' '{MARKER}' {name}; exit {TIMED_OUT}; fi\n\
             if [ \"$code\" -ne 0 ]; then exit \"$code\"; fi\n"
        ));
    }
    script.push_str(&format!(
        "printf '%s diff\\n' '{MARKER}'\n\
         mkdir -p {OUTPUT_DIR} && git add -A && \
         git diff --cached --binary > {OUTPUT_DIR}/{PATCH_FILE} && \
         git diff --cached --numstat -z > {OUTPUT_DIR}/{NUMSTAT_FILE}\n"
    ));
    environment.insert(SCRIPT_VARIABLE.to_owned(), script.clone());
    Ok((script, environment))
}

/// A step's own variables and its secrets, by the names the commands see.
fn step_variables(
    step: &TransformStep,
    secrets: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, MissingSecret> {
    let mut variables = step.env.clone();
    for name in &step.secrets {
        let value = secrets.get(name).ok_or_else(|| MissingSecret {
            step: step.name.clone(),
            name: name.clone(),
        })?;
        variables.insert(name.clone(), value.clone());
    }
    Ok(variables)
}

/// A step asks for a secret its repository does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("step `{step}` needs secret `{name}`, which this repository does not have")]
pub struct MissingSecret {
    pub step: String,
    pub name: String,
}

/// What the marker lines of an execution's output said: the step that ran last, and whether
/// it timed out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub step: Option<String>,
    pub timed_out: bool,
    pub diffing: bool,
}

impl Progress {
    /// Takes note of a line of output; `true` when it was one of the script's own.
    pub fn note(&mut self, line: &str) -> bool {
        let Some(rest) = line.strip_prefix(MARKER) else {
            return false;
        };
        let rest = rest.trim();
        if let Some(step) = rest.strip_prefix("step ") {
            self.step = Some(step.to_owned());
        } else if rest.starts_with("timed-out ") {
            self.timed_out = true;
        } else if rest == "diff" {
            self.diffing = true;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TransformSpec {
        TransformSpec {
            name: "bump".into(),
            repositories: vec!["acme/*".into()],
            exclude: Vec::new(),
            base_ref: None,
            steps: vec![TransformStep {
                name: "edit".into(),
                image: "alpine".into(),
                commands: vec!["echo $TOKEN".into()],
                env: BTreeMap::from([("MODE".into(), "fast".into())]),
                secrets: vec!["TOKEN".into()],
                timeout_secs: 30,
            }],
            timeout_secs: 60,
            dry_run: false,
        }
    }

    #[test]
    fn secrets_travel_in_the_environment_not_in_the_script() {
        let secrets = BTreeMap::from([("TOKEN".to_owned(), "s3cr3t-value".to_owned())]);
        let (script, environment) = execution_script(&spec(), &secrets).expect("script");
        assert!(!script.contains("s3cr3t-value"), "{script}");
        assert_eq!(environment["SLIPWAY_T1_TOKEN"], "s3cr3t-value");
        assert_eq!(environment["SLIPWAY_T1_MODE"], "fast");
        assert!(
            script.contains("export TOKEN=\"${SLIPWAY_T1_TOKEN}\""),
            "{script}"
        );
        assert!(script.contains("timeout $fg -k 5 30 sh -c"), "{script}");
    }

    #[test]
    fn a_missing_secret_names_the_step_and_the_secret() {
        let error = execution_script(&spec(), &BTreeMap::new()).expect_err("missing");
        assert_eq!(
            error.to_string(),
            "step `edit` needs secret `TOKEN`, which this repository does not have"
        );
    }

    #[test]
    fn marker_lines_say_which_step_ran_and_that_it_timed_out() {
        let mut progress = Progress::default();
        assert!(!progress.note("ordinary output"));
        assert!(progress.note("::slipway:: step edit"));
        assert!(progress.note("::slipway:: timed-out edit"));
        assert_eq!(progress.step.as_deref(), Some("edit"));
        assert!(progress.timed_out);
    }
}
