//! Who is calling and what RBAC lets them do, when kube-sim is started with
//! [`crate::Options::authorize`]: the kubeconfig's own token is the cluster's administrator
//! (`system:masters`); [`service_account_token`] names a ServiceAccount, whose requests are
//! allowed only by the rules of the Roles and ClusterRoles bound to it (RoleBindings in the
//! request's namespace, ClusterRoleBindings anywhere), as the API server's RBAC authoriser
//! decides; anything else is 401. Refusals are 403 `Forbidden` in the API server's words.

use axum::http::{HeaderMap, Method, header};
use serde_json::Value;

use crate::path::Target;
use crate::resources::{CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES, ROLE_BINDINGS, ROLES};
use crate::selector::Selector;
use crate::status::ApiError;
use crate::store::Store;

/// The kubeconfig's token: the administrator, allowed everything.
pub const ADMIN_TOKEN: &str = "kube-sim";
const SERVICE_ACCOUNT_PREFIX: &str = "kube-sim-sa.";

/// The bearer token that authenticates as ServiceAccount `name` in `namespace`.
pub fn service_account_token(namespace: &str, name: &str) -> String {
    format!("{SERVICE_ACCOUNT_PREFIX}{namespace}.{name}")
}

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Admin,
    ServiceAccount { namespace: String, name: String },
}

impl Caller {
    /// The caller its bearer token names; 401 without one kube-sim issued.
    pub fn of(headers: &HeaderMap) -> Result<Self, ApiError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or_default();
        if token == ADMIN_TOKEN {
            return Ok(Self::Admin);
        }
        token
            .strip_prefix(SERVICE_ACCOUNT_PREFIX)
            .and_then(|rest| rest.split_once('.'))
            .filter(|(namespace, name)| !namespace.is_empty() && !name.is_empty())
            .map(|(namespace, name)| Self::ServiceAccount {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            })
            .ok_or_else(ApiError::unauthorized)
    }

    /// The user name RBAC and error messages use.
    pub fn user(&self) -> String {
        match self {
            Self::Admin => "kube-sim".to_owned(),
            Self::ServiceAccount { namespace, name } => {
                format!("system:serviceaccount:{namespace}:{name}")
            }
        }
    }
}

/// What a request asks to do, in RBAC's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    pub verb: &'static str,
    pub group: &'static str,
    /// The plural, with `/subresource` when it addresses one (`pods/log`).
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl Attributes {
    /// The attributes of `method` on `target` (`watch` when the query asks for one).
    pub fn of(method: &Method, target: &Target, watch: bool) -> Self {
        let named = target.name.is_some();
        let verb = match *method {
            Method::GET if watch => "watch",
            Method::GET if named => "get",
            Method::GET => "list",
            Method::POST => "create",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE if named => "delete",
            Method::DELETE => "deletecollection",
            _ => "unknown",
        };
        let plural = target.resource.plural;
        let resource = match &target.subresource {
            Some(sub) => format!("{plural}/{sub}"),
            None => plural.to_owned(),
        };
        // A namespace is in its own namespace, as the API server sees it.
        let namespace = if target.resource == &crate::resources::NAMESPACES {
            target.name.clone()
        } else {
            target.namespace.clone()
        };
        Self {
            verb,
            group: target.resource.group,
            resource,
            namespace,
            name: target.name.clone(),
        }
    }

    /// The same request with another verb (a server-side apply that creates also needs `create`).
    pub fn with_verb(&self, verb: &'static str) -> Self {
        Self {
            verb,
            ..self.clone()
        }
    }
}

/// Allows the request, or says in the API server's words why not.
pub fn authorize(store: &Store, caller: &Caller, request: &Attributes) -> Result<(), ApiError> {
    let Caller::ServiceAccount { namespace, name } = caller else {
        return Ok(());
    };
    let everything = Selector::default();
    let bound = |binding: &Value| {
        binding["subjects"]
            .as_array()
            .is_some_and(|subjects| subjects.iter().any(|s| names(s, namespace, name)))
    };
    let mut rules: Vec<Value> = Vec::new();
    for binding in store.list(&CLUSTER_ROLE_BINDINGS, "", &everything).0 {
        if bound(&binding) && binding["roleRef"]["kind"] == "ClusterRole" {
            rules.extend(role_rules(store, &binding["roleRef"], ""));
        }
    }
    if let Some(in_namespace) = &request.namespace {
        for binding in store.list(&ROLE_BINDINGS, in_namespace, &everything).0 {
            if bound(&binding) {
                rules.extend(role_rules(store, &binding["roleRef"], in_namespace));
            }
        }
    }
    if rules.iter().any(|rule| allows(rule, request)) {
        Ok(())
    } else {
        Err(forbidden(&caller.user(), request))
    }
}

/// Whether a binding's subject is this ServiceAccount (by itself, or a group it is in).
fn names(subject: &Value, namespace: &str, name: &str) -> bool {
    match subject["kind"].as_str() {
        Some("ServiceAccount") => subject["name"] == name && subject["namespace"] == namespace,
        Some("User") => {
            subject["name"] == format!("system:serviceaccount:{namespace}:{name}").as_str()
        }
        Some("Group") => {
            let group = subject["name"].as_str().unwrap_or_default();
            group == "system:serviceaccounts"
                || group == format!("system:serviceaccounts:{namespace}")
                || group == "system:authenticated"
        }
        _ => false,
    }
}

/// The rules of the role a binding refers to (a Role in the binding's namespace, or a
/// ClusterRole); none when it does not exist.
fn role_rules(store: &Store, role: &Value, namespace: &str) -> Vec<Value> {
    let name = role["name"].as_str().unwrap_or_default();
    let found = match role["kind"].as_str() {
        Some("ClusterRole") => store.get(&CLUSTER_ROLES, "", name).ok(),
        Some("Role") if !namespace.is_empty() => store.get(&ROLES, namespace, name).ok(),
        _ => None,
    };
    found
        .and_then(|role| role["rules"].as_array().cloned())
        .unwrap_or_default()
}

fn listed(rule: &Value, field: &str, wanted: &str) -> bool {
    rule[field]
        .as_array()
        .is_some_and(|values| values.iter().any(|v| v == "*" || v == wanted))
}

fn allows(rule: &Value, request: &Attributes) -> bool {
    let names_ok = match rule["resourceNames"].as_array() {
        Some(names) if !names.is_empty() => request
            .name
            .as_deref()
            .is_some_and(|name| names.iter().any(|n| n == name)),
        _ => true,
    };
    listed(rule, "verbs", request.verb)
        && listed(rule, "apiGroups", request.group)
        && listed(rule, "resources", &request.resource)
        && names_ok
}

/// 403 as the API server words it.
fn forbidden(user: &str, request: &Attributes) -> ApiError {
    let plural = request.resource.split('/').next().unwrap_or_default();
    let subject = match &request.name {
        Some(name) => format!("{plural} \"{name}\""),
        None => plural.to_owned(),
    };
    let scope = match &request.namespace {
        Some(namespace) => format!("in the namespace \"{namespace}\""),
        None => "at the cluster scope".to_owned(),
    };
    let mut error = ApiError::forbidden(format!(
        "{subject} is forbidden: User \"{user}\" cannot {} resource \"{}\" in API group \"{}\" {scope}",
        request.verb, request.resource, request.group
    ));
    error.details = Some(serde_json::json!({
        "name": request.name.clone().unwrap_or_default(),
        "group": request.group,
        "kind": plural,
    }));
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{NAMESPACES, PODS};
    use serde_json::json;

    fn store_with(role_rules: Value) -> Store {
        let store = Store::new(16);
        store
            .create(
                &CLUSTER_ROLES,
                "",
                json!({ "metadata": { "name": "slipway" }, "rules": role_rules }),
            )
            .expect("role");
        store
            .create(
                &CLUSTER_ROLE_BINDINGS,
                "",
                json!({
                    "metadata": { "name": "slipway" },
                    "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "slipway" },
                    "subjects": [{ "kind": "ServiceAccount", "name": "slipway", "namespace": "slipway" }],
                }),
            )
            .expect("binding");
        store
    }

    fn pod_log(namespace: &str) -> Attributes {
        Attributes {
            verb: "get",
            group: "",
            resource: "pods/log".into(),
            namespace: Some(namespace.into()),
            name: Some("web-0".into()),
        }
    }

    #[test]
    fn tokens_name_the_administrator_or_a_service_account_and_nothing_else_passes() {
        let mut headers = HeaderMap::new();
        assert_eq!(Caller::of(&headers).map_err(|e| e.code), Err(401));
        headers.insert(
            header::AUTHORIZATION,
            "Bearer kube-sim".parse().expect("header"),
        );
        assert_eq!(Caller::of(&headers).ok(), Some(Caller::Admin));
        let token = service_account_token("slipway", "slipway");
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().expect("header"),
        );
        assert_eq!(
            Caller::of(&headers).map(|c| c.user()).ok().as_deref(),
            Some("system:serviceaccount:slipway:slipway")
        );
        headers.insert(
            header::AUTHORIZATION,
            "Bearer guessed".parse().expect("header"),
        );
        assert_eq!(Caller::of(&headers).map_err(|e| e.code), Err(401));
    }

    #[test]
    fn a_bound_cluster_role_allows_exactly_its_rules_and_refusals_read_like_the_api_server() {
        let store = store_with(json!([
            { "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"] },
        ]));
        let caller = Caller::ServiceAccount {
            namespace: "slipway".into(),
            name: "slipway".into(),
        };
        let list = Attributes::of(
            &Method::GET,
            &Target {
                resource: &PODS,
                namespace: Some("pr-1".into()),
                name: None,
                subresource: None,
            },
            false,
        );
        assert!(authorize(&store, &caller, &list).is_ok());
        let refused = authorize(&store, &caller, &pod_log("pr-1")).expect_err("no pods/log rule");
        assert_eq!(refused.code, 403);
        assert_eq!(
            refused.message,
            "pods \"web-0\" is forbidden: User \"system:serviceaccount:slipway:slipway\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"pr-1\""
        );
        let create_namespace = Attributes::of(
            &Method::POST,
            &Target {
                resource: &NAMESPACES,
                namespace: None,
                name: None,
                subresource: None,
            },
            false,
        );
        let refused =
            authorize(&store, &caller, &create_namespace).expect_err("no namespaces rule");
        assert!(
            refused.message.ends_with(
                "cannot create resource \"namespaces\" in API group \"\" at the cluster scope"
            ),
            "{}",
            refused.message
        );
        assert!(authorize(&store, &Caller::Admin, &create_namespace).is_ok());
        let stranger = Caller::ServiceAccount {
            namespace: "other".into(),
            name: "slipway".into(),
        };
        assert!(
            authorize(&store, &stranger, &list).is_err(),
            "bound to slipway/slipway only"
        );
    }

    #[test]
    fn a_role_binding_grants_only_in_its_namespace() {
        let store = Store::new(16);
        for namespace in ["pr-1", "pr-2"] {
            store
                .create(
                    &NAMESPACES,
                    "",
                    json!({ "metadata": { "name": namespace } }),
                )
                .expect("namespace");
        }
        store
            .create(&ROLES, "pr-1", json!({ "metadata": { "name": "logs", "namespace": "pr-1" },
                "rules": [{ "apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"], "resourceNames": ["web-0"] }] }))
            .expect("role");
        store
            .create(&ROLE_BINDINGS, "pr-1", json!({ "metadata": { "name": "logs", "namespace": "pr-1" },
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "logs" },
                "subjects": [{ "kind": "Group", "name": "system:serviceaccounts:slipway" }] }))
            .expect("binding");
        let caller = Caller::ServiceAccount {
            namespace: "slipway".into(),
            name: "slipway".into(),
        };
        assert!(authorize(&store, &caller, &pod_log("pr-1")).is_ok());
        assert!(authorize(&store, &caller, &pod_log("pr-2")).is_err());
        let mut other_pod = pod_log("pr-1");
        other_pod.name = Some("web-1".into());
        assert!(
            authorize(&store, &caller, &other_pod).is_err(),
            "resourceNames hold"
        );
    }
}
