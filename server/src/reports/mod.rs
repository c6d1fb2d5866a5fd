//! The reporter: keeps each pipeline run's check run (or commit status) and each preview's
//! deployment in step with the Store, and records the notification deliveries each change
//! calls for (sent by `crate::notifications`). It hears changes on the bus and, in case a
//! notification was lost, sweeps the Store for runs and previews whose status differs from
//! the one last reported. Each subject is reported by one task at a time, and a change that
//! arrives meanwhile is reported once that task is done: however many changes come, GitHub
//! gets the latest. When GitHub's budget runs low, intermediate updates of a subject wait
//! (coalesced, never dropped) and final ones go at once. A GitHub that is slow or down delays
//! only this worker.

mod checks;
mod deployments;
mod notify;
mod queue;

use std::sync::Arc;
use std::time::Duration;

use domain::git_host::{GitHost, GitHostError};
use domain::report::{ReportKind, ReportRecord};
use domain::time::now_ms;
use domain::{Bus, BusEvent, EntityKind, Objects, Store};
use futures::StreamExt;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use queue::{Queue, Subject};

/// How often the Store is swept for changes whose notification was lost.
const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// How far back the sweep looks.
const SWEEP_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Subjects one sweep takes up, per kind.
const SWEEP_LIMIT: u32 = 500;
/// Reports sent at once.
const CONCURRENT: usize = 4;
/// How long a claim on a subject's report holds.
const CLAIM: Duration = Duration::from_secs(30);
/// Below this share of its limit, the budget is low.
const LOW_BUDGET_SHARE: f64 = 0.1;
/// With a low budget, a subject's intermediate updates go at most this often.
const LOW_BUDGET_GAP: Duration = Duration::from_secs(30);
/// When GitHub cannot answer, the report is tried again after this.
const UNAVAILABLE_PAUSE: Duration = Duration::from_secs(15);
/// When another replica holds the claim, this replica looks again after this.
const HELD_PAUSE: Duration = Duration::from_secs(2);

/// What the reporter needs.
pub struct Reporter {
    pub store: Arc<dyn Store>,
    pub objects: Arc<dyn Objects>,
    pub bus: Arc<dyn Bus>,
    /// `None`: no GitHub is configured.
    pub github: Option<Arc<dyn GitHost>>,
    /// The dashboard's public address, for links.
    pub public_url: String,
    /// This replica's name in claims.
    pub owner: String,
}

/// How reporting one subject went.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// GitHub shows the subject's current state (or there is nothing to show).
    Done,
    /// Look again after this long.
    Later(Duration),
}

impl Reporter {
    /// The subject's repository; `None` (logged) when it cannot be read.
    async fn repository_of(&self, id: domain::RepositoryId) -> Option<domain::Repository> {
        match self.store.get_repository(id).await {
            Ok(repository) => Some(repository),
            Err(error) => {
                tracing::warn!(repository.id = %id, error = %domain::error_chain(&error), "cannot read a repository's reporting settings");
                None
            }
        }
    }

    /// GitHub, when one is configured, the repository is named as GitHub names repositories
    /// (`owner/name`), and its reporting (`wants`) is on.
    fn github_for(
        &self,
        repository: &domain::Repository,
        wants: impl Fn(&domain::repository::ReportingConfig) -> bool,
    ) -> Option<Arc<dyn GitHost>> {
        let github = self.github.clone()?;
        let on_github = repository.name.split_once('/').is_some();
        (on_github && wants(&repository.reporting)).then_some(github)
    }

    /// Whether GitHub's last answer left less than [`LOW_BUDGET_SHARE`] of the budget.
    fn budget_is_low(&self) -> bool {
        let Some(github) = &self.github else {
            return false;
        };
        github.rate_budget().is_some_and(|budget| {
            budget.limit > 0 && (budget.remaining as f64) < budget.limit as f64 * LOW_BUDGET_SHARE
        })
    }

    /// With a low budget, how long an intermediate update of a subject last reported as
    /// `record` still waits; `None` when it may go now.
    fn coalescing_wait(&self, record: &ReportRecord, is_final: bool) -> Option<Duration> {
        if is_final || record.remote_id.is_none() || !self.budget_is_low() {
            return None;
        }
        let since = now_ms() - record.sent_at_ms?;
        let gap = LOW_BUDGET_GAP.as_millis() as i64;
        (since < gap).then(|| Duration::from_millis((gap - since) as u64))
    }

    /// Claims `subject_id`'s report; `None` while another replica holds it.
    async fn claim(&self, kind: ReportKind, subject_id: i64) -> Option<ReportRecord> {
        let now = now_ms();
        let until = now + CLAIM.as_millis() as i64;
        match self
            .store
            .claim_report(kind, subject_id, &self.owner, now, until)
            .await
        {
            Ok(record) => record,
            Err(error) => {
                tracing::warn!(report.kind = kind.as_str(), report.subject = subject_id, error = %domain::error_chain(&error), "cannot claim a GitHub report");
                None
            }
        }
    }

    /// Stores what GitHub now knows (and lets the claim go).
    async fn finish(&self, kind: ReportKind, subject_id: i64, record: &ReportRecord) {
        if let Err(error) = self
            .store
            .finish_report(kind, subject_id, &self.owner, record, now_ms())
            .await
        {
            tracing::warn!(report.kind = kind.as_str(), report.subject = subject_id, error = %domain::error_chain(&error), "cannot record a GitHub report");
        }
    }

    async fn release(&self, kind: ReportKind, subject_id: i64) {
        if let Err(error) = self
            .store
            .release_report(kind, subject_id, &self.owner)
            .await
        {
            tracing::warn!(report.kind = kind.as_str(), report.subject = subject_id, error = %domain::error_chain(&error), "cannot let go of a GitHub report");
        }
    }

    /// What a GitHub failure means for the report: GitHub cannot answer now (try again
    /// later), or it refused this report (logged; the state is not sent again).
    async fn failed(
        &self,
        kind: ReportKind,
        subject_id: i64,
        error: GitHostError,
        given_up: ReportRecord,
    ) -> Outcome {
        match error {
            GitHostError::Unavailable(_) | GitHostError::RateLimited { .. } => {
                tracing::warn!(report.kind = kind.as_str(), report.subject = subject_id, error = %domain::error_chain(&error), "GitHub cannot take a report now; trying again");
                self.release(kind, subject_id).await;
                Outcome::Later(UNAVAILABLE_PAUSE)
            }
            GitHostError::NotFound(_) | GitHostError::Forbidden(_) | GitHostError::Invalid(_) => {
                tracing::warn!(report.kind = kind.as_str(), report.subject = subject_id, error = %domain::error_chain(&error), "GitHub refused a report");
                self.finish(kind, subject_id, &given_up).await;
                Outcome::Done
            }
        }
    }

    async fn report(&self, subject: Subject) -> Outcome {
        match subject.kind {
            ReportKind::Pipeline => checks::report(self, subject.id).await,
            ReportKind::Preview => deployments::report(self, subject.id).await,
        }
    }
}

/// A digest of what a report says: the same report is not sent twice.
fn fingerprint(report: &impl serde::Serialize) -> Option<String> {
    use sha2::Digest;
    let text = serde_json::to_vec(report).ok()?;
    let digest = sha2::Sha256::digest(&text);
    Some(digest.iter().take(16).map(|b| format!("{b:02x}")).collect())
}

/// The subject a bus event is about, if it is one the reporter follows.
fn subject_of(event: &BusEvent) -> Option<Subject> {
    let BusEvent::Changed { entity, id, .. } = event else {
        return None;
    };
    let kind = match entity {
        EntityKind::Pipeline => ReportKind::Pipeline,
        EntityKind::Preview => ReportKind::Preview,
        _ => return None,
    };
    Some(Subject {
        kind,
        id: id.parse().ok()?,
    })
}

/// Runs until `stop` is cancelled.
pub async fn run(reporter: Arc<Reporter>, stop: CancellationToken) {
    let mut changes = match reporter.bus.subscribe().await {
        Ok(events) => events.filter_map(|e| async move { subject_of(&e) }).boxed(),
        Err(error) => {
            tracing::warn!(error = %domain::error_chain(&error), "the GitHub reporter cannot hear changes; sweeping only");
            futures::stream::pending().boxed()
        }
    };
    let (later, mut due) = tokio::sync::mpsc::unbounded_channel::<Subject>();
    let mut queue = Queue::default();
    let mut running: JoinSet<(Subject, Outcome)> = JoinSet::new();
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        while running.len() < CONCURRENT
            && let Some(subject) = queue.next()
        {
            let reporter = reporter.clone();
            running.spawn(async move { (subject, reporter.report(subject).await) });
        }
        tokio::select! {
            () = stop.cancelled() => break,
            Some(subject) = changes.next() => queue.want(subject),
            Some(subject) = due.recv() => queue.want(subject),
            _ = sweep.tick() => {
                for subject in swept(&reporter).await {
                    queue.want(subject);
                }
            }
            Some(joined) = running.join_next(), if !running.is_empty() => {
                let Ok((subject, outcome)) = joined else { continue };
                queue.done(subject);
                if let Outcome::Later(wait) = outcome {
                    let later = later.clone();
                    let stop = stop.clone();
                    tokio::spawn(async move {
                        tokio::select! {
                            () = stop.cancelled() => {}
                            () = tokio::time::sleep(wait) => { let _ = later.send(subject); }
                        }
                    });
                }
            }
        }
    }
    running.shutdown().await;
}

/// The runs and previews whose status differs from the one last reported.
async fn swept(reporter: &Reporter) -> Vec<Subject> {
    let since = now_ms() - SWEEP_WINDOW.as_millis() as i64;
    let mut found = Vec::new();
    for kind in [ReportKind::Pipeline, ReportKind::Preview] {
        match reporter.store.unreported(kind, since, SWEEP_LIMIT).await {
            Ok(ids) => found.extend(ids.into_iter().map(|id| Subject { kind, id })),
            Err(error) => {
                tracing::warn!(report.kind = kind.as_str(), error = %domain::error_chain(&error), "cannot look for unreported changes")
            }
        }
    }
    found
}
