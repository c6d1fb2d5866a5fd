//! The API: one dispatcher for every request (knobs first, then, when kube-sim authorises,
//! the caller and RBAC, then discovery or a resource operation), and the resource operations
//! themselves — list, watch, get, create, replace,
//! patch (merge, strategic merge, server-side apply) and delete. Bodies
//! are JSON, or protobuf as kubectl sends them (read into the same JSON).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Sim;
use crate::apply;
use crate::authorization::{Attributes, Caller, authorize};
use crate::path::{self, OpenApi, Route, Target};
use crate::resources::ResourceType;
use crate::selector::{FieldSelector, Selector};
use crate::status::ApiError;
use crate::store::{metadata_mut, name_of};
use crate::tables;
use crate::validate::{strict_decode, validate};
use crate::watch::{self, WatchRequest};
use crate::writes::writes;

type Params = BTreeMap<String, String>;

/// Every API request lands here.
pub async fn dispatch(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(injected) = sim.knobs.before_request().await {
        return injected.into_response();
    }
    let caller = match sim.authorize.then(|| Caller::of(&headers)).transpose() {
        Ok(caller) => caller,
        Err(unauthenticated) => return unauthenticated.into_response(),
    };
    let protobuf = headers.get(header::CONTENT_TYPE).is_some_and(|t| {
        t.as_bytes()
            .starts_with(crate::protobuf::MEDIA_TYPE.as_bytes())
    });
    let body = if protobuf && !body.is_empty() {
        match crate::protobuf::to_json(&body) {
            Ok(object) => Bytes::from(object.to_string()),
            Err(why) => return ApiError::bad_request(why).into_response(),
        }
    } else {
        body
    };
    let route = path::parse(uri.path());
    if let (Some(caller), Route::Resource(target)) = (&caller, &route)
        && let Err(refused) = authorized(&sim, caller, &method, target, &params, &headers)
    {
        return refused.into_response();
    }
    let result = match route {
        Route::Discovery(request) if method == Method::GET => {
            crate::discovery::respond(&request, sim.knobs.metrics_api())
                .map(|v| Json(v).into_response())
        }
        Route::Discovery(_) => Err(ApiError::method_not_allowed()),
        Route::OpenApi(document) if method == Method::GET => openapi(&document, &headers),
        Route::OpenApi(_) => Err(ApiError::method_not_allowed()),
        Route::Unknown => Err(ApiError::not_served(uri.path())),
        Route::Resource(target) if target.resource == &crate::resources::POD_METRICS => {
            metrics(&sim, &method, &target, uri.path())
        }
        Route::Resource(target) => resource(&sim, &method, target, &params, &headers, &body).await,
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Whether RBAC lets `caller` make this request; a server-side apply that would create the
/// object also needs `create`, as on a real API server.
fn authorized(
    sim: &Sim,
    caller: &Caller,
    method: &Method,
    target: &Target,
    params: &Params,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let request = Attributes::of(method, target, flag(params, "watch"));
    authorize(&sim.store, caller, &request)?;
    let applying = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/apply-patch"));
    if *method == Method::PATCH
        && applying
        && let Some(name) = &target.name
    {
        let namespace = target.namespace.as_deref().unwrap_or_default();
        if sim.store.get(target.resource, namespace, name).is_err() {
            authorize(&sim.store, caller, &request.with_verb("create"))?;
        }
    }
    Ok(())
}

/// The OpenAPI documents, in JSON only: a client that accepts nothing else (kubectl asks for
/// `/openapi/v2` in protobuf) is told so rather than sent what it cannot parse.
fn openapi(document: &OpenApi, headers: &HeaderMap) -> Result<Response, ApiError> {
    let accept = accept(headers).unwrap_or("*/*");
    if !accept.contains("json") && !accept.contains("*/*") {
        return Err(ApiError::not_acceptable(accept));
    }
    Ok(match document {
        OpenApi::V2 => Json(crate::openapi::v2()?).into_response(),
        OpenApi::V3Index => Json(crate::openapi::v3_index()?).into_response(),
        OpenApi::V3(group_version) => Json(crate::openapi::v3(group_version)?).into_response(),
    })
}

/// metrics.k8s.io: read-only, and absent when the knob hides it.
fn metrics(sim: &Sim, method: &Method, target: &Target, path: &str) -> Result<Response, ApiError> {
    if !sim.knobs.metrics_api() {
        return Err(ApiError::not_served(path));
    }
    if method != Method::GET {
        return Err(ApiError::method_not_allowed());
    }
    let namespace = target.namespace.as_deref().unwrap_or_default();
    crate::usage::respond(sim, namespace, target.name.as_deref()).map(|v| Json(v).into_response())
}

/// An object as read back: ResourceQuotas with the status their controller would keep.
fn with_status<'a>(sim: &Sim, r: &ResourceType, object: &'a Value) -> Cow<'a, Value> {
    if r.kind == "ResourceQuota" {
        Cow::Owned(crate::admission::with_quota_status(sim, object))
    } else {
        Cow::Borrowed(object)
    }
}

fn object(value: Arc<Value>) -> Response {
    Json(&*value).into_response()
}

fn created(value: Arc<Value>) -> Response {
    (axum::http::StatusCode::CREATED, Json(&*value)).into_response()
}

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())
}

/// A Table's rows carry the whole object (`includeObject=Object`), not only its metadata.
fn whole(params: &Params) -> bool {
    params.get("includeObject").is_some_and(|v| v == "Object")
}

fn flag(params: &Params, name: &str) -> bool {
    params.get(name).is_some_and(|v| v == "true" || v == "1")
}

fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

fn selector(params: &Params) -> Result<Selector, ApiError> {
    Selector::parse(
        params
            .get("labelSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(ApiError::bad_request)
}

fn field_selector(params: &Params) -> Result<FieldSelector, ApiError> {
    FieldSelector::parse(
        params
            .get("fieldSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(ApiError::bad_request)
}

async fn resource(
    sim: &Arc<Sim>,
    method: &Method,
    target: Target,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let r = target.resource;
    let namespace = target.namespace.clone().unwrap_or_default();
    match (
        method.clone(),
        target.name.clone(),
        target.subresource.as_deref(),
    ) {
        (Method::GET, None, None) if flag(params, "watch") => {
            let request = WatchRequest {
                from: params.get("resourceVersion").and_then(|v| v.parse().ok()),
                selector: selector(params)?,
                fields: field_selector(params)?,
                bookmarks: flag(params, "allowWatchBookmarks"),
                timeout: params
                    .get("timeoutSeconds")
                    .and_then(|v| v.parse().ok())
                    .map(Duration::from_secs),
                table: tables::wanted(accept(headers)).then(|| whole(params)),
                target,
            };
            Ok(watch::respond(sim.clone(), request))
        }
        (Method::GET, None, None) => {
            let fields = field_selector(params)?;
            let (items, version) = sim.store.list(r, &namespace, &selector(params)?);
            let items: Vec<Cow<'_, Value>> = items
                .iter()
                .map(|item| item.as_ref())
                .filter(|o| fields.matches(o))
                .map(|o| with_status(sim, r, o))
                .collect();
            if tables::wanted(accept(headers)) {
                let rows: Vec<&Value> = items.iter().map(AsRef::as_ref).collect();
                return Ok(
                    Json(tables::table(r, &rows, &version.to_string(), whole(params)))
                        .into_response(),
                );
            }
            Ok(Json(json!({ "kind": format!("{}List", r.kind), "apiVersion": r.api_version(), "metadata": { "resourceVersion": version.to_string() }, "items": items })).into_response())
        }
        (Method::GET, Some(name), None | Some("status")) => {
            let found = sim.store.get(r, &namespace, &name)?;
            let found = with_status(sim, r, &found);
            if tables::wanted(accept(headers)) {
                let version = found["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or_default();
                return Ok(
                    Json(tables::table(r, &[&found], version, whole(params))).into_response()
                );
            }
            Ok(Json(found).into_response())
        }
        (Method::GET, Some(name), Some("log")) if r.kind == "Pod" => {
            crate::logs::respond(sim, &namespace, &name, params).await
        }
        (Method::POST, None, None) => {
            let object = json_body(body)?;
            check_namespace(&object, &target)?;
            strict_decode(r, &object)?;
            validate(r, &object)?;
            let mut object = object;
            let manager = params
                .get("fieldManager")
                .cloned()
                .unwrap_or_else(|| "unknown".into());
            apply::record_update(&json!({}), &mut object, &manager);
            if r.kind == "Pod" {
                crate::admission::admit_pod(sim, &namespace, &mut object)?;
            }
            Ok(created(writes(params)?.create(sim, r, &namespace, object)?))
        }
        (Method::PUT, Some(name), sub @ (None | Some("status"))) => {
            let replacement = json_body(body)?;
            check_namespace(&replacement, &target)?;
            strict_decode(r, &replacement)?;
            validate(r, &replacement)?;
            let manager = params
                .get("fieldManager")
                .cloned()
                .unwrap_or_else(|| "unknown".into());
            let status_only = sub.is_some();
            let updated = writes(params)?.modify(sim, r, &namespace, &name, |current| {
                let expected = replacement["metadata"]["resourceVersion"].as_str();
                if expected.is_some_and(|v| Some(v) != current["metadata"]["resourceVersion"].as_str()) {
                    return Err(ApiError::conflict(r.plural, &name, "the object has been modified; please apply your changes to the latest version and try again"));
                }
                let before = current.clone();
                if status_only {
                    current["status"] = replacement["status"].clone();
                } else {
                    let status = current.get("status").cloned();
                    *current = replacement.clone();
                    if let Some(status) = status.filter(|_| r.has_status()) {
                        current["status"] = status;
                    }
                }
                apply::record_update(&before, current, &manager);
                Ok(())
            })?;
            Ok(object(updated))
        }
        (Method::GET, Some(name), Some("scale")) if r.subresources.contains(&"scale") => {
            Ok(Json(crate::scale::of(&*sim.store.get(r, &namespace, &name)?)).into_response())
        }
        (Method::PUT | Method::PATCH, Some(name), Some("scale"))
            if r.subresources.contains(&"scale") =>
        {
            let asked = json_body(body)?;
            let Some(replicas) = asked["spec"]["replicas"].as_u64() else {
                return Err(ApiError::bad_request(
                    "a Scale needs spec.replicas, a whole number",
                ));
            };
            let scaled = writes(params)?.modify(sim, r, &namespace, &name, |current| {
                current["spec"]["replicas"] = json!(replicas);
                Ok(())
            })?;
            Ok(Json(crate::scale::of(&scaled)).into_response())
        }
        (Method::PATCH, Some(name), sub @ (None | Some("status"))) => {
            patch(sim, &target, &name, sub.is_some(), params, headers, body)
        }
        (Method::DELETE, Some(name), None) => {
            Ok(object(writes(params)?.delete(sim, r, &namespace, &name)?))
        }
        (Method::DELETE, None, None) => {
            let (items, _) = sim.store.list(r, &namespace, &selector(params)?);
            let mut deleted = Vec::new();
            for item in items {
                let item_namespace = item["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let removed = writes(params)?.delete(sim, r, &item_namespace, name_of(&item))?;
                deleted.push(Value::clone(&removed));
            }
            Ok(Json(json!({ "kind": format!("{}List", r.kind), "apiVersion": r.api_version(), "metadata": {}, "items": deleted })).into_response())
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// A body's `metadata.namespace`, when given, must match the path.
fn check_namespace(object: &Value, target: &Target) -> Result<(), ApiError> {
    match (
        object["metadata"]["namespace"].as_str(),
        target.namespace.as_deref(),
    ) {
        (Some(body), Some(path)) if !body.is_empty() && body != path => {
            Err(ApiError::bad_request(format!(
                "the namespace of the provided object ({body}) does not match the namespace sent on the request ({path})"
            )))
        }
        _ => Ok(()),
    }
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(fields) => {
            if !target.is_object() {
                *target = json!({});
            }
            for (key, value) in fields {
                if value.is_null() {
                    if let Some(map) = target.as_object_mut() {
                        map.remove(key);
                    }
                } else {
                    merge_patch(&mut target[key.as_str()], value);
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn patch(
    sim: &Arc<Sim>,
    target: &Target,
    name: &str,
    status_only: bool,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let r = target.resource;
    let namespace = target.namespace.clone().unwrap_or_default();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let content_type = content_type.split(';').next().unwrap_or_default().trim();
    let patch_body = json_body(body)?;
    let manager = params.get("fieldManager").cloned().unwrap_or_default();
    match content_type {
        "application/apply-patch+yaml" => {
            let mut applied = patch_body;
            applied["apiVersion"] = Value::String(r.api_version());
            applied["kind"] = Value::String(r.kind.to_owned());
            check_namespace(&applied, target)?;
            if name_of(&applied) != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    name_of(&applied)
                )));
            }
            strict_decode(r, &applied)?;
            validate(r, &applied)?;
            let force = flag(params, "force");
            match sim.store.get(r, &namespace, name) {
                Err(missing) if missing.code == 404 && !status_only => {
                    let new_object = apply::apply(None, &applied, &manager, force, r.plural, name)?;
                    Ok(created(
                        writes(params)?.create(sim, r, &namespace, new_object)?,
                    ))
                }
                Err(other) => Err(other),
                Ok(_) => {
                    let updated = writes(params)?.modify(sim, r, &namespace, name, |current| {
                        let source = if status_only { json!({ "apiVersion": applied["apiVersion"], "kind": applied["kind"], "metadata": { "name": name }, "status": applied["status"] }) } else { applied.clone() };
                        let mut next = apply::apply(Some(current), &source, &manager, force, r.plural, name)?;
                        if status_only {
                            next["status"] = applied["status"].clone();
                        }
                        *current = next;
                        Ok(())
                    })?;
                    Ok(object(updated))
                }
            }
        }
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            let strategic = content_type == "application/strategic-merge-patch+json";
            let schema = strategic
                .then(|| crate::openapi::schema_of(r.group, r.version, r.kind))
                .flatten();
            let manager = if manager.is_empty() {
                "unknown".to_owned()
            } else {
                manager
            };
            let updated = writes(params)?.modify(sim, r, &namespace, name, |current| {
                let before = current.clone();
                let mut next = current.clone();
                let mut patch = patch_body.clone();
                if status_only {
                    patch = json!({ "status": patch_body["status"] });
                } else if let Some(map) = patch.as_object_mut().filter(|_| r.has_status()) {
                    map.remove("status");
                }
                if strategic {
                    crate::strategic::merge(&mut next, &patch, schema);
                } else {
                    merge_patch(&mut next, &patch);
                }
                metadata_mut(&mut next);
                strict_decode(r, &next)?;
                validate(r, &next)?;
                apply::record_update(&before, &mut next, &manager);
                *current = next;
                Ok(())
            })?;
            Ok(object(updated))
        }
        other => Err(ApiError::unsupported_media_type(other)),
    }
}
