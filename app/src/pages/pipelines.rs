//! Pipelines: every run of each repository's `.platform.yaml`, newest first, filterable by
//! repository and status (in the URL, so a view can be shared and works without JavaScript),
//! updating live; and a form to run a repository's pipeline at a branch, tag or commit.

use domain::Repository;
use domain::pipeline::PipelineRun;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::repositories_phrase;
use crate::api::{
    PIPELINE_PAGE, PipelineQuery, TriggerPipeline, list_pipelines, list_repositories,
};
use crate::components::icons::Icon;
use crate::components::status_badge::duration;
use crate::components::{EmptyState, ErrorNotice, Loading, PageHeader, StatusBadge};

const SAMPLE: &str = "pipeline:\n  steps:\n    - name: test\n      image: rust:1.95\n      commands:\n        - cargo test\n";
const CARD: &str =
    "rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900";
const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950";
const BUTTON: &str =
    "rounded-lg bg-indigo-600 px-4 py-1.5 text-sm font-medium text-white hover:bg-indigo-500";

#[component]
pub fn PipelinesPage() -> impl IntoView {
    let query = use_query_map();
    let filters = move || {
        let q = query.get();
        PipelineQuery {
            repository: q.get("repository").unwrap_or_default(),
            status: q.get("status").unwrap_or_default(),
            before: q.get("before").and_then(|b| b.parse().ok()),
        }
    };
    let changes = crate::live::changes_of("pipeline");
    let trigger = ServerAction::<TriggerPipeline>::new();
    let runs = Resource::new(
        move || (filters(), changes.get(), trigger.version().get()),
        |(query, _, _)| list_pipelines(query),
    );
    let repositories = Resource::new(|| (), |_| list_repositories());
    view! {
        <PageHeader title="Pipelines" description="Steps from each repository's .platform.yaml: every run, live." />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                // Taken before the first await: when it resumes, the page may be gone, and a
                // resource or signal read then would panic.
                let (runs, filtered) = (runs.into_future(), filters() != PipelineQuery::default());
                let repositories = match repositories.await {
                    Ok(list) => list,
                    Err(error) => return view! { <ErrorNotice error /> }.into_any(),
                };
                let runs = runs.await;
                view! {
                    <RunForm repositories=repositories.clone() action=trigger />
                    {match runs {
                        Ok(list) if list.is_empty() && !filtered => view! { <NoRunsYet repositories /> }.into_any(),
                        Ok(list) => view! {
                            <Filters repositories current=filters() />
                            <RunTable list current=filters() />
                        }.into_any(),
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    }}
                }.into_any()
            })}
        </Suspense>
    }
}

/// "Run pipeline": a repository and a ref.
#[component]
fn RunForm(repositories: Vec<Repository>, action: ServerAction<TriggerPipeline>) -> impl IntoView {
    if repositories.is_empty() {
        return ().into_any();
    }
    let started = move || {
        action.value().get().map(|result| match result {
            Ok(run) => view! {
                <p class="text-sm text-emerald-700 dark:text-emerald-300" data-testid="run-started">
                    "Pipeline "<a class="font-medium underline" href=format!("/pipelines/{}", run.id)>{format!("#{}", run.id)}</a>" started."
                </p>
            }.into_any(),
            Err(error) => view! { <ErrorNotice error /> }.into_any(),
        })
    };
    view! {
        <ActionForm action attr:class=format!("{CARD} mb-6 grid gap-4 p-4 sm:grid-cols-4") attr:data-testid="run-pipeline">
            <label class="block text-xs font-medium text-slate-600 dark:text-slate-400">
                "Repository"
                <select name="input[repository_id]" class=INPUT>
                    {repositories.iter().map(|r| view! { <option value=r.id.0.to_string()>{r.name.clone()}</option> }).collect_view()}
                </select>
            </label>
            <label class="block text-xs font-medium text-slate-600 dark:text-slate-400">
                "Branch, tag or commit"
                <input name="input[git_ref]" value=repositories[0].default_branch.clone() required class=INPUT />
            </label>
            <div class="flex items-end">
                <button type="submit" class=BUTTON>"Run pipeline"</button>
            </div>
            <div class="flex items-end">{started}</div>
        </ActionForm>
    }
    .into_any()
}

#[component]
fn Filters(repositories: Vec<Repository>, current: PipelineQuery) -> impl IntoView {
    let status = current.status.clone();
    let repository = current.repository.clone();
    view! {
        <form method="get" action="/pipelines" class=format!("{CARD} mb-6 grid gap-4 p-4 sm:grid-cols-4") data-testid="pipeline-filters">
            <label class="block text-xs font-medium text-slate-600 dark:text-slate-400">
                "Repository"
                <select name="repository" class=INPUT>
                    <option value="" selected=repository.is_empty()>"Any"</option>
                    {repositories.into_iter().map(|r| {
                        let id = r.id.0.to_string();
                        let selected = id == repository;
                        view! { <option value=id selected=selected>{r.name}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label class="block text-xs font-medium text-slate-600 dark:text-slate-400">
                "Status"
                <select name="status" class=INPUT>
                    <option value="" selected=status.is_empty()>"Any"</option>
                    {domain::pipeline::PipelineStatus::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=status == s.as_str()>{s.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            <div class="flex items-end gap-2">
                <button type="submit" class=BUTTON>"Filter"</button>
                <a href="/pipelines" class="rounded-lg px-3 py-1.5 text-sm text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800">"Clear"</a>
            </div>
        </form>
    }
}

#[component]
fn RunTable(list: Vec<PipelineRun>, current: PipelineQuery) -> impl IntoView {
    if list.is_empty() {
        return view! {
            <p class="rounded-lg bg-slate-50 px-4 py-6 text-center text-sm text-slate-500 dark:bg-slate-900 dark:text-slate-400">
                "No run matches these filters."
            </p>
        }
        .into_any();
    }
    let next = (list.len() >= PIPELINE_PAGE as usize)
        .then(|| list.last().map(|run| run.id))
        .flatten()
        .map(|before| {
            format!(
                "/pipelines?repository={}&status={}&before={before}",
                current.repository, current.status
            )
        });
    view! {
        <div class=format!("{CARD} overflow-x-auto")>
            <table class="min-w-full divide-y divide-slate-200 text-sm dark:divide-slate-800" data-testid="pipeline-list">
                <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                    <tr>
                        <th class="px-4 py-2">"Run"</th>
                        <th class="px-4 py-2">"Repository"</th>
                        <th class="px-4 py-2">"Ref"</th>
                        <th class="px-4 py-2">"Commit"</th>
                        <th class="px-4 py-2">"Trigger"</th>
                        <th class="px-4 py-2">"Status"</th>
                        <th class="px-4 py-2">"Duration"</th>
                        <th class="px-4 py-2">"Started"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {list.into_iter().map(|run| view! { <RunRow run /> }).collect_view()}
                </tbody>
            </table>
        </div>
        {next.map(|href| view! {
            <a href=href class="mt-4 inline-block text-sm font-medium text-indigo-600 hover:underline dark:text-indigo-400">"Older runs →"</a>
        })}
    }
    .into_any()
}

#[component]
fn RunRow(run: PipelineRun) -> impl IntoView {
    let href = format!("/pipelines/{}", run.id);
    let commit = run
        .commit_sha
        .as_deref()
        .map_or("—".to_owned(), |sha| sha.chars().take(8).collect());
    view! {
        <tr class="align-top" data-testid="pipeline-row">
            <td class="px-4 py-2 font-medium"><a href=href class="text-indigo-600 hover:underline dark:text-indigo-400">{format!("#{}", run.id)}</a></td>
            <td class="px-4 py-2">{run.repository.clone()}</td>
            <td class="px-4 py-2 font-mono text-xs">{run.git_ref.clone()}</td>
            <td class="px-4 py-2 font-mono text-xs">{commit}</td>
            <td class="px-4 py-2">{run.trigger.as_str().replace('_', " ")}</td>
            <td class="px-4 py-2">
                <StatusBadge status=run.status.as_str() />
                {run.reason.clone().filter(|_| run.status.is_finished()).map(|r| view! { <p class="mt-1 max-w-xs truncate text-xs text-slate-500 dark:text-slate-400" title=r.clone()>{r.clone()}</p> })}
            </td>
            <td class="whitespace-nowrap px-4 py-2">{duration(run.duration_ms())}</td>
            <td class="whitespace-nowrap px-4 py-2 text-slate-500">{run.started_at_ms.map_or("—".to_owned(), domain::time::utc)}</td>
        </tr>
    }
}

#[component]
fn NoRunsYet(repositories: Vec<Repository>) -> impl IntoView {
    let (title, action) = if repositories.is_empty() {
        (
            "No pipelines yet".to_owned(),
            Some(("Connect a repository", "/settings")),
        )
    } else {
        (
            format!(
                "No pipeline has run in your {} yet",
                repositories_phrase(repositories.len())
            ),
            None,
        )
    };
    view! {
        <EmptyState
            icon=Icon::Pipelines
            title
            body="Add a .platform.yaml to the repository and run it above; its steps then run here, with live logs. Check the file first with `slipway validate`."
            action
        >
            <pre class="overflow-x-auto rounded-lg bg-slate-900 p-4 font-mono text-xs text-slate-100">{SAMPLE}</pre>
        </EmptyState>
    }
}
