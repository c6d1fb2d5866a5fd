//! Operator: what every preview uses — CPU and memory against its limits (small bars), quota
//! use, age, status and warnings past 80%, in a table sortable by each column and filterable by
//! status — totals per cluster and per repository, failed cleanups and orphaned namespaces;
//! and whether Slipway's own dependencies are healthy.

use domain::DependencyCheck;
use leptos::prelude::*;

use domain::preview::PreviewStatus;
use domain::preview::model::{PreviewUsageRow, UsageReport, UsageTotal};
use leptos_router::hooks::use_query_map;

use crate::api::{get_instance_info, get_usage_report};
use crate::components::icons::Icon;
use crate::components::status_badge::{PreviewBadge, age};
use crate::components::{EmptyState, ErrorNotice, Loading, PageHeader};

#[component]
pub fn OperatorPage() -> impl IntoView {
    let info = Resource::new(|| (), |_| get_instance_info());
    let query = use_query_map();
    let changes = crate::live::changes_of("preview");
    let report = Resource::new(move || changes.get(), |_| get_usage_report());
    let sort = move || query.get().get("sort").unwrap_or_else(|| "cpu".to_owned());
    let status = move || query.get().get("status").unwrap_or_default();
    view! {
        <PageHeader title="Operator" description="Resource use of every preview environment, and the health of Slipway itself." />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(report) if report.rows.is_empty() && report.cleanup_failed.is_empty() && report.orphans.is_empty() => view! {
                        <EmptyState
                            icon=Icon::Operator
                            title="No environments to measure"
                            body="Once previews run on a cluster, this page lists each one with CPU and memory against its limits, quota use, age and warnings past 80%."
                        />
                    }.into_any(),
                    Ok(report) => view! { <Usage report sort=sort() status=status() /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
        <section class="mt-10">
            <h2 class=HEADING>"Dependencies"</h2>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match info.await {
                        Ok(info) => view! { <DependencyTable checks=info.readiness.checks /> }.into_any(),
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

const HEADING: &str =
    "mb-3 text-sm font-semibold uppercase tracking-wide text-slate-500 dark:text-slate-400";
const CARD: &str = "overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900";
/// Sortable columns: (query value, heading).
const COLUMNS: [(&str, &str); 6] = [
    ("namespace", "Environment"),
    ("status", "Status"),
    ("cpu", "CPU"),
    ("memory", "Memory"),
    ("quota", "Quota used"),
    ("age", "Age"),
];

/// Rows sorted by `sort` (largest first for figures, oldest first for age).
fn sorted(mut rows: Vec<PreviewUsageRow>, sort: &str) -> Vec<PreviewUsageRow> {
    match sort {
        "namespace" => rows.sort_by(|a, b| a.preview.namespace.cmp(&b.preview.namespace)),
        "status" => rows.sort_by_key(|r| r.preview.status.as_str()),
        "memory" => rows.sort_by_key(|r| std::cmp::Reverse(r.usage.memory_bytes.unwrap_or(0))),
        "quota" => {
            rows.sort_by_key(|r| std::cmp::Reverse(r.usage.quota_memory_used_bytes.unwrap_or(0)))
        }
        "age" => rows.sort_by_key(|r| r.preview.created_at_ms),
        _ => rows.sort_by_key(|r| std::cmp::Reverse(r.usage.cpu_millicores.unwrap_or(0))),
    }
    rows
}

#[component]
fn Usage(report: UsageReport, sort: String, status: String) -> impl IntoView {
    let now = report.now_ms;
    let rows: Vec<PreviewUsageRow> = report
        .rows
        .into_iter()
        .filter(|r| status.is_empty() || r.preview.status.as_str() == status)
        .collect();
    let rows = sorted(rows, &sort);
    let link = {
        let status = status.clone();
        move |sort: &str| format!("/operator?sort={sort}&status={status}")
    };
    view! {
        <section class="mb-8">
            <form method="get" action="/operator" class="mb-3 flex items-center gap-2 text-sm">
                <input type="hidden" name="sort" value=sort.clone() />
                <label class="text-slate-500">"Status"</label>
                <select name="status" class="rounded-lg border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-950" data-testid="operator-status">
                    <option value="" selected=status.is_empty()>"Any"</option>
                    {PreviewStatus::ALL.into_iter().map(|s| view! { <option value=s.as_str() selected=status == s.as_str()>{s.label()}</option> }).collect_view()}
                </select>
                <button type="submit" class="rounded-lg border border-slate-300 px-3 py-1 dark:border-slate-700">"Filter"</button>
            </form>
            <div class=CARD>
                <table class="min-w-full divide-y divide-slate-200 text-sm dark:divide-slate-800" data-testid="usage-table">
                    <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                        <tr>
                            {COLUMNS.into_iter().map(|(key, heading)| {
                                let active = key == sort;
                                view! {
                                    <th class="px-4 py-2">
                                        <a href=link(key) class=if active { "text-indigo-600 dark:text-indigo-400" } else { "hover:underline" } aria-sort=if active { "descending" } else { "none" }>{heading}{active.then_some(" ↓")}</a>
                                    </th>
                                }
                            }).collect_view()}
                            <th class="px-4 py-2">"Warnings"</th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                        {rows.into_iter().map(|row| view! { <UsageRow row now /> }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
        <div class="mb-8 grid gap-6 md:grid-cols-2">
            <Totals title="Per cluster" totals=report.per_cluster />
            <Totals title="Per repository" totals=report.per_repository />
        </div>
        <section class="mb-8" data-testid="cleanup-failed">
            <h2 class=HEADING>"Failed cleanups"</h2>
            {if report.cleanup_failed.is_empty() {
                view! { <p class="text-sm text-slate-500">"None: every removal finished."</p> }.into_any()
            } else {
                view! {
                    <ul class="space-y-2 text-sm">
                        {report.cleanup_failed.into_iter().map(|p| view! {
                            <li><a href=format!("/previews/{}", p.id) class="font-mono text-indigo-600 hover:underline">{p.namespace.clone()}</a>" — "{p.reason.unwrap_or_default()}</li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
        <section class="mb-8" data-testid="orphans">
            <h2 class=HEADING>"Orphaned namespaces"</h2>
            {if report.orphans.is_empty() {
                view! { <p class="text-sm text-slate-500">"None: every preview namespace belongs to a live preview."</p> }.into_any()
            } else {
                view! {
                    <p class="mb-2 text-sm text-slate-500">"Managed preview namespaces no live preview owns; the sweep removes them."</p>
                    <ul class="space-y-1 font-mono text-sm">
                        {report.orphans.into_iter().map(|o| view! { <li>{format!("{} on {}", o.namespace, o.cluster)}</li> }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {report.errors.into_iter().map(|e| view! { <p class="mt-2 text-sm text-rose-700 dark:text-rose-300">{e}</p> }).collect_view()}
        </section>
    }
}

#[component]
fn UsageRow(row: PreviewUsageRow, now: i64) -> impl IntoView {
    use crate::components::usage::{Bar, bytes, millicores};
    let usage = row.usage;
    let quota = format!(
        "{} CPU · {} memory",
        usage
            .quota_cpu_used_millicores
            .map_or("—".to_owned(), millicores),
        usage.quota_memory_used_bytes.map_or("—".to_owned(), bytes)
    );
    view! {
        <tr class="align-top" data-testid="usage-row" data-namespace=row.preview.namespace.clone()>
            <td class="px-4 py-2">
                <a href=format!("/previews/{}", row.preview.id) class="font-mono text-xs font-medium text-indigo-600 hover:underline dark:text-indigo-400">{row.preview.namespace.clone()}</a>
                <p class="text-xs text-slate-500">{format!("{} #{} · {}", row.preview.repository, row.preview.number, row.cluster)}</p>
            </td>
            <td class="px-4 py-2"><PreviewBadge status=row.preview.status /></td>
            <td class="min-w-40 px-4 py-2"><Bar label="" used=usage.cpu_millicores limit=usage.cpu_limit_millicores show=millicores /></td>
            <td class="min-w-40 px-4 py-2"><Bar label="" used=usage.memory_bytes limit=usage.memory_limit_bytes show=bytes /></td>
            <td class="whitespace-nowrap px-4 py-2 text-xs">{quota}</td>
            <td class="whitespace-nowrap px-4 py-2" title=domain::time::utc(row.preview.created_at_ms)>{age(now, row.preview.created_at_ms)}</td>
            <td class="px-4 py-2 text-xs text-amber-700 dark:text-amber-300">{usage.warnings.join("; ")}</td>
        </tr>
    }
}

#[component]
fn Totals(title: &'static str, totals: Vec<UsageTotal>) -> impl IntoView {
    use crate::components::usage::{bytes, millicores};
    view! {
        <section>
            <h2 class=HEADING>{title}</h2>
            <div class=CARD>
                <table class="min-w-full text-sm" data-testid="usage-totals">
                    <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                        {totals.into_iter().map(|t| view! {
                            <tr>
                                <td class="px-4 py-2 font-medium">{t.name}</td>
                                <td class="px-4 py-2">{format!("{} preview(s)", t.previews)}</td>
                                <td class="px-4 py-2 text-xs">{format!("CPU {} / {}", millicores(t.cpu_millicores), millicores(t.cpu_limit_millicores))}</td>
                                <td class="px-4 py-2 text-xs">{format!("memory {} / {}", bytes(t.memory_bytes), bytes(t.memory_limit_bytes))}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn DependencyTable(checks: Vec<DependencyCheck>) -> impl IntoView {
    view! {
        <div class="overflow-hidden rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <table class="w-full text-left text-sm">
                <thead class="bg-slate-50 text-xs uppercase text-slate-500 dark:bg-slate-900 dark:text-slate-400">
                    <tr>
                        <th class="px-4 py-2 font-medium">"Dependency"</th>
                        <th class="px-4 py-2 font-medium">"Backend"</th>
                        <th class="px-4 py-2 font-medium">"State"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {checks
                        .into_iter()
                        .map(|check| {
                            let (badge, label) = if check.ok {
                                ("bg-emerald-50 text-emerald-700 ring-emerald-600/20 dark:bg-emerald-950 dark:text-emerald-300", "Ready".to_owned())
                            } else {
                                ("bg-rose-50 text-rose-700 ring-rose-600/20 dark:bg-rose-950 dark:text-rose-300", check.error.unwrap_or_else(|| "Unavailable".into()))
                            };
                            view! {
                                <tr>
                                    <td class="px-4 py-3 font-medium capitalize">{check.name}</td>
                                    <td class="px-4 py-3 font-mono text-xs">{check.backend}</td>
                                    <td class="px-4 py-3">
                                        <span class=format!("inline-flex rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset {badge}")>{label}</span>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
