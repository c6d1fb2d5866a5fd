//! The Job controller: a Job runs pods from its template until one succeeds (condition
//! `Complete`) or `backoffLimit` pods have failed (condition `Failed`, reason
//! `BackoffLimitExceeded`); `activeDeadlineSeconds` ends it with `DeadlineExceeded`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::Sim;
use crate::resources::{JOBS, PODS};
use crate::selector::Selector;
use crate::store::{Event, EventType, name_of, now_rfc3339};

const DEFAULT_BACKOFF_LIMIT: u64 = 6;

pub async fn run(sim: Arc<Sim>, stop: CancellationToken) {
    crate::controller::run(sim, &JOBS, stop, |_, event| job_of(event), reconcile).await;
}

fn owner_job(object: &Value) -> Option<String> {
    object["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["kind"] == "Job")
        .and_then(|r| r["name"].as_str())
        .map(str::to_owned)
}

fn job_of(event: &Event) -> Option<String> {
    if event.resource == &JOBS {
        return (event.kind != EventType::Deleted).then(|| name_of(&event.object).to_owned());
    }
    if event.resource == &PODS {
        return owner_job(&event.object);
    }
    None
}

fn finished(job: &Value) -> bool {
    job["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Complete" || c["type"] == "Failed")
    })
}

fn finish(sim: &Sim, namespace: &str, name: &str, complete: bool, reason: &str, message: &str) {
    let _ = sim.store.modify(&JOBS, namespace, name, |job| {
        if finished(job) {
            return Ok(());
        }
        let kind = if complete { "Complete" } else { "Failed" };
        let condition = json!({ "type": kind, "status": "True", "reason": reason, "message": message, "lastTransitionTime": now_rfc3339() });
        job["status"]["conditions"] = json!([condition]);
        job["status"]["completionTime"] = json!(now_rfc3339());
        job["status"]["active"] = json!(0);
        Ok(())
    });
}

fn reconcile(sim: &Arc<Sim>, namespace: &str, name: &str, stop: &CancellationToken) {
    let Ok(job) = sim.store.get(&JOBS, namespace, name) else {
        return;
    };
    if job["metadata"]["deletionTimestamp"].is_string() || finished(&job) {
        return;
    }
    if job["status"]["startTime"].is_null() {
        let _ = sim.store.modify(&JOBS, namespace, name, |j| {
            j["status"]["startTime"] = json!(now_rfc3339());
            Ok(())
        });
        if let Some(seconds) = job["spec"]["activeDeadlineSeconds"].as_u64() {
            schedule_deadline(sim, namespace, name, Duration::from_secs(seconds), stop);
        }
    }
    let (pods, _) = sim.store.list(&PODS, namespace, &Selector::default());
    let mine: Vec<&Arc<Value>> = pods
        .iter()
        .filter(|p| owner_job(p).as_deref() == Some(name))
        .collect();
    let phase = |p: &Value, wanted: &str| p["status"]["phase"] == wanted;
    let succeeded = mine.iter().filter(|p| phase(p, "Succeeded")).count();
    let failed = mine.iter().filter(|p| phase(p, "Failed")).count();
    let active = mine.len() - succeeded - failed;
    let _ = sim.store.modify(&JOBS, namespace, name, |j| {
        j["status"]["succeeded"] = json!(succeeded);
        j["status"]["failed"] = json!(failed);
        j["status"]["active"] = json!(active);
        Ok(())
    });
    let backoff_limit = job["spec"]["backoffLimit"]
        .as_u64()
        .unwrap_or(DEFAULT_BACKOFF_LIMIT) as usize;
    if succeeded > 0 {
        finish(sim, namespace, name, true, "Completed", "Job completed");
    } else if failed > backoff_limit {
        finish(
            sim,
            namespace,
            name,
            false,
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        );
    } else if active == 0 {
        let mut pod = job["spec"]["template"].clone();
        pod["metadata"]["generateName"] = json!(format!("{name}-"));
        pod["metadata"]["labels"]["job-name"] = json!(name);
        pod["metadata"]["ownerReferences"] = json!([{ "apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": job["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true }]);
        match crate::admission::admit_pod(sim, namespace, &mut pod) {
            Ok(()) => {
                let _ = sim.store.create(&PODS, namespace, pod);
            }
            Err(refused) => finish(
                sim,
                namespace,
                name,
                false,
                "FailedCreate",
                &refused.message,
            ),
        }
    }
}

fn schedule_deadline(
    sim: &Arc<Sim>,
    namespace: &str,
    name: &str,
    after: Duration,
    stop: &CancellationToken,
) {
    crate::controller::after(
        sim,
        namespace,
        name,
        after,
        stop,
        |sim, namespace, name, _| {
            finish(
                sim,
                namespace,
                name,
                false,
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            );
            // Its running pods go, as a real controller deletes them.
            let (pods, _) = sim.store.list(&PODS, namespace, &Selector::default());
            for pod in pods
                .iter()
                .filter(|p| owner_job(p).as_deref() == Some(name))
            {
                if !matches!(
                    pod["status"]["phase"].as_str(),
                    Some("Succeeded" | "Failed")
                ) {
                    let _ = sim.store.delete(&PODS, namespace, name_of(pod));
                }
            }
        },
    );
}
