//! Transform runs: every run newest first with its progress (how many repositories succeeded,
//! changed nothing, failed or still run), updating live, and a form to start one by pasting a
//! spec — the validator's messages shown inline, each with its line and column.

use domain::transform::TransformRun;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{
    SetTransformQueue, StartTransform, TRANSFORM_PAGE, get_transform_queue, list_transform_runs,
};
use crate::components::icons::Icon;
use crate::components::{EmptyState, ErrorNotice, Loading, PageHeader, StatusBadge};

pub(super) const SAMPLE: &str = "name: bump-serde\nrepositories: [\"acme/*\"]\nsteps:\n  - name: bump\n    image: rust:1.95-slim\n    commands:\n      - cargo update -p serde\n  - name: test\n    image: rust:1.95-slim\n    commands:\n      - cargo test\n";
pub(super) const CARD: &str =
    "rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900";
const BUTTON: &str =
    "rounded-lg bg-indigo-600 px-4 py-1.5 text-sm font-medium text-white hover:bg-indigo-500";

#[component]
pub fn TransformsPage() -> impl IntoView {
    let query = use_query_map();
    let before = move || {
        query
            .get()
            .get("before")
            .and_then(|b| b.parse::<i64>().ok())
    };
    let changes = crate::live::changes_of("transform_run");
    let start = ServerAction::<StartTransform>::new();
    let runs = Resource::new(
        move || (before(), changes.get(), start.version().get()),
        |(before, _, _)| list_transform_runs(before),
    );
    view! {
        <PageHeader title="Transforms" description="One change tried across many repositories: each patch, log and summary kept, nothing written to GitHub." />
        <QueueSwitch />
        <StartForm action=start />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match runs.await {
                    Ok(list) if list.is_empty() && before().is_none() => view! {
                        <EmptyState icon=Icon::Transforms title="No transform run yet".to_owned()
                            body="Paste a spec above: the repositories it names (or matches) each get their own execution, and you see per repository whether the change applies, what the steps printed and the exact diff."
                            action=None>
                            <pre class="overflow-x-auto rounded-lg bg-slate-900 p-4 font-mono text-xs text-slate-100">{SAMPLE}</pre>
                        </EmptyState>
                    }.into_any(),
                    Ok(list) => view! { <RunList list /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
    .into_any()
}

/// The queue's state, and (for instance admins) Pause or Resume: while paused, no new
/// execution starts on any replica; running ones go on.
#[component]
fn QueueSwitch() -> impl IntoView {
    let switch = ServerAction::<SetTransformQueue>::new();
    let state = Resource::new(move || switch.version().get(), |_| get_transform_queue());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                // Taken before the first await: when it resumes, the page may be gone, and a
                // resource or signal read then would panic.
                let state = state.into_future();
                let me = crate::components::access::me().await;
                let admin = me.is_some_and(|me| me.user.role == domain::identity::InstanceRole::Admin);
                let state = state.await.ok()?;
                let (text, next, label) = if state.paused {
                    (format!("The queue is paused{}: new executions wait; running ones go on.", state.changed_by.map(|by| format!(" by {by}")).unwrap_or_default()), "false", "Resume")
                } else {
                    ("The queue is taking executions.".to_owned(), "true", "Pause")
                };
                let tone = if state.paused { "bg-amber-50 text-amber-800 dark:bg-amber-950 dark:text-amber-200" } else { "text-slate-500" };
                let stream = state.tasks.map(|tasks| {
                    let text = format!(
                        "Redis stream {}: {} task(s) waiting or running, {} read by a worker, {} dead letter(s) in {}.dlq.",
                        tasks.stream, tasks.depth, tasks.pending, tasks.dead_letters, tasks.stream
                    );
                    view! { <span class="text-xs" data-testid="transform-task-stream">{text}</span> }
                });
                Some(view! {
                    <div class=format!("mb-4 flex flex-wrap items-center gap-4 rounded-lg px-4 py-2 text-sm {tone}") data-testid="transform-queue" data-paused=state.paused.to_string()>
                        <span>{text}</span>
                        {stream}
                        {admin.then(|| view! {
                            <ActionForm action=switch>
                                <input type="hidden" name="paused" value=next />
                                <button type="submit" class="rounded-lg border border-slate-300 px-3 py-1 text-xs font-medium hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800" data-testid="transform-queue-switch">{label}</button>
                            </ActionForm>
                        })}
                    </div>
                })
            })}
        </Suspense>
    }
    .into_any()
}

/// "Start a run": the spec, pasted or read from a file; the validator's answer under it.
#[component]
fn StartForm(action: ServerAction<StartTransform>) -> impl IntoView {
    let spec = NodeRef::<leptos::html::Textarea>::new();
    // The chosen file's text goes into the spec, to be read (and edited) before it starts.
    #[cfg(feature = "hydrate")]
    let read_file = move |event: leptos::ev::Event| {
        use wasm_bindgen::JsCast;
        use wasm_bindgen::closure::Closure;
        let Some(input) = event
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(file) = input.files().and_then(|files| files.get(0)) else {
            return;
        };
        let Ok(reader) = web_sys::FileReader::new() else {
            return;
        };
        let done = reader.clone();
        let loaded = Closure::once_into_js(move || {
            if let (Some(text), Some(area)) = (
                done.result().ok().and_then(|r| r.as_string()),
                spec.get_untracked(),
            ) {
                area.set_value(&text);
            }
        });
        reader.set_onload(Some(loaded.unchecked_ref()));
        let _ = reader.read_as_text(&file);
    };
    #[cfg(not(feature = "hydrate"))]
    let read_file = |_: leptos::ev::Event| {};
    let answer = move || {
        action.value().get().map(|result| match result {
            Ok(run) => view! {
                <p class="text-sm text-emerald-700 dark:text-emerald-300" data-testid="transform-started">
                    "Run "<a class="font-medium underline" href=format!("/transforms/{}", run.id)>{format!("#{} {}", run.id, run.name)}</a>
                    {format!(" started on {} repositories.", run.totals.total)}
                </p>
            }.into_any(),
            Err(error) => view! {
                <pre class="whitespace-pre-wrap rounded-lg bg-rose-50 p-3 font-mono text-xs text-rose-800 dark:bg-rose-950 dark:text-rose-200" data-testid="transform-problems">{error.message}</pre>
            }.into_any(),
        })
    };
    view! {
        <ActionForm action attr:class=format!("{CARD} mb-6 grid gap-3 p-4") attr:data-testid="start-transform">
            <label class="block text-xs font-medium text-slate-600 dark:text-slate-400">
                "Spec (YAML: name, repositories, steps — `slipway schema transform` has the rest)"
                <textarea node_ref=spec name="spec" rows="10" required spellcheck="false" placeholder=SAMPLE
                    class="mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 font-mono text-xs dark:border-slate-700 dark:bg-slate-950"></textarea>
            </label>
            <label class="block text-xs text-slate-600 dark:text-slate-400">
                "…or read it from a file "
                <input type="file" accept=".yaml,.yml,application/yaml,text/yaml" on:change=read_file data-testid="spec-file"
                    class="text-xs file:mr-2 file:rounded-md file:border-0 file:bg-slate-100 file:px-2 file:py-1 dark:file:bg-slate-800" />
            </label>
            <div class="flex items-center gap-4">
                <button type="submit" class=BUTTON>"Start run"</button>
                {answer}
            </div>
        </ActionForm>
    }
    .into_any()
}

#[component]
fn RunList(list: Vec<TransformRun>) -> impl IntoView {
    let next = (list.len() >= TRANSFORM_PAGE as usize)
        .then(|| {
            list.last()
                .map(|run| format!("/transforms?before={}", run.id))
        })
        .flatten();
    view! {
        <div class=format!("{CARD} overflow-x-auto")>
            <table class="min-w-full divide-y divide-slate-200 text-sm dark:divide-slate-800" data-testid="transform-list">
                <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                    <tr>
                        <th class="px-4 py-2">"Run"</th>
                        <th class="px-4 py-2">"Status"</th>
                        <th class="px-4 py-2">"Progress"</th>
                        <th class="px-4 py-2">"Started by"</th>
                        <th class="px-4 py-2">"Created"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {list.into_iter().map(|run| view! { <RunRow run /> }).collect_view()}
                </tbody>
            </table>
        </div>
        {next.map(|href| view! {
            <a href=href class="mt-4 inline-block text-sm font-medium text-indigo-600 hover:underline dark:text-indigo-400">"Older runs →"</a>
        })}
    }
    .into_any()
}

#[component]
fn RunRow(run: TransformRun) -> impl IntoView {
    let t = run.totals;
    let done = t.succeeded + t.no_changes + t.failed + t.cancelled + t.recorded;
    view! {
        <tr class="align-top" data-testid="transform-row">
            <td class="px-4 py-2 font-medium">
                <a href=format!("/transforms/{}", run.id) class="text-indigo-600 hover:underline dark:text-indigo-400">{format!("#{} {}", run.id, run.name)}</a>
                {run.spec.dry_run.then(|| view! { <span class="ml-2 text-xs text-slate-500">"dry run"</span> })}
            </td>
            <td class="px-4 py-2"><StatusBadge status=run.status.as_str() /></td>
            <td class="px-4 py-2">
                <Progress totals=t />
                <p class="mt-1 text-xs text-slate-500">{format!("{done} of {} done · {} with changes · {} no changes · {} failed", t.total, t.succeeded, t.no_changes, t.failed)}</p>
            </td>
            <td class="px-4 py-2">{run.started_by.clone().unwrap_or_else(|| "—".to_owned())}</td>
            <td class="whitespace-nowrap px-4 py-2 text-slate-500">{domain::time::utc(run.created_at_ms)}</td>
        </tr>
    }
    .into_any()
}

/// A bar split by outcome: green with changes, grey unchanged, red failed, blue running.
#[component]
pub(super) fn Progress(totals: domain::transform::ExecutionTotals) -> impl IntoView {
    let total = totals.total.max(1) as f64;
    let part = |count: u32, colour: &'static str| {
        let width = f64::from(count) * 100.0 / total;
        (count > 0)
            .then(|| view! { <span class=colour style=format!("width: {width:.1}%")></span> })
    };
    view! {
        <div class="flex h-2 w-48 overflow-hidden rounded-full bg-slate-100 dark:bg-slate-800" data-testid="transform-progress">
            {part(totals.succeeded, "bg-emerald-500")}
            {part(totals.no_changes + totals.recorded, "bg-slate-400")}
            {part(totals.failed, "bg-rose-500")}
            {part(totals.cancelled, "bg-amber-400")}
            {part(totals.running, "bg-sky-500 animate-pulse")}
        </div>
    }
    .into_any()
}
