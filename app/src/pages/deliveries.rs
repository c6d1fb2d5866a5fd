//! Deliveries: every GitHub webhook Slipway received and what became of it.

use leptos::prelude::*;

use crate::api::get_instance_info;
use crate::components::icons::Icon;
use crate::components::{EmptyState, ErrorNotice, Loading, PageHeader};

#[component]
pub fn DeliveriesPage() -> impl IntoView {
    let info = Resource::new(|| (), |_| get_instance_info());
    view! {
        <PageHeader title="Deliveries" description="Every GitHub webhook delivery, its processing status and errors." />
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
