//! The Kubernetes objects of one transform attempt, built without touching a cluster: the Job
//! (`backoffLimit: 0`, since the queue owns retries; `activeDeadlineSeconds` = the execution's
//! overall timeout), whose pod clones the repository in an init container (the only one that
//! reads the clone's token, from a Secret of its own), runs the steps' script in the main
//! container (its variables and secrets from a second Secret), and hands the patch over through
//! a native sidecar that uploads it with `curl` through links signed for this attempt (kept in
//! a third Secret only the sidecar reads) once the main container has ended; and the runs
//! namespace's NetworkPolicy, which lets its pods reach DNS, Slipway and the configured CIDRs
//! only. The pod runs under the "restricted" profile (`cluster::pod_manifest`).

use std::time::Duration;

use serde_json::{Value, json};

use domain::cluster::{ContainerRun, MANAGED_BY_LABEL, MANAGED_BY_VALUE, Manifest, PodRun};

use super::script::{NUMSTAT_FILE, OUTPUT_DIR, PATCH_FILE, SCRIPT_VARIABLE};
use crate::pipelines::local::shell_quote;
use crate::pipelines::source::token_config;
use crate::pipelines::step_pod::CLONE_IMAGE;

/// Labels every object of an attempt carries.
pub const RUN_LABEL: &str = "slipway.dev/transform-run";
pub const EXECUTION_LABEL: &str = "slipway.dev/execution";
/// Names the attempt's Job on its pod (and Secrets).
pub const JOB_LABEL: &str = "slipway.dev/transform-job";
/// The label Slipway's own pods carry (deploy/kubernetes), which the runs may reach.
const SLIPWAY_POD_LABEL: (&str, &str) = ("app.kubernetes.io/name", "slipway");
/// The runs namespace's policy.
pub const NETWORK_POLICY: &str = "slipway-transform-egress";
/// The main container's name (its log is the execution's).
pub const MAIN_CONTAINER: &str = "transform";
/// The init container that clones the base commit.
pub const CLONE_CONTAINER: &str = "clone";
/// The files the sidecar uploads.
pub const UPLOADED: [&str; 2] = [PATCH_FILE, NUMSTAT_FILE];
/// The sidecar has this long after the main container ended to upload.
const UPLOAD_GRACE_SECS: u64 = 60;

/// What one attempt's Job is made from.
#[derive(Debug, Clone)]
pub struct JobInput<'a> {
    pub namespace: &'a str,
    /// Unique per attempt (`tf-{execution}-{suffix}`).
    pub name: &'a str,
    pub run_id: i64,
    pub execution_id: i64,
    pub image: &'a str,
    pub uploader_image: &'a str,
    pub clone_url: &'a str,
    pub commit_sha: &'a str,
    /// The execution's overall timeout.
    pub deadline: Duration,
    pub has_clone_token: bool,
}

/// The Job's name for an execution's attempt: a DNS label, never reused by another attempt.
pub fn job_name(execution_id: i64, suffix: &str) -> String {
    format!("tf-{execution_id}-{suffix}")
}

pub fn environment_secret_name(job: &str) -> String {
    format!("{job}-env")
}

pub fn clone_secret_name(job: &str) -> String {
    format!("{job}-git")
}

pub fn upload_secret_name(job: &str) -> String {
    format!("{job}-upload")
}

fn labels(input: &JobInput<'_>) -> serde_json::Map<String, Value> {
    let mut labels = serde_json::Map::new();
    labels.insert(MANAGED_BY_LABEL.into(), json!(MANAGED_BY_VALUE));
    labels.insert(RUN_LABEL.into(), json!(input.run_id.to_string()));
    labels.insert(
        EXECUTION_LABEL.into(),
        json!(input.execution_id.to_string()),
    );
    labels.insert(JOB_LABEL.into(), json!(input.name));
    labels
}

fn secret(input: &JobInput<'_>, name: String, data: Value) -> Manifest {
    Manifest(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": { "name": name, "labels": labels(input) },
        "type": "Opaque",
        "stringData": data,
    }))
}

/// The Secret with the script and the steps' variables (under their carrier names).
pub fn environment_secret(
    input: &JobInput<'_>,
    environment: &std::collections::BTreeMap<String, String>,
) -> Manifest {
    secret(
        input,
        environment_secret_name(input.name),
        json!(environment),
    )
}

/// The Secret with the clone's credentials, as git configuration (basic auth with the token).
pub fn clone_secret(input: &JobInput<'_>, token: &str) -> Manifest {
    let config: std::collections::BTreeMap<&str, String> =
        token_config(token).into_iter().collect();
    secret(input, clone_secret_name(input.name), json!(config))
}

/// The Secret with the sidecar's upload link (`SLIPWAY_UPLOAD_URL` + a file name + `?` +
/// `SLIPWAY_UPLOAD_QUERY`).
pub fn upload_secret(input: &JobInput<'_>, url: &str, query: &str) -> Manifest {
    secret(
        input,
        upload_secret_name(input.name),
        json!({ "SLIPWAY_UPLOAD_URL": url, "SLIPWAY_UPLOAD_QUERY": query }),
    )
}

/// What the sidecar runs: waits until it is asked to stop (the main container has ended), then
/// uploads what the script left; an interrupted `sleep` lets the trap run at once.
fn uploader_script() -> String {
    let files = UPLOADED
        .iter()
        .map(|f| shell_quote(f))
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "upload() {{ for f in {files}; do p=src/{OUTPUT_DIR}/$f; [ -f \"$p\" ] || continue; \
         if curl -fsS -X PUT --data-binary @\"$p\" \"$SLIPWAY_UPLOAD_URL$f?$SLIPWAY_UPLOAD_QUERY\" >/dev/null; \
         then echo \"slipway: uploaded $f\"; else echo \"slipway: could not upload $f\"; fi; done; }}\n\
         trap 'upload; exit 0' TERM\n\
         while :; do sleep 1 & wait $!; done\n"
    )
}

/// The attempt's Job.
pub fn job(input: &JobInput<'_>) -> Result<Manifest, domain::cluster::ClusterError> {
    let clone = format!(
        "git clone --quiet --no-checkout -- {} src && git -C src checkout --quiet --detach {}",
        shell_quote(input.clone_url),
        shell_quote(input.commit_sha)
    );
    let home = || vec![("HOME".to_owned(), "/tmp".to_owned())];
    let pod = PodRun {
        namespace: input.namespace.to_owned(),
        name: input.name.to_owned(),
        labels: labels(input)
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
            .collect(),
        init_containers: vec![
            ContainerRun {
                name: CLONE_CONTAINER.into(),
                image: CLONE_IMAGE.into(),
                command: vec!["sh".into(), "-c".into(), clone],
                env: home(),
                env_from_secret: input.has_clone_token.then(|| clone_secret_name(input.name)),
                ..ContainerRun::default()
            },
            ContainerRun {
                name: "upload".into(),
                image: input.uploader_image.into(),
                command: vec!["sh".into(), "-c".into(), uploader_script()],
                env: home(),
                env_from_secret: Some(upload_secret_name(input.name)),
                sidecar: true,
                ..ContainerRun::default()
            },
        ],
        containers: vec![ContainerRun {
            name: MAIN_CONTAINER.into(),
            image: input.image.into(),
            command: vec![
                "sh".into(),
                "-c".into(),
                format!("cd src && exec sh -c \"${SCRIPT_VARIABLE}\""),
            ],
            env: home(),
            env_from_secret: Some(environment_secret_name(input.name)),
            ..ContainerRun::default()
        }],
        deadline: None,
    };
    let pod = serde_json::to_value(crate::cluster::pod_manifest(&pod)?)
        .map_err(|e| domain::cluster::ClusterError::Invalid(format!("job manifest: {e}")))?;
    let mut template_spec = pod["spec"].clone();
    template_spec["terminationGracePeriodSeconds"] = json!(UPLOAD_GRACE_SECS);
    Ok(Manifest(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": { "name": input.name, "labels": labels(input) },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": input.deadline.as_secs().max(1),
            // A safety net should Slipway never come back to delete it.
            "ttlSecondsAfterFinished": 3600,
            "template": { "metadata": { "labels": pod["metadata"]["labels"] }, "spec": template_spec },
        },
    })))
}

/// The runs namespace's policy: no ingress; egress to DNS, to Slipway's pods, and to `cidrs`
/// (the git host's ranges, and Slipway's address when it runs outside the cluster).
pub fn network_policy(cidrs: &[String]) -> Manifest {
    let mut egress = vec![
        json!({
            "to": [{ "namespaceSelector": {}, "podSelector": { "matchLabels": { "k8s-app": "kube-dns" } } }],
            "ports": [{ "protocol": "UDP", "port": 53 }, { "protocol": "TCP", "port": 53 }],
        }),
        json!({
            "to": [{ "namespaceSelector": {}, "podSelector": { "matchLabels": { SLIPWAY_POD_LABEL.0: SLIPWAY_POD_LABEL.1 } } }],
        }),
    ];
    if !cidrs.is_empty() {
        let blocks: Vec<Value> = cidrs
            .iter()
            .map(|cidr| json!({ "ipBlock": { "cidr": cidr } }))
            .collect();
        egress.push(json!({ "to": blocks }));
    }
    Manifest(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": { "name": NETWORK_POLICY, "labels": { MANAGED_BY_LABEL: MANAGED_BY_VALUE } },
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": egress,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> JobInput<'static> {
        JobInput {
            namespace: "slipway-transforms",
            name: "tf-7-abc123",
            run_id: 3,
            execution_id: 7,
            image: "node:22",
            uploader_image: "curlimages/curl:8.11.1",
            clone_url: "https://github.com/acme/web.git",
            commit_sha: "0123456789abcdef0123456789abcdef01234567",
            deadline: Duration::from_secs(2700),
            has_clone_token: true,
        }
    }

    #[test]
    fn the_job_leaves_retries_to_the_queue_and_ends_on_the_overall_timeout() {
        let job = job(&input()).expect("job").0;
        assert_eq!(job["spec"]["backoffLimit"], 0);
        assert_eq!(job["spec"]["activeDeadlineSeconds"], 2700);
        let spec = &job["spec"]["template"]["spec"];
        assert_eq!(spec["restartPolicy"], "Never");
        assert_eq!(spec["automountServiceAccountToken"], false);
        assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
        for container in spec["initContainers"]
            .as_array()
            .into_iter()
            .chain(spec["containers"].as_array())
            .flatten()
        {
            let security = &container["securityContext"];
            assert_eq!(security["readOnlyRootFilesystem"], true, "{container}");
            assert_eq!(security["allowPrivilegeEscalation"], false, "{container}");
            assert_eq!(
                security["capabilities"]["drop"],
                json!(["ALL"]),
                "{container}"
            );
        }
    }

    #[test]
    fn only_the_clone_reads_the_token_and_only_the_sidecar_the_upload_link() {
        let job = job(&input()).expect("job").0;
        let spec = &job["spec"]["template"]["spec"];
        let secret_of = |c: &Value| {
            c["envFrom"][0]["secretRef"]["name"]
                .as_str()
                .map(str::to_owned)
        };
        let init = spec["initContainers"].as_array().expect("init");
        assert_eq!(secret_of(&init[0]).as_deref(), Some("tf-7-abc123-git"));
        assert_eq!(init[1]["restartPolicy"], "Always", "a native sidecar");
        assert_eq!(secret_of(&init[1]).as_deref(), Some("tf-7-abc123-upload"));
        let main = &spec["containers"][0];
        assert_eq!(main["image"], "node:22");
        assert_eq!(secret_of(main).as_deref(), Some("tf-7-abc123-env"));
        assert!(
            !job.to_string().contains("ghs_"),
            "no credential in the Job itself"
        );
    }

    #[test]
    fn the_policy_allows_dns_slipway_and_the_configured_ranges_only() {
        let policy = network_policy(&["140.82.112.0/20".to_owned()]).0;
        assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        let egress = policy["spec"]["egress"].as_array().expect("egress");
        assert_eq!(egress.len(), 3);
        assert_eq!(egress[2]["to"][0]["ipBlock"]["cidr"], "140.82.112.0/20");
        assert_eq!(
            network_policy(&[]).0["spec"]["egress"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
    }
}
