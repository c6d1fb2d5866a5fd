//! Reading, listing and deleting objects of any served kind, as plain manifests. Deletion is
//! guarded: an object without Slipway's managed-by label is never deleted.

use domain::cluster::{
    ClusterError, MANAGED_BY_LABEL, MANAGED_BY_VALUE, Manifest, ObjectKind, Result,
};
use kube::Client;
use kube::api::{DeleteParams, DynamicObject, ListParams};

use super::apply::KindCache;
use super::errors::retrying_for;

fn manifest(object: &DynamicObject) -> Result<Manifest> {
    serde_json::to_value(object)
        .map(Manifest)
        .map_err(|e| ClusterError::Unavailable(Box::new(e)))
}

fn managed(object: &DynamicObject) -> bool {
    object
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .is_some_and(|v| v == MANAGED_BY_VALUE)
}

pub async fn get(
    client: &Client,
    kinds: &KindCache,
    namespace: &str,
    kind: ObjectKind<'_>,
    name: &str,
) -> Result<Option<Manifest>> {
    let (api, _) = kinds.api(client, namespace, kind).await?;
    let found = retrying_for("read an object", "object", name, || api.get_opt(name)).await?;
    found.as_ref().map(manifest).transpose()
}

pub async fn list(
    client: &Client,
    kinds: &KindCache,
    namespace: &str,
    kind: ObjectKind<'_>,
    selector: &str,
) -> Result<Vec<Manifest>> {
    let (api, _) = kinds.api(client, namespace, kind).await?;
    let params = ListParams::default().labels(selector);
    let list = retrying_for("list objects", "object", kind.kind, || api.list(&params)).await?;
    list.items.iter().map(manifest).collect()
}

pub async fn delete(
    client: &Client,
    kinds: &KindCache,
    namespace: &str,
    kind: ObjectKind<'_>,
    name: &str,
) -> Result<()> {
    let (api, _) = kinds.api(client, namespace, kind).await?;
    let Some(object) = retrying_for("read an object", "object", name, || api.get_opt(name)).await?
    else {
        return Ok(());
    };
    if !managed(&object) {
        return Err(ClusterError::Unmanaged(format!("{}/{name}", kind.kind)));
    }
    let params = DeleteParams::foreground();
    match retrying_for("delete an object", "object", name, || {
        api.delete(name, &params)
    })
    .await
    {
        Ok(_) | Err(ClusterError::NotFound { .. }) => Ok(()),
        Err(other) => Err(other),
    }
}
