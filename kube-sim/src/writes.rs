//! `dryRun=All`: a write checked and answered as it would be stored, but not stored.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::Sim;
use crate::resources::ResourceType;
use crate::status::ApiError;

/// Whether a write is stored or, under `dryRun=All`, only checked and answered.
#[derive(Clone, Copy)]
pub enum Writes {
    Stored,
    DryRun,
}

pub fn writes(params: &BTreeMap<String, String>) -> Result<Writes, ApiError> {
    match params.get("dryRun").map(String::as_str) {
        None | Some("") => Ok(Writes::Stored),
        Some("All") => Ok(Writes::DryRun),
        Some(other) => Err(ApiError::bad_request(format!(
            "unsupported dry run directive {other:?}; the only one is \"All\""
        ))),
    }
}

impl Writes {
    pub fn create(
        self,
        sim: &Sim,
        r: &'static ResourceType,
        namespace: &str,
        object: Value,
    ) -> Result<Arc<Value>, ApiError> {
        match self {
            Self::Stored => sim.store.create(r, namespace, object),
            Self::DryRun => sim.store.try_create(r, namespace, object),
        }
    }

    pub fn modify(
        self,
        sim: &Sim,
        r: &'static ResourceType,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Value) -> Result<(), ApiError>,
    ) -> Result<Arc<Value>, ApiError> {
        match self {
            Self::Stored => sim.store.modify(r, namespace, name, change),
            Self::DryRun => sim.store.try_modify(r, namespace, name, change),
        }
    }

    /// A dry-run delete answers with the object as it is.
    pub fn delete(
        self,
        sim: &Sim,
        r: &'static ResourceType,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        match self {
            Self::Stored => sim.store.delete(r, namespace, name),
            Self::DryRun => sim.store.get(r, namespace, name),
        }
    }
}
