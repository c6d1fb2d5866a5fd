//! The pod a pipeline step runs in, and its Secrets: an init container clones the repository
//! at the commit into `/workspace` (an emptyDir), reading the clone's credentials from a Secret
//! of their own; the step's container runs its commands there in the step's image, its
//! environment (secrets included) read from another Secret, never part of the pod spec; after
//! the commands succeed it uploads the step's artifacts with `curl` through signed links.

use std::collections::BTreeMap;
use std::time::Duration;

use super::local::shell_quote;
use super::source::token_config;
use domain::cluster::{ContainerRun, Manifest, PIPELINE_LABEL, PodRun, STEP_LABEL};
use domain::pipeline::StepSpec;

/// The image of the init container that clones the repository.
pub const CLONE_IMAGE: &str = "alpine/git:2.47.2";

/// The pod of one step, named so that retries never collide.
pub fn step_pod(spec: &StepSpec, namespace: &str, attempt_suffix: &str) -> PodRun {
    let step = &spec.step;
    let clone = format!(
        "git clone --quiet --no-checkout -- {} src && git -C src checkout --quiet --detach {}",
        shell_quote(&spec.clone_url),
        shell_quote(&spec.commit_sha)
    );
    let limits = match (&step.resources.cpu, &step.resources.memory) {
        (None, None) => None,
        (cpu, memory) => Some((
            cpu.clone().unwrap_or_else(|| "1".to_owned()),
            memory.clone().unwrap_or_else(|| "1Gi".to_owned()),
        )),
    };
    // DNS-1123, at most 63 characters, the attempt suffix always kept (so retries never collide).
    let prefix: String = format!("pl-{}-{}", spec.pipeline_id, step.name)
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(63 - 1 - attempt_suffix.len())
        .collect();
    let pod_name = format!("{}-{attempt_suffix}", prefix.trim_end_matches('-'));
    PodRun {
        namespace: namespace.to_owned(),
        name: pod_name.clone(),
        labels: [
            (PIPELINE_LABEL.to_owned(), spec.pipeline_id.to_string()),
            (STEP_LABEL.to_owned(), step.name.clone()),
        ]
        .into(),
        init_containers: vec![ContainerRun {
            name: "clone".into(),
            image: CLONE_IMAGE.into(),
            command: vec!["sh".into(), "-c".into(), clone],
            env: vec![("HOME".into(), "/tmp".into())],
            // Git reads its credentials from there (`clone_secret`); the step never sees them.
            env_from_secret: spec
                .clone_token
                .as_ref()
                .map(|_| clone_secret_name(&pod_name)),
            ..ContainerRun::default()
        }],
        containers: vec![ContainerRun {
            name: "step".into(),
            image: step.image.clone(),
            command: vec![
                "sh".into(),
                "-c".into(),
                format!(
                    "cd src\n{}{}",
                    super::local::script(&step.commands),
                    upload_script(&spec.artifacts)
                ),
            ],
            env: vec![("HOME".to_owned(), "/tmp".to_owned())],
            limits,
            // The Secret of the same name holds the step's environment.
            env_from_secret: Some(pod_name.clone()),
            ..ContainerRun::default()
        }],
        deadline: Some(Duration::from_secs(step.timeout_secs)),
    }
}

/// After the commands succeed, uploads each artifact's files with `curl` through its signed
/// link (`SLIPWAY_ARTIFACT_{n}_URL`/`_QUERY`, from the step's Secret), each file's path
/// percent-encoded (spaces and all), counting what was kept and what failed.
fn upload_script(artifacts: &[domain::pipeline::ArtifactDefinition]) -> String {
    if artifacts.is_empty() {
        return String::new();
    }
    let mut script = String::from(
        r#"slipway_urlencode() { LC_ALL=C; s=$1; out=; while [ -n "$s" ]; do c=${s%"${s#?}"}; s=${s#?}; case $c in [a-zA-Z0-9._~/-]) out=$out$c ;; *) out=$out$(printf '%%%02X' "'$c") ;; esac; done; printf '%s' "$out"; }
"#,
    );
    for (index, artifact) in artifacts.iter().enumerate() {
        let (name, path) = (shell_quote(&artifact.name), shell_quote(&artifact.path));
        script.push_str(&format!(
            r#"if ! command -v curl >/dev/null; then echo "slipway: artifact "{name}": curl is not in the image; nothing kept"
elif [ ! -e {path} ]; then echo "slipway: artifact "{name}": "{path}" does not exist; nothing kept"
else find {path} -type f > /tmp/slipway-artifact-{index}; n=0; failed=0
while IFS= read -r f; do rel=${{f#{path}/}}; [ -f {path} ] && rel=$(basename {path}); if curl -fsS -X PUT --data-binary @"$f" "$SLIPWAY_ARTIFACT_{index}_URL$(slipway_urlencode "$rel")?$SLIPWAY_ARTIFACT_{index}_QUERY" >/dev/null; then n=$((n+1)); else failed=$((failed+1)); fi; done < /tmp/slipway-artifact-{index}
echo "slipway: artifact "{name}": $n file(s) uploaded"; [ "$failed" = 0 ] || echo "slipway: artifact "{name}": $failed file(s) could not be uploaded"
fi
"#
        ));
    }
    script
}

/// The Secret holding a step's environment (and its artifact upload links), named like its pod.
pub fn environment_secret(
    spec: &StepSpec,
    pod: &PodRun,
    uploads: Vec<(String, String)>,
) -> Manifest {
    let mut environment = spec.environment.clone();
    environment.extend(uploads);
    Manifest(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": { "name": pod.name, "labels": pod.labels },
        "type": "Opaque",
        "stringData": environment,
    }))
}

pub(super) fn clone_secret_name(pod: &str) -> String {
    format!("{pod}-git")
}

/// The Secret holding the clone's credentials, as the git configuration the init container
/// reads from its environment (basic auth with the token, for HTTP(S) remotes only).
pub fn clone_secret(pod: &PodRun, token: &str) -> Manifest {
    let config: BTreeMap<&str, String> = token_config(token).into_iter().collect();
    Manifest(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": { "name": clone_secret_name(&pod.name), "labels": pod.labels },
        "type": "Opaque",
        "stringData": config,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::pipeline::{PipelineId, StepDefinition, StepResources};

    #[test]
    fn pod_names_are_dns_labels_that_keep_their_attempt_suffix() {
        let spec = StepSpec {
            pipeline_id: PipelineId(12),
            step: StepDefinition {
                name: format!("Build_{}", "x".repeat(70)),
                image: "alpine".into(),
                commands: vec!["true".into()],
                environment: BTreeMap::new(),
                depends_on: Vec::new(),
                timeout_secs: 60,
                resources: StepResources::default(),
                publishes_image: false,
            },
            clone_url: "https://example.com/r.git".into(),
            commit_sha: "a".repeat(40),
            environment: [("TOKEN".to_owned(), "secret".to_owned())].into(),
            artifacts: Vec::new(),
            clone_token: Some("ghs_installation".into()),
        };
        let pod = step_pod(&spec, "ns", "abc123");
        assert!(
            pod.name.len() <= 63 && pod.name.ends_with("-abc123"),
            "{}",
            pod.name
        );
        assert!(pod.name.starts_with("pl-12-build-xxx"), "{}", pod.name);
        let step = &pod.containers[0];
        assert!(
            step.env.iter().all(|(k, _)| k != "TOKEN"),
            "the environment is in the Secret, not the pod spec"
        );
        assert_eq!(step.env_from_secret.as_deref(), Some(pod.name.as_str()));
        assert_eq!(pod.deadline, Some(Duration::from_secs(60)));

        // Only the clone reads the clone's credentials, from a Secret of their own.
        let clone = &pod.init_containers[0];
        let credentials = format!("{}-git", pod.name);
        assert_eq!(clone.env_from_secret.as_deref(), Some(credentials.as_str()));
        let secret = clone_secret(&pod, "ghs_installation").0;
        assert_eq!(secret["metadata"]["name"], credentials.as_str());
        assert_eq!(
            secret["metadata"]["labels"][STEP_LABEL],
            pod.labels[STEP_LABEL].as_str()
        );
        let data = &secret["stringData"];
        assert_eq!(
            (
                data["GIT_CONFIG_KEY_0"].as_str(),
                data["GIT_CONFIG_VALUE_0"].as_str()
            ),
            (
                Some("http.extraHeader"),
                // base64("x-access-token:ghs_installation")
                Some("Authorization: Basic eC1hY2Nlc3MtdG9rZW46Z2hzX2luc3RhbGxhdGlvbg==")
            )
        );
    }
}
