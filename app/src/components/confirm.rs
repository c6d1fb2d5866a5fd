//! A button that asks before it acts: a `<details>` holding the question and the action's
//! form, so it works without JavaScript too.

use leptos::prelude::*;

#[component]
pub fn Confirm(
    label: &'static str,
    #[prop(into)] question: String,
    testid: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <details class="relative">
            <summary class="cursor-pointer list-none rounded-lg border border-slate-300 px-3 py-1.5 text-sm font-medium hover:bg-slate-50 dark:border-slate-700 dark:hover:bg-slate-800" data-testid=testid>{label}</summary>
            <div class="absolute right-0 z-10 mt-2 w-72 rounded-lg border border-slate-200 bg-white p-4 text-sm shadow-lg dark:border-slate-700 dark:bg-slate-900" role="dialog">
                <p class="mb-3">{question}</p>
                {children()}
            </div>
        </details>
    }
}
