//! A repository's secrets on the Settings page: their names and when each was set (never the
//! values), a form to set one (the value goes in, never comes back out) and removal.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::api::{RemoveSecret, SetSecret, list_secrets};
use crate::components::ErrorNotice;

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950";

#[component]
pub fn SecretsForm(repository_id: i64) -> impl IntoView {
    let set = ServerAction::<SetSecret>::new();
    let remove = ServerAction::<RemoveSecret>::new();
    let secrets = Resource::new(
        move || (set.version().get(), remove.version().get()),
        move |_| list_secrets(repository_id),
    );
    let error = move || {
        set.value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| remove.value().get().and_then(Result::err))
    };
    view! {
        <details class="mt-2 text-sm" data-testid="secrets">
            <summary class="cursor-pointer text-xs font-medium text-slate-600 dark:text-slate-400">"Secrets"</summary>
            <p class="mt-2 text-xs text-slate-500 dark:text-slate-400">
                "Steps read them as ${{ secrets.NAME }} in their environment. Values are encrypted, masked in logs, and never shown again."
            </p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let list = secrets.await.unwrap_or_default();
                    view! {
                        <ul class="mt-2 space-y-1" data-testid="secret-list">
                            {list.into_iter().map(|secret| {
                                let name = secret.name.clone();
                                view! {
                                    <li class="flex items-center justify-between gap-3">
                                        <span class="font-mono text-xs">{secret.name.clone()}</span>
                                        <span class="text-xs text-slate-500">{format!("set {}", domain::time::utc(secret.updated_at_ms))}</span>
                                        <button type="button" class="rounded px-2 py-0.5 text-xs text-rose-700 hover:bg-rose-50 dark:text-rose-300 dark:hover:bg-rose-950"
                                            on:click=move |_| { remove.dispatch(RemoveSecret { repository_id, name: name.clone() }); }>
                                            "Remove"
                                        </button>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }
                })}
            </Suspense>
            <ActionForm action=set attr:class="mt-3 grid gap-3 sm:grid-cols-3">
                <input type="hidden" name="input[repository_id]" value=repository_id />
                <label class="block text-xs font-medium">
                    "Name"
                    <input name="input[name]" required placeholder="API_TOKEN" class=INPUT data-testid="secret-name" />
                </label>
                <label class="block text-xs font-medium">
                    "Value"
                    <input name="input[value]" type="password" required autocomplete="off" class=INPUT data-testid="secret-value" />
                </label>
                <div class="flex items-end">
                    <button type="submit" class="rounded-lg bg-indigo-600 px-3 py-1.5 text-xs font-medium text-white hover:bg-indigo-500">"Set secret"</button>
                </div>
                {move || error().map(|error| view! { <div class="sm:col-span-3"><ErrorNotice error /></div> })}
            </ActionForm>
        </details>
    }
}
