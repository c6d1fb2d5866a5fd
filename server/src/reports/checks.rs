//! Reporting one pipeline run: the notifications its change calls for, then its check run
//! created once and updated (a GitHub App), or its commit status set (a plain token), with the
//! failing step's last lines read from its stored log.

use domain::git_host::GitHost;
use domain::pipeline::{PipelineId, PipelineRun, PipelineStatus};
use domain::report::check::{EXCERPT_LINES, failing_step};
use domain::report::{CheckReport, FailureExcerpt, ReportKind, ReportRecord, check_of};
use domain::time::now_ms;

use super::{Outcome, Reporter, fingerprint};

const KIND: ReportKind = ReportKind::Pipeline;

pub(super) async fn report(reporter: &Reporter, id: i64) -> Outcome {
    let run = match reporter.store.get_pipeline(PipelineId(id)).await {
        Ok(run) => run,
        Err(domain::StoreError::NotFound { .. }) => return Outcome::Done,
        Err(error) => {
            tracing::warn!(pipeline.id = id, error = %domain::error_chain(&error), "cannot read a pipeline run to report it");
            return Outcome::Later(super::UNAVAILABLE_PAUSE);
        }
    };
    let Some(record) = reporter.claim(KIND, id).await else {
        return Outcome::Later(super::HELD_PAUSE);
    };
    let seen = ReportRecord {
        sent_status: Some(run.status.as_str().to_owned()),
        ..record.clone()
    };
    let Some(repository) = reporter.repository_of(run.repository_id).await else {
        reporter.release(KIND, id).await;
        return Outcome::Later(super::UNAVAILABLE_PAUSE);
    };
    super::notify::pipeline(reporter, &repository, &run).await;
    let Some(github) = reporter.github_for(&repository, |r| r.checks) else {
        reporter.finish(KIND, id, &seen).await;
        return Outcome::Done;
    };
    let url = format!("{}/pipelines/{id}", reporter.public_url);
    let excerpt = excerpt(reporter, &run).await;
    let Some(report) = check_of(&run, excerpt.as_ref(), &url) else {
        // Nothing to show yet; its next change is looked at again.
        reporter.finish(KIND, id, &seen).await;
        return Outcome::Done;
    };
    let digest = fingerprint(&report);
    if digest.is_some() && digest == record.fingerprint {
        reporter.finish(KIND, id, &seen).await;
        return Outcome::Done;
    }
    if let Some(wait) = reporter.coalescing_wait(&record, report.is_final()) {
        reporter.release(KIND, id).await;
        return Outcome::Later(wait);
    }
    let given_up = ReportRecord {
        fingerprint: digest.clone(),
        ..seen.clone()
    };
    match send(github.as_ref(), &run, &record, &report).await {
        Ok(remote_id) => {
            tracing::debug!(pipeline.id = id, status = ?report.status, "pipeline run reported to GitHub");
            let sent = ReportRecord {
                remote_id,
                fingerprint: digest,
                sent_at_ms: Some(now_ms()),
                ..seen
            };
            reporter.finish(KIND, id, &sent).await;
            Outcome::Done
        }
        Err(error) => reporter.failed(KIND, id, error, given_up).await,
    }
}

/// Sends `report`: the check run's id once it exists.
async fn send(
    github: &dyn GitHost,
    run: &PipelineRun,
    record: &ReportRecord,
    report: &CheckReport,
) -> domain::git_host::Result<Option<i64>> {
    if !github.writes_checks() {
        github
            .set_status(
                &run.repository,
                &report.head_sha,
                &report.as_commit_status(),
            )
            .await?;
        return Ok(None);
    }
    match record.remote_id {
        Some(check) => {
            github
                .update_check_run(&run.repository, check, report)
                .await?;
            Ok(Some(check))
        }
        None => github
            .create_check_run(&run.repository, report)
            .await
            .map(Some),
    }
}

/// The failing step's last lines, for a failed run.
async fn excerpt(reporter: &Reporter, run: &PipelineRun) -> Option<FailureExcerpt> {
    if run.status != PipelineStatus::Failed {
        return None;
    }
    let step = failing_step(run)?;
    let lines = match crate::pipelines::logs::stored_lines(reporter.objects.as_ref(), run.id, step)
        .await
    {
        Ok(lines) => lines,
        Err(error) => {
            tracing::warn!(pipeline.id = %run.id, step = %step.name, error = %domain::error_chain(&error), "cannot read a failed step's log for its check run");
            return None;
        }
    };
    let left_out = lines.len().saturating_sub(EXCERPT_LINES);
    Some(FailureExcerpt {
        step: step.name.clone(),
        lines: lines
            .into_iter()
            .skip(left_out)
            .map(|line| line.text)
            .collect(),
        lines_left_out: left_out,
    })
}
