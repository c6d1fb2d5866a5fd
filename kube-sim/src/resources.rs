//! The kinds kube-sim serves: where each lives in the API (group, version, plural), whether it
//! is namespaced, and which subresources it has.

/// One served resource type.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ResourceType {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    /// Subresources besides the object itself (`status`, `log`).
    pub subresources: &'static [&'static str],
    /// Short names kubectl accepts (`ns`, `po`, `deploy`).
    pub short_names: &'static [&'static str],
}

impl ResourceType {
    /// `v1` for the core group, `apps/v1` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn has_status(&self) -> bool {
        self.subresources.contains(&"status")
    }
}

const fn core(
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    subresources: &'static [&'static str],
    short_names: &'static [&'static str],
) -> ResourceType {
    ResourceType {
        group: "",
        version: "v1",
        kind,
        plural,
        namespaced,
        subresources,
        short_names,
    }
}

const fn grouped(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    subresources: &'static [&'static str],
    short_names: &'static [&'static str],
) -> ResourceType {
    ResourceType {
        group,
        version,
        kind,
        plural,
        namespaced: true,
        subresources,
        short_names,
    }
}

/// A cluster-scoped type of a named group (RBAC's cluster roles and their bindings).
const fn cluster_grouped(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
) -> ResourceType {
    let mut resource = grouped(group, version, kind, plural, &[], &[]);
    resource.namespaced = false;
    resource
}

const RBAC: &str = "rbac.authorization.k8s.io";
pub static ROLES: ResourceType = grouped(RBAC, "v1", "Role", "roles", &[], &[]);
pub static ROLE_BINDINGS: ResourceType =
    grouped(RBAC, "v1", "RoleBinding", "rolebindings", &[], &[]);
pub static CLUSTER_ROLES: ResourceType = cluster_grouped(RBAC, "v1", "ClusterRole", "clusterroles");
pub static CLUSTER_ROLE_BINDINGS: ResourceType =
    cluster_grouped(RBAC, "v1", "ClusterRoleBinding", "clusterrolebindings");

pub static NAMESPACES: ResourceType = core(
    "Namespace",
    "namespaces",
    false,
    &["status", "finalize"],
    &["ns"],
);
pub static PODS: ResourceType = core("Pod", "pods", true, &["status", "log"], &["po"]);
pub static DEPLOYMENTS: ResourceType = grouped(
    "apps",
    "v1",
    "Deployment",
    "deployments",
    &["status", "scale"],
    &["deploy"],
);
pub static REPLICA_SETS: ResourceType = grouped(
    "apps",
    "v1",
    "ReplicaSet",
    "replicasets",
    &["status", "scale"],
    &["rs"],
);
pub static JOBS: ResourceType = grouped("batch", "v1", "Job", "jobs", &["status"], &[]);
pub static EVENTS: ResourceType = core("Event", "events", true, &[], &["ev"]);
pub static POD_METRICS: ResourceType =
    grouped("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", &[], &[]);

/// Every resource type, in discovery order.
pub static ALL: &[&ResourceType] = &[
    &NAMESPACES,
    &PODS,
    &core("Service", "services", true, &["status"], &["svc"]),
    &core("Secret", "secrets", true, &[], &[]),
    &core("ConfigMap", "configmaps", true, &[], &["cm"]),
    &core("ServiceAccount", "serviceaccounts", true, &[], &["sa"]),
    &core(
        "ResourceQuota",
        "resourcequotas",
        true,
        &["status"],
        &["quota"],
    ),
    &core("LimitRange", "limitranges", true, &[], &["limits"]),
    &core(
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        &["status"],
        &["pvc"],
    ),
    &EVENTS,
    &DEPLOYMENTS,
    &REPLICA_SETS,
    &JOBS,
    &grouped(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        &["status"],
        &["ing"],
    ),
    &grouped(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        &[],
        &["netpol"],
    ),
    &grouped(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        &["status"],
        &["hpa"],
    ),
    &grouped(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        &["status"],
        &["pdb"],
    ),
    &ROLES,
    &ROLE_BINDINGS,
    &CLUSTER_ROLES,
    &CLUSTER_ROLE_BINDINGS,
    &POD_METRICS,
];

/// The resource type served at `group`/`version`/`plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    ALL.iter()
        .copied()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource type of `apiVersion` + `kind`, as found in an object body.
pub fn find_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    ALL.iter()
        .copied()
        .find(|r| r.api_version() == api_version && r.kind == kind)
}

/// The groups (other than core) and their versions, for `/apis`.
pub fn groups() -> Vec<(&'static str, &'static str)> {
    let mut groups: Vec<(&str, &str)> = ALL
        .iter()
        .filter(|r| !r.group.is_empty())
        .map(|r| (r.group, r.version))
        .collect();
    groups.dedup();
    groups.sort_unstable();
    groups.dedup();
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_is_found_by_path_and_by_kind() {
        for r in ALL {
            assert_eq!(find(r.group, r.version, r.plural), Some(*r));
            assert_eq!(find_kind(&r.api_version(), r.kind), Some(*r));
        }
        assert_eq!(find("apps", "v1", "pods"), None);
        assert!(groups().contains(&("apps", "v1")));
    }
}
