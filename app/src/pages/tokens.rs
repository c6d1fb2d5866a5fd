//! Your API tokens on the Settings page: make one (name, scope, repositories, expiry; its
//! secret is shown once, with a copy button), see each with its last use, revoke one.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::api::{CreateMyToken, RevokeMyToken, list_my_tokens};
use crate::components::ErrorNotice;

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950";

/// How to connect an MCP client with a token just made: the URL and a configuration snippet.
#[component]
fn McpHint(secret: String) -> impl IntoView {
    let info = Resource::new(|| (), |_| crate::api::get_instance_info());
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let secret = secret.clone();
                Suspend::new(async move {
                    let base = info.await.ok()?.public_url;
                    let url = format!("{}/mcp", base.trim_end_matches('/'));
                    let snippet = format!(
                        "{{\n  \"mcpServers\": {{\n    \"slipway\": {{\n      \"type\": \"http\",\n      \"url\": \"{url}\",\n      \"headers\": {{ \"Authorization\": \"Bearer {secret}\" }}\n    }}\n  }}\n}}"
                    );
                    Some(view! {
                        <p class="mt-3 text-xs">"For AI agents (MCP): " <code data-testid="mcp-url">{url}</code></p>
                        <pre class="mt-1 overflow-x-auto rounded bg-white p-2 text-xs dark:bg-slate-950" data-testid="mcp-snippet">{snippet}</pre>
                    })
                })
            }}
        </Suspense>
    }
}

#[component]
pub fn ApiTokens() -> impl IntoView {
    let create = ServerAction::<CreateMyToken>::new();
    let revoke = ServerAction::<RevokeMyToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_my_tokens(),
    );
    let error = move || {
        create
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| revoke.value().get().and_then(Result::err))
    };
    view! {
        <div data-testid="api-tokens">
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
                "For scripts and agents: send one as Authorization: Bearer. A token never does more than you can."
            </p>
            {move || create.value().get().and_then(Result::ok).map(|made| view! {
                <div class="mt-3 rounded-lg border border-emerald-200 bg-emerald-50 p-3 text-sm dark:border-emerald-900 dark:bg-emerald-950/50" data-testid="new-token">
                    <p class="font-medium">"Copy it now: it is not shown again."</p>
                    <div class="mt-2 flex gap-2">
                        <input readonly class=INPUT value=made.secret.clone() data-testid="new-token-secret" />
                        <button type="button" class="rounded-lg border border-slate-300 px-3 text-xs dark:border-slate-700"
                            data-secret=made.secret.clone()
                            onclick="navigator.clipboard && navigator.clipboard.writeText(this.dataset.secret)">
                            "Copy"
                        </button>
                    </div>
                    <McpHint secret=made.secret.clone() />
                </div>
            })}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let list = tokens.await.unwrap_or_default();
                    view! {
                        <ul class="mt-3 space-y-1 text-sm" data-testid="token-list">
                            {list.into_iter().map(|token| {
                                let id = token.id;
                                let live = token.revoked_at_ms.is_none();
                                let used = token.last_used_at_ms.map_or_else(|| "never used".to_owned(), |at| format!("used {}", domain::time::utc(at)));
                                view! {
                                    <li class="flex flex-wrap items-center justify-between gap-2">
                                        <span class="font-medium">{token.name.clone()}</span>
                                        <span class="text-xs text-slate-500">{format!(
                                            "{} · {used} · {}",
                                            token.scope.as_str(),
                                            if live { format!("expires {}", domain::time::utc(token.expires_at_ms)) } else { "revoked".to_owned() }
                                        )}</span>
                                        {live.then(|| view! {
                                            <button type="button" class="rounded px-2 py-0.5 text-xs text-rose-700 hover:bg-rose-50 dark:text-rose-300 dark:hover:bg-rose-950"
                                                on:click=move |_| { revoke.dispatch(RevokeMyToken { id }); }>
                                                "Revoke"
                                            </button>
                                        })}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }
                })}
            </Suspense>
            <ActionForm action=create attr:class="mt-3 grid gap-3 sm:grid-cols-2">
                <label class="block text-xs font-medium">"Name"
                    <input name="input[name]" required placeholder="my agent" class=INPUT data-testid="token-name" />
                </label>
                <label class="block text-xs font-medium">"Scope"
                    <select name="input[scope]" class=INPUT>
                        <option value="read" selected>"read"</option>
                        <option value="write">"write"</option>
                        <option value="admin">"admin"</option>
                    </select>
                </label>
                <label class="block text-xs font-medium">"Repositories (blank: all you can reach)"
                    <input name="input[repositories]" placeholder="acme/shop, acme/api" class=INPUT />
                </label>
                <label class="block text-xs font-medium">"Expires in (days)"
                    <input name="input[expires_in_days]" type="number" min="1" max="366" value="90" class=INPUT />
                </label>
                <div class="sm:col-span-2">
                    <button type="submit" class="rounded-lg bg-indigo-600 px-3 py-1.5 text-xs font-medium text-white hover:bg-indigo-500" data-testid="token-create">"Create token"</button>
                </div>
                {move || error().map(|error| view! { <div class="sm:col-span-2"><ErrorNotice error /></div> })}
            </ActionForm>
        </div>
    }
    // Its own type, so the Settings page's view type stays within the compiler's limits.
    .into_any()
}
