//! Watching a Job until its `Complete` or `Failed` condition.

use std::time::Duration;

use domain::cluster::{ClusterError, JobOutcome, Result};
use k8s_openapi::api::batch::v1::Job;
use kube::Client;
use kube::api::Api;
use kube::runtime::wait::await_condition;

fn outcome(job: &Job) -> Option<JobOutcome> {
    let status = job.status.as_ref()?;
    let condition = status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")?;
    let succeeded = condition.type_ == "Complete";
    Some(JobOutcome {
        succeeded,
        reason: (!succeeded).then(|| condition.reason.clone()).flatten(),
        message: (!succeeded).then(|| condition.message.clone()).flatten(),
        failed_pods: status
            .failed
            .and_then(|f| u32::try_from(f).ok())
            .unwrap_or(0),
    })
}

pub async fn wait(
    client: &Client,
    namespace: &str,
    name: &str,
    limit: Duration,
) -> Result<JobOutcome> {
    let api: Api<Job> = Api::namespaced(client.clone(), namespace);
    let done = |job: Option<&Job>| job.is_none_or(|j| outcome(j).is_some());
    match tokio::time::timeout(limit, await_condition(api, name, done)).await {
        Ok(Ok(Some(job))) => outcome(&job).ok_or_else(|| {
            ClusterError::Unavailable(format!("job `{name}` has no final condition").into())
        }),
        Ok(Ok(None)) => Err(ClusterError::NotFound {
            kind: "job",
            name: name.to_owned(),
        }),
        Ok(Err(error)) => Err(ClusterError::Unavailable(Box::new(error))),
        Err(_) => Err(super::timeout(format!("job `{name}` to finish"), limit)),
    }
}
