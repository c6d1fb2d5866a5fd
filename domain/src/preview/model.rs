//! Preview environments as Slipway records and shows them: one per pull request, with its
//! deployment attempts, and what it uses on the cluster.

use serde::{Deserialize, Serialize};

use super::status::{AttemptStatus, PreviewStatus};

/// A pull request's environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Preview {
    pub id: i64,
    /// `owner/name`.
    pub repository: String,
    pub number: i64,
    pub title: String,
    pub author: String,
    pub branch: String,
    pub namespace: String,
    pub status: PreviewStatus,
    /// The commit the newest attempt deploys.
    pub head_sha: String,
    /// The public URL, once a deployment has chosen it.
    pub url: Option<String>,
    /// Why it is in its status, in words a developer can act on.
    pub reason: Option<String>,
    /// The pull request still wants it (open and matching the repository's rules).
    pub wanted: bool,
    /// Bumped by each retry and each re-creation, so the same commit can be deployed again.
    pub round: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// The last push to the pull request (what the TTL counts from).
    pub last_push_at_ms: i64,
    pub deployed_at_ms: Option<i64>,
    /// Removed after this unless pushed to again.
    pub expires_at_ms: Option<i64>,
    /// The sticky comment on the pull request, once written.
    pub comment_id: Option<i64>,
}

impl Preview {
    /// `https://github.com/{repository}/pull/{number}`.
    pub fn pull_request_url(&self) -> String {
        format!(
            "https://github.com/{}/pull/{}",
            self.repository, self.number
        )
    }

    pub fn short_sha(&self) -> &str {
        self.head_sha.get(..7).unwrap_or(&self.head_sha)
    }
}

/// One try at deploying a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewAttempt {
    pub id: i64,
    pub preview_id: i64,
    pub sha: String,
    pub round: i64,
    pub status: AttemptStatus,
    pub reason: Option<String>,
    pub created_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
}

/// Which previews a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewFilter {
    pub status: Option<PreviewStatus>,
    pub repository: Option<String>,
    /// Matched against namespace, title, author and branch.
    pub search: Option<String>,
    /// Also list removed previews.
    pub include_deleted: bool,
    /// Only previews of these repositories (`None`: every repository); the caller's reach.
    pub visible: Option<Vec<crate::RepositoryId>>,
    pub limit: u32,
    pub offset: u32,
}

/// What a preview uses now, against its limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewUsage {
    /// `None` when the cluster serves no metrics.
    pub cpu_millicores: Option<u64>,
    pub memory_bytes: Option<u64>,
    /// The namespace quota's hard limits.
    pub cpu_limit_millicores: Option<u64>,
    pub memory_limit_bytes: Option<u64>,
    /// What the quota counts as used (limits of running pods).
    pub quota_cpu_used_millicores: Option<u64>,
    pub quota_memory_used_bytes: Option<u64>,
    pub pods: u32,
    /// Past 80% of a limit or the quota, in words.
    pub warnings: Vec<String>,
}

/// Share of a limit past which a warning is shown.
pub const WARNING_SHARE: f64 = 0.8;

impl PreviewUsage {
    /// Adds the warnings for every figure past [`WARNING_SHARE`] of its limit.
    pub fn with_warnings(mut self) -> Self {
        let share = |used: Option<u64>, limit: Option<u64>| match (used, limit) {
            (Some(used), Some(limit)) if limit > 0 => Some(used as f64 / limit as f64),
            _ => None,
        };
        let checks = [
            ("CPU", share(self.cpu_millicores, self.cpu_limit_millicores)),
            ("memory", share(self.memory_bytes, self.memory_limit_bytes)),
            (
                "CPU quota",
                share(self.quota_cpu_used_millicores, self.cpu_limit_millicores),
            ),
            (
                "memory quota",
                share(self.quota_memory_used_bytes, self.memory_limit_bytes),
            ),
        ];
        self.warnings = checks
            .into_iter()
            .filter_map(|(what, share)| {
                share
                    .filter(|s| *s >= WARNING_SHARE)
                    .map(|s| format!("{what} at {:.0}% of the limit", s * 100.0))
            })
            .collect();
        self
    }
}

/// A preview with its attempts, usage and the cluster's events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewDetail {
    pub preview: Preview,
    pub attempts: Vec<PreviewAttempt>,
    pub usage: Option<PreviewUsage>,
    pub events: Vec<crate::cluster::ClusterEvent>,
    /// Pods of the app, for the log viewer.
    pub pods: Vec<String>,
    /// Why usage or events could not be read.
    pub cluster_error: Option<String>,
    /// When it was read (the server's clock, for ages).
    pub now_ms: i64,
}

/// One row of the operator's table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewUsageRow {
    pub preview: Preview,
    pub cluster: String,
    pub usage: PreviewUsage,
}

/// Sums of one group (a cluster, a repository).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageTotal {
    pub name: String,
    pub previews: u32,
    pub cpu_millicores: u64,
    pub memory_bytes: u64,
    pub cpu_limit_millicores: u64,
    pub memory_limit_bytes: u64,
}

/// A namespace Slipway created for a preview it no longer knows as alive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrphanNamespace {
    pub cluster: String,
    pub namespace: String,
}

/// Everything the operator page shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageReport {
    pub rows: Vec<PreviewUsageRow>,
    pub per_cluster: Vec<UsageTotal>,
    pub per_repository: Vec<UsageTotal>,
    /// Removals that failed (retried by the sweep).
    pub cleanup_failed: Vec<Preview>,
    pub orphans: Vec<OrphanNamespace>,
    /// Clusters that could not be asked, and why.
    pub errors: Vec<String>,
    /// When it was measured (the server's clock, for ages).
    pub now_ms: i64,
}

impl UsageReport {
    /// Totals per cluster and per repository from the rows.
    pub fn with_totals(mut self) -> Self {
        let mut clusters: std::collections::BTreeMap<String, UsageTotal> = Default::default();
        let mut repositories: std::collections::BTreeMap<String, UsageTotal> = Default::default();
        for row in &self.rows {
            for (map, key) in [
                (&mut clusters, row.cluster.clone()),
                (&mut repositories, row.preview.repository.clone()),
            ] {
                let total = map.entry(key.clone()).or_insert_with(|| UsageTotal {
                    name: key,
                    ..UsageTotal::default()
                });
                total.previews += 1;
                total.cpu_millicores += row.usage.cpu_millicores.unwrap_or(0);
                total.memory_bytes += row.usage.memory_bytes.unwrap_or(0);
                total.cpu_limit_millicores += row.usage.cpu_limit_millicores.unwrap_or(0);
                total.memory_limit_bytes += row.usage.memory_limit_bytes.unwrap_or(0);
            }
        }
        self.per_cluster = clusters.into_values().collect();
        self.per_repository = repositories.into_values().collect();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::PreviewUsage;

    #[test]
    fn usage_past_eighty_percent_of_a_limit_warns() {
        let usage = PreviewUsage {
            cpu_millicores: Some(450),
            memory_bytes: Some(100),
            cpu_limit_millicores: Some(500),
            memory_limit_bytes: Some(1000),
            quota_cpu_used_millicores: Some(100),
            quota_memory_used_bytes: Some(800),
            pods: 1,
            warnings: Vec::new(),
        }
        .with_warnings();
        assert_eq!(
            usage.warnings,
            [
                "CPU at 90% of the limit",
                "memory quota at 80% of the limit"
            ]
        );
    }

    #[test]
    fn unknown_usage_never_warns() {
        let usage = PreviewUsage::default().with_warnings();
        assert!(usage.warnings.is_empty());
    }
}
