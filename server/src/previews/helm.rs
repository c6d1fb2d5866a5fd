//! Helm charts: `helm upgrade --install` of a preview's chart into its namespace, with the
//! values file and `--set` overrides, waiting for the release within the rollout deadline.
//! Helm runs as a child process when it is on PATH; without it the preview fails saying so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use domain::preview::definition::{ChartLocation, ChartSource};
use domain::preview::template::PreviewVariables;
use tokio::process::Command;

use super::render;

/// The release every preview installs its chart as, in its own namespace.
pub const RELEASE: &str = "preview";
/// Lines of helm's output a failure keeps.
const OUTPUT_LINES: usize = 15;

/// How helm reaches the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeAccess {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

/// The helm executable `configured` names (`SLIPWAY_HELM`): a path, or a name on PATH.
pub fn find_helm(configured: &str) -> Option<PathBuf> {
    if configured.contains('/') {
        let path = PathBuf::from(configured);
        return is_executable(&path).then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(configured))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The arguments of `helm upgrade --install` for a preview.
pub fn arguments(
    chart: &ChartSource,
    checkout: &Path,
    vars: &PreviewVariables,
    env: &BTreeMap<String, String>,
    deadline: Duration,
    access: &KubeAccess,
) -> Result<Vec<String>, render::RenderError> {
    let mut args: Vec<String> = vec!["upgrade".into(), "--install".into(), RELEASE.into()];
    match &chart.chart {
        ChartLocation::Path(path) => {
            let chart = render::within_checkout(checkout, path, "chart")?;
            args.push(chart.display().to_string());
        }
        ChartLocation::Repository {
            repo,
            name,
            version,
        } => {
            args.extend([name.clone(), "--repo".into(), repo.clone()]);
            if let Some(version) = version {
                args.extend(["--version".into(), version.clone()]);
            }
        }
    }
    args.extend([
        "--namespace".into(),
        vars.namespace.clone(),
        "--wait".into(),
        "--timeout".into(),
        format!("{}s", deadline.as_secs()),
    ]);
    if let Some(values) = &chart.values {
        let values = render::within_checkout(checkout, values, "chart values file")?;
        args.extend(["--values".into(), values.display().to_string()]);
    }
    for (key, value) in &chart.set {
        let value = render::render(&format!("chart set `{key}`"), value, vars, env)?;
        args.extend(["--set".into(), format!("{key}={value}")]);
    }
    if let Some(kubeconfig) = &access.kubeconfig {
        args.extend(["--kubeconfig".into(), kubeconfig.display().to_string()]);
    }
    if let Some(context) = &access.context {
        args.extend(["--kube-context".into(), context.clone()]);
    }
    Ok(args)
}

/// Why helm did not install the chart.
#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    #[error("cannot run helm")]
    Spawn(#[source] std::io::Error),
    #[error("helm did not finish within {0} s")]
    Timeout(u64),
    /// It ran and failed: its exit status and the last lines it printed.
    #[error("helm upgrade --install failed ({status}):\n{tail}")]
    Failed { status: String, tail: String },
}

/// Runs helm with `args`; on failure, the last lines of what it printed.
pub async fn run(helm: &Path, args: &[String], limit: Duration) -> Result<(), HelmError> {
    let mut command = Command::new(helm);
    command.args(args).kill_on_drop(true);
    let output = match tokio::time::timeout(limit, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => return Err(HelmError::Spawn(error)),
        Err(_) => return Err(HelmError::Timeout(limit.as_secs())),
    };
    if output.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    Err(HelmError::Failed {
        status: output.status.to_string(),
        tail: lines[lines.len().saturating_sub(OUTPUT_LINES)..].join("\n"),
    })
}
