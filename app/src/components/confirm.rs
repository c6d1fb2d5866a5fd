//! A button that asks before it acts: a `<details>` holding the question and the action's
//! form, so it works without JavaScript too; it closes once the form is sent.

use leptos::prelude::*;

#[component]
pub fn Confirm(
    label: &'static str,
    #[prop(into)] question: String,
    testid: &'static str,
    children: Children,
) -> impl IntoView {
    let details = NodeRef::<leptos::html::Details>::new();
    // Once the action's form is sent, the question has been answered: close it.
    let answered = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(details) = details.get() {
            let _ = details.remove_attribute("open");
        }
    };
    view! {
        <details class="relative" node_ref=details on:submit=answered>
            <summary class="cursor-pointer list-none rounded-lg border border-slate-300 px-3 py-1.5 text-sm font-medium hover:bg-slate-50 dark:border-slate-700 dark:hover:bg-slate-800" data-testid=testid>{label}</summary>
            <div class="absolute right-0 z-10 mt-2 w-72 rounded-lg border border-slate-200 bg-white p-4 text-sm shadow-lg dark:border-slate-700 dark:bg-slate-900" role="dialog">
                <p class="mb-3">{question}</p>
                {children()}
            </div>
        </details>
    }
}
