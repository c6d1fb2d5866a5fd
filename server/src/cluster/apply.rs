//! Server-side apply of any kind the cluster serves, found through (cached) discovery.

use std::collections::HashMap;
use std::sync::Mutex;

use domain::cluster::{
    ClusterError, FIELD_MANAGER, MANAGED_BY_LABEL, MANAGED_BY_VALUE, Manifest, ObjectKind, Result,
};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::discovery::{Scope, pinned_kind};
use serde_json::json;

use super::errors::{map, retrying_for};

/// Where each kind is served, learned once per kind.
#[derive(Debug, Default)]
pub struct KindCache(Mutex<HashMap<GroupVersionKind, (ApiResource, bool)>>);

impl KindCache {
    async fn resolve(
        &self,
        client: &Client,
        gvk: &GroupVersionKind,
    ) -> Result<(ApiResource, bool)> {
        if let Some(found) = self.0.lock().ok().and_then(|cache| cache.get(gvk).cloned()) {
            return Ok(found);
        }
        let (resource, capabilities) = pinned_kind(client, gvk).await.map_err(|e| match e {
            // An unknown group/version answers 404; a known one without the kind, a discovery error.
            kube::Error::Discovery(_) => unserved(gvk),
            kube::Error::Api(status) if status.code == 404 => unserved(gvk),
            other => map(other, "kind", &gvk.kind),
        })?;
        let namespaced = capabilities.scope == Scope::Namespaced;
        if let Ok(mut cache) = self.0.lock() {
            cache.insert(gvk.clone(), (resource.clone(), namespaced));
        }
        Ok((resource, namespaced))
    }
}

fn unserved(gvk: &GroupVersionKind) -> ClusterError {
    ClusterError::Invalid(format!(
        "the cluster does not serve {}/{} {}",
        gvk.group, gvk.version, gvk.kind
    ))
}

/// The kind of `apps/v1` + `Deployment`.
fn gvk(kind: ObjectKind<'_>) -> Result<GroupVersionKind> {
    let (group, version) = kind
        .api_version
        .rsplit_once('/')
        .unwrap_or(("", kind.api_version));
    if version.is_empty() || kind.kind.is_empty() {
        return Err(ClusterError::Invalid(
            "an object needs an apiVersion and a kind".into(),
        ));
    }
    Ok(GroupVersionKind::gvk(group, version, kind.kind))
}

impl KindCache {
    /// The API of `kind` in `namespace` (cluster-wide for cluster-scoped kinds), and whether
    /// the kind is namespaced.
    pub async fn api(
        &self,
        client: &Client,
        namespace: &str,
        kind: ObjectKind<'_>,
    ) -> Result<(Api<DynamicObject>, bool)> {
        let (resource, namespaced) = self.resolve(client, &gvk(kind)?).await?;
        let api = if namespaced {
            Api::namespaced_with(client.clone(), namespace, &resource)
        } else {
            Api::all_with(client.clone(), &resource)
        };
        Ok((api, namespaced))
    }
}

pub async fn apply(
    client: &Client,
    kinds: &KindCache,
    namespace: &str,
    manifest: &Manifest,
) -> Result<()> {
    let kind = ObjectKind {
        api_version: manifest.0["apiVersion"].as_str().unwrap_or_default(),
        kind: manifest.kind(),
    };
    if manifest.name().is_empty() {
        return Err(ClusterError::Invalid(
            "a manifest needs apiVersion, kind and metadata.name".into(),
        ));
    }
    let (api, namespaced) = kinds.api(client, namespace, kind).await?;
    let mut body = manifest.0.clone();
    body["metadata"]["labels"][MANAGED_BY_LABEL] = json!(MANAGED_BY_VALUE);
    if namespaced {
        body["metadata"]["namespace"] = json!(namespace);
    }
    let name = manifest.name().to_owned();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let patch = Patch::Apply(&body);
    retrying_for("apply an object", "object", &name, || {
        api.patch(&name, &params, &patch)
    })
    .await
    .map(|_| ())
}
