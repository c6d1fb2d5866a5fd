//! Previews: every pull request's environment — namespace, repository, pull request (number,
//! title, author, link), status, URL (a link once running), commit, age and last change —
//! filterable by status and repository and searchable (in the URL, so a view can be shared and
//! works without JavaScript), updating live.

use domain::Repository;
use domain::preview::{Preview, PreviewStatus};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::repositories_phrase;
use crate::api::{PREVIEW_PAGE, PreviewList, PreviewQuery, list_previews, list_repositories};
use crate::components::icons::Icon;
use crate::components::status_badge::{PreviewBadge, age};
use crate::components::{EmptyState, ErrorNotice, Loading, PageHeader};

const CARD: &str =
    "rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900";
const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950";
const BUTTON: &str =
    "rounded-lg bg-indigo-600 px-4 py-1.5 text-sm font-medium text-white hover:bg-indigo-500";
const SAMPLE: &str = "preview:\n  app:\n    port: 8080\n    health_check: /healthz\n  ttl: 72h\n";

#[component]
pub fn PreviewsPage() -> impl IntoView {
    let query = use_query_map();
    let filters = move || {
        let q = query.get();
        PreviewQuery {
            status: q.get("status").unwrap_or_default(),
            repository: q.get("repository").unwrap_or_default(),
            search: q.get("search").unwrap_or_default(),
            offset: q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0),
        }
    };
    let changes = crate::live::changes_of("preview");
    let previews = Resource::new(
        move || (filters(), changes.get()),
        |(query, _)| list_previews(query),
    );
    let repositories = Resource::new(|| (), |_| list_repositories());
    view! {
        <PageHeader title="Previews" description="A running environment for every open pull request, with its own URL." />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                // Taken before the first await: when it resumes, the page may be gone, and a
                // resource or signal read then would panic.
                let (previews, filtered) = (previews.into_future(), filters() != PreviewQuery::default());
                let repositories = match repositories.await {
                    Ok(list) => list,
                    Err(error) => return view! { <ErrorNotice error /> }.into_any(),
                };
                match previews.await {
                    Ok(list) if list.items.is_empty() && !filtered => view! { <NoPreviewsYet repositories /> }.into_any(),
                    Ok(list) => view! {
                        <Filters repositories current=filters() />
                        <PreviewTable list current=filters() />
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Filters(repositories: Vec<Repository>, current: PreviewQuery) -> impl IntoView {
    view! {
        <form method="get" action="/previews" class=format!("{CARD} mb-6 grid gap-4 p-4 sm:grid-cols-4") data-testid="preview-filters">
            <label class="block text-xs font-medium text-slate-600 dark:text-slate-400">
                "Search"
                <input type="search" name="search" value=current.search.clone() placeholder="Namespace, title, author, branch" class=INPUT />
            </label>
            <label class="block text-xs font-medium text-slate-600 dark:text-slate-400">
                "Repository"
                <select name="repository" class=INPUT>
                    <option value="" selected=current.repository.is_empty()>"Any"</option>
                    {repositories.into_iter().map(|r| {
                        let selected = r.name == current.repository;
                        let value = r.name.clone();
                        view! { <option value=value selected=selected>{r.name}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label class="block text-xs font-medium text-slate-600 dark:text-slate-400">
                "Status"
                <select name="status" class=INPUT>
                    <option value="" selected=current.status.is_empty()>"Any (not deleted)"</option>
                    {PreviewStatus::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=current.status == s.as_str()>{s.label()}</option>
                    }).collect_view()}
                </select>
            </label>
            <div class="flex items-end gap-2">
                <button type="submit" class=BUTTON>"Filter"</button>
                <a href="/previews" class="rounded-lg px-3 py-1.5 text-sm text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800">"Clear"</a>
            </div>
        </form>
    }
}

#[component]
fn PreviewTable(list: PreviewList, current: PreviewQuery) -> impl IntoView {
    if list.items.is_empty() {
        return view! {
            <p class="rounded-lg bg-slate-50 px-4 py-6 text-center text-sm text-slate-500 dark:bg-slate-900 dark:text-slate-400">
                "No preview matches these filters."
            </p>
        }
        .into_any();
    }
    let shown = u64::from(current.offset) + list.items.len() as u64;
    let next = (shown < list.total).then(|| {
        format!(
            "/previews?status={}&repository={}&search={}&offset={}",
            current.status,
            current.repository,
            current.search,
            current.offset + PREVIEW_PAGE
        )
    });
    let now = list.now_ms;
    view! {
        <p class="mb-2 text-xs text-slate-500" data-testid="preview-count">{format!("{shown} of {}", list.total)}</p>
        <div class=format!("{CARD} overflow-x-auto")>
            <table class="min-w-full divide-y divide-slate-200 text-sm dark:divide-slate-800" data-testid="preview-list">
                <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                    <tr>
                        <th class="px-4 py-2">"Namespace"</th>
                        <th class="px-4 py-2">"Pull request"</th>
                        <th class="px-4 py-2">"Status"</th>
                        <th class="px-4 py-2">"URL"</th>
                        <th class="px-4 py-2">"Commit"</th>
                        <th class="px-4 py-2">"Age"</th>
                        <th class="px-4 py-2">"Updated"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {list.items.into_iter().map(|preview| view! { <PreviewRow preview now /> }).collect_view()}
                </tbody>
            </table>
        </div>
        {next.map(|href| view! {
            <a href=href class="mt-4 inline-block text-sm font-medium text-indigo-600 hover:underline dark:text-indigo-400">"More previews →"</a>
        })}
    }
    .into_any()
}

#[component]
fn PreviewRow(preview: Preview, now: i64) -> impl IntoView {
    let href = format!("/previews/{}", preview.id);
    let url = match (&preview.url, preview.status) {
        (Some(url), PreviewStatus::Running) => view! {
            <a href=url.clone() target="_blank" rel="noopener" class="text-indigo-600 hover:underline dark:text-indigo-400" data-testid="preview-url">{url.trim_start_matches("https://").to_owned()}</a>
        }.into_any(),
        (Some(url), _) => view! { <span class="text-slate-400">{url.trim_start_matches("https://").to_owned()}</span> }.into_any(),
        (None, _) => view! { <span class="text-slate-400">"—"</span> }.into_any(),
    };
    view! {
        <tr class="align-top" data-testid="preview-row" data-namespace=preview.namespace.clone()>
            <td class="px-4 py-2 font-mono text-xs"><a href=href class="font-medium text-indigo-600 hover:underline dark:text-indigo-400">{preview.namespace.clone()}</a></td>
            <td class="px-4 py-2">
                <a href=preview.pull_request_url() target="_blank" rel="noopener" class="font-medium hover:underline">{format!("{} #{}", preview.repository, preview.number)}</a>
                <p class="max-w-xs truncate text-xs text-slate-500" title=preview.title.clone()>{format!("{} · {}", preview.title, preview.author)}</p>
            </td>
            <td class="px-4 py-2">
                <PreviewBadge status=preview.status />
                {preview.reason.clone().filter(|_| matches!(preview.status, PreviewStatus::Failed | PreviewStatus::CleanupFailed | PreviewStatus::Skipped)).map(|r| view! {
                    <p class="mt-1 max-w-xs truncate text-xs text-slate-500 dark:text-slate-400" title=r.clone()>{r.clone()}</p>
                })}
            </td>
            <td class="px-4 py-2 text-xs">{url}</td>
            <td class="px-4 py-2 font-mono text-xs">{preview.short_sha().to_owned()}</td>
            <td class="whitespace-nowrap px-4 py-2" title=domain::time::utc(preview.created_at_ms)>{age(now, preview.created_at_ms)}</td>
            <td class="whitespace-nowrap px-4 py-2 text-slate-500" title=domain::time::utc(preview.updated_at_ms)>{format!("{} ago", age(now, preview.updated_at_ms))}</td>
        </tr>
    }
}

#[component]
fn NoPreviewsYet(repositories: Vec<Repository>) -> impl IntoView {
    let (title, body, action) = if repositories.is_empty() {
        (
            "No previews yet".to_owned(),
            "Connect a repository, then open a pull request: Slipway deploys it to its own namespace, posts the URL on the pull request and removes it when the pull request closes.".to_owned(),
            Some(("Connect a repository", "/settings")),
        )
    } else {
        (
            "No open pull requests have a preview".to_owned(),
            format!(
                "Watching {}. Add a `preview:` section to .platform.yaml; a preview appears here as soon as a matching pull request is opened.",
                repositories_phrase(repositories.len())
            ),
            None,
        )
    };
    view! {
        <EmptyState icon=Icon::Previews title body action>
            <pre class="overflow-x-auto rounded-lg bg-slate-900 p-4 font-mono text-xs text-slate-100">{SAMPLE}</pre>
        </EmptyState>
    }
}
