//! `slipway validate` and `slipway schema`: working on a `.platform.yaml` without a server,
//! with the same parser and messages the server uses.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use domain::pipeline::PipelineDefinition;
use domain::pipeline::parse::parse_pipeline;

/// Prints `FILE:line:column: message` for every problem (stderr) or a summary (stdout).
/// Exit codes: 0 valid, 1 problems found, 2 the file cannot be read.
pub fn validate(file: &Path) -> ExitCode {
    let (label, text) = match read(file) {
        Ok(text) => (file.display().to_string(), text),
        Err(error) => {
            eprintln!("slipway: cannot read {}: {error}", file.display());
            return ExitCode::from(2);
        }
    };
    match parse_pipeline(&text) {
        Ok(Some(definition)) => {
            println!("{label}: ok: {}", summary(&definition));
            ExitCode::SUCCESS
        }
        Ok(None) => {
            println!("{label}: ok: no `pipeline:` section, so no pipeline runs");
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for error in &errors.0 {
                eprintln!("{label}:{error}");
            }
            let count = errors.0.len();
            eprintln!(
                "{label}: {count} problem{}",
                if count == 1 { "" } else { "s" }
            );
            ExitCode::FAILURE
        }
    }
}

/// Prints the JSON Schema of `.platform.yaml`.
pub fn print_schema() -> ExitCode {
    match serde_json::to_string_pretty(&domain::pipeline::json_schema()) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("slipway: cannot encode the schema: {error}");
            ExitCode::FAILURE
        }
    }
}

fn read(file: &Path) -> std::io::Result<String> {
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(file)
    }
}

/// One line saying what the pipeline does: steps, artifacts and what starts it.
fn summary(definition: &PipelineDefinition) -> String {
    let steps: Vec<&str> = definition.steps.iter().map(|s| s.name.as_str()).collect();
    let mut parts = vec![format!(
        "{} step{} ({})",
        steps.len(),
        if steps.len() == 1 { "" } else { "s" },
        steps.join(", ")
    )];
    if !definition.artifacts.is_empty() {
        parts.push(format!("{} artifact(s)", definition.artifacts.len()));
    }
    let triggers = &definition.triggers;
    let mut runs = Vec::new();
    if let Some(branches) = &triggers.push_branches {
        runs.push(format!("push to {}", branches.join(", ")));
    }
    if let Some(actions) = &triggers.pull_request_actions {
        runs.push(format!("pull request {}", actions.join(", ")));
    }
    for schedule in &triggers.schedules {
        runs.push(format!("schedule `{}`", schedule.cron));
    }
    runs.push("API".to_owned());
    parts.push(format!("runs on {}", runs.join("; ")));
    parts.join("; ")
}
