//! The simulated kubelet: pods go Pending → Running → Succeeded/Failed. Each container's
//! command runs on this machine in the pod's scratch folder (the image is ignored), so logs and
//! exit codes are real. A container without a command stands for an image's own long-running
//! entrypoint and runs until its pod is deleted. Images ending in `:missing` never pull
//! (ImagePullBackOff); containers that keep failing under `restartPolicy: Always` show
//! CrashLoopBackOff; `activeDeadlineSeconds` is enforced. Native sidecars (init containers with
//! `restartPolicy: Always`) start before the containers after them, run beside the main ones,
//! and get `SIGTERM` once those have ended (killed after `terminationGracePeriodSeconds`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::Sim;
use crate::logs::LogBuffer;
use crate::resources::PODS;
use crate::store::{Event, EventType, name_of, now_rfc3339};

/// How often a crashing container is restarted before it is shown in CrashLoopBackOff.
const CRASH_LOOP_AFTER: u32 = 2;
const RESTART_BACKOFF: Duration = Duration::from_millis(200);

/// Runs the kubelet until `stop` is cancelled.
pub async fn run(sim: Arc<Sim>, stop: CancellationToken) {
    let Ok((initial, mut events)) = sim.store.watch(&PODS, "", None) else {
        return;
    };
    let mut running: HashMap<String, CancellationToken> = HashMap::new();
    for event in initial {
        observe(&sim, &mut running, &event, &stop);
    }
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => break,
            event = events.recv() => event,
        };
        match event {
            Ok(event) if event.resource == &PODS => observe(&sim, &mut running, &event, &stop),
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => {
                // Missed events: pick up any pod that is not running yet.
                let (pods, _) = sim
                    .store
                    .list(&PODS, "", &crate::selector::Selector::default());
                for pod in pods {
                    let event = Event {
                        resource: &PODS,
                        namespace: pod["metadata"]["namespace"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        kind: EventType::Added,
                        resource_version: 0,
                        object: pod,
                    };
                    observe(&sim, &mut running, &event, &stop);
                }
            }
            Err(RecvError::Closed) => break,
        }
    }
    for token in running.values() {
        token.cancel();
    }
}

fn observe(
    sim: &Arc<Sim>,
    running: &mut HashMap<String, CancellationToken>,
    event: &Event,
    stop: &CancellationToken,
) {
    let uid = event.object["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let deleting = event.kind == EventType::Deleted
        || event.object["metadata"]["deletionTimestamp"].is_string();
    if deleting {
        if let Some(token) = running.remove(&uid) {
            token.cancel();
        }
        if event.kind == EventType::Deleted {
            sim.logs
                .remove_pod(&event.namespace, name_of(&event.object));
        }
        return;
    }
    let already_done = matches!(
        event.object["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    );
    if running.contains_key(&uid) || already_done {
        return;
    }
    let token = stop.child_token();
    running.insert(uid, token.clone());
    let pod = Pod {
        sim: sim.clone(),
        namespace: event.namespace.clone(),
        name: name_of(&event.object).to_owned(),
        spec: event.object["spec"].clone(),
        status: Arc::new(Mutex::new(initial_status(&event.object))),
    };
    tokio::spawn(async move { pod.run(token).await });
}

/// The image's id as a kubelet reports it (`docker.io/library/x@sha256:…`): made up, but
/// stable per image, as the API requires one for every container status.
fn image_id(image: &Value) -> String {
    let name = image.as_str().unwrap_or_default();
    let repository = name.split(['@', ':']).next().unwrap_or(name);
    format!("{repository}@sha256:{}", digest(name.as_bytes()))
}

fn container_digest(namespace: &str, pod: &str, container: &str, started_at: &str) -> String {
    digest(format!("{namespace}/{pod}/{container}/{started_at}").as_bytes())
}

/// 64 hex characters, as container runtimes write digests.
fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex_of(&sha2::Sha256::digest(bytes))
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The pod conditions a kubelet keeps from its containers: `Initialized` once init containers
/// are done (or there are none), `ContainersReady` and `Ready` while every container is ready;
/// each keeps its transition time until its status changes.
fn settle_conditions(status: &mut Value) {
    let scheduled = status["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "PodScheduled" && c["status"] == "True")
    });
    if !scheduled {
        return;
    }
    let containers = status["containerStatuses"].as_array();
    let all_ready =
        containers.is_some_and(|cs| !cs.is_empty() && cs.iter().all(|c| c["ready"] == true));
    let initialized = status["phase"] != "Pending"
        || status["initContainerStatuses"]
            .as_array()
            .is_none_or(|cs| cs.iter().all(|c| c["state"]["terminated"]["exitCode"] == 0));
    let word = |on: bool| if on { "True" } else { "False" };
    let wanted = [
        ("Initialized", word(initialized)),
        ("ContainersReady", word(all_ready)),
        ("Ready", word(all_ready)),
    ];
    let Some(conditions) = status["conditions"].as_array_mut() else {
        return;
    };
    for (kind, value) in wanted {
        match conditions.iter_mut().find(|c| c["type"] == kind) {
            Some(condition) if condition["status"] == value => {}
            Some(condition) => {
                condition["status"] = json!(value);
                condition["lastTransitionTime"] = json!(now_rfc3339());
            }
            None => conditions.push(
                json!({ "type": kind, "status": value, "lastTransitionTime": now_rfc3339() }),
            ),
        }
    }
}

fn initial_status(pod: &Value) -> Value {
    let waiting = |c: &Value| json!({ "name": c["name"], "image": c["image"], "imageID": image_id(&c["image"]), "ready": false, "restartCount": 0, "started": false, "state": { "waiting": { "reason": "ContainerCreating" } } });
    let containers: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| cs.iter().map(waiting).collect())
        .unwrap_or_default();
    let init: Vec<Value> = pod["spec"]["initContainers"]
        .as_array()
        .map(|cs| cs.iter().map(waiting).collect())
        .unwrap_or_default();
    json!({
        "phase": "Pending",
        "conditions": [{ "type": "PodScheduled", "status": "True", "lastTransitionTime": now_rfc3339() }],
        "hostIP": "127.0.0.1", "podIP": "127.0.0.1", "startTime": now_rfc3339(),
        "containerStatuses": containers, "initContainerStatuses": init,
    })
}

/// The outcome of one container run.
struct Exit {
    code: i64,
    reason: &'static str,
}

#[derive(Clone)]
struct Pod {
    sim: Arc<Sim>,
    namespace: String,
    name: String,
    spec: Value,
    status: Arc<Mutex<Value>>,
}

impl Pod {
    /// Changes the status and writes it to the store.
    fn update(&self, change: impl FnOnce(&mut Value)) {
        let status = {
            let mut status = self
                .status
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            change(&mut status);
            settle_conditions(&mut status);
            status.clone()
        };
        let _ = self
            .sim
            .store
            .modify(&PODS, &self.namespace, &self.name, |pod| {
                pod["status"] = status;
                Ok(())
            });
    }

    fn set_container(&self, list: &str, name: &str, change: impl FnOnce(&mut Value)) {
        self.update(|status| {
            if let Some(entry) = status[list]
                .as_array_mut()
                .and_then(|cs| cs.iter_mut().find(|c| c["name"] == name))
            {
                change(entry);
            }
        });
    }

    fn containers(&self, list: &str) -> Vec<Value> {
        self.spec[list].as_array().cloned().unwrap_or_default()
    }

    /// Records an event about this pod.
    fn event(&self, warning: bool, reason: &str, message: &str) {
        let about = crate::events::Involved {
            kind: "Pod",
            namespace: &self.namespace,
            name: &self.name,
        };
        crate::events::record(&self.sim, &about, warning, reason, message);
    }

    async fn run(self, cancel: CancellationToken) {
        let whole = json!({ "spec": self.spec });
        if let Some(message) = crate::admission::unschedulable(&self.sim, &whole) {
            self.update(|s| {
                *s = json!({ "phase": "Pending", "conditions": [{ "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message, "lastTransitionTime": now_rfc3339() }] });
            });
            self.event(true, "FailedScheduling", &message);
            cancel.cancelled().await;
            return;
        }
        self.update(|_| {});
        self.event(
            false,
            "Scheduled",
            &format!(
                "Successfully assigned {}/{} to kube-sim",
                self.namespace, self.name
            ),
        );
        tokio::select! {
            () = tokio::time::sleep(self.sim.knobs.pod_start_delay()) => {}
            () = cancel.cancelled() => return,
        }
        if let Some(missing) = self
            .containers("containers")
            .into_iter()
            .chain(self.containers("initContainers"))
            .find(|c| c["image"].as_str().is_some_and(|i| i.ends_with(":missing")))
        {
            let image = missing["image"].as_str().unwrap_or_default().to_owned();
            let list = if self
                .containers("containers")
                .iter()
                .any(|c| c["name"] == missing["name"])
            {
                "containerStatuses"
            } else {
                "initContainerStatuses"
            };
            self.set_container(list, missing["name"].as_str().unwrap_or_default(), |c| {
                c["state"] = json!({ "waiting": { "reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{image}\": not found") } });
            });
            self.event(
                true,
                "Failed",
                &format!("Failed to pull image \"{image}\": not found"),
            );
            cancel.cancelled().await;
            return;
        }
        let deadline = self.spec["activeDeadlineSeconds"]
            .as_u64()
            .map(Duration::from_secs);
        let this = &self;
        let work = async {
            let scratch = self.sim.scratch_dir(&self.namespace, &self.name);
            // Native sidecars start in order with the other init containers, keep running
            // beside the main ones, and are asked to stop (SIGTERM) once those have ended.
            let sidecars_stop = CancellationToken::new();
            let mut sidecars = Vec::new();
            for init in self.containers("initContainers") {
                if init["restartPolicy"] == "Always" {
                    let (pod, scratch, cancel) = (self.clone(), scratch.clone(), cancel.clone());
                    let stop = sidecars_stop.clone();
                    sidecars.push(tokio::spawn(async move {
                        let graceful = Graceful {
                            stop: &stop,
                            grace: pod.grace_period(),
                        };
                        pod.keep_running(
                            "initContainerStatuses",
                            &init,
                            &scratch,
                            &cancel,
                            Some(graceful),
                        )
                        .await;
                    }));
                    continue;
                }
                let exit = self
                    .run_container("initContainerStatuses", &init, &scratch, &cancel, None)
                    .await;
                if exit.code != 0 {
                    sidecars_stop.cancel();
                    return Some(("Failed", None));
                }
            }
            self.update(|s| {
                s["phase"] = json!("Running");
            });
            let runs = self.containers("containers").into_iter().map(|c| {
                let scratch = scratch.clone();
                let cancel = cancel.clone();
                async move {
                    this.keep_running("containerStatuses", &c, &scratch, &cancel, None)
                        .await
                }
            });
            let exits = futures::future::join_all(runs).await;
            // The pod ends once its sidecars have stopped (their exit codes do not count).
            sidecars_stop.cancel();
            for sidecar in sidecars {
                let _ = sidecar.await;
            }
            if cancel.is_cancelled() {
                return None;
            }
            Some((
                if exits.iter().all(|e| e.code == 0) {
                    "Succeeded"
                } else {
                    "Failed"
                },
                None,
            ))
        };
        let outcome = match deadline {
            Some(limit) => match tokio::time::timeout(limit, work).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    cancel.cancel();
                    Some((
                        "Failed",
                        Some((
                            "DeadlineExceeded",
                            format!(
                                "Pod was active on the node longer than the specified deadline ({} s)",
                                limit.as_secs()
                            ),
                        )),
                    ))
                }
            },
            None => work.await,
        };
        if let Some((phase, reason)) = outcome {
            self.update(|s| {
                s["phase"] = json!(phase);
                if let Some((reason, message)) = reason {
                    s["reason"] = json!(reason);
                    s["message"] = json!(message);
                }
            });
        }
    }

    /// Runs a container, restarting it as its pod's restartPolicy says.
    async fn keep_running(
        &self,
        list: &str,
        container: &Value,
        scratch: &PathBuf,
        cancel: &CancellationToken,
        graceful: Option<Graceful<'_>>,
    ) -> Exit {
        // A sidecar's own policy (`Always`) overrides the pod's.
        let policy = container["restartPolicy"]
            .as_str()
            .or(self.spec["restartPolicy"].as_str())
            .unwrap_or("Always")
            .to_owned();
        let name = container["name"].as_str().unwrap_or_default().to_owned();
        let mut restarts = 0u32;
        loop {
            let exit = self
                .run_container(list, container, scratch, cancel, graceful)
                .await;
            let told_to_stop = graceful.is_some_and(|g| g.stop.is_cancelled());
            let restart = !cancel.is_cancelled()
                && !told_to_stop
                && (policy == "Always" || (policy == "OnFailure" && exit.code != 0));
            if !restart {
                return exit;
            }
            restarts += 1;
            let backoff = restarts >= CRASH_LOOP_AFTER && exit.code != 0;
            self.set_container(list, &name, |c| {
                c["restartCount"] = json!(restarts);
                c["lastState"] = c["state"].clone();
                if backoff {
                    c["state"] = json!({ "waiting": { "reason": "CrashLoopBackOff", "message": format!("back-off restarting failed container {name}") } });
                }
            });
            if backoff {
                self.event(
                    true,
                    "BackOff",
                    &format!("Back-off restarting failed container {name}"),
                );
            }
            tokio::select! {
                () = tokio::time::sleep(RESTART_BACKOFF * restarts.min(10)) => {}
                () = cancel.cancelled() => return exit,
            }
        }
    }

    /// How long a container asked to stop may take before it is killed.
    fn grace_period(&self) -> Duration {
        Duration::from_secs(
            self.spec["terminationGracePeriodSeconds"]
                .as_u64()
                .unwrap_or(30),
        )
    }

    async fn run_container(
        &self,
        list: &str,
        container: &Value,
        scratch: &PathBuf,
        cancel: &CancellationToken,
        graceful: Option<Graceful<'_>>,
    ) -> Exit {
        let name = container["name"].as_str().unwrap_or_default().to_owned();
        let argv: Vec<String> = ["command", "args"]
            .iter()
            .flat_map(|k| container[*k].as_array().cloned().unwrap_or_default())
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let log = self.sim.logs.start(&self.namespace, &self.name, &name);
        self.event(false, "Started", &format!("Started container {name}"));
        let started_at = now_rfc3339();
        let container_id = format!(
            "containerd://{}",
            container_digest(&self.namespace, &self.name, &name, &started_at)
        );
        self.set_container(list, &name, |c| {
            c["state"] = json!({ "running": { "startedAt": started_at } });
            c["containerID"] = json!(container_id);
            c["started"] = json!(true);
            c["ready"] = json!(true);
        });
        let exit = if argv.is_empty() {
            // An image's own entrypoint, such as a web server: runs until the pod goes away.
            match graceful {
                Some(graceful) => tokio::select! {
                    () = graceful.stop.cancelled() => {}
                    () = cancel.cancelled() => {}
                },
                None => cancel.cancelled().await,
            }
            Exit {
                code: 137,
                reason: "Killed",
            }
        } else {
            let processes = &self.sim.processes;
            let started = |group| processes.started(&self.namespace, &self.name, &name, group);
            let env = secret_env(&self.sim, &self.namespace, container);
            let exit = run_process(
                &argv, container, &env, scratch, &log, cancel, graceful, started,
            )
            .await;
            processes.ended(&self.namespace, &self.name, &name);
            exit
        };
        log.finish();
        let code = exit.code;
        self.set_container(list, &name, |c| {
            let started_at = c["state"]["running"]["startedAt"].clone();
            let container_id = c["containerID"].clone();
            c["state"] = json!({ "terminated": { "exitCode": code, "reason": exit.reason, "startedAt": started_at, "finishedAt": now_rfc3339(), "containerID": container_id } });
            c["ready"] = json!(false);
        });
        exit
    }
}

async fn pump(reader: impl AsyncRead + Unpin, log: Arc<LogBuffer>) {
    let mut lines = BufReader::new(reader).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        log.push(line);
    }
}

/// Variables from the Secrets a container's `envFrom` names (missing Secrets add nothing, as
/// with `optional: true`).
fn secret_env(sim: &Sim, namespace: &str, container: &Value) -> Vec<(String, String)> {
    let Some(secrets) = crate::admission::kind("secrets") else {
        return Vec::new();
    };
    let mut env = Vec::new();
    for source in container["envFrom"].as_array().into_iter().flatten() {
        let Some(name) = source["secretRef"]["name"].as_str() else {
            continue;
        };
        let Ok(stored) = sim.store.get(secrets, namespace, name) else {
            continue;
        };
        let Ok(secret) =
            serde_json::from_value::<k8s_openapi::api::core::v1::Secret>((*stored).clone())
        else {
            continue;
        };
        for (key, value) in secret.data.unwrap_or_default() {
            env.push((key, String::from_utf8_lossy(&value.0).into_owned()));
        }
        env.extend(secret.string_data.unwrap_or_default());
    }
    env
}

/// A container that is asked to stop (`SIGTERM`) when `stop` is cancelled, and killed if it is
/// still running `grace` later: a native sidecar once its pod's main containers have ended.
#[derive(Clone, Copy)]
struct Graceful<'a> {
    stop: &'a CancellationToken,
    grace: Duration,
}

#[expect(clippy::too_many_arguments, reason = "one container's whole run")]
async fn run_process(
    argv: &[String],
    container: &Value,
    secret_env: &[(String, String)],
    scratch: &PathBuf,
    log: &Arc<LogBuffer>,
    cancel: &CancellationToken,
    graceful: Option<Graceful<'_>>,
    started: impl FnOnce(u32),
) -> Exit {
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .current_dir(scratch)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    command.envs(secret_env.iter().map(|(k, v)| (k, v)));
    for variable in container["env"].as_array().cloned().unwrap_or_default() {
        if let (Some(key), Some(value)) = (variable["name"].as_str(), variable["value"].as_str()) {
            command.env(key, value);
        }
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            log.push(format!("kube-sim: cannot start {:?}: {error}", argv[0]));
            return Exit {
                code: 127,
                reason: "StartError",
            };
        }
    };
    let group = child.id();
    if let Some(group) = group {
        started(group);
    }
    let pumps = [
        child
            .stdout
            .take()
            .map(|o| tokio::spawn(pump(o, log.clone()))),
        child
            .stderr
            .take()
            .map(|e| tokio::spawn(pump(e, log.clone()))),
    ];
    let asked_to_stop = async {
        match graceful {
            Some(graceful) => {
                graceful.stop.cancelled().await;
                graceful.grace
            }
            None => std::future::pending().await,
        }
    };
    let status = tokio::select! {
        status = child.wait() => status.ok(),
        () = cancel.cancelled() => {
            kill_group(group);
            let _ = child.kill().await;
            None
        }
        grace = asked_to_stop => {
            // As a container runtime does, to the container's first process only.
            signal(group.map(|pid| pid.to_string()), "-TERM");
            tokio::select! {
                status = tokio::time::timeout(grace, child.wait()) => status.ok().and_then(Result::ok),
                () = cancel.cancelled() => None,
            }
        }
    };
    // Children of the command may keep the pipes open: end them with it.
    kill_group(group);
    for pump in pumps.into_iter().flatten() {
        let _ = pump.await;
    }
    match status.and_then(|s| s.code()) {
        Some(0) => Exit {
            code: 0,
            reason: "Completed",
        },
        Some(code) => Exit {
            code: i64::from(code),
            reason: "Error",
        },
        None => Exit {
            code: 137,
            reason: "Killed",
        },
    }
}

/// Kills the container's whole process group (its shell and everything it started).
fn kill_group(group: Option<u32>) {
    signal(group.map(|pid| format!("-{pid}")), "-KILL");
}

/// Sends `signal` to `target` (a process id, or `-id` for its group).
fn signal(target: Option<String>, signal: &str) {
    #[cfg(unix)]
    if let Some(target) = target {
        let _ = std::process::Command::new("kill")
            .args([signal, "--", &target])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
