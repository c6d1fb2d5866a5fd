//! The audit log: who did what to which repository and how it ended, newest first, filtered
//! by actor, action and repository through the URL; older rows a page at a time; the same
//! rows as JSON lines for export. Instance admins see everything, repository admins their
//! repositories.

use domain::identity::{AuditEntry, Outcome};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::query_value;
use crate::api::{AuditQuery, AuditRows, list_audit};
use crate::components::{ErrorNotice, Loading, PageHeader};

const CARD: &str =
    "rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900";
const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950";

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filters = move || {
        let q = query.get();
        AuditQuery {
            actor: q.get("actor").unwrap_or_default(),
            action: q.get("action").unwrap_or_default(),
            repository: q.get("repository").and_then(|r| r.parse().ok()),
            before: q.get("before").and_then(|b| b.parse().ok()),
        }
    };
    let rows = Resource::new(filters, list_audit);
    view! {
        <PageHeader title="Audit log" description="Every change and every refusal: who, what, where from, and how it ended." />
        <Filters current=filters() />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(page) => view! { <AuditTable page current=filters() /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The query string of `query`'s filters that are set (not `before`), for links.
fn query_string(query: &AuditQuery) -> String {
    let repository = query.repository.map(|r| r.to_string()).unwrap_or_default();
    [
        ("actor", query.actor.as_str()),
        ("action", query.action.as_str()),
        ("repository", repository.as_str()),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .map(|(key, value)| format!("{key}={}", query_value(value)))
    .collect::<Vec<_>>()
    .join("&")
}

#[component]
fn Filters(current: AuditQuery) -> impl IntoView {
    let export = format!(
        "/api/audit?format=jsonl&limit=500&{}",
        query_string(&current)
    );
    view! {
        <form method="get" action="/audit" class=format!("{CARD} mb-6 grid gap-4 p-4 sm:grid-cols-4") data-testid="audit-filters">
            <label class="block text-xs font-medium text-slate-600 dark:text-slate-400">
                "Actor"
                <input name="actor" value=current.actor placeholder="login" class=INPUT />
            </label>
            <label class="block text-xs font-medium text-slate-600 dark:text-slate-400">
                "Action"
                <input name="action" value=current.action placeholder="pipeline.cancel" class=INPUT />
            </label>
            <label class="block text-xs font-medium text-slate-600 dark:text-slate-400">
                "Repository id"
                <input name="repository" type="number" value=current.repository.map(|r| r.to_string()) class=INPUT />
            </label>
            <div class="flex items-end gap-2">
                <button type="submit" class="rounded-lg bg-indigo-600 px-4 py-1.5 text-sm font-medium text-white hover:bg-indigo-500">"Filter"</button>
                <a href="/audit" class="rounded-lg px-3 py-1.5 text-sm text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800">"Clear"</a>
                <a href=export rel="external" class="rounded-lg px-3 py-1.5 text-sm text-indigo-700 hover:bg-indigo-50 dark:text-indigo-300 dark:hover:bg-indigo-950" data-testid="audit-export">"Export"</a>
            </div>
        </form>
    }
}

fn outcome_class(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "text-emerald-700 dark:text-emerald-300",
        Outcome::Denied => "text-amber-700 dark:text-amber-300",
        Outcome::Error => "text-rose-700 dark:text-rose-300",
    }
}

fn actor(entry: &AuditEntry) -> String {
    let kind = entry.actor_kind.as_str();
    match (&entry.actor_login, entry.token_id) {
        (Some(login), Some(token)) => format!("{login} (token {token})"),
        (Some(login), None) => login.clone(),
        (None, _) => kind.to_owned(),
    }
}

#[component]
fn AuditTable(page: AuditRows, current: AuditQuery) -> impl IntoView {
    if page.items.is_empty() {
        return view! {
            <p class="rounded-lg bg-slate-50 px-4 py-6 text-center text-sm text-slate-500 dark:bg-slate-950 dark:text-slate-400" data-testid="audit-empty">
                "Nothing recorded matches."
            </p>
        }
        .into_any();
    }
    let older = page.next_before.map(|before| {
        let query = query_string(&current);
        let query = if query.is_empty() {
            query
        } else {
            format!("{query}&")
        };
        format!("/audit?{query}before={before}")
    });
    view! {
        <div class=format!("{CARD} overflow-x-auto")>
            <table class="min-w-full text-left text-sm" data-testid="audit-rows">
                <thead class="text-xs text-slate-500 dark:text-slate-400">
                    <tr>
                        <th class="px-4 py-2 font-medium">"When (UTC)"</th>
                        <th class="px-4 py-2 font-medium">"Who"</th>
                        <th class="px-4 py-2 font-medium">"Action"</th>
                        <th class="px-4 py-2 font-medium">"On"</th>
                        <th class="px-4 py-2 font-medium">"Outcome"</th>
                        <th class="px-4 py-2 font-medium">"Details"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {page.items.into_iter().map(|entry| {
                        let on = [entry.repository.clone(), entry.target.clone()]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(" · ");
                        view! {
                            <tr>
                                <td class="whitespace-nowrap px-4 py-2 text-xs text-slate-500">{domain::time::utc(entry.at_ms)}</td>
                                <td class="px-4 py-2">{actor(&entry)}</td>
                                <td class="px-4 py-2 font-mono text-xs">{entry.action.clone()}</td>
                                <td class="px-4 py-2">{on}</td>
                                <td class=format!("px-4 py-2 text-xs font-medium {}", outcome_class(entry.outcome))>{entry.outcome.as_str()}</td>
                                <td class="px-4 py-2 text-xs text-slate-600 dark:text-slate-400">
                                    {entry.details.clone().unwrap_or_default()}
                                    {entry.source.clone().map(|s| format!(" · from {s}"))}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        {older.map(|href| view! {
            <p class="mt-4 text-right"><a href=href class="text-sm text-indigo-700 hover:underline dark:text-indigo-300" data-testid="audit-older">"Older rows"</a></p>
        })}
    }
    .into_any()
}
