//! One transform run, in the manner of Batch Changes' preview: totals on top, one row per
//! repository (status, `+N −M`, exit code, whether it is ready to publish, why it failed) with
//! its downloads, and an opened row's log (followed live while it runs) and diff — file by
//! file, additions and deletions coloured. Cancel, Retry failed and a row's Retry, each behind a confirmation. Updates live.

use domain::identity::Level;
use domain::transform::patch::{LineKind, ShownPatch};
use domain::transform::{Execution, ExecutionOutput, ExecutionStatus, ExecutionView, TransformRun};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::transforms::{CARD, Progress};
use crate::api::{
    CancelTransformRun, RetryFailedTransforms, RetryTransformExecution, get_transform_output,
    get_transform_run,
};
use crate::components::access;
use crate::components::{Confirm, ErrorNotice, Loading, PageHeader, StatusBadge};

const SMALL_BUTTON: &str =
    "rounded-lg bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-500";

#[component]
pub fn TransformPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || {
        params
            .get()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let opened = move || {
        query
            .get()
            .get("execution")
            .and_then(|e| e.parse::<i64>().ok())
    };
    let changes = crate::live::changes_of("transform_run");
    let cancel = ServerAction::<CancelTransformRun>::new();
    let retry_failed = ServerAction::<RetryFailedTransforms>::new();
    let retry = ServerAction::<RetryTransformExecution>::new();
    let detail = Resource::new(
        move || {
            (
                id(),
                changes.get(),
                cancel.version().get(),
                retry_failed.version().get(),
                retry.version().get(),
            )
        },
        |(id, ..)| get_transform_run(id),
    );
    view! {
        <PageHeader title="Transform run" description="Per repository: whether the change applies, what the steps printed, and the exact diff." />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                // Taken before the first await: when it resumes, the page may be gone, and a
                // resource or signal read then would panic.
                let detail = detail.into_future();
                let me = access::me().await;
                match detail.await {
                    Ok(detail) => {
                        let may_change = me.as_ref().is_some_and(|me| {
                            detail.executions.iter().all(|e| access::holds(me, &e.execution.repository, Level::Write))
                        });
                        let run = detail.run.clone();
                        let shown = opened().and_then(|e| detail.executions.iter().find(|x| x.execution.id == e).map(|x| x.execution.clone()));
                        view! {
                            <RunHeader run=run.clone() cancel retry_failed may_change />
                            {move || cancel.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error /> })}
                            {move || retry_failed.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error /> })}
                            {move || retry.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error /> })}
                            <ExecutionTable run=run.clone() executions=detail.executions retry may_change />
                            {shown.map(|execution| view! { <Opened execution /> })}
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorNotice error /> <a href="/transforms" class="mt-4 inline-block text-sm text-indigo-600">"All transform runs"</a> }.into_any(),
                }
            })}
        </Suspense>
    }
    .into_any()
}

#[component]
fn RunHeader(
    run: TransformRun,
    cancel: ServerAction<CancelTransformRun>,
    retry_failed: ServerAction<RetryFailedTransforms>,
    /// Whether the viewer may change every repository of the run (the server checks regardless).
    may_change: bool,
) -> impl IntoView {
    let id = run.id.0.to_string();
    let t = run.totals;
    let actions = may_change.then(|| {
        let (cancel_id, retry_id) = (id.clone(), id.clone());
        let cancel_form = (!run.status.is_finished()).then(|| view! {
            <Confirm label="Cancel" question="Stop this run? Running executions are killed, waiting ones never start." testid="cancel-transform">
                <ActionForm action=cancel>
                    <input type="hidden" name="id" value=cancel_id />
                    <button type="submit" class="rounded-lg bg-rose-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-rose-500" data-testid="cancel-transform-confirm">"Yes, cancel the run"</button>
                </ActionForm>
            </Confirm>
        });
        let retry_form = (t.failed + t.cancelled > 0).then(|| view! {
            <Confirm label="Retry failed" question=format!("Run the {} failed or cancelled executions again?", t.failed + t.cancelled) testid="retry-failed">
                <ActionForm action=retry_failed>
                    <input type="hidden" name="id" value=retry_id />
                    <button type="submit" class=SMALL_BUTTON data-testid="retry-failed-confirm">"Yes, run them again"</button>
                </ActionForm>
            </Confirm>
        });
        view! { {cancel_form} {retry_form} }
    });
    let base = run
        .spec
        .base_ref
        .clone()
        .unwrap_or_else(|| "each repository's default branch".to_owned());
    let total = |label: &'static str, count: u32, testid: &'static str| {
        view! {
            <div class="rounded-lg bg-slate-50 px-4 py-3 dark:bg-slate-950" data-testid=testid>
                <dt class="text-xs text-slate-500">{label}</dt>
                <dd class="text-2xl font-semibold">{count}</dd>
            </div>
        }
    };
    view! {
        <section class=format!("{CARD} mb-6 p-6") data-testid="transform-detail">
            <div class="flex flex-wrap items-start justify-between gap-4">
                <div>
                    <p class="text-lg font-semibold">{format!("#{} · {}", run.id, run.name)}{run.spec.dry_run.then_some(" (dry run)")}</p>
                    <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">{format!("from {base} · {}: {}", super::counted(run.spec.steps.len(), "step"), run.spec.steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "))}</p>
                    <p class="mt-1 text-xs text-slate-500">{format!("started by {} · {}", run.started_by.clone().unwrap_or_else(|| "the system".into()), domain::time::utc(run.created_at_ms))}</p>
                </div>
                <div class="flex items-center gap-3">
                    <StatusBadge status=run.status.as_str() />
                    {actions}
                </div>
            </div>
            <div class="mt-4"><Progress totals=t /></div>
            <dl class="mt-4 grid gap-3 sm:grid-cols-5">
                {total("With changes", t.succeeded, "total-succeeded")}
                {total("No changes", t.no_changes + t.recorded, "total-no-changes")}
                {total("Failed", t.failed, "total-failed")}
                {total("Running", t.running, "total-running")}
                {total("Waiting", t.waiting, "total-waiting")}
            </dl>
        </section>
    }
    .into_any()
}

#[component]
fn ExecutionTable(
    run: TransformRun,
    executions: Vec<ExecutionView>,
    retry: ServerAction<RetryTransformExecution>,
    may_change: bool,
) -> impl IntoView {
    let rows = executions
        .into_iter()
        .map(|view| view! { <ExecutionRow run_id=run.id.0 view retry may_change /> })
        .collect_view();
    view! {
        <div class=format!("{CARD} mb-6 overflow-x-auto")>
            <table class="min-w-full divide-y divide-slate-200 text-sm dark:divide-slate-800" data-testid="execution-list">
                <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                    <tr>
                        <th class="px-4 py-2">"Repository"</th>
                        <th class="px-4 py-2">"Status"</th>
                        <th class="px-4 py-2">"Changes"</th>
                        <th class="px-4 py-2">"Exit"</th>
                        <th class="px-4 py-2">"Attempts"</th>
                        <th class="px-4 py-2">"Downloads"</th>
                        <th class="px-4 py-2"></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn ExecutionRow(
    run_id: i64,
    view: ExecutionView,
    retry: ServerAction<RetryTransformExecution>,
    may_change: bool,
) -> impl IntoView {
    let ExecutionView {
        execution,
        ready_to_publish: ready,
        log_url,
        patch_url,
        summary_url,
    } = view;
    let changes = execution.diff.as_ref().filter(|d| !d.files.is_empty()).map(|d| view! {
        <span class="font-mono text-xs"><span class="text-emerald-600">{format!("+{}", d.additions)}</span>" "<span class="text-rose-600">{format!("−{}", d.deletions)}</span>{format!(" in {}", super::counted(d.files.len(), "file"))}</span>
    });
    let retry_form = (may_change && execution.status.is_retriable()).then(|| view! {
        <ActionForm action=retry>
            <input type="hidden" name="run" value=run_id.to_string() />
            <input type="hidden" name="execution" value=execution.id.to_string() />
            <button type="submit" class="text-xs font-medium text-indigo-600 hover:underline" data-testid="retry-execution">"Retry"</button>
        </ActionForm>
    });
    view! {
        <tr class="align-top" data-testid="execution-row" data-repository=execution.repository.clone()>
            <td class="px-4 py-2 font-medium">
                <a href=format!("/transforms/{run_id}?execution={}", execution.id) class="text-indigo-600 hover:underline dark:text-indigo-400">{execution.repository.clone()}</a>
                {ready.then(|| view! { <span class="ml-2 rounded bg-emerald-100 px-1.5 py-0.5 text-xs text-emerald-800 dark:bg-emerald-900 dark:text-emerald-200" data-testid="ready-to-publish">"ready to publish"</span> })}
            </td>
            <td class="px-4 py-2">
                <StatusBadge status=execution.status.as_str() />
                {execution.reason.clone().map(|r| view! { <p class="mt-1 max-w-md text-xs text-slate-500 dark:text-slate-400" data-testid="execution-reason">{r}</p> })}
            </td>
            <td class="px-4 py-2">{changes}</td>
            <td class="px-4 py-2 font-mono text-xs">{execution.exit_code.map_or("—".to_owned(), |c| c.to_string())}</td>
            <td class="px-4 py-2 text-xs">{format!("{} of {}", execution.attempts, execution.max_attempts)}</td>
            <td class="px-4 py-2 text-xs">
                {patch_url.map(|href| view! { <a class="mr-2 text-indigo-600 hover:underline" href=href download="patch.diff" data-testid="download-patch">"patch"</a> })}
                {summary_url.map(|href| view! { <a class="mr-2 text-indigo-600 hover:underline" href=href download="summary.json">"summary"</a> })}
                {log_url.map(|href| view! { <a class="text-indigo-600 hover:underline" href=href download="logs.txt">"log"</a> })}
            </td>
            <td class="px-4 py-2">{retry_form}</td>
        </tr>
    }
    .into_any()
}

/// An opened execution: its log followed live while it runs; once it ran, the end of its log
/// and its diff.
#[component]
fn Opened(execution: Execution) -> impl IntoView {
    let (run, id) = (execution.run_id.0, execution.id);
    if matches!(
        execution.status,
        ExecutionStatus::Running | ExecutionStatus::Scheduled
    ) {
        return view! {
            <section class=format!("{CARD} p-6") data-testid="execution-output">
                <h2 class="mb-4 text-base font-semibold">{execution.repository.clone()}</h2>
                <LiveLog run id />
            </section>
        }
        .into_any();
    }
    let output = Resource::new(move || (run, id), |(run, id)| get_transform_output(run, id));
    view! {
        <section class=format!("{CARD} p-6") data-testid="execution-output">
            <h2 class="mb-4 text-base font-semibold">{execution.repository.clone()}</h2>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match output.await {
                        Ok(output) => view! { <Output output /> }.into_any(),
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
    .into_any()
}

/// A running execution's log as it is written (`/api/runs/{run}/executions/{id}/log`), the
/// newest lines kept in view; the page shows the stored log and the diff once it ended.
#[component]
fn LiveLog(run: i64, id: i64) -> impl IntoView {
    let lines = RwSignal::new(Vec::<String>::new());
    let (follow, _) = signal(true);
    let body = NodeRef::<leptos::html::Pre>::new();
    #[cfg(feature = "hydrate")]
    {
        use crate::components::event_stream::{Source, push_bounded, scroll_along};
        let source = StoredValue::new_local(None::<Source>);
        Effect::new(move |_| {
            let opened = Source::open(
                &format!("/api/runs/{run}/executions/{id}/log"),
                "line",
                move |data| {
                    let Ok(line) = serde_json::from_str::<serde_json::Value>(&data) else {
                        return;
                    };
                    let text = line["text"].as_str().unwrap_or_default().to_owned();
                    lines.try_update(|all| push_bounded(all, text, LIVE_LINES));
                },
                |_| {},
            );
            source.set_value(opened);
        });
        scroll_along(lines, follow, body);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (run, id, follow);
    view! {
        <h3 class="mb-2 text-sm font-semibold">"Log (live)"</h3>
        <pre node_ref=body class="max-h-[32rem] overflow-auto rounded-lg bg-slate-900 p-4 font-mono text-xs text-slate-100" data-testid="execution-live-log">
            {move || lines.with(|all| all.join("\n"))}
        </pre>
    }
    .into_any()
}

/// Lines the live log keeps in view (the downloaded log has all of them).
#[cfg(feature = "hydrate")]
const LIVE_LINES: usize = 2_000;

#[component]
fn Output(output: ExecutionOutput) -> impl IntoView {
    let ExecutionOutput {
        log,
        log_lines_before,
        patch,
    } = output;
    view! {
        <Diff patch />
        <h3 class="mb-2 mt-6 text-sm font-semibold">"Log"</h3>
        {(log_lines_before > 0).then(|| view! { <p class="mb-1 text-xs text-slate-500">{format!("{log_lines_before} earlier lines: download the log for all of it")}</p> })}
        <pre class="max-h-[32rem] overflow-auto rounded-lg bg-slate-900 p-4 font-mono text-xs text-slate-100" data-testid="execution-log">
            {log.unwrap_or_else(|| "No log yet: the execution has not run.".to_owned())}
        </pre>
    }
    .into_any()
}

#[component]
fn Diff(patch: ShownPatch) -> impl IntoView {
    if patch.files.is_empty() {
        return view! { <p class="text-sm text-slate-500" data-testid="no-diff">"No changes."</p> }
            .into_any();
    }
    let hidden = patch.hidden_lines;
    let files = patch.files.into_iter().map(|file| {
        let body = if file.binary {
            view! { <p class="px-4 py-2 text-xs text-slate-500">"Binary file (in the patch, not shown)"</p> }.into_any()
        } else {
            file.lines.into_iter().map(|line| {
                let (class, sign) = match line.kind {
                    LineKind::Added => ("bg-emerald-50 text-emerald-900 dark:bg-emerald-950 dark:text-emerald-200", "+"),
                    LineKind::Removed => ("bg-rose-50 text-rose-900 dark:bg-rose-950 dark:text-rose-200", "-"),
                    LineKind::Hunk => ("bg-slate-100 text-slate-500 dark:bg-slate-800", ""),
                    LineKind::Context => ("", " "),
                };
                view! { <div class=format!("whitespace-pre px-4 {class}") data-kind=format!("{:?}", line.kind).to_lowercase()>{format!("{sign}{}", line.text)}</div> }
            }).collect_view().into_any()
        };
        view! {
            <div class="mb-4 overflow-hidden rounded-lg border border-slate-200 dark:border-slate-800" data-testid="diff-file" data-path=file.path.clone()>
                <p class="border-b border-slate-200 bg-slate-50 px-4 py-2 font-mono text-xs font-medium dark:border-slate-800 dark:bg-slate-950">{file.path.clone()}</p>
                <div class="overflow-x-auto font-mono text-xs">{body}</div>
            </div>
        }
    }).collect_view();
    view! {
        <h3 class="mb-2 text-sm font-semibold">"Diff"</h3>
        {files}
        {(hidden > 0).then(|| view! { <p class="text-xs text-slate-500">{format!("{hidden} more lines: download the patch for all of it")}</p> })}
    }.into_any()
}
