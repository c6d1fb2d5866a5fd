//! Namespaces: ensure (server-side apply), create unless the name is taken, get, guarded
//! delete, and waiting until gone.

use std::collections::BTreeMap;
use std::time::Duration;

use domain::cluster::{
    ClusterError, FIELD_MANAGER, MANAGED_BY_LABEL, MANAGED_BY_VALUE, NamespacePhase, NamespaceSpec,
    NamespaceState, Result,
};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, ResourceExt};
use serde_json::json;

use super::errors::retrying_for;

fn state(namespace: &Namespace) -> NamespaceState {
    let terminating = namespace.status.as_ref().and_then(|s| s.phase.as_deref())
        == Some("Terminating")
        || namespace.metadata.deletion_timestamp.is_some();
    NamespaceState {
        name: namespace.name_any(),
        labels: namespace.labels().clone(),
        phase: if terminating {
            NamespacePhase::Terminating
        } else {
            NamespacePhase::Active
        },
    }
}

/// The namespace as Slipway writes it: the spec's labels plus the managed-by label.
fn manifest(spec: &NamespaceSpec) -> serde_json::Value {
    let mut labels: BTreeMap<String, String> = spec.labels.clone();
    labels.insert(MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned());
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": spec.name, "labels": labels, "annotations": spec.annotations },
    })
}

pub async fn ensure(client: &Client, spec: &NamespaceSpec) -> Result<NamespaceState> {
    let manifest = manifest(spec);
    let api: Api<Namespace> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER);
    let patch = Patch::Apply(&manifest);
    let applied = retrying_for("apply a namespace", "namespace", &spec.name, || {
        api.patch(&spec.name, &params, &patch)
    })
    .await?;
    Ok(state(&applied))
}

pub async fn create(client: &Client, spec: &NamespaceSpec) -> Result<bool> {
    let namespace: Namespace = serde_json::from_value(manifest(spec))
        .map_err(|e| ClusterError::Invalid(format!("namespace `{}`: {e}", spec.name)))?;
    let api: Api<Namespace> = Api::all(client.clone());
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PostParams::default()
    };
    // A retry after a create that did happen meets its own namespace: `false`, and the caller
    // reads it like any existing one.
    match retrying_for("create a namespace", "namespace", &spec.name, || {
        api.create(&params, &namespace)
    })
    .await
    {
        Ok(_) => Ok(true),
        Err(ClusterError::Conflict(_)) => Ok(false),
        Err(other) => Err(other),
    }
}

pub async fn get(client: &Client, name: &str) -> Result<Option<NamespaceState>> {
    let api: Api<Namespace> = Api::all(client.clone());
    let found = retrying_for("read a namespace", "namespace", name, || api.get_opt(name)).await?;
    Ok(found.as_ref().map(state))
}

pub async fn delete(client: &Client, name: &str) -> Result<()> {
    let Some(current) = get(client, name).await? else {
        return Ok(());
    };
    if !current.is_managed() {
        tracing::warn!(
            namespace = name,
            "refused to delete a namespace Slipway did not create"
        );
        return Err(ClusterError::Unmanaged(name.to_owned()));
    }
    let api: Api<Namespace> = Api::all(client.clone());
    let params = DeleteParams::foreground();
    match retrying_for("delete a namespace", "namespace", name, || {
        api.delete(name, &params)
    })
    .await
    {
        Ok(_) | Err(ClusterError::NotFound { .. }) => Ok(()),
        Err(other) => Err(other),
    }
}

pub async fn wait_gone(client: &Client, name: &str, limit: Duration) -> Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    let Some(current) =
        retrying_for("read a namespace", "namespace", name, || api.get_opt(name)).await?
    else {
        return Ok(());
    };
    let uid = current.uid().unwrap_or_default();
    match tokio::time::timeout(
        limit,
        await_condition(api, name, conditions::is_deleted(&uid)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(ClusterError::Unavailable(Box::new(error))),
        Err(_) => Err(super::timeout(
            format!("deletion of namespace `{name}`"),
            limit,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminating_is_read_from_phase_or_deletion_timestamp() {
        let ns: Namespace = serde_json::from_value(json!({ "metadata": { "name": "x", "labels": { MANAGED_BY_LABEL: MANAGED_BY_VALUE } }, "status": { "phase": "Terminating" } })).expect("ns");
        let state = state(&ns);
        assert_eq!(state.phase, NamespacePhase::Terminating);
        assert!(state.is_managed());
    }
}
