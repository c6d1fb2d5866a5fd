//! What Slipway reports about a repository, on the Settings page: check runs (or commit
//! statuses) for pipeline runs, GitHub Deployments for previews, the sticky pull-request
//! comment, and notification deliveries — each a checkbox, saved together.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::api::SetReporting;
use crate::components::ErrorNotice;

#[component]
pub fn ReportingForm(id: i64, current: domain::repository::ReportingConfig) -> impl IntoView {
    let save = ServerAction::<SetReporting>::new();
    let error = move || save.value().get().and_then(Result::err);
    let saved = move || save.value().get().is_some_and(|r| r.is_ok());
    let choices = [
        (
            "checks",
            current.checks,
            "Pipeline results on the commit",
            "A check run per pipeline run (as a GitHub App), or a commit status with a token.",
        ),
        (
            "deployments",
            current.deployments,
            "Previews as GitHub Deployments",
            "The pull request shows “View deployment” and the environment's history.",
        ),
        (
            "comment",
            current.comment,
            "Sticky pull-request comment",
            "The preview's status, URL and failure excerpt in one comment, and its commit status.",
        ),
        (
            "notifications",
            current.notifications,
            "Notification deliveries",
            "Signed webhooks to this repository's notification subscriptions.",
        ),
    ];
    view! {
        <details class="mt-2 text-sm" data-testid="reporting">
            <summary class="cursor-pointer text-xs font-medium text-slate-600 dark:text-slate-400">"Reporting"</summary>
            <ActionForm action=save attr:class="mt-3 grid gap-2 sm:grid-cols-2">
                <input type="hidden" name="input[id]" value=id />
                {choices.into_iter().map(|(name, on, label, help)| view! {
                    <label class="flex items-start gap-2 text-xs" title=help>
                        <input type="checkbox" name=format!("input[{name}]") checked=on data-testid=format!("reporting-{name}") class="mt-0.5" />
                        <span><span class="font-medium">{label}</span><br /><span class="text-slate-500 dark:text-slate-400">{help}</span></span>
                    </label>
                }).collect_view()}
                <div class="flex items-center justify-end gap-3 sm:col-span-2">
                    {move || saved().then(|| view! { <span class="text-xs text-emerald-600" data-testid="reporting-saved">"Saved"</span> })}
                    <button type="submit" class="rounded-lg bg-indigo-600 px-3 py-1.5 text-xs font-medium text-white hover:bg-indigo-500">"Save reporting"</button>
                </div>
                {move || error().map(|error| view! { <div class="sm:col-span-2"><ErrorNotice error /></div> })}
            </ActionForm>
        </details>
    }
}
