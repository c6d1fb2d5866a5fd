//! Settings: the repositories Slipway builds (added by clone URL, no GitHub needed), their pull
//! request rules, what is reported about them, their notification subscriptions and secrets, your API tokens, a way to Members and teams (admins), and facts
//! about this instance.

use domain::Repository;
use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::api::{
    AddRepository, RemoveRepository, SetPreviewRules, get_instance_info, list_repositories,
};
use crate::components::{ErrorNotice, Loading, PageHeader};

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm placeholder:text-slate-400 focus:border-indigo-500 focus:outline-none focus:ring-1 focus:ring-indigo-500 dark:border-slate-700 dark:bg-slate-950";
const CARD: &str =
    "rounded-xl border border-slate-200 bg-white p-6 dark:border-slate-800 dark:bg-slate-900";

#[component]
pub fn SettingsPage() -> impl IntoView {
    let add = ServerAction::<AddRepository>::new();
    let remove = ServerAction::<RemoveRepository>::new();
    let rules = ServerAction::<SetPreviewRules>::new();
    let repositories = Resource::new(
        move || {
            (
                add.version().get(),
                remove.version().get(),
                rules.version().get(),
            )
        },
        |_| list_repositories(),
    );
    view! {
        <PageHeader title="Settings" description="Repositories Slipway builds and previews, and this instance's setup." />
        <div class="grid gap-8 lg:grid-cols-5">
            <section class=format!("{CARD} lg:col-span-3")>
                <h2 class="text-base font-semibold">"Repositories"</h2>
                <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
                    "Any git remote works, including a local path; GitHub repositories also arrive through the GitHub App."
                </p>
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        match repositories.await {
                            Ok(list) => view! { <RepositoryList list remove rules /> }.into_any(),
                            Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        }
                    })}
                </Suspense>
                <AddRepositoryForm add />
            </section>
            <div class="space-y-8 lg:col-span-2">
                <MembersLink />
                <section class=CARD>
                    <h2 class="text-base font-semibold">"API tokens"</h2>
                    <super::tokens::ApiTokens />
                </section>
                <section class=CARD>
                    <h2 class="text-base font-semibold">"This instance"</h2>
                    <InstanceFacts />
                </section>
            </div>
        </div>
    }
}

/// Instance admins manage who can sign in and what teams grant on their own page.
#[component]
fn MembersLink() -> impl IntoView {
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let me = crate::components::access::me().await?;
                (me.user.role == domain::identity::InstanceRole::Admin).then(|| view! {
                    <a href="/settings/members" class=format!("{CARD} block hover:border-indigo-300 dark:hover:border-indigo-700") data-testid="members-link">
                        <h2 class="text-base font-semibold">"Members and teams →"</h2>
                        <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">"Who can sign in, their roles, and the repositories teams grant."</p>
                    </a>
                })
            })}
        </Suspense>
    }
}

#[component]
fn RepositoryList(
    list: Vec<Repository>,
    remove: ServerAction<RemoveRepository>,
    rules: ServerAction<SetPreviewRules>,
) -> impl IntoView {
    if list.is_empty() {
        return view! {
            <p class="mt-6 rounded-lg bg-slate-50 px-4 py-6 text-center text-sm text-slate-500 dark:bg-slate-950 dark:text-slate-400" data-testid="no-repositories">
                "No repositories yet. Add one below to start running its pipeline."
            </p>
        }
        .into_any();
    }
    view! {
        <ul class="mt-6 divide-y divide-slate-100 dark:divide-slate-800" data-testid="repository-list">
            {list.into_iter().map(|repository| view! { <RepositoryRow repository remove rules /> }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn RepositoryRow(
    repository: Repository,
    remove: ServerAction<RemoveRepository>,
    rules: ServerAction<SetPreviewRules>,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let id = repository.id.0;
    let current = repository.preview_rules.clone();
    view! {
        <li class="py-3">
        <div class="flex items-center justify-between gap-4">
            <div class="min-w-0">
                <p class="truncate text-sm font-medium">{repository.name.clone()}</p>
                <p class="truncate font-mono text-xs text-slate-500 dark:text-slate-400">
                    {repository.clone_url} " · " {repository.default_branch}
                    {repository.cluster.map(|c| view! { " · cluster " <span data-testid="repository-cluster">{c}</span> })}
                </p>
            </div>
            <Show
                when=move || confirming.get()
                fallback=move || view! {
                    <button type="button" on:click=move |_| confirming.set(true) class="shrink-0 rounded-lg px-3 py-1.5 text-xs font-medium text-slate-600 ring-1 ring-slate-300 hover:bg-slate-50 dark:text-slate-300 dark:ring-slate-700 dark:hover:bg-slate-800">
                        "Remove"
                    </button>
                }
            >
                <span class="flex shrink-0 gap-2">
                    <button type="button" on:click=move |_| { remove.dispatch(RemoveRepository { id }); } class="rounded-lg bg-rose-600 px-3 py-1.5 text-xs font-medium text-white hover:bg-rose-500">
                        "Remove for good"
                    </button>
                    <button type="button" on:click=move |_| confirming.set(false) class="rounded-lg px-3 py-1.5 text-xs font-medium text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800">
                        "Keep"
                    </button>
                </span>
            </Show>
        </div>
        <PreviewRulesForm id current rules />
        <super::reporting::ReportingForm id current=repository.reporting />
        <super::notifications::NotificationsForm repository_id=id />
        <super::secrets::SecretsForm repository_id=id />
        </li>
    }
}

/// A repository's preview rules, as a form that also works without JavaScript.
#[component]
fn PreviewRulesForm(
    id: i64,
    current: domain::repository::PreviewRulesConfig,
    rules: ServerAction<SetPreviewRules>,
) -> impl IntoView {
    let error = move || rules.value().get().and_then(Result::err);
    view! {
        <details class="mt-2 text-sm" data-testid="preview-rules">
            <summary class="cursor-pointer text-xs font-medium text-slate-600 dark:text-slate-400">"Pull request rules"</summary>
            <ActionForm action=rules attr:class="mt-3 grid gap-3 sm:grid-cols-3">
                <input type="hidden" name="input[id]" value=id />
                <label class="block text-xs font-medium">
                    "Target branches"
                    <input name="input[target_branches]" value=current.target_branches.join(", ") placeholder="any; e.g. main, release/*" class=INPUT />
                </label>
                <label class="block text-xs font-medium">
                    "Labels required"
                    <input name="input[labels_required]" value=current.labels_required.join(", ") placeholder="e.g. preview" class=INPUT />
                </label>
                <label class="block text-xs font-medium">
                    "Labels excluded"
                    <input name="input[labels_excluded]" value=current.labels_excluded.join(", ") placeholder="e.g. no-preview" class=INPUT />
                </label>
                <label class="flex items-center gap-2 text-xs font-medium">
                    <input type="checkbox" name="input[ignore_drafts]" checked=current.ignore_drafts />
                    "Ignore draft pull requests"
                </label>
                <label class="flex items-center gap-2 text-xs font-medium" title="A fork's pull request is someone else's code; it runs on your runners only when you trust forks.">
                    <input type="checkbox" name="input[trust_forks]" checked=current.trust_forks data-testid="trust-forks" />
                    "Run pipelines for pull requests from forks"
                </label>
                <div class="flex items-center justify-end">
                    <button type="submit" class="rounded-lg bg-indigo-600 px-3 py-1.5 text-xs font-medium text-white hover:bg-indigo-500">"Save rules"</button>
                </div>
                {move || error().map(|error| view! { <div class="sm:col-span-3"><ErrorNotice error /></div> })}
            </ActionForm>
        </details>
    }
}

#[component]
fn AddRepositoryForm(add: ServerAction<AddRepository>) -> impl IntoView {
    let error = move || add.value().get().and_then(Result::err);
    let form = NodeRef::<leptos::html::Form>::new();
    // Clear the fields once the repository was added; keep them when there is an error to fix.
    Effect::new(move |_| {
        if matches!(add.value().get(), Some(Ok(_)))
            && let Some(form) = form.get()
        {
            form.reset();
        }
    });
    view! {
        <ActionForm action=add node_ref=form attr:class="mt-6 space-y-4 border-t border-slate-100 pt-6 dark:border-slate-800" attr:data-testid="add-repository">
            <div class="grid gap-4 sm:grid-cols-2">
                <label class="block text-sm font-medium">
                    "Name"
                    <input name="input[name]" required placeholder="acme/shop" class=INPUT />
                </label>
                <label class="block text-sm font-medium">
                    "Default branch"
                    <input name="input[default_branch]" placeholder="main" class=INPUT />
                </label>
            </div>
            <label class="block text-sm font-medium">
                "Clone URL"
                <input name="input[clone_url]" required placeholder="https://github.com/acme/shop.git or /srv/git/shop.git" class=INPUT />
            </label>
            <ClusterChoice />
            {move || error().map(|error| view! { <ErrorNotice error /> })}
            <button type="submit" class="inline-flex items-center rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-indigo-500 disabled:opacity-60" disabled=move || add.pending().get()>
                {move || if add.pending().get() { "Adding…" } else { "Add repository" }}
            </button>
        </ActionForm>
    }
}

/// Which cluster a new repository's previews and pipelines run on, when there is a choice.
#[component]
fn ClusterChoice() -> impl IntoView {
    let info = Resource::new(|| (), |_| get_instance_info());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let clusters = info.await.map(|i| i.clusters).unwrap_or_default();
                let default = clusters.first().cloned()?;
                (clusters.len() > 1).then(|| view! {
                    <label class="block text-sm font-medium">
                        "Cluster"
                        <select name="input[cluster]" class=INPUT data-testid="cluster-choice">
                            <option value="">{format!("Default ({default})")}</option>
                            {clusters.into_iter().map(|name| view! { <option value=name.clone()>{name.clone()}</option> }).collect_view()}
                        </select>
                    </label>
                })
            })}
        </Suspense>
    }
}

#[component]
fn InstanceFacts() -> impl IntoView {
    let info = Resource::new(|| (), |_| get_instance_info());
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match info.await {
                    Ok(info) => view! {
                        <dl class="mt-4 space-y-3 text-sm">
                            <Fact label="Version" value=info.version />
                            <Fact label="Public URL" value=info.public_url />
                            {info.readiness.checks.into_iter().map(|c| {
                                let state = if c.ok { "ready" } else { "unavailable" };
                                view! { <Fact label=capitalise(&c.name) value=format!("{} ({state})", c.backend) /> }
                            }).collect_view()}
                        </dl>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Fact(#[prop(into)] label: String, #[prop(into)] value: String) -> impl IntoView {
    view! {
        <div class="flex justify-between gap-4">
            <dt class="text-slate-500 dark:text-slate-400">{label}</dt>
            <dd class="truncate font-mono text-xs">{value}</dd>
        </div>
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
