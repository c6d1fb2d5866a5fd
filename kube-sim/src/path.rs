//! Parses API request paths (`/api/v1/namespaces/ns/pods/name/log`) into what they address.

use crate::resources::{self, NAMESPACES, ResourceType};

/// What a resource path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub resource: &'static ResourceType,
    /// The namespace in the path; `None` for cluster-scoped types and all-namespace lists.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// A path that is not a resource: discovery, or something unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Resource(Target),
    /// `/api`, `/apis`, `/api/v1`, `/apis/{group}/{version}`, `/version`.
    Discovery(Discovery),
    /// `/openapi/v2`, `/openapi/v3` and `/openapi/v3/{group-version}`.
    OpenApi(OpenApi),
    /// A group/version/plural kube-sim does not serve.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenApi {
    V2,
    V3Index,
    /// `api/v1`, `apis/apps/v1`.
    V3(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    Version,
    CoreVersions,
    Groups,
    GroupVersion { group: String, version: String },
}

pub fn parse(path: &str) -> Route {
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match segments.as_slice() {
        ["version"] => return Route::Discovery(Discovery::Version),
        ["openapi", "v2"] => return Route::OpenApi(OpenApi::V2),
        ["openapi", "v3"] => return Route::OpenApi(OpenApi::V3Index),
        ["openapi", "v3", group_version @ ..] => {
            return Route::OpenApi(OpenApi::V3(group_version.join("/")));
        }
        ["api"] => return Route::Discovery(Discovery::CoreVersions),
        ["apis"] => return Route::Discovery(Discovery::Groups),
        ["api", "v1"] => {
            return Route::Discovery(Discovery::GroupVersion {
                group: String::new(),
                version: "v1".into(),
            });
        }
        ["apis", group, version] => {
            return Route::Discovery(Discovery::GroupVersion {
                group: (*group).into(),
                version: (*version).into(),
            });
        }
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Route::Unknown,
    };
    let owned = |s: &&str| Some((*s).to_owned());
    let target = match rest {
        // A namespace itself, or its subresource (`namespaces/x/status`, `namespaces/x/finalize`).
        ["namespaces", name] if group.is_empty() => Some((&NAMESPACES, None, owned(name), None)),
        ["namespaces", name, sub] if group.is_empty() && NAMESPACES.subresources.contains(sub) => {
            Some((&NAMESPACES, None, owned(name), owned(sub)))
        }
        ["namespaces", ns, plural, tail @ ..] => resources::find(group, version, plural)
            .filter(|r| r.namespaced)
            .and_then(|r| match tail {
                [] => Some((r, owned(ns), None, None)),
                [name] => Some((r, owned(ns), owned(name), None)),
                [name, sub] => Some((r, owned(ns), owned(name), owned(sub))),
                _ => None,
            }),
        [plural, tail @ ..] => resources::find(group, version, plural).and_then(|r| match tail {
            [] => Some((r, None, None, None)),
            [name] if !r.namespaced => Some((r, None, owned(name), None)),
            [name, sub] if !r.namespaced => Some((r, None, owned(name), owned(sub))),
            _ => None,
        }),
        [] => None,
    };
    match target {
        Some((resource, namespace, name, subresource)) => Route::Resource(Target {
            resource,
            namespace,
            name,
            subresource,
        }),
        None => Route::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{DEPLOYMENTS, PODS};

    fn target(path: &str) -> Target {
        match parse(path) {
            Route::Resource(t) => t,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn parses_namespaced_cluster_scoped_and_subresource_paths() {
        let t = target("/api/v1/namespaces/pr-1/pods/web/log");
        assert_eq!(
            (
                t.resource,
                t.namespace.as_deref(),
                t.name.as_deref(),
                t.subresource.as_deref()
            ),
            (&PODS, Some("pr-1"), Some("web"), Some("log"))
        );
        let t = target("/apis/apps/v1/namespaces/pr-1/deployments");
        assert_eq!((t.resource, t.name), (&DEPLOYMENTS, None));
        let t = target("/api/v1/namespaces/pr-1");
        assert_eq!(
            (t.resource, t.namespace, t.name.as_deref()),
            (&NAMESPACES, None, Some("pr-1"))
        );
        let t = target("/api/v1/namespaces");
        assert_eq!((t.resource, t.name), (&NAMESPACES, None));
        let t = target("/api/v1/pods");
        assert_eq!(
            (t.resource, t.namespace),
            (&PODS, None),
            "all-namespace list"
        );
        assert_eq!(parse("/api/v1/namespaces/x/widgets"), Route::Unknown);
        assert_eq!(
            parse("/apis/apps/v1"),
            Route::Discovery(Discovery::GroupVersion {
                group: "apps".into(),
                version: "v1".into()
            })
        );
    }
}
