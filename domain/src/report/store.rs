//! What Slipway last reported about each pipeline run and preview (to GitHub, and to
//! notification subscribers), kept so a report is sent by one replica at a time (a short
//! claim), a check run or deployment is created once and then updated, an unchanged report is
//! not sent again, and a change whose notification was lost is found by comparing each
//! subject's status with the one last reported.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::store::Result;

/// What a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// A pipeline run (its check run or commit status); the subject is the run's id.
    Pipeline,
    /// A preview (its deployment); the subject is the preview's id.
    Preview,
}

impl ReportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pipeline => "pipeline",
            Self::Preview => "preview",
        }
    }
}

/// What GitHub was last told about one subject.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRecord {
    /// GitHub's id of the check run or deployment, once created.
    pub remote_id: Option<i64>,
    /// For a deployment, the attempt it is for (`{sha}@{round}`).
    pub remote_key: Option<String>,
    /// A digest of the last report GitHub accepted.
    pub fingerprint: Option<String>,
    /// The subject's status when it was last reported (pipeline or preview status).
    pub sent_status: Option<String>,
    pub sent_at_ms: Option<i64>,
}

#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Takes the report of `subject_id` for `owner` until `until_ms` (making its record when
    /// there is none); `None` while another owner's claim holds. The record as it stands.
    async fn claim_report(
        &self,
        kind: ReportKind,
        subject_id: i64,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<ReportRecord>>;

    /// Stores what GitHub now knows and lets the claim go.
    async fn finish_report(
        &self,
        kind: ReportKind,
        subject_id: i64,
        owner: &str,
        record: &ReportRecord,
        now_ms: i64,
    ) -> Result<()>;

    /// Lets the claim go, changing nothing.
    async fn release_report(&self, kind: ReportKind, subject_id: i64, owner: &str) -> Result<()>;

    /// Subjects changed since `since_ms` whose status differs from the one last reported (or
    /// never reported), at most `limit`, oldest first: pipeline runs with a commit, previews.
    async fn unreported(&self, kind: ReportKind, since_ms: i64, limit: u32) -> Result<Vec<i64>>;
}
