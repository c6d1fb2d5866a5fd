//! One pipeline run: what started it, its status and reason, the DAG of its steps (status and
//! duration, columns by dependency depth), the selected step's live log, and Cancel or Retry,
//! each behind a confirmation. Updates live.

use domain::identity::Level;
use domain::pipeline::{PipelineRun, StepRun};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use crate::api::{CancelPipeline, RetryPipeline, get_pipeline, list_artifacts};
use crate::components::access;
use crate::components::log_viewer::LogViewer;
use crate::components::status_badge::{duration, tone};
use crate::components::{Confirm, ErrorNotice, Loading, PageHeader, StatusBadge};

const CARD: &str =
    "rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900";

#[component]
pub fn PipelinePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || {
        params
            .get()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let changes = crate::live::changes_of("pipeline");
    let cancel = ServerAction::<CancelPipeline>::new();
    let retry = ServerAction::<RetryPipeline>::new();
    let run = Resource::new(
        move || (id(), changes.get(), cancel.version().get()),
        |(id, _, _)| get_pipeline(id),
    );
    // A retry is a new run: go to it.
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(new)) = retry.value().get() {
            navigate(&format!("/pipelines/{}", new.id), Default::default());
        }
    });
    view! {
        <PageHeader title="Pipeline" description="A run of the repository's .platform.yaml, step by step." />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                // Taken before the first await: when it resumes, the page may be gone, and a
                // resource or signal read then would panic.
                let (run, wanted) = (run.into_future(), query.get().get("step"));
                let me = access::me().await;
                match run.await {
                    Ok(run) => {
                        let may_change = me.as_ref().is_some_and(|me| access::holds(me, &run.repository, Level::Write));
                        let selected = wanted.filter(|s| run.steps.iter().any(|step| &step.name == s))
                            .or_else(|| default_step(&run));
                        view! {
                            <RunHeader run=run.clone() cancel retry may_change />
                            {move || cancel.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error /> })}
                            {move || retry.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error /> })}
                            <StepGraph run=run.clone() selected=selected.clone() />
                            <Artifacts id=run.id.0 />
                            {selected.map(|step| view! { <LogViewer pipeline=run.id.0 step /> })}
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorNotice error /> <a href="/pipelines" class="mt-4 inline-block text-sm text-indigo-600">"All pipelines"</a> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The step to show first: a running one, else the first that failed, else the first.
fn default_step(run: &PipelineRun) -> Option<String> {
    use domain::pipeline::StepStatus;
    run.steps
        .iter()
        .find(|s| s.status == StepStatus::Running)
        .or_else(|| run.steps.iter().find(|s| s.status == StepStatus::Failed))
        .or_else(|| run.steps.first())
        .map(|s| s.name.clone())
}

#[component]
fn RunHeader(
    run: PipelineRun,
    cancel: ServerAction<CancelPipeline>,
    retry: ServerAction<RetryPipeline>,
    /// Whether the viewer may cancel or retry it (the server checks regardless).
    may_change: bool,
) -> impl IntoView {
    let id = run.id.0.to_string();
    let commit = run
        .commit_sha
        .clone()
        .unwrap_or_else(|| "resolving…".into());
    let actions = if !may_change {
        ().into_any()
    } else if run.status.is_finished() {
        view! {
            <Confirm label="Retry" question="Run this pipeline again at the same commit?" testid="retry">
                <ActionForm action=retry>
                    <input type="hidden" name="id" value=id.clone() />
                    {(run.status == domain::pipeline::PipelineStatus::Failed).then(|| view! {
                        <label class="mb-3 flex items-center gap-2 text-xs">
                            <input type="checkbox" name="failed_only" checked=true data-testid="retry-failed-only" />
                            "Only the steps that did not succeed"
                        </label>
                    })}
                    <button type="submit" class="rounded-lg bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-500" data-testid="retry-confirm">"Yes, run again"</button>
                </ActionForm>
            </Confirm>
        }
        .into_any()
    } else {
        view! {
            <Confirm label="Cancel" question="Stop this run? Running steps are killed." testid="cancel">
                <ActionForm action=cancel>
                    <input type="hidden" name="id" value=id.clone() />
                    <button type="submit" class="rounded-lg bg-rose-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-rose-500" data-testid="cancel-confirm">"Yes, cancel the run"</button>
                </ActionForm>
            </Confirm>
        }
        .into_any()
    };
    view! {
        <section class=format!("{CARD} mb-6 p-6") data-testid="pipeline-detail">
            <div class="flex flex-wrap items-start justify-between gap-4">
                <div>
                    <p class="text-lg font-semibold">{format!("#{} · {}", run.id, run.repository)}</p>
                    <p class="mt-1 font-mono text-sm text-slate-600 dark:text-slate-400">{format!("{} @ {}", run.git_ref, commit)}</p>
                </div>
                <div class="flex items-center gap-3">
                    <StatusBadge status=run.status.as_str() />
                    {actions}
                </div>
            </div>
            <dl class="mt-4 grid gap-x-6 gap-y-2 text-sm sm:grid-cols-4">
                <div><dt class="text-slate-500">"Trigger"</dt><dd>{run.trigger.as_str().replace('_', " ")}{run.retry_of.map(|of| view! { " of "<a class="text-indigo-600 hover:underline" href=format!("/pipelines/{of}")>{format!("#{of}")}</a> })}</dd></div>
                <div><dt class="text-slate-500">"Created"</dt><dd>{domain::time::utc(run.created_at_ms)}</dd></div>
                <div><dt class="text-slate-500">"Started"</dt><dd>{run.started_at_ms.map_or("—".to_owned(), domain::time::utc)}</dd></div>
                <div><dt class="text-slate-500">"Duration"</dt><dd>{duration(run.duration_ms())}</dd></div>
            </dl>
            {run.reason.clone().map(|reason| view! {
                <pre class="mt-4 whitespace-pre-wrap rounded-lg bg-slate-50 px-3 py-2 font-mono text-xs dark:bg-slate-950" data-testid="pipeline-reason">{reason}</pre>
            })}
        </section>
    }
}

/// Steps in columns by dependency depth; each links to its log.
#[component]
fn StepGraph(run: PipelineRun, selected: Option<String>) -> impl IntoView {
    if run.steps.is_empty() {
        return view! {
            <p class="mb-6 text-sm text-slate-500" data-testid="no-steps">
                {if run.status.is_finished() { "No step ran." } else { "Reading .platform.yaml…" }}
            </p>
        }
        .into_any();
    }
    let columns = columns(&run.steps);
    let id = run.id;
    view! {
        <div class="mb-6 flex gap-6 overflow-x-auto pb-2" data-testid="step-graph">
            {columns.into_iter().map(|column| view! {
                <div class="flex min-w-48 flex-col gap-3">
                    {column.into_iter().map(|step| {
                        let is_selected = selected.as_deref() == Some(step.name.as_str());
                        let ring = if is_selected { "ring-2 ring-indigo-500" } else { "" };
                        view! {
                            <a
                                href=format!("/pipelines/{id}?step={}", step.name)
                                class=format!("block rounded-lg border px-3 py-2 text-sm {} {ring}", tone(step.status.as_str()))
                                data-testid="step-node"
                                data-step=step.name.clone()
                                data-status=step.status.as_str()
                            >
                                <span class="block font-medium">{step.name.clone()}</span>
                                <span class="block text-xs">{step.status.as_str()}{step.exit_code.filter(|c| *c != 0).map(|c| format!(" · exit {c}"))}" · "{duration(step.duration_ms())}</span>
                                {(!step.depends_on.is_empty()).then(|| view! { <span class="block text-xs opacity-70">{format!("after {}", step.depends_on.join(", "))}</span> })}
                            </a>
                        }
                    }).collect_view()}
                </div>
            }).collect_view()}
        </div>
    }
    .into_any()
}

/// Steps grouped by depth: roots first, each step one column after its deepest dependency.
fn columns(steps: &[StepRun]) -> Vec<Vec<StepRun>> {
    let mut depth: Vec<Option<usize>> = vec![None; steps.len()];
    // Definitions are acyclic (validated); bounded passes guard against anything else.
    for _ in 0..steps.len() {
        for (i, step) in steps.iter().enumerate() {
            let deps: Vec<Option<usize>> = step
                .depends_on
                .iter()
                .filter_map(|d| steps.iter().position(|s| &s.name == d))
                .map(|j| depth[j])
                .collect();
            if deps.iter().all(Option::is_some) {
                depth[i] = Some(deps.into_iter().flatten().map(|d| d + 1).max().unwrap_or(0));
            }
        }
    }
    let levels = depth.iter().flatten().max().map_or(1, |d| d + 1);
    let mut columns = vec![Vec::new(); levels];
    for (step, d) in steps.iter().zip(depth) {
        columns[d.unwrap_or(0)].push(step.clone());
    }
    columns
}

/// The run's artifact files, each with a download link; nothing when it has none.
#[component]
fn Artifacts(id: i64) -> impl IntoView {
    let files = Resource::new(move || id, list_artifacts);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let files = files.await.ok().filter(|f| !f.is_empty())?;
                Some(view! {
                    <section class=format!("{CARD} mb-6 p-4") data-testid="artifacts">
                        <h2 class="mb-2 text-sm font-semibold">"Artifacts"</h2>
                        <ul class="space-y-1 text-sm">
                            {files.into_iter().map(|link| {
                                let file = link.file;
                                let label = format!("{}/{}", file.artifact, file.path);
                                view! {
                                    <li class="flex flex-wrap items-baseline gap-3">
                                        {match link.download_url {
                                            Some(url) => view! { <a href=url class="font-mono text-indigo-600 hover:underline dark:text-indigo-400">{label}</a> }.into_any(),
                                            None => view! { <span class="font-mono">{label}</span> }.into_any(),
                                        }}
                                        <span class="text-xs text-slate-500">{format!("{} bytes · sha256 {}… · expires {}", file.size, file.sha256.get(..12).unwrap_or_default(), domain::time::utc(file.expires_at_ms))}</span>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    </section>
                })
            })}
        </Suspense>
    }
}
