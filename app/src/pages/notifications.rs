//! A repository's notifications on the Settings page, as GitHub's webhook settings show them:
//! its subscriptions (URL and events; the secret goes in and never comes back out), a form to
//! add one, and for each its latest deliveries — event, outcome, the receiver's last answer,
//! attempts — with Redeliver.

use domain::notification::{NotificationDelivery, NotificationStatus, Subscription};
use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::api::{
    RedeliverNotification, Subscribe, Unsubscribe, list_notification_deliveries, list_subscriptions,
};
use crate::components::ErrorNotice;

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950";
const EVENTS: [(&str, &str); 7] = [
    ("pipeline_started", "pipeline.started"),
    ("pipeline_succeeded", "pipeline.succeeded"),
    ("pipeline_failed", "pipeline.failed"),
    ("pipeline_cancelled", "pipeline.cancelled"),
    ("preview_running", "preview.running"),
    ("preview_failed", "preview.failed"),
    ("preview_removed", "preview.removed"),
];

#[component]
pub fn NotificationsForm(repository_id: i64) -> impl IntoView {
    let add = ServerAction::<Subscribe>::new();
    let remove = ServerAction::<Unsubscribe>::new();
    let subscriptions = Resource::new(
        move || (add.version().get(), remove.version().get()),
        move |_| list_subscriptions(repository_id),
    );
    let error = move || {
        add.value()
            .get()
            .and_then(Result::err)
            .or_else(|| remove.value().get().and_then(Result::err))
    };
    view! {
        <details class="mt-2 text-sm" data-testid="notifications">
            <summary class="cursor-pointer text-xs font-medium text-slate-600 dark:text-slate-400">"Notifications"</summary>
            <p class="mt-2 text-xs text-slate-500 dark:text-slate-400">
                "Slipway POSTs each chosen event as JSON, signed with the secret in X-Slipway-Signature-256 (HMAC-SHA256, as GitHub signs its webhooks), and tries again for a day when the receiver does not answer 2xx."
            </p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let list = subscriptions.await.unwrap_or_default();
                    view! {
                        <ul class="mt-2 space-y-2" data-testid="subscription-list">
                            {list.into_iter().map(|subscription| view! { <SubscriptionRow repository_id subscription remove /> }).collect_view()}
                        </ul>
                    }
                })}
            </Suspense>
            <ActionForm action=add attr:class="mt-3 grid gap-3 sm:grid-cols-2">
                <input type="hidden" name="input[repository_id]" value=repository_id />
                <label class="block text-xs font-medium">
                    "Receiver URL"
                    <input name="input[url]" type="url" required placeholder="https://hooks.example.com/slipway" class=INPUT data-testid="subscription-url" />
                </label>
                <label class="block text-xs font-medium">
                    "Secret"
                    <input name="input[secret]" type="password" required minlength="16" autocomplete="off" placeholder="at least 16 characters" class=INPUT data-testid="subscription-secret" />
                </label>
                <fieldset class="sm:col-span-2">
                    <legend class="text-xs font-medium">"Events"</legend>
                    <div class="mt-1 flex flex-wrap gap-x-4 gap-y-1">
                        {EVENTS.into_iter().map(|(field, name)| view! {
                            <label class="flex items-center gap-1 font-mono text-xs">
                                <input type="checkbox" name=format!("input[{field}]") data-testid=format!("event-{name}") />
                                {name}
                            </label>
                        }).collect_view()}
                    </div>
                </fieldset>
                <div class="flex items-end justify-end sm:col-span-2">
                    <button type="submit" class="rounded-lg bg-indigo-600 px-3 py-1.5 text-xs font-medium text-white hover:bg-indigo-500">"Add subscription"</button>
                </div>
                {move || error().map(|error| view! { <div class="sm:col-span-2"><ErrorNotice error /></div> })}
            </ActionForm>
        </details>
    }
}

#[component]
fn SubscriptionRow(
    repository_id: i64,
    subscription: Subscription,
    remove: ServerAction<Unsubscribe>,
) -> impl IntoView {
    let subscription_id = subscription.id;
    let events = subscription
        .events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <li class="rounded-lg border border-slate-200 p-2 dark:border-slate-800" data-testid="subscription">
            <div class="flex items-center justify-between gap-3">
                <div class="min-w-0">
                    <p class="truncate font-mono text-xs">{subscription.url.clone()}</p>
                    <p class="text-xs text-slate-500 dark:text-slate-400">{events}</p>
                </div>
                <button type="button" class="shrink-0 rounded px-2 py-0.5 text-xs text-rose-700 hover:bg-rose-50 dark:text-rose-300 dark:hover:bg-rose-950"
                    on:click=move |_| { remove.dispatch(Unsubscribe { repository_id, subscription_id }); }>
                    "Remove"
                </button>
            </div>
            <RecentDeliveries repository_id subscription_id />
        </li>
    }
}

/// A subscription's latest deliveries, read when opened (in the browser, so the page's first
/// render has no nested list to hydrate).
#[component]
fn RecentDeliveries(repository_id: i64, subscription_id: i64) -> impl IntoView {
    let opened = RwSignal::new(false);
    view! {
        <details class="mt-1" data-testid="recent-deliveries">
            <summary class="cursor-pointer text-xs text-slate-600 dark:text-slate-400" on:click=move |_| opened.update(|open| *open = !*open)>"Recent deliveries"</summary>
            {move || opened.get().then(|| view! { <DeliveryList repository_id subscription_id /> })}
        </details>
    }
}

#[component]
fn DeliveryList(repository_id: i64, subscription_id: i64) -> impl IntoView {
    let redeliver = ServerAction::<RedeliverNotification>::new();
    let deliveries = LocalResource::new(move || {
        redeliver.version().get();
        list_notification_deliveries(repository_id, subscription_id)
    });
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match deliveries.await {
                    Ok(list) if list.is_empty() => view! {
                        <p class="mt-1 text-xs text-slate-500">"None yet."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <table class="mt-1 w-full text-left text-xs">
                            <thead class="text-slate-500"><tr><th>"Event"</th><th>"Outcome"</th><th>"Attempts"</th><th>"When"</th><th></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|delivery| view! { <DeliveryRow repository_id delivery redeliver /> }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn DeliveryRow(
    repository_id: i64,
    delivery: NotificationDelivery,
    redeliver: ServerAction<RedeliverNotification>,
) -> impl IntoView {
    let outcome = match (delivery.status, delivery.last_status_code) {
        (NotificationStatus::Delivered, Some(code)) => format!("✅ delivered ({code})"),
        (NotificationStatus::Delivered, None) => "✅ delivered".to_owned(),
        (NotificationStatus::Pending, _) if delivery.attempts == 0 => "⏳ sending".to_owned(),
        (NotificationStatus::Pending, _) => format!(
            "🔁 retrying: {}",
            delivery.last_error.clone().unwrap_or_default()
        ),
        (NotificationStatus::Failed, _) => format!(
            "❌ gave up: {}",
            delivery.last_error.clone().unwrap_or_default()
        ),
    };
    let delivery_id = delivery.id.clone();
    view! {
        <tr class="border-t border-slate-100 dark:border-slate-800" data-testid="notification-delivery">
            <td class="py-1 font-mono">{delivery.event.as_str()}</td>
            <td class="py-1" data-testid="notification-outcome">{outcome}</td>
            <td class="py-1">{delivery.attempts}</td>
            <td class="py-1 text-slate-500">{domain::time::utc(delivery.created_at_ms)}</td>
            <td class="py-1 text-right">
                <button type="button" class="rounded px-2 py-0.5 text-indigo-700 hover:bg-indigo-50 dark:text-indigo-300 dark:hover:bg-indigo-950"
                    on:click=move |_| { redeliver.dispatch(RedeliverNotification { repository_id, delivery_id: delivery_id.clone() }); }>
                    "Redeliver"
                </button>
            </td>
        </tr>
    }
}
