//! Operator: what every preview uses, and whether Slipway's own dependencies are healthy.

use domain::DependencyCheck;
use leptos::prelude::*;

use crate::api::get_instance_info;
use crate::components::icons::Icon;
use crate::components::{EmptyState, ErrorNotice, Loading, PageHeader};

#[component]
pub fn OperatorPage() -> impl IntoView {
    let info = Resource::new(|| (), |_| get_instance_info());
    view! {
        <PageHeader title="Operator" description="Resource use of every preview environment, and the health of Slipway itself." />
        <section class="mb-10">
            <h2 class="mb-3 text-sm font-semibold uppercase tracking-wide text-slate-500 dark:text-slate-400">"Dependencies"</h2>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match info.await {
                        Ok(info) => view! { <DependencyTable checks=info.readiness.checks /> }.into_any(),
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
        <EmptyState
            icon=Icon::Operator
            title="No environments to measure"
            body="Once previews run on a cluster, this page lists each one with CPU and memory against its limits, quota use, age and warnings past 80%."
        />
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
