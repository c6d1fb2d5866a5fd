//! Server-side apply of any kind the cluster serves, found through (cached) discovery.

use std::collections::HashMap;
use std::sync::Mutex;

use domain::cluster::{
    ClusterError, FIELD_MANAGER, MANAGED_BY_LABEL, MANAGED_BY_VALUE, Manifest, Result,
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

fn gvk_of(manifest: &Manifest) -> Result<GroupVersionKind> {
    let api_version = manifest.0["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    if version.is_empty() || manifest.kind().is_empty() || manifest.name().is_empty() {
        return Err(ClusterError::Invalid(
            "a manifest needs apiVersion, kind and metadata.name".into(),
        ));
    }
    Ok(GroupVersionKind::gvk(group, version, manifest.kind()))
}

pub async fn apply(
    client: &Client,
    kinds: &KindCache,
    namespace: &str,
    manifest: &Manifest,
) -> Result<()> {
    let gvk = gvk_of(manifest)?;
    let (resource, namespaced) = kinds.resolve(client, &gvk).await?;
    let api: Api<DynamicObject> = if namespaced {
        Api::namespaced_with(client.clone(), namespace, &resource)
    } else {
        Api::all_with(client.clone(), &resource)
    };
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
