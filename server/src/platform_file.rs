//! `slipway validate` and `slipway schema`: working on a `.platform.yaml` or a transform spec
//! without a server, with the same parser and messages the server uses.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use domain::pipeline::parse::parse_pipeline;
use domain::pipeline::{DefinitionError, PipelineDefinition};
use domain::preview::parse::parse_preview;
use domain::preview::{PreviewDefinition, PreviewKind};

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
    let pipeline = parse_pipeline(&text);
    let preview = parse_preview(&text);
    let mut problems: Vec<DefinitionError> = Vec::new();
    for errors in [pipeline.as_ref().err(), preview.as_ref().err()]
        .into_iter()
        .flatten()
    {
        for error in &errors.0 {
            // A syntax error is found by both parsers: say it once.
            if !problems.contains(error) {
                problems.push(error.clone());
            }
        }
    }
    if problems.is_empty() {
        let pipeline = match pipeline {
            Ok(Some(definition)) => summary(&definition),
            _ => "no `pipeline:` section, so no pipeline runs".to_owned(),
        };
        let preview = match preview {
            Ok(Some(definition)) => preview_summary(&definition),
            _ => "no `preview:` section, so pull requests get no preview".to_owned(),
        };
        println!("{label}: ok: {pipeline}");
        println!("{label}: ok: {preview}");
        return ExitCode::SUCCESS;
    }
    problems.sort_by_key(|error| (error.line, error.column));
    for error in &problems {
        eprintln!("{label}:{error}");
    }
    let count = problems.len();
    eprintln!(
        "{label}: {count} problem{}",
        if count == 1 { "" } else { "s" }
    );
    ExitCode::FAILURE
}

/// One line saying what a pull request's preview deploys and for how long.
fn preview_summary(definition: &PreviewDefinition) -> String {
    let what = match &definition.kind {
        PreviewKind::App(app) => format!(
            "the built-in app ({}, port {})",
            app.image.as_deref().unwrap_or("the pipeline's image"),
            app.port
        ),
        PreviewKind::Manifests(m) => format!("the manifests in {}", m.path),
        PreviewKind::Chart(_) => "a Helm chart".to_owned(),
    };
    let ttl = humantime::format_duration(std::time::Duration::from_secs(definition.ttl_secs));
    format!("previews deploy {what}, removed {ttl} after the last push")
}

/// Checks a transform spec like [`validate`]: a summary (stdout) or every problem (stderr).
pub fn validate_transform(file: &Path) -> ExitCode {
    let text = match read(file) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("slipway: cannot read {}: {error}", file.display());
            return ExitCode::from(2);
        }
    };
    let label = file.display();
    match domain::transform::parse::parse_transform(&text) {
        Ok(spec) => {
            let steps: Vec<&str> = spec.steps.iter().map(|s| s.name.as_str()).collect();
            let base = spec
                .base_ref
                .as_deref()
                .unwrap_or("each repository's default branch");
            println!(
                "{label}: ok: `{}` on {}{}, from {base}; {} step{} ({}){}",
                spec.name,
                spec.repositories.join(", "),
                if spec.exclude.is_empty() {
                    String::new()
                } else {
                    format!(" except {}", spec.exclude.join(", "))
                },
                steps.len(),
                if steps.len() == 1 { "" } else { "s" },
                steps.join(", "),
                if spec.dry_run { "; dry run" } else { "" }
            );
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

/// Prints the JSON Schema of `.platform.yaml`, a transform spec or a transform task.
pub fn print_schema(of: crate::cli::SchemaKind) -> ExitCode {
    let schema = match of {
        crate::cli::SchemaKind::Pipeline => domain::pipeline::json_schema(),
        crate::cli::SchemaKind::Transform => domain::transform::json_schema(),
        crate::cli::SchemaKind::Task => domain::transform::task::json_schema(),
    };
    match serde_json::to_string_pretty(&schema) {
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
