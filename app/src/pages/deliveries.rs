//! Deliveries: every GitHub webhook Slipway received and what became of it, newest first and
//! filterable (the filters live in the URL, so a filtered view can be shared and works without
//! JavaScript), and one delivery's detail with its payload and "process again".

use domain::{Delivery, DeliveryStatus};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{
    DELIVERY_PAGE, DeliveryQuery, RedeliverDelivery, get_delivery, get_instance_info,
    list_deliveries,
};
use crate::components::icons::Icon;
use crate::components::{EmptyState, ErrorNotice, Loading, PageHeader};

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950";
const CARD: &str =
    "rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900";

fn badge(status: DeliveryStatus) -> impl IntoView {
    let tone = match status {
        DeliveryStatus::Processed => {
            "bg-emerald-50 text-emerald-700 ring-emerald-600/20 dark:bg-emerald-950 dark:text-emerald-300"
        }
        DeliveryStatus::Failed => {
            "bg-rose-50 text-rose-700 ring-rose-600/20 dark:bg-rose-950 dark:text-rose-300"
        }
        DeliveryStatus::Queued | DeliveryStatus::Processing => {
            "bg-amber-50 text-amber-700 ring-amber-600/20 dark:bg-amber-950 dark:text-amber-300"
        }
        DeliveryStatus::Ignored => {
            "bg-slate-100 text-slate-600 ring-slate-500/20 dark:bg-slate-800 dark:text-slate-300"
        }
    };
    view! {
        <span class=format!("inline-flex rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset {tone}") data-testid="delivery-status">
            {status.as_str()}
        </span>
    }
}

fn event_label(delivery: &Delivery) -> String {
    match &delivery.action {
        Some(action) => format!("{}.{action}", delivery.event),
        None => delivery.event.clone(),
    }
}

#[component]
pub fn DeliveriesPage() -> impl IntoView {
    let query = use_query_map();
    let filters = move || {
        let q = query.get();
        DeliveryQuery {
            event: q.get("event").unwrap_or_default(),
            status: q.get("status").unwrap_or_default(),
            repository: q.get("repository").unwrap_or_default(),
            before: q.get("before").and_then(|b| b.parse().ok()),
        }
    };
    // New deliveries and status changes appear without a reload.
    let changes = crate::live::changes_of("delivery");
    let deliveries = Resource::new(
        move || (filters(), changes.get()),
        |(query, _)| list_deliveries(query),
    );
    view! {
        <PageHeader title="Deliveries" description="Every GitHub webhook delivery, its processing status and errors." />
        <GitHubBudget />
        <Filters current=filters() />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let filtered = filters() != DeliveryQuery::default();
                match deliveries.await {
                    Ok(list) if list.is_empty() && !filtered => view! { <NothingYet /> }.into_any(),
                    Ok(list) => view! { <DeliveryTable list current=filters() /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// GitHub's API budget as Slipway last saw it, when it talks to GitHub.
#[component]
fn GitHubBudget() -> impl IntoView {
    let info = Resource::new(|| (), |_| get_instance_info());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let budget = info.await.ok()?.github_budget?;
                Some(view! {
                    <p class="mb-4 text-sm text-slate-600 dark:text-slate-400" data-testid="github-budget">
                        {format!(
                            "GitHub API: {} of {} requests left until {}.",
                            budget.remaining,
                            budget.limit,
                            domain::time::utc(budget.reset_at.saturating_mul(1_000))
                        )}
                    </p>
                })
            })}
        </Suspense>
    }
}

/// A plain GET form: the filters become the URL's query.
#[component]
fn Filters(current: DeliveryQuery) -> impl IntoView {
    let selected = current.status.clone();
    view! {
        <form method="get" action="/deliveries" class=format!("{CARD} mb-6 grid gap-4 p-4 sm:grid-cols-4") data-testid="delivery-filters">
            <label class="block text-xs font-medium text-slate-600 dark:text-slate-400">
                "Event"
                <input name="event" value=current.event placeholder="pull_request" class=INPUT />
            </label>
            <label class="block text-xs font-medium text-slate-600 dark:text-slate-400">
                "Status"
                <select name="status" class=INPUT>
                    <option value="" selected=selected.is_empty()>"Any"</option>
                    {DeliveryStatus::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=selected == s.as_str()>{s.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label class="block text-xs font-medium text-slate-600 dark:text-slate-400">
                "Repository"
                <input name="repository" value=current.repository placeholder="owner/name" class=INPUT />
            </label>
            <div class="flex items-end gap-2">
                <button type="submit" class="rounded-lg bg-indigo-600 px-4 py-1.5 text-sm font-medium text-white hover:bg-indigo-500">"Filter"</button>
                <a href="/deliveries" class="rounded-lg px-3 py-1.5 text-sm text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800">"Clear"</a>
            </div>
        </form>
    }
}

#[component]
fn DeliveryTable(list: Vec<Delivery>, current: DeliveryQuery) -> impl IntoView {
    if list.is_empty() {
        return view! {
            <p class="rounded-lg bg-slate-50 px-4 py-6 text-center text-sm text-slate-500 dark:bg-slate-900 dark:text-slate-400" data-testid="no-matching-deliveries">
                "No delivery matches these filters."
            </p>
        }
        .into_any();
    }
    let next = (list.len() >= DELIVERY_PAGE as usize)
        .then(|| list.last().map(|d| d.seq))
        .flatten()
        .map(|before| {
            let encode = super::query_value;
            format!(
                "/deliveries?event={}&status={}&repository={}&before={before}",
                encode(&current.event),
                encode(&current.status),
                encode(&current.repository)
            )
        });
    view! {
        <div class=format!("{CARD} overflow-x-auto")>
            <table class="min-w-full divide-y divide-slate-200 text-sm dark:divide-slate-800" data-testid="delivery-list">
                <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                    <tr>
                        <th class="px-4 py-2">"Received"</th>
                        <th class="px-4 py-2">"Event"</th>
                        <th class="px-4 py-2">"Repository"</th>
                        <th class="px-4 py-2">"PR"</th>
                        <th class="px-4 py-2">"Status"</th>
                        <th class="px-4 py-2">"Delivery"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {list.into_iter().map(|d| view! { <DeliveryRow delivery=d /> }).collect_view()}
                </tbody>
            </table>
        </div>
        {next.map(|href| view! {
            <a href=href class="mt-4 inline-block text-sm font-medium text-indigo-600 hover:underline dark:text-indigo-400">"Older deliveries →"</a>
        })}
    }
    .into_any()
}

#[component]
fn DeliveryRow(delivery: Delivery) -> impl IntoView {
    let href = format!("/deliveries/{}", delivery.delivery_id);
    view! {
        <tr class="align-top">
            <td class="whitespace-nowrap px-4 py-2 text-slate-500">{domain::time::utc(delivery.received_at_ms)}</td>
            <td class="px-4 py-2 font-medium">{event_label(&delivery)}</td>
            <td class="px-4 py-2">{delivery.repository.clone().unwrap_or_else(|| "—".into())}</td>
            <td class="px-4 py-2">{delivery.pull_request.map_or_else(|| "—".into(), |n| format!("#{n}"))}</td>
            <td class="px-4 py-2">
                {badge(delivery.status)}
                {delivery.error.clone().map(|e| view! { <p class="mt-1 max-w-xs text-xs text-slate-500 dark:text-slate-400">{e}</p> })}
            </td>
            <td class="px-4 py-2 font-mono text-xs"><a href=href class="text-indigo-600 hover:underline dark:text-indigo-400">{delivery.delivery_id.clone()}</a></td>
        </tr>
    }
}

/// Nothing received yet: where to point GitHub.
#[component]
fn NothingYet() -> impl IntoView {
    let info = Resource::new(|| (), |_| get_instance_info());
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match info.await {
                    Ok(info) => {
                        let webhook = format!("{}/webhooks/github", info.public_url.trim_end_matches('/'));
                        view! {
                            <EmptyState
                                icon=Icon::Deliveries
                                title="No deliveries received"
                                body="Point your GitHub App's webhook at the address below, with the secret from SLIPWAY_GITHUB_WEBHOOK_SECRET. Each delivery then appears here, newest first."
                            >
                                <code class="block rounded-lg bg-slate-100 px-3 py-2 font-mono text-xs dark:bg-slate-800">{webhook}</code>
                            </EmptyState>
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// One delivery: its facts, its payload (secrets masked) and "process again".
#[component]
pub fn DeliveryPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.get().get("id").unwrap_or_default();
    let again = ServerAction::<RedeliverDelivery>::new();
    let detail = Resource::new(
        move || (id(), again.version().get()),
        |(id, _)| get_delivery(id),
    );
    view! {
        <PageHeader title="Delivery" description="What GitHub sent, and what Slipway made of it." />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => {
                        let d = detail.delivery;
                        let id = d.delivery_id.clone();
                        view! {
                            <section class=format!("{CARD} p-6") data-testid="delivery-detail">
                                <div class="flex flex-wrap items-center justify-between gap-4">
                                    <div>
                                        <p class="font-mono text-sm">{d.delivery_id.clone()}</p>
                                        <p class="mt-1 text-lg font-semibold">{event_label(&d)}</p>
                                    </div>
                                    <ActionForm action=again>
                                        <input type="hidden" name="id" value=id />
                                        <button type="submit" class="rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white hover:bg-indigo-500">"Process again"</button>
                                    </ActionForm>
                                </div>
                                <dl class="mt-4 grid gap-x-6 gap-y-2 text-sm sm:grid-cols-2">
                                    <div><dt class="text-slate-500">"Status"</dt><dd>{badge(d.status)}</dd></div>
                                    <div><dt class="text-slate-500">"Received"</dt><dd>{domain::time::utc(d.received_at_ms)}</dd></div>
                                    <div><dt class="text-slate-500">"Repository"</dt><dd>{d.repository.clone().unwrap_or_else(|| "—".into())}</dd></div>
                                    <div><dt class="text-slate-500">"Attempts"</dt><dd>{d.attempts}</dd></div>
                                </dl>
                                {d.error.map(|e| view! { <p class="mt-4 rounded-lg bg-slate-50 px-3 py-2 text-sm dark:bg-slate-950" data-testid="delivery-error">{e}</p> })}
                                <h2 class="mt-6 text-sm font-semibold">"Payload"</h2>
                                <pre class="mt-2 max-h-[32rem] overflow-auto rounded-lg bg-slate-900 p-4 font-mono text-xs text-slate-100">{detail.payload}</pre>
                            </section>
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorNotice error /> <a href="/deliveries" class="mt-4 inline-block text-sm text-indigo-600">"All deliveries"</a> }.into_any(),
                }
            })}
        </Suspense>
    }
}
