//! One preview: its pull request, status and URL, the timeline of deployment attempts (commit,
//! times, outcome, reason), what it uses, the cluster's events, its pods' logs, and Retry and
//! Delete (the latter naming the namespace), each behind a confirmation. Updates live.

use domain::identity::Level;
use domain::preview::model::PreviewDetail;
use domain::preview::{AttemptStatus, Preview, PreviewAttempt, PreviewStatus, PreviewUsage};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::{DeletePreview, RetryPreview, get_preview};
use crate::components::access;
use crate::components::pod_log_viewer::PodLogViewer;
use crate::components::status_badge::{PreviewBadge, StatusBadge, age, duration};
use crate::components::{Confirm, ErrorNotice, Loading, PageHeader};

const CARD: &str =
    "rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900";
const HEADING: &str = "mb-3 text-sm font-semibold";

#[component]
pub fn PreviewPage() -> impl IntoView {
    let params = use_params_map();
    let key = move || params.get().get("id").unwrap_or_default();
    let changes = crate::live::changes_of("preview");
    let retry = ServerAction::<RetryPreview>::new();
    let delete = ServerAction::<DeletePreview>::new();
    let detail = Resource::new(
        move || {
            (
                key(),
                changes.get(),
                retry.version().get(),
                delete.version().get(),
            )
        },
        |(key, _, _, _)| get_preview(key),
    );
    view! {
        <PageHeader title="Preview" description="A pull request's environment: its deployments, resources, events and logs." />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                // Taken before the first await: when it resumes, the page may be gone, and a
                // resource or signal read then would panic.
                let detail = detail.into_future();
                let me = access::me().await;
                match detail.await {
                    Ok(detail) => {
                    let repository = &detail.preview.repository;
                    let may_retry = me.as_ref().is_some_and(|me| access::holds(me, repository, Level::Write));
                    let may_delete = me.as_ref().is_some_and(|me| access::may_clean_up(me, repository));
                    view! {
                        {move || retry.value().get().and_then(Result::err).map(|error| view! { <div class="mb-4"><ErrorNotice error /></div> })}
                        {move || delete.value().get().and_then(Result::err).map(|error| view! { <div class="mb-4"><ErrorNotice error /></div> })}
                        <Header preview=detail.preview.clone() now=detail.now_ms retry delete may_retry may_delete />
                        <Timeline attempts=detail.attempts.clone() />
                        <Resources detail=detail.clone() />
                        <Events detail=detail.clone() />
                        {detail.preview.status.may_have_namespace().then(|| view! {
                            <section class="mb-6">
                                <h2 class=HEADING>"Logs"</h2>
                                <PodLogViewer preview=detail.preview.id pods=detail.pods.clone() />
                            </section>
                        })}
                    }.into_any()
                    }
                    Err(error) => view! { <ErrorNotice error /> <a href="/previews" class="mt-4 inline-block text-sm text-indigo-600">"All previews"</a> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Header(
    preview: Preview,
    now: i64,
    retry: ServerAction<RetryPreview>,
    delete: ServerAction<DeletePreview>,
    /// Whether the viewer may deploy it again, and delete it (the server checks regardless).
    may_retry: bool,
    may_delete: bool,
) -> impl IntoView {
    let retry_key = preview.id.to_string();
    let delete_key = retry_key.clone();
    let retry_label = if preview.status == PreviewStatus::Failed {
        "Retry"
    } else {
        "Redeploy"
    };
    let can_retry = may_retry && preview.wanted && preview.status != PreviewStatus::Deleting;
    let can_delete = may_delete
        && preview.status.may_have_namespace()
        && preview.status != PreviewStatus::Deleting;
    let question = format!(
        "Delete namespace {} and everything in it? A new push to the pull request creates the preview again.",
        preview.namespace
    );
    view! {
        <section class=format!("{CARD} mb-6 p-6") data-testid="preview-detail">
            <div class="flex flex-wrap items-start justify-between gap-4">
                <div>
                    <p class="font-mono text-lg font-semibold" data-testid="preview-namespace">{preview.namespace.clone()}</p>
                    <p class="mt-1 text-sm">
                        <a href=preview.pull_request_url() target="_blank" rel="noopener" class="font-medium text-indigo-600 hover:underline dark:text-indigo-400">{format!("{} #{}", preview.repository, preview.number)}</a>
                        {format!(" · {} · by {} · {}", preview.title, preview.author, preview.branch)}
                    </p>
                </div>
                <div class="flex items-center gap-3">
                    <PreviewBadge status=preview.status />
                    {can_retry.then(|| view! {
                        <Confirm label=retry_label question=format!("Deploy commit {} again?", preview.short_sha()) testid="retry">
                            <ActionForm action=retry>
                                <input type="hidden" name="key" value=retry_key.clone() />
                                <button type="submit" class="rounded-lg bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-500" data-testid="retry-confirm">"Yes, deploy again"</button>
                            </ActionForm>
                        </Confirm>
                    })}
                    {can_delete.then(|| view! {
                        <Confirm label="Delete" question=question testid="delete">
                            <ActionForm action=delete>
                                <input type="hidden" name="key" value=delete_key.clone() />
                                <button type="submit" class="rounded-lg bg-rose-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-rose-500" data-testid="delete-confirm">"Yes, delete it"</button>
                            </ActionForm>
                        </Confirm>
                    })}
                </div>
            </div>
            <dl class="mt-4 grid gap-x-6 gap-y-2 text-sm sm:grid-cols-4">
                <div><dt class="text-slate-500">"URL"</dt><dd>{match (&preview.url, preview.status) {
                    (Some(url), PreviewStatus::Running) => view! { <a href=url.clone() target="_blank" rel="noopener" class="text-indigo-600 hover:underline dark:text-indigo-400" data-testid="preview-url">{url.clone()}</a> }.into_any(),
                    (Some(url), _) => view! { <span class="text-slate-500">{url.clone()}</span> }.into_any(),
                    (None, _) => view! { "—" }.into_any(),
                }}</dd></div>
                <div><dt class="text-slate-500">"Commit"</dt><dd class="font-mono">{preview.short_sha().to_owned()}</dd></div>
                <div><dt class="text-slate-500">"Age"</dt><dd title=domain::time::utc(preview.created_at_ms)>{age(now, preview.created_at_ms)}</dd></div>
                <div><dt class="text-slate-500">"Expires"</dt><dd>{preview.expires_at_ms.filter(|_| preview.wanted).map_or("—".to_owned(), domain::time::utc)}</dd></div>
            </dl>
            {preview.reason.clone().filter(|_| preview.status != PreviewStatus::Running).map(|reason| view! {
                <pre class="mt-4 whitespace-pre-wrap rounded-lg bg-slate-50 px-3 py-2 font-mono text-xs dark:bg-slate-950" data-testid="preview-reason">{reason}</pre>
            })}
        </section>
    }
}

/// Deployment attempts, newest first.
#[component]
fn Timeline(attempts: Vec<PreviewAttempt>) -> impl IntoView {
    view! {
        <section class=format!("{CARD} mb-6 overflow-x-auto p-4") data-testid="attempts">
            <h2 class=HEADING>"Deployments"</h2>
            <table class="min-w-full text-sm">
                <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                    <tr><th class="py-1 pr-4">"Commit"</th><th class="py-1 pr-4">"Outcome"</th><th class="py-1 pr-4">"Started"</th><th class="py-1 pr-4">"Took"</th><th class="py-1">"Reason"</th></tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {attempts.into_iter().map(|attempt| {
                        let took = attempt.started_at_ms.zip(attempt.finished_at_ms).map(|(s, f)| f - s);
                        let outcome = match attempt.status {
                            AttemptStatus::Deploying => "running",
                            other => other.as_str(),
                        };
                        view! {
                            <tr class="align-top" data-testid="attempt" data-status=attempt.status.as_str()>
                                <td class="py-2 pr-4 font-mono text-xs">{attempt.sha.chars().take(7).collect::<String>()}</td>
                                <td class="py-2 pr-4"><StatusBadge status=outcome /></td>
                                <td class="whitespace-nowrap py-2 pr-4 text-slate-500">{domain::time::utc(attempt.started_at_ms.unwrap_or(attempt.created_at_ms))}</td>
                                <td class="whitespace-nowrap py-2 pr-4">{duration(took)}</td>
                                <td class="py-2"><pre class="max-w-xl whitespace-pre-wrap font-mono text-xs text-slate-600 dark:text-slate-400">{attempt.reason.unwrap_or_default()}</pre></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn Resources(detail: PreviewDetail) -> impl IntoView {
    let Some(usage) = detail.usage else {
        return detail.cluster_error.map(|e| view! {
            <p class="mb-6 text-sm text-rose-700 dark:text-rose-300">{format!("The cluster could not be asked: {e}")}</p>
        }).into_any();
    };
    view! {
        <section class=format!("{CARD} mb-6 p-4") data-testid="resources">
            <h2 class=HEADING>"Resources"</h2>
            <UsageBars usage />
        </section>
    }
    .into_any()
}

/// CPU and memory against the namespace quota, as bars, with warnings past 80%.
#[component]
pub fn UsageBars(usage: PreviewUsage) -> impl IntoView {
    use crate::components::usage::{Bar, bytes, millicores};
    view! {
        <div class="grid gap-4 sm:grid-cols-2">
            <Bar label="CPU" used=usage.cpu_millicores limit=usage.cpu_limit_millicores show=millicores />
            <Bar label="Memory" used=usage.memory_bytes limit=usage.memory_limit_bytes show=bytes />
        </div>
        <p class="mt-2 text-xs text-slate-500">{format!("{} pod(s) · quota used: {} CPU, {} memory", usage.pods,
            usage.quota_cpu_used_millicores.map_or("—".to_owned(), millicores),
            usage.quota_memory_used_bytes.map_or("—".to_owned(), bytes))}</p>
        {usage.warnings.into_iter().map(|w| view! {
            <p class="mt-1 text-xs font-medium text-amber-700 dark:text-amber-300" data-testid="usage-warning">{format!("⚠ {w}")}</p>
        }).collect_view()}
    }
}

#[component]
fn Events(detail: PreviewDetail) -> impl IntoView {
    if detail.events.is_empty() {
        return ().into_any();
    }
    view! {
        <section class=format!("{CARD} mb-6 overflow-x-auto p-4") data-testid="events">
            <h2 class=HEADING>"Kubernetes events"</h2>
            <table class="min-w-full text-xs">
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {detail.events.into_iter().rev().take(50).map(|event| view! {
                        <tr class=if event.warning { "text-rose-700 dark:text-rose-300" } else { "" }>
                            <td class="whitespace-nowrap py-1 pr-3 text-slate-500">{event.at.unwrap_or_default()}</td>
                            <td class="py-1 pr-3 font-medium">{event.reason}</td>
                            <td class="py-1 pr-3 font-mono">{event.object}</td>
                            <td class="py-1">{event.message}{(event.count > 1).then(|| format!(" (×{})", event.count))}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}
