//! The panel a page shows when it has nothing to list yet: what will appear, and how to get there.

use leptos::prelude::*;

use super::icons::{Icon, IconSvg};

#[component]
pub fn EmptyState(
    icon: Icon,
    #[prop(into)] title: String,
    #[prop(into)] body: String,
    /// Optional call to action: `(label, href)`.
    #[prop(optional_no_strip)]
    action: Option<(&'static str, &'static str)>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <section class="flex flex-col items-center rounded-2xl border border-dashed border-slate-300 bg-white px-6 py-14 text-center dark:border-slate-700 dark:bg-slate-900/40">
            <div class="mb-4 grid size-12 place-items-center rounded-full bg-indigo-50 text-indigo-600 dark:bg-indigo-950 dark:text-indigo-300">
                <IconSvg icon class="size-6" />
            </div>
            <h2 class="text-base font-semibold">{title}</h2>
            <p class="mt-2 max-w-lg text-sm text-slate-600 dark:text-slate-400">{body}</p>
            {children.map(|c| view! { <div class="mt-4 max-w-xl text-left text-sm">{c()}</div> })}
            {action
                .map(|(label, href)| {
                    view! {
                        <a
                            href=href
                            class="mt-6 inline-flex items-center rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-indigo-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:ring-offset-2 dark:focus-visible:ring-offset-slate-950"
                        >
                            {label}
                        </a>
                    }
                })}
        </section>
    }
}
